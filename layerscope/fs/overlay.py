"""Stacking layers into the merged view, recording what each layer changed.

Rules (OCI image-spec layer.md, as containerd and umoci apply them):

1. A layer's whiteouts and opaque markers act on the layers *below* only, so
   they are applied first, whatever their position in the tar.
2. Then the layer's entries, in tar order: dir over dir keeps the children
   and takes the new attributes; anything else over anything replaces the
   old path (a file over a directory removes its subtree).
3. Missing parent directories are created. Parent components that are
   symlinks are followed inside the image root; the final component never.
4. A hardlink names a path already in the view (this layer or below) and
   shares its content; a dangling one is a defect, not applied.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..layer import whiteout as wh
from ..layer.entry import BLOCK, CHAR, DIR, FILE, HARDLINK, METACOPY, SYMLINK, Entry
from ..record import Record
from .tree import LayerId, Node, Tree

ADDED, MODIFIED, METADATA, DELETED, OPAQUE = "added", "modified", "metadata", "deleted", "opaque"


class Change(Record):
    __slots__ = ("path", "change", "type", "size", "removed_bytes", "lower")

    path: str
    change: str  # added | modified | metadata | deleted | opaque
    type: str  # the entry type after the change (before it, for deleted)
    size: int  # content bytes of the entry (after; before for deleted)
    removed_bytes: int  # regular-file bytes this change took out of view
    lower: Node | None  # what was there before this layer

    def __init__(self, path: str, change: str, type: str, size: int, removed_bytes: int = 0,
                 lower: Node | None = None) -> None:
        self.path = path
        self.change = change
        self.type = type
        self.size = size
        self.removed_bytes = removed_bytes
        self.lower = lower


class Warning(Record):
    __slots__ = ("code", "path", "message")

    code: str  # noop-whiteout, bad-whiteout, dangling-hardlink, symlink-loop, path-escape, ...
    path: str
    message: str

    def __init__(self, code: str, path: str, message: str) -> None:
        self.code = code
        self.path = path
        self.message = message

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "path": self.path, "message": self.message}


class LayerChanges(Record):
    __slots__ = ("layer", "changes", "warnings")

    layer: LayerId
    changes: list[Change]
    warnings: list[Warning]

    def __init__(self, layer: LayerId, changes: list[Change] | None = None,
                 warnings: list[Warning] | None = None) -> None:
        self.layer = layer
        self.changes = [] if changes is None else changes
        self.warnings = [] if warnings is None else warnings


def _implied_dir(path: str) -> Entry:
    return Entry(path=path, kind=DIR, size=0, mode=0o755, uid=0, gid=0, mtime=0)


def _same_content(a: Node, b: Node) -> bool:
    ea, eb = a.entry, b.entry
    if a.is_content and b.is_content:
        return ea.size == eb.size and ea.digest == eb.digest
    if ea.kind != eb.kind:
        return False
    if ea.kind == SYMLINK:
        return ea.link == eb.link
    if ea.kind in (CHAR, BLOCK):
        return (ea.devmajor, ea.devminor) == (eb.devmajor, eb.devminor)
    return True


def _replace_reason(old: Node, new: Node) -> str:
    """Why the content of ``old`` leaves view when ``new`` takes its path."""
    if old.is_content and new.is_content:
        return "metadata-copy" if _same_content(old, new) else "overwritten"
    return "replaced"


def _same_meta(a: Entry, b: Entry) -> bool:
    return (a.mode, a.uid, a.gid, a.xattrs) == (b.mode, b.uid, b.gid, b.xattrs)


class _Renames:
    """A layer's renamed lower directories (overlayfs ``redirect_dir``): new
    path -> the lower path whose content it shows. ``entry.link`` is either
    ``"/lower/path"`` or a path in the layer's own coordinates (a rename
    within one directory), mapped through renamed parents."""

    def __init__(self, redirects: list[Entry]) -> None:
        self.sources: dict[str, str] = {}
        for e in sorted(redirects, key=lambda x: x.path.count("/")):
            self.sources[e.path] = self.lower(e.link or e.path)

    def lower(self, path: str) -> str:
        """The lower-layer path behind ``path`` (``"/..."``: already a lower path)."""
        if path.startswith("/"):
            return path.lstrip("/")
        probe = path
        while probe:
            source = self.sources.get(probe)
            if source is not None:
                return source + path[len(probe):]
            probe = probe.rpartition("/")[0]
        return path

    def covers(self, path: str) -> bool:
        """Is ``path`` a renamed directory or below one?"""
        probe = path
        while probe:
            if probe in self.sources:
                return True
            probe = probe.rpartition("/")[0]
        return False


class Overlay:
    """Applies layers one by one to a :class:`Tree`."""

    def __init__(self, *, changes: bool = True) -> None:
        """``changes=False``: apply layers without listing what each changed (inspect,
        ls and ci need the tree and the warnings only; a Change per path costs time and memory)."""
        self.tree = Tree()
        self.record_changes = changes
        # every regular file stored in a layer, as its node (its entry's path is where it went),
        # or as (layer, path, size, inode) when a symlinked parent took it elsewhere: see stored
        self._stored: list[Node | tuple[LayerId, str, int, int]] = []
        self._before_change: list[Callable[[], object]] = []

    @property
    def stored(self) -> list[tuple[LayerId, str, int, int]]:
        """Every regular file stored in a layer: (layer, path, size, inode), in order."""
        return [r if r.__class__ is tuple else (r.layer, r.entry.path, r.entry.size, r.inode) for r in self._stored]

    def before_change(self, hook: Callable[[], object]) -> None:
        """Call ``hook`` before the next layer changes the tree (once): a figure
        computed lazily from the tree takes it as it is now."""
        self._before_change.append(hook)

    def apply(self, layer: LayerId, entries: list[Entry]) -> LayerChanges:
        if self._before_change:
            hooks, self._before_change = self._before_change, []
            for hook in hooks:
                hook()
        out = LayerChanges(layer)
        tree = self.tree
        before: dict[str, Node | None] = {}  # first touch of a path in this layer -> its lower node
        removed: dict[str, int] = {}
        opaque: dict[str, int] = {}
        hidden: set[str] = set()  # lower children of opaque dirs: reported by the opaque change
        wiped: set[str] = set()  # directories (with children) replaced by this layer's entries
        markers: list[tuple[str, str, str, Entry]] = []
        regular: list[Entry] = []
        metacopies: list[Entry] = []
        redirects: list[Entry] = []  # renamed lower directories (overlayfs redirect_dir): entry.link = old path
        prefix, keep = wh.PREFIX, regular.append
        for e in entries:
            if e.defects:
                for d in e.defects:
                    out.warnings.append(Warning(d, e.path, f"{d} in tar member {e.raw_name!r}"))
                    if d == METACOPY:
                        metacopies.append(e)
            if prefix not in e.path:  # no marker (wh.classify's first test, without the call)
                keep(e)
                if e.link and e.kind == DIR:
                    redirects.append(e)
                continue
            kind, parent, name = wh.classify(e.path)
            if kind == wh.NOT_MARKER:
                regular.append(e)
                if e.link and e.kind == DIR:
                    redirects.append(e)
            elif kind == wh.BAD_WHITEOUT:
                out.warnings.append(Warning("bad-whiteout", e.path, "whiteout without a valid target name; not applied"))
            elif wh.applies(kind):
                markers.append((kind, parent, name, e))

        # lower content this layer's renamed directories and metadata-only copy-ups show,
        # taken before the layer changes anything (a rename leaves a whiteout at the old path)
        moved = _Renames(redirects) if redirects else None
        grafts = self._capture_renamed(moved) if moved is not None else {}
        meta_data = self._metacopy_sources(metacopies, entries, moved) if metacopies else {}

        # 1. markers act on the lower layers only. With renamed directories: opaque markers
        #    outside them, then the renamed directories get their lower content (so the whiteout
        #    a rename leaves at the old path takes no content out of view), then the other markers
        if moved is None:
            for marker in markers:
                self._marker(*marker, layer, out, before, removed, opaque, hidden, wiped)
        else:
            later = []
            for marker in markers:
                if marker[0] == wh.OPAQUE_MARKER and not moved.covers(marker[1]):
                    self._marker(*marker, layer, out, before, removed, opaque, hidden, wiped)
                else:
                    later.append(marker)
            self._graft(grafts, moved, redirects, layer, before)
            for marker in later:
                self._marker(*marker, layer, out, before, removed, opaque, hidden, wiped)

        # 2. the layer's own entries, in order. Without change lists, ``before``, ``removed`` and
        #    ``wiped`` (read only to list changes) are not kept; a new path's node goes straight in
        nodes, refs = tree.nodes, tree.refs
        record = self.record_changes
        new_inode = tree._inodes.__next__
        stored = self._stored.append
        for e in regular:
            path = e.path
            parent = nodes.get(path.rpartition("/")[0])
            if parent is None or parent.entry.kind != DIR:  # fast path above: parent is a real dir
                path, ok = tree.resolve(path)
                if not ok:
                    out.warnings.append(Warning("symlink-loop", e.path, "too many symlinks resolving the parent; not applied"))
                    continue
                if not path:  # the root directory itself: attributes only
                    continue
                self._ensure_parents(path, layer, before)
            elif not path:
                continue
            old = nodes.get(path)
            if record:
                before.setdefault(path, old)
            kind = e.kind
            if kind == HARDLINK:
                node = self._hardlink(e, layer, out)
                if node is None:
                    continue
                fresh = False
            else:
                if e.link and kind == DIR:
                    e = e.replace(link=None)  # the redirect was grafted in step 0
                if e.defects and METACOPY in e.defects:
                    # overlayfs metadata-only copy-up: the bytes are still a lower file's
                    src = meta_data.get(e.path)
                    e = e.replace(size=src.size if src else e.size, digest=src.digest if src else None, link=None)
                    node = Node(e, layer, new_inode())
                else:
                    node = Node(e, layer, new_inode())
                    if kind == FILE:  # the node keeps path (its entry's, but for a resolved one), size and inode
                        stored(node if path is e.path else (layer, path, e.size, node.inode))
                fresh = True
            if old is None:
                if fresh:  # Tree.put for a new path and a new inode
                    nodes[path] = node
                    refs[node.inode] = 1
                    kids = tree._children
                    if kids is not None:
                        if kind == DIR:
                            kids[path] = set()
                        parent_path, _, name = path.rpartition("/")
                        kids[parent_path].add(name)
                else:
                    tree.put(path, node)
                continue
            if not (old.kind == DIR and kind == DIR):
                if record:
                    if old.kind == DIR and tree.children.get(path):
                        wiped.add(path)  # a directory's content went with it, whatever comes there later
                    removed[path] = removed.get(path, 0) + tree.remove(
                        path, unseen=layer, reason=_replace_reason(old, node), subtree_reason="replaced", by=layer)
                else:
                    tree.remove(path, unseen=layer, reason=_replace_reason(old, node), subtree_reason="replaced",
                                by=layer)
            tree.put(path, node)

        for path in wiped:
            node, lower = tree.get(path), before.get(path)
            if node is not None and node.kind == DIR and lower is not None and lower.kind == DIR:
                # a directory replaced and made a directory again in one layer: it was cleared
                opaque[path] = opaque.get(path, 0) + removed.pop(path, 0)
        if not self.record_changes:
            return out
        for path, lower in before.items():
            if path in hidden and path not in tree:
                continue
            self._classify(path, lower, layer, removed.get(path, 0), out)
        for path, hidden in opaque.items():
            node = tree.get(path)
            out.changes.append(Change(path, OPAQUE, node.kind if node else DIR, 0, hidden, None))
        out.changes.sort(key=lambda c: (c.path, c.change))
        return out

    def _marker(self, kind: str, parent: str, name: str, e: Entry, layer: LayerId, out: LayerChanges,
                before: dict[str, Node | None], removed: dict[str, int], opaque: dict[str, int],
                hidden: set[str], wiped: set[str]) -> None:
        """Apply one whiteout or opaque marker to what is below."""
        tree = self.tree
        dir_path, ok = tree.resolve(parent, follow_last=True)
        if kind == wh.OPAQUE_MARKER:
            node = tree.get(dir_path)
            if node is None or node.kind != DIR:
                out.warnings.append(Warning("noop-whiteout", e.path, f"opaque marker for {'/' + dir_path!r}, which is not a directory below"))
                return
            for k in tree.children.get(dir_path, ()):
                child = f"{dir_path}/{k}" if dir_path else k
                before.setdefault(child, tree.get(child))
                hidden.add(child)
            opaque[dir_path] = opaque.get(dir_path, 0) + tree.clear_children(dir_path, by=layer)
            return
        target = wh.target(kind, dir_path, name)
        node = tree.get(target)
        if node is None:
            if not self._cleared_above(target, before, opaque):
                out.warnings.append(Warning("noop-whiteout", e.path, f"whiteout of {'/' + target!r}, which does not exist below"))
            return
        before.setdefault(target, node)
        if node.kind == DIR and tree.children.get(target):
            wiped.add(target)  # if the layer makes it a directory again, it was cleared
        removed[target] = removed.get(target, 0) + tree.remove(target, reason="deleted", by=layer)

    @staticmethod
    def _cleared_above(path: str, before: dict[str, Node | None], opaque: dict[str, int]) -> bool:
        """Did another marker of this layer already take ``path`` out (an ancestor
        whited out or made opaque)? Then its whiteout is no no-op."""
        probe = path
        while probe:
            probe = probe.rpartition("/")[0]
            if probe in opaque or before.get(probe) is not None:
                return True
        return False

    def _capture_renamed(self, moved: _Renames) -> dict[str, list[tuple[str, Node]]]:
        """Each renamed directory's lower subtree (relative path, node), from its old path."""
        tree = self.tree
        out = {}
        for path, source in moved.sources.items():
            node = tree.get(source)
            if node is not None and node.kind == DIR:
                out[path] = [(p[len(source):], tree.nodes[p]) for p in tree.walk(source)]
        return out

    def _graft(self, grafts: dict[str, list[tuple[str, Node]]], moved: _Renames, redirects: list[Entry],
               layer: LayerId, before: dict[str, Node | None]) -> None:
        """Put each renamed directory at its new path with the lower subtree of its old one."""
        tree = self.tree
        moved_sources = moved.sources
        for e in sorted(redirects, key=lambda x: x.path.count("/")):
            sub = grafts.get(e.path)
            if sub is None:
                continue  # nothing below to show: the entry is an ordinary directory
            path, ok = tree.resolve(e.path)
            if not ok or not path:
                continue
            self._ensure_parents(path, layer, before)
            old = tree.get(path)
            before.setdefault(path, old)
            if old is not None:
                tree.remove(path, unseen=layer, reason="replaced", subtree_reason="replaced", by=layer)
            tree.put(path, Node(e.replace(link=None), layer, tree.new_inode()))
            source = moved_sources[e.path]
            first: dict[int, str] = {}  # inode -> its first name grafted here
            for rel, node in sub:  # the same lower inodes under the new name, as overlayfs shows them
                entry, same = node.entry, None
                if node.is_content:
                    # another live name of the inode: the old path, what a hardlink named, an earlier graft
                    link = entry.link if entry.kind == HARDLINK else None
                    for cand in (source + rel, link, first.get(node.inode)):
                        live = tree.nodes.get(cand) if cand else None
                        if live is not None and live.inode == node.inode:
                            same = cand
                            break
                    else:
                        same = tree.name_of(node.inode)
                    if entry.kind == HARDLINK:
                        entry = entry.replace(link=same) if same else entry.replace(kind=FILE, link=None)
                    first.setdefault(node.inode, path + rel)
                tree.put(path + rel, Node(entry, node.layer, node.inode), same_as=same)

    def _metacopy_sources(self, metacopies: list[Entry], entries: list[Entry],
                          moved: _Renames | None) -> dict[str, Entry]:
        """Where each metadata-only copy-up's bytes are, in the layers below:
        at the path overlay's redirect names (``entry.link``: a renamed file),
        at its own path, or at the path of another name of the same inode in
        this layer (a lower file hardlinked in the container) -- each mapped
        through renamed parent directories. A candidate of the copy-up's size
        is preferred (overlay keeps the size)."""
        lower = (moved if moved is not None else _Renames([])).lower
        names: dict[str, list[str]] = {}
        for e in entries:
            if e.kind == HARDLINK and e.link:
                names.setdefault(e.link, []).append(e.path)
        out: dict[str, Entry] = {}
        for e in metacopies:
            found = []
            for cand in ([e.link] if e.link else []) + [e.path] + names.get(e.path, []):
                node = self.tree.get(lower(cand))
                if node is not None and node.is_content:
                    found.append(node.entry)
            if found:
                out[e.path] = next((f for f in found if f.size == e.size), found[0])
        return out

    def _ensure_parents(self, path: str, layer: LayerId, before: dict[str, Node | None]) -> None:
        tree = self.tree
        parent = tree.get(path.rpartition("/")[0])
        if parent is not None and parent.entry.kind == DIR:
            return
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            p = "/".join(parts[:i])
            node = tree.get(p)
            if node is not None and node.kind == DIR:
                continue
            before.setdefault(p, node)
            if node is not None:  # a non-directory where a directory must be
                tree.remove(p, reason="replaced", by=layer)
            tree.put(p, Node(_implied_dir(p), layer, tree.new_inode()))

    def _hardlink(self, e: Entry, layer: LayerId, out: LayerChanges) -> Node | None:
        target, ok = self.tree.resolve(e.link or "")
        tnode = self.tree.get(target) if ok else None
        if tnode is None:
            out.warnings.append(Warning("dangling-hardlink", e.path, f"hardlink to {'/' + (e.link or '')!r}, which is not in the image; not applied"))
            return None
        if tnode.kind == DIR:
            out.warnings.append(Warning("dangling-hardlink", e.path, f"hardlink to directory {'/' + (e.link or '')!r}; not applied"))
            return None
        t = tnode.entry
        entry = Entry(
            path=e.path, kind=HARDLINK if tnode.is_content else t.kind, size=t.size, mode=t.mode, uid=t.uid,
            gid=t.gid, mtime=t.mtime, link=target if tnode.is_content else t.link, xattrs=t.xattrs,
            devmajor=t.devmajor, devminor=t.devminor, uname=t.uname, gname=t.gname, digest=t.digest,
            header_offset=e.header_offset, data_offset=e.data_offset, raw_name=e.raw_name, defects=e.defects,
        )
        return Node(entry, layer, tnode.inode)

    def _classify(self, path: str, lower: Node | None, layer: LayerId, removed: int, out: LayerChanges) -> None:
        now = self.tree.get(path)
        if now is None or now.layer != layer:
            if lower is not None and now is None:
                out.changes.append(Change(path, DELETED, lower.kind, lower.entry.size if lower.is_content else 0, removed, lower))
            return
        e = now.entry
        size = e.size if now.is_content else 0
        if lower is None:
            out.changes.append(Change(path, ADDED, e.kind, size, removed, None))
        elif not _same_content(lower, now):
            out.changes.append(Change(path, MODIFIED, e.kind, size, removed, lower))
        elif not _same_meta(lower.entry, e) or (now.is_content and lower.inode != now.inode):
            # same bytes written again: a copy-up that cost the whole file
            out.changes.append(Change(path, METADATA, e.kind, size, removed, lower))


def stack(layers: list[tuple[LayerId, list[Entry]]]) -> tuple[Tree, list[LayerChanges]]:
    """Apply layers bottom-up; the merged tree and each layer's changes."""
    ov = Overlay()
    return ov.tree, [ov.apply(layer, entries) for layer, entries in layers]
