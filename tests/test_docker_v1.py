"""Pre-1.10 ``docker save`` archives: ``repositories`` + ``<id>/json`` parent
chains + ``<id>/layer.tar``, no ``manifest.json`` (``images.build_pre110_archive``).

Expected values come from the bytes the builder wrote. skopeo 1.9 and dive
0.13 cannot read this format ("could not find image manifest"), so
the second opinion is the same layers in an OCI layout: layerscope must see
the same filesystem, and umoci must unpack what layerscope lists.
"""

from __future__ import annotations

import tarfile

import pytest

import images as I
import overlay_images as O
from test_interop_overlay import rel

TOP, BASE = "legacy/v1:1.0", "legacy/v1:base"


@pytest.fixture(scope="module")
def v1(tmp_path_factory) -> I.V1Archive:
    return I.build_pre110_archive(tmp_path_factory.mktemp("v1") / "v1.tar")


@pytest.fixture(scope="module")
def same_layers_oci(v1, tmp_path_factory):
    """The v1 archive's layers, uncompressed, as an OCI layout tagged ``v1``."""
    lay = I.OCILayout(tmp_path_factory.mktemp("v1oci") / "layout")
    descs = [lay.blob(r, I.OCI_LAYER) for r in v1.raws]
    lay.add_ref(lay.image(descs, I.make_config([I.sha256(r) for r in v1.raws])), "v1")
    lay.finish()
    return lay.path


@pytest.mark.parametrize("tag", [TOP, BASE])
def test_values(tag, v1, ls):
    exp = v1.images[tag]
    doc = ls.inspect(exp.arg)
    I.check_inspect(doc, exp)  # digests/diff_ids computed from the tars, created_by from container_config.Cmd
    img = doc["image"]
    assert (img["ref"], img["format"], img["config_digest"], img["manifest_digest"]) == \
        (tag, "docker-archive", None, None)
    assert img["legacy_id"] == (v1.ids[-1] if tag == TOP else v1.ids[0])
    assert [l["digest"] for l in doc["layers"]] == [l["diff_id"] for l in doc["layers"]]
    assert len(doc["warnings"]) == 1 and "pre-1.10" in doc["warnings"][0]


def test_text_says_what_was_not_verified(v1, ls):
    res = ls("inspect", v1.images[TOP].arg)
    assert res.rc == 0, res.err
    assert f"image id {v1.ids[-1]}" in res.out
    assert "Verified:   all blob digests" not in res.out
    assert res.out.count("warning: pre-1.10 docker-archive") == 1


@pytest.mark.parametrize("how", [["--image", BASE], ["--image", "1"]])
def test_selection_options(how, v1, ls):
    I.check_inspect(ls.inspect(*how, v1.path), v1.images[BASE])


def test_two_images_need_a_choice(v1, ls):
    line = I.assert_bad(ls("inspect", "--json", v1.path), TOP)
    assert BASE in line


def test_unknown_tag(v1, ls):
    I.assert_bad(ls("inspect", "--json", f"{v1.path}:legacy/v1:nope"), "nope")


def test_no_verify(v1, ls):
    doc = ls.inspect("--no-verify", v1.images[TOP].arg)
    assert [l["size"] for l in doc["layers"]] == [len(r) for r in v1.raws]


def test_unpacked_into_a_directory(v1, tmp_path, ls):
    d = tmp_path / "unpacked"
    with tarfile.open(v1.path) as tf:
        tf.extractall(d, filter="data")
    exp = v1.images[TOP]
    I.check_inspect(ls.inspect(f"{d}:{TOP}"), I.ImageExpect(d, str(d), None, exp.layers, manifest_digest=None))


def test_without_repositories_is_not_an_image(v1, tmp_path, ls):
    """``<id>/json`` files alone are what a truncated 1.10+ archive leaves
    (they have them too): refused, as Docker's legacy loader refuses it."""
    p = I.retar(v1.path, tmp_path / "norepos.tar", drop={"repositories"})
    I.assert_bad(ls("inspect", "--json", p), "repositories")


@pytest.mark.parametrize("cmd", [["ls", "/", "-R", "--json"], ["changes", "--json"]])
def test_same_filesystem_as_the_oci_layout(cmd, v1, same_layers_oci, ls):
    ours = ls(*cmd[:1], v1.images[TOP].arg, *cmd[1:])
    assert ours.rc == 0, ours.err
    assert ours.err_lines == [f"layerscope: warning: {v1.path}: {_warning(ours)}"]
    theirs = ls(*cmd[:1], f"{same_layers_oci}:v1", *cmd[1:]).json()
    a, b = ours.json(), theirs
    key = "entries" if cmd[0] == "ls" else "layers"
    strip = (lambda x: x) if key == "entries" else (lambda ls_: [{**l, "digest": None, "created_by": None}
                                                                    for l in ls_])
    assert a[key] and strip(a[key]) == strip(b[key])


def _warning(res) -> str:
    return res.err_lines[0].split(": ", 3)[-1] if res.err_lines else ""


@pytest.mark.interop
def test_umoci_unpacks_what_ls_lists(v1, same_layers_oci, ls, tmp_path):
    if not O.have_umoci():
        pytest.skip("umoci not installed")
    rootfs = O.unpack(same_layers_oci, "v1", tmp_path / "bundle")
    nodes, _ = O.walk_rootfs(rootfs)
    doc = ls("ls", v1.images[TOP].arg, "/", "-R", "--json").json()
    got = {rel(e["path"]): ("file" if e["type"] == "hardlink" else e["type"], e["size"], e["mode"])
           for e in doc["entries"]}
    want = {p: (n.type, n.size, n.mode) for p, n in nodes.items()}
    assert got == want


# --------------------------------------------------------------------------
# bad input: exit 2, one line
# --------------------------------------------------------------------------

def _bad(tmp_path, ls, **kw):
    p = I.build_pre110_archive(tmp_path / "bad.tar", **kw)
    return ls("inspect", "--json", p.images[TOP].arg), p


def test_parent_cycle(tmp_path, ls):
    top = I.build_pre110_archive(tmp_path / "probe.tar").ids[-1]
    res, p = _bad(tmp_path, ls, json_of=lambda i, d: {**d, "parent": top} if i == 0 else d)
    I.assert_bad(res, "loops", top[:12])


def test_self_parent(tmp_path, ls):
    top = I.build_pre110_archive(tmp_path / "probe.tar").ids[-1]
    res, _ = _bad(tmp_path, ls, json_of=lambda i, d: {**d, "parent": top} if i == 3 else d)
    I.assert_bad(res, "loops")


def test_missing_parent(tmp_path, ls):
    ids = I.build_pre110_archive(tmp_path / "probe.tar").ids
    res, _ = _bad(tmp_path, ls, drop=frozenset({f"{ids[1]}/json"}))
    I.assert_bad(res, f"{ids[1]}/json")


def test_missing_layer_tar(tmp_path, ls):
    ids = I.build_pre110_archive(tmp_path / "probe.tar").ids
    res, _ = _bad(tmp_path, ls, drop=frozenset({f"{ids[2]}/layer.tar"}))
    I.assert_bad(res, f"{ids[2]}/layer.tar")


def test_tagged_id_missing(tmp_path, ls):
    res, _ = _bad(tmp_path, ls, repositories={"legacy/v1": {"1.0": "ab" * 32}})
    I.assert_bad(res, f"{'ab' * 32}/json")


@pytest.mark.parametrize("garbage", [b"{not json", b"[]", b"\xff\xfe", b""])
def test_garbage_json(garbage, tmp_path, ls):
    res, p = _bad(tmp_path, ls, json_of=lambda i, d: garbage if i == 1 else d)
    I.assert_bad(res, f"{p.ids[1]}/json")


@pytest.mark.parametrize("parent", [123, ["x"], "../../etc", "AB" * 32])
def test_bad_parent_value(parent, tmp_path, ls):
    res, _ = _bad(tmp_path, ls, json_of=lambda i, d: {**d, "parent": parent} if i == 2 else d)
    I.assert_bad(res, "parent")


def test_json_naming_another_id(tmp_path, ls):
    res, p = _bad(tmp_path, ls, json_of=lambda i, d: {**d, "id": "cd" * 32} if i == 1 else d)
    I.assert_bad(res, "cd" * 32)


@pytest.mark.parametrize("repos", [b"{oops", b"[]", {"legacy/v1": ["x"]}, {"legacy/v1": {"1.0": 5}},
                                   {"legacy/v1": {"1.0": "../x"}}, {}])
def test_garbage_repositories(repos, tmp_path, ls):
    res, _ = _bad(tmp_path, ls, repositories=repos)
    I.assert_bad(res, "repositories")
