"""The final filesystem by size: a directory tree with a bounded number of nodes.

What a treemap of the merged filesystem needs, and no more: each node's
regular-file bytes (hardlinked content counted once, as ``final_bytes``
counts it), how many files, and which layers provide those bytes. A
100,000-file image must still give a small report, so the nodes are chosen
largest first (a directory's children become candidates once it is chosen)
until ``max_nodes`` is reached; whatever a chosen directory holds that was
not chosen is folded into one ``rest`` node of that directory ("N small
files"). So every directory's children add up to it exactly, at every level.

One pass over the final tree's nodes (files are attached to their parent
directory), one over its directories (sizes folded upwards, deepest first),
then the largest-first selection over the candidates it reaches.
"""

from __future__ import annotations

import heapq

from ..fs.tree import LayerId, Tree
from ..layer.entry import CONTENT_KINDS
from ..record import Record

MAX_NODES = 4000  # nodes in the aggregate, the root and the rest nodes included
MAX_DEPTH = 64  # directories deeper than this are folded into their parent's rest node (bounded recursion)

DIR, FILE, REST = "dir", "file", "rest"


class FsNode(Record):
    __slots__ = ("path", "kind", "size", "files", "layer", "by_layer", "children")

    path: str  # relative, "" the root; a rest node has its directory's path
    kind: str  # "dir", "file" or "rest" (what a directory holds that was not chosen)
    size: int  # regular-file bytes under it
    files: int  # regular files under it (hardlinked content once)
    layer: LayerId | None  # the layer providing most of its bytes; None for a directory without bytes
    by_layer: dict[LayerId, int]  # bytes per providing layer
    children: list[FsNode]  # a directory's chosen children, largest first, its rest node last

    def __init__(self, path: str, kind: str, size: int, files: int, layer: LayerId | None,
                 by_layer: dict[LayerId, int], children: list[FsNode] | None = None) -> None:
        self.path = path
        self.kind = kind
        self.size = size
        self.files = files
        self.layer = layer
        self.by_layer = by_layer
        self.children = [] if children is None else children


class Filesystem(Record):
    __slots__ = ("root", "nodes", "max_nodes", "aggregated")

    root: FsNode
    nodes: int  # nodes in the tree, the root included
    max_nodes: int
    aggregated: bool  # some files are folded into rest nodes

    def __init__(self, root: FsNode, nodes: int, max_nodes: int, aggregated: bool) -> None:
        self.root = root
        self.nodes = nodes
        self.max_nodes = max_nodes
        self.aggregated = aggregated


class _Dir:
    __slots__ = ("path", "size", "files", "by_layer", "dirs", "own", "chosen")

    def __init__(self, path: str) -> None:
        self.path = path
        self.size = 0
        self.files = 0
        self.by_layer: dict[LayerId, int] = {}
        self.dirs: list[_Dir] = []
        self.own: list[tuple[int, str, LayerId]] = []  # its files: (size, path, layer)
        self.chosen: list = []  # chosen children: _Dir or file tuples


def _top(by_layer: dict[LayerId, int]) -> LayerId | None:
    """The layer providing most bytes; on a tie the lowest ("rw" after every index)."""
    best = min(by_layer.items(), key=lambda kv: (-kv[1], (1, 0) if isinstance(kv[0], str) else (0, kv[0])),
               default=(None, 0))
    return best[0] if best[1] else None


def aggregate(tree: Tree, *, max_nodes: int = MAX_NODES) -> Filesystem:
    """The final tree by size, in at most ``max_nodes`` nodes (at least 2)."""
    max_nodes = max(max_nodes, 2)
    names = tree.names  # hardlinked inodes: their content is counted at one name only
    seen: set[int] = set()
    dirs: dict[str, _Dir] = {"": _Dir("")}
    content = CONTENT_KINDS
    for path, node in tree.nodes.items():
        e = node.entry
        if e.kind not in content:
            continue
        inode = node.inode
        if inode in names:
            if inode in seen:
                continue
            seen.add(inode)
        parent = path.rpartition("/")[0]
        d = dirs.get(parent)
        if d is None:
            d = dirs[parent] = _Dir(parent)
        size, layer = e.size, node.layer
        d.own.append((size, path, layer))
        d.size += size
        d.files += 1
        d.by_layer[layer] = d.by_layer.get(layer, 0) + size
    for path in list(dirs):  # every ancestor of a directory with files
        while path:
            path = path.rpartition("/")[0]
            if path in dirs:
                break
            dirs[path] = _Dir(path)
    for d in sorted(dirs.values(), key=lambda d: -d.path.count("/") if d.path else 1):
        if not d.path:
            continue
        up = dirs[d.path.rpartition("/")[0]]
        up.dirs.append(d)
        up.size += d.size
        up.files += d.files
        for layer, n in d.by_layer.items():
            up.by_layer[layer] = up.by_layer.get(layer, 0) + n
    root = dirs[""]

    # largest first: a chosen directory's children become candidates; each chosen
    # directory may need a rest node, so room is kept for one
    count, reserve = 1, 1
    heap: list[tuple[int, str, object, _Dir]] = []

    def offer(d: _Dir) -> None:
        for c in d.dirs if d.path.count("/") < MAX_DEPTH - 1 else ():
            if c.size:
                heapq.heappush(heap, (-c.size, c.path, c, d))
        for f in d.own:
            if f[0]:
                heapq.heappush(heap, (-f[0], f[1], f, d))

    offer(root)
    while heap and count + reserve < max_nodes:
        _, _, item, parent = heapq.heappop(heap)
        parent.chosen.append(item)
        count += 1
        if item.__class__ is _Dir:
            reserve += 1
            offer(item)
    aggregated = False
    made = 0

    def build(d: _Dir) -> FsNode:
        nonlocal aggregated, made
        made += 1
        kids: list[FsNode] = []
        size, files, rest_by_layer = d.size, d.files, dict(d.by_layer)
        for item in d.chosen:  # in the order chosen: largest first
            if item.__class__ is _Dir:
                kid = build(item)
            else:
                made += 1
                kid = FsNode(item[1], FILE, item[0], 1, item[2], {item[2]: item[0]})
            kids.append(kid)
            size -= kid.size
            files -= kid.files
            for layer, n in kid.by_layer.items():
                left = rest_by_layer[layer] - n
                if left:
                    rest_by_layer[layer] = left
                else:
                    del rest_by_layer[layer]
        if files:  # what was not chosen: small files, and the directories holding only such
            aggregated = True
            made += 1
            kids.append(FsNode(d.path, REST, size, files, _top(rest_by_layer), rest_by_layer))
        return FsNode(d.path, DIR, d.size, d.files, _top(d.by_layer), dict(d.by_layer), kids)

    tree_root = build(root)
    return Filesystem(tree_root, made, max_nodes, aggregated)
