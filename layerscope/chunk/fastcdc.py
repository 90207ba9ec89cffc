"""Python face of the native FastCDC chunker (``layerscope._native``, or its
pure-Python stand-in when it was not built: see :mod:`layerscope.chunk.backend`).

C does one thing: scan a buffer and return chunk end offsets.  Everything
else is here: parameter checks, carrying undecided bytes across the buffers
of a stream, splitting big buffers across threads, and digests.  Buffers are
handed to C with ``ffi.from_buffer`` (no copy), one call per buffer (or per
segment), and cffi releases the GIL for the call.

Big buffers (:data:`PARALLEL_MIN_SIZE` and up) are chunked by several threads
with *speculative segment chunking*: segment 0 is chunked from its start,
every other segment as if a chunk began at its start, all at once; then the
segments are stitched in order, each one's speculative cuts accepted from
the first place where they meet the true cuts.  The result is exactly the
sequential one (see :func:`_scan_segments` and docs/chunking.md).
"""
from __future__ import annotations

import bisect
import functools
import hashlib
import mmap
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO

import xxhash

from layerscope.chunk.backend import BACKEND
from layerscope.chunk.reference import DEFAULT_PARAMS, ChunkParams
from layerscope.errors import UsageError

__all__ = [
    "DIGESTS",
    "PARALLEL_MIN_SIZE",
    "Buffer",
    "Chunker",
    "chunk_digest",
    "chunk_digests",
    "cut_points",
    "iter_chunks",
]

#: Anything exposing a contiguous byte buffer.
Buffer = bytes | bytearray | memoryview | mmap.mmap

#: Per-chunk digest functions.  ``xxh3_128`` is the fast content identity used
#: for analysis; ``sha256`` is for anything that keys stored data (the store),
#: which must never trust a non-cryptographic hash.
DIGESTS: dict[str, Callable[[Buffer], bytes]] = {
    "xxh3_128": xxhash.xxh3_128_digest,
    "sha256": lambda data: hashlib.sha256(data).digest(),
}

#: Default read size for :func:`iter_chunks`: large next to max_size, so the
#: bytes copied at buffer boundaries (< 2 * max_size per read) stay small.
DEFAULT_READ_SIZE = 4 << 20

ffi, lib = BACKEND.ffi, BACKEND.lib

# The cut array is overwritten by C before it is read: skip the zeroing.
_new_uninitialised = ffi.new_allocator(should_clear_after_alloc=False)


@functools.lru_cache(maxsize=32)
def _native_params(params: ChunkParams):  # -> cdata 'ls_fastcdc_params *'
    native = ffi.new("ls_fastcdc_params *")
    if lib.ls_fastcdc_init(native, params.min_size, params.avg_size, params.max_size, params.level):
        # ChunkParams validated already; C disagreeing is a bug, not bad input.
        raise AssertionError(f"native chunker rejected {params!r}")
    return native


def _scan_from(params: ChunkParams, src, start: int, end: int, final: bool) -> list[int]:
    """Cut points of ``src[start:end]`` chunked as if a chunk began at ``start``.

    ``src`` is a ``uint8_t[]`` cdata; offsets are relative to it.  With
    ``final`` false only decided cut points are returned (the undecided tail
    is shorter than ``max_size``); they are the cut points of chunking from
    ``start`` to the end of the whole stream, whatever follows ``end``.
    """
    size = end - start
    if size <= 0:
        return []
    native = _native_params(params)
    # All chunks but the last are >= min_size & ~1 bytes: this many slots
    # always suffice, so the loop below runs once.
    slots = size // (params.min_size & ~1) + 1
    cuts = _new_uninitialised("uint64_t[]", slots)
    points: list[int] = []
    done = 0
    while done < size:
        count = lib.ls_fastcdc_cuts(native, src + (start + done), size - done, final, cuts, slots)
        if count == 0:
            break  # not final and nothing decided yet
        found = ffi.unpack(cuts, count)
        base = start + done
        if base:
            found = [base + c for c in found]
        points.extend(found)
        done = points[-1] - start
        if count < slots:
            break
    return points


# --- several threads ----------------------------------------------------------
#
# Speculative segment chunking.  CDC is memoryless after a cut: the chunk
# that starts at offset p depends only on the bytes from p on and on how many
# there are (ls_fastcdc_cuts restarts the fingerprint at 0, the min_size
# skip, the MaskS/MaskL switch at avg_size and the max_size limit at every
# cut, and nothing else carries over).  So the true chunking is the sequence
# p -> p + cut(buf[p:]) from 0, and any two chunkings of the same buffer that
# share one cut point share all later ones.
#
# Segment k > 0 is chunked from its start s_k as if a chunk began there (its
# speculative cuts), over a window reaching max_size past its end e_k, so
# that its last decided cut lies beyond e_k (the undecided tail of a window
# is shorter than max_size).  Windows that reach the end of the buffer are
# final iff the whole scan is; the cuts a non-final window decides are those
# of the whole buffer, as in streaming.  Stitching: the true cuts known so far
# (segment 0's, then stitched ones) reach past s_k; the first of them at or
# after s_k that is a speculative cut of segment k (or s_k itself) proves
# segment k's later cuts true.  On random data that is the first or second
# cut past s_k (94% of the time within max_size of it, i.e. inside the
# overlap), so stitching costs nothing.  If none meets (6% of starts on
# random data, costing a max_size window or two; always for long runs cut
# only at max_size from offsets that differ, costing a sequential scan),
# the true chunking is continued sequentially from the last true cut, in
# windows of max_size, doubling, checking each new cut, until one meets or
# segment k is passed.

#: Buffers at least this long are chunked by several threads, when the
#: process may run on more than one CPU (``os.sched_getaffinity``).  Two
#: threads against one measured 1.2x at 1 MiB, 1.7x at 4 MiB, 1.85x at 8 MiB
#: and 1.9x from 16 MiB; below 8 MiB the gain is not worth taking the other
#: core from the process's other threads.
PARALLEL_MIN_SIZE = 8 << 20

# A segment is at least this long and 16 max_size: the max_size overlap each
# segment scans twice then stays under ~6% of it (under 1% at 64 MiB).
_MIN_SEGMENT = 4 << 20

_pool: ThreadPoolExecutor | None = None
_pool_workers = 0
_pool_lock = threading.Lock()


def _forget_pool() -> None:
    # After fork() the pool's threads do not exist in the child.
    global _pool, _pool_workers, _pool_lock
    _pool, _pool_workers, _pool_lock = None, 0, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _get_pool(workers: int) -> ThreadPoolExecutor:
    """The persistent pool, with at least ``workers`` threads (made on demand)."""
    global _pool, _pool_workers
    with _pool_lock:
        if _pool is None or _pool_workers < workers:
            old = _pool
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="layerscope-chunk")
            _pool_workers = workers
            if old is not None:
                old.shutdown(wait=False)
        return _pool


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _check_threads(threads: int | None) -> int | None:
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, int):
        raise UsageError(f"threads must be an integer or None, not {type(threads).__name__}")
    if threads < 1:
        raise UsageError(f"threads must be at least 1, got {threads}")
    return threads


def _segment_count(params: ChunkParams, size: int, threads: int | None) -> int:
    if size < PARALLEL_MIN_SIZE:
        return 1
    count = _cpu_count() if threads is None else min(threads, _cpu_count())
    return max(1, min(count, size // max(_MIN_SEGMENT, 16 * params.max_size)))


def _scan_segments(params: ChunkParams, src, size: int, final: bool,
                   starts: Sequence[int]) -> list[int]:
    """``_scan_from(params, src, 0, size, final)``, by segments in parallel.

    ``starts`` are the segment starts, ascending, the first 0; segments may
    be empty.  Segment 0 is scanned in this thread, the others in the pool.
    """
    max_size = params.max_size
    ends = list(starts[1:]) + [size]
    windows = []
    for s, e in zip(starts, ends):
        w = min(size, e + max_size)
        windows.append((s, w, final and w == size))

    futures: list[Future | None] = []
    if len(windows) > 1:
        pool = _get_pool(len(windows) - 1)
        for win in windows[1:]:
            try:
                futures.append(pool.submit(_scan_from, params, src, *win))
            except RuntimeError:  # interpreter shutting down: no new work
                futures.append(None)
    true = _scan_from(params, src, *windows[0])
    specs = []
    for future, win in zip(futures, windows[1:]):
        # A segment no worker has started (the pool is busy with another
        # caller's work) is scanned here rather than waited for.
        if future is None or future.cancel():
            specs.append(_scan_from(params, src, *win))
        else:
            specs.append(future.result())

    for k, spec in enumerate(specs, 1):
        true = _stitch(params, src, size, final, true, spec, starts[k], ends[k])
    return true


def _meets(spec: list[int], s: int, cut: int) -> bool:
    """Is ``cut`` a speculative cut of the segment starting at ``s``?"""
    if cut == s:
        return True
    i = bisect.bisect_left(spec, cut)
    return i < len(spec) and spec[i] == cut


def _stitch(params: ChunkParams, src, size: int, final: bool, true: list[int],
            spec: list[int], s: int, e: int) -> list[int]:
    """Extend the true cuts ``true`` (a prefix of them) through segment [s, e).

    ``spec``: the speculative cuts of the segment (chunked from ``s``).
    Returns a longer prefix of the true cuts whose last one lies at or
    beyond ``e`` and the last speculative cut, or that is complete.  (For
    the last segment ``e`` is the buffer size, so the result is complete.)
    """
    # The true cuts already known past s (the previous window's overlap).
    i = bisect.bisect_left(true, s)
    for j in range(i, len(true)):
        if _meets(spec, s, true[j]):
            return _splice(true, j + 1, spec)
    # None met: chunk on from the last true cut, exactly, in growing windows.
    pos = true[-1] if true else 0
    limit = max(e, spec[-1] if spec else s)
    step = params.max_size
    while pos < limit:
        w = min(size, pos + step)
        new = _scan_from(params, src, pos, w, final and w == size)
        if not new:
            break  # the undecided tail of a non-final scan
        for j, cut in enumerate(new):
            if _meets(spec, s, cut):
                true.extend(new[: j + 1])
                return _splice(true, len(true), spec)
        true.extend(new)
        pos = new[-1]
        step *= 2
    return true


def _splice(true: list[int], keep: int, spec: list[int]) -> list[int]:
    # true[keep - 1] is a speculative cut (or the segment start): the
    # speculative cuts after it are the true ones.
    del true[keep:]
    last = true[-1]
    true.extend(spec[bisect.bisect_right(spec, last):])
    return true


def _scan(params: ChunkParams, data: Buffer, final: bool, threads: int | None = None) -> list[int]:
    """Cut points of ``data`` (relative to it), by C, without copying ``data``."""
    src = ffi.from_buffer("uint8_t[]", data)
    size = len(src)
    parts = _segment_count(params, size, threads)
    if parts < 2:
        return _scan_from(params, src, 0, size, final)
    return _scan_segments(params, src, size, final, [size * k // parts for k in range(parts)])


def _params(
    params: ChunkParams | None, min_size: int, avg_size: int, max_size: int, level: int
) -> ChunkParams:
    if params is None:
        return _make_params(min_size, avg_size, max_size, level)
    if not isinstance(params, ChunkParams):
        raise UsageError(f"params must be a ChunkParams, not {type(params).__name__}")
    if (min_size, avg_size, max_size, level) != (
        DEFAULT_PARAMS.min_size,
        DEFAULT_PARAMS.avg_size,
        DEFAULT_PARAMS.max_size,
        DEFAULT_PARAMS.level,
    ):
        raise UsageError("give either params= or the individual sizes, not both")
    return params


@functools.lru_cache(maxsize=32, typed=True)  # typed: 16384.0 must not pass as 16384
def _make_params(min_size: int, avg_size: int, max_size: int, level: int) -> ChunkParams:
    return ChunkParams(min_size, avg_size, max_size, level)


def cut_points(
    buf: Buffer,
    min_size: int = DEFAULT_PARAMS.min_size,
    avg_size: int = DEFAULT_PARAMS.avg_size,
    max_size: int = DEFAULT_PARAMS.max_size,
    level: int = DEFAULT_PARAMS.level,
    *,
    params: ChunkParams | None = None,
    threads: int | None = None,
) -> list[int]:
    """End offsets of the FastCDC chunks of ``buf``, taken as a whole stream.

    The last offset is ``len(buf)`` (nothing for an empty buffer).  ``buf``
    is scanned in place (bytes, bytearray, memoryview, mmap, ...), with the
    GIL released.  Pass ``params`` *or* the sizes.

    A buffer of :data:`PARALLEL_MIN_SIZE` bytes or more is split across up
    to ``threads`` threads (default: the CPUs this process may run on); the
    cut points are the same.  ``threads=1`` always scans in this thread.
    """
    params = _params(params, min_size, avg_size, max_size, level)
    return _scan(params, buf, True, _check_threads(threads))


def _byte_view(data: Buffer) -> memoryview:
    view = memoryview(data)
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    return view


class Chunker:
    """Chunk a stream that arrives in pieces, e.g. a decompressed layer.

    Cut points are exactly those of chunking the concatenation of everything
    fed.  :meth:`feed` returns the chunks that are complete so far as
    memoryviews: into the fed buffer itself where a chunk lies inside it (no
    copy; do not modify a fed buffer while you hold its chunks), otherwise
    into a small bytes object joining the undecided tail of earlier pieces
    (under ``max_size``) with the start of the new one.  :meth:`finish` ends
    the stream and returns the last chunk; the Chunker can then start a new
    stream.

    A fed piece of :data:`PARALLEL_MIN_SIZE` bytes or more is chunked by up
    to ``threads`` threads, as in :func:`cut_points`.
    """

    def __init__(self, params: ChunkParams | None = None, *, threads: int | None = None) -> None:
        if params is None:
            params = DEFAULT_PARAMS
        elif not isinstance(params, ChunkParams):
            raise UsageError(f"params must be a ChunkParams, not {type(params).__name__}")
        self._params = params
        self._threads = _check_threads(threads)
        self._carry = b""  # undecided tail: always shorter than max_size
        self._position = 0

    @property
    def params(self) -> ChunkParams:
        return self._params

    @property
    def position(self) -> int:
        """Stream offset where the next chunk starts (bytes handed out so far)."""
        return self._position

    @property
    def pending(self) -> int:
        """Bytes fed but not yet handed out in a chunk."""
        return len(self._carry)

    def feed(self, data: Buffer) -> list[memoryview]:
        """Add the next piece of the stream; return the chunks it completes."""
        view = _byte_view(data)
        chunks: list[memoryview] = []
        pos = 0
        # First settle the carried tail: join it with just enough new bytes
        # (max_size in total) for its next cut point to be decided.
        while self._carry and pos < len(view):
            carried = len(self._carry)
            take = min(len(view) - pos, self._params.max_size - carried)
            head = self._carry + view[pos : pos + take]
            points = _scan(self._params, head, False)
            if not points:  # still undecided: everything fed so far is short
                self._carry = head
                pos += take
                break
            head_view = memoryview(head)
            start = 0
            for end in points:
                chunks.append(head_view[start:end])
                start = end
            if start >= carried:
                # The last cut lies in the new bytes: go on from there without
                # copying them.
                pos += start - carried
                self._carry = b""
            else:
                # The last cut fell inside the carried bytes (only possible
                # at the last one, when the carry is odd): carry on from it.
                self._carry = head[start:]
                pos += take
        # Then the rest of the new piece, in place.
        if not self._carry and pos < len(view):
            rest = view[pos:]
            start = 0
            for end in _scan(self._params, rest, False, self._threads):
                chunks.append(rest[start:end])
                start = end
            self._carry = bytes(rest[start:])
        for chunk in chunks:
            self._position += len(chunk)
        return chunks

    def finish(self) -> list[memoryview]:
        """End the stream: return the final chunk (none if nothing is pending)."""
        chunks: list[memoryview] = []
        if self._carry:
            carry_view = memoryview(self._carry)
            start = 0
            for end in _scan(self._params, self._carry, True):
                chunks.append(carry_view[start:end])
                start = end
        self._carry = b""
        self._position = 0
        return chunks


def iter_chunks(
    fileobj: IO[bytes],
    params: ChunkParams | None = None,
    *,
    read_size: int = DEFAULT_READ_SIZE,
    threads: int | None = None,
) -> Iterator[memoryview]:
    """Chunk a binary file object read to its end, yielding memoryviews.

    Works on any object with ``read(n)`` (files, decompressors, HTTP
    bodies).  Each read returns a fresh bytes object, so chunks stay valid
    after the iterator moves on.  Reads of :data:`PARALLEL_MIN_SIZE` or more
    are chunked by up to ``threads`` threads (see :class:`Chunker`).
    """
    if read_size <= 0:
        raise UsageError(f"read_size must be positive, got {read_size}")
    chunker = Chunker(params, threads=threads)
    read = fileobj.read
    while True:
        data = read(read_size)
        if not data:
            break
        yield from chunker.feed(data)
    yield from chunker.finish()


def chunk_digest(chunk: Buffer, algo: str = "xxh3_128") -> bytes:
    """Digest of one chunk: ``xxh3_128`` (16 bytes) or ``sha256`` (32 bytes)."""
    try:
        digest = DIGESTS[algo]
    except KeyError:
        raise UsageError(f"unknown chunk digest {algo!r}; known: {', '.join(DIGESTS)}") from None
    return digest(chunk)


def chunk_digests(buf: Buffer, cuts: Sequence[int], algo: str = "xxh3_128") -> list[bytes]:
    """Digests of the chunks ``buf[prev:cut]`` for each end offset in ``cuts``.

    ``cuts`` is what :func:`cut_points` returns.  Chunks are hashed in place.
    Use ``sha256`` wherever a digest keys stored data.
    """
    try:
        digest = DIGESTS[algo]
    except KeyError:
        raise UsageError(f"unknown chunk digest {algo!r}; known: {', '.join(DIGESTS)}") from None
    view = _byte_view(buf)
    size = len(view)
    out: list[bytes] = []
    start = 0
    for end in cuts:
        if not start < end <= size:
            raise UsageError(
                f"cut point {end} is not after {start} and within the buffer ({size} bytes)"
            )
        out.append(digest(view[start:end]))
        start = end
    return out
