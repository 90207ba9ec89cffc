"""JSON documents: a public contract (docs/json.md). Fields are added, never renamed, within a
schema version; every image path has one form in every document: absolute, ``/`` the root."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from ..analysis.inspect import InspectReport
from ..layer.entry import CONTENT_KINDS

INSPECT_SCHEMA = "layerscope.inspect/2"  # /2: image paths absolute


def image_path(path: str) -> str:
    """An image path as every JSON document shows it: ``/usr/bin/sh``; the root is ``/``.

    The models keep paths relative (``usr/bin/sh``, ``""`` the root); text output and
    dive / container-diff print them absolute, so the documents do too.
    """
    return "/" + path.lstrip("/")


def _link(e) -> str | None:
    """A symlink's target stays verbatim (it is data, resolved in context); every other
    link (a hardlink's target, an overlay redirect's source) is an image path."""
    if e.link is None or e.kind == "symlink":
        return e.link
    return image_path(e.link)


def _warning(w) -> dict[str, Any]:
    return {**w.as_dict(), "path": image_path(w.path)}


def inspect_doc(report: InspectReport) -> dict[str, Any]:
    return {
        "schema": INSPECT_SCHEMA,
        "image": {
            "ref": report.ref,
            "path": report.path,
            "format": report.format,
            "manifest_digest": report.manifest_digest,
            "config_digest": report.config_digest,
            "legacy_id": report.legacy_id,
            "platform": report.platform,
            "size": report.size,
            "compressed_size": report.compressed_size,
            "verified": report.verified,
        },
        "layers": [
            {
                "index": layer.index,
                "digest": layer.digest,
                "diff_id": layer.diff_id,
                "media_type": layer.media_type,
                "compression": layer.compression,
                "size": layer.size,
                "compressed_size": layer.compressed_size,
                "created_by": layer.created_by,
                "entries": layer.entries,
                "foreign": layer.foreign,
                "urls": layer.urls,
            }
            for layer in report.layers
        ],
        "warnings": report.warnings,
        **(_waste_docs(report.waste) if report.waste is not None else {}),
    }


def _fs_node(n) -> dict[str, Any]:
    out: dict[str, Any] = {"path": image_path(n.path), "type": n.kind, "size": n.size, "files": n.files,
                           "layer": n.layer}
    if n.kind != "file":
        out["by_layer"] = {str(layer): b for layer, b in n.by_layer.items()}
    if n.kind == "dir":
        out["children"] = [_fs_node(c) for c in n.children]
    return out


def filesystem_doc(fs) -> dict[str, Any]:
    """inspect's ``filesystem``: the final tree by size (docs/json.md)."""
    return {"size": fs.root.size, "files": fs.root.files, "nodes": fs.nodes, "max_nodes": fs.max_nodes,
            "aggregated": fs.aggregated, "root": _fs_node(fs.root)}


def _finite(x: float) -> float | None:
    """JSON has no infinity: dive's ratio over zero user bytes is reported as null."""
    return x if math.isfinite(x) else None


def _waste_docs(w) -> dict[str, Any]:
    return {**waste_doc(w), "filesystem": filesystem_doc(w.filesystem)}


def waste_doc(w) -> dict[str, Any]:
    """inspect's ``efficiency`` and ``duplicate_content`` (the explorer's details pane shows the same values)."""
    return {
        "efficiency": {
            "efficiency": w.efficiency,
            "wasted_bytes": w.wasted_bytes,
            "user_wasted_ratio": w.user_wasted_ratio,
            "base_layers": w.base_layers,
            "stored_file_bytes": w.total_bytes,
            "final_file_bytes": w.final_bytes,
            "dive_efficiency": w.dive_efficiency,
            "dive_wasted_bytes": w.dive_wasted_bytes,
            "dive_user_wasted_ratio": _finite(w.dive_user_wasted_ratio),
            "by_reason": dict(w.by_reason),
            "top": [{"path": image_path(t.path), "bytes": t.bytes, "reason": t.reason, "layers": t.layers}
                    for t in w.top],
        },
        "duplicate_content": {
            "savable_bytes": w.duplicate_bytes,
            "groups": [{"digest": d.digest, "size": d.size, "paths": [image_path(p) for p in d.paths],
                        "savable_bytes": d.savable_bytes}
                       for d in w.duplicates],
        },
    }


def dumps(doc: dict[str, Any], *, pretty: bool | None = None) -> str:
    """Indented for a terminal; compact (C encoder, several times faster) for pipes and files."""
    if pretty is None:
        pretty = sys.stdout.isatty()
    if pretty:
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n"


CHANGES_SCHEMA = "layerscope.changes/2"  # /2: image paths absolute
LS_SCHEMA = "layerscope.ls/2"  # /2: image paths absolute, hardlink targets too
OVERLAY_SCHEMA = "layerscope.overlay/2"  # /2: image paths absolute


def _change(c) -> dict[str, Any]:
    return {"path": image_path(c.path), "change": c.change, "type": c.type, "size": c.size,
            "removed_bytes": c.removed_bytes}


def changes_doc(report, only: int | None = None) -> dict[str, Any]:
    return {
        "schema": CHANGES_SCHEMA,
        "image": {"ref": report.image.ref, "path": report.image.path, "config_digest": report.image.config_digest},
        "layers": [
            {
                "index": d.index,
                "digest": d.digest,
                "created_by": d.created_by,
                "changes": [_change(c) for c in d.changes],
                "warnings": [_warning(w) for w in d.warnings],
            }
            for d in report.layers
            if only is None or d.index == only
        ],
    }


def ls_entry(path: str, node) -> dict[str, Any]:
    e = node.entry
    content = e.kind in CONTENT_KINDS
    digest = e.digest
    return {
        "path": image_path(path),
        "type": e.kind,
        "size": e.size if content else 0,
        "mode": e.mode,
        "uid": e.uid,
        "gid": e.gid,
        "link": _link(e),
        "layer": node.layer,
        "digest": digest.hex() if content and digest is not None else None,
    }


def ls_doc(view, rows: list[tuple[str, Any]]) -> dict[str, Any]:
    return {
        "schema": LS_SCHEMA,
        "image": {"ref": view.image.ref, "path": view.image.path, "config_digest": view.image.config_digest},
        "layer": view.upto,
        "entries": [ls_entry(p, n) for p, n in rows],  # one dict per path: the contract's shape
        "warnings": [_warning(w) for w in view.warnings],
    }


def overlay_doc(diff) -> dict[str, Any]:
    return {
        "schema": OVERLAY_SCHEMA,
        "image": {"ref": diff.image.ref, "path": diff.image.path, "config_digest": diff.image.config_digest},
        "diff": [{"kind": i.kind, "path": image_path(i.path)} for i in diff.items],
        "copy_up_bytes": diff.copy_up_bytes,
        "copied_up": [{"path": image_path(p), "size": s} for p, s in diff.copied_up],
        "changes": [_change(c) for c in diff.changes.changes],
        "warnings": [_warning(w) for w in diff.warnings],
    }
