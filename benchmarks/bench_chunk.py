"""Chunking throughput: layerscope's C FastCDC against pyfastcdc.

Run:  pytest benchmarks/bench_chunk.py --benchmark-only
      (add --benchmark-columns=min,median,ops to compare; a plain side-by-side
      with MB/s and the ratio is benchmarks/compare_pyfastcdc.py)

Both sides do the same work: FastCDC 2020 (pyfastcdc is a port of
fastcdc-rs v2020, the same algorithm and tables) over one 64 MiB in-memory
random buffer with the same min/avg/max and normalization level, producing
the list of chunk end offsets and nothing else (no digests).  The first test
checks that the cut points are identical.  layerscope is timed
single-threaded (``threads=1``) and parallel (the default: a buffer of 8 MiB
or more is split across the usable CPUs, same cut points); pyfastcdc is
single-threaded.  After the cut-point group, the best-of MB/s of the three
and their ratios are printed.  Extra rows show the streaming Chunker and
per-chunk digests for context.
"""
from __future__ import annotations

import random

import pytest

from layerscope.chunk import DEFAULT_PARAMS, Chunker, chunk_digests, cut_points

SIZE = 64 << 20
P = DEFAULT_PARAMS  # min 16 KiB, avg 64 KiB, max 256 KiB, level 1
ROUNDS = 15


@pytest.fixture(scope="module")
def buf() -> bytes:
    return random.Random(64).randbytes(SIZE)


@pytest.fixture(scope="module")
def pyfastcdc_chunker():
    pyfastcdc = pytest.importorskip("pyfastcdc")
    return pyfastcdc.FastCDC(P.avg_size, min_size=P.min_size, max_size=P.max_size,
                             normalized_chunking=P.level)


@pytest.fixture(scope="module")
def best_mbps(request):
    """Best-of MB/s per cut-point row; the ratios are printed at module end."""
    results: dict[str, float] = {}
    yield results
    plugins = request.config.pluginmanager
    reporter = plugins.get_plugin("terminalreporter")
    capture = plugins.get_plugin("capturemanager")
    if reporter is None or capture is None or "pyfastcdc" not in results:
        return
    base = results["pyfastcdc"]
    lines = [f"chunk 64 MiB, best of {ROUNDS}: " + ", ".join(
        f"{name} {mbps:.0f} MB/s" for name, mbps in results.items())]
    lines += [f"  layerscope {name} / pyfastcdc: {results[name] / base:.2f}x"
              for name in ("1-thread", "parallel") if name in results]
    with capture.global_and_fixture_disabled():  # teardown output is captured otherwise
        reporter.write("\n")
        for line in lines:
            reporter.write_line(line)


def _pyfastcdc_cut_points(fc, buf) -> list[int]:
    return [c.offset + c.length for c in fc.cut_buf(buf)]


def _run(benchmark, fn, *args, record: dict[str, float] | None = None, name: str = ""):
    benchmark.extra_info["bytes"] = SIZE
    result = benchmark.pedantic(fn, args=args, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    stats = getattr(benchmark, "stats", None)
    if stats is not None and record is not None:  # None under --benchmark-disable
        mbps = SIZE / stats.stats.min / 1e6
        benchmark.extra_info["best_MB_per_s"] = round(mbps)
        record[name] = mbps
    return result


def test_same_cut_points(buf, pyfastcdc_chunker):
    theirs = _pyfastcdc_cut_points(pyfastcdc_chunker, buf)
    assert cut_points(buf, params=P, threads=1) == theirs
    assert cut_points(buf, params=P) == theirs


@pytest.mark.benchmark(group="chunk-64MiB-cut-points")
def test_layerscope_cut_points_1_thread(benchmark, buf, best_mbps):
    points = _run(benchmark, lambda b: cut_points(b, params=P, threads=1), buf,
                  record=best_mbps, name="1-thread")
    assert points[-1] == SIZE


@pytest.mark.benchmark(group="chunk-64MiB-cut-points")
def test_layerscope_cut_points_parallel(benchmark, buf, best_mbps):
    points = _run(benchmark, lambda b: cut_points(b, params=P), buf,
                  record=best_mbps, name="parallel")
    assert points[-1] == SIZE


@pytest.mark.benchmark(group="chunk-64MiB-cut-points")
def test_pyfastcdc_cut_points(benchmark, buf, pyfastcdc_chunker, best_mbps):
    points = _run(benchmark, _pyfastcdc_cut_points, pyfastcdc_chunker, buf,
                  record=best_mbps, name="pyfastcdc")
    assert points[-1] == SIZE


@pytest.mark.benchmark(group="chunk-64MiB-stream")
@pytest.mark.parametrize("piece_mib", [4, 16])
def test_layerscope_chunker_pieces(benchmark, buf, piece_mib):
    # 4 MiB pieces (iter_chunks' default read size) are below the parallel
    # threshold; 16 MiB pieces are split across the CPUs.
    view = memoryview(buf)
    piece = piece_mib << 20

    def stream() -> int:
        chunker = Chunker(P)
        count = 0
        for i in range(0, SIZE, piece):
            count += len(chunker.feed(view[i:i + piece]))
        return count + len(chunker.finish())

    assert _run(benchmark, stream) == len(cut_points(buf, params=P))


@pytest.mark.benchmark(group="chunk-64MiB-digests")
@pytest.mark.parametrize("algo", ["xxh3_128", "sha256"])
def test_layerscope_cut_and_digest(benchmark, buf, algo):
    digests = _run(benchmark, lambda b: chunk_digests(b, cut_points(b, params=P), algo), buf)
    assert len(set(digests)) == len(digests)
