"""Python face of the native FastCDC chunker (``layerscope._native``).

C does one thing: scan a buffer and return chunk end offsets.  Everything
else is here: parameter checks, carrying undecided bytes across the buffers
of a stream, and digests.  Buffers are handed to C with ``ffi.from_buffer``
(no copy), one call per buffer, and cffi releases the GIL for the call.
"""
from __future__ import annotations

import functools
import hashlib
import mmap
from collections.abc import Callable, Iterator, Sequence
from typing import IO

import xxhash

from layerscope._native import ffi, lib
from layerscope.chunk.reference import DEFAULT_PARAMS, ChunkParams
from layerscope.errors import UsageError

__all__ = [
    "Buffer",
    "Chunker",
    "DIGESTS",
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

# The cut array is overwritten by C before it is read: skip the zeroing.
_new_uninitialised = ffi.new_allocator(should_clear_after_alloc=False)


@functools.lru_cache(maxsize=32)
def _native_params(params: ChunkParams):  # -> cdata 'ls_fastcdc_params *'
    native = ffi.new("ls_fastcdc_params *")
    if lib.ls_fastcdc_init(native, params.min_size, params.avg_size, params.max_size, params.level):
        # ChunkParams validated already; C disagreeing is a bug, not bad input.
        raise AssertionError(f"native chunker rejected {params!r}")
    return native


def _scan(params: ChunkParams, data: Buffer, final: bool) -> list[int]:
    """Cut points of ``data`` (relative to it), by C, without copying ``data``."""
    src = ffi.from_buffer("uint8_t[]", data)
    size = len(src)
    if size == 0:
        return []
    native = _native_params(params)
    # All chunks but the last are >= min_size & ~1 bytes: this many slots
    # always suffice, so the loop below runs once.
    slots = size // (params.min_size & ~1) + 1
    cuts = _new_uninitialised("uint64_t[]", slots)
    points: list[int] = []
    done = 0
    while done < size:
        count = lib.ls_fastcdc_cuts(native, src + done, size - done, final, cuts, slots)
        if count == 0:
            break  # not final and nothing decided yet
        found = ffi.unpack(cuts, count)
        if done:
            found = [done + c for c in found]
        points.extend(found)
        done = points[-1]
        if count < slots:
            break
    return points


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
) -> list[int]:
    """End offsets of the FastCDC chunks of ``buf``, taken as a whole stream.

    The last offset is ``len(buf)`` (nothing for an empty buffer).  ``buf``
    is scanned in place (bytes, bytearray, memoryview, mmap, ...), in one C
    call with the GIL released.  Pass ``params`` *or* the sizes.
    """
    return _scan(_params(params, min_size, avg_size, max_size, level), buf, True)


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
    """

    def __init__(self, params: ChunkParams | None = None) -> None:
        if params is None:
            params = DEFAULT_PARAMS
        elif not isinstance(params, ChunkParams):
            raise UsageError(f"params must be a ChunkParams, not {type(params).__name__}")
        self._params = params
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
            for end in _scan(self._params, rest, False):
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
) -> Iterator[memoryview]:
    """Chunk a binary file object read to its end, yielding memoryviews.

    Works on any object with ``read(n)`` (files, decompressors, HTTP
    bodies).  Each read returns a fresh bytes object, so chunks stay valid
    after the iterator moves on.
    """
    if read_size <= 0:
        raise UsageError(f"read_size must be positive, got {read_size}")
    chunker = Chunker(params)
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
