"""Chunking a stream that arrives in pieces, with the cut points of the whole.

Each piece is chunked in place and handed out as memoryviews into it; only
the undecided tail (shorter than ``max_size``) is copied and carried into
the next piece.  See docs/chunking.md, "Streaming".
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import IO

from layerscope.chunk import parallel
from layerscope.chunk.native import Buffer, byte_view
from layerscope.chunk.reference import DEFAULT_PARAMS, ChunkParams
from layerscope.errors import UsageError

__all__ = ["DEFAULT_READ_SIZE", "Chunker", "iter_chunks"]

#: Default read size for :func:`iter_chunks`: large next to max_size, so the
#: bytes copied at buffer boundaries (< 2 * max_size per read) stay small.
DEFAULT_READ_SIZE = 4 << 20


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

    A fed piece of :data:`parallel.PARALLEL_MIN_SIZE` bytes or more is
    chunked by up to ``threads`` threads, as in :func:`cut_points`.
    """

    def __init__(self, params: ChunkParams | None = None, *, threads: int | None = None) -> None:
        if params is None:
            params = DEFAULT_PARAMS
        elif not isinstance(params, ChunkParams):
            raise UsageError(f"params must be a ChunkParams, not {type(params).__name__}")
        self._params = params
        self._threads = parallel.check_threads(threads)
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
        view = byte_view(data)
        chunks: list[memoryview] = []
        pos = 0
        # First settle the carried tail: join it with just enough new bytes
        # (max_size in total) for its next cut point to be decided.
        while self._carry and pos < len(view):
            carried = len(self._carry)
            take = min(len(view) - pos, self._params.max_size - carried)
            head = self._carry + view[pos : pos + take]
            points = parallel.scan(self._params, head, False)
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
            for end in parallel.scan(self._params, rest, False, self._threads):
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
            for end in parallel.scan(self._params, self._carry, True):
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
    after the iterator moves on.  Reads of
    :data:`parallel.PARALLEL_MIN_SIZE` or more are chunked by up to
    ``threads`` threads (see :class:`Chunker`).
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
