"""Layer compressors for export: none, gzip (stdlib zlib), zstd (level 3).

Each is a streaming object with ``compress(piece) -> bytes``,
``flush() -> bytes`` and ``close()``, so a layer is never held whole. The
output is a pure function of the input: gzip writes mtime 0, no file name and
OS byte 3 (zlib's own ``wbits=31`` header); zstd writes one frame without a content
size or checksum, compressed by zstd's worker threads: its multi-threaded
output does not depend on the number of workers (checked for 1, 2, 4, 8; it
differs from the single-threaded mode's, which is never used), so the blob is
the same on any machine. Exporting the same layer twice gives the same blob
digest.

gzip is deflated in parallel, as pigz does: the tar is cut into fixed
BLOCK-sized blocks, each deflated on a worker thread (zlib releases the GIL)
with the 32 KiB before it as its dictionary and ended by a sync flush, the
last one by the final block; the pieces concatenate into one ordinary gzip
member. The cuts depend only on the stream, so the blob does not depend on
the number of workers either. zlib at level 6 deflates a layer tar at 20-60
MB/s per core; a layer export is bound by it.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections import deque

from ..errors import UsageError

COMPRESSIONS = ("none", "gzip", "zstd")
GZIP_LEVEL = 6  # zlib's and gzip(1)'s default
ZSTD_LEVEL = 3  # zstd's default
ZSTD_THREADS = -1  # one worker per core; >= 1 worker gives one output whatever the count

OCI_LAYER_TYPES = {
    "none": "application/vnd.oci.image.layer.v1.tar",
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
}


BLOCK = 1 << 20  # gzip: uncompressed bytes per parallel deflate block
WINDOW = 32 << 10  # deflate's window: the dictionary a block gets from the one before
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"  # no flags, MTIME 0, XFL 0, OS 3: zlib's own


class _Identity:
    def compress(self, piece):
        return piece

    def flush(self) -> bytes:
        return b""

    def close(self) -> None:
        pass


class _Zstd:
    def __init__(self, cobj) -> None:
        self.compress = cobj.compress
        self.flush = cobj.flush

    def close(self) -> None:
        pass


def _deflate_block(block: bytes, dictionary: bytes | None, last: bool) -> bytes:
    c = (zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY, dictionary)
         if dictionary else zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -15))
    return c.compress(block) + c.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)


def workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class _ParallelGzip:
    """One gzip member deflated block by block on a thread pool (see the module docstring)."""

    def __init__(self, n_workers: int | None = None) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._n = n_workers or workers()
        self._pool = ThreadPoolExecutor(self._n, thread_name_prefix="layerscope-gzip")
        self._pending: deque = deque()  # futures of deflated blocks, in stream order
        self._buf = bytearray()
        self._dict: bytes | None = None
        self._crc = 0
        self._size = 0
        self._started = False

    def _submit(self, block: bytes, last: bool) -> None:
        self._pending.append(self._pool.submit(_deflate_block, block, self._dict, last))
        self._dict = block[-WINDOW:]

    def _ready(self, wait_all: bool) -> bytes:
        out = []
        if not self._started:
            out.append(GZIP_HEADER)
            self._started = True
        while self._pending and (wait_all or self._pending[0].done() or len(self._pending) > 2 * self._n):
            out.append(self._pending.popleft().result())
        return b"".join(out)

    def compress(self, piece) -> bytes:
        self._crc = zlib.crc32(piece, self._crc)
        self._size += len(piece)
        self._buf += piece
        if len(self._buf) < BLOCK:
            return b""
        at = 0
        while len(self._buf) - at >= BLOCK:
            self._submit(bytes(self._buf[at:at + BLOCK]), False)
            at += BLOCK
        del self._buf[:at]
        return self._ready(False)

    def flush(self) -> bytes:
        self._submit(bytes(self._buf), True)
        self._buf.clear()
        return self._ready(True) + struct.pack("<II", self._crc, self._size & 0xFFFFFFFF)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def compressor(kind: str):
    """A fresh streaming compressor for one layer blob."""
    if kind == "none":
        return _Identity()
    if kind == "gzip":
        return _ParallelGzip()
    if kind == "zstd":
        import zstandard

        return _Zstd(zstandard.ZstdCompressor(level=ZSTD_LEVEL, threads=ZSTD_THREADS).compressobj())
    raise UsageError(f"unknown compression {kind!r}; choose one of {', '.join(COMPRESSIONS)}")
