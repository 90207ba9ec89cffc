"""Heap trimming while compressed layers stream (layerscope/heap.py, src_c/heap.c)."""

from __future__ import annotations

import gzip
import hashlib
import mmap
import platform
import random
import threading

import pytest

from layerscope import heap
from layerscope.source import compression as comp
from layerscope.source.compression import LayerStream
from layerscope.source.container import Region


def test_trimmer_trims_once_every_trim_every_bytes(monkeypatch):
    calls = []
    monkeypatch.setattr(heap, "TRIM_EVERY", 1000)
    t = heap.Trimmer()
    t._trim = lambda: calls.append(1)
    for _ in range(10):
        t.add(300)  # 3,000 bytes: trims after the 4th, 7th and 10th chunk
    assert len(calls) == 3


def test_inflating_thread_trims_the_heap_as_it_goes(tmp_path, monkeypatch):
    """The inflate-ahead thread reports what it streamed, so a multi-GB layer keeps RSS flat."""
    raw = random.Random(3).randbytes(1 << 20) * 6
    blob = gzip.compress(raw, compresslevel=1)
    p = tmp_path / "blob"
    p.write_bytes(blob)
    monkeypatch.setattr(comp, "BACKGROUND_MIN", 0)
    monkeypatch.setattr(heap, "TRIM_EVERY", 2 << 20)
    trims = []
    monkeypatch.setattr(heap, "_native_trim", lambda: lambda: trims.append(threading.current_thread().name))
    with open(p, "rb") as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    s = LayerStream(Region(mm, 0, len(blob)), where="w", blob_digest="sha256:" + hashlib.sha256(blob).hexdigest(),
                    diff_id="sha256:" + hashlib.sha256(raw).hexdigest())
    while s.read(1 << 16):
        pass
    s.finish()
    assert trims and set(trims) == {"layerscope-inflate"}
    assert len(trims) == len(raw) // (2 << 20)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_native_trim_gives_back_freed_chunks_on_glibc():
    trim = heap._native_trim()
    if trim is None:
        pytest.skip("C core not built")
    # freed 1 MiB chunks: after the first, glibc serves them from the heap, which keeps them
    for _ in range(3):
        chunks = [bytes(1 << 20) for _ in range(16)]
        del chunks
    assert trim() == 1
