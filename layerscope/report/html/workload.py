"""``layerscope.workload/1`` as a page: what the workloads pull and store together and apart,
what each image adds alone, per node, the layers workloads share, and what one base would save.

Warnings come second, before any figure: an image that was not resolved is left out of every
figure below, so the page says so before it shows them.
"""

from __future__ import annotations

from typing import Any

from .charts import bars, layer_colour, stacked
from .page import ROW_LIMIT, esc, figures, page, pct, section, short, size, table

BARS = 200  # workloads drawn as stacked bars (the most stored first); the table lists more
HOLDERS = 12  # names listed in a cell before "… (N)"
SHARED = "#4a9e5c"  # the part of a workload its images share


def _names(items: list[int], name: list[str]) -> str:
    shown = ", ".join(f"{k} {name[k]}" if 0 <= k < len(name) else str(k) for k in items[:HOLDERS])
    return shown + (f" … ({len(items)})" if len(items) > HOLDERS else "")


def _more(n: int) -> str:
    """Lists cut here (rather than by ``table``) are cut before their rows are made."""
    return f'<p class="more">{n} more in the JSON document (--json)</p>' if n > 0 else ""


def _totals(doc: dict[str, Any]) -> str:
    t, rb = doc["total"], doc["rebase"]
    unresolved = sum(c["image"] is None for w in doc["workloads"] for c in w["containers"])
    figs = [("workloads", str(len(doc["workloads"]))), ("distinct images", str(len(doc["images"]))),
            ("pulled", size(t["pulled"])), ("stored", size(t["stored"])), ("rebase saves", size(rb["saving"]))]
    if unresolved:
        figs.append(("unresolved containers", str(unresolved)))
    rows = [("naive stored", t["naive_stored"], size(t["naive_stored"])),
            ("stored", t["stored"], f"{size(t['stored'])} ({pct(t['stored'], t['naive_stored'])})"),
            ("stored after rebase", rb["stored_after"], f"{size(rb['stored_after'])} "
             f"({pct(rb['stored_after'], t['naive_stored'])})"),
            ("naive pulled", t["naive_pulled"], size(t["naive_pulled"])),
            ("pulled", t["pulled"], f"{size(t['pulled'])} ({pct(t['pulled'], t['naive_pulled'])})"),
            ("pulled after rebase", rb["pulled_after"], f"{size(rb['pulled_after'])} "
             f"({pct(rb['pulled_after'], t['naive_pulled'])})")]
    notes = ["each workload on a node of its own", "every workload on one node (each ChainID once)",
             "images rebuilt on one common base", None, "each blob once", None]
    scales = [t["naive_stored"]] * 3 + [t["naive_pulled"]] * 3  # pulled is compressed: its own scale
    return section("Every workload on one node", figures(figs) + bars(
        rows, id="totals-bars", row_class="total-bar", notes=notes, scales=scales), id="totals")


def _warnings(warnings: list[str]) -> str:
    items = "".join(f'<li class="warn">{esc(w)}</li>' for w in warnings[:ROW_LIMIT])
    return section(f"Warnings ({len(warnings)})", f'<ul id="warning-list">{items}</ul>'
                   + _more(len(warnings) - ROW_LIMIT), id="warnings")


def _workloads(doc: dict[str, Any]) -> str:
    """Each workload's stored bytes as what each image stores alone plus what its images share."""
    images, wls = doc["images"], doc["workloads"]
    drawn = sorted(wls, key=lambda w: (-w["stored"], w["index"]))[:BARS]
    rows = []
    for w in drawn:
        segs = [(a["stored"], layer_colour(a["image"]), f"image {a['image']} {images[a['image']]['ref']} alone: "
                 f"{size(a['stored'])}") for a in w["alone"] if a["stored"]]
        common = w["stored"] - sum(a["stored"] for a in w["alone"])
        if common > 0:
            segs.append((common, SHARED, f"shared by its images: {size(common)}"))
        rows.append((f"{w['index']} {w['name']}", segs,
                     f"{size(w['stored'])} stored (naive {size(w['naive_stored'])}), {size(w['pulled'])} pulled"))
    key = (f'<div class="legend"><span><i class="sw" style="background:{SHARED}"></i>shared by its images</span>'
           f"<span>other colours: what one image stores alone (hover for its name)</span></div>")
    more = f'<p class="more">the {len(drawn)} most stored of {len(wls)}</p>' if len(wls) > len(drawn) else ""
    tab = table(("#", "workload", "kind", "file", "replicas", "node", "images", "pulled", "stored", "naive pulled",
                 "naive stored"),
                [(w["index"], w["name"], w["kind"], f"{w['file']} #{w['document']}",
                  "-" if w["replicas"] is None else w["replicas"], w["node"] or "-", len(w["images"]),
                  size(w["pulled"]), size(w["stored"]), size(w["naive_pulled"]), size(w["naive_stored"]))
                 for w in wls], numeric=(0, 4, 6, 7, 8, 9, 10), paths=(3,), id="workloads-table", filter=True)
    return section("Per workload: stored alone by each image, and shared",
                   key + stacked(rows, id="workload-bars", row_class="workload-bar") + more + tab, id="workloads")


def _containers(doc: dict[str, Any]) -> str:
    images, rows, classes = doc["images"], [], []
    for w in doc["workloads"]:
        alone = {a["image"]: a for a in w["alone"]}
        for c in w["containers"][:ROW_LIMIT - len(rows)]:  # thousands of workloads need not all be walked
            a = alone.get(c["image"])
            rows.append((f"{w['index']} {w['name']}", c["role"], c["name"], c["ref"],
                         "unresolved" if c["image"] is None else f"{c['image']} {images[c['image']]['name']}",
                         size(a["pulled"]) if a else "-", size(a["stored"]) if a else "-"))
            classes.append("warn" if c["image"] is None else "")
    return section("Containers (alone: what the image adds that no other image of its workload has)",
                   table(("workload", "role", "container", "reference", "image", "alone pulled", "alone stored"),
                         rows, numeric=(5, 6), paths=(3, 4), id="containers-table", filter=True, classes=classes)
                   + _more(sum(len(w["containers"]) for w in doc["workloads"]) - len(rows)), id="containers")


def _nodes(doc: dict[str, Any]) -> str:
    nodes, names = doc["nodes"], [w["name"] for w in doc["workloads"]]
    rows = [(n["name"], n["stored"], f"{size(n['stored'])} stored (naive {size(n['naive_stored'])}), "
             f"{size(n['pulled'])} pulled (naive {size(n['naive_pulled'])})") for n in nodes[:BARS]]
    tab = table(("node", "workloads", "pulled", "stored", "naive pulled", "naive stored"),
                [(n["name"], _names(n["workloads"], names), size(n["pulled"]), size(n["stored"]),
                  size(n["naive_pulled"]), size(n["naive_stored"])) for n in nodes],
                numeric=(2, 3, 4, 5), id="nodes-table")
    return section("Per node", bars(rows, id="node-bars", row_class="node-bar") + tab, id="nodes")


def _shared(doc: dict[str, Any]) -> str:
    names = [w["name"] for w in doc["workloads"]]
    rows = [(short(s["chain_id"]), short(s["diff_id"]), size(s["size"]), size(s["compressed"]),
             _names(s["workloads"], names)) for s in doc["total"]["shared_layers"][:ROW_LIMIT]]
    return section("Layers several workloads store (each once on a node)",
                   table(("ChainID", "diff_id", "size", "compressed", "workloads"), rows, numeric=(2, 3),
                         id="shared-layers") + _more(len(doc["total"]["shared_layers"]) - len(rows)), id="shared")


def _rebase(doc: dict[str, Any]) -> str:
    rb, refs = doc["rebase"], [im["ref"] for im in doc["images"]]
    if not rb["groups"]:
        return section("Rebase", '<p class="more">no near-miss layers between images of the same distro base</p>',
                       id="rebase")
    figs = figures([("stored less", size(rb["saving"])), ("pulled less", size(rb["saving_compressed"])),
                    ("groups", str(len(rb["groups"])))])
    rows = [(k, _names(g["images"], refs), short(g["base"]), short(lay["diff_id"]), short(lay["like"]),
             size(lay["common"]), f"{lay['share'] * 100:.0f}%", lay["cause"], size(lay["saving"]),
             size(lay["saving_compressed"]), ", ".join(map(str, lay["images"][:HOLDERS])))
            for k, g in enumerate(rb["groups"]) for lay in g["layers"]]
    return section("Rebase: images of one distro base rebuilt on one base", figs + table(
        ("group", "images", "base", "layer", "like", "common", "alike", "cause", "saves", "pull saves", "held by"),
        rows, numeric=(0, 5, 6, 8, 9), id="rebase-table"), id="rebase")


def _images(doc: dict[str, Any]) -> str:
    return section("Images", table(
        ("#", "reference", "name", "source", "layers", "compressed", "size"),
        [(im["index"], im["ref"], im["name"], im["source"], len(im["layers"]), size(im["compressed"]),
          size(im["size"])) for im in doc["images"]], numeric=(0, 4, 5, 6), paths=(2, 3), id="images-table",
        filter=True), id="image-list")


def render_workload(doc: dict[str, Any]) -> str:
    parts = [_totals(doc)]
    if doc["warnings"]:
        parts.append(_warnings(doc["warnings"]))
    parts += [_workloads(doc), _containers(doc)]
    if doc["nodes"]:
        parts.append(_nodes(doc))
    parts += [_shared(doc), _rebase(doc), _images(doc)]
    n = len(doc["workloads"])
    return page(f"workload: {n} workload{'s' if n != 1 else ''}, {len(doc['images'])} images", "layerscope workload",
                parts, kind="workload")
