"""The native FastCDC chunker against its Python reference, and its Python face.

Most random cases use small sizes (min 64.., avg 256.., max 1024..) because
the reference is plain Python; a few use the defaults on ~1 MB.
"""
from __future__ import annotations

import array
import hashlib
import io
import math
import mmap
import os
import random
import threading

import pytest
import xxhash
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from layerscope.chunk import (
    DEFAULT_PARAMS,
    Chunker,
    ChunkParams,
    chunk_digest,
    chunk_digests,
    cut_points,
    iter_chunks,
)
from layerscope.chunk import native as N
from layerscope.chunk import parallel as P
from layerscope.chunk import reference as ref
from layerscope.errors import UsageError

SMALL = ChunkParams(64, 256, 1024)

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def rand_bytes(n: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(n)


def native(buf, params: ChunkParams) -> list[int]:
    return cut_points(buf, params=params)


@st.composite
def small_params(draw) -> ChunkParams:
    min_size = draw(st.integers(64, 300))
    avg_size = draw(st.integers(max(min_size, 256), 1024))
    max_size = draw(st.integers(max(avg_size, 1024), 2048))
    level = draw(st.integers(0, 3))
    return ChunkParams(min_size, avg_size, max_size, level)


@st.composite
def buffers(draw) -> bytes:
    """Mostly random bytes (realistic cuts); sometimes hypothesis's own bytes
    (runs, repeats, zeros: forced cuts and edge lengths)."""
    if draw(st.booleans()):
        return rand_bytes(draw(st.integers(0, 12_000)), draw(st.integers(0, 2**32)))
    return draw(st.binary(max_size=6_000))


# --- the definition ----------------------------------------------------------


def test_gear_table_is_the_papers():
    # MD5-derived table of destor / fastcdc-rs: pin a few entries.
    assert ref.GEAR[0] == 0x3B5D3C7D207E37DC
    assert ref.GEAR[255] == 0xAABD2B2A451504E1
    assert ref.GEAR_LS[0] == 0x76BA78FA40FC6FB8
    assert all(ls == (g << 1) % 2**64 for g, ls in zip(ref.GEAR, ref.GEAR_LS))


@pytest.mark.parametrize("value", [1, 2, 3, 5, 6, 11, 12, 19, 255, 256, 362, 363, 1000, 65535,
                                   65536, 92681, 92682, 4194304, 16777216])
def test_round_log2_matches_float_rounding(value):
    assert ref.round_log2(value) == math.floor(math.log2(value) + 0.5)


def test_round_log2_exhaustive_over_avg_range_edges():
    for bits in range(8, 23):
        edge = math.isqrt(2 ** (2 * bits + 1))  # just below 2^bits * sqrt(2)
        for v in (edge - 1, edge, edge + 1, edge + 2):
            assert ref.round_log2(v) == round(math.log2(v))


def test_masks_follow_avg_and_level():
    p = ChunkParams(16384, 65536, 262144, 1)
    assert p.mask_s == ref.MASKS[17] and p.mask_l == ref.MASKS[15]
    p0 = ChunkParams(16384, 65536, 262144, 0)
    assert p0.mask_s == p0.mask_l == ref.MASKS[16]
    assert bin(p.mask_s).count("1") == 17 and bin(p.mask_l).count("1") == 15


def test_two_byte_steps_equal_one_byte_gear():
    """FastCDC 2020's GEAR_LS trick checks every byte, like the 2016 loop."""

    def one_byte_cut(src, p: ChunkParams) -> int:
        n = len(src)
        if n <= p.min_size:
            return n
        normal, limit = p.avg_size, n
        if limit > p.max_size:
            limit = p.max_size
        elif limit < normal:
            normal = limit
        fp = 0
        for i in range(p.min_size & ~1, limit & ~1):
            fp = ((fp << 1) + ref.GEAR[src[i]]) % 2**64
            if not fp & (p.mask_s if i < normal & ~1 else p.mask_l):
                return i
        return limit

    for seed in range(20):
        data = rand_bytes(3000, seed)
        p = ChunkParams(64 + seed, 256 + 20 * seed, 1024 + 30 * seed, seed % 4)
        assert ref.cut(data, p) == one_byte_cut(data, p)


# --- parameters --------------------------------------------------------------


def test_defaults():
    assert DEFAULT_PARAMS == ChunkParams(16 * 1024, 64 * 1024, 256 * 1024, 1)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(min_size=63),
        dict(min_size=2 << 20, avg_size=3 << 20, max_size=4 << 20),
        dict(avg_size=255, min_size=64),
        dict(avg_size=5 << 20, max_size=8 << 20),
        dict(max_size=17 << 20),
        dict(min_size=1000, avg_size=900, max_size=2000),
        dict(min_size=100, avg_size=3000, max_size=2000),
        dict(level=4),
        dict(level=-1),
        dict(min_size=16384.0),
        dict(avg_size=True),
        dict(max_size="262144"),
    ],
)
def test_bad_params_raise_usage_error(kwargs):
    with pytest.raises(UsageError):
        ChunkParams(**kwargs)
    with pytest.raises(UsageError):
        cut_points(b"x", **kwargs)


def test_params_are_frozen_and_hashable():
    p = ChunkParams(64, 256, 1024)
    with pytest.raises(AttributeError):
        p.min_size = 128  # type: ignore[misc]
    assert {p: 1}[ChunkParams(64, 256, 1024)] == 1


def test_params_or_sizes_not_both():
    assert cut_points(b"a" * 5000, params=SMALL) == cut_points(b"a" * 5000, 64, 256, 1024)
    with pytest.raises(UsageError):
        cut_points(b"abc", 64, 256, 1024, params=SMALL)
    with pytest.raises(UsageError):
        cut_points(b"abc", params=(64, 256, 1024))  # type: ignore[arg-type]


def test_bounds_are_inclusive():
    lo = ChunkParams(64, 256, 1024, 3)  # MASKS[5]
    hi = ChunkParams(1 << 20, 4 << 20, 16 << 20, 3)  # MASKS[25]
    data = rand_bytes(20_000, 7)
    assert native(data, lo) == ref.cut_points(data, lo)
    assert native(b"", hi) == []


# --- C == reference ----------------------------------------------------------


@FAST
@given(data=buffers(), params=small_params())
@example(data=b"", params=SMALL)
def test_native_equals_reference(data, params):
    points = native(data, params)
    assert points == ref.cut_points(data, params)
    # Invariants the rest of layerscope relies on.
    if data:
        assert points[-1] == len(data)
    sizes = [b - a for a, b in zip([0] + points, points)]
    assert all(0 < s <= params.max_size for s in sizes)
    assert all(s >= params.min_size & ~1 for s in sizes[:-1])


@pytest.mark.parametrize("params", [SMALL, ChunkParams(65, 301, 1501, 2), DEFAULT_PARAMS],
                         ids=["small", "odd", "default"])
def test_edge_lengths(params):
    lo, hi = params.min_size, params.max_size
    for n in [0, 1, 2, lo - 1, lo, lo + 1, lo + 2, params.avg_size, hi - 1, hi, hi + 1, hi + 2,
              2 * hi, 2 * hi + 1]:
        data = rand_bytes(n, n)
        points = native(data, params)
        assert points == ref.cut_points(data, params), n
        if n == 0:
            assert points == []
        elif n <= lo:
            assert points == [n]  # shorter than min: one chunk, nothing hashed


@pytest.mark.parametrize("params", [SMALL, ChunkParams(100, 300, 1025, 1), DEFAULT_PARAMS],
                         ids=["small", "odd-max", "default"])
def test_all_zero_input_cuts_at_max(params):
    # A constant run's fingerprint settles to a fixed value; for these masks
    # (and the defaults) it never matches, so only max_size cuts.  (Some
    # narrow masks do match a zero run, e.g. avg 256 with level 0; C and
    # the reference agree on that too, see test_constant_input_any_params.)
    n = 3 * params.max_size + 123
    zeros = bytes(n)
    points = native(zeros, params)
    m = params.max_size
    assert points == [m, 2 * m, 3 * m, n]
    assert points == ref.cut_points(zeros, params)
    # exactly max and max + 1
    assert native(bytes(m), params) == [m]
    assert native(bytes(m + 1), params) == [m, m + 1]


@FAST
@given(params=small_params(), byte=st.sampled_from([0, 0xFF, 0x20]), extra=st.integers(0, 3000))
def test_constant_input_any_params(params, byte, extra):
    data = bytes([byte]) * (params.max_size + extra)
    assert native(data, params) == ref.cut_points(data, params)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_defaults_on_a_megabyte(seed):
    data = rand_bytes(1 << 20, seed)
    points = native(data, DEFAULT_PARAMS)
    assert points == ref.cut_points(data, DEFAULT_PARAMS)
    assert len(points) > 4  # really cut by the hash, not only by max_size


@pytest.mark.parametrize("level", [0, 2, 3])
def test_other_levels_on_half_a_megabyte(level):
    params = ChunkParams(4096, 16384, 65536, level)
    data = rand_bytes(1 << 19, level)
    assert native(data, params) == ref.cut_points(data, params)


def test_same_cut_points_as_pyfastcdc():
    """An independent implementation (Cython, fastcdc-rs v2020 port) agrees."""
    pyfastcdc = pytest.importorskip("pyfastcdc")
    data = rand_bytes(4 << 20, 11)
    for params in [DEFAULT_PARAMS, ChunkParams(64, 256, 1024, 0), ChunkParams(2000, 8191, 40000, 3)]:
        fc = pyfastcdc.FastCDC(params.avg_size, min_size=params.min_size,
                               max_size=params.max_size, normalized_chunking=params.level)
        theirs = [c.offset + c.length for c in fc.cut_buf(data)]
        assert native(data, params) == theirs


# --- buffers -----------------------------------------------------------------


def test_buffer_types_without_copy(tmp_path):
    data = rand_bytes(300_000, 5)
    expect = native(data, SMALL)
    assert native(bytearray(data), SMALL) == expect
    assert native(memoryview(data), SMALL) == expect
    # A view into the middle: offsets are relative to the view.
    padded = b"\xff" * 1000 + data + b"\xee" * 1000
    assert native(memoryview(padded)[1000:-1000], SMALL) == expect
    path = tmp_path / "blob"
    path.write_bytes(data)
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        assert native(mm, SMALL) == expect
    # Non-byte item formats are taken as their raw bytes.
    words = array.array("Q", data[: len(data) // 8 * 8])
    assert native(words, SMALL) == native(data[: len(data) // 8 * 8], SMALL)


def test_non_buffer_is_rejected():
    with pytest.raises(TypeError):
        cut_points("not bytes")  # type: ignore[arg-type]


def test_runs_outside_the_gil():
    # Not a timing test: two threads chunking at once must both be right.
    data = [rand_bytes(2 << 20, s) for s in (21, 22)]
    expect = [native(d, DEFAULT_PARAMS) for d in data]
    results: dict[int, list[int]] = {}
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, native(data[i], DEFAULT_PARAMS)))
               for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [results[0], results[1]] == expect


# --- several threads: speculative segments ----------------------------------


def segmented(data, params: ChunkParams, starts: list[int], final: bool = True) -> list[int]:
    """The parallel path with explicit segment starts, whatever the size."""
    src = N.from_buffer(data)
    return P.scan_segments(params, src, len(src), final, starts)


def sequential(data, params: ChunkParams, final: bool = True) -> list[int]:
    src = N.from_buffer(data)
    return N.scan_from(params, src, 0, len(src), final)


@st.composite
def hard_buffers(draw) -> bytes:
    """Inputs on which speculation may never meet the true cuts: constant
    runs (cut only at max_size, from offsets that differ), repeated patterns,
    random data around a long zero run, plus the ordinary ones."""
    kind = draw(st.sampled_from(["plain", "zeros", "const", "pattern", "zero-run"]))
    n = draw(st.integers(0, 12_000))
    if kind == "plain":
        return draw(buffers())
    if kind == "zeros":
        return bytes(n)
    if kind == "const":
        return bytes([draw(st.integers(0, 255))]) * n
    if kind == "pattern":
        pattern = draw(st.binary(min_size=1, max_size=400))
        return (pattern * (n // len(pattern) + 1))[:n]
    seed = draw(st.integers(0, 2**32))
    a, b = draw(st.integers(0, 4000)), draw(st.integers(0, 8000))
    return rand_bytes(a, seed) + bytes(b) + rand_bytes(n // 2, seed + 1)


@st.composite
def segment_starts(draw, size: int, cuts: list[int]) -> list[int]:
    """2..4 segment starts (the first 0): even splits, random offsets
    (duplicates make empty segments, 0 or size empty end ones), or offsets on
    and next to true cut points."""
    parts = draw(st.integers(2, 4))
    kind = draw(st.sampled_from(["even", "random", "on-cuts"]))
    if kind == "even":
        inner = [size * k // parts for k in range(1, parts)]
    elif kind == "random":
        inner = draw(st.lists(st.integers(0, size), min_size=parts - 1, max_size=parts - 1))
    else:
        near = sorted({min(max(c + d, 0), size) for c in [0, *cuts] for d in (-2, -1, 0, 1, 2)})
        inner = draw(st.lists(st.sampled_from(near), min_size=parts - 1, max_size=parts - 1))
    return [0, *sorted(inner)]


@FAST
@given(data=hard_buffers(), params=small_params(), choice=st.data())
@example(data=bytes(5000), params=SMALL, choice=None)
def test_segments_equal_sequential_and_reference(data, params, choice):
    expect = ref.cut_points(data, params)
    assert sequential(data, params) == expect
    if choice is None:  # the @example: zeros, starts off the max_size grid
        starts = [0, 1, 1500, 1500, 4999]
    else:
        starts = choice.draw(segment_starts(len(data), expect))
    assert segmented(data, params, starts) == expect
    # Streaming (non-final) mode: the same decided cuts as one C call.
    assert segmented(data, params, starts, final=False) == sequential(data, params, final=False)


@pytest.mark.parametrize("params", [SMALL, ChunkParams(100, 300, 1025, 1), DEFAULT_PARAMS],
                         ids=["small", "odd-max", "default"])
def test_segments_never_meeting_fall_back_to_sequential(params, monkeypatch):
    """All zeros: true cuts at multiples of max_size, speculative ones at
    segment start + multiples of it: they never meet, so each segment is
    redone sequentially -- and the result is still exact."""
    m = params.max_size
    data = bytes(10 * m + 123)
    starts = [0, 3 * m + 1, 3 * m + 1, 7 * m + 5]
    calls = []
    scan_from = N.scan_from
    monkeypatch.setattr(N, "scan_from", lambda *a: calls.append(a[2:4]) or scan_from(*a))
    points = segmented(data, params, starts)
    assert points == [m * j for j in range(1, 11)] + [len(data)]
    assert points == sequential(data, params)
    assert len(calls) > len(starts)  # the fallback scans ran
    # Starts on the max_size grid meet at once: no fallback.
    calls.clear()
    assert segmented(data, params, [0, 3 * m, 7 * m]) == points
    assert len(calls) == 3


def test_segments_random_default_params_meet_in_the_overlap(monkeypatch):
    data = rand_bytes(6 << 20, 31)
    expect = sequential(data, DEFAULT_PARAMS)
    calls = []
    scan_from = N.scan_from
    monkeypatch.setattr(N, "scan_from", lambda *a: calls.append(a[2:4]) or scan_from(*a))
    m = DEFAULT_PARAMS.max_size
    for parts in (2, 3, 4, 7):
        calls.clear()
        starts = [len(data) * k // parts for k in range(parts)]
        assert segmented(data, DEFAULT_PARAMS, starts) == expect
        # Each segment once plus its max_size overlap; the true and the
        # speculative cuts meet within ~max_size of a start, so little or
        # nothing is scanned sequentially after the parallel scans.
        scanned = sum(end - start for start, end in calls)
        assert scanned <= len(data) + parts * 3 * m, (parts, calls)
    # starts exactly on cut points, and one byte either side
    for d in (0, -1, 1):
        assert segmented(data, DEFAULT_PARAMS, [0, expect[40] + d, expect[41] + d]) == expect


@pytest.mark.parametrize("cpus", [2, 3, 4])
def test_cut_points_threads(cpus, monkeypatch):
    """The public path, forced on a small buffer with a small threshold."""
    monkeypatch.setattr(P, "PARALLEL_MIN_SIZE", 1 << 16)
    monkeypatch.setattr(P, "_MIN_SEGMENT", 1 << 14)
    monkeypatch.setattr(P, "usable_cpus", lambda: cpus)
    for seed in range(3):
        data = rand_bytes(200_000 + seed, seed)
        expect = sequential(data, SMALL)
        assert P.segment_count(SMALL, len(data), None) == cpus
        assert P.segment_count(SMALL, len(data), 1) == 1
        assert native(data, SMALL) == expect
        assert cut_points(data, params=SMALL, threads=cpus) == expect
        assert cut_points(data, params=SMALL, threads=1) == expect
        zeros = bytes(len(data))
        assert native(zeros, SMALL) == sequential(zeros, SMALL)
        # The Chunker's in-place path for big pieces.
        pieces = [data[:1000], data[1000:150_000], data[150_000:]]
        assert stream_chunks(pieces, SMALL) == split(data, expect)
        assert [bytes(c) for c in iter_chunks(io.BytesIO(data), SMALL, read_size=70_000)] == \
            split(data, expect)


def test_segment_count():
    big = P.PARALLEL_MIN_SIZE
    assert P.segment_count(DEFAULT_PARAMS, big - 1, None) == 1
    assert P.segment_count(DEFAULT_PARAMS, big, 1) == 1
    assert P.segment_count(DEFAULT_PARAMS, big, 64) <= min(P.usable_cpus(), 2)
    # Segments stay >= 16 max_size, so the overlap stays small.
    huge = ChunkParams(1 << 20, 4 << 20, 16 << 20)
    assert P.segment_count(huge, 64 << 20, 64) == 1


@pytest.mark.parametrize("threads", [0, -1, True, 1.5, "2"])
def test_bad_threads(threads):
    with pytest.raises(UsageError):
        cut_points(b"abc", threads=threads)
    with pytest.raises(UsageError):
        Chunker(threads=threads)


def test_parallel_default_threshold_on_24mib():
    data = rand_bytes(24 << 20, 77)
    expect = cut_points(data, threads=1)
    assert cut_points(data) == expect
    assert cut_points(memoryview(data)[7:], threads=4) == cut_points(data[7:], threads=1)
    chunker = Chunker()
    got = [len(c) for c in chunker.feed(data)] + [len(c) for c in chunker.finish()]
    assert got == [b - a for a, b in zip([0] + expect, expect)]


def test_busy_pool_segments_run_in_the_caller(monkeypatch):
    """A segment no worker picked up is scanned by the caller, not awaited."""
    pool = P._get_pool(2)  # what three segments ask for: the same pool
    release = threading.Event()
    blockers = [pool.submit(release.wait, 30) for _ in range(P._pool_workers)]
    threads = set()
    scan_from = N.scan_from
    monkeypatch.setattr(N, "scan_from",
                        lambda *a: threads.add(threading.get_ident()) or scan_from(*a))
    try:
        data = rand_bytes(300_000, 3)
        assert segmented(data, SMALL, [0, 100_000, 200_000]) == sequential(data, SMALL)
    finally:
        release.set()
    assert all(b.result() for b in blockers)
    assert P._pool is pool and threads == {threading.get_ident()}


def test_pool_refusing_work_segments_run_in_the_caller(monkeypatch):
    """At interpreter shutdown the pool takes no work: chunk inline."""
    from concurrent.futures import ThreadPoolExecutor

    dead = ThreadPoolExecutor(1)
    dead.shutdown()
    monkeypatch.setattr(P, "_get_pool", lambda workers: dead)
    data = rand_bytes(300_000, 5)
    assert segmented(data, SMALL, [0, 100_000, 200_000]) == sequential(data, SMALL)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_parallel_after_fork():
    data = rand_bytes(300_000, 4)
    expect = sequential(data, SMALL)
    segmented(data, SMALL, [0, 150_000])  # the parent's pool exists
    pid = os.fork()
    if pid == 0:  # child: its pool threads are gone; chunking must not hang
        import signal

        signal.alarm(20)
        ok = segmented(data, SMALL, [0, 100_000, 200_000]) == expect
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


# --- streaming ---------------------------------------------------------------


def stream_chunks(pieces, params: ChunkParams) -> list[bytes]:
    chunker = Chunker(params)
    out = []
    for piece in pieces:
        out.extend(bytes(c) for c in chunker.feed(piece))
    out.extend(bytes(c) for c in chunker.finish())
    return out


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    return [data[a:b] for a, b in zip([0] + cuts, cuts)]


@FAST
@given(data=buffers(), params=small_params(), splits=st.lists(st.integers(0, 12_000), max_size=12))
def test_chunker_random_splits_equal_one_shot(data, params, splits):
    bounds = sorted({min(s, len(data)) for s in splits})
    pieces = [data[a:b] for a, b in zip([0] + bounds, bounds + [len(data)])]
    assert b"".join(pieces) == data
    assert stream_chunks(pieces, params) == split(data, ref.cut_points(data, params))


@FAST
@given(data=buffers(), params=small_params(), piece=st.integers(1, 700))
def test_chunker_small_fixed_pieces(data, params, piece):
    # Pieces much shorter than max_size: the carry is joined many times.
    pieces = [data[i:i + piece] for i in range(0, len(data), piece)]
    assert stream_chunks(pieces, params) == split(data, native(data, params))


def test_chunker_byte_by_byte_odd_tails():
    params = ChunkParams(65, 257, 1025, 1)  # odd sizes exercise the odd-carry case
    data = rand_bytes(6000, 3)
    assert stream_chunks([data[i:i + 1] for i in range(len(data))], params) == split(
        data, ref.cut_points(data, params))


def test_chunker_defaults_big_random_pieces():
    data = rand_bytes(3 << 20, 9)
    rnd = random.Random(4)
    bounds = sorted(rnd.sample(range(1, len(data)), 40))
    pieces = [memoryview(data)[a:b] for a, b in zip([0] + bounds, bounds + [len(data)])]
    assert stream_chunks(pieces, DEFAULT_PARAMS) == split(data, native(data, DEFAULT_PARAMS))


def test_chunker_hands_out_views_of_fed_buffers():
    data = rand_bytes(1 << 20, 6)
    chunker = Chunker()
    chunks = chunker.feed(data)
    assert chunks and all(isinstance(c, memoryview) for c in chunks)
    assert all(c.obj is data for c in chunks)  # in place: no copy
    assert chunker.position == sum(map(len, chunks))
    assert chunker.position + chunker.pending == len(data)
    assert 0 < chunker.pending < DEFAULT_PARAMS.max_size
    last = chunker.finish()
    assert len(last) == 1 and len(last[0]) == len(data) - sum(map(len, chunks))
    assert chunker.position == 0 and chunker.pending == 0
    assert chunker.finish() == []


def test_iter_chunks_on_a_file_object():
    data = rand_bytes(2 << 20, 8)
    expect = split(data, native(data, DEFAULT_PARAMS))
    assert [bytes(c) for c in iter_chunks(io.BytesIO(data))] == expect
    assert [bytes(c) for c in iter_chunks(io.BytesIO(data), read_size=70_001)] == expect
    assert list(iter_chunks(io.BytesIO(b""))) == []
    with pytest.raises(UsageError):
        list(iter_chunks(io.BytesIO(data), read_size=0))


# --- digests -----------------------------------------------------------------


def test_chunk_digests():
    data = rand_bytes(500_000, 12)
    cuts = native(data, SMALL)
    chunks = split(data, cuts)
    assert chunk_digests(data, cuts) == [xxhash.xxh3_128_digest(c) for c in chunks]
    assert chunk_digests(memoryview(data), cuts, "sha256") == [hashlib.sha256(c).digest() for c in chunks]
    assert chunk_digest(chunks[0], "sha256") == hashlib.sha256(chunks[0]).digest()
    assert len(chunk_digest(chunks[0])) == 16
    assert chunk_digests(data, []) == []


@pytest.mark.parametrize("cuts", [[0], [10, 5], [10, 10], [len(b"x" * 100) + 1]])
def test_chunk_digests_reject_bad_cuts(cuts):
    with pytest.raises(UsageError):
        chunk_digests(b"x" * 100, cuts)


def test_unknown_digest():
    with pytest.raises(UsageError):
        chunk_digests(b"abc", [3], "md5")
    with pytest.raises(UsageError):
        chunk_digest(b"abc", "crc32")


# --- the point of content-defined chunking -----------------------------------


def test_shift_resilience_10mib():
    data = rand_bytes(10 << 20, 2024)
    shifted = data[:1000] + b"layerscope" + data[1000:]
    before = set(chunk_digests(data, cut_points(data)))
    after = set(chunk_digests(shifted, cut_points(shifted)))
    assert len(before) > 100
    kept = len(before & after) / len(before)
    assert kept >= 0.9, kept
    # and the change is local: only the first chunk or two differ
    assert len(before - after) <= 2


# --- the pure-Python stand-in for the C core (installs without a C compiler) --


def _lib_cuts(backend_ffi, backend_lib, data: bytes, params: ChunkParams, final: bool, slots: int) -> list[int]:
    native = backend_ffi.new("ls_fastcdc_params *")
    assert backend_lib.ls_fastcdc_init(native, params.min_size, params.avg_size, params.max_size, params.level) == 0
    cuts = backend_ffi.new_allocator(should_clear_after_alloc=False)("uint64_t[]", slots)
    src = backend_ffi.from_buffer("uint8_t[]", data)
    skip = min(len(data), 7)  # through pointer arithmetic, as chunk/native.py calls it
    count = backend_lib.ls_fastcdc_cuts(native, src + skip, len(data) - skip, final, cuts, slots)
    return backend_ffi.unpack(cuts, count)


@FAST
@given(data=buffers(), params=small_params(), final=st.booleans(), slots=st.integers(1, 64))
def test_pure_python_lib_equals_the_c_lib(data, params, final, slots):
    """ls_fastcdc_cuts: same cut points as C, decided or final, however few slots."""
    from layerscope import _native
    from layerscope.chunk import pynative

    assert _lib_cuts(pynative.ffi, pynative.lib, data, params, final, slots) == \
        _lib_cuts(_native.ffi, _native.lib, data, params, final, slots)


def test_pure_python_lib_rejects_what_c_rejects():
    from layerscope import _native
    from layerscope.chunk import pynative

    for args in [(64, 256, 1024, 4), (63, 256, 1024, 1), (300, 256, 1024, 1), (64, 256, 1 << 25, 1)]:
        assert pynative.lib.ls_fastcdc_init(pynative.ffi.new("ls_fastcdc_params *"), *args) == \
            _native.lib.ls_fastcdc_init(_native.ffi.new("ls_fastcdc_params *"), *args) == -1, args


def test_whole_api_on_the_pure_python_backend(monkeypatch):
    """chunk/ over the stand-in (as when _native is absent): the same chunks and digests."""
    from layerscope.chunk import pynative

    data = rand_bytes(300_000, 5)
    params = ChunkParams(256, 1024, 4096, 2)
    want_cuts = cut_points(data, params=params)
    want_stream = [bytes(c) for c in iter_chunks(io.BytesIO(data), params, read_size=10_000)]
    monkeypatch.setattr(N, "ffi", pynative.ffi)
    monkeypatch.setattr(N, "lib", pynative.lib)
    monkeypatch.setattr(N, "_new_uninitialised", pynative.ffi.new_allocator(should_clear_after_alloc=False))
    N._native_params.cache_clear()
    try:
        assert cut_points(data, params=params) == want_cuts
        assert [bytes(c) for c in iter_chunks(io.BytesIO(data), params, read_size=10_000)] == want_stream
        src = N.from_buffer(data)
        assert isinstance(src, pynative._Pointer)
        # the threaded path, with segment stitching
        assert P.scan(params, data, True, threads=4) == want_cuts
        assert chunk_digests(data, want_cuts, "sha256") == [hashlib.sha256(c).digest() for c in want_stream]
    finally:
        N._native_params.cache_clear()  # cached params belong to the backend they were made by


def test_a_failed_scan_lets_go_of_the_buffer(monkeypatch):
    """The C view of the caller's buffer ends with the scan, even when it fails and the
    traceback (which holds the scan's frame) is kept: else the buffer stays exported
    (a bytearray cannot grow; a collection that meets the cycle can fail or crash)."""
    data = bytearray(random.Random(3).randbytes(10_000))

    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(N, "scan_from", boom)
    try:
        P.scan(SMALL, data, True, threads=1)
    except RuntimeError as e:
        kept = e  # its traceback keeps P.scan's frame, and with it the C view
    data.extend(b"x")  # BufferError while a view is exported
    assert kept.__traceback__ is not None and len(data) == 10_001
