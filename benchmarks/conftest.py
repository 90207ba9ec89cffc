"""Fixtures for the pytest-benchmark suites in benchmarks/.

Run:  pytest benchmarks/ [--benchmark-only] [--benchmark-json=out.json]

``bench_*.py`` files are collected here (the project's pytest config only
collects ``tests/``).  The benchmark image is generated once per session by
benchmarks/make_image.py (50 MB, 7 layers, seed 1: a few seconds) into a
temporary directory, or into $LAYERSCOPE_BENCH_SMALL_DIR when set, where it is
reused across sessions while its parameters match.
"""
from __future__ import annotations

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import make_image

SMALL = {"size_mb": 50, "layers": 7, "seed": 1}


def pytest_collect_file(file_path, parent):
    if (file_path.suffix == ".py" and file_path.name.startswith("bench_")
            and not parent.session.isinitpath(file_path)):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


@pytest.fixture(scope="session")
def bench_image_dir(tmp_path_factory) -> str:
    """Directory holding bench-docker.tar, bench-oci-gzip.tar and bench-info.json (50 MB image)."""
    d = os.environ.get("LAYERSCOPE_BENCH_SMALL_DIR") or str(tmp_path_factory.mktemp("bench-image"))
    if not make_image.is_current(d, **SMALL):
        make_image.generate(d, quiet=True, **SMALL)
    return d


@pytest.fixture(scope="session")
def bench_image_info(bench_image_dir) -> dict:
    import json

    with open(os.path.join(bench_image_dir, "bench-info.json")) as f:
        return json.load(f)


@pytest.fixture(scope="session")
def bench_images(bench_image_dir) -> dict:
    """{"docker-archive": path, "oci-gzip": path}"""
    return {"docker-archive": os.path.join(bench_image_dir, "bench-docker.tar"),
            "oci-gzip": os.path.join(bench_image_dir, "bench-oci-gzip.tar")}
