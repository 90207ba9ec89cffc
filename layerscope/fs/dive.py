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

How it is computed (the figures are the same either way; tests/test_dive_model.py
runs both ways on random layers and against the previous tree-per-layer code):

* a layer with no ``.wh.`` in any path (the common case) builds no tree: its
  leaves are its paths that are no proper ancestor of another of its paths,
  and its implied parents are the ancestors it does not list. Only an
  unresolved whiteout stops a visit and every add leaves the same stack
  whatever the order, so dive's children-first name sort cannot matter there;
* a layer with whiteouts gets dive's tree and children-first visit;
* dive's stack is a flat path -> info dict; its children index (needed to
  size and remove a whiteout's subtree) is built on the first whiteout and
  kept from then on; each layer is stacked only when the next one comes (the
  last one never needs to be);
* the per-path table holds the size for a path seen once, and
  ``[cumulative, minimum, seen]`` for the rest; ``cumulative``, ``minimum``
  and ``seen`` are dicts built from it on demand.
"""

from __future__ import annotations

from ..layer.entry import DIR, FILE, Entry
from ..layer.whiteout import META_PREFIX, PREFIX

# A node's info: None for a parent dive made on the way (no file info), -1 for a
# directory (header size 0), else the header size of a non-directory.
Info = int | None
_IMPLIED = None
_DIR = -1


class _Tree:
    """A dive file tree, flat: path -> info, and path -> child names ("" is the root).

    ``kids`` is None until asked for (:meth:`index`): dive's stack needs it only
    to size and remove what a whiteout deletes."""

    __slots__ = ("info", "kids")

    def __init__(self, *, indexed: bool = True) -> None:
        self.info: dict[str, Info] = {"": None}
        self.kids: dict[str, list[str]] | None = {} if indexed else None

    def index(self) -> dict[str, list[str]]:
        kids = self.kids
        if kids is None:
            kids = self.kids = {}
            for path in self.info:  # every path's parent is in the tree
                if path:
                    parent, _, name = path.rpartition("/")
                    kids.setdefault(parent, []).append(name)
        return kids

    def add(self, path: str, info: Info) -> None:
        """dive's ``AddPath``: create missing parents (no info), set the path's info."""
        tinfo, kids = self.info, self.kids
        parent, _, name = path.rpartition("/")
        if parent in tinfo and not name.startswith(META_PREFIX):  # the usual case
            if kids is not None and path not in tinfo:
                kids.setdefault(parent, []).append(name)
            tinfo[path] = info
            return
        parts = path.split("/")
        cut = next((i for i, p in enumerate(parts) if p.startswith(META_PREFIX)), None)
        if cut is not None:
            parts = parts[:cut]  # dive refuses that node; the parents made on the way stay
        prefix = ""
        for name in parts:  # iterative: a hostile tar may nest thousands deep
            child = f"{prefix}/{name}" if prefix else name
            if child not in tinfo:
                if kids is not None:
                    kids.setdefault(prefix, []).append(name)
                tinfo[child] = None
            prefix = child
        if cut is None:
            tinfo[path] = info

    def remove(self, path: str) -> None:
        """dive's ``RemovePath``: the node and its subtree (a missing path is no error here)."""
        if path not in self.info or not path:
            return
        kids = self.index()
        parent, _, name = path.rpartition("/")
        kids[parent].remove(name)
        stack = [path]
        while stack:
            p = stack.pop()
            del self.info[p]
            stack.extend(f"{p}/{k}" for k in kids.pop(p, ()))

    def subtree_size(self, path: str) -> int:
        kids, info = self.index(), self.info
        total, stack = 0, [path]
        while stack:
            p = stack.pop()
            size = info[p]
            if size:
                total += size if size > 0 else 0
            stack.extend(f"{p}/{k}" for k in kids.get(p, ()))
        return total

    def post_order(self) -> list[str]:
        """dive's ``VisitDepthChildFirst`` order: children first, names sorted, the root left out."""
        out: list[str] = []
        stack: list[tuple[str, bool]] = [("", False)]
        kids = self.index()
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


def _info(e: Entry) -> Info:
    kind = e.kind
    return e.size if kind == FILE else _DIR if kind == DIR else 0


class DiveModel:
    """Feed it every layer's entries in order (:meth:`add_layer`), then read the figures.

    ``fast=False`` builds dive's tree for every layer (the general path; tests
    compare the two)."""

    __slots__ = ("layer_sizes", "fast", "_table", "_stacked", "_pending")

    def __init__(self, *, fast: bool = True) -> None:
        self.layer_sizes: list[int] = []  # dive's layer size: summed header sizes
        self.fast = fast
        # path -> size (seen once) or [cumulative, minimum, seen]
        self._table: dict[str, int | list[int]] = {}
        self._stacked = _Tree(indexed=False)  # dive's stack of the layers added so far (but _pending)
        # the last layer, not stacked yet: (path -> info of the paths it lists, the parents it only implies)
        self._pending: tuple[dict[str, Info], set[str]] | None = None

    def add_layer(self, entries: list[Entry]) -> None:
        """Account one layer (its tar entries, in order), then stack it."""
        if self._pending is not None:
            self._stack_pending()
        if self.fast and self._add_plain(entries):
            return
        tree = _Tree()
        layer_size = 0
        for e in entries:
            if not e.path:
                continue  # "." : dive skips the root
            info = _info(e)
            if info and info > 0:
                layer_size += info
            tree.add(e.path, info)
        self.layer_sizes.append(layer_size)
        order = tree.post_order()
        self._account(tree, order)
        stacked, tinfo = self._stacked, tree.info
        for path in order:
            whiteout, target = _target(path)
            if whiteout:
                stacked.remove(target)
            else:
                stacked.add(path, tinfo[path])

    def _add_plain(self, entries: list[Entry]) -> bool:
        """A layer without whiteouts (no ``.wh.`` in any path): account it from
        its entry list, without a tree. False (nothing done) for any other layer."""
        info: dict[str, Info] = {}
        parents = {""}  # proper ancestors of the layer's paths
        layer_size = 0
        file, directory = FILE, DIR
        for e in entries:
            path = e.path
            if not path:
                continue  # "." : dive skips the root
            if PREFIX in path:
                return False
            kind = e.kind
            if kind == file:
                size = info[path] = e.size
                layer_size += size
            else:
                info[path] = _DIR if kind == directory else 0
            parent = path.rpartition("/")[0]
            while parent not in parents:  # "" is in: stops at the root
                parents.add(parent)
                parent = parent.rpartition("/")[0]
        self.layer_sizes.append(layer_size)
        table = self._table
        get = table.get
        for path, size in info.items():  # the leaves, as dive visits them (any order will do)
            if path in parents:
                continue
            if size < 0:
                size = 0
            old = get(path)
            if old is None:
                table[path] = size
            elif old.__class__ is int:
                table[path] = [old + size, old if old < size else size, 2]
            else:
                old[0] += size
                low = old[1]
                if low < 0 or size < low:
                    old[1] = size
                old[2] += 1
        parents.discard("")
        self._pending = (info, parents)
        return True

    def _stack_pending(self) -> None:
        info, parents = self._pending
        self._pending = None
        stacked = self._stacked
        if stacked.kids is None:
            sinfo = stacked.info
            sinfo.update(info)
            for p in parents:
                if p not in info:
                    sinfo[p] = None  # only implied by the layer: dive's Stack takes the info away
            return
        for p in parents:
            if p not in info:
                stacked.add(p, None)
        for path, size in info.items():
            stacked.add(path, size)

    def _account(self, tree: _Tree, order: list[str]) -> None:
        kids, info, stacked = tree.kids, tree.info, self._stacked
        table = self._table
        for path in order:
            if path in kids:
                continue  # only leaves
            whiteout, key = _target(path)
            old = table.get(key)
            if whiteout:
                lower = stacked.info.get(key, False)
                if lower is False:
                    if old is None:
                        table[key] = [0, -1, 0]
                    return  # dive's visitor errors out: the rest of this layer is not visited
                size = stacked.subtree_size(key) if lower == _DIR else 0
            else:
                size = info[path]
                if size is None or size < 0:
                    size = 0
            if old is None:
                table[key] = size
            elif old.__class__ is int:
                table[key] = [old + size, old if old < size else size, 2]
            else:
                old[0] += size
                low = old[1]
                if low < 0 or size < low:
                    old[1] = size
                old[2] += 1

    @property
    def cumulative(self) -> dict[str, int]:
        return {p: v if v.__class__ is int else v[0] for p, v in self._table.items()}

    @property
    def minimum(self) -> dict[str, int]:
        return {p: v if v.__class__ is int else v[1] for p, v in self._table.items()}

    @property
    def seen(self) -> dict[str, int]:
        return {p: 1 if v.__class__ is int else v[2] for p, v in self._table.items()}

    @property
    def efficiency(self) -> float:
        total = low = 0
        for v in self._table.values():
            if v.__class__ is int:
                total += v
                low += v
            else:
                total += v[0]
                low += v[1]
        return 1.0 if total == 0 else low / total

    @property
    def wasted_bytes(self) -> int:
        return sum(v[0] for v in self._table.values() if v.__class__ is not int and v[2] >= 2)

    def user_wasted_ratio(self, base_layers: int = 1) -> float:
        """dive's ratio; +inf when the user layers store no bytes but waste exists (dive divides by 0)."""
        user = sum(self.layer_sizes[base_layers:])
        wasted = self.wasted_bytes
        if user:
            return wasted / user
        return float("inf") if wasted else 0.0
