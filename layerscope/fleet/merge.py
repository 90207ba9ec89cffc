"""Combos from a directory of unit files (MINIMAL stand-in: replaced by issue #16's distributed group-by).

Reads every ``*.parquet`` file on this machine and groups with numpy: exact, the
semantics of ``analysis.combos.chunk_combos`` (each unit once, its sizes those of the
lowest-indexed layer holding it). ``client`` is accepted and not used.
"""

from __future__ import annotations

import os

from ..analysis.combos import Combo


def combos(directory: str, *, client=None) -> list[Combo]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = sorted(n for n in os.listdir(directory) if n.endswith(".parquet"))
    if not names:
        return []
    t = pa.concat_tables([pq.read_table(os.path.join(directory, n)) for n in names])
    hi, lo = t["hi"].to_numpy(), t["lo"].to_numpy()
    layer, size, csize = t["layer"].to_numpy(), t["size"].to_numpy(), t["csize"].to_numpy()
    order = np.lexsort((layer, lo, hi))
    hi, lo, layer, size, csize = hi[order], lo[order], layer[order], size[order], csize[order]
    starts = np.flatnonzero(np.r_[True, (hi[1:] != hi[:-1]) | (lo[1:] != lo[:-1])])
    ends = np.r_[starts[1:], len(hi)]
    sums: dict[tuple[int, ...], list[int]] = {}
    layers = layer.tolist()
    for s, e, b, c in zip(starts.tolist(), ends.tolist(), size[starts].tolist(), csize[starts].tolist()):
        key = tuple(layers[s:e])
        acc = sums.get(key)
        if acc is None:
            sums[key] = [b, c, 1]
        else:
            acc[0] += b
            acc[1] += c
            acc[2] += 1
    return [(k, b, c, n) for k, (b, c, n) in sums.items()]
