"""One layer stream in, one :class:`LayerScan` out: a pure function of the blob.

That purity is what lets callers fan layers out over threads, processes or
(later) machines, and analyse a layer shared by several images once.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Protocol

from ..record import Record
from .capture import Capture
from .entry import Entry
from .tarscan import iter_entry_batches


class VerifyingStream(Protocol):
    """What a source hands out: exact reads, then ``finish()`` checks digests."""

    size: int
    compression: str
    blob_digest: str | None
    diff_id: str | None

    def read(self, n: int, /) -> bytes | memoryview: ...

    def finish(self) -> None: ...


class LayerScan(Record):
    __slots__ = ("size", "compression", "entry_count", "blob_digest", "diff_id", "entries", "defects", "captured")

    size: int  # uncompressed tar stream length, bytes after the end marker included
    compression: str
    entry_count: int
    blob_digest: str | None  # computed (None when verification was off)
    diff_id: str | None  # computed (None when verification was off)
    entries: list[Entry] | None
    defects: list[str]  # "path-escape: ../x", ...
    captured: dict[bytes, bytes | None]  # package databases: capture.py

    def __init__(self, size: int, compression: str, entry_count: int, blob_digest: str | None, diff_id: str | None,
                 entries: list[Entry] | None = None, defects: list[str] | None = None,
                 captured: dict[bytes, bytes | None] | None = None) -> None:
        self.size = size
        self.compression = compression
        self.entry_count = entry_count
        self.blob_digest = blob_digest
        self.diff_id = diff_id
        self.entries = entries
        self.defects = [] if defects is None else defects
        self.captured = {} if captured is None else captured


MAX_DEFECTS = 50  # a hostile layer could have millions; report the first ones
_defects = attrgetter("defects")


def scan(stream: VerifyingStream, *, keep_entries: bool = False, hash_content: bool = True) -> LayerScan:
    """Read a layer's tar stream to the end, checking its digests.

    With ``keep_entries`` (a scan worth caching) the bytes of package
    databases are kept too (``captured``: digest -> bytes), in the same pass.
    """
    entries: list[Entry] | None = [] if keep_entries else None
    defects: list[str] = []
    count = 0
    capture = Capture(stream) if keep_entries and hash_content else None
    # a batch at a time: no Python step per entry but its defects' (stream notes come last)
    for batch in iter_entry_batches(capture or stream, hash_content=hash_content, notes=defects,
                                    wants=capture and capture.wants):
        count += len(batch)
        if capture is not None:
            capture.batch(batch)
        if entries is not None:
            entries.extend(batch)
        if len(defects) < MAX_DEFECTS:
            for e in filter(_defects, batch):
                if len(defects) >= MAX_DEFECTS:
                    break
                defects.extend(f"{d}: {e.raw_name!r}" for d in e.defects)
    if capture is not None:
        capture.close()
    stream.finish()
    return LayerScan(
        size=stream.size,
        compression=stream.compression,
        entry_count=count,
        blob_digest=stream.blob_digest,
        diff_id=stream.diff_id,
        entries=entries,
        defects=defects,
        captured=capture.kept if capture is not None else {},
    )
