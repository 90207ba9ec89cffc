"""Wasted bytes, by reason, and content duplicated in the final filesystem.

``wasted_bytes`` is what squashing the image would save: regular-file bytes
stored in the layers that are not visible in the final filesystem. Every
stored copy creates an inode; the ones still named at the end are the final
filesystem (hardlinks share an inode, so their content counts once), and
each of the others records, when its last name went, why:

* ``deleted`` — a later whiteout removed it;
* ``overwritten`` — other content was written over it (in a later layer, or
  later in the same layer);
* ``metadata-copy`` — the same bytes were stored again for a chmod, chown or
  touch (the classic ``RUN chmod -R`` doubling);
* ``opaque-hidden`` — an opaque directory hid it;
* ``replaced`` — a different type took its path (or its parent directory's).

So the reasons always add up to ``wasted_bytes``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..fs.dive import DiveModel
from ..fs.overlay import Overlay

REASONS = ("deleted", "overwritten", "metadata-copy", "opaque-hidden", "replaced")
TOP_N = 20


@dataclass(slots=True)
class WastedPath:
    path: str
    bytes: int
    reason: str
    layers: list[int]  # the layers that stored the wasted copies, and the ones that removed them


@dataclass(slots=True)
class Duplicate:
    digest: str
    size: int
    paths: list[str]

    @property
    def savable_bytes(self) -> int:
        return self.size * (len(self.paths) - 1)


@dataclass(slots=True)
class Waste:
    total_bytes: int  # regular-file bytes stored over all layers
    final_bytes: int  # regular-file bytes of the final filesystem (unique inodes)
    wasted_bytes: int
    by_reason: dict[str, int]
    top: list[WastedPath]
    user_wasted_ratio: float
    base_layers: int
    dive_efficiency: float
    dive_wasted_bytes: int
    dive_user_wasted_ratio: float
    duplicates: list[Duplicate] = field(default_factory=list)

    @property
    def efficiency(self) -> float:
        """1 - wasted / stored; 1.0 for an image that stores no file bytes."""
        return 1.0 - self.wasted_bytes / self.total_bytes if self.total_bytes else 1.0

    @property
    def duplicate_bytes(self) -> int:
        return sum(d.savable_bytes for d in self.duplicates)


def measure(overlay: Overlay, dive: DiveModel, *, base_layers: int = 1, top_n: int = TOP_N) -> Waste:
    """Waste of a fully stacked image (``overlay`` after its last layer)."""
    tree = overlay.tree
    visible = tree.refs
    total = final = 0
    user_total = user_wasted = 0
    by_reason = dict.fromkeys(REASONS, 0)
    per_path: dict[str, list] = {}  # path -> [bytes, {reason: bytes}, layers]
    for layer, path, size, inode in overlay.stored:
        total += size
        user = isinstance(layer, int) and layer >= base_layers
        if user:
            user_total += size
        if inode in visible:
            final += size
            continue
        reason, by = tree.gone.get(inode, ("deleted", None))
        by_reason[reason] += size
        if user:
            user_wasted += size
        rec = per_path.setdefault(path, [0, {}, set()])
        rec[0] += size
        rec[1][reason] = rec[1].get(reason, 0) + size
        rec[2].add(layer)
        if by is not None:
            rec[2].add(by)
    top = sorted(per_path.items(), key=lambda kv: (-kv[1][0], kv[0]))[:top_n]
    return Waste(
        total_bytes=total,
        final_bytes=final,
        wasted_bytes=total - final,
        by_reason=by_reason,
        top=[WastedPath(p, b, max(reasons, key=reasons.get), sorted(layers, key=_layer_order)) for p, (b, reasons, layers) in top],
        user_wasted_ratio=user_wasted / user_total if user_total else 0.0,
        base_layers=base_layers,
        dive_efficiency=dive.efficiency,
        dive_wasted_bytes=dive.wasted_bytes,
        dive_user_wasted_ratio=dive.user_wasted_ratio(base_layers),
        duplicates=_duplicates(overlay),
    )


def _layer_order(layer) -> tuple[int, int | str]:
    return (1, layer) if isinstance(layer, str) else (0, layer)


def _duplicates(overlay: Overlay) -> list[Duplicate]:
    """Identical content at different paths of the final filesystem (hardlinks excluded)."""
    tree = overlay.tree
    nodes = tree.nodes
    # one dict probe per file; only digests seen twice are grouped by inode
    first: dict[bytes, str] = {}
    again: dict[bytes, list[str]] = {}
    for path, node in nodes.items():
        e = node.entry
        if e.size > 0 and e.digest is not None and node.is_content:
            seen = first.setdefault(e.digest, path)
            if seen is not path:
                again.setdefault(e.digest, [seen]).append(path)
    out = []
    for digest, names in again.items():
        inodes: dict[int, list[str]] = {}
        for p in names:
            inodes.setdefault(nodes[p].inode, []).append(p)
        if len(inodes) > 1:
            paths = sorted(min(ns) for ns in inodes.values())
            size = nodes[paths[0]].entry.size
            out.append(Duplicate(digest.hex(), size, paths))
    out.sort(key=lambda d: (-d.savable_bytes, d.paths[0]))
    return out
