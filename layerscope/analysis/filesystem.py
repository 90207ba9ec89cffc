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
from ..gcpause import paused_gc
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


# a directory while aggregating: a list, not an object (~100,000 of them in a one-file-per-directory image)
# OWN: its files, (size, path, layer); DIRS: its subdirectories, CHOSEN: its children with a node (None: none)
PATH, SIZE, FILES, BY_LAYER, DIRS, OWN, CHOSEN = range(7)


def _top(by_layer: dict[LayerId, int]) -> LayerId | None:
    """The layer providing most bytes; on a tie the lowest ("rw" after every index)."""
    best = min(by_layer.items(), key=lambda kv: (-kv[1], (1, 0) if isinstance(kv[0], str) else (0, kv[0])),
               default=(None, 0))
    return best[0] if best[1] else None


def aggregate(tree: Tree, *, max_nodes: int = MAX_NODES) -> Filesystem:
    """The final tree by size, in at most ``max_nodes`` nodes (at least 2)."""
    with paused_gc():  # a list per directory, a tuple per file, no cycles: see gcpause.py
        return _aggregate(tree, max(max_nodes, 2))


def _aggregate(tree: Tree, max_nodes: int) -> Filesystem:
    names = tree.names  # hardlinked inodes: their content is counted at one name only
    seen: set[int] = set()
    content = CONTENT_KINDS
    files_in: dict[str, list[tuple[int, str, LayerId]]] = {}
    get = files_in.get
    for path, node in tree.nodes.items():
        e = node.entry
        if e.kind not in content:
            continue
        if names:
            inode = node.inode
            if inode in names:
                if inode in seen:
                    continue
                seen.add(inode)
        parent = path.rpartition("/")[0]
        own = get(parent)
        if own is None:
            own = files_in[parent] = []
        own.append((e.size, path, node.layer))
    dirs: dict[str, list] = {}
    for path, own in files_in.items():
        by: dict[LayerId, int] = {}
        total = 0
        for size, _, layer in own:
            if size:  # by_layer names the layers that provide bytes
                total += size
                by[layer] = by.get(layer, 0) + size
        dirs[path] = [path, total, len(own), by, None, own, None]
    if "" not in dirs:
        dirs[""] = ["", 0, 0, {}, None, [], None]
    for path in list(dirs):  # every ancestor of a directory with files
        while path:
            path = path.rpartition("/")[0]
            if path in dirs:
                break
            dirs[path] = [path, 0, 0, {}, None, [], None]
    for path in sorted(dirs, key=len, reverse=True):  # a parent's path is shorter: children first
        if not path:
            continue
        d = dirs[path]
        up = dirs[path.rpartition("/")[0]]
        if up[DIRS] is None:
            up[DIRS] = [d]
        else:
            up[DIRS].append(d)
        up[SIZE] += d[SIZE]
        up[FILES] += d[FILES]
        by = up[BY_LAYER]
        for layer, n in d[BY_LAYER].items():
            by[layer] = by.get(layer, 0) + n
    root = dirs[""]

    # largest first: a chosen directory's children become candidates; each chosen
    # directory may need a rest node, so room is kept for one
    count, reserve = 1, 1
    heap: list[tuple[int, str, object, list]] = []
    push = heapq.heappush

    def offer(d: list) -> None:
        if d[DIRS] is not None and d[PATH].count("/") < MAX_DEPTH - 1:
            for c in d[DIRS]:
                if c[SIZE]:
                    push(heap, (-c[SIZE], c[PATH], c, d))
        for f in d[OWN]:
            if f[0]:
                push(heap, (-f[0], f[1], f, d))

    offer(root)
    while heap and count + reserve < max_nodes:
        _, _, item, parent = heapq.heappop(heap)
        if parent[CHOSEN] is None:
            parent[CHOSEN] = [item]
        else:
            parent[CHOSEN].append(item)
        count += 1
        if item.__class__ is list:
            reserve += 1
            offer(item)
    aggregated = False
    made = 0

    def build(d: list) -> FsNode:
        nonlocal aggregated, made
        made += 1
        kids: list[FsNode] = []
        size, files, rest_by_layer = d[SIZE], d[FILES], dict(d[BY_LAYER])
        for item in d[CHOSEN] or ():  # in the order chosen: largest first
            if item.__class__ is list:
                kid = build(item)
            else:
                made += 1
                kid = FsNode(item[1], FILE, item[0], 1, item[2], {item[2]: item[0]})
            kids.append(kid)
            size -= kid.size
            files -= kid.files
            for layer, n in kid.by_layer.items():
                left = rest_by_layer.get(layer, 0) - n
                if left:
                    rest_by_layer[layer] = left
                else:
                    del rest_by_layer[layer]
        if files:  # what was not chosen: small files, and the directories holding only such
            aggregated = True
            made += 1
            kids.append(FsNode(d[PATH], REST, size, files, _top(rest_by_layer), rest_by_layer))
        return FsNode(d[PATH], DIR, d[SIZE], d[FILES], _top(d[BY_LAYER]), dict(d[BY_LAYER]), kids)

    tree_root = build(root)
    return Filesystem(tree_root, made, max_nodes, aggregated)
