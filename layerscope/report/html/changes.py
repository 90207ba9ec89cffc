"""``layerscope.changes/2`` as a page: per layer, what kind of changes and the largest ones."""

from __future__ import annotations

from typing import Any

from .charts import bars, layer_colour
from .page import esc, page, section, short, size, table

LARGEST = 15  # changes listed per layer (the JSON document has them all)


def _weight(c: dict[str, Any]) -> int:
    return max(c["size"] or 0, c["removed_bytes"] or 0)


def render_changes(doc: dict[str, Any]) -> str:
    layers = doc["layers"]
    kinds: list[str] = []
    for l in layers:
        for c in l["changes"]:
            if c["change"] not in kinds:
                kinds.append(c["change"])
    kinds.sort()
    counts = []
    for l in layers:
        n = {k: 0 for k in kinds}
        for c in l["changes"]:
            n[c["change"]] += 1
        counts.append((f"#{l['index']}", *(n[k] for k in kinds), len(l["changes"]), len(l["warnings"])))
    parts = [section("Changes by type", table(("layer", *kinds, "all", "warnings"), counts,
                                              numeric=range(1, len(kinds) + 3), id="change-counts"), id="counts")]
    rows = [(f"#{l['index']} {short(l['digest'])}", sum(c["size"] or 0 for c in l["changes"]),
             f"{size(sum(c['size'] or 0 for c in l['changes']))} written") for l in layers]
    parts.append(section("Bytes written per layer", bars(rows, id="layer-bars", row_class="layer-bar",
                                                         notes=[l["created_by"] or "" for l in layers],
                                                         colours=[layer_colour(l["index"]) for l in layers]),
                         id="written"))
    for l in layers:
        top = sorted(l["changes"], key=lambda c: (-_weight(c), c["path"]))[:LARGEST]
        body = f'<p class="sub">{esc(l["created_by"] or "")}</p>'
        body += table(("path", "change", "type", "size", "removed"),
                      [(c["path"], c["change"], c["type"], size(c["size"]), size(c["removed_bytes"])) for c in top],
                      numeric=(3, 4), paths=(0,), id=f"largest-{l['index']}")
        if len(l["changes"]) > LARGEST:
            body += f'<p class="more">the {LARGEST} largest of {len(l["changes"])} changes</p>'
        if l["warnings"]:
            body += "<ul>" + "".join(f'<li class="warn">{esc(w["code"])}: {esc(w["message"])}</li>'
                                     for w in l["warnings"]) + "</ul>"
        parts.append(section(f"Layer {l['index']}: largest changes", body, id=f"layer-{l['index']}"))
    im = doc["image"]
    return page(f"changes: {im['ref'] or im['path']}", f"{im['path']} - layerscope changes", parts, kind="changes")
