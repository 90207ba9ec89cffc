"""The chunk level of ``savings``: the k-way merge of the per-layer chunk tables, C against Python.

Run:  pytest benchmarks/bench_merge.py --benchmark-only
      LAYERSCOPE_BENCH_MERGE_CHUNKS=1000000 pytest benchmarks/bench_merge.py --benchmark-only
      (the measurement in analysis/savings.py's docstring: 10 million chunks)

The tables are those of ``LAYERS`` layers of ``CHUNKS`` random 16-byte digests each
(default 20,000: a few seconds), in pairs that share half their chunks, as
:func:`layerscope.analysis.savings.chunk_combos` gets them: sorted digests in one
``bytes``, sizes and compressed sizes in ``array('I')``.  Both sides produce the same
combinations (checked first); the best-of time per chunk of each, and their ratio, are
printed at module end.
"""
from __future__ import annotations

import os
import random
from array import array

import pytest

from layerscope import ccore
from layerscope.analysis.layer_digests import DIGEST_SIZE, LayerDigests
from layerscope.analysis.savings import _c_combos, _py_combos

LAYERS = 10
CHUNKS = int(os.environ.get("LAYERSCOPE_BENCH_MERGE_CHUNKS", "20000"))
ROUNDS = 5


def _table(digests: list[bytes]) -> LayerDigests:
    # the same chunk has the same sizes in every layer: they follow from its digest
    digests.sort()
    sizes = array("I", ((16 << 10) + int.from_bytes(d[:3], "big") % (240 << 10) for d in digests))
    return LayerDigests(None, None, 0, {}, b"".join(digests), sizes,
                        chunk_compressed=array("I", (s // 2 for s in sizes)))


def make_tables(layers: int = LAYERS, chunks: int = CHUNKS, seed: int = 10) -> list[LayerDigests]:
    """``layers`` tables of ``chunks`` random digests; tables 2k and 2k+1 share half of theirs."""
    rnd = random.Random(seed)
    half = chunks // 2

    def fresh(n: int) -> list[bytes]:
        buf = rnd.randbytes(n * DIGEST_SIZE)
        return [buf[i:i + DIGEST_SIZE] for i in range(0, len(buf), DIGEST_SIZE)]

    tables = []
    for li in range(layers):
        if li % 2 == 0:
            shared = fresh(half)
        tables.append(_table(shared + fresh(chunks - half)))
    return tables


@pytest.fixture(scope="module")
def tables() -> list[LayerDigests]:
    return make_tables()


@pytest.fixture(scope="module")
def c_merge():
    merge = ccore.function("ls_chunk_merge")
    if merge is None:
        pytest.skip("layerscope._native has no ls_chunk_merge (installed without a C compiler)")
    return merge


@pytest.fixture(scope="module")
def best_ns(request, tables):
    """Best-of ns per chunk per side; printed, with the ratio, at module end."""
    results: dict[str, float] = {}
    yield results
    plugins = request.config.pluginmanager
    reporter = plugins.get_plugin("terminalreporter")
    capture = plugins.get_plugin("capturemanager")
    if reporter is None or capture is None or len(results) < 2:
        return
    n = sum(t.chunk_count() for t in tables)
    line = f"merge {LAYERS} x {CHUNKS} chunks, best of {ROUNDS}: " + ", ".join(
        f"{name} {ns:.1f} ns/chunk ({ns * 1e7 / 1e9:.2f} s per 10M)" for name, ns in results.items())
    with capture.global_and_fixture_disabled():
        reporter.write("\n")
        reporter.write_line(line)
        reporter.write_line(f"  C is {results['python'] / results['C']:.0f}x the Python walk ({n} chunks)")


def _run(benchmark, fn, tables, results: dict[str, float], name: str):
    n = sum(t.chunk_count() for t in tables)
    benchmark.extra_info["chunks"] = n
    combos = benchmark.pedantic(fn, args=(tables,), rounds=ROUNDS, iterations=1, warmup_rounds=1)
    stats = getattr(benchmark, "stats", None)
    if stats is not None:  # None under --benchmark-disable
        ns = stats.stats.min / n * 1e9
        benchmark.extra_info["best_ns_per_chunk"] = round(ns, 1)
        results[name] = ns
    return combos


def _unique() -> int:
    return LAYERS // 2 * (CHUNKS + CHUNKS - CHUNKS // 2)  # a pair: its shared half once, two fresh halves


def test_same_combos(tables, c_merge):
    got = sorted(_c_combos(c_merge, tables))
    assert got == sorted(_py_combos(tables))
    assert sum(c[3] for c in got) == _unique()


@pytest.mark.benchmark(group="merge-chunk-tables")
def test_merge_c(benchmark, tables, c_merge, best_ns):
    combos = _run(benchmark, lambda t: _c_combos(c_merge, t), tables, best_ns, "C")
    assert sum(c[3] for c in combos) == _unique()


@pytest.mark.benchmark(group="merge-chunk-tables")
def test_merge_python(benchmark, tables, best_ns):
    combos = _run(benchmark, _py_combos, tables, best_ns, "python")
    assert sum(c[3] for c in combos) == _unique()
