"""pytest-benchmark: fleet/merge.py on 300 synthetic layers (~0.7M chunk rows), embedded (no cluster).
The cluster runs are benchmarks/fleet_scale.py's (docs/scale.md)."""
from __future__ import annotations

import pytest

import fleet_scale
from layerscope.fleet import merge


@pytest.fixture(scope="module")
def units(tmp_path_factory) -> str:
    d = str(tmp_path_factory.mktemp("fleet") / "chunks")
    fleet_scale.generate(d, 300, 2000)
    return d


def test_fleet_merge_embedded(benchmark, units):
    combos = benchmark(merge.combos, units)
    assert combos and sum(c[3] for c in combos) > 100_000
