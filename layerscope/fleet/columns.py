"""The per-layer Parquet files a fleet merge reads: one row per unit (chunk or file content) a layer holds.

The contract, shared with the engineer who writes them from the scanning
side: a directory per kind (``WORK/chunks/``, ``WORK/files/``), any number of
``*.parquet`` files, any number of layers per file, a layer holding each
digest at most once. Columns ``hi``/``lo`` (uint64: the 16-byte XXH3-128
digest as two big-endian halves), ``layer`` (int32: the order the client met
the unique layers), ``size``/``csize`` (uint64). Columns are built from the
raw digest bytes with numpy: no Python object per unit.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..analysis.layer_digests import DIGEST_SIZE, LayerDigests

SCHEMA = pa.schema([("hi", pa.uint64()), ("lo", pa.uint64()), ("layer", pa.int32()),
                    ("size", pa.uint64()), ("csize", pa.uint64())])
COLUMNS = SCHEMA.names


def units_table(layer: int, digests: bytes, sizes: Sequence[int], csizes: Sequence[int]) -> pa.Table:
    """One layer's units as an Arrow table in the contract's schema."""
    halves = np.frombuffer(digests, dtype=">u8").reshape(-1, 2)
    n = len(halves)
    size = np.asarray(sizes, dtype=np.uint64)
    csize = np.asarray(csizes, dtype=np.uint64)
    if len(digests) % DIGEST_SIZE or len(size) != n or len(csize) != n:
        raise ValueError(f"layer {layer}: {len(digests)} digest bytes, {len(size)} sizes, {len(csize)} csizes")
    return pa.table([halves[:, 0].astype(np.uint64), halves[:, 1].astype(np.uint64),
                     np.full(n, layer, dtype=np.int32), size, csize], schema=SCHEMA)


def write_table(path: str | os.PathLike, table: pa.Table) -> None:
    """Write ``table`` at ``path`` atomically: a reader never sees half a file (temp file + os.replace).
    The temp name starts with a dot, which :func:`parquet_files` skips."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(table.cast(SCHEMA), tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_units(path: str | os.PathLike, layer: int, digests: bytes, sizes: Sequence[int],
                csizes: Sequence[int]) -> None:
    """One layer's units in one Parquet file at ``path``, written atomically."""
    write_table(path, units_table(layer, digests, sizes, csizes))


def table_units(table: LayerDigests, kind: Literal["chunks", "files"]) -> tuple[bytes, np.ndarray, np.ndarray]:
    """(digests sorted, sizes, csizes) of one kind of unit of a layer's digest table: what
    :func:`write_units` takes. A file's compressed size defaults to its size, as in ``file_combos``."""
    if kind == "chunks":
        return (bytes(table.chunks), np.asarray(table.chunk_sizes, dtype=np.uint64),
                np.asarray(table.chunk_compressed, dtype=np.uint64))
    if kind != "files":
        raise ValueError(f"kind must be 'chunks' or 'files', not {kind!r}")
    digests = sorted(table.files)
    sizes = np.fromiter((table.files[d] for d in digests), dtype=np.uint64, count=len(digests))
    csizes = np.fromiter((table.file_compressed.get(d, table.files[d]) for d in digests),
                         dtype=np.uint64, count=len(digests))
    return b"".join(digests), sizes, csizes


def parquet_files(directory: str | os.PathLike) -> list[str]:
    """The unit files of a directory, in name order (temp files of a writer in progress skipped)."""
    d = Path(directory)
    return sorted(str(p) for p in d.iterdir() if p.suffix == ".parquet" and not p.name.startswith("."))


def read_units(paths: Sequence[str]) -> dict[str, np.ndarray]:
    """The rows of some unit files, as one numpy array per column."""
    tables = [pq.read_table(p, columns=COLUMNS, schema=SCHEMA) for p in paths]
    if not tables:
        return {c: np.empty(0, dtype=SCHEMA.field(c).type.to_pandas_dtype()) for c in COLUMNS}
    t = pa.concat_tables(tables).combine_chunks()
    return {c: t.column(c).to_numpy() for c in COLUMNS}
