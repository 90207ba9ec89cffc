"""Fleet scale benchmark (issue #16): synthetic chunk tables for N layers, merged into combos on a LocalCluster.

Not real tars: digest tables only, with a registry's sharing shape. Layers,
in the order a client would meet them:

* base layers (N/300, at least 4): distro versions in chains of 5, each
  version keeping 60% of the previous one's chunks;
* app layers (70% of the rest): chains of 1-20 versions, each keeping 80% of
  the previous version's chunks, 10% of their chunks taken from a base layer
  (picked Zipf-like: a few bases are everywhere) and 3% from a pool of
  100,000 popular chunks (shared libraries);
* the tail (30%): layers of unique chunks.

Chunks per layer: uniform in [C/4, 7C/4] (mean C, default 2,000); chunk
sizes 16-112 KiB (mean 64 KiB), compressed 30-90%, fixed per chunk.
Generated layer by layer and written 100 layers per file with
``fleet/columns.py``: never all rows at once.

    python benchmarks/fleet_scale.py --quick           # 2,000 layers, checks the embedded path agrees
    python benchmarks/fleet_scale.py --layers 10000    # 20M rows
    python benchmarks/fleet_scale.py                   # 100,000 layers, 200M rows
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time

import numpy as np
import pyarrow as pa

from layerscope.fleet import merge
from layerscope.fleet.columns import units_table, write_table

S_HI, S_LO, S_SIZE, S_RATIO = 0x1234567, 0x89ABCDEF, 0x5555, 0x7777
POOL = 100_000


def _digests(ids: np.ndarray) -> bytes:
    ids = np.unique(ids)  # a layer holds a digest once; sorted, like a table
    halves = np.stack([merge._splitmix64(ids, S_HI), merge._splitmix64(ids, S_LO)], axis=1)
    return ids, halves.astype(">u8").tobytes()


def _sizes(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    size = np.uint64(16384) + merge._splitmix64(ids, S_SIZE) % np.uint64(98304)
    ratio = np.uint64(30) + merge._splitmix64(ids, S_RATIO) % np.uint64(61)
    return size, size * ratio // np.uint64(100)


class _Ids:
    """Fresh chunk ids (above the popular pool)."""
    def __init__(self) -> None:
        self.next = POOL

    def take(self, n: int) -> np.ndarray:
        out = np.arange(self.next, self.next + n, dtype=np.uint64)
        self.next += n
        return out


def layers(n: int, chunks: int, seed: int = 1):
    """(layer index, chunk ids) for each of ``n`` layers, one at a time."""
    rng = np.random.default_rng(seed)
    fresh = _Ids()
    count = lambda: int(rng.integers(chunks // 4, chunks * 7 // 4 + 1))
    n_base = min(n, max(4, n // 300))
    bases: list[np.ndarray] = []
    li = 0
    prev = None
    while li < n_base:  # distro chains of 5 versions
        if li % 5 == 0 or prev is None:
            ids = fresh.take(count())
        else:
            keep = rng.random(len(prev)) < 0.6
            ids = np.concatenate([prev[keep], fresh.take(max(0, count() - int(keep.sum())))])
        bases.append(ids)
        yield li, ids
        prev, li = ids, li + 1
    weights = 1.0 / np.arange(1, len(bases) + 1)
    weights /= weights.sum()
    while li < n:
        if rng.random() < 0.3:  # the tail: unique layers
            yield li, fresh.take(count())
            li += 1
            continue
        prev = None
        for _ in range(int(rng.integers(1, 21))):
            if li >= n:
                break
            c = count()
            base = bases[rng.choice(len(bases), p=weights)]
            from_base = rng.choice(base, size=min(len(base), c // 10), replace=False)
            popular = (POOL * rng.random(c * 3 // 100) ** 3).astype(np.uint64)  # skewed: low ids are everywhere
            kept = prev[rng.random(len(prev)) < 0.8] if prev is not None else np.empty(0, np.uint64)
            new = fresh.take(max(0, c - len(from_base) - len(popular) - len(kept)))
            ids = np.concatenate([kept, new])  # what a next version inherits: the app's own chunks
            yield li, np.concatenate([ids, from_base, popular])
            prev, li = ids, li + 1


def generate(directory: str, n: int, chunks: int, per_file: int = 100, seed: int = 1) -> int:
    """Write the unit files; return the number of rows."""
    os.makedirs(directory, exist_ok=True)
    rows = 0
    batch = []
    first = 0
    for li, ids in layers(n, chunks, seed):
        ids, digests = _digests(ids)
        size, csize = _sizes(ids)
        batch.append(units_table(li, digests, size, csize))
        rows += len(ids)
        if len(batch) == per_file:
            write_table(os.path.join(directory, f"layers-{first:07d}.parquet"), pa.concat_tables(batch))
            batch, first = [], li + 1
    if batch:
        write_table(os.path.join(directory, f"layers-{first:07d}.parquet"), pa.concat_tables(batch))
    return rows


def _rss() -> int:
    import psutil
    return psutil.Process().memory_info().rss


class PeakRSS:
    """Peak RSS of each worker and of the scheduler, sampled every ``interval`` seconds in a thread."""
    def __init__(self, client, interval: float = 0.5) -> None:
        self.client, self.interval = client, interval
        self.workers: dict[str, int] = {}
        self.scheduler = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        for w, rss in self.client.run(_rss).items():
            self.workers[w] = max(self.workers.get(w, 0), rss)
        self.scheduler = max(self.scheduler, self.client.run_on_scheduler(_rss))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._sample()
            except Exception:  # the cluster is closing
                pass
            self._stop.wait(self.interval)

    def __enter__(self):
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--layers", type=int, default=100_000)
    p.add_argument("--chunks", type=int, default=2000, help="mean chunks per layer")
    p.add_argument("--per-file", type=int, default=100, help="layers per Parquet file")
    p.add_argument("--quick", action="store_true", help="2,000 layers, and check the embedded path agrees")
    p.add_argument("--workdir", default=None, help="keep the files here (default: a temp dir, removed)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--memory-limit", default="8GiB", help="per worker")
    p.add_argument("--shuffle", choices=["p2p", "tasks"], default=None,
                   help=f"default: tasks up to {merge.TASKS_MAX} partitions, p2p above")
    p.add_argument("--partitions", type=int, default=None, help="shuffle partitions (default: one per input batch)")
    p.add_argument("--check-embedded", action="store_true", help="also run client=None and compare")
    p.add_argument("--json", default=None, help="write the figures here")
    a = p.parse_args(argv)
    if a.quick:
        a.layers, a.check_embedded = 2000, True
    from dask.distributed import Client, LocalCluster

    work = a.workdir or tempfile.mkdtemp(prefix="fleet-scale-")
    import resource
    out: dict = {"layers": a.layers, "chunks_per_layer": a.chunks, "shuffle": a.shuffle or "auto", "workers": a.workers,
                 "memory_limit": a.memory_limit}
    try:
        units = os.path.join(work, "chunks")
        t = time.perf_counter()
        stamp = os.path.join(work, "generated.json")
        params = [a.layers, a.chunks, a.per_file]
        if a.workdir and os.path.exists(stamp) and json.load(open(stamp))["params"] == params:
            rows = json.load(open(stamp))["rows"]  # --workdir kept from a run with the same parameters
        else:
            shutil.rmtree(units, ignore_errors=True)
            rows = generate(units, a.layers, a.chunks, a.per_file)
            with open(stamp, "w") as f:
                json.dump({"params": params, "rows": rows}, f)
        out["rows"] = rows
        out["generate_s"] = time.perf_counter() - t
        out["parquet_bytes"] = sum(os.path.getsize(os.path.join(units, f)) for f in os.listdir(units))
        out["files"] = len(os.listdir(units))
        print(f"generated {rows:,} rows for {a.layers:,} layers in {out['generate_s']:.1f} s "
              f"({out['parquet_bytes'] / rows:.1f} B/row on disk)", file=sys.stderr)
        with LocalCluster(n_workers=a.workers, threads_per_worker=1, processes=True, memory_limit=a.memory_limit,
                          local_directory=os.path.join(work, "spill"), dashboard_address=":0") as cluster, \
                Client(cluster) as client:
            merge.SHUFFLE = a.shuffle
            with PeakRSS(client) as peak:
                t = time.perf_counter()
                combos = merge.combos(units, client=client, partitions=a.partitions)
                out["merge_s"] = time.perf_counter() - t
            out["peak_rss_workers"] = sorted(peak.workers.values())
            out["peak_rss_scheduler"] = peak.scheduler
        out["combos"] = len(combos)
        out["peak_rss_client"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
        out["rows_per_s"] = rows / out["merge_s"]
        out["units"] = sum(c[3] for c in combos)
        if a.check_embedded:
            t = time.perf_counter()
            embedded = merge.combos(units)
            out["embedded_s"] = time.perf_counter() - t
            out["embedded_equal"] = sorted(embedded) == sorted(combos)
        gib = 1 << 30
        print(f"merge: {out['merge_s']:.1f} s, {out['rows_per_s'] / 1e6:.2f} M rows/s, {len(combos):,} combos, "
              f"{out['units']:,} unique chunks; peak RSS workers "
              f"{', '.join(f'{r / gib:.2f}' for r in out['peak_rss_workers'])} GiB, scheduler "
              f"{out['peak_rss_scheduler'] / gib:.2f} GiB, client {out['peak_rss_client'] / gib:.2f} GiB", file=sys.stderr)
        if a.check_embedded:
            print(f"embedded: {out['embedded_s']:.1f} s, equal: {out['embedded_equal']}", file=sys.stderr)
        print(json.dumps(out))
        if a.json:
            with open(a.json, "w") as f:
                json.dump(out, f, indent=1)
        return 0 if out.get("embedded_equal", True) else 1
    finally:
        if a.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
