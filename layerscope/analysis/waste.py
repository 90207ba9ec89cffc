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

import weakref

from ..fs.dive import DiveModel
from ..fs.overlay import Overlay
from ..fs.tree import LayerId
from ..layer.entry import CONTENT_KINDS
from ..record import Record

TYPE_CHECKING = False  # the aggregate is loaded on first use: the text report never needs it
if TYPE_CHECKING:
    from .filesystem import Filesystem

REASONS = ("deleted", "overwritten", "metadata-copy", "opaque-hidden", "replaced")
TOP_N = 20


class WastedPath(Record):
    __slots__ = ("path", "bytes", "reason", "layers")

    path: str
    bytes: int
    reason: str
    layers: list[int]  # the layers that stored the wasted copies, and the ones that removed them

    def __init__(self, path: str, bytes: int, reason: str, layers: list[int]) -> None:
        self.path = path
        self.bytes = bytes
        self.reason = reason
        self.layers = layers


class Duplicate(Record):
    __slots__ = ("digest", "size", "paths")

    digest: str
    size: int
    paths: list[str]

    def __init__(self, digest: str, size: int, paths: list[str]) -> None:
        self.digest = digest
        self.size = size
        self.paths = paths

    @property
    def savable_bytes(self) -> int:
        return self.size * (len(self.paths) - 1)


class Waste(Record, hidden=("duplicates_of", "filesystem_of")):  # left out of repr and ==
    __slots__ = ("total_bytes", "final_bytes", "wasted_bytes", "by_reason", "top", "user_wasted_ratio", "base_layers",
                 "dive_efficiency", "dive_wasted_bytes", "dive_user_wasted_ratio", "duplicates_of", "filesystem_of",
                 "__weakref__")

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
    # the duplicates, or the stacked overlay to find them in on first use (see duplicates)
    duplicates_of: list[Duplicate] | Overlay
    # the final filesystem by size, or the overlay to aggregate it from on first use (see filesystem)
    filesystem_of: Filesystem | Overlay | None

    def __init__(self, total_bytes: int, final_bytes: int, wasted_bytes: int, by_reason: dict[str, int],
                 top: list[WastedPath], user_wasted_ratio: float, base_layers: int, dive_efficiency: float,
                 dive_wasted_bytes: int, dive_user_wasted_ratio: float,
                 duplicates_of: list[Duplicate] | Overlay | None = None,
                 filesystem_of: Filesystem | Overlay | None = None) -> None:
        self.total_bytes = total_bytes
        self.final_bytes = final_bytes
        self.wasted_bytes = wasted_bytes
        self.by_reason = by_reason
        self.top = top
        self.user_wasted_ratio = user_wasted_ratio
        self.base_layers = base_layers
        self.dive_efficiency = dive_efficiency
        self.dive_wasted_bytes = dive_wasted_bytes
        self.dive_user_wasted_ratio = dive_user_wasted_ratio
        self.duplicates_of = [] if duplicates_of is None else duplicates_of
        self.filesystem_of = filesystem_of

    @property
    def duplicates(self) -> list[Duplicate]:
        """Identical content at different paths of the final filesystem (hardlinks excluded).

        Found on first use (a pass over every path: inspect's reports read it,
        ci and the other commands do not), in the tree as :func:`measure` saw
        it -- a later :meth:`Overlay.apply <layerscope.fs.overlay.Overlay.apply>`
        makes it find them first."""
        found = self.duplicates_of
        if not isinstance(found, list):
            found = self.duplicates_of = _duplicates(found)
        return found

    @property
    def filesystem(self) -> Filesystem | None:
        """The final filesystem by size, in a bounded number of nodes (see
        :mod:`~layerscope.analysis.filesystem`); found on first use, as :attr:`duplicates`."""
        found = self.filesystem_of
        if isinstance(found, Overlay):
            from .filesystem import aggregate

            found = self.filesystem_of = aggregate(found.tree)
        return found

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
    users: dict[LayerId, bool] = {}
    for rec in overlay._stored:  # a node (path: its entry's) or (layer, path, size, inode)
        if rec.__class__ is tuple:
            layer, path, size, inode = rec
        else:
            layer, inode, e = rec.layer, rec.inode, rec.entry
            size, path = e.size, e.path
        total += size
        user = users.get(layer)
        if user is None:
            user = users[layer] = isinstance(layer, int) and layer >= base_layers
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
    waste = Waste(
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
        duplicates_of=overlay,
        filesystem_of=overlay,
    )
    ref = weakref.ref(waste)  # not the waste itself: the overlay would keep it (and it the overlay) alive
    overlay.before_change(lambda: (w := ref()) is not None and (w.duplicates, w.filesystem))
    return waste


def _layer_order(layer) -> tuple[int, int | str]:
    return (1, layer) if isinstance(layer, str) else (0, layer)


def _duplicates(overlay: Overlay) -> list[Duplicate]:
    """Identical content at different paths of the final filesystem (hardlinks excluded)."""
    nodes = overlay.tree.nodes
    content = CONTENT_KINDS
    # one dict probe per file; a digest seen again collects its paths and their inodes
    first: dict[bytes, str] = {}
    again: dict[bytes, tuple[list[str], set[int]]] = {}
    seen_first = first.setdefault
    for path, node in nodes.items():
        e = node.entry
        digest = e.digest
        if digest is None or e.size <= 0 or e.kind not in content:
            continue
        seen = seen_first(digest, path)
        if seen is not path:
            group = again.get(digest)
            if group is None:
                again[digest] = ([seen, path], {nodes[seen].inode, node.inode})
            else:
                group[0].append(path)
                group[1].add(node.inode)
    out = []
    for digest, (names, inodes) in again.items():
        if len(inodes) == len(names):  # no two names of one inode (the usual case)
            paths = sorted(names)
        elif len(inodes) > 1:
            by_inode: dict[int, list[str]] = {}
            for p in names:
                by_inode.setdefault(nodes[p].inode, []).append(p)
            paths = sorted(min(ns) for ns in by_inode.values())
        else:
            continue
        out.append(Duplicate(digest.hex(), nodes[paths[0]].entry.size, paths))
    out.sort(key=lambda d: (-d.savable_bytes, d.paths[0]))
    return out
