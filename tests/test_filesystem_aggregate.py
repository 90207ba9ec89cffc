"""inspect's ``filesystem``: the final tree by size, in a bounded number of nodes.

The oracle is independent of the aggregate: the final files as ``ls -R --json``
lists them (each content once: a hardlink names a file listed on its own), and
the same sums from Python's tarfile over the layers for an image without
whiteouts or hardlinks.
"""

from __future__ import annotations

import io
import json
import tarfile

import pytest

import images as I
from layerscope import inspect
from layerscope.analysis.filesystem import MAX_DEPTH, aggregate
from layerscope.fs.overlay import Overlay
from layerscope.layer.entry import DIR, FILE, Entry
from layerscope.report.json_out import inspect_doc

BIG = I.rand_bytes(30_000, 7)
LAYERS = [
    [("dir", "etc"), ("file", "etc/conf", b"a=1\n"), ("dir", "usr"), ("dir", "usr/bin"),
     ("file", "usr/bin/tool", BIG, 0o755), ("hardlink", "usr/bin/tool2", "usr/bin/tool"),
     ("symlink", "usr/bin/sh", "tool"), ("file", "etc/copy-a", b"same bytes"), ("file", "etc/copy-b", b"same bytes"),
     ("dir", "var"), ("file", "var/junk", I.rand_bytes(20_000, 8)), ("file", "var/empty", b"")],
    [("whiteout", "var/junk"), ("file", "usr/bin/tool", BIG, 0o700), ("file", "usr/lib/x", b"x" * 5000),
     ("file", "usr/lib/deep/a/b/c", b"c" * 700)],
    [("hardlink", "usr/lib/y", "usr/lib/x"), ("file", "etc/conf", b"a=2, longer\n")],
]


def _layout(w, layers, tag="t"):
    raws = [I.make_tar(l) for l in layers]
    lay = I.OCILayout(w / "img")
    descs = [lay.blob(r, I.OCI_LAYER) for r in raws]
    lay.add_ref(lay.image(descs, I.make_config([I.sha256(r) for r in raws])), tag)
    lay.finish()
    return raws, f"{w / 'img'}:{tag}"


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return _layout(tmp_path_factory.mktemp("fs"), LAYERS)


def _walk(node):
    yield node
    for c in node.get("children", ()):
        yield from _walk(c)


def _under(path: str, files: dict[str, int]) -> int:
    prefix = path.rstrip("/") + "/"
    return sum(s for p, s in files.items() if p.startswith(prefix))


def test_the_sizes_add_up_to_the_final_files(sample, ls):
    _, spec = sample
    doc = json.loads(ls("inspect", "--json", spec).out)
    fs = doc["filesystem"]
    listed = json.loads(ls("ls", "-R", "--json", spec).out)["entries"]
    files = {e["path"]: e["size"] for e in listed if e["type"] == "file"}  # a hardlink's content is its file's
    layers = {e["path"]: e["layer"] for e in listed if e["type"] == "file"}
    assert fs["size"] == sum(files.values()) == doc["efficiency"]["final_file_bytes"]
    assert fs["files"] == len(files) and fs["root"]["path"] == "/"
    assert fs["aggregated"]  # the empty file: counted in a rest node, the only one (below)
    nodes = list(_walk(fs["root"]))
    assert fs["nodes"] == len(nodes)
    for n in nodes:
        if n["type"] == "dir":
            assert n["size"] == _under(n["path"], files), n["path"]
            assert sum(c["size"] for c in n["children"]) == n["size"]
            assert sum(c["files"] for c in n["children"]) == n["files"]
            assert sum(n["by_layer"].values()) == n["size"]
            want: dict[str, int] = {}
            for p, s in files.items():
                if p.startswith(n["path"].rstrip("/") + "/") and s:
                    want[str(layers[p])] = want.get(str(layers[p]), 0) + s
            assert n["by_layer"] == want, n["path"]
            assert n["layer"] == min(map(int, want), key=lambda k: (-want[str(k)], k))  # a tie: the lowest
            assert [c["size"] for c in n["children"] if c["type"] != "rest"] == \
                sorted((c["size"] for c in n["children"] if c["type"] != "rest"), reverse=True)
        elif n["type"] == "file":
            assert files[n["path"]] == n["size"] and layers[n["path"]] == n["layer"]
    shown = {n["path"] for n in nodes if n["type"] == "file"}
    assert shown == {p for p, s in files.items() if s}  # hardlinked content once; empty files only counted
    rest = [n for n in nodes if n["type"] == "rest"]
    assert [(n["path"], n["size"], n["files"]) for n in rest] == [("/", 0, 1)]  # /var: no bytes, no node


def test_tarfile_oracle(tmp_path):
    """Plain files only: the final tree is the union of the layers, later ones winning."""
    layers = [[("file", f"d{i % 3}/s{i % 5}/f{i}", I.rand_bytes(100 + 37 * i, i)) for i in range(40)],
              [("file", f"d{i % 3}/s{i % 5}/f{i}", I.rand_bytes(50 + i, i)) for i in range(0, 40, 4)]]
    raws, spec = _layout(tmp_path, layers)
    final: dict[str, int] = {}
    for raw in raws:
        with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
            final.update({"/" + m.name: m.size for m in tf if m.isreg()})
    fs = inspect_doc(inspect(spec))["filesystem"]
    for n in _walk(fs["root"]):
        if n["type"] == "dir":
            assert n["size"] == (_under(n["path"], final) if n["path"] != "/" else sum(final.values()))


def _synthetic(n_files: int, size=lambda i: 1000 + i % 7919,
               where=lambda i: f"a{i % 5}/b{i % 3}/c{i % 2}") -> Overlay:
    ov = Overlay(changes=False)
    entries, dirs = [], set()
    for i in range(n_files):
        d = where(i)
        for k in range(1, 4):
            part = "/".join(d.split("/")[:k])
            if part not in dirs:
                dirs.add(part)
                entries.append(Entry(path=part, kind=DIR, size=0, mode=0o755, uid=0, gid=0, mtime=0))
        entries.append(Entry(path=f"{d}/f{i}", kind=FILE, size=size(i), mode=0o644, uid=0, gid=0, mtime=0))
    ov.apply(0, entries)
    return ov


def test_the_node_count_is_bounded_and_the_sums_still_hold():
    ov = _synthetic(30_000)
    total = sum(1000 + i % 7919 for i in range(30_000))
    fs = aggregate(ov.tree, max_nodes=500)
    assert fs.aggregated and fs.nodes <= 500 and fs.root.size == total and fs.root.files == 30_000
    stack, count = [fs.root], 0
    while stack:
        n = stack.pop()
        count += 1
        if n.kind == "dir":
            assert sum(c.size for c in n.children) == n.size and sum(c.files for c in n.children) == n.files
            assert sum(n.by_layer.values()) == n.size
            assert [c.kind for c in n.children].count("rest") <= 1
            stack.extend(n.children)
    assert count == fs.nodes
    # the biggest files are the ones chosen (after the 50 directories, bigger still)
    chosen = []
    stack = [fs.root]
    while stack:
        n = stack.pop()
        chosen += [c.size for c in n.children if c.kind == "file"]
        stack.extend(c for c in n.children if c.kind == "dir")
    assert len(chosen) > 300 and min(chosen) >= 1000 + 7700


def test_empty_files_of_a_layer_in_several_directories():
    """Layer 1 provides no bytes: it is in no by_layer (and chosen siblings subtract cleanly)."""
    ov = Overlay(changes=False)
    d = [Entry(path=p, kind=DIR, size=0, mode=0o755, uid=0, gid=0, mtime=0) for p in ("a", "a/x", "a/y")]
    f = [Entry(path=p, kind=FILE, size=n, mode=0o644, uid=0, gid=0, mtime=0)
         for p, n in (("a/x/f", 10), ("a/y/g", 20))]
    ov.apply(0, d + f)
    ov.apply(1, [Entry(path=p, kind=FILE, size=0, mode=0o644, uid=0, gid=0, mtime=0) for p in ("a/x/e", "a/y/e")])
    fs = aggregate(ov.tree)
    (a,) = fs.root.children
    assert a.by_layer == {0: 30} and a.files == 4 and [c.path for c in a.children] == ["a/y", "a/x"]
    assert [(c.kind, c.size, c.files, c.by_layer) for c in a.children[0].children] == \
        [("file", 20, 1, {0: 20}), ("rest", 0, 1, {})]


def test_depth_is_bounded():
    ov = Overlay(changes=False)
    parts = [f"d{i}" for i in range(MAX_DEPTH + 30)]
    entries = [Entry(path="/".join(parts[:k]), kind=DIR, size=0, mode=0o755, uid=0, gid=0, mtime=0)
               for k in range(1, len(parts) + 1)]
    entries.append(Entry(path="/".join(parts) + "/f", kind=FILE, size=10, mode=0o644, uid=0, gid=0, mtime=0))
    ov.apply(0, entries)
    fs = aggregate(ov.tree)
    depth, n = 0, fs.root
    while n.children:
        n = n.children[0]
        depth += 1
    assert depth <= MAX_DEPTH + 1 and n.kind == "rest" and n.size == 10 and n.files == 1


def test_no_filesystem_without_the_waste(sample):
    _, spec = sample
    report = inspect(spec, analyze=False)
    assert report.filesystem is None and "filesystem" not in inspect_doc(report)


def _check(node) -> int:
    """Every directory's children add up to it; returns the nodes below and at ``node``."""
    count = 1
    if node.kind == "dir":
        assert sum(c.size for c in node.children) == node.size
        assert sum(c.files for c in node.children) == node.files
        assert sum(node.by_layer.values()) == node.size and all(node.by_layer.values())
        count += sum(_check(c) for c in node.children)
    return count


@pytest.mark.parametrize("seed", range(0, 40, 3))
def test_random_stacks(seed, tmp_path):
    """Whiteouts, opaque directories, hardlinks, files over directories: the sums still hold."""
    import overlay_images as O
    import random_stacks as R

    raws = [O._raw_tar(entries) for entries in R.random_stack(seed)]
    lay = I.OCILayout(tmp_path / "img")
    descs = [lay.blob(r, I.OCI_LAYER) for r in raws]
    lay.add_ref(lay.image(descs, I.make_config([I.sha256(r) for r in raws])), "t")
    lay.finish()
    report = inspect(f"{tmp_path / 'img'}:t")
    fs = report.filesystem
    assert fs.root.size == report.waste.final_bytes
    assert fs.root.files == sum(1 for n in report.overlay.tree.nodes.values() if n.kind == FILE)
    assert _check(fs.root) == fs.nodes
