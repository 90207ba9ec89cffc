"""Two merged filesystems compared path by path: what was added, removed, modified.

The one home of "do these two trees differ, and how" (``compare`` uses it;
a container diff or an explorer can too). A path is compared as what a
container sees there, which is what an unpacked rootfs shows: a hardlink is
the regular file it names (type ``file``, its content and attributes), and
which names share an inode is not compared. Directories are compared by
their own attributes, never by their children (each child is a path of its
own). The root is not compared (stacking takes no attributes for it).
Modification times differ on every rebuild, so they count only when asked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..layer.entry import BLOCK, CHAR, CONTENT_KINDS, FILE, HARDLINK, SYMLINK
from .tree import Node, Tree

# What can differ at a path present in both trees, in the order they are listed.
TYPE, CONTENT, LINK, MODE, UID, GID, XATTRS, MTIME = "type", "content", "link", "mode", "uid", "gid", "xattrs", "mtime"
ASPECTS = (TYPE, CONTENT, LINK, MODE, UID, GID, XATTRS, MTIME)


@dataclass(slots=True)
class Modified:
    path: str
    changes: tuple[str, ...]  # a subset of ASPECTS, in that order
    a: Node
    b: Node


@dataclass(slots=True)
class TreeDiff:
    added: list[tuple[str, Node]]  # in B only
    removed: list[tuple[str, Node]]  # in A only
    modified: list[Modified]

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.modified)


def kind(node: Node) -> str:
    """The type a container sees at a node: a hardlink is the file it names."""
    k = node.entry.kind
    return FILE if k == HARDLINK else k


def size(node: Node) -> int:
    """Content bytes at a node (0 for anything but a regular file)."""
    return node.entry.size if node.entry.kind in CONTENT_KINDS else 0


def path_order(path: str) -> list[str]:
    """Sort key giving ``Tree.walk``'s order (depth first, names sorted), as ``ls -R`` lists."""
    return path.split("/")


def _aspects(a: Node, b: Node, mtime: bool) -> tuple[str, ...]:
    ea, eb = a.entry, b.entry
    out = []
    ka, kb = kind(a), kind(b)
    if ka != kb:
        out.append(TYPE)
    elif ka == FILE:
        if ea.size != eb.size or ea.digest != eb.digest:
            out.append(CONTENT)
    elif ka == SYMLINK:
        if ea.link != eb.link:
            out.append(LINK)
    elif ka in (CHAR, BLOCK):
        if (ea.devmajor, ea.devminor) != (eb.devmajor, eb.devminor):
            out.append(CONTENT)
    if ea.mode != eb.mode:
        out.append(MODE)
    if ea.uid != eb.uid:
        out.append(UID)
    if ea.gid != eb.gid:
        out.append(GID)
    if ea.xattrs != eb.xattrs:
        out.append(XATTRS)
    if mtime and ea.mtime != eb.mtime:
        out.append(MTIME)
    return tuple(out)


def diff_trees(a: Tree, b: Tree, *, mtime: bool = False, paths: Iterable[str] | None = None) -> TreeDiff:
    """Everything that differs between ``a`` and ``b``, each list in ``ls -R`` order.

    ``paths`` limits the comparison of paths present in both trees to those
    (a caller that knows which paths can differ); added and removed paths
    are always complete.
    """
    na, nb = a.nodes, b.nodes
    keys_a, keys_b = na.keys(), nb.keys()
    added = [(p, nb[p]) for p in sorted(keys_b - keys_a, key=path_order)]
    removed = [(p, na[p]) for p in sorted(keys_a - keys_b, key=path_order)]
    modified = []
    common = (keys_a & keys_b) if paths is None else (p for p in paths if p in na and p in nb)
    for p in common:
        x, y = na[p], nb[p]
        if not p or x.entry is y.entry:  # the root; or one entry of a layer both images share
            continue
        changes = _aspects(x, y, mtime)
        if changes:
            modified.append(Modified(p, changes, x, y))
    modified.sort(key=lambda m: path_order(m.path))
    return TreeDiff(added, removed, modified)
