"""``layerscope.inspect/2`` as a page: layers, the final filesystem, waste, duplicates."""

from __future__ import annotations

from typing import Any

from .charts import bars, layer_colour, legend, treemap
from .page import esc, figures, kv, page, pct, section, short, size, table


def _summary(doc: dict[str, Any]) -> str:
    im, eff = doc["image"], doc.get("efficiency")
    facts = [("path", im["path"]), ("format", im["format"]), ("platform", im["platform"] or "-"),
             ("manifest", im["manifest_digest"] or "-"), ("config", im["config_digest"] or im["legacy_id"] or "-"),
             ("verified", "yes" if im["verified"] else "no (--no-verify)")]
    figs = [("uncompressed", size(im["size"])), ("compressed", size(im["compressed_size"])),
            ("layers", str(len(doc["layers"])))]
    if eff is not None:
        figs += [("efficiency", f"{eff['efficiency'] * 100:.2f}%"), ("wasted", size(eff["wasted_bytes"])),
                 ("user wasted", f"{eff['user_wasted_ratio'] * 100:.2f}%"), ("final files", size(eff["final_file_bytes"]))]
    return section("Image", figures(figs) + kv(facts), id="summary")


def _layers(doc: dict[str, Any]) -> str:
    layers = doc["layers"]
    rows = [(f"#{l['index']} {short(l['digest'])}", l["size"],
             "foreign (not fetched)" if l["foreign"] else f"{size(l['size'])} ({size(l['compressed_size'])} stored)")
            for l in layers]
    notes = [l["created_by"] or "" for l in layers]
    colours = [layer_colour(l["index"]) for l in layers]
    return section("Layers", bars(rows, id="layer-bars", row_class="layer-bar", notes=notes, colours=colours),
                   id="layers")


def _filesystem(doc: dict[str, Any]) -> str:
    fs = doc["filesystem"]
    root = fs["root"]
    present = [l["index"] for l in doc["layers"] if str(l["index"]) in root.get("by_layer", {})]
    note = (f"{size(fs['size'])} in {fs['files']} files; a box per directory or file, its area its bytes, "
            f"its colour the layer providing most of them. Click a directory to open it.")
    if fs["aggregated"]:
        note += f" Small files are grouped per directory ({fs['nodes']} boxes at most {fs['max_nodes']})."
    return section("Final filesystem", f'<p class="more">{esc(note)}</p>' + legend(present) + treemap(root),
                   id="filesystem")


def _waste(eff: dict[str, Any]) -> str:
    reasons = eff["by_reason"]
    rows = [(r, b, f"{size(b)} ({pct(b, eff['wasted_bytes'])})") for r, b in reasons.items()]
    body = figures([("wasted", size(eff["wasted_bytes"])), ("stored file bytes", size(eff["stored_file_bytes"])),
                    ("dive's efficiency", f"{eff['dive_efficiency'] * 100:.2f}%"),
                    ("dive's wasted", size(eff["dive_wasted_bytes"]))])
    body += bars(rows, id="waste-bars", row_class="waste-bar")
    top = [(t["path"], t["reason"], ", ".join(map(str, t["layers"])), size(t["bytes"])) for t in eff["top"]]
    return (section("Waste by reason", body, id="waste")
            + section("Top wasted paths", table(("path", "reason", "layers", "bytes"), top, numeric=(3,), paths=(0,),
                                                id="top-wasted"), id="top"))


def _duplicates(dup: dict[str, Any]) -> str:
    rows = [("\n".join(g["paths"]), size(g["size"]), len(g["paths"]), size(g["savable_bytes"])) for g in dup["groups"]]
    head = figures([("savable", size(dup["savable_bytes"])), ("groups", str(len(dup["groups"])))])
    return section("Duplicate content", head + table(("paths", "size", "copies", "savable"), rows, numeric=(1, 2, 3),
                                                     paths=(0,), id="duplicates"), id="dups")


def render_inspect(doc: dict[str, Any]) -> str:
    im = doc["image"]
    parts = [_summary(doc), _layers(doc)]
    if "filesystem" in doc:
        parts.append(_filesystem(doc))
    if "efficiency" in doc:
        parts.append(_waste(doc["efficiency"]))
    if "duplicate_content" in doc:
        parts.append(_duplicates(doc["duplicate_content"]))
    if doc["warnings"]:
        parts.append(section("Warnings", "<ul>" + "".join(f'<li class="warn">{esc(w)}</li>' for w in doc["warnings"])
                             + "</ul>", id="warnings"))
    return page(f"inspect: {im['ref'] or im['path']}", f"{im['path']} - layerscope inspect", parts, kind="inspect")
