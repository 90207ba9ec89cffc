"""The dive model as it was before the flat rewrite (layerscope/fs/dive.py at 237a900),
kept as a reference: tests/test_dive_model.py checks the model gives its figures.

It is the straightforward emulation of dive's trees (one tree per layer,
children-first visits, name-sorted stacking) that layerscope/fs/dive.py's
docstring describes; that docstring holds for it, quirks included.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from layerscope.layer.entry import DIR, FILE, Entry
from layerscope.layer.whiteout import META_PREFIX, PREFIX

Info = tuple[bool, int] | None  # (is a directory, header size); None: a parent dive made on the way


class _Tree:
    """A dive file tree, flat: path -> info, and path -> child names ("" is the root)."""

    __slots__ = ("info", "kids")

    def __init__(self) -> None:
        self.info: dict[str, Info] = {"": None}
        self.kids: dict[str, list[str]] = {}

    def add(self, path: str, info: Info) -> None:
        """dive's ``AddPath``: create missing parents (no info), set the path's info."""
        parent, _, name = path.rpartition("/")
        if parent in self.info and not name.startswith(META_PREFIX):  # the usual case
            if path not in self.info:
                self.kids.setdefault(parent, []).append(name)
            self.info[path] = info
            return
        parts = path.split("/")
        cut = next((i for i, p in enumerate(parts) if p.startswith(META_PREFIX)), None)
        if cut is not None:
            parts = parts[:cut]  # dive refuses that node; the parents made on the way stay
        prefix = ""
        for name in parts:  # iterative: a hostile tar may nest thousands deep
            child = f"{prefix}/{name}" if prefix else name
            if child not in self.info:
                self.kids.setdefault(prefix, []).append(name)
                self.info[child] = None
            prefix = child
        if cut is None:
            self.info[path] = info

    def remove(self, path: str) -> None:
        """dive's ``RemovePath``: the node and its subtree (a missing path is no error here)."""
        if path not in self.info or not path:
            return
        parent, _, name = path.rpartition("/")
        self.kids[parent].remove(name)
        stack = [path]
        while stack:
            p = stack.pop()
            del self.info[p]
            stack.extend(f"{p}/{k}" for k in self.kids.pop(p, ()))

    def subtree_size(self, path: str) -> int:
        total, stack = 0, [path]
        while stack:
            p = stack.pop()
            info = self.info[p]
            total += info[1] if info else 0
            stack.extend(f"{p}/{k}" for k in self.kids.get(p, ()))
        return total

    def post_order(self) -> list[str]:
        """dive's ``VisitDepthChildFirst`` order: children first, names sorted, the root left out."""
        out: list[str] = []
        stack: list[tuple[str, bool]] = [("", False)]
        kids = self.kids
        while stack:
            path, expanded = stack.pop()
            if expanded:
                out.append(path)
                continue
            names = kids.get(path)
            if path:
                if not names:
                    out.append(path)
                    continue
                stack.append((path, True))
            if names:
                prefix = f"{path}/" if path else ""
                stack.extend((prefix + n, False) for n in sorted(names, reverse=True))
        return out


def _target(path: str) -> tuple[bool, str]:
    """(is a whiteout, the path it names): dive strips ``.wh.`` from the leaf name."""
    parent, _, name = path.rpartition("/")
    if name.startswith(PREFIX):
        name = name[len(PREFIX):]
        return True, f"{parent}/{name}" if parent else name
    return False, path


@dataclass(slots=True)
class DiveModel:
    cumulative: dict[str, int] = field(default_factory=dict)
    minimum: dict[str, int] = field(default_factory=dict)
    seen: dict[str, int] = field(default_factory=dict)
    layer_sizes: list[int] = field(default_factory=list)  # dive's layer size: summed header sizes
    stacked: _Tree = field(default_factory=_Tree)  # dive's stack of the layers added so far

    def add_layer(self, entries: list[Entry]) -> None:
        """Account one layer (its tar entries, in order), then stack it."""
        tree = _Tree()
        layer_size = 0
        for e in entries:
            if not e.path:
                continue  # "." : dive skips the root
            size = e.size if e.kind == FILE else 0
            layer_size += size
            tree.add(e.path, (e.kind == DIR, size))
        self.layer_sizes.append(layer_size)
        stacked = self.stacked
        if not any(PREFIX in p for p in tree.info):
            # No whiteout in the layer: dive's visit order can change nothing (only an
            # unresolved whiteout stops a visit, and every add leaves the same stack
            # whatever the order), so the children-first name sort is skipped.
            self._account(tree, [p for p in tree.info if p])
            info = tree.info
            for path in info:
                if path:
                    stacked.add(path, info[path])
            return
        order = tree.post_order()
        self._account(tree, order)
        for path in order:
            whiteout, target = _target(path)
            if whiteout:
                stacked.remove(target)
            else:
                stacked.add(path, tree.info[path])

    def _account(self, tree: _Tree, order: list[str]) -> None:
        kids, info, stacked = tree.kids, tree.info, self.stacked
        cumulative, minimum, seen = self.cumulative, self.minimum, self.seen
        for path in order:
            if path in kids:
                continue  # only leaves
            whiteout, key = _target(path)
            if key not in cumulative:
                cumulative[key], minimum[key], seen[key] = 0, -1, 0
            if whiteout:
                lower = stacked.info.get(key, False)
                if lower is False:
                    return  # dive's visitor errors out: the rest of this layer is not visited
                size = stacked.subtree_size(key) if lower and lower[0] else 0
            else:
                node = info[path]
                size = node[1] if node else 0
            cumulative[key] += size
            old = minimum[key]
            minimum[key] = size if old < 0 or size < old else old
            seen[key] += 1

    @property
    def efficiency(self) -> float:
        total = sum(self.cumulative.values())
        return 1.0 if total == 0 else sum(self.minimum.values()) / total

    @property
    def wasted_bytes(self) -> int:
        return sum(size for path, size in self.cumulative.items() if self.seen[path] >= 2)

    def user_wasted_ratio(self, base_layers: int = 1) -> float:
        """dive's ratio; +inf when the user layers store no bytes but waste exists (dive divides by 0)."""
        user = sum(self.layer_sizes[base_layers:])
        if user:
            return self.wasted_bytes / user
        return float("inf") if self.wasted_bytes else 0.0
