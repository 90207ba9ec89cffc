"""The merged filesystem: path -> node, with the layer that provides each.

A node keeps the tar :class:`Entry` that produced it. Hardlinks share an
``inode`` with their target, so content is counted once and a later layer
that replaces the target's path (a new inode, as on a real unpack) leaves
the hardlink's content as it was. Every hardlink entry names a path that
still shares its inode: when the name a hardlink points at goes, the link
is re-pointed at a surviving name, and the last survivor becomes a plain file
(what a tar of the unpacked tree would say).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from ..layer.entry import CONTENT_KINDS, DIR, FILE, HARDLINK, SYMLINK, Entry
from ..record import Record

MAX_SYMLINK_HOPS = 40  # as Linux's MAXSYMLINKS
LayerId = int | str  # a layer index, or "rw" for a container's read/write layer


class Node(Record):
    __slots__ = ("entry", "layer", "inode")

    entry: Entry  # attributes; for a hardlink, the target's content fields are copied in
    layer: LayerId
    inode: int

    def __init__(self, entry: Entry, layer: LayerId, inode: int) -> None:
        self.entry = entry
        self.layer = layer
        self.inode = inode

    @property
    def kind(self) -> str:
        return self.entry.kind

    @property
    def is_content(self) -> bool:
        """Regular-file content (a file, or a hardlink to one)."""
        return self.entry.kind in CONTENT_KINDS


class Tree:
    """A directory tree keyed by normalised path ("" is the root)."""

    def __init__(self) -> None:
        self._inodes = itertools.count(1)
        root = Entry(path="", kind=DIR, size=0, mode=0o755, uid=0, gid=0, mtime=0)
        self.nodes: dict[str, Node] = {"": Node(root, -1, 0)}
        self._children: dict[str, set[str]] | None = None  # see children
        self.refs: dict[int, int] = {}  # inode -> number of paths naming it
        self.names: dict[int, dict[str, None]] = {}  # hardlinked content inode -> its paths, oldest first
        self.gone: dict[int, tuple[str, LayerId]] = {}  # content inode -> (why, which layer) it left view

    def new_inode(self) -> int:
        return next(self._inodes)

    def copy(self) -> Tree:
        """An independent tree with the same paths (nodes copied, entries shared): layers
        two images share are stacked once, then each image goes on from its own copy."""
        new = Tree.__new__(Tree)
        new._inodes = itertools.count(next(self._inodes))
        new.nodes = {p: Node(n.entry, n.layer, n.inode) for p, n in self.nodes.items()}
        new._children = None
        new.refs = dict(self.refs)
        new.names = {inode: dict(names) for inode, names in self.names.items()}
        new.gone = dict(self.gone)
        return new

    @property
    def children(self) -> dict[str, set[str]]:
        """Directory path -> the names in it (every directory has a key).

        An index of ``nodes``, built on first use and kept up to date from
        then on: stacking needs it only to remove or clear a directory, and a
        many-file layer without either never pays for it."""
        kids = self._children
        if kids is None:
            kids = self._children = {}
            for path, node in self.nodes.items():
                if node.entry.kind == DIR and path not in kids:
                    kids[path] = set()
                if path:
                    parent, _, name = path.rpartition("/")
                    names = kids.get(parent)
                    if names is None:
                        names = kids[parent] = set()
                    names.add(name)
        return kids

    def get(self, path: str) -> Node | None:
        return self.nodes.get(path)

    def __contains__(self, path: str) -> bool:
        return path in self.nodes

    def __len__(self) -> int:
        return len(self.nodes) - 1

    def put(self, path: str, node: Node, *, same_as: str | None = None) -> None:
        """Insert or replace ``path`` (its parent must exist; children kept for dirs).

        A node sharing an existing inode is another name of it: a hardlink
        entry says which path it names; otherwise ``same_as`` does.
        """
        nodes, refs = self.nodes, self.refs
        old = nodes.get(path)
        if old is not None:
            self._unref(path, old)
        nodes[path] = node
        inode = node.inode
        n = refs[inode] = refs.get(inode, 0) + 1
        kind = node.entry.kind
        if kind == HARDLINK and n == 1:  # what it named is gone (it replaced its own target)
            node.entry = node.entry.replace(kind=FILE, link=None)
            kind = FILE
        elif n > 1 and kind in CONTENT_KINDS:
            names = self.names.setdefault(inode, {})
            other = node.entry.link if kind == HARDLINK else same_as
            if other is not None:
                names.setdefault(other, None)  # a name of this inode until now
            names[path] = None
        kids = self._children
        if kids is not None:
            if kind == DIR and path not in kids:
                kids[path] = set()
            if path:
                parent, _, name = path.rpartition("/")
                kids[parent].add(name)

    def name_of(self, inode: int) -> str | None:
        """Some path naming ``inode`` (a scan: only for the rare re-naming of lower content)."""
        names = self.names.get(inode)
        if names:
            return next(iter(names))
        if not self.refs.get(inode):
            return None
        return next((p for p, n in self.nodes.items() if n.inode == inode), None)

    def _unref(self, path: str, node: Node) -> bool:
        """Drop ``path``'s reference; True when that was the last (content leaves view)."""
        n = self.refs.get(node.inode, 0) - 1
        if n <= 0:
            self.refs.pop(node.inode, None)
            self.names.pop(node.inode, None)
            return True
        self.refs[node.inode] = n
        names = self.names.get(node.inode)
        if names is not None and path in names:
            del names[path]
            self._relink(node.inode, names)
        return False

    def _relink(self, inode: int, names: dict[str, None]) -> None:
        """After a name of a hardlinked inode went: one surviving name is the
        file, the others hardlinks naming surviving paths."""
        nodes = self.nodes
        alive = [p for p in names if p in nodes and nodes[p].inode == inode]
        for p in list(names):
            if p not in alive:
                del names[p]
        if not alive:
            return
        primary = next((p for p in alive if nodes[p].entry.kind == FILE), None)
        if primary is None:
            primary = alive[0]
            node = nodes[primary]
            node.entry = node.entry.replace(kind=FILE, link=None)
        if len(alive) == 1:
            del self.names[inode]
            return
        for p in alive:
            node = nodes[p]
            if node.entry.kind == HARDLINK and node.entry.link not in names:
                node.entry = node.entry.replace(link=primary)

    def remove(self, path: str, *, unseen: LayerId | None = None, reason: str = "deleted",
               subtree_reason: str | None = None, by: LayerId | None = None) -> int:
        """Remove ``path`` and its subtree; return the regular-file bytes that left view.

        Nodes from layer ``unseen`` (the layer being applied, replacing its own
        earlier entries) were never in the view below, so they do not count.
        Content whose last name goes records why (``reason`` for ``path``,
        ``subtree_reason`` for what was below it) and by which layer.
        """
        nodes = self.nodes
        top = nodes.get(path)
        if top is None or path == "":
            return 0
        # a non-directory has no children: no need for the index (nor to build it)
        children = self.children if top.entry.kind == DIR else self._children
        removed = 0
        stack = [path]
        while stack:
            p = stack.pop()
            node = nodes.pop(p)
            if self._unref(p, node) and node.is_content:
                self.gone[node.inode] = (reason if p == path else (subtree_reason or reason), by)
                if node.layer != unseen:
                    removed += node.entry.size
            if children is not None:
                kids = children.pop(p, None)
                if kids:
                    stack.extend(f"{p}/{k}" for k in kids)
        if children is not None:
            parent, _, name = path.rpartition("/")
            names = children.get(parent)
            if names is not None:
                names.discard(name)
        return removed

    def clear_children(self, path: str, *, by: LayerId | None = None) -> int:
        """Hide every child of ``path`` (an opaque directory); return bytes hidden."""
        return sum(self.remove(f"{path}/{k}" if path else k, reason="opaque-hidden", by=by)
                   for k in list(self.children.get(path, ())))

    def walk(self, path: str = "") -> Iterator[str]:
        """Paths below ``path`` (not itself), sorted, depth-first."""
        children = self.children
        prefix = f"{path}/" if path else ""
        stack = [prefix + n for n in sorted(children.get(path, ()), reverse=True)]
        while stack:
            p = stack.pop()
            yield p
            kids = children.get(p)
            if kids:
                stack.extend(f"{p}/{n}" for n in sorted(kids, reverse=True))

    def resolve(self, path: str, *, follow_last: bool = False) -> tuple[str, bool]:
        """Resolve symlinks in ``path``'s parent components inside the image root.

        Absolute targets mean the image root and ``..`` is clamped there, as a
        secure unpacker (umoci's securejoin, containerd's fs.RootPath) does.
        Returns (path, ok); ok is False on a symlink loop.
        """
        parent = path.rpartition("/")[0]
        node = self.nodes.get(parent)
        if node is not None and node.entry.kind == DIR and not follow_last:
            # every key's ancestors are real directories, so a path whose
            # parent is a directory in the tree needs no resolving
            return path, True
        todo = [p for p in path.split("/") if p][::-1]
        done: list[str] = []
        hops = 0
        while todo:
            name = todo.pop()
            if name == ".":
                continue
            if name == "..":
                if done:
                    done.pop()
                continue
            candidate = "/".join((*done, name))
            node = self.nodes.get(candidate)
            if node is not None and node.kind == SYMLINK and (todo or follow_last):
                hops += 1
                if hops > MAX_SYMLINK_HOPS:
                    return "/".join((*done, name, *todo[::-1])), False
                target = node.entry.link or ""
                if target.startswith("/"):
                    done = []
                todo.extend(p for p in target.split("/")[::-1] if p)
                continue
            done.append(name)
        return "/".join(done), True
