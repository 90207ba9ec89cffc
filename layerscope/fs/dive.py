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
  and its implied parents are the ancestors it does not list, all found in
  whole-list operations. Only an unresolved whiteout stops a visit and every
  add leaves the same stack whatever the order, so dive's children-first
  name sort cannot matter there. A path listed twice, or a non-file with a
  size, sends the layer down the general path;
* a layer with whiteouts gets dive's tree and children-first visit;
* dive's stack is a flat path -> info dict; its children index (needed to
  size and remove a whiteout's subtree) is built on the first whiteout and
  kept from then on;
* a layer the fast path took is stacked, and its leaves put in the per-path
  table, only when the next layer comes: the figures add the last layer's
  leaves without inserting them (for a typical image, its largest layer);
* the per-path table holds the size for a path seen once, and
  ``[cumulative, minimum, seen]`` for the rest; ``cumulative``, ``minimum``
  and ``seen`` are dicts built from it on demand.
"""

from __future__ import annotations

from itertools import compress, repeat
from operator import attrgetter, contains, itemgetter

from ..layer.entry import DIR, FILE, Entry
from ..layer.whiteout import META_PREFIX, PREFIX

# A node's info: None for a parent dive made on the way (no file info), -1 for a
# directory (header size 0), else the header size of a non-directory.
Info = int | None
_DIR = -1
_path, _size, _kind, _head = attrgetter("path"), attrgetter("size"), attrgetter("kind"), itemgetter(0)


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

    __slots__ = ("layer_sizes", "fast", "_table", "_totals", "_stacked", "_pending", "_unaccounted", "_sums_cache")

    def __init__(self, *, fast: bool = True) -> None:
        self.layer_sizes: list[int] = []  # dive's layer size: summed header sizes
        self.fast = fast
        # path -> size (seen once) or [cumulative, minimum, seen]
        self._table: dict[str, int | list[int]] = {}
        self._totals = [0, 0, 0]  # the table's sums: cumulative, minimum, cumulative of paths seen twice or more
        self._sums_cache: tuple[int, int, int] | None = None
        self._stacked = _Tree(indexed=False)  # dive's stack of the layers added so far (but _pending)
        # the last layer if the fast path took it, not stacked yet: (path -> info of the paths it
        # lists, their proper ancestors with the root, the summed sizes of its leaves)
        self._pending: tuple[dict[str, Info], set[str], int] | None = None
        self._unaccounted = False  # the pending layer's leaves are not in _table yet

    def add_layer(self, entries: list[Entry]) -> None:
        """Account one layer (its tar entries, in order), then stack it."""
        self._sums_cache = None
        if self._pending is not None:
            self._account_pending()
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
        """A layer without whiteouts: its paths and their ancestors from its entry
        list, in whole-list operations (no tree, no Python loop per entry); its
        leaves go into the table when the next layer comes (the figures do
        without). False (nothing done) for a layer with ``.wh.`` in a path, a
        path listed twice or a non-file with a size: the general path takes those."""
        paths = list(map(_path, entries))
        if any(map(contains, paths, repeat(PREFIX))):
            return False
        sizes = list(map(_size, entries))
        kinds = list(map(_kind, entries))
        layer_size = sum(compress(sizes, map(FILE.__eq__, kinds)))
        if sum(sizes) != layer_size:
            return False  # a non-file with a size (the tar reader gives them 0)
        info: dict[str, Info] = dict(zip(paths, sizes))  # what dive's tree would hold
        roots = paths.count("")  # "." : dive skips the root
        if len(info) + roots - (1 if roots else 0) != len(paths):
            return False  # a path listed twice
        info.update(zip(compress(paths, map(DIR.__eq__, kinds)), repeat(_DIR)))
        if roots:
            del info[""]
            at = -1
            for _ in range(roots):
                at = paths.index("", at + 1)
                if kinds[at] == FILE:
                    layer_size -= sizes[at]
        # the proper ancestors of the layer's paths: the parents, and above a parent it only implies, theirs
        parents = set(map(_head, map(str.rpartition, paths, repeat("/"))))
        parents.add("")
        for p in parents - info.keys():
            p = p.rpartition("/")[0]
            while p not in parents:
                parents.add(p)
                p = p.rpartition("/")[0]
        self.layer_sizes.append(layer_size)
        # the leaves are the listed paths that are no parent; what a listed parent has is not counted
        leaf_bytes = layer_size - sum(filter((0).__lt__, filter(None, map(info.get, parents))))
        self._pending = (info, parents, leaf_bytes)
        self._unaccounted = True
        return True

    def _see(self, key: str, size: int) -> None:
        """One more sighting of ``key`` with ``size``: its record and the table's sums."""
        table, totals = self._table, self._totals
        old = table.get(key)
        totals[0] += size
        if old is None:
            table[key] = size
            totals[1] += size
        elif old.__class__ is int:
            table[key] = [old + size, old if old < size else size, 2]
            if size < old:
                totals[1] += size - old
            totals[2] += old + size
        else:
            cum, low, seen = old
            old[0] = cum + size
            if low < 0 or size < low:
                old[1] = size
                totals[1] += size - low
            old[2] = seen + 1
            if seen >= 2:
                totals[2] += size
            elif seen == 1:
                totals[2] += cum + size

    def _account_pending(self) -> None:
        """Put the pending layer's leaves in the table (dive's visit, in any order: no whiteouts)."""
        if not self._unaccounted:
            return
        self._unaccounted = False
        info, parents, leaf_bytes = self._pending
        table = self._table
        leaves = info.keys() - parents
        again = leaves & table.keys() if table else ()
        if again:
            leaves -= again
            for path in again:
                size = info[path]
                if size < 0:
                    size = 0
                leaf_bytes -= size
                self._see(path, size)
        table.update(zip(leaves, map(max, map(info.__getitem__, leaves), repeat(0))))  # an empty dir: 0
        self._totals[0] += leaf_bytes  # the new paths, each seen once
        self._totals[1] += leaf_bytes

    def _stack_pending(self) -> None:
        info, parents, _ = self._pending
        self._pending = None
        parents.difference_update(info)
        parents.discard("")  # now the parents the layer only implies: dive's Stack takes their info away
        stacked = self._stacked
        if stacked.kids is None:
            sinfo = stacked.info
            sinfo.update(info)
            sinfo.update(zip(parents, repeat(None)))
            return
        for p in parents:
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
            if whiteout:
                lower = stacked.info.get(key, False)
                if lower is False:
                    if key not in table:
                        table[key] = [0, -1, 0]
                        self._totals[1] -= 1
                    return  # dive's visitor errors out: the rest of this layer is not visited
                size = stacked.subtree_size(key) if lower == _DIR else 0
            else:
                size = info[path]
                if size is None or size < 0:
                    size = 0
            self._see(key, size)

    def _records(self) -> dict[str, int | list[int]]:
        self._account_pending()
        return self._table

    @property
    def cumulative(self) -> dict[str, int]:
        return {p: v if v.__class__ is int else v[0] for p, v in self._records().items()}

    @property
    def minimum(self) -> dict[str, int]:
        return {p: v if v.__class__ is int else v[1] for p, v in self._records().items()}

    @property
    def seen(self) -> dict[str, int]:
        return {p: 1 if v.__class__ is int else v[2] for p, v in self._records().items()}

    def _sums(self) -> tuple[int, int, int]:
        """(sum of cumulative, sum of minimum, wasted bytes), the pending layer's
        leaves included without putting them in the table."""
        if self._sums_cache is not None:
            return self._sums_cache
        total, low, wasted = self._totals
        table = self._table
        if self._unaccounted:
            info, parents, leaf_bytes = self._pending
            total += leaf_bytes  # each leaf as if seen once; then the paths seen before
            low += leaf_bytes
            small, large = (table, info) if len(table) < len(info) else (info, table)
            for path in small:
                if path not in large or path in parents:
                    continue
                size = info[path]
                if size < 0:
                    size = 0
                old = table[path]
                cum, least, seen = (old, old, 1) if old.__class__ is int else old
                low += (size if least < 0 or size < least else least) - least - size
                if seen >= 2:
                    wasted += size
                elif seen == 1:
                    wasted += cum + size
        self._sums_cache = total, low, wasted
        return self._sums_cache

    @property
    def efficiency(self) -> float:
        total, low, _ = self._sums()
        return 1.0 if total == 0 else low / total

    @property
    def wasted_bytes(self) -> int:
        return self._sums()[2]

    def user_wasted_ratio(self, base_layers: int = 1) -> float:
        """dive's ratio; +inf when the user layers store no bytes but waste exists (dive divides by 0)."""
        user = sum(self.layer_sizes[base_layers:])
        wasted = self.wasted_bytes
        if user:
            return wasted / user
        return float("inf") if wasted else 0.0
