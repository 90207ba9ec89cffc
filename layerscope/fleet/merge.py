"""Combos of a fleet: a group-by on digest over the per-layer Parquet files (``fleet/columns.py``).

The same list as ``analysis/combos.py`` makes from the tables of one machine
(each set of layers exactly holding some units, with the units' sums, each
unit sized as in its lowest-indexed layer), for more digests than one machine
holds. With a ``dask.distributed`` client the unit rows are shuffled on the
digest, so that all the rows of a digest meet in one partition; each
partition then reduces its digests to layer sets locally (:func:`layer_sets`)
and only those (a few per layer, where there are millions of units) are
summed across partitions and come back. Without a client the same reduction
runs in this process on all the rows, with numpy and pyarrow only.

Grouping digests by their layer *set* is done on a fingerprint of the set:
two independent 64-bit hashes of each layer index, summed mod 2^64 over the
set (order-free, so no list per digest is built), plus the set's size. It is
verified exactly: every digest's layer list is compared, in one vectorized
pass, with its group representative's; a group where they differ (a collision)
is recomputed exactly on the layer lists themselves. A result is never wrong.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from ..analysis.combos import Combo
from .columns import COLUMNS, SCHEMA, parquet_files, read_units

#: Input partition size the distributed path aims for (bytes of Parquet on disk).
PARTITION_BYTES = 128 << 20

_SEEDS = (0x9E3779B97F4A7C15, 0xD1B54A32D192ED03)


def _splitmix64(x: np.ndarray, seed: int) -> np.ndarray:
    """splitmix64's finalizer of ``x + seed``: uint64 arithmetic wraps, as intended."""
    z = x.astype(np.uint64) + np.uint64(seed)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _hash(layer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two independent 64-bit hashes of each layer index (a seam: tests make them collide)."""
    return _splitmix64(layer, _SEEDS[0]), _splitmix64(layer, _SEEDS[1])


def _starts(*keys: np.ndarray) -> np.ndarray:
    """Where a new run of equal keys begins, in arrays sorted on them."""
    n = len(keys[0])
    new = np.zeros(n, dtype=bool)
    if n:
        new[0] = True
        for k in keys:
            new[1:] |= k[1:] != k[:-1]
    return np.flatnonzero(new)


def layer_sets(hi: np.ndarray, lo: np.ndarray, layer: np.ndarray, size: np.ndarray,
               csize: np.ndarray) -> tuple[list[tuple[int, ...]], np.ndarray, np.ndarray, np.ndarray]:
    """The combos of some unit rows holding *all* the rows of each digest present:
    (layer sets, their size sums, csize sums, unit counts), numpy all the way but one
    tuple per set."""
    order = np.lexsort((layer, lo, hi))  # within a digest, by layer: the first row is the lowest layer
    layer = layer[order].astype(np.int64)
    starts = _starts(hi[order], lo[order])
    n = len(layer)
    if not n:
        empty = np.empty(0, dtype=np.uint64)
        return [], empty, empty, empty
    counts = np.diff(np.append(starts, n))
    h1, h2 = _hash(layer)
    f1, f2 = np.add.reduceat(h1, starts), np.add.reduceat(h2, starts)
    gsize, gcsize = size[order][starts].astype(np.uint64), csize[order][starts].astype(np.uint64)
    lowest = layer[starts]

    # digests grouped by (count, lowest layer, fingerprint); each group's first digest its representative
    by = np.lexsort((f2, f1, lowest, counts))
    sstarts = _starts(counts[by], lowest[by], f1[by], f2[by])
    set_of = np.empty(len(starts), dtype=np.int64)
    set_of[by] = np.repeat(np.arange(len(sstarts)), np.diff(np.append(sstarts, len(by))))
    rep = by[sstarts]  # digest index of each set's representative

    # exact check: each row's layer against the representative's at the same position
    digest_of_row = np.repeat(np.arange(len(starts)), counts)
    pos = np.arange(n) - starts[digest_of_row]
    mine_rep = rep[set_of[digest_of_row]]
    bad_rows = layer != layer[starts[mine_rep] + pos]
    bad_sets = np.zeros(len(sstarts), dtype=bool)
    bad_sets[set_of[digest_of_row[bad_rows]]] = True

    sums = [np.add.reduceat(a[by], sstarts) for a in (gsize, gcsize, np.ones(len(by), dtype=np.uint64))]
    good = np.flatnonzero(~bad_sets)
    sets = [tuple(layer[starts[r]:starts[r] + counts[r]].tolist()) for r in rep[good]]
    out = [s[good] for s in sums]
    if bad_sets.any():  # a fingerprint collision: those digests grouped on their layer lists themselves
        exact: dict[tuple[int, ...], list[int]] = {}
        for d in np.flatnonzero(bad_sets[set_of]).tolist():
            key = tuple(layer[starts[d]:starts[d] + counts[d]].tolist())
            acc = exact.setdefault(key, [0, 0, 0])
            acc[0] += int(gsize[d]); acc[1] += int(gcsize[d]); acc[2] += 1
        sets += list(exact)
        out = [np.append(o, np.array([a[k] for a in exact.values()], dtype=np.uint64)) for k, o in enumerate(out)]
    return sets, out[0], out[1], out[2]


def _combos(sets: list[tuple[int, ...]], sizes, csizes, counts) -> list[Combo]:
    return list(zip(sets, map(int, sizes), map(int, csizes), map(int, counts)))


def combos(directory: str | os.PathLike, *, client=None, partitions: int | None = None) -> list[Combo]:
    """Each set of layers exactly holding some units of ``directory`` (unit files, see
    ``fleet/columns.py``), with those units' sums: equal, as a sorted list, to ``chunk_combos``
    / ``file_combos`` of the same tables. With a ``dask.distributed`` ``client``, a shuffle on
    the digest over ``partitions`` partitions (default: as many as input partitions: ~128 MiB
    of Parquet each, at least two per worker thread); without,
    in this process (dask not imported)."""
    files = parquet_files(directory)
    if client is None:
        u = read_units(files)
        return _combos(*layer_sets(u["hi"], u["lo"], u["layer"], u["size"], u["csize"]))
    return _distributed(client, files, partitions)


def batches(files: Sequence[str], target: int = PARTITION_BYTES) -> list[tuple[str, ...]]:
    """Files grouped into input partitions of about ``target`` bytes each: one task per file
    would be 100,000 tasks for a registry."""
    out: list[tuple[str, ...]] = []
    batch: list[str] = []
    total = 0
    for f in files:
        batch.append(f)
        total += os.path.getsize(f)
        if total >= target:
            out.append(tuple(batch))
            batch, total = [], 0
    if batch:
        out.append(tuple(batch))
    return out


def _read_batch(paths: tuple[str, ...]):
    import pandas as pd
    return pd.DataFrame(read_units(paths))


def _sets_frame(df):
    """One shuffled partition's digests reduced to layer sets, keyed by the set as text."""
    import pandas as pd
    sets, sizes, csizes, counts = layer_sets(*(df[c].to_numpy() for c in COLUMNS))
    return pd.DataFrame({"layers": pd.Series([",".join(map(str, s)) for s in sets], dtype=object),
                         "size": sizes, "csize": csizes, "n": counts})


#: The shuffle for the group-by on digest; None: "tasks" up to TASKS_MAX partitions, "p2p" above.
SHUFFLE: str | None = None
#: dask's task shuffle is one all-to-all stage up to 32 partitions (its max_branch), then copies
#: the data once per stage; there it measured 1.4-1.9x faster than p2p (docs/scale.md), which copies once.
TASKS_MAX = 32


def _distributed(client, files: list[str], partitions: int | None) -> list[Combo]:
    import dask.dataframe as dd
    import pandas as pd

    if not files:
        return []
    # ~128 MiB per input partition, but at least two per worker thread: every core reads and reduces
    threads = sum(w["nthreads"] for w in client.scheduler_info()["workers"].values()) or 1
    total = sum(os.path.getsize(f) for f in files)
    parts = batches(files, max(1, min(PARTITION_BYTES, total // (2 * threads))))
    meta = pd.DataFrame({c: np.empty(0, dtype=SCHEMA.field(c).type.to_pandas_dtype()) for c in COLUMNS})
    units = dd.from_map(_read_batch, parts, meta=meta, enforce_metadata=False)
    # hi alone is a uniform 64-bit hash: every row of a digest goes to the same partition
    npartitions = partitions or len(parts)
    method = SHUFFLE or ("tasks" if npartitions <= TASKS_MAX else "p2p")
    shuffled = units.shuffle(on="hi", npartitions=npartitions, shuffle_method=method)
    set_meta = pd.DataFrame({"layers": pd.Series([], dtype=object), "size": np.empty(0, np.uint64),
                             "csize": np.empty(0, np.uint64), "n": np.empty(0, np.uint64)})
    sets = shuffled.map_partitions(_sets_frame, meta=set_meta)
    # a set is met in many partitions: summed on its exact text, a small table by now
    summed = sets.groupby("layers").sum(split_out=1)
    result = client.compute(summed, sync=True)
    return [(tuple(int(x) for x in key.split(",")), int(b), int(c), int(n))
            for key, b, c, n in zip(result.index, result["size"], result["csize"], result["n"])]
