"""Per-layer unit tables as Parquet files (MINIMAL stand-in: replaced by the fleet/columns.py of issue #16's merge).

Contract: one row per unit (chunk or file content) a layer holds; columns ``hi``/``lo``
(the 16-byte XXH3-128 digest as two big-endian uint64), ``layer`` (int32: the index of the
unique layer), ``size`` and ``csize`` (uint64).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence

from ..analysis.layer_digests import DIGEST_SIZE, LayerDigests


def table_units(table: LayerDigests, kind: str) -> tuple[bytes, Sequence[int], Sequence[int]]:
    """(digests, sizes, compressed sizes) of ``table``'s ``kind`` ("chunks" or "files")."""
    if kind == "chunks":
        return table.chunks, table.chunk_sizes, table.chunk_compressed
    if kind == "files":
        digests = list(table.files)
        return (b"".join(digests), [table.files[d] for d in digests],
                [table.file_compressed.get(d, table.files[d]) for d in digests])
    raise ValueError(f"unknown unit kind {kind!r}")


def write_units(path: str, layer: int, digests: bytes, sizes: Sequence[int], csizes: Sequence[int]) -> None:
    """Write one layer's units to ``path`` atomically (a temporary file renamed): a writer killed
    midway leaves no partial file, and writing again replaces it whole."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    if len(digests) % DIGEST_SIZE or len(digests) // DIGEST_SIZE != len(sizes) or len(sizes) != len(csizes):
        raise ValueError(f"{path}: {len(digests)} digest bytes, {len(sizes)} sizes, {len(csizes)} compressed sizes")
    halves = np.frombuffer(digests, dtype=">u8").reshape(-1, 2).astype(np.uint64)
    n = len(halves)
    table = pa.table({"hi": halves[:, 0], "lo": halves[:, 1], "layer": np.full(n, layer, dtype=np.int32),
                      "size": np.asarray(sizes, dtype=np.uint64), "csize": np.asarray(csizes, dtype=np.uint64)})
    tmp = f"{path}.{uuid.uuid4().hex}.tmp"
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
