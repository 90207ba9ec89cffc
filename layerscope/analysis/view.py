"""Per-layer changes, the merged view at any layer, and a container's diff.

All three stack the same scans (one pass over each layer blob, entries
kept) through :mod:`layerscope.fs.overlay`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import UsageError
from ..fs import overlay as ov
from ..fs.tree import LayerId, Node, Tree
from ..layer import whiteout as wh
from ..layer.entry import DIR, METACOPY
from .inspect import InspectReport, inspect


@dataclass(slots=True)
class LayerDiff:
    index: LayerId
    digest: str | None
    created_by: str | None
    changes: list[ov.Change]
    warnings: list[ov.Warning]


@dataclass(slots=True)
class ChangesReport:
    image: InspectReport
    layers: list[LayerDiff]


@dataclass(slots=True)
class MergedView:
    image: InspectReport
    tree: Tree
    upto: LayerId  # the last layer applied ("rw" when a container layer is on top)
    warnings: list[ov.Warning] = field(default_factory=list)


@dataclass(slots=True)
class DiffItem:
    kind: str  # "A" added, "C" changed, "D" deleted (docker diff's letters)
    path: str


@dataclass(slots=True)
class ContainerDiff:
    image: InspectReport
    items: list[DiffItem]
    copy_up_bytes: int  # bytes of lower regular files copied up (content or metadata changed)
    copied_up: list[tuple[str, int]]  # (path, lower size) of each copy-up
    changes: LayerDiff  # the rw layer's changes in the changes/1 vocabulary
    warnings: list[ov.Warning]


def _stacked(spec: str, *, upto: int | None = None, **kw) -> tuple[InspectReport, ov.Overlay, list[ov.LayerChanges]]:
    """Scan the image and stack its layers (up to ``upto``) while later ones are still being read."""
    report = inspect(spec, analyze=True, upto=upto, **kw)
    return report, report.overlay, report.layer_changes


def changes(spec: str, **kw) -> ChangesReport:
    """What each layer did relative to the layers below it."""
    report, _overlay, diffs = _stacked(spec, **kw)
    return ChangesReport(report, [
        LayerDiff(layer.index, layer.digest, layer.created_by, d.changes, d.warnings)
        for layer, d in zip(report.layers, diffs)
    ])


def merged_view(spec: str, *, upto: int | None = None, rw: str | None = None, **kw) -> MergedView:
    """The filesystem a container sees after layer ``upto`` (default: all), optionally with a rw layer."""
    if rw is not None and upto is not None:
        raise UsageError("--rw goes on top of the whole image; it cannot be combined with --layer")
    rw_entries = _read_rw(rw) if rw is not None else None  # bad input fails before the image is read
    report, overlay, diffs = _stacked(spec, upto=upto, changes=False, **kw)  # the tree and warnings only
    warnings = [w for d in diffs for w in d.warnings]
    last: LayerId = upto if upto is not None else len(report.layers) - 1
    if rw_entries is not None:
        warnings.extend(overlay.apply("rw", rw_entries).warnings)
        last = "rw"
    return MergedView(report, overlay.tree, last, warnings)


def _read_rw(path: str) -> list:
    from ..layer.upperdir import read_rw_layer

    return read_rw_layer(path)


def container_diff(spec: str, rw: str, **kw) -> ContainerDiff:
    """`docker diff` for a container's read/write layer, plus what copy-up cost."""
    rw_entries = _read_rw(rw)
    report, overlay, _diffs = _stacked(spec, changes=False, **kw)
    tree = overlay.tree
    lower: dict[str, Node] = dict(tree.nodes)
    lower_children = {p: set(k) for p, k in tree.children.items()}
    # what each rw entry names, resolved against the image (before the rw layer lands)
    named: list[tuple[str, str, str]] = []  # (marker kind, resolved path, raw path)
    for e in rw_entries:
        kind, parent, name = wh.classify(e.path)
        if kind == wh.NOT_MARKER:
            path, _ = tree.resolve(e.path)
        elif wh.applies(kind):
            d, _ = tree.resolve(parent, follow_last=True)
            path = wh.target(kind, d, name)
        else:
            continue  # AUFS metadata, bad whiteouts: not applied
        named.append((kind, path, e.path))
    overlay.record_changes = True  # the rw layer's changes are the answer
    result = overlay.apply("rw", rw_entries)
    items: dict[str, str] = {}
    for kind, path, _raw in named:
        if kind == wh.WHITEOUT:
            if path in lower:
                items[path] = "D"
        elif kind == wh.OPAQUE_MARKER:
            items[path] = "C"
            for child in lower_children.get(path, ()):
                cpath = f"{path}/{child}" if path else child
                if cpath not in tree:
                    items[cpath] = "D"
        elif path:
            items[path] = "C" if path in lower else items.get(path, "A")
    for e in rw_entries:  # a renamed directory (redirect_dir): what it shows from below is new here
        if e.kind == DIR and e.link:
            moved, _ = tree.resolve(e.path)
            for p in tree.walk(moved):
                items.setdefault(p, "C" if p in lower else "A")
    copied = []
    for kind, path, _raw in named:
        if kind != wh.NOT_MARKER:
            continue
        old, new = lower.get(path), tree.get(path)
        if (old is not None and new is not None and old.is_content and new.is_content and new.layer == "rw"
                and new.inode != old.inode and METACOPY not in new.entry.defects):
            copied.append((path, old.entry.size))
    copied = sorted(set(copied))
    return ContainerDiff(
        image=report,
        items=[DiffItem(k, p) for p, k in sorted(items.items())],
        copy_up_bytes=sum(size for _p, size in copied),
        copied_up=copied,
        changes=LayerDiff("rw", None, None, result.changes, result.warnings),
        warnings=result.warnings,
    )
