"""One layer in, its digest table out: the per-layer half of ``savings``.

A pure function of the layer's bytes (like ``layer/scan.py``), so the same
code can run in a pool or on other machines and the merge
(``analysis/savings.py``) is a separate step. One pass: the tar reader walks
the stream while :class:`layer.feed.ContentFeed` hands each regular file's
content to a streaming FastCDC chunker; nothing is held whole.

The table is compact: chunk digests (XXH3-128, 16 bytes) sorted and
deduplicated in one ``bytes`` object, their sizes in an ``array('I')``
beside it: 20 bytes per chunk of a layer, no Python object per chunk.
"""

from __future__ import annotations

from array import array

import xxhash

from ..chunk.reference import ChunkParams
from ..chunk.stream import Chunker
from ..layer.entry import FILE, Entry
from ..layer.feed import ContentFeed
from ..layer.scan import VerifyingStream
from ..layer.tarscan import iter_entry_batches
from ..record import Record

DIGEST_SIZE = 16  # XXH3-128
_digest = xxhash.xxh3_128_digest


def member(e: Entry) -> tuple:
    """What a near miss compares of an entry: (path, kind, digest, size, mode, uid, gid, link, mtime)."""
    return (e.path, e.kind, e.digest, e.size, e.mode, e.uid, e.gid, e.link, e.mtime)


MTIME = 8  # the index of mtime in a member tuple


def chunk_params(avg_chunk: int = 65536) -> ChunkParams:
    """FastCDC bounds for an average: min avg/4, max avg*4 (the defaults' ratios)."""
    return ChunkParams(min_size=max(avg_chunk // 4, 64), avg_size=avg_chunk, max_size=avg_chunk * 4)


class LayerDigests(Record):
    __slots__ = ("diff_id", "blob_digest", "size", "files", "chunks", "chunk_sizes", "lost", "members")

    diff_id: str | None  # computed (None when verification was off)
    blob_digest: str | None
    size: int  # uncompressed tar stream bytes
    files: dict[bytes, int]  # XXH3-128 of each regular file's content -> its size (unique in the layer)
    chunks: bytes  # sorted unique chunk digests, DIGEST_SIZE bytes each
    chunk_sizes: array  # 'I': the size of each chunk, aligned with ``chunks``
    lost: int  # files counted as one whole chunk: sparse, or no longer at hand (see layer/feed.py)
    members: list[tuple]  # Member tuples in tar order: what near misses are explained by

    def __init__(self, diff_id: str | None, blob_digest: str | None, size: int, files: dict[bytes, int],
                 chunks: bytes, chunk_sizes: array, lost: int = 0, members: list[tuple] | None = None) -> None:
        self.diff_id = diff_id
        self.blob_digest = blob_digest
        self.size = size
        self.files = files
        self.chunks = chunks
        self.chunk_sizes = chunk_sizes
        self.lost = lost
        self.members = [] if members is None else members

    def chunk_count(self) -> int:
        return len(self.chunk_sizes)

    def iter_chunks(self):
        """(digest, size) in digest order."""
        chunks, sizes = self.chunks, self.chunk_sizes
        for k in range(len(sizes)):
            yield chunks[k * DIGEST_SIZE:(k + 1) * DIGEST_SIZE], sizes[k]


class _ChunkSink:
    """Chunks each file fed to it; chunk digest -> size, unique within the layer."""

    def __init__(self, params: ChunkParams) -> None:
        self._chunker = Chunker(params, threads=1)  # layers run in parallel already
        self.chunks: dict[bytes, int] = {}
        self.wholes = 0

    def begin(self, e: Entry) -> None:
        pass

    def data(self, view: memoryview) -> None:
        chunks = self.chunks
        for c in self._chunker.feed(view):
            chunks[_digest(c)] = len(c)

    def end(self) -> None:
        chunks = self.chunks
        for c in self._chunker.finish():
            chunks[_digest(c)] = len(c)

    def lost(self, e: Entry) -> None:
        self.whole(e)

    def whole(self, e: Entry) -> None:
        # the XXH3-128 of a whole file is the digest of it as one chunk: consistent with chunked files
        if e.digest is not None:
            self.chunks[e.digest] = e.size
            self.wholes += 1


def layer_digests(stream: VerifyingStream, params: ChunkParams | None = None) -> LayerDigests:
    """Read a layer's tar stream once: file digests from the scan, chunk digests from its content.

    ``stream.finish()`` checks the blob digest and diff_id, as ``scan`` does.
    """
    sink = _ChunkSink(params or chunk_params())
    feed = ContentFeed(stream, sink)
    files: dict[bytes, int] = {}
    members: list[tuple] = []
    try:
        for batch in iter_entry_batches(feed, hash_content=True, wants=feed.wants):
            feed.batch(batch)
            members.extend(map(member, batch))
            for e in batch:
                if e.kind is FILE and e.digest is not None and e.size:
                    files[e.digest] = e.size
                    if e.size != e.data_size:  # sparse: not fed
                        sink.whole(e)
    finally:
        feed.close()
    stream.finish()
    keys = sorted(sink.chunks)
    chunks = sink.chunks
    return LayerDigests(
        diff_id=stream.diff_id,
        blob_digest=stream.blob_digest,
        size=stream.size,
        files=files,
        chunks=b"".join(keys),
        chunk_sizes=array("I", [chunks[k] for k in keys]),
        lost=sink.wholes,
        members=members,
    )
