"""dive's efficiency model, reproduced so migrating users can compare numbers.

dive (filetree/efficiency.go) visits the *leaves* of each layer's own tree
and, per path, sums the tar header sizes it sees across layers:

* a leaf is an entry (or a whiteout, named by the path it deletes) with no
  children in that layer; ``.wh..wh.*`` names (opaque markers) are skipped;
* a whiteout's size is the summed header sizes of the subtree it deletes if
  that was a directory, else 0;
* score = sum over paths of the smallest size seen / sum of all sizes seen;
  wasted bytes = the summed sizes of every path seen in two or more layers.

So dive counts the copy it keeps as waste, never counts a deleted file's
bytes, and ignores opaque directories; layerscope's own ``wasted_bytes``
does none of that. dive's quirks are kept, so the numbers match: a whiteout
of a path that is not below puts that path in the table with minimum -1 and
ends the visit of the layer's remaining leaves (dive returns an error from
its visitor), and a user ratio with no user bytes is infinite.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..layer.entry import DIR, FILE, Entry
from .tree import Tree
from .whiteout import META_PREFIX, PREFIX


@dataclass(slots=True)
class DiveModel:
    cumulative: dict[str, int] = field(default_factory=dict)
    minimum: dict[str, int] = field(default_factory=dict)
    seen: dict[str, int] = field(default_factory=dict)
    layer_sizes: list[int] = field(default_factory=list)  # dive's layer size: summed header sizes

    def add_layer(self, entries: list[Entry], below: Tree) -> None:
        """Account one layer; ``below`` is the stacked view before it."""
        nodes: dict[str, tuple[bool, int, str | None]] = {}  # raw path -> (whiteout, header size, deleted path)
        parents: set[str] = set()
        layer_size = 0
        for e in entries:
            path = e.path
            if not path or (META_PREFIX in path and any(p.startswith(META_PREFIX) for p in path.split("/"))):
                continue  # the root, opaque markers, AUFS metadata: not in dive's tree
            header = e.size if e.kind == FILE else 0
            layer_size += header
            parent, _, name = path.rpartition("/")
            nodes[path] = (name.startswith(PREFIX), header, f"{parent}/{name[len(PREFIX):]}" if parent else name[len(PREFIX):])
            while parent and parent not in parents:
                parents.add(parent)
                parent = parent.rpartition("/")[0]
            parents.add(parent)
        self.layer_sizes.append(layer_size)
        # dive visits leaves depth-first in name order (whiteouts under their ".wh." names)
        for raw in sorted((p for p in nodes if p not in parents), key=lambda p: p.split("/")):
            is_whiteout, header, deleted = nodes[raw]
            if is_whiteout:
                key = deleted
                below_node = below.get(deleted)
                if below_node is None:
                    # dive: the path enters its table with minimum -1, then the
                    # error ends the visit of this layer's remaining leaves
                    self.cumulative.setdefault(key, 0)
                    self.minimum.setdefault(key, -1)
                    self.seen.setdefault(key, 0)
                    return
                size = self._deleted_size(below, deleted)
            else:
                key, size = raw, header
            self.cumulative[key] = self.cumulative.get(key, 0) + size
            old = self.minimum.get(key)
            self.minimum[key] = size if old is None or size < old else old
            self.seen[key] = self.seen.get(key, 0) + 1

    @staticmethod
    def _deleted_size(below: Tree, path: str) -> int:
        node = below.get(path)
        if node is None or node.kind != DIR:
            return 0
        return sum(n.entry.size for p in below.walk(path) if (n := below.nodes[p]).kind == FILE)

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
