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
    assert dict(got.iter_chunks()) == chunks
    assert got.chunks == b"".join(sorted(chunks))  # sorted, unique, fixed width
    assert len(got.chunks) == DIGEST_SIZE * got.chunk_count()
    assert got.lost == 0
    assert got.size == len(data)
