"""Markdown summaries for a PR comment or ``$GITHUB_STEP_SUMMARY``: the headline
figures and the top offenders of each command's JSON document.

A renderer takes the document (``render(doc)`` dispatches on its ``schema``),
so it shows nothing the JSON does not hold. The result is always shorter than
:data:`MAX_CHARS` (GitHub refuses a comment of 65,536 characters or more),
whatever the image: every table is cut at a few rows with a "… N more" line,
every cell at a few dozen characters with an ellipsis, and should the whole
still be too long, trailing sections are dropped with a note (docs/reports.md).
"""

from __future__ import annotations

import heapq
import re
from itertools import chain
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..errors import UsageError
from ..units import human_size
from .text import _one_line

MAX_CHARS = 65_000  # under GitHub's 65,536 for a comment, with room to spare
ROWS = 20  # rows per table
CELL = 80  # characters of a cell (a path, a command) before the ellipsis

# what would end a cell or turn text into markup inside one: emphasis, links, HTML, entities
_SPECIAL = re.compile(r"([\\`*_\[\]<>|~]|&(?=#?\w+;))")


# ---- cells and tables -------------------------------------------------------------------

def _clip(value: Any, width: int) -> str:
    s = str(value)
    head = " ".join(s[: 4 * width].split())  # newlines and tabs would end the table row
    if len(head) <= width and len(s) <= 4 * width:
        return head
    return head[: width - 1] + "…"  # a megabyte of message is not folded whole to keep 80 characters of it


def _clip_path(value: Any, width: int) -> str:
    """A long path cut in its middle: the file's name is what a reader looks for."""
    s = str(value)
    if len(s) > 4 * width:  # a megabyte of path is not folded whole to keep 80 characters of it
        s = s[:width] + s[-2 * width:]
    s = " ".join(s.split())
    if len(s) <= width:
        return s
    keep = width - 1
    tail = max(keep * 2 // 3, keep - 24)  # most of it for the end, a little of the start to place it
    return s[: keep - tail] + "…" + s[-tail:]


def path(value: Any, width: int = CELL) -> str:
    """An image path as inline code, cut in the middle (``/usr/lib/…/site-packages/x.py``)."""
    if value is None or value == "":
        return "-"
    return code(_clip_path(value, width), width)


def cell(value: Any, width: int = CELL) -> str:
    """Text for a table cell: one line, at most ``width`` characters, Markdown and HTML specials escaped."""
    if value is None or value == "":
        return "-"
    return _SPECIAL.sub(r"\\\1", _clip(value, width))


def command(created_by: str | None) -> str:
    """A history step as the text shows it (``RUN apt-get …``, not ``/bin/sh -c apt-get …``)."""
    return cell(_one_line(created_by, CELL) or None)


def code(value: Any, width: int = CELL) -> str:
    """A path or a digest as inline code (plain escaped text when it holds a backtick)."""
    if value is None or value == "":
        return "-"
    s = _clip(value, width)
    if "`" in s:
        return cell(s, width)
    return "`" + s.replace("|", "\\|") + "`"


def table(head: Sequence[str], rows: Iterable[Sequence[str]], total: int, *, right: Sequence[int] = ()) -> str:
    """A GFM table of at most :data:`ROWS` of ``rows`` (of ``total`` in all), then a "… N more" line."""
    out = ["| " + " | ".join(head) + " |",
           "| " + " | ".join("---:" if i in right else "---" for i in range(len(head))) + " |"]
    for row in rows:
        if len(out) - 2 == ROWS:
            break
        out.append("| " + " | ".join(row) + " |")
    if total > ROWS:
        out.append(f"\n… {total - ROWS:,} more (`--format json` lists them all)")
    return "\n".join(out)


def _size(n: int | None) -> str:
    return human_size(n)


def _signed(n: int | None) -> str:
    return human_size(n, signed=True) if n else "0 B"


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.2%}"


def _short(digest: str | None) -> str:
    if not digest:
        return "-"
    return code(digest.partition(":")[2][:12] or digest[:12])


def _image(img: dict[str, Any]) -> str:
    ref, path = img.get("ref"), img.get("path")
    return cell(f"{ref} ({path})" if ref and path else ref or path or "-", 2 * CELL)


def _section(title: str, body: str) -> str:
    return f"#### {title}\n\n{body}"


# ---- the whole --------------------------------------------------------------------------

def _bounded(sections: list[str]) -> str:
    """The sections, dropping trailing ones (with a note) until the text is under :data:`MAX_CHARS`."""
    text = "\n\n".join(sections) + "\n"
    if len(text) < MAX_CHARS:
        return text
    for keep in range(len(sections) - 1, 0, -1):
        note = (f"_… {len(sections) - keep} more section{'s' if len(sections) - keep > 1 else ''} left out to stay "
                f"under {MAX_CHARS:,} characters: `--format json` has everything._")
        text = "\n\n".join([*sections[:keep], note]) + "\n"
        if len(text) < MAX_CHARS:
            return text
    note = "\n\n_… cut here to stay under the size limit: `--format json` has everything._\n"
    head = sections[0][: MAX_CHARS - len(note) - 1]
    return head[: head.rfind("\n")] + note if "\n" in head else head + note


def render(doc: dict[str, Any]) -> str:
    """The Markdown summary of any command's JSON document."""
    schema = str(doc.get("schema", ""))
    name = schema.partition("/")[0]
    fn = _RENDERERS.get(name)
    if fn is None:
        raise UsageError(f"no Markdown rendering of a {schema or 'schema-less'} document")
    return _bounded(fn(doc))


# ---- inspect ----------------------------------------------------------------------------

def inspect_md(doc: dict[str, Any]) -> list[str]:
    img, layers = doc["image"], doc["layers"]
    eff = doc.get("efficiency")
    facts = [f"- **Size:** {_size(img['size'])} uncompressed, {_size(img['compressed_size'])} stored, "
             f"{_n(len(layers), 'layer')}"]
    if eff is not None:
        facts.append(f"- **Efficiency:** {_pct(eff['efficiency'])}, **wasted:** {_size(eff['wasted_bytes'])}, "
                     f"user layers wasted {_pct(eff['user_wasted_ratio'])} (dive: efficiency "
                     f"{_pct(eff['dive_efficiency'])}, wasted {_size(eff['dive_wasted_bytes'])})")
    dup = doc.get("duplicate_content")
    if dup and dup["groups"]:
        facts.append(f"- **Duplicate content:** {_size(dup['savable_bytes'])} savable "
                     f"({_n(len(dup['groups']), 'group')})")
    facts.append(f"- **Config:** {code(img.get('config_digest'))}, platform {cell(img.get('platform'))}")
    out = [f"### layerscope inspect: {_image(img)}\n\n" + "\n".join(facts)]
    big = heapq.nlargest(ROWS, layers, key=lambda x: (x["size"] or 0, -x["index"]))
    out.append(_section("Largest layers", table(
        ["#", "Size", "Stored", "Entries", "Created by"],
        ([str(x["index"]), _size(x["size"]), _size(x["compressed_size"]),
          "-" if x["entries"] is None else f"{x['entries']:,}", command(x["created_by"])] for x in big),
        len(layers), right=(0, 1, 2, 3))))
    if eff is not None and eff["top"]:
        out.append(_section("Top wasted paths", table(
            ["Wasted", "Reason", "Layers", "Path"],
            ([_size(t["bytes"]), cell(t["reason"]), cell(",".join(map(str, t["layers"]))), path(t["path"])]
             for t in eff["top"]), len(eff["top"]), right=(0,))))
    if dup and dup["groups"]:
        out.append(_section("Duplicate content", table(
            ["Savable", "Copies", "Paths"],
            ([_size(g["savable_bytes"]), str(len(g["paths"])),
              ", ".join(path(p, CELL // 2) for p in g["paths"][:3]) + (" …" if len(g["paths"]) > 3 else "")]
             for g in dup["groups"]), len(dup["groups"]), right=(0, 1))))
    if doc.get("warnings"):
        out.append(_warnings(doc["warnings"]))
    return out


def _warnings(items: Sequence[Any]) -> str:
    def text(w: Any) -> str:
        return f"{w['code']}: {w['path']}: {w['message']}" if isinstance(w, dict) else str(w)

    lines = [f"- {cell(text(w), 2 * CELL)}" for w in items[:ROWS]]
    if len(items) > ROWS:
        lines.append(f"- … {len(items) - ROWS:,} more")
    return _section(f"Warnings ({len(items):,})", "\n".join(lines))


# ---- changes ----------------------------------------------------------------------------

_CONTENT_CHANGES = ("added", "modified", "metadata")


def _written(c: dict[str, Any]) -> int:
    """The bytes a change wrote into its layer (a directory's size is no content)."""
    return (c["size"] or 0) if c["change"] in _CONTENT_CHANGES and c["type"] != "dir" else 0


def _weight(c: dict[str, Any]) -> int:
    """What a change cost or freed: the bytes it wrote, and the bytes it took out of view."""
    return _written(c) + (c["removed_bytes"] or 0)


def changes_md(doc: dict[str, Any]) -> list[str]:
    layers = doc["layers"]
    counts = {k: 0 for k in ("added", "modified", "metadata", "deleted", "opaque")}
    written = removed = 0
    for d in layers:
        for c in d["changes"]:
            counts[c["change"]] = counts.get(c["change"], 0) + 1
            written += _written(c)
            removed += c["removed_bytes"] or 0
    which = f"layer {layers[0]['index']}" if len(layers) == 1 else f"{len(layers):,} layers"
    out = [f"### layerscope changes: {_image(doc['image'])}\n\n"
           f"- **{which}:** " + ", ".join(f"{n:,} {k}" for k, n in counts.items()) + "\n"
           f"- **Written:** {_size(written)} (added, modified, metadata-only copies); "
           f"**taken out of view:** {_size(removed)}"]
    rows = []
    for d in layers:
        n = {k: 0 for k in counts}
        for c in d["changes"]:
            n[c["change"]] = n.get(c["change"], 0) + 1
        rows.append([str(d["index"]), _short(d["digest"]), str(n["added"]), str(n["modified"] + n["metadata"]),
                     str(n["deleted"] + n["opaque"]), _size(sum(map(_written, d["changes"]))),
                     command(d["created_by"])])
    out.append(_section("Per layer", table(["#", "Digest", "Added", "Modified", "Deleted", "Written", "Created by"],
                                           rows, len(rows), right=(0, 2, 3, 4, 5))))
    every = ((d["index"], c) for d in layers for c in d["changes"])
    big = heapq.nlargest(ROWS, every, key=lambda x: (_weight(x[1]), -x[0]))
    big = [(i, c) for i, c in big if _weight(c)]
    if big:
        total = sum(1 for d in layers for c in d["changes"] if _weight(c))
        out.append(_section("Biggest changes", table(
            ["Layer", "Change", "Type", "Size", "Removes", "Path"],
            ([str(i), c["change"], c["type"], _size(c["size"]) if c["type"] != "dir" else "-",
              _size(c["removed_bytes"]) if c["removed_bytes"] else "-", path(c["path"])] for i, c in big),
            total, right=(0, 3, 4))))
    warnings = [w for d in layers for w in d["warnings"]]
    if warnings:
        out.append(_warnings(warnings))
    return out


# ---- compare ----------------------------------------------------------------------------

def _side(s: dict[str, Any]) -> list[str]:
    return [_image(s), str(s["layers"]), _size(s["size"]), cell(s.get("platform"))]


def compare_md(doc: dict[str, Any]) -> list[str]:
    a, b, summ = doc["a"], doc["b"], doc["summary"]
    head = ("### layerscope compare: " + ("the images differ" if summ["differ"] else "no differences") + "\n\n"
            + table(["", "Image", "Layers", "Size", "Platform"], [["A", *_side(a)], ["B", *_side(b)]], 2,
                    right=(2, 3)))
    facts = []
    if summ["layers"] is not None:
        s = summ["layers"]
        facts.append(f"- **Layers:** {s['shared']:,} shared ({_size(s['shared_bytes'])}), {s['only_a']:,} only in A "
                     f"({_size(s['only_a_bytes'])}), {s['only_b']:,} only in B ({_size(s['only_b_bytes'])})")
    if summ["files"] is not None:
        s = summ["files"]
        facts.append(f"- **Files:** {s['added']:,} added, {s['removed']:,} removed, {s['modified']:,} modified "
                     f"({_signed(s['size_delta'])})")
    if summ["packages"] is not None:
        s = summ["packages"]
        facts.append(f"- **Packages:** {s['added']:,} added, {s['removed']:,} removed, {s['changed']:,} changed")
    if summ["config"] is not None:
        facts.append(f"- **Config:** {_n(summ['config'], 'change')}")
    if summ["history"] is not None:
        facts.append(f"- **History:** {_n(summ['history']['added'], 'step')} added, "
                     f"{summ['history']['removed']:,} removed")
    out = [head + ("\n\n" + "\n".join(facts) if facts else "")]
    files = doc.get("files")
    if files:
        changes = [*(("added", f["path"], f["size"] or 0, f["type"]) for f in files["added"]),
                   *(("removed", f["path"], -(f["size"] or 0), f["type"]) for f in files["removed"]),
                   *(("modified", m["path"], (m["size_b"] or 0) - (m["size_a"] or 0), m["changes"])
                     for m in files["modified"])]
        if changes:
            big = heapq.nlargest(ROWS, changes, key=lambda c: abs(c[2]))
            out.append(_section("Biggest file changes", table(
                ["Change", "Size", "What", "Path"], ([c, _signed(n), cell(what if isinstance(what, str) else ", ".join(what)), path(p)]
                 for c, p, n, what in big),
                len(changes), right=(1,))))
    dirs = doc.get("directories")
    if dirs:
        out.append(_section("Size change by directory", table(
            ["Size", "Added", "Removed", "Modified", "Directory"],
            ([_signed(d["size_delta"]), f"{d['added']:,}", f"{d['removed']:,}", f"{d['modified']:,}", path(d["path"])]
             for d in dirs), len(dirs), right=(0, 1, 2, 3))))
    pk = doc.get("packages")
    if pk and (pk["added"] or pk["removed"] or pk["changed"]):
        rows = chain((["added", cell(p["type"]), cell(p["name"]), "-", cell(p["version"])] for p in pk["added"]),
                     (["removed", cell(p["type"]), cell(p["name"]), cell(p["version"]), "-"] for p in pk["removed"]),
                     (["changed", cell(p["type"]), cell(p["name"]), cell(p["version_a"]), cell(p["version_b"])]
                      for p in pk["changed"]))
        out.append(_section("Packages", table(["Change", "Type", "Name", "A", "B"], rows,
                                              len(pk["added"]) + len(pk["removed"]) + len(pk["changed"]))))
    config = doc.get("config")
    if config and config["changes"]:
        ch = config["changes"]
        out.append(_section("Config", table(
            ["Field", "Key", "Change", "A", "B"],
            ([cell(c["field"]), cell(c["key"]), c["change"], cell(_json(c["a"])), cell(_json(c["b"]))] for c in ch),
            len(ch))))
    warnings = [f"A: {w}" for w in a["warnings"]] + [f"B: {w}" for w in b["warnings"]] + (pk["warnings"] if pk else [])
    if warnings:
        out.append(_warnings(warnings))
    return out


def _json(v: Any) -> str | None:
    if v is None or isinstance(v, str):
        return v
    import json

    return json.dumps(v, ensure_ascii=False)


# ---- savings ----------------------------------------------------------------------------

_LEVELS = ("layer", "chainid", "file", "chunk")


def savings_md(doc: dict[str, Any]) -> list[str]:
    totals, images = doc["totals"], doc["images"]
    naive = totals["naive"]["bytes"]
    best = min(_LEVELS, key=lambda lv: totals[lv]["bytes"])
    head = (f"### layerscope savings: {_n(len(images), 'image')}\n\n"
            f"- **Naive:** {_size(naive)}; **with {best} sharing:** {_size(totals[best]['bytes'])} "
            f"({_share(totals[best]['bytes'], naive)} of naive)\n\n"
            + table(["Stored", "Bytes", "Of naive", "zstd -3"],
                    ([lv, _size(totals[lv]["bytes"]), _share(totals[lv]["bytes"], naive),
                      _size(totals[lv]["compressed"])] for lv in ("naive", *_LEVELS)), 1 + len(_LEVELS),
                    right=(1, 2, 3)))
    out = [head]
    names = {i["index"]: i["name"] for i in images}
    out.append(_section("Per image (layer sharing)", table(
        ["#", "Image", "Size", "Shared", "Unique"],
        ([str(p["image"]), code(names.get(p["image"])), _size(p["layer"]["bytes"]), _size(p["layer"]["shared"]),
          _size(p["layer"]["unique"])] for p in doc["per_image"]), len(doc["per_image"]), right=(0, 2, 3, 4))))
    top = doc["top_layers"]
    if top:
        out.append(_section("Top shared layers", table(
            ["Layer", "Size", "Images"],
            ([_short(t["diff_id"]), _size(t["size"]), cell(", ".join(map(str, t["images"])))] for t in top),
            len(top), right=(1,))))
    near = doc["near_misses"]
    if near:
        out.append(_section("Near misses (different diff_ids, mostly the same files)", table(
            ["A", "B", "Stored twice", "Alike", "Cause", "Paths differ"],
            ([_short(m["a"]), _short(m["b"]), _size(m["common"]), f"{100 * m['share']:.0f}%", cell(m["cause"]),
              f"{m['changed']:,}" if m["changed"] else "-"] for m in near), len(near), right=(2, 3, 5))))
    return out


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


# ---- ci ---------------------------------------------------------------------------------

_ICON = {"PASS": "✅ PASS", "FAIL": "❌ FAIL", "SKIP": "⏭️ SKIP"}


def ci_md(doc: dict[str, Any]) -> list[str]:
    from .ci_out import format_value  # ci_out renders its Markdown here: imported when needed

    rules = doc["rules"]
    failed = sum(r["status"] == "FAIL" for r in rules)
    skipped = sum(r["status"] == "SKIP" for r in rules)
    tail = f", {skipped} skipped" if skipped else ""
    summary = (f"FAIL ({failed} of {len(rules)} rules failed{tail})" if failed
               else f"PASS ({len(rules) - skipped} of {len(rules)} rules passed{tail})")
    cfg = doc["config"]
    facts = [f"- **Image:** {_image(doc['image'])}",
             f"- **Config:** {cell(cfg['source'])}" + ("; measured with dive's figures" if cfg["metrics"] == "dive"
                                                      else "")]
    if doc.get("baseline") is not None:
        facts.append(f"- **Baseline:** {_image(doc['baseline'])}")
    facts.append(f"- **Result:** {cell(summary)}")
    rows = [[code(r["name"]), _ICON.get(r["status"], cell(r["status"])), cell(format_value(r["name"], r["value"])),
             cell(format_value(r["name"], r["threshold"])), cell(r["message"], 2 * CELL)] for r in rules]
    return [f"### layerscope ci: {_ICON.get(doc['result'], cell(doc['result']))}\n\n" + "\n".join(facts),
            table(["Rule", "Status", "Value", "Threshold", "Details"], rows, len(rows))]


# ---- workload ---------------------------------------------------------------------------

def _ids(items: Sequence[Any], name: Callable[[Any], Any] = str) -> str:
    """A list as one cell, its first dozen and the count: a layer may be held by thousands of workloads."""
    return cell(", ".join(str(name(i)) for i in items[:12]) + (f" … ({len(items):,})" if len(items) > 12 else ""))


def workload_md(doc: dict[str, Any]) -> list[str]:
    """Warnings come right after the headline: an unresolved image makes every figure an
    undercount, and trailing sections are the ones dropped when the text is too long."""
    wls, t, rb = doc["workloads"], doc["total"], doc["rebase"]
    names = [w["name"] for w in wls]
    unresolved = sum(c["image"] is None for w in wls for c in w["containers"])
    facts = [f"- **Pulled:** {_size(t['pulled'])} (naive {_size(t['naive_pulled'])}); **stored:** "
             f"{_size(t['stored'])} (naive {_size(t['naive_stored'])}): every workload on one node "
             f"(naive: each on a node of its own)"]
    if rb["groups"]:
        facts.append(f"- **Rebase:** one common base would store {_size(rb['saving'])} less "
                     f"({_size(t['stored'])} → {_size(rb['stored_after'])}) and pull about "
                     f"{_size(rb['saving_compressed'])} less")
    else:
        facts.append("- **Rebase:** no near-miss layers between images of the same distro base")
    if unresolved:
        facts.append(f"- **Unresolved:** {_n(unresolved, 'container')}, left out of the figures (see the warnings)")
    if doc["files"]:
        facts.append(f"- **Files:** {_ids(doc['files'])}")
    out = [f"### layerscope workload: {_n(len(wls), 'workload')}, {_n(len(doc['images']), 'distinct image')}\n\n"
           + "\n".join(facts)]
    if doc["warnings"]:
        out.append(_warnings(doc["warnings"]))

    def images(w: dict[str, Any]) -> str:
        lost = sum(c["image"] is None for c in w["containers"])
        return f"{len(w['images']):,}" + (f" + {lost:,} unresolved" if lost else "")

    big = heapq.nlargest(ROWS, wls, key=lambda w: (w["stored"], -w["index"]))
    out.append(_section("Workloads (most stored first)", table(
        ["#", "Workload", "Kind", "Images", "Pulled", "Stored", "Naive stored"],
        ([str(w["index"]), cell(w["name"]), cell(w["kind"]), images(w), _size(w["pulled"]), _size(w["stored"]),
          _size(w["naive_stored"])] for w in big), len(wls), right=(0, 4, 5, 6))))
    if doc["nodes"]:
        out.append(_section("Per node", table(
            ["Node", "Workloads", "Pulled", "Stored", "Naive stored"],
            ([cell(n["name"]), _ids(n["workloads"], names.__getitem__), _size(n["pulled"]), _size(n["stored"]),
              _size(n["naive_stored"])] for n in doc["nodes"]), len(doc["nodes"]), right=(2, 3, 4))))
    shared = t["shared_layers"]
    if shared:
        out.append(_section("Layers several workloads store", table(
            ["Layer (ChainID)", "Size", "Compressed", "Workloads"],
            ([_short(s["chain_id"]), _size(s["size"]), _size(s["compressed"]), _ids(s["workloads"])] for s in shared),
            len(shared), right=(1, 2))))
    if rb["groups"]:
        layers = chain.from_iterable(g["layers"] for g in rb["groups"])
        out.append(_section("Rebase: near-miss layers one base would share", table(
            ["Images", "Layer", "Like", "Saves", "Pull saves", "Alike", "Cause"],
            ([_ids(lay["images"]), _short(lay["diff_id"]), _short(lay["like"]), _size(lay["saving"]),
              _size(lay["saving_compressed"]), f"{100 * lay['share']:.0f}%", cell(lay["cause"])] for lay in layers),
            sum(len(g["layers"]) for g in rb["groups"]), right=(3, 4, 5))))
    return out


# ---- store stats ------------------------------------------------------------------------

def store_stats_md(doc: dict[str, Any]) -> list[str]:
    b, r = doc["bytes"], doc["ratio"]
    return [f"### layerscope store stats: {code(doc['store'], 2 * CELL)}\n\n" + table(
        ["", "Count", "Shared"],
        [["Images", f"{doc['images']:,}", "-"],
         ["Layers", f"{doc['layers']['count']:,}", f"{doc['layers']['shared']:,}"],
         ["Files", f"{doc['files']['count']:,}", f"{doc['files']['shared']:,}"],
         ["Chunks", f"{doc['chunks']['count']:,}", f"{doc['chunks']['shared']:,}"]], 4, right=(1, 2))
        + "\n\n" + table(
        ["Bytes", "Size", "Ratio"],
        [["Logical (every image's layers and blobs)", _size(b["logical"]), "-"],
         ["Unique (after dedup)", _size(b["unique"]), f"{r['dedup']:.2f}x"],
         ["Stored (zstd packs and index)", _size(b["stored"]), f"{r['compression']:.2f}x; in all {r['total']:.2f}x"]],
        3, right=(1, 2))]


_RENDERERS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "layerscope.inspect": inspect_md,
    "layerscope.changes": changes_md,
    "layerscope.compare": compare_md,
    "layerscope.savings": savings_md,
    "layerscope.ci": ci_md,
    "layerscope.store.stats": store_stats_md,
    "layerscope.workload": workload_md,
}
