"""The per-layer half of ``savings`` (analysis/layer_digests.py, layer/feed.py):
one pass over a layer gives each regular file's digest and the chunks of its
content, exactly as chunking every file on its own would, with either tar
reader and with pieces of any size around the C reader's slice."""

from __future__ import annotations

import random

import pytest
from xxhash import xxh3_128_digest

from layerscope.analysis.layer_digests import DIGEST_SIZE, chunk_params, layer_digests
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
