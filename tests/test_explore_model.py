"""The explorer's model (issue #17) answers what the commands answer: for every layer, its
changes are `changes --layer N`'s, its tree is `ls -R --layer N`'s, its waste is `inspect`'s,
its container layer is `overlay`'s and its compare diff is `compare`'s."""

from __future__ import annotations

import json
import os
import shutil
import stat

import pytest

import images as I
import test_json_contract as JC
from layerscope.explore import model as M
from layerscope.explore.model import Explore, TreeRow

# the JSON contract's stack (whiteouts, a root opaque marker, hardlinks, symlinks, a metadata-only
# rewrite), then t2's layer on top
CONTRACT = JC.LAYERS
T2 = [("file", "var/lib/dpkg/status", b"Package: a\nVersion: 2\n"),
      ("file", "app/node_modules/x/package.json", b'{"name": "x"}'), ("whiteout", "etc/copy-b"),
      ("file", "etc/conf", b"a=22\n")]
# directories deleted and made again, a file over a directory and back, an opaque subdirectory,
# chmod-only rewrites, a hardlink whose first name goes, symlinks re-pointed
MORE = [
    [("dir", "opt"), ("dir", "opt/app"), ("file", "opt/app/a", b"a" * 100), ("file", "opt/app/b", b"b" * 200),
     ("dir", "opt/app/sub"), ("file", "opt/app/sub/c", b"c" * 300), ("dir", "srv"), ("file", "srv/x", b"x" * 50),
     ("file", "data", b"d" * 1000), ("hardlink", "data2", "data"), ("symlink", "cur", "opt/app"),
     ("dir", "lib"), ("file", "lib/l1", b"1" * 10)],
    [("opaque", "opt/app"), ("file", "opt/app/a", b"A" * 110), ("file", "srv/x", b"x" * 50, 0o600),
     ("whiteout", "data"), ("symlink", "cur", "srv"), ("dir", "lib/new"), ("file", "lib/new/n", b"n" * 7)],
    [("whiteout", "srv"), ("file", "lib", b"now a file"), ("dir", "opt/app/sub"), ("file", "opt/app/sub/d", b"d" * 9)],
    [("dir", "srv"), ("file", "srv/y", b"y" * 60), ("whiteout", "lib"), ("dir", "lib"), ("file", "lib/l2", b"2" * 20),
     ("dir", "opt", 0o700)],
]
# harder: a directory whited out and made again in one layer, an opaque directory re-declared in the
# layers above, files written through a symlinked directory, a hardlink chain losing its first names
HARD = [
    [("dir", "a"), ("dir", "a/b"), ("file", "a/b/f", b"f" * 40), ("symlink", "a/b/s", "f"), ("dir", "real"),
     ("symlink", "via", "real"), ("file", "h1", b"h" * 70), ("hardlink", "h2", "h1"), ("hardlink", "h3", "h2")],
    [("opaque", "a"), ("dir", "a"), ("dir", "a/b"), ("symlink", "a/b/s", "f"), ("file", "via/x", b"x" * 5),
     ("whiteout", "h1")],
    [("dir", "a"), ("dir", "a/b"), ("whiteout", "real"), ("dir", "real"), ("file", "real/y", b"y" * 3),
     ("whiteout", "h2")],
    [("dir", "a"), ("dir", "a/b"), ("file", "a/b/g", b"g"), ("hardlink", "h4", "h3")],
]
RW = [("file", "etc/conf", b"a=3\n"), ("whiteout", "etc/copy-b"), ("file", "new.txt", b"new"),
      ("dir", "var/cache"), ("file", "var/cache/x", b"xx")]


def _image(lay: I.OCILayout, layers: list[list[tuple]], ref: str) -> None:
    raws = [I.make_tar(layer) for layer in layers]
    descs = [lay.blob(r, I.OCI_LAYER) for r in raws]
    lay.add_ref(lay.image(descs, I.make_config([I.sha256(r) for r in raws])), ref)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    w = tmp_path_factory.mktemp("explore")
    lay = I.OCILayout(w / "img")
    _image(lay, CONTRACT, "t")
    _image(lay, CONTRACT + [T2], "t2")
    _image(lay, MORE, "more")
    _image(lay, HARD, "hard")
    lay.finish()
    (w / "rw.tar").write_bytes(I.make_tar(RW))
    return w


def _json(ls, *argv) -> dict:
    res = ls(*argv)
    assert res.rc == 0, res.err
    return json.loads(res.out)


def _walk(model: Explore, layer, path: str = "") -> list[TreeRow]:
    """Every row under ``path`` at ``layer``, depth first (deleted rows too; not below them)."""
    out = []
    for row in model.children(layer, path):
        out.append(row)
        if row.kind == "dir" and row.change != "deleted":
            assert row.has_children == bool(model.children(layer, row.path))
            out.extend(_walk(model, layer, row.path))
    return out


def _abs(p: str) -> str:
    return "/" + p


@pytest.mark.parametrize("ref", ["t2", "more", "hard"])
def test_every_layer_matches_changes_and_ls(work, ls, ref):
    img = f"{work / 'img'}:{ref}"
    model = Explore.load(img, cache=False)
    assert model.sides == ["A"] and model.view == "image"
    n = len(model.layers)
    assert [r.index for r in model.layers] == list(range(n))
    inspect_doc = _json(ls, "inspect", "--json", img)
    assert [r.size for r in model.layers] == [layer["size"] for layer in inspect_doc["layers"]]
    assert [r.digest for r in model.layers] == [layer["digest"] for layer in inspect_doc["layers"]]
    for n_ in range(n):
        (cdoc,) = _json(ls, "changes", "--json", "--layer", str(n_), img)["layers"]
        got = model.changes(n_)
        # the same changes, in the same order
        assert [(_abs(c.path), c.change, c.type, c.size) for c in got] == \
            [(c["path"], c["change"], c["type"], c["size"]) for c in cdoc["changes"]]
        assert model.layers[n_].changes == len(got)
        rows = _walk(model, n_)
        # the rows marked with a change at this layer are its changes
        assert {_abs(r.path): r.change for r in rows if r.change} == {c["path"]: c["change"] for c in cdoc["changes"]
                                                                     if c["path"] != "/"}
        # the visible rows are ls's, with its kinds, and sizes and layers for files
        entries = _json(ls, "ls", "-R", "--json", "--layer", str(n_), img)["entries"]
        visible = [r for r in rows if r.change != "deleted"]
        assert [_abs(r.path) for r in visible] == [e["path"] for e in entries]
        assert [r.kind for r in visible] == [e["type"] for e in entries]
        for r, e in zip(visible, entries):
            assert r.source == e["layer"], r
            if r.kind in ("file", "hardlink"):
                assert r.size == e["size"], r
            if r.kind == "symlink":
                assert r.link == e["link"]
            if r.kind == "hardlink":
                assert _abs(r.link) == e["link"]
        # a directory's size is the regular-file bytes below it; changed_below marks the changes' ancestors
        by_path = {r.path: r for r in visible}
        for r in visible:
            if r.kind == "dir":
                below = [x for p, x in by_path.items() if p.startswith(r.path + "/")]
                assert r.size == sum(x.size for x in below if x.kind == "file")
                assert r.changed_below == any(c.path.startswith(r.path + "/") for c in got)
        assert model.row(n_, "").size == sum(r.size for r in visible if r.kind == "file")
        for r in rows:
            assert model.row(n_, r.path) == r


def test_history(work):
    model = Explore.load(f"{work / 'img'}:t2", cache=False)
    # layer 2 is opaque at the root: what it writes again is added, not modified
    assert model.history("etc/conf") == [(0, "added", 4), (2, "added", 4), (3, "modified", 5)]
    assert model.history("var/junk") == [(0, "added", 20_000), (1, "deleted", 0)]
    assert model.history("usr/bin/tool") == [(0, "added", 30_000), (1, "metadata", 30_000), (2, "added", 30_000)]
    assert model.history("no/such") == []
    more = Explore.load(f"{work / 'img'}:more", cache=False)
    assert [(layer, ch) for layer, ch, _ in more.history("lib")] == [(0, "added"), (2, "modified"), (3, "modified")]
    assert more.row(2, "lib").kind == "file" and more.row(3, "lib").kind == "dir"
    assert more.row(1, "lib/l1") is not None and more.row(2, "lib/l1") is None and more.row(3, "lib/l1") is None
    assert more.row(3, "lib/l2").source == 3
    assert more.row(1, "opt/app/b") is None and more.row(1, "opt/app/sub") is None
    assert more.row(0, "data2").kind == "hardlink" and more.row(1, "data2").kind == "file"
    assert more.row(1, "data").change == "deleted" and more.row(1, "data").source is None


def test_waste_and_details_are_inspects(work, ls):
    for ref in ("t2", "more"):
        img = f"{work / 'img'}:{ref}"
        model = Explore.load(img, cache=False)
        doc = _json(ls, "inspect", "--json", img)
        eff = doc["efficiency"]
        assert model.details() == {"efficiency": eff, "duplicate_content": doc["duplicate_content"]}
        assert [(_abs(p), b, layer, why) for p, b, layer, why in model.wasted_paths()] == \
            [(t["path"], t["bytes"], t["layers"][0], t["reason"]) for t in eff["top"]]
        assert model.wasted_paths(1) == model.wasted_paths()[:1]
        assert sum(r.wasted for r in model.layers) == eff["wasted_bytes"]
    model = Explore.load(f"{work / 'img'}:t", cache=False)
    # var/junk deleted, usr/bin/tool stored again, etc/conf and the copies hidden by layer 2's opaque root
    assert model.layers[0].wasted == 20_000 + 30_000 + 4 + 10 + 10


def test_find(work):
    model = Explore.load(f"{work / 'img'}:t2", cache=False)
    assert model.find(3, "node_modules") == ["app/node_modules", "app/node_modules/x",
                                             "app/node_modules/x/package.json"]
    assert model.find(2, "node_modules") == []
    assert model.find(1, "junk") == ["var/junk"]  # deleted at layer 1: shown
    assert model.find(0, "junk") == ["var/junk"] and model.find(2, "junk") == []
    assert model.find(3, "*.pem") == ["etc/key.pem"]
    assert model.find(0, "usr/bin/t??l*") == ["usr/bin/tool", "usr/bin/tool2"]
    assert model.find(0, "etc/copy-[ab]") == ["etc/copy-a", "etc/copy-b"]
    assert model.find(0, "Etc") == []  # case-sensitive
    assert model.find(0, "e", limit=2) == model.find(0, "e")[:2]


def _upper_dir(root) -> str:
    """RW as an overlayfs upper directory (a 0/0 character device is a whiteout)."""
    u = root / "upper"
    if not u.exists():
        (u / "etc").mkdir(parents=True)
        (u / "etc" / "conf").write_bytes(b"a=3\n")
        try:
            os.mknod(u / "etc" / "copy-b", stat.S_IFCHR | 0o000, os.makedev(0, 0))
        except PermissionError:
            shutil.rmtree(u)
            pytest.skip("mknod not permitted (not root?)")
        (u / "new.txt").write_bytes(b"new")
        (u / "var" / "cache").mkdir(parents=True)
        (u / "var" / "cache" / "x").write_bytes(b"xx")
    return str(u)


@pytest.mark.parametrize("form", ["tar", "upper dir"])
def test_rw_is_overlays_changes_and_ls_rw(work, ls, form):
    img = f"{work / 'img'}:t"
    rw = str(work / "rw.tar") if form == "tar" else _upper_dir(work)
    model = Explore.load(img, rw=rw, cache=False)
    assert [r.index for r in model.layers] == [0, 1, 2, "rw"]
    assert model.view == "container" and model.top == "rw"
    doc = _json(ls, "overlay", "--rw", rw, "--json", img)
    assert [(_abs(c.path), c.change, c.type, c.size) for c in model.changes("rw")] == \
        [(c["path"], c["change"], c["type"], c["size"]) for c in doc["changes"]]
    assert model.layers[-1].changes == len(doc["changes"]) and model.layers[-1].wasted == 0
    rows = _walk(model, "rw")
    assert {_abs(r.path): r.change for r in rows if r.change} == {c["path"]: c["change"] for c in doc["changes"]}
    entries = _json(ls, "ls", "-R", "--rw", rw, "--json", img)["entries"]
    visible = [r for r in rows if r.change != "deleted"]
    assert [(_abs(r.path), r.kind, r.source) for r in visible] == [(e["path"], e["type"], e["layer"]) for e in entries]
    # the image's layers and waste are as without the container layer
    plain = Explore.load(img, cache=False)
    assert model.layers[:-1] == plain.layers and model.details() == plain.details()
    assert [r.path for r in _walk(model, 2)] == [r.path for r in _walk(plain, 2)]
    model.view = "image"
    assert model.top == 2
    with pytest.raises(ValueError):
        plain.view = "container"


def test_compare_sides(work, ls):
    a, b = f"{work / 'img'}:t", f"{work / 'img'}:t2"
    model = Explore.load(a, compare=b, cache=False)
    assert model.sides == ["A", "B"] and model.side == "A"
    files = _json(ls, "compare", "--json", a, b)["files"]
    expect_b = {**{x["path"]: "added" for x in files["added"]}, **{x["path"]: "removed" for x in files["removed"]},
                **{x["path"]: "modified" for x in files["modified"]}}
    assert expect_b  # the images do differ
    assert len(model.layers) == 3
    assert {_abs(p): k for p, k in model.diff_against_other().items()} == \
        {p: {"added": "removed", "removed": "added"}.get(k, k) for p, k in expect_b.items()}
    model.set_side("B")
    assert model.side == "B" and len(model.layers) == 4 and model.name == "t2"
    assert {_abs(p): k for p, k in model.diff_against_other().items()} == expect_b
    assert [r.name for r in model.children(3, "app")] == ["node_modules"]
    with pytest.raises(ValueError):
        model.set_side("C")
    assert Explore.load(a, cache=False).diff_against_other() is None


def test_children_walk_each_path_once_per_layer(tmp_path, monkeypatch):
    """Opening the top of a 20,000-file layer sums each directory once; later calls reuse it."""
    files = [("dir", f"d{i}") for i in range(40)]
    files += [("file", f"d{i % 40}/sub{i % 7}/f{i}", b"x" * (i % 13)) for i in range(20_000)]
    base = [("dir", "d0"), ("file", "d0/old", b"o" * 5)]
    lay = I.OCILayout(tmp_path / "img")
    _image(lay, [base, files], "big")
    lay.finish()
    model = Explore.load(f"{tmp_path / 'img'}:big", cache=False)
    calls: dict[tuple[str, int], int] = {}
    real = M._Side.sum_below

    def counted(self, path, pos):
        calls[(path, pos)] = calls.get((path, pos), 0) + 1
        return real(self, path, pos)

    monkeypatch.setattr(M._Side, "sum_below", counted)
    root = model.children(1, "")
    assert sum(r.size for r in root) == sum(i % 13 for i in range(20_000)) + 5
    for _ in range(3):
        model.children(1, "")
        for r in root:
            for sub in model.children(1, r.path):
                model.children(1, sub.path)
    assert calls and max(calls.values()) == 1
    assert len(calls) == 40 + 40 * 7  # every directory below the root once
    model.children(0, "")
    assert max(calls.values()) == 1
