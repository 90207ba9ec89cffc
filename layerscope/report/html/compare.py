"""``layerscope.compare/1`` as a page: the summary, where the bytes went, the layers side by
side, and the file, config and package tables (each with a filter box)."""

from __future__ import annotations

from typing import Any

from .charts import bars
from .page import esc, figures, kv, page, section, short, signed, size, table, value

DIRECTORIES = 40  # bars in the growth chart (the largest changes: the document's order)


def _name(side: dict[str, Any]) -> str:
    return side["ref"] or side["path"]


def _summary(doc: dict[str, Any]) -> str:
    s = doc["summary"]
    figs = [("differ", "yes" if s["differ"] else "no")]
    if s["layers"]:
        figs += [("shared layers", str(s["layers"]["shared"])), ("only in A", str(s["layers"]["only_a"])),
                 ("only in B", str(s["layers"]["only_b"]))]
    if s["files"]:
        f = s["files"]
        figs += [("files added", str(f["added"])), ("removed", str(f["removed"])), ("modified", str(f["modified"])),
                 ("file bytes", signed(f["size_delta"]))]
    if s["config"] is not None:
        figs.append(("config changes", str(s["config"])))
    if s["packages"]:
        p = s["packages"]
        figs.append(("packages +/-/~", f"{p['added']}/{p['removed']}/{p['changed']}"))
    a, b = doc["a"], doc["b"]
    facts = [("A", f"{_name(a)} ({a['path']})"), ("B", f"{_name(b)} ({b['path']})"),
             ("A size", size(a["size"])), ("B size", size(b["size"])), ("compared", ", ".join(doc["compared"]))]
    warnings = a["warnings"] + b["warnings"]
    extra = "<ul>" + "".join(f'<li class="warn">{esc(w)}</li>' for w in warnings) + "</ul>" if warnings else ""
    return section("Summary", figures(figs) + kv(facts) + extra, id="summary")


def _directories(dirs: list[dict[str, Any]]) -> str:
    shown = dirs[:DIRECTORIES]
    rows = [(d["path"], d["size_delta"], f"{signed(d['size_delta'])}  +{d['added']} -{d['removed']} ~{d['modified']}")
            for d in shown]
    more = f'<p class="more">the {len(shown)} largest of {len(dirs)}</p>' if len(dirs) > len(shown) else ""
    return section("Growth by directory (B - A)", bars(rows, id="dir-bars", row_class="dir-bar") + more,
                   id="directories")


def _alignment(lay: dict[str, Any]) -> str:
    shared = {s["diff_id"] for s in lay["shared"]}

    def column(rows: list[dict[str, Any]], side: str) -> str:
        body = "".join(
            f'<tr class="{"shared" if r["diff_id"] in shared else "only-" + side}" data-diff-id="{esc(r["diff_id"])}">'
            f'<td class="n">{r["index"]}</td><td class="p">{esc(short(r["diff_id"]))}</td>'
            f'<td class="n">{esc(size(r["size"]))}</td><td>{esc((r["created_by"] or "")[:160])}</td></tr>'
            for r in rows)
        return (f'<table id="layers-{side}"><thead><tr><th class="n">#</th><th>diff_id</th><th class="n">size</th>'
                f"<th>created by ({side.upper()})</th></tr></thead><tbody>{body}</tbody></table>")

    figs = figures([("shared", size(lay["shared_bytes"])), ("only A", size(lay["only_a_bytes"])),
                    ("only B", size(lay["only_b_bytes"])), ("shared prefix", str(lay["shared_prefix"])),
                    ("first divergence", "-" if lay["first_divergence"] is None else str(lay["first_divergence"]))])
    key = ('<div class="legend"><span><i class="sw shared"></i>shared</span><span><i class="sw only-a"></i>only A</span>'
           '<span><i class="sw only-b"></i>only B</span></div>')
    return section("Layers", figs + key + f'<div class="cols">{column(lay["a"], "a")}{column(lay["b"], "b")}</div>',
                   id="alignment")


def _files(files: dict[str, Any]) -> str:
    rows, classes = [], []
    for f in files["added"]:
        rows.append((f["path"], "added", f["type"], "", size(f["size"])))
        classes.append("only-b")
    for f in files["removed"]:
        rows.append((f["path"], "removed", f["type"], size(f["size"]), ""))
        classes.append("only-a")
    for f in files["modified"]:
        rows.append((f["path"], ", ".join(f["changes"]), f["type_a"] if f["type_a"] == f["type_b"]
                     else f"{f['type_a']} -> {f['type_b']}", size(f["size_a"]), size(f["size_b"])))
        classes.append("")
    return section("Files", table(("path", "change", "type", "size A", "size B"), rows, numeric=(3, 4), paths=(0,),
                                  id="files-table", filter=True, classes=classes), id="files")


def _config(cfg: dict[str, Any]) -> str:
    rows = [(c["field"], c["key"] or "", c["change"], value(c["a"]), value(c["b"])) for c in cfg["changes"]]
    return section("Config", table(("field", "key", "change", "A", "B"), rows, id="config-table", filter=True),
                   id="config")


def _packages(pk: dict[str, Any]) -> str:
    rows = [(p["type"], p["name"], "added", "", p["version"], p["path"]) for p in pk["added"]]
    rows += [(p["type"], p["name"], "removed", p["version"], "", p["path"]) for p in pk["removed"]]
    rows += [(p["type"], p["name"], "changed", p["version_a"], p["version_b"], p["path_b"]) for p in pk["changed"]]
    warn = "<ul>" + "".join(f'<li class="warn">{esc(w)}</li>' for w in pk["warnings"]) + "</ul>" if pk["warnings"] else ""
    return section("Packages", table(("type", "name", "change", "version A", "version B", "database"), rows,
                                     paths=(5,), id="packages-table", filter=True) + warn, id="packages")


def _history(hist: dict[str, Any]) -> str:
    rows = [(s["change"], "-" if s["a"] is None else s["a"], "-" if s["b"] is None else s["b"], s["created_by"] or "")
            for s in hist["steps"]]
    cls = ["" if s["change"] == "same" else "only-a" if s["change"] == "removed" else "only-b" for s in hist["steps"]]
    return section("History", table(("step", "A", "B", "created by"), rows, numeric=(1, 2), id="history-table",
                                    classes=cls), id="history")


def render_compare(doc: dict[str, Any]) -> str:
    parts = [_summary(doc)]
    if doc["directories"]:
        parts.append(_directories(doc["directories"]))
    if doc["layers"] is not None:
        parts.append(_alignment(doc["layers"]))
    if doc["files"] is not None:
        parts.append(_files(doc["files"]))
    if doc["config"] is not None:
        parts.append(_config(doc["config"]))
    if doc["packages"] is not None:
        parts.append(_packages(doc["packages"]))
    if doc["history"] is not None:
        parts.append(_history(doc["history"]))
    return page(f"compare: {_name(doc['a'])} vs {_name(doc['b'])}", "layerscope compare", parts, kind="compare")
