"""`savings` rendered: the ``layerscope.savings/1`` JSON document and the text for a terminal.

The JSON shape is a contract (docs/json.md). Sizes are uncompressed bytes;
``compressed`` the same through zstd level 3 (``analysis/layer_digests.py``).
"""

from __future__ import annotations

from typing import Any

from ..analysis.savings import LEVELS, SavingsReport
from ..units import human_size
from .style import Paint, capped, finish
from .text import short_digest

SAVINGS_SCHEMA = "layerscope.savings/1"
LIMIT = 10  # rows per list in the text
MATRIX_MAX = 8  # images: a bigger matrix is left to --json


def savings_doc(r: SavingsReport) -> dict[str, Any]:
    totals = {"naive": {"bytes": r.naive, "compressed": r.compressed["naive"]}}
    totals.update({lv: {"bytes": r.totals[lv], "compressed": r.compressed[lv]} for lv in LEVELS})
    return {
        "schema": SAVINGS_SCHEMA,
        "avg_chunk": r.avg_chunk,
        "images": [{"index": i, "name": name} for i, name in enumerate(r.images)],
        "totals": totals,
        "per_image": [
            {"image": i, **{lv: {"bytes": p.levels[lv].bytes, "shared": p.levels[lv].shared,
                                 "unique": p.levels[lv].unique} for lv in LEVELS}}
            for i, p in enumerate(r.per_image)
        ],
        "matrix": {k: [list(row) for row in m] for k, m in r.matrix.items()},
        "top_layers": [{"diff_id": t.diff_id, "size": t.size, "images": t.images} for t in r.top_layers],
        "near_misses": [{"a": m.a, "b": m.b, "common": m.common, "share": m.share, "cause": m.cause,
                         "changed": m.changed} for m in r.near_misses],
    }


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:5.1f}%" if whole else "    -"


def savings_text(r: SavingsReport, *, color: bool = False, all_rows: bool = False) -> str:
    paint = Paint(color)
    limit = None if all_rows else LIMIT
    out = [f"{len(r.images)} images", ""]
    out.append(paint(f"{'stored':<10} {'bytes':>10} {'of naive':>9} {'zstd -3':>10}", "bold"))
    for lv, size in (("naive", r.naive), *((lv, r.totals[lv]) for lv in LEVELS)):
        out.append(f"{lv:<10} {human_size(size):>10} {_pct(size, r.naive):>9} {human_size(r.compressed[lv]):>10}")
    out += ["", paint(f"{'#':>3} {'level':<8} {'size':>10} {'shared':>10} {'unique':>10}  image", "bold")]
    for i, p in enumerate(r.per_image):
        for k, lv in enumerate(LEVELS):
            x = p.levels[lv]
            name = r.images[i] if k == 0 else ""
            out.append(f"{i if k == 0 else '':>3} {lv:<8} {human_size(x.bytes):>10} {human_size(x.shared):>10} "
                       f"{human_size(x.unique):>10}  {name}".rstrip())
    if len(r.images) <= MATRIX_MAX:
        for name, m in r.matrix.items():
            out += ["", f"in common ({name} level)", "     " + "".join(f"{j:>10}" for j in range(len(m)))]
            out += [f"{i:>3}  " + "".join(f"{human_size(v):>10}" for v in row) for i, row in enumerate(m)]
    if r.top_layers:
        out += ["", "layers used by most images"]
        out += capped([f"  {short_digest(t.diff_id)} {paint.rjust(human_size(t.size), 10, 'green')}  {len(t.images)} "
                       f"image{'s' if len(t.images) > 1 else ''}: {', '.join(map(str, t.images))}"
                       for t in r.top_layers[:limit]], len(r.top_layers), limit)
    out += ["", "near misses (different diff_ids, mostly the same files)" if r.near_misses else "no near misses"]
    rows = []
    for m in r.near_misses[:limit]:
        changed = f", {m.changed} paths differ" if m.changed else ""
        rows.append(f"  {short_digest(m.a)} ~ {short_digest(m.b)}: {paint(human_size(m.common), 'yellow')} stored "
                    f"twice ({100 * m.share:.0f}% alike): {m.cause}{changed}")
    out += capped(rows, len(r.near_misses), limit)
    return finish(out)
