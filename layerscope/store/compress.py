"""Layer compressors for export: none, gzip (stdlib zlib), zstd (level 3).

Each is a streaming object with ``compress(piece) -> bytes`` and
``flush() -> bytes``, so a layer is never held whole. The output is a pure
function of the input: gzip writes mtime 0, no file name and OS byte 3 (what
zlib's ``wbits=31`` header gives); zstd writes one frame without a content
size or checksum, compressed by zstd's worker threads: its multi-threaded
output does not depend on the number of workers (checked for 1, 2, 4, 8; it
differs from the single-threaded mode's, which is never used), so the blob is
the same on any machine. Exporting the same layer twice gives the same blob
digest.
"""

from __future__ import annotations

import zlib

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


class _Identity:
    def compress(self, piece):
        return piece

    def flush(self) -> bytes:
        return b""


def compressor(kind: str):
    """A fresh streaming compressor for one layer blob."""
    if kind == "none":
        return _Identity()
    if kind == "gzip":
        return zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)  # 16 + 15: a gzip header, mtime 0, no name
    if kind == "zstd":
        import zstandard

        return zstandard.ZstdCompressor(level=ZSTD_LEVEL, threads=ZSTD_THREADS).compressobj()
    raise UsageError(f"unknown compression {kind!r}; choose one of {', '.join(COMPRESSIONS)}")
