"""Streaming tar reader throughput: layerscope.layer.iter_entries against tarfile.

Run:  pytest benchmarks/bench_tar.py --benchmark-only
          (rows grouped per archive; entries/s and MB/s in each row's extra_info,
           --benchmark-json=out.json to keep them)
      python benchmarks/bench_tar.py [--repeat 5]
          (plain side-by-side table with entries/s, MB/s and the ratio)

Two archives, built in memory, read through a plain BytesIO (non-seekable use):

* ``small``: 20,000 small files (0..2 KiB, package-like paths, a directory
  every 50 files), pax format as Go's archive/tar writes layers;
* ``big``: 6 files of 16 MiB of random bytes.

Both sides do at least the same work: layerscope parses every header and
hashes every file's content with XXH3-128; tarfile (``r|`` streaming mode)
parses every header and reads every file's content (no hashing). The
``tarfile+xxh3`` row adds the hashing, for the like-for-like ratio.
"""
from __future__ import annotations

import argparse
import io
import random
import sys
import tarfile
import time

import pytest
import xxhash

from layerscope.layer import iter_entries

SMALL_FILES = 20_000
BIG_FILES, BIG_SIZE = 6, 16 << 20


def build_small(n: int = SMALL_FILES) -> bytes:
    rnd = random.Random(1)
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=tarfile.PAX_FORMAT) as t:
        for i in range(n):
            if i % 50 == 0:
                d = tarfile.TarInfo(f"usr/lib/python3/dist-packages/pkg{i // 50}/")
                d.type, d.mode, d.mtime = tarfile.DIRTYPE, 0o755, 1_700_000_000
                t.addfile(d)
            data = rnd.randbytes(rnd.randint(0, 2048))
            ti = tarfile.TarInfo(f"usr/lib/python3/dist-packages/pkg{i // 50}/module_{i}.py")
            ti.size, ti.mode, ti.mtime = len(data), 0o644, 1_700_000_000
            t.addfile(ti, io.BytesIO(data))
    return bio.getvalue()


def build_big(n: int = BIG_FILES, size: int = BIG_SIZE) -> bytes:
    rnd = random.Random(2)
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=tarfile.PAX_FORMAT) as t:
        for i in range(n):
            data = rnd.randbytes(size)
            ti = tarfile.TarInfo(f"opt/blob{i}.bin")
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    return bio.getvalue()


def run_layerscope(data: bytes) -> int:
    n = 0
    for _ in iter_entries(io.BytesIO(data)):
        n += 1
    return n


def run_layerscope_nohash(data: bytes) -> int:
    n = 0
    for _ in iter_entries(io.BytesIO(data), hash_content=False):
        n += 1
    return n


def run_tarfile(data: bytes) -> int:
    n = 0
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|") as t:
        for m in t:
            if m.isreg():
                f = t.extractfile(m)
                while f.read(1 << 20):
                    pass
            n += 1
    return n


def run_tarfile_xxh3(data: bytes) -> int:
    n = 0
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|") as t:
        for m in t:
            if m.isreg():
                f = t.extractfile(m)
                h = xxhash.xxh3_128()
                while chunk := f.read(1 << 20):
                    h.update(chunk)
                h.digest()
            n += 1
    return n


RUNNERS = {
    "layerscope": run_layerscope,
    "layerscope-nohash": run_layerscope_nohash,
    "tarfile": run_tarfile,
    "tarfile+xxh3": run_tarfile_xxh3,
}
ARCHIVES = {"small": build_small, "big": build_big}


# --------------------------------------------------------------------------
# pytest-benchmark
# --------------------------------------------------------------------------

_cache: dict[str, bytes] = {}


def _archive(name: str) -> bytes:
    if name not in _cache:
        _cache[name] = ARCHIVES[name]()
    return _cache[name]


@pytest.mark.parametrize("runner", list(RUNNERS))
@pytest.mark.parametrize("archive", list(ARCHIVES))
def test_tar_read(benchmark, archive, runner):
    data = _archive(archive)
    fn = RUNNERS[runner]
    benchmark.group = f"tar-{archive}"
    entries = benchmark.pedantic(fn, args=(data,), rounds=5, iterations=1, warmup_rounds=1)
    t = benchmark.stats.stats.min
    benchmark.extra_info.update(entries=entries, bytes=len(data),
                                entries_per_s=round(entries / t), mb_per_s=round(len(data) / t / 1e6, 1))
    assert entries == run_layerscope_nohash(data)


# --------------------------------------------------------------------------
# plain table
# --------------------------------------------------------------------------


def _best(fn, data: bytes, repeat: int) -> tuple[float, int]:
    best, n = float("inf"), 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        n = fn(data)
        best = min(best, time.perf_counter() - t0)
    return best, n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    print(f"{'archive':8} {'reader':18} {'entries':>8} {'entries/s':>12} {'MB/s':>9} {'vs tarfile':>10}")
    for aname, build in ARCHIVES.items():
        data = build()
        base, _ = _best(run_tarfile, data, args.repeat)
        for rname, fn in RUNNERS.items():
            t, n = _best(fn, data, args.repeat)
            print(f"{aname:8} {rname:18} {n:8d} {n / t:12,.0f} {len(data) / t / 1e6:9,.1f} {base / t:9.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
