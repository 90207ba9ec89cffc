"""Chunks of every file the C tar scanner walks over, in the same pass (``src_c/chunksink.c``).

``savings`` needs the content-defined chunks of each regular file; cutting
them in Python (a memoryview and a few calls per piece and per chunk) cost
more than the tar walk. With :class:`NativeChunks` attached, the C scanner
cuts and hashes each file's content where it hashes it and leaves one 32-byte
record per chunk; after every scanner call :meth:`NativeChunks.drain` appends
them to one ``bytearray`` (no Python object per chunk) and hands the chunks
picked for the compression sample to ``sizes`` while their bytes are at hand. The policy (which compressor, what a figure means) is the caller's;
this module only moves bytes.

When the C scanner hands the rest of a layer to the reference reader, the
chunks of the members after that point are the caller's to cut (``on_fallback``
says from which stream offset).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

#: ls_chunk_rec (chunksink.h): digest[16], size, csize, sampled, reserved.
RECORD_SIZE = 32
_CSIZE = 20  # byte offset of csize in a record
_ORDER = sys.byteorder  # C writes native-endian integers


class CChunkSink:
    """What both uses of the C chunk sink share: its buffers, sized for each scanner call
    (chunksink.h's bound), and the hand-over hook. ``params``: (min_size, avg_size,
    max_size, normalization level), already validated; ``sample_below``: a chunk's bytes
    are copied out when the first two bytes of its digest, big-endian, are below this."""

    def __init__(self, backend, params: tuple[int, int, int, int], sample_below: int, slice_size: int) -> None:
        ffi, lib = backend.ffi, backend.lib
        self._ffi, self._lib = ffi, lib
        self._min, _avg, self._max, _level = params
        self.cdata = ffi.new("ls_chunk_sink *")
        if lib.ls_fastcdc_init(ffi.addressof(self.cdata, "params"), *params) != 0:
            raise AssertionError(f"the C chunker rejected {params}")  # validated before: a bug
        self.cdata.sample_below = sample_below
        self._carry = ffi.new("uint8_t[]", self._max)
        self.cdata.carry = self._carry
        self._cap = 0
        self._reserve(slice_size)
        self.on_fallback: Callable[[int], None] | None = None

    def _reserve(self, length: int) -> None:
        """Room for one scanner call over ``length`` bytes (chunksink.h's bound)."""
        if length <= self._cap:
            return
        ffi, s = self._ffi, self.cdata
        records = (length + self._max) // (self._min & ~1) + length // 512 + 2
        self._recs = ffi.new("ls_chunk_rec[]", records)
        self._sample_c = ffi.new("ls_chunk_sample[]", records)
        self._arena_c = ffi.new("uint8_t[]", length + self._max)
        s.recs, s.rec_cap, s.samples = self._recs, records, self._sample_c
        s.arena, s.arena_cap = self._arena_c, length + self._max
        self._cap = length

    def attach(self, state) -> None:
        state.chunks = self.cdata

    def before(self, length: int) -> None:
        """Called before the scanner walks ``length`` bytes."""
        self._reserve(length)

    def _checked(self):
        s = self.cdata
        if s.overflow:
            raise AssertionError("chunk sink overflow: its buffers were sized too small")
        return s

    def fallback(self, offset: int) -> None:
        """The C scanner stopped at ``offset``: the reference reader reads on, so the caller chunks."""
        if self.on_fallback is not None:
            self.on_fallback(offset)


class NativeChunks(CChunkSink):
    """The C chunk sink of one layer scan for ``savings``: a record per chunk, and the sampled
    chunks' compressed sizes. ``sizes``: sampled chunks' bytes (views valid only during the
    call) -> their compressed sizes."""

    def __init__(self, backend, params: tuple[int, int, int, int], sample_below: int,
                 sizes: Callable[[list[memoryview]], list[int]], slice_size: int) -> None:
        super().__init__(backend, params, sample_below, slice_size)
        self._sizes = sizes
        self.records = bytearray()  # every chunk of the layer, RECORD_SIZE bytes each, in stream order
        self.sampled_in = self.sampled_out = 0  # bytes of the sampled chunks, and compressed
        # a file's data_offset -> [compressed size of its sampled chunks, their bytes]
        self.by_file: dict[int, list[int]] = {}
        self._known: dict[bytes, int] = {}  # sampled digest -> its compressed size (a chunk seen again)

    def drain(self) -> None:
        """Take this call's records (and size its samples) before the next call reuses the buffers."""
        s = self._checked()
        n = s.n_recs
        if not n:
            return
        base = len(self.records)
        self.records += self._ffi.buffer(self._recs, n * RECORD_SIZE)
        if s.n_samples:
            self._sampled(base)

    def _sampled(self, base: int) -> None:
        s, records, known, by_file = self.cdata, self.records, self._known, self.by_file
        arena = memoryview(self._ffi.buffer(self._arena_c, s.arena_used))
        samples = [self._sample_c[k] for k in range(s.n_samples)]
        digests = [bytes(records[base + m.record * RECORD_SIZE:base + m.record * RECORD_SIZE + 16]) for m in samples]
        new = {}  # a chunk seen again in the layer is compressed once
        for m, digest in zip(samples, digests):
            if digest not in known and digest not in new:
                new[digest] = m
        if new:
            fresh = list(new.values())
            for digest, m, csize in zip(new, fresh, self._sizes([arena[m.arena_off:m.arena_off + m.size]
                                                                 for m in fresh])):
                known[digest] = csize
                self.sampled_in += m.size
                self.sampled_out += csize
        for m, digest in zip(samples, digests):
            csize = known[digest]
            at = base + m.record * RECORD_SIZE + _CSIZE
            records[at:at + 4] = csize.to_bytes(4, _ORDER)
            acc = by_file.get(m.data_offset)
            if acc is None:
                by_file[m.data_offset] = [csize, m.size]
            else:
                acc[0] += csize
                acc[1] += m.size

    def table(self, extra: bytes, ratio: float) -> tuple[bytes, "array", "array"]:
        """Every chunk of the layer (these records and ``extra`` ones) sorted by digest, one of each:
        (digests, sizes, compressed sizes); a chunk not sampled is compressed at ``ratio``."""
        from array import array

        records = self.records + extra if extra else self.records
        n = len(records) // RECORD_SIZE
        ffi = self._ffi
        digests = bytearray(16 * n)
        sizes, csizes = array("I", bytes(4 * n)), array("I", bytes(4 * n))
        recs = ffi.from_buffer("ls_chunk_rec[]", records, require_writable=True)
        unique = self._lib.ls_chunk_table(recs, n, ratio, ffi.from_buffer("uint8_t[]", digests, require_writable=True),
                                          ffi.from_buffer("uint32_t[]", sizes, require_writable=True),
                                          ffi.from_buffer("uint32_t[]", csizes, require_writable=True))
        del digests[16 * unique:], sizes[unique:], csizes[unique:]
        return bytes(digests), sizes, csizes


def record(digest: bytes, size: int, csize: int | None) -> bytes:
    """One chunk record as C writes them, for chunks cut in Python (``csize`` None: not sampled)."""
    sampled = csize is not None
    return b"".join((digest, size.to_bytes(4, _ORDER), (csize if sampled else 0).to_bytes(4, _ORDER),
                     int(sampled).to_bytes(4, _ORDER), bytes(4)))


class EveryChunk(CChunkSink):
    """The C chunk sink handing the bytes of every chunk, in stream order, to ``take`` (the
    store keeps them; their identity is the caller's: it hashes what it keeps, so C computes
    no digest), a scanner call's chunks at a time."""

    def __init__(self, backend, params: tuple[int, int, int, int], take: Callable[[list[memoryview]], None],
                 slice_size: int) -> None:
        super().__init__(backend, params, 65536, slice_size)
        self.cdata.no_digests = 1
        self._take = take

    def drain(self) -> None:
        s = self._checked()
        if not s.n_samples:
            return
        arena = memoryview(self._ffi.buffer(self._arena_c, s.arena_used))
        samples = self._sample_c
        self._take([arena[m.arena_off:m.arena_off + m.size] for m in (samples[k] for k in range(s.n_samples))])
