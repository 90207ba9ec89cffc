"""Whiteout and overlay rules (OCI image-spec layer.md), one test per rule."""

from __future__ import annotations

import xxhash

from layerscope.fs import stack
from layerscope.layer import whiteout as wh
from layerscope.layer.whiteout import AUFS_META, BAD_WHITEOUT, NOT_MARKER, OPAQUE_MARKER, WHITEOUT, classify
from layerscope.layer.entry import Entry


def E(path, data=b"", kind="file", mode=0o644, uid=0, gid=0, link=None, xattrs=None, defects=()):
    content = kind == "file"
    return Entry(path=path, kind=kind, size=len(data) if content else 0, mode=mode, uid=uid, gid=gid, mtime=0,
                 link=link, xattrs=xattrs or {}, digest=xxhash.xxh3_128_digest(data) if content else None,
                 defects=tuple(defects))


def D(path, mode=0o755, uid=0):
    return E(path, kind="dir", mode=mode, uid=uid)


def view(*layers):
    tree, diffs = stack(list(enumerate(layers)))
    return tree, diffs


def changes(diff):
    return {(c.path, c.change): c for c in diff.changes}


def codes(diff):
    return [w.code for w in diff.warnings]


def test_classify_markers():
    assert classify("a/.wh.b") == (WHITEOUT, "a", "b")
    assert classify("a/.wh..wh..opq") == (OPAQUE_MARKER, "a", "")
    assert classify(".wh..wh.plnk")[0] == AUFS_META
    assert classify("a/.wh.")[0] == BAD_WHITEOUT
    assert classify("a/.wh..")[0] == BAD_WHITEOUT and classify("a/.wh...")[0] == BAD_WHITEOUT
    assert classify("a/b.wh.c")[0] == NOT_MARKER


def test_marker_paths_round_trip_through_classify():
    """The markers a reader synthesises are the ones the model recognises."""
    for parent in ("", "a", "a/b"):
        w = wh.whiteout_path(parent, "x")
        assert classify(w) == (WHITEOUT, parent, "x")
        assert wh.target(WHITEOUT, parent, "x") == (f"{parent}/x" if parent else "x")
        o = wh.opaque_path(parent)
        assert classify(o) == (OPAQUE_MARKER, parent, "")
        assert wh.target(OPAQUE_MARKER, parent, "") == parent
    assert [k for k in (NOT_MARKER, WHITEOUT, OPAQUE_MARKER, AUFS_META, BAD_WHITEOUT) if wh.applies(k)] == \
        [WHITEOUT, OPAQUE_MARKER]


def test_whiteout_deletes_lower_subtree_and_is_never_shown():
    tree, (_, d1) = view([D("d"), E("d/x", b"12345"), E("d/sub/y", b"yy"), E("keep", b"k")], [E(".wh.d")])
    assert "d" not in tree and "d/sub/y" not in tree and ".wh.d" not in tree and "keep" in tree
    c = changes(d1)[("d", "deleted")]
    assert c.removed_bytes == 7 and c.type == "dir"


def test_same_layer_entries_survive_their_layers_whiteouts_in_any_order():
    for order in (lambda w, e: [w, e], lambda w, e: [e, w]):
        tree, (_, d1) = view([E("x", b"old")], order(E(".wh.x"), E("x", b"new!")))
        assert tree.get("x").entry.size == 4 and tree.get("x").layer == 1
        assert changes(d1)[("x", "modified")].removed_bytes == 3


def test_opaque_hides_lower_children_not_the_dir_and_not_same_layer_entries():
    lower = [D("d", mode=0o700), E("d/old", b"old"), D("d/sub"), E("d/sub/deep", b"deep")]
    for upper in ([E("d/new", b"n"), D("d/sub"), E("d/.wh..wh..opq")], [E("d/.wh..wh..opq"), E("d/new", b"n"), D("d/sub")]):
        tree, (_, d1) = view(lower, upper)
        assert sorted(tree.walk("d")) == ["d/new", "d/sub"]  # recreated sub is empty: opacity carries
        assert tree.get("d").entry.mode == 0o700  # the dir itself stays
        assert changes(d1)[("d", "opaque")].removed_bytes == 7
        assert ("d/old", "deleted") not in changes(d1)


def test_noop_whiteout_and_opaque_warn():
    _, (_, d1) = view([D("a")], [E(".wh.never"), E("b/.wh..wh..opq")])
    assert codes(d1).count("noop-whiteout") == 2 and not d1.changes


def test_bad_whiteouts_are_defects_not_applied():
    tree, (_, d1) = view([D("a"), E("a/f", b"x")], [E("a/.wh."), E("a/.wh..")])
    assert "a/f" in tree and "a" in tree
    assert codes(d1) == ["bad-whiteout", "bad-whiteout"]


def test_aufs_metadata_ignored():
    tree, (d0,) = view([E(".wh..wh.plnk/1.2", b"x"), E(".wh..wh.aufs"), E("f", b"x")])
    assert list(tree.walk()) == ["f"] and not d0.warnings


def test_dir_over_dir_keeps_children_takes_attributes():
    tree, (_, d1) = view([D("d", mode=0o755), E("d/x", b"x")], [D("d", mode=0o700, uid=5)])
    assert "d/x" in tree and tree.get("d").entry.mode == 0o700 and tree.get("d").layer == 1
    assert changes(d1)[("d", "metadata")]


def test_file_over_dir_removes_subtree_and_dir_over_file():
    tree, (_, d1) = view([D("d"), E("d/x", b"12"), E("f", b"abc")], [E("d", b"now a file"), D("f")])
    assert "d/x" not in tree and tree.get("d").kind == "file" and tree.get("f").kind == "dir"
    c = changes(d1)
    assert c[("d", "modified")].removed_bytes == 2 and c[("f", "modified")].removed_bytes == 3


def test_implied_parents_created_by_the_layer():
    tree, (d0,) = view([E("a/b/c/file", b"x")])
    assert [tree.get(p).kind for p in ("a", "a/b", "a/b/c")] == ["dir"] * 3
    assert tree.get("a/b").layer == 0 and ("a/b", "added") in changes(d0)


def test_hardlink_into_lower_layer_shares_content_counted_once():
    tree, (_, d1) = view([E("big", b"x" * 100)], [E("alias", kind="hardlink", link="big")])
    a, b = tree.get("alias"), tree.get("big")
    assert a.inode == b.inode and a.entry.size == 100 and a.entry.digest == b.entry.digest
    _, (_, _, d2) = view([E("big", b"x" * 100)], [E("alias", kind="hardlink", link="big")], [E(".wh.big")])
    assert changes(d2)[("big", "deleted")].removed_bytes == 0  # still visible through alias


def test_hardlink_keeps_old_content_when_target_path_is_replaced_later():
    tree, _ = view([E("t", b"old"), E("h", kind="hardlink", link="t")], [E("t", b"newer")])
    assert tree.get("h").entry.size == 3 and tree.get("t").entry.size == 5


def _links(tree, *paths):
    return {p: (tree.get(p).kind, tree.get(p).entry.link) for p in paths}


def test_hardlinks_always_name_a_path_that_shares_their_content():
    """When the path a hardlink names goes (whiteout, replacement, in its own
    layer or above), the link names a surviving path of the same inode, and
    the last survivor is a plain file: every listed link can be followed."""
    # replaced in the hardlink's own layer: the link is the content's only name
    tree, _ = view([E("t", b"old"), E("h", kind="hardlink", link="t"), E("t", b"newer")])
    assert _links(tree, "h", "t") == {"h": ("file", None), "t": ("file", None)}
    assert tree.get("h").entry.size == 3
    # whited out above
    tree, _ = view([E("t", b"old"), E("h", kind="hardlink", link="t")], [E(".wh.t")])
    assert _links(tree, "h") == {"h": ("file", None)}
    # three names, the file's name goes: the oldest survivor becomes the file
    tree, _ = view([E("t", b"xyz"), E("h1", kind="hardlink", link="t"), E("h2", kind="hardlink", link="t")],
                   [E(".wh.t")])
    assert _links(tree, "h1", "h2") == {"h1": ("file", None), "h2": ("hardlink", "h1")}
    assert tree.get("h1").inode == tree.get("h2").inode
    # a chain (h2 -> h1 -> t) whose middle goes: h2 is re-pointed at t
    tree, _ = view([E("t", b"xyz"), E("h1", kind="hardlink", link="t"), E("h2", kind="hardlink", link="h1")],
                   [E("h1", b"other")])
    assert _links(tree, "t", "h2") == {"t": ("file", None), "h2": ("hardlink", "t")}
    # a directory holding the file goes with its subtree
    tree, _ = view([D("d"), E("d/t", b"xyz"), E("h", kind="hardlink", link="d/t")], [E(".wh.d")])
    assert _links(tree, "h") == {"h": ("file", None)}


def test_dangling_hardlink_is_a_defect():
    tree, (d0,) = view([E("h", kind="hardlink", link="nope")])
    assert "h" not in tree and codes(d0) == ["dangling-hardlink"]


def test_parent_symlinks_resolve_inside_the_root():
    lower = [D("real"), E("abs", kind="symlink", link="/real"), E("rel", kind="symlink", link="../../../real")]
    tree, _ = view(lower, [E("abs/f1", b"1"), E("rel/f2", b"2")])
    assert {"real/f1", "real/f2"} <= set(tree.walk()) and tree.get("abs").kind == "symlink"


def test_final_component_symlink_is_replaced_not_followed():
    tree, _ = view([D("real"), E("real/x", b"keep"), E("ln", kind="symlink", link="real")], [E("ln", b"file")])
    assert tree.get("ln").kind == "file" and tree.get("real/x").entry.size == 4


def test_whiteout_through_symlinked_parent():
    tree, (_, d1) = view([D("real"), E("real/x", b"1"), E("ln", kind="symlink", link="/real")], [E("ln/.wh.x")])
    assert "real/x" not in tree and ("real/x", "deleted") in changes(d1)


def test_symlink_loop_in_parent_is_reported():
    tree, (_, d1) = view([E("a", kind="symlink", link="b"), E("b", kind="symlink", link="a")], [E("a/f", b"x")])
    assert "symlink-loop" in codes(d1)


def test_change_kinds():
    lower = [E("same", b"s"), E("content", b"c1"), E("mode", b"m"), E("owner", b"o"), E("xattr", b"x"),
             E("ln", kind="symlink", link="a"), D("dir")]
    upper = [E("content", b"c2"), E("mode", b"m", mode=0o600), E("owner", b"o", uid=1000),
             E("xattr", b"x", xattrs={"user.k": b"v"}), E("ln", kind="symlink", link="b"), E("same", b"s"), D("dir"),
             E("new", b"n")]
    _, (_, d1) = view(lower, upper)
    got = {c.path: c.change for c in d1.changes}
    assert got == {"content": "modified", "mode": "metadata", "owner": "metadata", "xattr": "metadata",
                   "ln": "modified", "same": "metadata", "new": "added"}  # "dir" unchanged: not listed


def test_devices_and_fifos_are_metadata_only():
    tree, _ = view([E("dev/null", kind="char"), E("p", kind="fifo")])
    assert tree.get("dev/null").kind == "char" and tree.get("p").entry.size == 0


def test_path_escape_defect_is_reported():
    _, (d0,) = view([E("etc/passwd", b"x", defects=("path-escape",))])
    assert codes(d0) == ["path-escape"]


def test_metacopy_keeps_lower_content():
    """An overlayfs metadata-only copy-up carries no data: the content is the lower file's."""
    meta = E("f", b"", mode=0o600, defects=("metacopy",))
    meta.digest, meta.size = None, 5
    tree, (_, d1) = view([E("f", b"12345")], [meta])
    node = tree.get("f")
    assert node.entry.size == 5 and node.entry.digest == xxhash.xxh3_128_digest(b"12345")
    assert changes(d1)[("f", "metadata")]


def test_same_path_twice_in_a_layer_removes_nothing_from_the_view_below():
    tree, (d0,) = view([E("dup", b"first"), E("dup", b"second, longer")])
    assert tree.get("dup").entry.size == 14
    assert changes(d0)[("dup", "added")].removed_bytes == 0


def test_renamed_lower_directory_shows_its_old_content():
    """overlayfs redirect_dir: the upper dir ``moved`` (link = where it came
    from) shows the lower ``b``'s content; the whiteout the rename leaves at
    ``b`` takes nothing out of view; whiteouts and metacopy files inside the
    renamed dir act on that content."""
    lower = [D("b"), E("b/g", b"ggg"), E("b/h", kind="hardlink", link="b/g"), E("b/k", b"kk"), D("b/sub"),
             E("b/sub/x", b"x")]
    rw = [E(".wh.b"), E("moved", kind="dir", mode=0o755, link="/b"), E("moved/.wh.k"), E("moved/g", b"", defects=("metacopy",))]
    tree, (_, d) = view(lower, rw)
    assert "b" not in tree and "moved/k" not in tree
    assert sorted(tree.walk("moved")) == ["moved/g", "moved/h", "moved/sub", "moved/sub/x"]
    g, h = tree.get("moved/g"), tree.get("moved/h")
    assert g.entry.digest == xxhash.xxh3_128_digest(b"ggg") and g.entry.size == 3
    # the metacopy copy-up of g is a new inode (overlayfs without index=on breaks the link): h is
    # the lower inode's last name, so a plain file with the same bytes
    assert (h.kind, h.entry.link, h.entry.digest) == ("file", None, g.entry.digest) and h.inode != g.inode
    assert changes(d)[("b", "deleted")].removed_bytes == 0  # still in view under moved/
    # a rename within one directory: the link is the old name in the layer's own coordinates
    tree, _ = view([D("p"), D("p/old"), E("p/old/f", b"f")], [D("p"), E("p/.wh.old"), E("p/new", kind="dir", mode=0o755, link="p/old")])
    assert sorted(tree.walk("p")) == ["p/new", "p/new/f"]


def test_metacopy_takes_bytes_from_a_renamed_file_or_another_name():
    lower = [E("a", b"aaaa"), E("b", b"bb")]
    # `mv a c` with metacopy=on: c is metacopy with redirect /a, a is whited out
    tree, _ = view(lower, [E(".wh.a"), E("c", b"", defects=("metacopy",), link="/a")])
    assert tree.get("c").entry.digest == xxhash.xxh3_128_digest(b"aaaa") and tree.get("c").entry.link is None
    # `ln b a2` with metacopy=on: the copy-up of b is listed first as a2 (sorted), b links to it
    tree, _ = view(lower, [E("a2", b"", defects=("metacopy",)), E("b", kind="hardlink", link="a2")])
    assert tree.get("a2").entry.digest == xxhash.xxh3_128_digest(b"bb")


def test_directory_cleared_and_recreated_in_one_layer_is_opaque():
    """A lower directory removed (whiteout, or replaced by a symlink) and made a
    directory again in the same layer lost its lower children: `changes` says
    so with an opaque change, rather than nothing at all."""
    lower = [D("a"), E("a/f", b"x" * 10), D("a/sub"), E("a/sub/g", b"y" * 5)]
    for layer in ([E(".wh.a"), D("a"), E("a/new", b"n")],
                  [E("a", kind="symlink", link="/b"), D("a"), E("a/new", b"n")]):
        tree, (_, d) = view(lower, layer)
        assert sorted(tree.walk("a")) == ["a/new"]
        c = changes(d)
        assert c[("a", "opaque")].removed_bytes == 15, layer
        assert ("a/new", "added") in c


def test_whiteout_under_a_directory_another_marker_cleared_is_no_noop():
    lower = [D("a"), D("a/c"), E("a/c/g", b"g")]
    _, (_, d) = view(lower, [E("a/.wh..wh..opq"), E("a/c/.wh.g")])
    assert codes(d) == []
    _, (_, d) = view(lower, [E("a/.wh.nope")])
    assert codes(d) == ["noop-whiteout"]
