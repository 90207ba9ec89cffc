"""One layer in, its digest table out: the per-layer half of ``savings``.

A pure function of the layer's bytes (like ``layer/scan.py``), so the same
code can run in a pool or on other machines and the merge
(``analysis/savings.py``) is a separate step. One pass: the C tar scanner
cuts each regular file's content into FastCDC chunks where it hashes it
(``src_c/chunksink.c``, ``layer/chunksink.py``); after a hand-over to the
reference reader, or without the C core, :class:`layer.feed.ContentFeed`
hands the content to the Python chunker instead. Nothing is held whole.

The table is compact: chunk digests (XXH3-128, 16 bytes) sorted and
deduplicated in one ``bytes`` object, their sizes and zstd-compressed sizes
in two ``array('I')`` beside it: 24 bytes per chunk of a layer, no Python
object per chunk.

Compressed figures are measured (zstd level 3) on a sample ``s`` (default
1/32): compressing every byte twice (the tar stream, and each chunk) took
several times the pass itself. Chunks: those whose digest falls in the first
``s`` of the digest space are compressed on their own (so a chunk is sampled
in every layer or in none), the rest are estimated at the layer's sampled
ratio; a file's figure is the sum of its chunks'. The tar stream: its first
2 MiB through a stream compressor (a layer that small is measured whole),
then one 1 MiB block per ``1 MiB / 4s`` of stream, at a pseudo-random place,
compressed after the 1 MiB before it so that it finds the matches it would in
the stream; the rest at the blocks' ratio. ``s`` = 1 compresses everything:
each chunk on its own, the stream through one stream compressor. How close
the samples come is measured in docs/savings.md.
"""

from __future__ import annotations

from array import array

import xxhash

from ..chunk.reference import ChunkParams
from ..chunk.stream import Chunker
from ..layer.entry import FILE, Entry
from ..layer.feed import ContentFeed
from ..layer.scan import VerifyingStream
from ..layer.capture import StreamTap
from ..layer import tarscan
from ..layer.chunksink import record
from ..errors import UsageError
from ..record import Record

TYPE_CHECKING = False  # not from typing: start-up time
if TYPE_CHECKING:
    from ..layer.chunksink import NativeChunks

DIGEST_SIZE = 16  # XXH3-128
_digest = xxhash.xxh3_128_digest


#: The share of chunks (by digest) and of the tar stream compressed to measure the zstd figures.
DEFAULT_SAMPLE = 1 / 32


def member(e: Entry) -> tuple:
    """What a near miss compares of an entry: (path, kind, digest, size, mode, uid, gid, link, mtime)."""
    return (e.path, e.kind, e.digest, e.size, e.mode, e.uid, e.gid, e.link, e.mtime)


MTIME = 8  # the index of mtime in a member tuple


def chunk_params(avg_chunk: int = 65536) -> ChunkParams:
    """FastCDC bounds for an average: min avg/4, max avg*4 (the defaults' ratios)."""
    return ChunkParams(min_size=max(avg_chunk // 4, 64), avg_size=avg_chunk, max_size=avg_chunk * 4)


class LayerDigests(Record):
    __slots__ = ("diff_id", "blob_digest", "size", "files", "chunks", "chunk_sizes", "lost", "members",
                 "compressed", "file_compressed", "chunk_compressed")

    diff_id: str | None  # computed (None when verification was off)
    blob_digest: str | None
    size: int  # uncompressed tar stream bytes
    files: dict[bytes, int]  # XXH3-128 of each regular file's content -> its size (unique in the layer)
    chunks: bytes  # sorted unique chunk digests, DIGEST_SIZE bytes each
    chunk_sizes: array  # 'I': the size of each chunk, aligned with ``chunks``
    lost: int  # files counted as one whole chunk: sparse, or no longer at hand (see layer/feed.py)
    members: list[tuple]  # Member tuples in tar order: what near misses are explained by
    compressed: int  # the tar stream through zstd level 3
    file_compressed: dict[bytes, int]  # file digest -> the sum of its chunks' compressed sizes
    chunk_compressed: array  # 'I': each chunk through zstd level 3, aligned with ``chunks``

    def __init__(self, diff_id: str | None, blob_digest: str | None, size: int, files: dict[bytes, int],
                 chunks: bytes, chunk_sizes: array, lost: int = 0, members: list[tuple] | None = None,
                 compressed: int = 0, file_compressed: dict[bytes, int] | None = None,
                 chunk_compressed: array | None = None) -> None:
        self.diff_id = diff_id
        self.blob_digest = blob_digest
        self.size = size
        self.files = files
        self.chunks = chunks
        self.chunk_sizes = chunk_sizes
        self.lost = lost
        self.members = [] if members is None else members
        self.compressed = compressed
        self.file_compressed = {} if file_compressed is None else file_compressed
        self.chunk_compressed = array("I", chunk_sizes) if chunk_compressed is None else chunk_compressed

    def chunk_count(self) -> int:
        return len(self.chunk_sizes)

    def iter_chunks(self):
        """(digest, size, compressed size) in digest order."""
        chunks, sizes, csizes = self.chunks, self.chunk_sizes, self.chunk_compressed
        for k in range(len(sizes)):
            yield chunks[k * DIGEST_SIZE:(k + 1) * DIGEST_SIZE], sizes[k], csizes[k]


class _ChunkSink:
    """Chunks each file fed to it in Python: chunk digest -> (size, compressed size), unique
    within the layer, and each file's sampled chunks in ``by_file`` (data offset -> [their
    compressed size, their bytes]). The C scanner does the same work itself
    (``layer/chunksink.py``); this sink takes what it leaves: a layer after the C scanner handed
    it to the reference reader, or every layer without the C core."""

    def __init__(self, params: ChunkParams, compress, below: int, by_file: dict[int, list[int]]) -> None:
        self._chunker = Chunker(params, threads=1)  # layers run in parallel already
        self._compress = compress
        self._below = below  # a chunk is sampled when its digest's first two bytes are below
        self.chunks: dict[bytes, tuple[int, int]] = {}  # digest -> (size, compressed size or -1: not sampled)
        self.by_file = by_file
        self._acc = [0, 0]
        self.sampled = [0, 0]  # bytes in, bytes out
        self.wholes = 0

    def begin(self, e: Entry) -> None:
        self._acc = self.by_file[e.data_offset] = [0, 0]

    def _add(self, pieces: list[memoryview]) -> None:
        chunks, acc = self.chunks, self._acc
        for c in pieces:
            d = _digest(c)
            known = chunks.get(d)
            if known is None:
                size = len(c)
                if (d[0] << 8 | d[1]) < self._below:
                    known = chunks[d] = (size, len(self._compress(c)))
                    self.sampled[0] += size
                    self.sampled[1] += known[1]
                else:
                    known = chunks[d] = (size, -1)
            if known[1] >= 0:
                acc[0] += known[1]
                acc[1] += known[0]

    def data(self, view: memoryview) -> None:
        self._add(self._chunker.feed(view))

    def end(self) -> None:
        self._add(self._chunker.finish())

    def lost(self, e: Entry) -> None:
        self.whole(e)

    def whole(self, e: Entry) -> None:
        # the XXH3-128 of a whole file is the digest of it as one chunk: consistent with chunked files
        if e.digest is not None:  # its bytes are gone: counted as incompressible
            self.chunks[e.digest] = (e.size, e.size)
            self.by_file[e.data_offset] = [e.size, e.size]
            self.wholes += 1


def _native_chunks(params: ChunkParams, below: int, compress) -> NativeChunks | None:
    """The C scanner's chunk sink, when this install has the C scanner (and it is in use)."""
    backend = tarscan.BACKEND
    if not backend.native:
        return None
    from ..layer.chunksink import NativeChunks

    return NativeChunks(backend, (params.min_size, params.avg_size, params.max_size, params.level), below,
                        lambda pieces: [len(compress(p)) for p in pieces], tarscan.SLICE)


def _estimate(size: int, ratio: float) -> int:
    # as C's ls_chunk_table rounds (half up): the two paths agree to the byte
    return int(size * ratio + 0.5)


def layer_digests(stream: VerifyingStream, params: ChunkParams | None = None, *,
                  sample: float = DEFAULT_SAMPLE) -> LayerDigests:
    """Read a layer's tar stream once: file digests from the scan, chunk digests from its content,
    zstd sizes on a ``sample`` (0 < sample <= 1; see the module's doc).

    ``stream.finish()`` checks the blob digest and diff_id, as ``scan`` does.
    """
    if not 0 < sample <= 1:
        raise UsageError(f"the compression sample must be in (0, 1], not {sample}")
    import zstandard  # on first use: start-up time

    params = params or chunk_params()
    below = int(sample * 65536)
    # two compressors: a one-shot compress() on the stream's context would reset the stream
    compress = zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress
    native = _native_chunks(params, below, compress)
    by_file: dict[int, list[int]] = native.by_file if native is not None else {}
    sink = _ChunkSink(params, compress, below, by_file)
    whole = _Compressed(stream, zstandard.ZstdCompressor(level=ZSTD_LEVEL), sample)
    feed = ContentFeed(whole, sink, native=native is not None)
    if native is not None:
        native.on_fallback = feed.take_over
    files: dict[bytes, int] = {}
    file_at: list[tuple[int, bytes, int]] = []  # (data offset, digest, size) of each regular file
    members: list[tuple] = []
    try:
        for batch in tarscan.iter_entry_batches(feed, hash_content=True, wants=feed.wants, chunks=native):
            feed.batch(batch)
            members.extend(map(member, batch))
            for e in batch:
                if e.kind is FILE and e.digest is not None and e.size:
                    files[e.digest] = e.size
                    if e.size != e.data_size:  # sparse: not fed
                        sink.whole(e)
                    file_at.append((e.data_offset, e.digest, e.size))
    finally:
        feed.close()
    stream.finish()
    layer_compressed = whole.finish()
    file_sampled: dict[bytes, tuple[int, int]] = {}  # file digest -> (sampled compressed, unsampled bytes)
    for offset, digest, size in file_at:
        csize, sampled = by_file.get(offset, _NONE)
        file_sampled[digest] = (csize, size - sampled)
    # unsampled chunks at the ratio of the sampled ones (of the stream's sample, when no chunk was)
    into, out = sink.sampled
    if native is not None:
        into, out = into + native.sampled_in, out + native.sampled_out
    ratio = out / into if into else (layer_compressed / stream.size if stream.size else 1.0)
    chunks = sink.chunks
    if native is not None:
        extra = b"".join(record(d, size, c if c >= 0 else None) for d, (size, c) in chunks.items())
        digests, sizes, csizes = native.table(extra, ratio)
    else:
        keys = sorted(chunks)
        digests = b"".join(keys)
        sizes = array("I", [chunks[k][0] for k in keys])
        csizes = array("I", [c if c >= 0 else _estimate(n, ratio) for n, c in map(chunks.__getitem__, keys)])
    return LayerDigests(
        diff_id=stream.diff_id,
        blob_digest=stream.blob_digest,
        size=stream.size,
        files=files,
        chunks=digests,
        chunk_sizes=sizes,
        lost=sink.wholes,
        members=members,
        compressed=layer_compressed,
        file_compressed={d: known + _estimate(rest, ratio) for d, (known, rest) in file_sampled.items()},
        chunk_compressed=csizes,
    )


def layer_files(stream: VerifyingStream) -> LayerDigests:
    """The part of :func:`layer_digests` that needs no chunking or compressing: each regular file's
    content digest and size, and the member list (what ``workload`` counts and near misses compare);
    ``chunks`` is empty and the compressed figures are 0. ``stream.finish()`` checks the digests."""
    files: dict[bytes, int] = {}
    members: list[tuple] = []
    for batch in tarscan.iter_entry_batches(stream, hash_content=True):
        members.extend(map(member, batch))
        for e in batch:
            if e.kind is FILE and e.digest is not None and e.size:
                files[e.digest] = e.size
    stream.finish()
    return LayerDigests(diff_id=stream.diff_id, blob_digest=stream.blob_digest, size=stream.size, files=files,
                        chunks=b"", chunk_sizes=array("I"), members=members)


_NONE = (0, 0)


ZSTD_LEVEL = 3
_HEAD = 2 << 20  # the start of every layer goes through the stream compressor whole
_BLOCK = 1 << 20  # then one block per stride ...
_PREFIX = 1 << 20  # ... compressed after the bytes before it (their output not counted), as in the stream
_UNIT = 1 << 20  # what the stream compressor is fed at a time
_SLOT = 64 << 10  # blocks start at a multiple of this


def stream_stride(sample: float) -> int:
    """Bytes of stream per sampled block: the stream's sample (head aside) costs about
    ``8 * sample`` of its bytes in zstd work (a block and its prefix), the chunks' ``sample``:
    a layer's stream is far less even than its chunks picked at random."""
    return max(int(_BLOCK / (4 * sample)), _BLOCK + _PREFIX)


class _Compressed(StreamTap):
    """The layer stream, also measured through zstd level 3.

    All of it through one stream compressor at ``sample`` 1, else: the first
    :data:`_HEAD` bytes, then one :data:`_BLOCK` somewhere in every stride after
    (:meth:`_block_start`), each compressed after the :data:`_PREFIX` bytes before
    it so that it finds the matches it would in the stream (a block compressed
    alone came out 8% larger on real layers); the rest is estimated at the
    blocks' ratio. Blocks are gathered across pieces, so the figure does not
    depend on how the reader reads.
    """

    def __init__(self, stream, cctx, sample: float) -> None:
        super().__init__(stream)
        import zstandard

        self._cctx = cctx
        self._flush_block = zstandard.COMPRESSOBJ_FLUSH_BLOCK
        self._stride = stream_stride(sample)
        self._exact = sample >= 1
        self._head = cctx.compressobj()
        self._head_out = 0
        self._unit = bytearray()  # stream bytes not yet given to the head's compressor
        self._pos = 0
        self._stride_at = -(-_HEAD // self._stride) * self._stride  # the first stride after the head
        self._next = self._block_start()  # where the next block starts (its prefix _PREFIX before)
        self._region = bytearray(_PREFIX + _BLOCK)  # the prefix and block being gathered
        self._filled = 0
        self._in = self._out = 0  # the blocks' bytes, and compressed

    def _note(self, piece):
        if not piece:
            return piece
        start = self._pos
        end = self._pos = start + len(piece)
        view = memoryview(piece)
        if self._exact or start < _HEAD:
            upto = end if self._exact else min(end, _HEAD)
            self._stream_in(view[:upto - start])
            if self._exact:
                return piece
        while True:
            lo, hi = self._next - _PREFIX, self._next + _BLOCK
            if end <= lo:
                break
            a, b = max(lo, start), min(hi, end)
            if b > a:
                self._region[a - lo:b - lo] = view[a - start:b - start]
                self._filled = b - lo
            if end < hi:
                break
            self._block()
        return piece

    def _block_start(self) -> int:
        """A block at a pseudo-random place in the stride (a fixed function of the offset, so the
        same bytes give the same figure): no aliasing with content that repeats at the stride,
        and its prefix never reaches back into the stride before."""
        slots = (self._stride - _PREFIX - _BLOCK) // _SLOT + 1
        return self._stride_at + _PREFIX + _SLOT * (xxhash.xxh64_intdigest(self._stride_at.to_bytes(8, "little")) % slots)

    def _stream_in(self, view) -> None:
        # fed in fixed units: zstd's output depends a little on how its input is cut
        unit = self._unit
        unit += view
        while len(unit) >= _UNIT:
            self._head_out += len(self._head.compress(unit[:_UNIT]))
            del unit[:_UNIT]

    def _block(self) -> None:
        """Compress the gathered prefix and block; count the block's output."""
        filled, self._filled = self._filled, 0
        self._stride_at += self._stride
        self._next = self._block_start()
        if filled <= _PREFIX:  # the stream ended inside the prefix: nothing to count
            return
        region = memoryview(self._region)
        c = self._cctx.compressobj()
        c.compress(region[:_PREFIX])
        c.flush(self._flush_block)
        self._out += len(c.compress(region[_PREFIX:filled])) + len(c.flush())
        self._in += filled - _PREFIX

    def finish(self) -> int:
        head = self._head_out + len(self._head.compress(self._unit)) + len(self._head.flush())
        if self._exact or self._pos <= _HEAD:
            return head
        if self._filled:
            self._block()
        rest = self._pos - _HEAD
        ratio = self._out / self._in if self._in else head / _HEAD
        return head + round(rest * ratio)
