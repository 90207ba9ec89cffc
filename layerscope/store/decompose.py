"""A layer tar -> its recipe (``recipe.py``), read once, streaming.

The C tar scanner cuts each file's content where it walks it
(``layer/chunksink.py``: :class:`EveryChunk`), :class:`_Splitter` copies the
bytes between contents out of the stream pieces it passes to the reader, and
the caller's ``chunks`` keeps each chunk and names it. After a hand-over to the
reference reader (or without the C core) the contents are cut in Python
(``layer/feed.py``), with the same cut points.
"""

from __future__ import annotations

import sys
from array import array
from collections import deque
from collections.abc import Callable

import xxhash

from ..chunk.reference import DEFAULT_PARAMS, ChunkParams
from ..chunk.stream import Chunker
from ..errors import BadInputError
from ..layer import tarscan
from ..layer.capture import StreamTap
from ..layer.entry import FILE, Entry
from ..layer.feed import ContentFeed
from .recipe import Recipe

#: Stream pieces kept at most while waiting to learn which of their bytes are content.
RETAIN = 64 << 20
_READ = 1 << 20


def _chunked(e: Entry) -> bool:
    # what the chunkers cut (C: every regular file with content, which excludes sparse ones, which
    # C hands to the reference reader; Python: layer/feed.py's rule): the rest is structure
    return e.kind is FILE and e.size > 0 and e.size == e.data_size


class _Splitter(StreamTap):
    """Passes the layer stream to the reader and keeps what is not file content: the bytes
    between content ranges, in order, handed to ``structure``. Content ranges are learnt from
    the reader's entries (``batch``) and its question about a member it reads on from
    (``wants``), in stream order."""

    def __init__(self, stream, structure: Callable[[memoryview], None]) -> None:
        super().__init__(stream)
        self._structure = structure
        self._pieces: deque[tuple[int, bytes | memoryview]] = deque()
        self._held = 0
        self._pos = 0  # stream offset after the last byte handed out
        self._done = 0  # bytes before this are placed (structure handed on, or content)
        self._queued: Entry | None = None
        self._gap = 0  # structure bytes since the last content range
        self.pairs = array("Q")
        self.hash = xxhash.xxh3_128()  # of every byte: a rebuild's check

    def _note(self, piece):
        size = len(piece)
        if not size:
            return piece
        self.hash.update(piece)
        self._pieces.append((self._pos, piece))
        self._pos += size
        self._held += size
        self._drop()
        if self._held > RETAIN:
            raise BadInputError(f"tar stream: more than {RETAIN} bytes read ahead of the members reported")
        return piece

    def _drop(self) -> None:
        """Let go of the pieces wholly placed (structure handed on, or content: the chunkers have
        their own hold on it)."""
        pieces = self._pieces
        while pieces and pieces[0][0] + len(pieces[0][1]) <= self._done:
            self._held -= len(pieces.popleft()[1])

    def _structure_to(self, end: int) -> None:
        """Hand on the structure bytes [done, end)."""
        at = self._done
        for start, piece in self._pieces:
            stop = start + len(piece)
            if stop <= at:
                continue
            if start >= end:
                break
            lo, hi = max(at, start), min(end, stop)
            self._structure(memoryview(piece)[lo - start:hi - start])
            at = hi
        if at != end:
            raise AssertionError(f"structure bytes {at}..{end} no longer at hand")
        self._gap += end - self._done
        self._done = end

    def _content(self, e: Entry) -> None:
        self._structure_to(e.data_offset)
        self.pairs.append(self._gap)
        self.pairs.append(e.data_size)
        self._gap = 0
        self._done = e.data_offset + e.data_size
        self._drop()

    def wants(self, e: Entry) -> bool:
        if _chunked(e) and e.data_offset >= self._done:
            self._queued = e
        return False

    def batch(self, entries: list[Entry]) -> None:
        for e in entries:
            if _chunked(e) and e.data_offset >= self._done:
                self._content(e)
        q = self._queued
        if q is not None:
            self._queued = None
            if q.data_offset >= self._done:
                self._content(q)

    def finish(self) -> None:
        """Read the stream to its end (what follows the end marker is layer bytes too), the tail
        is structure."""
        read = getattr(self, "read1", None) or self.read
        while read(_READ):
            self._structure_to(self._pos)
            self._drop()
        self._structure_to(self._pos)
        self.pairs.append(self._gap)
        self.pairs.append(0)


class _PythonContent:
    """The content sink after a hand-over to the reference reader (or without the C core)."""

    def __init__(self, params: ChunkParams, keep: Callable[[list], None]) -> None:
        self._chunker = Chunker(params, threads=1)
        self._keep = keep

    def begin(self, e: Entry) -> None:
        pass

    def data(self, view: memoryview) -> None:
        self._keep(self._chunker.feed(view))

    def end(self) -> None:
        self._keep(self._chunker.finish())

    def lost(self, e: Entry) -> None:
        raise AssertionError(f"member at {e.data_offset} went by before it was reported")


#: ``chunks(pieces)``: keep each piece (views, valid only during the call) and return their ids.
ChunksFn = Callable[[list], list[int]]


def decompose(stream, chunks: ChunksFn, *, params: ChunkParams = DEFAULT_PARAMS) -> Recipe:
    """Read the uncompressed layer tar ``stream`` once and keep it as chunks: ``chunks(pieces)``
    stores a batch (a reader slice's worth: the store looks them up together) and returns their
    ids. ``stream.finish()`` (the diff_id check) is the caller's."""
    structure_ids, content_ids = array("Q"), array("Q")
    structure = Chunker(params, threads=1)
    pending = bytearray()  # structure comes a header at a time: fed to the chunker a MiB at a time

    def keep_structure(view: memoryview) -> None:
        pending.extend(view)
        if len(pending) >= _READ:
            piece = bytes(pending)  # the chunks handed out are views into what was fed
            pending.clear()
            structure_ids.extend(chunks(structure.feed(piece)))

    def keep_content(pieces: list) -> None:
        if pieces:
            content_ids.extend(chunks(pieces))

    splitter = _Splitter(stream, keep_structure)
    native = None
    if tarscan.BACKEND.native:
        from ..layer.chunksink import EveryChunk

        native = EveryChunk(tarscan.BACKEND, (params.min_size, params.avg_size, params.max_size, params.level),
                            keep_content, tarscan.SLICE)
    feed = ContentFeed(splitter, _PythonContent(params, keep_content), native=native is not None)
    if native is not None:
        native.on_fallback = feed.take_over

    def wants(e: Entry) -> bool:
        splitter.wants(e)
        return feed.wants(e)

    try:
        for batch in tarscan.iter_entry_batches(feed, hash_content=False, wants=wants, chunks=native):
            splitter.batch(batch)
            feed.batch(batch)
        splitter.finish()
    finally:
        feed.close()
    structure_ids.extend(chunks([*structure.feed(bytes(pending)), *structure.finish()]))
    pairs = splitter.pairs
    if sys.byteorder != "little":
        pairs.byteswap()
    return Recipe(splitter._pos, pairs.tobytes(), structure_ids, content_ids, splitter.hash.digest())
