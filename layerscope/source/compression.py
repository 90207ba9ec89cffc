"""Layer blobs as uncompressed byte streams, verified while they are read.

Compression is detected by magic bytes, never by media type or file name:
images in the wild label zstd layers as gzip and store gzip layers in
"uncompressed" docker-archives. Every gzip member and every zstd frame
(skippable frames included) is read, so multi-member gzip, eStargz and
zstd:chunked layers come out as the ordinary tar they are.

:class:`LayerStream` hashes the stored bytes (the blob digest) and the
uncompressed bytes (the diff_id) in the same pass that feeds the tar reader,
and :meth:`LayerStream.finish` drains what the tar reader left (bytes after
the end-of-archive marker are part of the diff_id) and checks both.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator

from ..errors import BadInputError, DigestMismatchError
from .container import WINDOW, Region
from .digest import new_hasher
from .limits import max_layer_size, too_big
from .magic import BZIP2, GZIP, GZIP_MAGIC, NONE, XZ, ZSTD, detect

OUT_CHUNK = 1 << 20  # uncompressed bytes produced per decompressor call (bounds memory, defuses bombs)
IN_SLICE = 128 << 10  # compressed bytes fed per decompressor call
_EMPTY = memoryview(b"")

class _RawReader:
    """File-like face of a region's windows, hashing each window once."""

    def __init__(self, windows: Iterator[memoryview], hasher) -> None:
        self._windows = windows
        self._hasher = hasher
        self._cur = _EMPTY
        self.bytes_read = 0

    def next_window(self) -> memoryview | None:
        for w in self._windows:
            if self._hasher is not None:
                self._hasher.update(w)
            self.bytes_read += len(w)
            return w
        return None

    def read(self, n: int = -1) -> bytes:
        if not self._cur:
            w = self.next_window()
            if w is None:
                return b""
            self._cur = w
        if n < 0 or n >= len(self._cur):
            out, self._cur = self._cur, _EMPTY
        else:
            out, self._cur = self._cur[:n], self._cur[n:]
        return out.tobytes() if isinstance(out, memoryview) else out

    def drain(self) -> None:
        self._cur = _EMPTY
        while self.next_window() is not None:
            pass


def _plain_chunks(raw: _RawReader) -> Iterator[memoryview]:
    while (w := raw.next_window()) is not None:
        yield w


def _inflate_chunks(raw: _RawReader, new, errors, where: str, kind: str) -> Iterator[bytes]:
    """Run a zlib/bz2/lzma-style decompressor over every member of a blob.

    Output per call is bounded by OUT_CHUNK, so a small hostile blob cannot
    expand into memory; a new member starts wherever the last one ended.
    Input goes in IN_SLICE pieces: a decompressor stopped by max_length
    copies the rest of its input into ``unconsumed_tail``.
    """
    d = new()
    zlib_like = hasattr(d, "unconsumed_tail")
    while (window := raw.next_window()) is not None:
        for at in range(0, len(window), IN_SLICE):
            data = window[at:at + IN_SLICE]
            while True:
                if d.eof:
                    if not data:
                        break
                    if kind == GZIP and bytes(data[:2]) != GZIP_MAGIC[: len(data)]:
                        raise BadInputError("corrupt gzip data: trailing garbage after the last member", where=where)
                    d = new()
                try:
                    out = d.decompress(data, OUT_CHUNK)
                except errors as e:
                    raise BadInputError(f"corrupt {kind} data: {e}", where=where) from None
                if out:
                    yield out
                if d.eof:
                    data = d.unused_data
                elif zlib_like:
                    data = d.unconsumed_tail
                    if not data and len(out) < OUT_CHUNK:
                        break
                elif d.needs_input:
                    break
                else:
                    data = b""
    if not d.eof:
        raise BadInputError(f"truncated {kind} data", where=where)


def _zstd_chunks(raw: _RawReader, where: str) -> Iterator[bytes]:
    # stream_reader crosses frames and skips skippable frames; a truncated
    # frame shows up as a short tar (or a digest mismatch when verifying).
    import zstandard

    reader = zstandard.ZstdDecompressor().stream_reader(raw, read_size=1 << 20, read_across_frames=True)
    while True:
        try:
            out = reader.read(OUT_CHUNK)
        except zstandard.ZstdError as e:
            raise BadInputError(f"corrupt zstd data: {e}", where=where) from None
        if not out:
            return
        yield out


def _limited(chunks: Iterator[bytes], limit: int, compressed: int, where: str) -> Iterator[bytes]:
    """Stop a decompressor at ``limit`` output bytes: a bomb is never inflated past it."""
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > limit:
            raise too_big(limit, compressed, where)
        yield chunk


def _inflater(kind: str):
    """(new decompressor, its errors) for a zlib-like format; imported on first use (start-up time)."""
    if kind == GZIP:
        from isal import isal_zlib

        return (lambda: isal_zlib.decompressobj(wbits=31)), (isal_zlib.error,)
    if kind == BZIP2:
        import bz2

        return bz2.BZ2Decompressor, (OSError, EOFError, ValueError)
    import lzma

    return lzma.LZMADecompressor, (lzma.LZMAError, EOFError)


BACKGROUND_MIN = 4 << 20  # blobs at least this big are hashed on their own threads
HASH_WINDOW = 1 << 20  # mapped bytes the blob-hash thread holds (twice: dropping lags a window): peak RSS


def blob_mismatch(expected: str, actual: str, where: str,
                  distrust: Callable[[], str | None] | None = None) -> DigestMismatchError:
    """The one wording of a blob that does not hash to its digest (cold scan or cache hit);
    ``distrust`` lets the blob's container drop a copy it keeps, and says so."""
    note = distrust() if distrust is not None else None
    return DigestMismatchError(f"blob digest mismatch: expected {expected}, got {actual}"
                               + (f"; {note}" if note else ""), where=where)


def diff_id_mismatch(expected: str, actual: str, where: str) -> DigestMismatchError:
    """The one wording of layer content that does not hash to the config's diff_id."""
    return DigestMismatchError(f"diff_id mismatch: config says {expected}, layer content is {actual}", where=where)


def hash_region(region: Region, hasher, cancelled=lambda: False) -> None:
    """Feed a blob's bytes, straight from the archive's map, to ``hasher``."""
    for window in region.windows(HASH_WINDOW):
        if cancelled():
            return
        hasher.update(window)


def _bounded_queue(depth: int):
    """A ``queue.Queue`` of at most ``depth`` items.

    Only blobs of BACKGROUND_MIN bytes or more get threads, so ``queue`` is
    imported on first use rather than at start-up."""
    import queue

    return queue.Queue(maxsize=depth)


class _RegionHash(threading.Thread):
    """Hash a blob straight from the archive's map, beside the reader.

    The blob digest needs no decompression, so it need not wait for it: a
    big layer's blob hash, inflate and diff_id hash then run on separate
    cores (hashlib releases the GIL on big buffers).
    """

    def __init__(self, region: Region, hasher) -> None:
        super().__init__(name="layerscope-hash-blob", daemon=True)
        self._region = region
        self.hasher = hasher
        self._stop_flag = False
        self.error: BaseException | None = None  # a region that fails to read (a download cut off)

    def run(self) -> None:
        try:
            hash_region(self._region, self.hasher, lambda: self._stop_flag)
        except BaseException as e:  # the reader's, raised when it joins (the thread has no one to tell)
            self.error = e

    def joined(self) -> None:
        """Wait for the hash; its read error, if it had one, is the caller's."""
        self.join()
        if self.error is not None:
            raise self.error

    def cancel(self) -> None:
        self._stop_flag = True


class _QueueHash(threading.Thread):
    """Hash what the decompressor produces on another thread (the diff_id)."""

    _DONE = object()

    def __init__(self, hasher, depth: int = 2) -> None:
        super().__init__(name="layerscope-hash-diff", daemon=True)
        self.hasher = hasher
        self._q = _bounded_queue(depth)  # bounds memory: depth * OUT_CHUNK

    def update(self, chunk) -> None:
        self._q.put(chunk)

    def run(self) -> None:
        get, update, done = self._q.get, self.hasher.update, self._DONE
        while (chunk := get()) is not done:
            update(chunk)

    def close(self) -> None:
        self._q.put(self._DONE)

    def cancel(self) -> None:
        from queue import Empty  # loaded: this job made a queue

        while True:  # make room for the end marker even if the queue is full
            try:
                self._q.get_nowait()
            except Empty:
                break
        self.close()


class _Prefetch(threading.Thread):
    """Decompress ahead of the reader, on another core.

    Inflating (isal, zstd) releases the GIL, so a compressed layer's
    decompression runs beside the tar walk and the model instead of taking
    turns with them. Chunks (and the exception that ends them, if any) go
    through a bounded queue: at most ``depth`` chunks wait, so memory stays
    ``(depth + 2) * OUT_CHUNK`` whatever the layer's size.
    """

    _END = object()

    def __init__(self, chunks: Iterator[bytes], hash_out, depth: int = 2) -> None:
        super().__init__(name="layerscope-inflate", daemon=True)
        self._chunks = chunks
        self._hash_out = hash_out
        self._q = _bounded_queue(depth)
        self._stop_flag = False

    def run(self) -> None:
        from ..heap import Trimmer  # only big compressed blobs come here

        put, hash_out, freed = self._q.put, self._hash_out, Trimmer().add
        try:
            for chunk in self._chunks:
                if self._stop_flag:
                    return
                if hash_out is not None:
                    hash_out(chunk)
                put(chunk)
                freed(len(chunk))  # the chunks before it are gone by now: keep RSS flat
            put(self._END)
        except BaseException as e:  # handed to the reader, raised where it would have been
            put(e)

    def __iter__(self) -> Iterator[bytes]:
        get, end = self._q.get, self._END
        while (item := get()) is not end:
            if isinstance(item, BaseException):
                self.join()  # the producer is done: the reader may now touch the raw stream
                raise item
            yield item
        self.join()

    def cancel(self) -> None:
        from queue import Empty  # loaded: this job made a queue

        self._stop_flag = True
        while self.is_alive():  # unblock a put on a full queue until the thread sees the flag
            try:
                self._q.get(timeout=0.05)
            except Empty:
                pass


def _cancel(*jobs) -> None:
    for job in jobs:
        if job is not None and job.is_alive():
            job.cancel()


def _algo(digest: str | None) -> str:
    return digest.split(":", 1)[0] if digest else "sha256"


class LayerStream:
    """The uncompressed tar stream of one layer blob, with exact-size reads.

    ``read(n)`` returns exactly ``n`` bytes unless the stream ends (then
    fewer); the result may be a memoryview into a window of the archive's
    memory map (no copy) and is valid until the next read.
    """

    def __init__(
        self,
        region: Region,
        *,
        where: str,
        blob_digest: str | None = None,
        diff_id: str | None = None,
        verify: bool = True,
        on_mismatch: Callable[[], str | None] | None = None,
    ) -> None:
        self.where = where
        self._on_mismatch = on_mismatch  # the blob failed its digest: the container may drop its copy
        self.compressed_size = region.length
        head = region.head(6)
        self.compression = detect(head)
        limit = max_layer_size(region.length)
        if limit is not None and self.compression == NONE and region.length > limit:
            raise too_big(limit, region.length, where)  # the stored size says so: nothing to read
        self._expect_blob = blob_digest
        self._expect_diff = diff_id
        self._blob_hasher = self._diff_hasher = None
        self._blob_job: _RegionHash | None = None
        self._diff_job: _QueueHash | None = None
        if verify:
            # Hash even without an expected digest: the caller reports what it is.
            self._blob_hasher = new_hasher(_algo(blob_digest))
            if self.compression == NONE and _algo(blob_digest) == _algo(diff_id):
                self._diff_hasher = self._blob_hasher  # an uncompressed blob *is* its tar stream
            else:
                self._diff_hasher = new_hasher(_algo(diff_id))
            if region.length >= BACKGROUND_MIN:
                self._blob_job = _RegionHash(region, self._blob_hasher)
                self._blob_job.start()
                if self._diff_hasher is not self._blob_hasher:
                    self._diff_job = _QueueHash(self._diff_hasher)
                    self._diff_job.start()
                # a stream dropped without finish() or close() stops its threads too
                weakref.finalize(self, _cancel, self._blob_job, self._diff_job)
        # Plain tar is parsed straight from the map, so big windows mean fewer
        # copies; compressed input is consumed in IN_SLICE pieces anyway.
        window = WINDOW if self.compression == NONE else IN_SLICE
        inline = self._blob_hasher if self._blob_job is None else None
        self._raw = _RawReader(region.windows(window), inline)
        if self.compression == NONE:
            chunks = _plain_chunks(self._raw)
        elif self.compression == ZSTD:
            chunks = _zstd_chunks(self._raw, where)
        else:
            new, errors = _inflater(self.compression)
            chunks = _inflate_chunks(self._raw, new, errors, where, self.compression)
        if limit is not None and self.compression != NONE:
            chunks = _limited(chunks, limit, region.length, where)
        hash_out = (self._diff_job.update if self._diff_job is not None
                    else self._diff_hasher.update if self._diff_hasher is not None
                    and self._diff_hasher is not self._blob_hasher else None)
        self._inflate_job: _Prefetch | None = None
        if self.compression != NONE and region.length >= BACKGROUND_MIN:
            # the producer hashes what it makes (the diff_id), so the reader only reads
            self._inflate_job = _Prefetch(chunks, hash_out)
            self._inflate_job.start()
            weakref.finalize(self, _cancel, self._inflate_job)
            chunks, hash_out = iter(self._inflate_job), None
        self._chunks = chunks
        self._hash_out = hash_out
        self._buf: memoryview | bytes = _EMPTY
        self._pos = 0
        self.size = 0  # uncompressed bytes produced so far
        self.blob_digest: str | None = None
        self.diff_id: str | None = None

    def _next(self) -> bool:
        try:
            chunk = next(self._chunks)
        except StopIteration:
            return False
        except BadInputError:
            self._explain_failure()
            raise
        if self._hash_out is not None:
            self._hash_out(chunk)
        self.size += len(chunk)
        self._buf = memoryview(chunk) if isinstance(chunk, bytes) else chunk
        self._pos = 0
        return True

    def read(self, n: int) -> memoryview | bytes:
        buf, pos = self._buf, self._pos
        end = pos + n
        if end <= len(buf):
            self._pos = end
            return buf[pos:end]
        if pos == len(buf):  # exhausted: a read that fits the next chunk needs no copy
            if not self._next():
                return b""
            buf = self._buf
            if n <= len(buf):
                self._pos = n
                return buf[:n]
            pos, end = 0, n
        parts = [buf[pos:]]
        self._pos = len(buf)
        need = end - len(buf)
        while need > 0:
            if not self._next():
                break
            buf = self._buf
            if len(buf) >= need:
                parts.append(buf[:need])
                self._pos = need
                need = 0
            else:
                parts.append(buf)
                self._pos = len(buf)
                need -= len(buf)
        return b"".join(parts)

    def read1(self, n: int) -> memoryview | bytes:
        """Up to ``n`` bytes, ``b""`` only at the end: what the current chunk
        still holds, else the next chunk's head; never a copy (the tar
        scanner reads this way: it takes any amount)."""
        buf, pos = self._buf, self._pos
        while pos == len(buf):
            if not self._next():
                return b""
            buf, pos = self._buf, 0
        end = min(pos + n, len(buf))
        self._pos = end
        return buf[pos:end]

    def _explain_failure(self) -> None:
        """A corrupt stream is often a corrupt blob: say so if the digest proves it."""
        if self._blob_hasher is None or not self._expect_blob:
            return
        self._raw.drain()
        if self._blob_job is not None:
            self._blob_job.joined()
        actual = f"{_algo(self._expect_blob)}:{self._blob_hasher.hexdigest()}"
        if actual != self._expect_blob:
            raise blob_mismatch(self._expect_blob, actual, self.where, self._on_mismatch) from None

    def close(self) -> None:
        """Stop background work (a stream abandoned on an error)."""
        _cancel(self._inflate_job)  # first: it feeds the diff_id hasher
        _cancel(self._blob_job, self._diff_job)
        for job in (self._inflate_job, self._blob_job, self._diff_job):
            if job is not None:
                job.join()

    def finish(self) -> None:
        """Read what is left, then check the blob digest and the diff_id."""
        self._buf, self._pos = _EMPTY, 0
        while self._next():
            self._buf = _EMPTY
        self._raw.drain()
        if self._blob_job is not None:
            self._blob_job.joined()
        if self._diff_job is not None:
            self._diff_job.close()
            self._diff_job.join()
        if self._blob_hasher is not None:
            self.blob_digest = f"{_algo(self._expect_blob)}:{self._blob_hasher.hexdigest()}"
            if self._expect_blob and self.blob_digest != self._expect_blob:
                raise blob_mismatch(self._expect_blob, self.blob_digest, self.where, self._on_mismatch)
        if self._diff_hasher is not None:
            self.diff_id = f"{_algo(self._expect_diff)}:{self._diff_hasher.hexdigest()}"
            if self._expect_diff and self.diff_id != self._expect_diff:
                raise diff_id_mismatch(self._expect_diff, self.diff_id, self.where)
