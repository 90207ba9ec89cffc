"""What the `explore` UI reads: an image's layers, its tree at any layer, each layer's changes, its waste.

No second code path: everything comes from one ``inspect(analyze=True)``
(the layer cache makes a rerun fast) -- its per-layer change lists
(``report.layer_changes``, what ``layerscope changes`` prints), its final
tree, its :class:`~layerscope.analysis.waste.Waste` -- and, with ``rw``, the
container layer stacked on top as ``ls --rw`` / ``overlay`` stack it.

No tree is built per layer. A path's history (the layers that changed it,
bottom up) is kept as the change records themselves and turned into a small
tuple list on first look; a directory's names over all layers are indexed
once. The tree at a layer is then a filter of one directory's names by
what each name's history says at that layer, and a directory's size is a
bottom-up sum memoised per (layer, directory): opening the root of a
100,000-file layer walks it once, every later expansion is a lookup.

A path's state between two recorded changes is the node the next change
saw below it (``Change.lower``) or, after the last, the final tree's. What
the change lists do not record -- a directory or symlink declared again
unchanged, a path an opaque or deleted ancestor took out and a later layer
declared again as it was -- is read from the layers' own entries (kept by
inspect, indexed per layer on first use). Which name of a hardlinked inode
is the file and which the links follows the names visible at the layer
(the tree re-points links when a name goes).
"""

from __future__ import annotations

from collections import defaultdict
from fnmatch import fnmatchcase

from ..analysis.inspect import InspectReport, inspect
from ..fs.diff import diff_trees, path_order
from ..fs.overlay import ADDED, DELETED, MODIFIED, OPAQUE, Change
from ..fs.tree import LayerId, Node
from ..gcpause import paused_gc
from ..layer.entry import CONTENT_KINDS, DIR, FILE, HARDLINK, Entry
from ..record import Record

__all__ = ["Explore", "LayerRow", "TreeRow"]

_RESETS = (ADDED, MODIFIED, OPAQUE)  # a directory's changes after which nothing below it from before shows
_GLOB = frozenset("*?[")

# One state of a path: (layer position, change or None for an unrecorded rewrite, kind, content size,
# node or None, present). A deleted state keeps the node that was deleted.
_Event = tuple[int, "str | None", str, int, "Node | None", bool]


class LayerRow(Record):
    __slots__ = ("index", "digest", "size", "created_by", "wasted", "changes")

    index: LayerId  # 0..n-1, or "rw" for a container's read/write layer
    digest: str | None
    size: int  # the layer's uncompressed bytes, as inspect reports them (rw: its regular-file bytes)
    created_by: str | None
    wasted: int  # bytes this layer stored that are not visible at the end (inspect's user-waste attribution)
    changes: int  # number of changes in it

    def __init__(self, index: LayerId, digest: str | None, size: int, created_by: str | None, wasted: int,
                 changes: int) -> None:
        self.index = index
        self.digest = digest
        self.size = size
        self.created_by = created_by
        self.wasted = wasted
        self.changes = changes


class TreeRow(Record):
    __slots__ = ("path", "name", "kind", "size", "change", "source", "has_children", "link", "changed_below")

    path: str  # normalised relative path ("" is the root)
    name: str
    kind: str  # Entry.kind; for a deleted entry, the kind it had
    size: int  # file: content bytes; dir: the visible regular-file bytes below it
    change: str | None  # what the selected layer did here: added|modified|metadata|deleted|opaque, or None
    source: LayerId | None  # the layer whose entry is visible at the selected layer (None for deleted)
    has_children: bool  # a dir with visible (or deleted-in-this-layer) children
    link: str | None  # symlink target / hardlink target
    changed_below: bool  # a dir with some change of this layer in its subtree

    def __init__(self, path: str, name: str, kind: str, size: int, change: str | None, source: LayerId | None,
                 has_children: bool, link: str | None, changed_below: bool) -> None:
        self.path = path
        self.name = name
        self.kind = kind
        self.size = size
        self.change = change
        self.source = source
        self.has_children = has_children
        self.link = link
        self.changed_below = changed_below


def _join(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name


class _Side:
    """One image (with its container layer, if any) and the indexes the tree at any layer is read from."""

    def __init__(self, name: str, report: InspectReport, rw: tuple[list[Entry], object] | None,
                 diff: dict[str, str] | None, wasted: dict[LayerId, int]) -> None:
        self.name = name
        self.report = report
        self.diff = diff
        self.ids: list[LayerId] = [layer.index for layer in report.layers]
        self.changes: list[list[Change]] = [lc.changes for lc in report.layer_changes]
        self.rows = [LayerRow(layer.index, layer.digest, layer.size or 0, layer.created_by, wasted.get(layer.index, 0),
                              len(ch)) for layer, ch in zip(report.layers, self.changes)]
        if rw is not None:
            entries, result = rw
            self.ids.append("rw")
            self.changes.append(result.changes)
            self.rows.append(LayerRow("rw", None, sum(e.size for e in entries if e.kind == FILE), None, 0,
                                      len(result.changes)))
        self.pos_of = {lid: pos for pos, lid in enumerate(self.ids)}
        self.final = report.overlay.tree.nodes
        # path -> [(layer position, Change)], bottom up; directory -> the names ever in it
        raw: dict[str, list[tuple[int, Change]]] = {}
        get = raw.get
        for pos, changes in enumerate(self.changes):
            for c in changes:
                h = get(c.path)
                if h is None:
                    raw[c.path] = [(pos, c)]
                else:
                    h.append((pos, c))
        kids: defaultdict[str, list[str]] = defaultdict(list)
        for path in raw:
            if path:
                parent, _, name = path.rpartition("/")
                kids[parent].append(name)
        self.raw = raw
        self.kids = kids
        self._sorted: dict[str, list[str]] = {}
        self._events: dict[str, tuple[_Event, ...]] = {}
        self._resets: dict[tuple[int, str], int] = {}
        self._sizes: dict[tuple[int, str], int] = {}
        self._changed: dict[int, set[str]] = {}
        self._names: dict[int, list[str]] | None = None
        self._entries: dict[int, dict[str, Entry]] = {}
        self._touched: dict[int, set[str]] = {}
        self._shown: dict[tuple[int, str], bool] = {}  # (layer position, directory) -> does it show there
        self.rw_entries = rw[0] if rw is not None else None
        self.view = "container" if rw is not None else "image"

    # -- a path's history -------------------------------------------------------------------

    def events(self, path: str) -> tuple[_Event, ...]:
        ev = self._events.get(path)
        if ev is not None:
            return ev
        raw = self.raw.get(path)
        if raw is None:
            if path == "":
                return ()
            self._events[path] = ()
            return ()
        merged: list[list] = []  # [pos, change, kind, size, lower, present]
        for pos, c in raw:
            if merged and merged[-1][0] == pos:  # two changes in one layer: an opaque dir also rewritten
                m = merged[-1]
                if c.change != OPAQUE:
                    m[2], m[3], m[5] = c.type, c.size, c.change != DELETED
                    if c.lower is not None:
                        m[4] = c.lower
                m[1] = c.change  # the last, as a dict of changes() keeps
            else:
                merged.append([pos, c.change, c.type, c.size, c.lower, c.change != DELETED])
        out: list[_Event] = []
        n = len(merged)
        pos_of = self.pos_of
        for i, (pos, change, kind, size, lower, present) in enumerate(merged):
            if not present:
                out.append((pos, change, kind, size, lower, False))
                continue
            nxt = merged[i + 1] if i + 1 < n else None
            node = nxt[4] if nxt is not None else self.final.get(path)
            if node is None and kind == HARDLINK:  # it went with an ancestor: its own entry names the inode
                node = self._link_node(path, pos)
            out.append((pos, change, kind, size, node, True))
            if node is not None:
                later = pos_of.get(node.layer)
                if later is not None and later > pos and (nxt is None or later < nxt[0]):
                    e = node.entry  # rewritten unchanged by a later layer: it provides the entry from then on
                    out.append((later, None, e.kind, e.size if e.kind in CONTENT_KINDS else 0, node, True))
        ev = self._events[path] = tuple(out)
        return ev

    def _link_node(self, path: str, pos: int) -> Node | None:
        entry = self.entry(pos, path)
        target = self.state(entry.link, pos) if entry is not None and entry.link else None
        if target is None or target[4] is None:
            return None
        return Node(entry, self.ids[pos], target[4].inode)

    def state(self, path: str, pos: int) -> _Event | None:
        """The path's state at layer position ``pos`` (its last change at or below it)."""
        for e in reversed(self.events(path)):
            if e[0] <= pos:
                return e
        return None

    def reset(self, path: str, pos: int) -> int:
        """The last layer (≤ pos) after which nothing from below shows under ``path``:
        it or an ancestor was added, replaced or made opaque there (-1: never)."""
        key = (pos, path)
        r = self._resets.get(key)
        if r is None:
            r = -1
            for e in self.events(path):
                if e[0] > pos:
                    break
                if e[1] in _RESETS:
                    r = e[0]
            if path:
                r = max(r, self.reset(path.rpartition("/")[0], pos))
            self._resets[key] = r
        return r

    def listing(self, path: str, pos: int) -> list[tuple[str, _Event]]:
        """(name, state) of the children of ``path`` visible at ``pos``, and of those deleted at it; by name."""
        names = self._sorted.get(path)
        if names is None:
            names = self._sorted[path] = sorted(self.kids.get(path, ()))  # each name once: raw's keys
        if not names:
            return []
        floor = self.reset(path, pos)
        out = []
        for name in names:
            e = self.state(_join(path, name), pos)
            if e is not None and e[0] < floor and e[5]:
                e = self.reput(_join(path, name), floor, pos)
            if e is not None and e[0] >= floor and (e[5] or e[0] == pos):
                out.append((name, e))
        return out

    def reput(self, path: str, floor: int, pos: int) -> _Event | None:
        """A path an ancestor's reset took out, declared again unchanged (so no change was
        recorded) by a layer from ``floor`` to ``pos``, or a directory made again for what is
        below it: its state from the last such layer, else None."""
        for m in range(pos, floor - 1, -1):
            if path in self.touched(m):
                entry = self.entry(m, path)
                kind = entry.kind if entry is not None else DIR
                return (m, None, kind, entry.size if entry is not None and kind in CONTENT_KINDS else 0, None, True)
        return None

    def touched(self, pos: int) -> set[str]:
        """The paths layer ``pos`` declares (markers aside) and their parents (made on first use)."""
        t = self._touched.get(pos)
        if t is None:
            t = self._touched[pos] = set()
            files = self.rw_entries if self.ids[pos] == "rw" else self.report.layers[pos].files
            for e in files or ():
                p = e.path
                if p.rpartition("/")[2].startswith(".wh."):
                    continue  # a marker makes nothing (its directory must exist already)
                while p and p not in t:
                    t.add(p)
                    p = p.rpartition("/")[0]
        return t

    def visible(self, path: str, pos: int) -> _Event | None:
        """The path's state at ``pos`` when it shows there (or was deleted there), else None."""
        if not path:
            e = self.state("", pos)  # the root is always there; its only change is an opaque marker
            return e if e is not None else (-1, None, DIR, 0, self.final.get(""), True)
        parent = path.rpartition("/")[0]
        if parent and not self._shown_dir(parent, pos):
            return None
        e = self.state(path, pos)
        floor = self.reset(parent, pos)
        if e is not None and e[0] < floor and e[5]:
            e = self.reput(path, floor, pos)
        if e is None or e[0] < floor or not (e[5] or e[0] == pos):
            return None
        return e

    def _shown_dir(self, path: str, pos: int) -> bool:
        key = (pos, path)
        shown = self._shown.get(key)
        if shown is None:
            e = self.visible(path, pos)
            shown = self._shown[key] = e is not None and e[5] and e[2] == DIR
        return shown

    # -- what a row shows --------------------------------------------------------------------

    def names_of(self) -> dict[int, list[str]]:
        """Content inode -> its names over all layers (inodes with two or more), oldest first."""
        if self._names is None:
            seen: dict[int, dict[str, int]] = {}
            for path, raw in self.raw.items():
                first = raw[0][0]  # names are ordered by when they first appeared, as the tree keeps them
                for _pos, c in raw:
                    n = c.lower
                    if n is not None and n.entry.kind in CONTENT_KINDS:
                        seen.setdefault(n.inode, {}).setdefault(path, first)
                n = self.final.get(path)
                if n is not None and n.entry.kind in CONTENT_KINDS:
                    seen.setdefault(n.inode, {}).setdefault(path, first)
                if any(c.type == HARDLINK for _, c in raw):  # names whose nodes went with an ancestor
                    for e in self.events(path):
                        if e[4] is not None and e[2] in CONTENT_KINDS:
                            seen.setdefault(e[4].inode, {}).setdefault(path, first)
            self._names = {inode: sorted(paths, key=lambda p: (paths[p], p))
                           for inode, paths in seen.items() if len(paths) > 1}
        return self._names

    def kind_link(self, path: str, e: _Event, pos: int) -> tuple[str, str | None]:
        kind, node = e[2], e[4]
        if node is None:  # its node went with an ancestor, unrecorded: the layer's own entry says
            entry = self.entry(e[0], path)
            return kind, (entry.link if entry is not None else None)
        if kind not in CONTENT_KINDS or not e[5]:
            return kind, node.entry.link
        names = self.names_of().get(node.inode)
        if not names:
            return FILE, None
        alive = []
        for p in names:
            if p == path:
                alive.append((p, e))
                continue
            o = self.visible(p, pos)
            if o is not None and o[5] and o[4] is not None and o[4].inode == node.inode:
                alive.append((p, o))
        primary = next((p for p, o in alive if o[2] == FILE), alive[0][0])
        if primary == path:
            return FILE, None
        # a link names what its entry named while that name lives (the tree re-points it when it goes)
        own = self.entry(e[0], path)
        live = {p for p, _ in alive}
        for cand in (own.link if own is not None else None, node.entry.link):
            if cand in live and cand != path:
                return HARDLINK, cand
        return HARDLINK, primary

    def entry(self, pos: int, path: str) -> Entry | None:
        """The tar entry layer ``pos`` stored at ``path`` (an index of the layer's entries, made on first use)."""
        by_path = self._entries.get(pos)
        if by_path is None:
            files = self.rw_entries if self.ids[pos] == "rw" else self.report.layers[pos].files
            by_path = self._entries[pos] = {e.path: e for e in files or ()}
        return by_path.get(path)

    def dir_size(self, path: str, pos: int) -> int:
        s = self._sizes.get((pos, path))
        if s is None:
            s = self._sizes[(pos, path)] = self.sum_below(path, pos)
        return s

    def sum_below(self, path: str, pos: int) -> int:
        """The visible regular-file bytes below ``path`` at ``pos`` (each directory below from the memo)."""
        total = 0
        for name, e in self.listing(path, pos):
            if not e[5]:
                continue
            kind = e[2]
            if kind == DIR:
                total += self.dir_size(_join(path, name), pos)
            elif kind == FILE or (kind in CONTENT_KINDS and self.kind_link(_join(path, name), e, pos)[0] == FILE):
                total += e[3]
        return total

    def changed_dirs(self, pos: int) -> set[str]:
        s = self._changed.get(pos)
        if s is None:
            s = self._changed[pos] = set()
            for c in self.changes[pos]:
                p = c.path
                while p:
                    p = p.rpartition("/")[0]
                    if p in s:
                        break
                    s.add(p)
        return s

    def make_row(self, path: str, e: _Event, pos: int) -> TreeRow:
        present = e[5]
        kind, link = self.kind_link(path, e, pos)
        is_dir = kind == DIR and present
        node = e[4]
        if not present:
            source = None
        elif node is not None and (p := self.pos_of.get(node.layer)) is not None and p <= pos:
            source = node.layer
        else:
            source = self.ids[e[0]] if e[0] >= 0 else None
        if present and kind not in CONTENT_KINDS and e[0] >= 0:
            # a directory or symlink declared again unchanged records no change: the layers' entries say
            for m in range(pos, e[0], -1):
                if self.entry(m, path) is not None:
                    source = self.ids[m]
                    break
        return TreeRow(
            path=path, name=path.rpartition("/")[2], kind=kind,
            size=self.dir_size(path, pos) if is_dir else e[3],  # a deleted entry: the bytes it had
            change=e[1] if e[0] == pos else None, source=source,
            has_children=is_dir and self._has_children(path, pos), link=link,
            changed_below=is_dir and path in self.changed_dirs(pos),
        )

    def _has_children(self, path: str, pos: int) -> bool:
        names = self.kids.get(path)
        if not names:
            return False
        floor = self.reset(path, pos)
        for name in names:
            e = self.state(_join(path, name), pos)
            if e is not None and e[0] < floor and e[5]:
                e = self.reput(_join(path, name), floor, pos)
            if e is not None and e[0] >= floor and (e[5] or e[0] == pos):
                return True
        return False


def _wasted_by_layer(report: InspectReport) -> dict[LayerId, int]:
    """Stored regular-file bytes no longer visible, by the layer that stored them (as ``measure``
    attributes user waste); read before a container layer is stacked on top."""
    visible = report.overlay.tree.refs
    out: dict[LayerId, int] = {}
    for rec in report.overlay._stored:  # as measure() reads it: a node, or (layer, path, size, inode)
        if rec.__class__ is tuple:
            layer, _path, size, inode = rec
        else:
            layer, size, inode = rec.layer, rec.entry.size, rec.inode
        if inode not in visible:
            out[layer] = out.get(layer, 0) + size
    return out


class Explore:
    """The explorer's model of one image (side "A") and, with ``compare``, a second one ("B")."""

    def __init__(self, sides: dict[str, _Side]) -> None:
        self._sides = sides
        self.sides: list[str] = list(sides)
        self.side: str = self.sides[0]

    @classmethod
    def load(cls, spec: str, *, rw: str | None = None, compare: str | None = None, platform: str | None = None,
             verify: bool = True, cache: bool = True, progress: bool | None = False) -> Explore:
        """Run the analyses once: inspect each image with its per-layer changes; ``rw`` stacked on A."""
        rw_entries = None
        if rw is not None:
            from ..layer.upperdir import read_rw_layer

            rw_entries = read_rw_layer(rw)  # bad input fails before the image is read
        kw = {"platform": platform, "verify": verify, "cache": cache, "progress": progress}
        with paused_gc():  # one small tuple list per path, no cycles; a command line wraps this in a freezing pause
            return cls._load(spec, rw_entries, compare, kw)

    @classmethod
    def _load(cls, spec: str, rw_entries: list[Entry] | None, compare: str | None, kw: dict) -> Explore:
        # the layers' entries are kept: a path whose node went with an ancestor is read from its layer's
        a = inspect(spec, analyze=True, keep_entries=True, **kw)
        b = inspect(compare, analyze=True, keep_entries=True, **kw) if compare is not None else None
        diffs: list[dict[str, str] | None] = [None, None]
        if b is not None:  # compare's files section, from the same function, before a container layer lands
            d = diff_trees(a.overlay.tree, b.overlay.tree)
            diffs[1] = {**{p: "added" for p, _ in d.added}, **{p: "removed" for p, _ in d.removed},
                        **{m.path: "modified" for m in d.modified}}
            diffs[0] = {p: {"added": "removed", "removed": "added"}.get(k, k) for p, k in diffs[1].items()}
        wasted = _wasted_by_layer(a)  # read before a container layer changes what is visible
        rw_layer = None
        if rw_entries is not None:  # stacked as ``ls --rw`` and ``overlay`` stack it
            rw_layer = (rw_entries, a.overlay.apply("rw", rw_entries))
        side_a = _Side(a.ref or spec, a, rw_layer, diffs[0], wasted)
        sides = {"A": side_a}
        if b is not None:
            sides["B"] = _Side(b.ref or compare, b, None, diffs[1], _wasted_by_layer(b))
        return cls(sides)

    # -- the current side --------------------------------------------------------------------

    def set_side(self, side: str) -> None:
        if side not in self._sides:
            raise ValueError(f"no side {side!r}: {self.sides}")
        self.side = side

    @property
    def _s(self) -> _Side:
        return self._sides[self.side]

    @property
    def name(self) -> str:
        return self._s.name

    @property
    def layers(self) -> list[LayerRow]:
        return self._s.rows

    @property
    def view(self) -> str:
        return self._s.view

    @view.setter
    def view(self, value: str) -> None:
        if value not in ("image", "container") or (value == "container" and "rw" not in self._s.pos_of):
            raise ValueError(f"view {value!r}: 'image', or 'container' with a rw layer")
        self._s.view = value

    @property
    def top(self) -> LayerId:
        """The layer the view shows the tree after: "rw" in the container view, else the last image layer."""
        s = self._s
        return "rw" if s.view == "container" else s.rows[-2 if "rw" in s.pos_of else -1].index

    @property
    def report(self) -> InspectReport:
        return self._s.report

    def _pos(self, layer: LayerId) -> int:
        pos = self._s.pos_of.get(layer)
        if pos is None:
            raise ValueError(f"no layer {layer!r}: {self._s.ids}")
        return pos

    # -- the questions the UI asks -----------------------------------------------------------

    def changes(self, layer: LayerId) -> list[Change]:
        """Exactly what ``layerscope changes --layer N`` reports for the layer, in its order."""
        return self._s.changes[self._pos(layer)]

    def children(self, layer: LayerId, path: str = "") -> list[TreeRow]:
        """The direct children of directory ``path`` in the tree after ``layer``, by name,
        with the entries this layer deleted there (change "deleted")."""
        s, pos = self._s, self._pos(layer)
        with paused_gc():  # the first call at a layer resolves every path below: many small tuples, no cycles
            if path and not s._shown_dir(path, pos):
                return []
            return [s.make_row(_join(path, name), e, pos) for name, e in s.listing(path, pos)]

    def row(self, layer: LayerId, path: str) -> TreeRow | None:
        s, pos = self._s, self._pos(layer)
        e = s.visible(path, pos)
        return None if e is None else s.make_row(path, e, pos)

    def history(self, path: str) -> list[tuple[LayerId, str, int]]:
        """(layer, change, content bytes after) for every layer that changed ``path``, bottom up."""
        s = self._s
        return [(s.ids[e[0]], e[1], e[3] if e[5] else 0) for e in s.events(path) if e[1] is not None]

    def wasted_paths(self, limit: int | None = None) -> list[tuple[str, int, LayerId, str]]:
        """inspect's top wasted paths: (path, bytes, the first layer that stored them, main reason)."""
        top = self._s.report.waste.top
        rows = [(t.path, t.bytes, t.layers[0], t.reason) for t in top]
        return rows if limit is None else rows[:limit]

    def details(self) -> dict:
        """inspect --json's ``efficiency`` and ``duplicate_content`` for the image (not its rw layer)."""
        from ..report.json_out import waste_doc

        return waste_doc(self._s.report.waste)

    def find(self, layer: LayerId, pattern: str, limit: int = 10_000) -> list[str]:
        """Paths visible (or deleted) after ``layer`` containing ``pattern`` (a glob when it has * ? [)."""
        s, pos = self._s, self._pos(layer)
        with paused_gc():
            return self._find(s, pos, pattern, limit)

    @staticmethod
    def _find(s: _Side, pos: int, pattern: str, limit: int) -> list[str]:
        if _GLOB & set(pattern):
            hits = [p for p in s.raw if fnmatchcase(p, pattern)]
        else:
            hits = [p for p in s.raw if pattern in p]
        hits = [p for p in hits if p and s.visible(p, pos) is not None]
        hits.sort(key=path_order)
        return hits[:limit]

    def diff_against_other(self) -> dict[str, str] | None:
        """With a compare image: path -> added|removed|modified, this side relative to the other."""
        return self._s.diff

