"""Chunking throughput: layerscope's C FastCDC against pyfastcdc.

Run:  pytest benchmarks/bench_chunk.py --benchmark-only
      (add --benchmark-columns=min,median,ops to compare; a plain side-by-side
      with MB/s and the ratio is benchmarks/compare_pyfastcdc.py)

Both sides do the same work: FastCDC 2020 (pyfastcdc is a port of
fastcdc-rs v2020, the same algorithm and tables) over one 64 MiB in-memory
random buffer with the same min/avg/max and normalization level, producing
the list of chunk end offsets and nothing else (no digests).  The first test
checks that the cut points are identical.  Extra rows show the streaming
Chunker and per-chunk digests for context.
"""
from __future__ import annotations

import random

import pytest

from layerscope.chunk import DEFAULT_PARAMS, Chunker, chunk_digests, cut_points

SIZE = 64 << 20
P = DEFAULT_PARAMS  # min 16 KiB, avg 64 KiB, max 256 KiB, level 1
ROUNDS = 10


@pytest.fixture(scope="module")
def buf() -> bytes:
    return random.Random(64).randbytes(SIZE)


@pytest.fixture(scope="module")
def pyfastcdc_chunker():
    pyfastcdc = pytest.importorskip("pyfastcdc")
    return pyfastcdc.FastCDC(P.avg_size, min_size=P.min_size, max_size=P.max_size,
                             normalized_chunking=P.level)


def _pyfastcdc_cut_points(fc, buf) -> list[int]:
    return [c.offset + c.length for c in fc.cut_buf(buf)]


def _run(benchmark, fn, *args):
    benchmark.extra_info["bytes"] = SIZE
    return benchmark.pedantic(fn, args=args, rounds=ROUNDS, iterations=1, warmup_rounds=1)


def test_same_cut_points(buf, pyfastcdc_chunker):
    assert cut_points(buf, params=P) == _pyfastcdc_cut_points(pyfastcdc_chunker, buf)


@pytest.mark.benchmark(group="chunk-64MiB-cut-points")
def test_layerscope_cut_points(benchmark, buf):
    points = _run(benchmark, lambda b: cut_points(b, params=P), buf)
    assert points[-1] == SIZE


@pytest.mark.benchmark(group="chunk-64MiB-cut-points")
def test_pyfastcdc_cut_points(benchmark, buf, pyfastcdc_chunker):
    points = _run(benchmark, _pyfastcdc_cut_points, pyfastcdc_chunker, buf)
    assert points[-1] == SIZE


@pytest.mark.benchmark(group="chunk-64MiB-stream")
def test_layerscope_chunker_4mib_pieces(benchmark, buf):
    view = memoryview(buf)

    def stream() -> int:
        chunker = Chunker(P)
        count = 0
        for i in range(0, SIZE, 4 << 20):
            count += len(chunker.feed(view[i:i + (4 << 20)]))
        return count + len(chunker.finish())

    assert _run(benchmark, stream) == len(cut_points(buf, params=P))


@pytest.mark.benchmark(group="chunk-64MiB-digests")
@pytest.mark.parametrize("algo", ["xxh3_128", "sha256"])
def test_layerscope_cut_and_digest(benchmark, buf, algo):
    digests = _run(benchmark, lambda b: chunk_digests(b, cut_points(b, params=P), algo), buf)
    assert len(set(digests)) == len(digests)
