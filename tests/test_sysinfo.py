"""The CPU count both thread pools (layer scans, parallel chunking) size themselves by."""

from __future__ import annotations

import os

from layerscope.analysis.layers import default_jobs
from layerscope.sysinfo import usable_cpus


def test_usable_cpus_is_the_affinity_mask():
    n = usable_cpus()
    assert 1 <= n <= (os.cpu_count() or 1)
    if hasattr(os, "sched_getaffinity"):
        assert n == len(os.sched_getaffinity(0))
    assert default_jobs() == n


def test_usable_cpus_without_affinity(monkeypatch):
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert usable_cpus() == 1
    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    assert usable_cpus() == 3
