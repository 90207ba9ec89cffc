"""``layerscope.savings/1`` as a page: what each kind of sharing stores, who shares with whom,
and the layers that almost matched."""

from __future__ import annotations

from typing import Any

from .charts import bars, heatmap
from .page import esc, page, pct, section, short, size, table

LEVELS = ("naive", "layer", "chainid", "file", "chunk")
WHAT = {"naive": "every image on its own", "layer": "unique layers (diff_id)", "chainid": "unique ChainIDs",
        "file": "unique file contents", "chunk": "unique chunks"}


def render_savings(doc: dict[str, Any]) -> str:
    totals = doc["totals"]
    naive = totals["naive"]["bytes"]
    rows = [(lv, totals[lv]["bytes"], f"{size(totals[lv]['bytes'])} ({pct(totals[lv]['bytes'], naive)}), "
             f"{size(totals[lv]['compressed'])} zstd") for lv in LEVELS if lv in totals]
    parts = [section("Stored bytes by sharing level", bars(rows, id="totals-bars", row_class="total-bar",
                                                           notes=[WHAT[r[0]] for r in rows])
                     + f'<p class="more">average chunk {esc(size(doc["avg_chunk"]))}</p>', id="totals")]
    names = [im["name"] for im in doc["images"]]
    parts.append(section("Images", table(("#", "image"), [(im["index"], im["name"]) for im in doc["images"]],
                                         numeric=(0,), paths=(1,), id="images"), id="image-list"))
    for level, m in doc["matrix"].items():
        parts.append(section(f"Bytes shared by each pair ({level})", heatmap(m, names, id=f"heat-{level}"),
                             id=f"matrix-{level}"))
    per = [(p["image"], *(f"{size(p[lv]['bytes'])} / {size(p[lv]['shared'])}" for lv in LEVELS[1:]))
           for p in doc["per_image"]]
    parts.append(section("Per image (bytes / shared)", table(("image", *LEVELS[1:]), per, numeric=range(5),
                                                             id="per-image"), id="per"))
    misses = [(short(m["a"]), short(m["b"]), size(m["common"]), f"{m['share'] * 100:.0f}%", m["cause"], m["changed"])
              for m in doc["near_misses"]]
    parts.append(section("Near misses", table(("layer A", "layer B", "common", "share", "cause", "changed"), misses,
                                              numeric=(2, 3, 5), id="near-misses"), id="near"))
    top = [(short(t["diff_id"]), size(t["size"]), ", ".join(map(str, t["images"]))) for t in doc["top_layers"]]
    parts.append(section("Most used layers", table(("diff_id", "size", "images"), top, numeric=(1,),
                                                   id="top-layers"), id="top"))
    return page(f"savings: {len(names)} images", "layerscope savings", parts, kind="savings")
