"""dive's efficiency model, reproduced so migrating users can compare numbers.

dive (filetree/efficiency.go) builds one tree per layer from the layer's tar
entries, visits each tree's *leaves* and, per path, sums the tar header sizes
it sees across layers:

* a leaf is a node with no children in that layer's tree; a whiteout leaf
  (``.wh.NAME``) stands for the path it deletes;
* a whiteout's size is the summed header sizes of the subtree it deletes in
  dive's own stack of the layers below -- if dive's node there is a
  directory, else 0;
* score = sum over paths of the smallest size seen / sum of all sizes seen;
  wasted bytes = the summed sizes of every path seen in two or more layers.

So dive counts the copy it keeps as waste, never counts a deleted file's
bytes, and ignores opaque directories; layerscope's own ``wasted_bytes``
does none of that. The numbers match dive's because dive's trees are
emulated here rather than read off layerscope's merged view, quirks
included:

* tree building (``AddPath``): missing parents are created as nodes with no
  file info (not directories, size 0); a later entry for a path replaces its
  info and keeps its children; a name starting with ``.wh..wh.`` (opaque
  marker, AUFS metadata) is not added, but the parents made on the way are;
* stacking (``Stack``): every node of the upper tree, children first, in name
  order: a whiteout removes the path's subtree, anything else sets the path's
  info -- a parent the upper layer only implied loses its directory info, so a
  later whiteout of it counts 0 bytes. No symlink is followed, opaque markers
  do nothing;
* a whiteout of a path missing from dive's stack puts the path in the table
  with minimum -1 and ends the visit of that layer's remaining leaves (dive's
  visitor returns an error); a user ratio with no user bytes is infinite.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..layer.entry import DIR, FILE, Entry
from .whiteout import META_PREFIX, PREFIX

# A dive tree node: [info, children]; info is None for a parent dive created
# on the way ("no file info": not a directory, size 0) or (is_dir, size).
_Node = list


def _new() -> _Node:
    return [None, {}]


def _add(root: _Node, parts: list[str], info: tuple[bool, int] | None) -> None:
    """dive's ``AddPath``: create missing parents, set the last node's info."""
    node = root
    last = len(parts) - 1
    for i, name in enumerate(parts):
        if name.startswith(META_PREFIX):
            return  # dive refuses the node; the parents made so far stay
        child = node[1].get(name)
        if child is None:
            child = node[1][name] = _new()
        node = child
        if i == last:
            node[0] = info


def _get(root: _Node, parts: list[str]) -> _Node | None:
    node = root
    for name in parts:
        node = node[1].get(name)
        if node is None:
            return None
    return node


def _visit(root: _Node):
    """dive's ``VisitDepthChildFirst``: (path parts, node), children first,
    names sorted, the root left out. Iterative: a hostile tar may nest deep."""
    stack: list[tuple[tuple[str, ...], _Node, bool]] = [((), root, False)]
    while stack:
        parts, node, expanded = stack.pop()
        if expanded:
            if parts:
                yield parts, node
            continue
        stack.append((parts, node, True))
        stack.extend(((*parts, name), node[1][name], False) for name in sorted(node[1], reverse=True))


def _subtree_size(node: _Node) -> int:
    total, stack = 0, [node]
    while stack:
        n = stack.pop()
        total += n[0][1] if n[0] else 0
        stack.extend(n[1].values())
    return total


def _target(parts: tuple[str, ...]) -> tuple[bool, list[str]]:
    """(is a whiteout, the path it names): dive strips ``.wh.`` from the leaf name."""
    name = parts[-1]
    if name.startswith(PREFIX):
        return True, [*parts[:-1], name[len(PREFIX):]]
    return False, list(parts)


@dataclass(slots=True)
class DiveModel:
    cumulative: dict[str, int] = field(default_factory=dict)
    minimum: dict[str, int] = field(default_factory=dict)
    seen: dict[str, int] = field(default_factory=dict)
    layer_sizes: list[int] = field(default_factory=list)  # dive's layer size: summed header sizes
    stacked: _Node = field(default_factory=_new)  # dive's stack of the layers added so far

    def add_layer(self, entries: list[Entry]) -> None:
        """Account one layer (its tar entries, in order), then stack it."""
        tree = _new()
        layer_size = 0
        for e in entries:
            if not e.path:
                continue  # "." : dive skips the root
            size = e.size if e.kind == FILE else 0
            layer_size += size
            _add(tree, e.path.split("/"), (e.kind == DIR, size))
        self.layer_sizes.append(layer_size)
        self._account(tree)
        for parts, node in _visit(tree):
            whiteout, target = _target(parts)
            if whiteout:
                parent = _get(self.stacked, target[:-1])
                if parent is not None:
                    parent[1].pop(target[-1], None)
            else:
                _add(self.stacked, list(parts), node[0])

    def _account(self, tree: _Node) -> None:
        for parts, node in _visit(tree):
            if node[1]:
                continue  # only leaves
            whiteout, target = _target(parts)
            key = "/".join(target)
            if key not in self.cumulative:
                self.cumulative[key], self.minimum[key], self.seen[key] = 0, -1, 0
            if whiteout:
                lower = _get(self.stacked, target)
                if lower is None:
                    return  # dive's visitor errors out: the rest of this layer is not visited
                size = _subtree_size(lower) if lower[0] and lower[0][0] else 0
            else:
                size = node[0][1] if node[0] else 0
            self.cumulative[key] += size
            old = self.minimum[key]
            self.minimum[key] = size if old < 0 or size < old else old
            self.seen[key] += 1

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
