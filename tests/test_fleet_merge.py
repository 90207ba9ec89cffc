"""fleet/merge.py: the combos of Parquet unit files equal analysis/combos.py's on the same tables,
embedded and on a real dask.distributed cluster, fingerprint collisions included."""
from __future__ import annotations

import random
import subprocess
import sys
from array import array

import numpy as np
import pytest

from layerscope.analysis.combos import chunk_combos, file_combos
from layerscope.analysis.layer_digests import LayerDigests
from layerscope.fleet import merge
from layerscope.fleet.columns import parquet_files, read_units, table_units, write_table, units_table, write_units


def _tables(seed: int, n_layers: int) -> list[LayerDigests]:
    """Layers with overlapping digest sets; the same digest has different sizes in different layers."""
    rng = random.Random(seed)
    pool = [rng.randbytes(16) for _ in range(300)]
    tables = []
    for _ in range(n_layers):
        chunks = sorted(set(rng.sample(pool, rng.randint(0, 120))) | {rng.randbytes(16) for _ in range(rng.randint(0, 5))})
        files = {d: rng.randint(0, 1 << 40) for d in rng.sample(pool, rng.randint(0, 60))}
        file_c = {d: rng.randint(0, 1000) for d in files if rng.random() < 0.7}  # the rest: csize = size
        tables.append(LayerDigests(None, None, 0, files, b"".join(chunks),
                                   array("I", (rng.randint(1, 1 << 20) for _ in chunks)),
                                   file_compressed=file_c,
                                   chunk_compressed=array("I", (rng.randint(1, 1 << 20) for _ in chunks))))
    return tables


def _write(tmp_path, tables, kind, per_file=3):
    """The tables' units in files of up to ``per_file`` layers (the contract allows any grouping)."""
    d = tmp_path / kind
    d.mkdir()
    import pyarrow as pa
    for start in range(0, len(tables), per_file):
        parts = [units_table(li, *table_units(tables[li], kind))
                 for li in range(start, min(start + per_file, len(tables)))]
        write_table(d / f"part-{start:05d}.parquet", pa.concat_tables(parts))
    return d


EXPECTED = {"chunks": chunk_combos, "files": file_combos}


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0",
                                  memory_limit="2GiB") as cluster, distributed.Client(cluster) as c:
        yield c


@pytest.mark.parametrize("kind", ["chunks", "files"])
@pytest.mark.parametrize("seed,n_layers", [(1, 6), (2, 9), (3, 12)])
def test_embedded_equals_one_machine(tmp_path, kind, seed, n_layers):
    tables = _tables(seed, n_layers)
    d = _write(tmp_path, tables, kind)
    assert sorted(merge.combos(d)) == sorted(EXPECTED[kind](tables))


@pytest.mark.parametrize("shuffle", [None, "p2p", "tasks"])
@pytest.mark.parametrize("kind", ["chunks", "files"])
def test_distributed_equals_one_machine(tmp_path, client, kind, shuffle, monkeypatch):
    monkeypatch.setattr(merge, "SHUFFLE", shuffle)  # read on the client
    tables = _tables(7, 12)
    d = _write(tmp_path, tables, kind, per_file=2)
    expected = sorted(EXPECTED[kind](tables))
    assert sorted(merge.combos(d, client=client)) == expected
    assert sorted(merge.combos(d, client=client, partitions=5)) == expected


def test_empty_and_single_layer(tmp_path, client):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert merge.combos(empty) == [] and merge.combos(empty, client=client) == []
    one = _tables(4, 1)
    d = _write(tmp_path, one, "chunks")
    expected = sorted(chunk_combos(one))
    assert sorted(merge.combos(d)) == expected == sorted(merge.combos(d, client=client))
    # a layer file with no rows at all
    write_units(d / "zz-empty.parquet", 1, b"", [], [])
    assert sorted(merge.combos(d)) == expected == sorted(merge.combos(d, client=client))


def test_columns_round_trip(tmp_path):
    t = _tables(5, 1)[0]
    digests, sizes, csizes = table_units(t, "chunks")
    write_units(tmp_path / "a.parquet", 42, digests, sizes, csizes)
    (tmp_path / ".a.parquet.1.tmp").write_bytes(b"half")  # a writer in progress: skipped
    u = read_units(parquet_files(tmp_path))
    back = np.stack([u["hi"], u["lo"]], axis=1).astype(">u8").tobytes()
    assert back == digests and list(u["size"]) == list(t.chunk_sizes)
    assert list(u["csize"]) == list(t.chunk_compressed) and set(u["layer"]) == {42}
    assert u["hi"][0] == int.from_bytes(digests[:8], "big") and u["lo"][0] == int.from_bytes(digests[8:16], "big")
    with pytest.raises(ValueError):
        write_units(tmp_path / "b.parquet", 1, digests[:-1], sizes, csizes)


@pytest.mark.parametrize("collide", [lambda layer: (np.zeros(len(layer), np.uint64),) * 2,
                                     lambda layer: ((layer % 2).astype(np.uint64),) * 2],
                         ids=["constant", "parity"])
def test_fingerprint_collisions_fall_back_to_the_exact_sets(tmp_path, monkeypatch, collide):
    tables = _tables(8, 12)
    d = _write(tmp_path, tables, "chunks")
    monkeypatch.setattr(merge, "_hash", collide)
    assert sorted(merge.combos(d)) == sorted(chunk_combos(tables))


def test_collisions_on_a_cluster_too(tmp_path, monkeypatch):
    """The same fallback in the distributed path (threads: the monkeypatch reaches the workers)."""
    distributed = pytest.importorskip("dask.distributed")
    tables = _tables(9, 10)
    d = _write(tmp_path, tables, "files", per_file=1)
    monkeypatch.setattr(merge, "_hash", lambda layer: (np.zeros(len(layer), np.uint64),) * 2)
    with distributed.LocalCluster(n_workers=1, processes=False, threads_per_worker=2, dashboard_address=":0") as cl, \
            distributed.Client(cl) as c:
        assert sorted(merge.combos(d, client=c, partitions=3)) == sorted(file_combos(tables))


def test_the_embedded_path_imports_no_dask(tmp_path):
    d = _write(tmp_path, _tables(3, 4), "chunks")
    code = (f"import sys; from layerscope.fleet.merge import combos; print(len(combos({str(d)!r})) > 0, "
            "sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True []", out.stdout


def test_batches_group_files(tmp_path):
    for k in range(5):
        (tmp_path / f"{k}.parquet").write_bytes(b"x" * 100)
    files = parquet_files(tmp_path)
    assert merge.batches(files, target=250) == [tuple(files[:3]), tuple(files[3:])]


def test_layer_sets_detects_a_collision_exactly(monkeypatch):
    """{0, 1, 3} and {0, 2, 3}: same count and lowest layer; a constant hash makes one fingerprint of them."""
    monkeypatch.setattr(merge, "_hash", lambda layer: (np.zeros(len(layer), np.uint64),) * 2)
    hi, lo = np.array([5, 5, 5, 6, 6, 6], np.uint64), np.zeros(6, np.uint64)
    layer, size = np.array([3, 0, 1, 0, 2, 3], np.int32), np.array([1, 2, 3, 10, 20, 30], np.uint64)
    sets, sizes, csizes, counts = merge.layer_sets(hi, lo, layer, size, size * 2)
    got = sorted(zip(sets, sizes.tolist(), csizes.tolist(), counts.tolist()))
    assert got == [((0, 1, 3), 2, 4, 1), ((0, 2, 3), 10, 20, 1)]  # the lowest layer's sizes
