"""`compare` rendered: the ``layerscope.compare/1`` JSON document and the text for a terminal.

The JSON shape is a contract (docs/json.md); image paths are absolute there
and in the text, as in every other document.
"""

from __future__ import annotations

from typing import Any

from ..analysis.compare import CompareReport, DirectoryDelta, ImageSide
from ..analysis.image_diff import LayerRow
from ..fs.diff import kind, size
from ..packages import Package
from ..units import human_size
from .json_out import image_path
from .style import CHANGE_STYLE, Paint, capped, finish
from .text import _one_line, short_digest

COMPARE_SCHEMA = "layerscope.compare/1"
LIMIT = 20  # rows per list in the text, unless --all


# ---- JSON -------------------------------------------------------------------------------

def _side_doc(s: ImageSide) -> dict[str, Any]:
    return {"ref": s.ref, "path": s.path, "format": s.format, "manifest_digest": s.manifest_digest,
            "config_digest": s.config_digest, "platform": s.platform, "layers": s.layers, "size": s.size,
            "compressed_size": s.compressed_size, "verified": s.verified, "warnings": s.warnings}


def _row(r: LayerRow) -> dict[str, Any]:
    return {"index": r.index, "digest": r.digest, "diff_id": r.diff_id, "size": r.size,
            "compressed_size": r.compressed_size, "created_by": r.created_by}


def _package(p: Package) -> dict[str, Any]:
    return {"type": p.type, "name": p.name, "version": p.version, "arch": p.arch, "size": p.size,
            "path": image_path(p.path)}


def _node(path: str, node) -> dict[str, Any]:
    return {"path": image_path(path), "type": kind(node), "size": size(node)}


def _directory(d: DirectoryDelta) -> dict[str, Any]:
    return {"path": image_path(d.path), "size_delta": d.size_delta, "added": d.added, "removed": d.removed,
            "modified": d.modified}


def compare_doc(r: CompareReport) -> dict[str, Any]:
    lc, files, pk, hist = r.layers, r.files, r.packages, r.history
    return {
        "schema": COMPARE_SCHEMA,
        "a": _side_doc(r.a),
        "b": _side_doc(r.b),
        "compared": list(r.sections),
        "layers": None if lc is None else {
            "a": [_row(x) for x in lc.a],
            "b": [_row(x) for x in lc.b],
            "shared": [{"diff_id": s.diff_id, "size": s.size, "a": s.a, "b": s.b} for s in lc.shared],
            "only_a": [_row(x) for x in lc.only_a],
            "only_b": [_row(x) for x in lc.only_b],
            "shared_prefix": lc.shared_prefix,
            "shared_chain_id": lc.shared_chain_id,
            "first_divergence": lc.first_divergence,
            "shared_bytes": lc.shared_bytes,
            "only_a_bytes": lc.only_a_bytes,
            "only_b_bytes": lc.only_b_bytes,
        },
        "config": None if r.config is None else {
            "changes": [{"field": c.field, "key": c.key, "change": c.change, "a": c.a, "b": c.b} for c in r.config],
        },
        "history": None if hist is None else {
            "steps": [{"change": s.change, "a": s.a, "b": s.b, "created_by": s.created_by,
                       "empty_layer": s.empty_layer} for s in hist.steps],
            "added": len(hist.added),
            "removed": len(hist.removed),
        },
        "files": None if files is None else {
            "added": [_node(p, n) for p, n in files.added],
            "removed": [_node(p, n) for p, n in files.removed],
            "modified": [{"path": image_path(m.path), "changes": list(m.changes), "type_a": kind(m.a),
                          "type_b": kind(m.b), "size_a": size(m.a), "size_b": size(m.b)} for m in files.modified],
        },
        "directories": None if r.directories is None else [_directory(d) for d in r.directories],
        "packages": None if pk is None else {
            "added": [_package(p) for p in pk.added],
            "removed": [_package(p) for p in pk.removed],
            "changed": [{"type": b.type, "name": b.name, "version_a": a.version, "version_b": b.version,
                         "arch_a": a.arch, "arch_b": b.arch, "size_a": a.size, "size_b": b.size,
                         "path_a": image_path(a.path), "path_b": image_path(b.path)} for a, b in pk.changed],
            "counts_a": pk.counts_a,
            "counts_b": pk.counts_b,
            "warnings": pk.warnings,
        },
        "summary": summary(r),
    }


def summary(r: CompareReport) -> dict[str, Any]:
    lc, files, pk, hist = r.layers, r.files, r.packages, r.history
    return {
        "differ": r.differ,
        "layers": None if lc is None else {
            "shared": len(lc.shared), "only_a": len(lc.only_a), "only_b": len(lc.only_b),
            "shared_bytes": lc.shared_bytes, "only_a_bytes": lc.only_a_bytes, "only_b_bytes": lc.only_b_bytes,
        },
        "config": None if r.config is None else len(r.config),
        "history": None if hist is None else {"added": len(hist.added), "removed": len(hist.removed)},
        "files": None if files is None else {
            "added": len(files.added), "removed": len(files.removed), "modified": len(files.modified),
            "size_delta": size_delta(r),
        },
        "packages": None if pk is None else {"added": len(pk.added), "removed": len(pk.removed),
                                             "changed": len(pk.changed)},
    }


def size_delta(r: CompareReport) -> int:
    """Regular-file bytes: B minus A (the root directory's row, when anything changed)."""
    root = next((d for d in r.directories or () if d.path == ""), None)
    if root is not None:
        return root.size_delta
    f = r.files
    return (sum(size(n) for _p, n in f.added) - sum(size(n) for _p, n in f.removed)
            + sum(size(m.b) - size(m.a) for m in f.modified)) if f else 0


# ---- text -------------------------------------------------------------------------------

def _name(s: ImageSide) -> str:
    return f"{s.ref or s.path} ({s.format}{', ' + s.platform if s.platform else ''})"


def _signed(n: int) -> str:
    return human_size(n, signed=True)


def _delta(n: int) -> str:
    return _signed(n) if n else ""


def compare_text(r: CompareReport, *, all_rows: bool = False, width: int = 120, color: bool = False) -> str:
    paint = Paint(color)

    def sign(m: str) -> str:
        return paint(m, CHANGE_STYLE[m[0]])

    limit = None if all_rows else LIMIT
    lc, files, pk, hist = r.layers, r.files, r.packages, r.history
    sa, sb = r.a, r.b
    out = [f"A: {_name(sa)}  {_layers(sa.layers)}, {human_size(sa.size) if sa.size is not None else '-'}",
           f"B: {_name(sb)}  {_layers(sb.layers)}, {human_size(sb.size) if sb.size is not None else '-'}",
           ""]
    # -- the summary -----------------------------------------------------------------------
    if lc is not None:
        where = ("same layer stack" if lc.first_divergence is None
                 else f"shared prefix {_layers(lc.shared_prefix)}, diverge at layer {lc.first_divergence}")
        out.append(f"Layers:    {len(lc.shared)} shared ({human_size(lc.shared_bytes)}), "
                   f"{len(lc.only_a)} only in A ({human_size(lc.only_a_bytes)}), "
                   f"{len(lc.only_b)} only in B ({human_size(lc.only_b_bytes)}); {where}")
    if files is not None:
        out.append(f"Files:     {sign(f'+{len(files.added):,}')} {sign(f'-{len(files.removed):,}')} "
                   f"{sign(f'~{len(files.modified):,}')}  "
                   f"({_signed(size_delta(r))})")
    if pk is not None:
        out.append(f"Packages:  {sign(f'+{len(pk.added):,}')} {sign(f'-{len(pk.removed):,}')} "
                   f"{sign(f'~{len(pk.changed):,}')}  "
                   f"(A: {_counts(pk.counts_a)}; B: {_counts(pk.counts_b)})")
    if r.config is not None:
        out.append(f"Config:    {len(r.config)} change{'s' if len(r.config) != 1 else ''}")
    if hist is not None:
        out.append(f"History:   +{len(hist.added)} -{len(hist.removed)} steps")
    if r.directories:
        out.append("Biggest directory changes:")
        out.extend(f"  {_signed(d.size_delta):>10}  {image_path(d.path)}" for d in r.directories[:3])
    if not r.differ:
        out.append("No differences.")
    # -- the sections ----------------------------------------------------------------------
    if lc is not None and lc.first_divergence is not None:
        out += ["", "Layers (A | B):"]
        for i in range(max(len(lc.a), len(lc.b))):
            la = lc.a[i] if i < len(lc.a) else None
            lb = lc.b[i] if i < len(lc.b) else None
            mark = "=" if la and lb and la.diff_id == lb.diff_id and i < lc.shared_prefix else "≠" if la and lb else " "
            left = f"{short_digest(la.diff_id):<12} {human_size(la.size):>9}" if la else " " * 22
            right = f"{short_digest(lb.diff_id):<12} {human_size(lb.size):>9}" if lb else ""
            step = _one_line((lb or la).created_by, max(20, width - 60))
            out.append(f"  {i:>3}  {left}  {mark}  {right:<22}  {step}")
    if r.config:
        out += ["", "Config:"]
        for c in r.config:
            what = f"{c.field}{' ' + c.key if c.key is not None else ''}"
            if c.change == "changed":
                out.append(f"  {sign('~')} {what}: {_value(c.a)} -> {_value(c.b)}")
            else:
                out.append(f"  {sign('+' if c.change == 'added' else '-')} {what}"
                           + (f": {_value(c.a if c.change == 'removed' else c.b)}" if c.key is None
                              or c.field in ('env', 'labels') else ""))
    if hist is not None and (hist.added or hist.removed):
        out += ["", "History (- only in A, + only in B):"]
        rows = [f"  {sign('-' if s.change == 'removed' else '+')} {_one_line(s.created_by, width - 4) or '(no created_by)'}"
                for s in hist.steps if s.change != "same"]
        out += capped(rows, len(rows), limit)
    if files is not None and files:
        if files.added:
            out += ["", f"Added ({len(files.added):,}):"]
            out += capped([f"  {sign('+')} {kind(n):<7} {human_size(size(n)) if kind(n) == 'file' else '':>9}  {image_path(p)}"
                           for p, n in files.added[:limit]], len(files.added), limit)
        if files.removed:
            out += ["", f"Removed ({len(files.removed):,}):"]
            out += capped([f"  {sign('-')} {kind(n):<7} {human_size(size(n)) if kind(n) == 'file' else '':>9}  {image_path(p)}"
                           for p, n in files.removed[:limit]], len(files.removed), limit)
        if files.modified:
            out += ["", f"Modified ({len(files.modified):,}):"]
            out += capped([f"  {sign('~')} {_delta(size(m.b) - size(m.a)):>10}  {image_path(m.path)}  ({', '.join(m.changes)})"
                           for m in files.modified[:limit]], len(files.modified), limit)
    if r.directories:
        out += ["", "Size change by directory (everything below each; largest first):"]
        out += capped([f"  {_signed(d.size_delta):>10}  +{d.added:<6,} -{d.removed:<6,} ~{d.modified:<6,} "
                       f"{image_path(d.path)}" for d in r.directories[:limit]], len(r.directories), limit)
    if pk is not None and pk:
        out += ["", "Packages:"]
        rows = [f"  {sign('+')} {p.type:<5} {p.name} {p.version}{_psize(p.size)}" for p in pk.added]
        rows += [f"  {sign('-')} {p.type:<5} {p.name} {p.version}{_psize(p.size)}" for p in pk.removed]
        rows += [f"  {sign('~')} {b.type:<5} {b.name} {a.version} -> {b.version}{_psize(b.size, a.size)}" for a, b in pk.changed]
        out += capped(rows, len(rows), limit)
    warnings = [f"A: {w}" for w in sa.warnings] + [f"B: {w}" for w in sb.warnings] + (pk.warnings if pk else [])
    if warnings:
        out.append("")
        out += [f"{paint('warning:', 'yellow')} {w}" for w in warnings]
    return finish(out)


def _layers(n: int) -> str:
    return f"{n} layer{'s' if n != 1 else ''}"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {t}" for t, n in counts.items()) or "none found"


def _psize(b: int | None, a: int | None = None) -> str:
    if b is None:
        return ""
    if a is None:
        return f"  ({human_size(b)})"
    return f"  ({_signed(b - a)})" if b != a else ""


def _value(v: Any) -> str:
    if v is None:
        return "(unset)"
    if isinstance(v, str):
        return v if v else '""'
    import json

    return json.dumps(v, ensure_ascii=False)
