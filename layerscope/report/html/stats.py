"""``layerscope.store.stats/1`` as a page: what the images weigh against what the store keeps."""

from __future__ import annotations

from typing import Any

from .charts import bars
from .page import figures, page, section, size


def render_stats(doc: dict[str, Any]) -> str:
    b, r = doc["bytes"], doc["ratio"]
    rows = [("logical", b["logical"], f"{size(b['logical'])}"),
            ("unique", b["unique"], f"{size(b['unique'])} (dedup {r['dedup']:.2f}x)"),
            ("packs", b["packs"], f"{size(b['packs'])} (zstd {r['compression']:.2f}x)"),
            ("index", b["index"], size(b["index"])),
            ("stored", b["stored"], f"{size(b['stored'])} (in all {r['total']:.2f}x)")]
    notes = ["every image's layers and blobs", "distinct chunks and blobs", "their zstd frames on disk",
             "the SQLite index", "packs + index"]
    levels = [(k, doc[k]) for k in ("layers", "files", "chunks")]
    share = [(f"{k} shared", v["shared"], f"{v['shared']} of {v['count']}") for k, v in levels]
    counts = figures([("images", str(doc["images"])), ("blobs", str(doc["blobs"])), ("packs", str(doc["packs"]))]
                     + [(k, str(v["count"])) for k, v in levels])
    parts = [section("Store", counts, id="store"),
             section("Bytes", bars(rows, id="bytes-bars", row_class="byte-bar", notes=notes), id="bytes"),
             section("Sharing by level (shared by several images or layers, of all)",
                     bars(share, id="share-bars", row_class="share-bar",
                          scales=[v["count"] for _, v in levels]), id="sharing")]
    return page("store stats", doc["store"], parts, kind="store.stats")
