"""A layer tar's recipe, and the layer rebuilt from it: structure bytes, content chunks, and the
pairs that interleave them.

The store keeps file contents as content-defined chunks (a rebuilt layer whose
files are the same shares every one of them) and everything else of the tar
(headers, padding, unchunked member data, the end marker and what follows it)
as a second byte stream, itself chunked, so that the layer is rebuilt byte for
byte: its sha256 is its diff_id. See docs/store.md. ``decompose.py`` makes a
recipe from a layer stream; :func:`rebuild` is the way back (export reads only
this module: it needs no tar reader or chunker).
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Callable, Iterable, Iterator

import xxhash

from ..errors import BadInputError
from ..record import Record

_DAMAGED = "(the store is damaged: `store verify --full` names what)"
_OUT = 1 << 20  # rebuilt bytes handed out at a time


class Recipe(Record):
    """How to rebuild a layer tar: ``pairs`` holds (structure bytes, content bytes) u64s in
    stream order (little-endian), the last pair's content 0: the tail."""

    __slots__ = ("size", "pairs", "structure_ids", "content_ids", "xxh3")

    size: int
    pairs: bytes
    structure_ids: array  # 'Q': chunk ids of the structure stream, in order
    content_ids: array  # 'Q': chunk ids of the file contents, in order
    xxh3: bytes | None  # XXH3-128 of the layer tar, what a rebuild is checked against (None: not known)

    def __init__(self, size: int, pairs: bytes, structure_ids: array, content_ids: array,
                 xxh3: bytes | None = None) -> None:
        self.size = size
        self.pairs = pairs
        self.structure_ids = structure_ids
        self.content_ids = content_ids
        self.xxh3 = xxh3


def rebuild(recipe: Recipe, read: Callable[[Iterable[int]], Iterator[bytes | memoryview]]) -> Iterator[bytes]:
    """The layer tar again, a MiB at a time: ``read(ids)`` gives the chunks' bytes in order. With the
    recipe's XXH3-128 known, the bytes are checked against it; a mismatch is raised after the
    last piece (the caller discards what it wrote)."""
    check = xxhash.xxh3_128() if recipe.xxh3 is not None else None
    parts: list = []
    held = 0
    for piece in _interleave(recipe, read):
        parts.append(piece)
        held += len(piece)
        if held >= _OUT:  # a MiB at a time: a piece per header and chunk cost more than the copy
            joined = b"".join(parts)
            parts.clear()
            held = 0
            if check is not None:
                check.update(joined)
            yield joined
    if parts:
        joined = b"".join(parts)
        if check is not None:
            check.update(joined)
        yield joined
    if check is not None and check.digest() != recipe.xxh3:
        raise BadInputError(f"layer rebuilt from the store does not match what was added {_DAMAGED}")


def _interleave(recipe: Recipe, read) -> Iterator[memoryview]:
    pairs = array("Q")
    pairs.frombytes(recipe.pairs)
    if sys.byteorder != "little":
        pairs.byteswap()
    structure = _Bytes(read(recipe.structure_ids))
    content = _Bytes(read(recipe.content_ids))
    for k in range(0, len(pairs), 2):
        yield from structure.take(pairs[k])
        yield from content.take(pairs[k + 1])
    if not (structure.exhausted() and content.exhausted()):
        raise BadInputError(f"layer recipe: chunks left over after its last pair {_DAMAGED}")


class _Bytes:
    """A stream of chunks read as a byte stream, ``take(n)`` bytes at a time (no copies)."""

    def __init__(self, pieces: Iterator[bytes | memoryview]) -> None:
        self._pieces = iter(pieces)
        self._rest = memoryview(b"")

    def take(self, n: int) -> Iterator[memoryview]:
        while n:
            if not self._rest:
                piece = next(self._pieces, None)
                if piece is None:
                    raise BadInputError(f"layer recipe: its chunks end before its pairs do {_DAMAGED}")
                self._rest = memoryview(piece)
            part = self._rest[:n]
            self._rest = self._rest[len(part):]
            n -= len(part)
            yield part

    def exhausted(self) -> bool:
        return not self._rest and next(self._pieces, None) is None
