"""The per-layer half of ``savings`` (analysis/layer_digests.py, layer/feed.py):
one pass over a layer gives each regular file's digest and the chunks of its
content, exactly as chunking every file on its own would, with either tar
reader and with pieces of any size around the C reader's slice."""

from __future__ import annotations

import random

import pytest
from xxhash import xxh3_128_digest

from layerscope.analysis.layer_digests import DIGEST_SIZE, chunk_params, layer_digests, layer_files
from layerscope.chunk import chunk_digests, cut_points
from layerscope.layer import tarscan

from test_capture import Finishing, build
from test_tarscan import FORMATS, PieceStream, Stream

PARAMS = chunk_params(4096)


def corpus(seed: int) -> list[tuple[str, bytes]]:
    rnd = random.Random(seed)
    s = tarscan.SLICE
    sizes = [0, 1, 511, 900, 1024, 4000, 20_000, s - 700, s - 1, s, s + 1, 2 * s + 300, 3 * s + 5]
    members = [(f"d/f{i}", rnd.randbytes(n)) for i, n in enumerate(sizes)]
    members.append(("d/dup", members[6][1]))  # the same content twice: one file, its chunks once
    rnd.shuffle(members)
    return members


def expected(members: list[tuple[str, bytes]]) -> tuple[dict[bytes, int], dict[bytes, int]]:
    files, chunks = {}, {}
    for _, data in members:
        if not data:
            continue
        files[xxh3_128_digest(data)] = len(data)
        cuts = cut_points(data, params=PARAMS)
        start = 0
        for d, end in zip(chunk_digests(data, cuts), cuts):
            chunks[d] = end - start
            start = end
    return files, chunks


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("stream", ["exact", "pieces"])
def test_chunks_are_those_of_each_file(tar_backend, fmt, seed, stream):
    members = corpus(seed)
    data = build(members, FORMATS[fmt])
    inner = Stream(data, as_memoryview=True) if stream == "exact" else PieceStream(data, seed)
    got = layer_digests(Finishing(inner), PARAMS)
    files, chunks = expected(members)
    assert got.files == files
    assert {d: size for d, size, _ in got.iter_chunks()} == chunks
    assert got.chunks == b"".join(sorted(chunks))  # sorted, unique, fixed width
    assert len(got.chunks) == DIGEST_SIZE * got.chunk_count()
    assert got.lost == 0
    assert got.size == len(data)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("stream", ["exact", "pieces"])
def test_the_files_only_pass_gives_the_same_files_and_members(tar_backend, fmt, stream):
    """``workload`` reads layers with layer_files: the files, members and sizes of layer_digests,
    without chunking or compressing anything."""
    members = corpus(3)
    data = build(members, FORMATS[fmt])
    make = (lambda: Stream(data, as_memoryview=True)) if stream == "exact" else (lambda: PieceStream(data, 3))
    full, lite = layer_digests(Finishing(make()), PARAMS), layer_files(Finishing(make()))
    assert (lite.files, lite.members, lite.size) == (full.files, full.members, full.size)
    assert lite.files == expected(members)[0]
    assert lite.chunks == b"" and lite.chunk_count() == 0 and lite.compressed == 0


def _table(members: list[tuple]) -> "LayerDigests":
    from array import array

    from layerscope.analysis.layer_digests import LayerDigests

    files = {m[2]: m[3] for m in members if m[1] == "file"}
    return LayerDigests(None, None, 0, files, b"", array("I"), members=members)


def _m(path: str, data: bytes, mtime: float = 1.0, mode: int = 0o644) -> tuple:
    return (path, "file", xxh3_128_digest(data), len(data), mode, 0, 0, None, mtime)


def test_near_miss_causes():
    from layerscope.analysis import near_miss as N

    base = [_m("a", b"x" * 100), _m("b", b"y" * 200), _m("c", b"z" * 300)]
    cases = {
        "mtimes": ([_m(p, d, 2.0) for p, d in (("a", b"x" * 100), ("b", b"y" * 200), ("c", b"z" * 300))],
                   N.SAME_BUT_MTIMES, 0),
        "order": ([base[2], base[0], base[1]], N.SAME_BUT_ORDER, 0),
        "metadata": ([base[0], base[1], _m("c", b"z" * 300, mode=0o600)], N.SAME_BUT_METADATA, 1),
        "changed": ([base[1], base[2], _m("d", b"w")], N.FILES_CHANGED, 2),
    }
    for name, (other, cause, changed) in cases.items():
        got = N.near_misses({"l1": _table(base), "l2": _table(other)}, min_bytes=0)
        assert [(m.a, m.b, m.cause, m.changed) for m in got] == [("l1", "l2", cause, changed)], name
    # too little in common: no near miss
    assert N.near_misses({"l1": _table(base), "l2": _table([base[0], _m("q", b"q" * 1000)])}, min_bytes=0) == []
    assert N.near_misses({"l1": _table(base), "l2": _table(base[::-1])}) == []  # 600 bytes: too small to tell


def test_a_file_no_longer_at_hand_is_one_whole_chunk(monkeypatch):
    """The reference reader reports a member after reading it: one bigger than the pieces kept
    (layer/feed.py RETAIN) is counted as one chunk, its file digest, never chunked from a hole."""
    from layerscope.layer import feed

    monkeypatch.setattr(tarscan, "BACKEND", tarscan.PYTHON)
    monkeypatch.setattr(feed, "RETAIN", 100_000)
    small, big = random.Random(1).randbytes(30_000), random.Random(2).randbytes(400_000)
    got = layer_digests(Finishing(Stream(build([("s", small), ("b", big)], FORMATS["pax"]))), PARAMS)
    files, chunks = expected([("s", small)])
    chunks[xxh3_128_digest(big)] = len(big)
    assert got.lost == 1
    assert got.files == {**files, xxh3_128_digest(big): len(big)}
    assert {d: size for d, size, _ in got.iter_chunks()} == chunks


def _compressible(rnd: random.Random, n: int) -> bytes:
    """Text-like bytes (zstd shrinks them), so estimated and measured sizes differ."""
    words = [rnd.randbytes(rnd.randint(2, 9)).hex().encode() for _ in range(64)]
    out = bytearray()
    while len(out) < n:
        out += rnd.choice(words) + b" "
    return bytes(out[:n])


def _mixed(seed: int) -> list[tuple[str, bytes]]:
    rnd = random.Random(seed)
    s = tarscan.SLICE
    sizes = [1, 700, 1023, 1024, 1025, 4096, 16_000, 70_000, s - 300, s + 5000, 2 * s + 1, 3 * s]
    members = [(f"m/{i}", _compressible(rnd, n) if i % 2 else rnd.randbytes(n)) for i, n in enumerate(sizes)]
    members += [("m/dup", members[7][1]), ("m/empty", b"")]
    rnd.shuffle(members)
    return members


def _fields(t) -> tuple:
    return (t.files, t.chunks, t.chunk_sizes.tolist(), t.chunk_compressed.tolist(), t.file_compressed, t.compressed,
            t.lost, t.size)


@pytest.mark.parametrize("sample", [1 / 8, 1.0])
@pytest.mark.parametrize("seed", range(3))
def test_chunks_cut_in_c_equal_chunks_cut_in_python(monkeypatch, seed, sample):
    """The C scanner's chunk sink (src_c/chunksink.c) gives the table the Python sink gives, to the
    byte: chunks, sizes, sampled and estimated compressed sizes, file figures."""
    from layerscope.analysis import layer_digests as ld

    if not tarscan.BACKEND.native:
        pytest.skip("no C tar scanner in this install")
    data = build(_mixed(seed), FORMATS["pax"])
    seen = []
    real = ld._native_chunks
    monkeypatch.setattr(ld, "_native_chunks", lambda *a: seen.append(1) or real(*a))
    in_c = layer_digests(Finishing(PieceStream(data, seed)), PARAMS, sample=sample)
    assert seen  # the C sink did the work
    monkeypatch.setattr(ld, "_native_chunks", lambda *a: None)
    in_python = layer_digests(Finishing(PieceStream(data, seed)), PARAMS, sample=sample)
    assert _fields(in_c) == _fields(in_python)
    assert in_c.chunk_compressed != in_c.chunk_sizes  # compressible content: the figures were measured


def test_c_chunks_then_python_after_a_hand_over(monkeypatch):
    """A member C does not take (a base-256 uid) hands the rest of the layer to the reference
    reader: the chunks before are C's, those after Python's, and together every file's."""
    import io
    import tarfile

    if not tarscan.BACKEND.native:
        pytest.skip("no C tar scanner in this install")
    members = _mixed(7)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for i, (name, data) in enumerate(members):
            t = tarfile.TarInfo(name)
            t.size = len(data)
            if i == len(members) // 2:
                t.uid = 10**9  # base-256 in a GNU header: C stops before it
            tf.addfile(t, io.BytesIO(data))
    handed = []
    from layerscope.layer import feed

    real = feed.ContentFeed.take_over
    monkeypatch.setattr(feed.ContentFeed, "take_over", lambda self, off: handed.append(off) or real(self, off))
    got = layer_digests(Finishing(Stream(buf.getvalue(), as_memoryview=True)), PARAMS, sample=1.0)
    assert handed  # C did hand over
    files, chunks = expected(members)
    assert got.files == files
    assert {d: size for d, size, _ in got.iter_chunks()} == chunks
    assert got.lost == 0


def _measure(data: bytes, sample: float, seed: int | None) -> int:
    import zstandard

    from layerscope.analysis.layer_digests import ZSTD_LEVEL, _Compressed

    inner = Stream(data, as_memoryview=True) if seed is None else PieceStream(data, seed)
    tap = _Compressed(inner, zstandard.ZstdCompressor(level=ZSTD_LEVEL), sample)
    read = getattr(tap, "read1", None) or tap.read
    while read(1 << 20):
        pass
    return tap.finish()


def test_stream_figure_is_exact_when_whole_and_does_not_depend_on_pieces():
    """The layer's zstd figure: every byte through one stream compressor at ``sample`` 1 (and for a
    layer within the head at any sample); sampled, the same figure however the reader reads."""
    import zstandard

    from layerscope.analysis import layer_digests as ld

    rnd = random.Random(5)
    def exact(data: bytes) -> bytes:  # zstd -3 of a stream (its size not known up front)
        c = zstandard.ZstdCompressor(level=ld.ZSTD_LEVEL).compressobj()
        return b"".join([*(c.compress(data[k:k + (1 << 20)]) for k in range(0, len(data), 1 << 20)), c.flush()])

    small = _compressible(rnd, ld._HEAD - 1000)
    assert _measure(small, 1 / 32, None) == len(exact(small))
    assert _measure(small, 1 / 32, 3) == _measure(small, 1.0, None)  # the head: all of it, measured
    # 40 MiB: text and random bytes mixed at 64 KiB, so every block is a fair sample
    big = b"".join(_compressible(rnd, 1 << 16) if rnd.random() < 0.7 else rnd.randbytes(1 << 16) for _ in range(640))
    whole = _measure(big, 1.0, None)
    assert whole == len(exact(big))
    sampled = {_measure(big, 1 / 8, seed) for seed in (None, 1, 2)}
    assert len(sampled) == 1
    (figure,) = sampled
    assert figure != whole  # estimated, not measured whole
    assert abs(figure - whole) <= 0.2 * whole  # nine blocks of a 40 MiB layer
