"""A content hook of the layer pass: hand every regular file's bytes to a sink, in stream order.

``savings`` chunks file contents; reading a layer a second time for that
would double the work, and holding a layer in memory is out of the question.
:class:`ContentFeed` wraps the layer stream the tar reader reads (like
:class:`capture.Capture`), keeps the pieces it handed out until the members
in them are reported, and gives the sink each file's content as it streams by:
``begin(entry)``, ``data(view)`` any number of times, ``end()``. A member
whose content runs past the slice in hand (the C reader asks ``wants`` about
it) is fed from the pieces at hand and then from each later read, so no file
is ever held whole. The sink lives with its caller (``analysis/``): ``layer/``
must not import ``chunk/``.

Memory: the pieces of one reader slice (1 MiB for the C reader), at most
:data:`RETAIN` bytes; a file whose head was dropped before it was reported
(only the reference reader, on a member larger than that) goes to
``sink.lost(entry)`` instead, which the caller counts as one whole chunk.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

from .entry import FILE, Entry
from .capture import StreamTap

#: Pieces kept at most while waiting for the reader to report their members.
RETAIN = 64 << 20
_NEVER = 1 << 63


class ContentSink(Protocol):
    def begin(self, e: Entry) -> None: ...

    def data(self, view: memoryview) -> None: ...

    def end(self) -> None: ...

    def lost(self, e: Entry) -> None: ...


def _fed(e: Entry) -> bool:
    # sparse members (data_size < size) are not fed: their holes are not in the stream
    return e.kind is FILE and e.size > 0 and e.size == e.data_size


class ContentFeed(StreamTap):
    """A layer stream that hands each regular file's content to ``sink`` once.

    Pass it to the tar reader in place of the stream, :meth:`wants` as its
    ``wants``, and call :meth:`batch` with every batch the reader yields.
    """

    def __init__(self, stream, sink: ContentSink, *, native: bool = False) -> None:
        super().__init__(stream)
        self._sink = sink
        # members whose content starts before this offset are chunked by the C scanner
        # (native: all of them, until it hands over to the reference reader: take_over)
        self._from = _NEVER if native else 0
        self._pieces: deque[tuple[int, bytes | memoryview]] = deque()  # (stream offset, piece)
        self._pos = 0  # stream offset after the last byte handed out
        self._held = 0
        self._next = 0  # members starting before this offset were handed to the sink
        self._queued: Entry | None = None  # asked about by wants(): its batch comes first
        self._active_end = -1  # stream offset where the member being fed ends (-1: none)
        self._active_at = 0  # next stream offset to feed

    def _note(self, piece):
        size = len(piece)
        if not size:
            return piece
        start = self._pos
        self._pos += size
        if self._active_end >= 0:
            self._feed_piece(start, piece)
        pieces = self._pieces
        pieces.append((start, piece))
        self._held += size
        while pieces:
            first, old = pieces[0]
            if first + len(old) > self._next and self._held <= RETAIN:
                break
            pieces.popleft()
            self._held -= len(old)
        return piece

    def _feed_piece(self, start: int, piece) -> None:
        at, end = self._active_at, self._active_end
        lo, hi = max(at - start, 0), min(end, start + len(piece)) - start
        if hi > lo:
            self._sink.data(memoryview(piece)[lo:hi])
            self._active_at = start + hi
        if self._active_at >= end:
            self._active_end = -1
            self._sink.end()

    def take_over(self, offset: int) -> None:
        """The C scanner stopped at ``offset``: the members from there on are fed from here."""
        self._from = offset

    def wants(self, e: Entry) -> bool:
        """The reader's question about a member it is about to read on from: noted, fed after its batch."""
        if _fed(e) and e.data_offset >= self._next and e.data_offset >= self._from:
            self._queued = e
            return True  # the reference reader then ends its batch here, while the bytes are at hand
        return False

    def batch(self, entries: list[Entry]) -> None:
        """Feed the members of a batch the reader just yielded, then start a queued one."""
        if entries and entries[0].data_offset < self._from:  # the C scanner's: let the pieces go
            last = entries[-1]
            self._next = max(self._next, last.data_offset + last.data_size)
            return
        for e in entries:
            if e.data_offset >= self._next and _fed(e):
                self._start(e)
        q = self._queued
        if q is not None:
            self._queued = None
            if q.data_offset >= self._next:
                self._start(q)

    def _start(self, e: Entry) -> None:
        begin, end = e.data_offset, e.data_offset + e.data_size
        self._next = end
        if not self._pieces or self._pieces[0][0] > begin:
            self._sink.lost(e)
            return
        self._sink.begin(e)
        self._active_at, self._active_end = begin, end
        for start, piece in list(self._pieces):
            if start + len(piece) <= begin:
                continue
            if start >= end or self._active_end < 0:
                break
            self._feed_piece(start, piece)
        # the rest, if any, is fed by _note as the reader reads on

    def close(self) -> None:
        """Let go of the pieces (views into the stream's buffers)."""
        self._pieces.clear()
        self._held = 0
