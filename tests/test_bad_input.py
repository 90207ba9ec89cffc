"""Corrupt, truncated, malformed and hostile inputs.

Contract for every case: exit code 2, exactly one non-empty line on stderr
that names the file or object at fault, never a traceback (the ``ls``
fixture fails any run whose stderr contains "Traceback"), never a hang (every
run has a timeout).  layerscope never extracts, so hostile member names must
not write anything anywhere.
"""

from __future__ import annotations

import json
import os
import tarfile

import pytest

import images as I

# Layer-tar damage reaches the tar reader: run those cases with both readers
# (the pure-Python reference and the C scanner; see conftest.TAR_BACKENDS).
BOTH_TAR_READERS = pytest.mark.parametrize("ls", ["python", "c"], indirect=True)


def h12(digest: str) -> str:
    return I.hexof(digest)[:12]


# --------------------------------------------------------------------------
# not an image at all
# --------------------------------------------------------------------------

def test_nonexistent_path(tmp_path, ls):
    p = tmp_path / "does-not-exist.tar"
    I.assert_bad(ls("inspect", "--json", p), "does-not-exist.tar")


def test_nonexistent_path_with_tag(tmp_path, ls):
    p = tmp_path / "does-not-exist.tar"
    I.assert_bad(ls("inspect", "--json", f"{p}:name:tag"), "does-not-exist.tar")


def test_empty_file(tmp_path, ls):
    p = tmp_path / "empty.tar"
    p.write_bytes(b"")
    I.assert_bad(ls("inspect", "--json", p), "empty.tar")


def test_random_bytes(tmp_path, ls):
    p = tmp_path / "random.bin"
    p.write_bytes(I.rand_bytes(64 * 1024, 7))
    I.assert_bad(ls("inspect", "--json", p), "random.bin")


def test_tar_without_image(tmp_path, ls):
    p = tmp_path / "plain.tar"
    I.tar_members(p, [("hello.txt", b"hello\n"), ("dir", None)])
    I.assert_bad(ls("inspect", "--json", p), "plain.tar")


def test_empty_directory(tmp_path, ls):
    d = tmp_path / "emptydir"
    d.mkdir()
    I.assert_bad(ls("inspect", "--json", d), "emptydir")


# --------------------------------------------------------------------------
# truncated archives
# --------------------------------------------------------------------------

def _layer_names(archive):
    with tarfile.open(archive) as tf:
        mj = json.loads(tf.extractfile("manifest.json").read())
    return mj[0]["Layers"]


@BOTH_TAR_READERS
@pytest.mark.parametrize("where", ["manifest-data", "manifest-header", "layer-data", "layer-header",
                                   "last-layer-end"])
@pytest.mark.parametrize("order", ["manifest-last", "manifest-first"])
def test_truncated_docker_archive(where, order, pristine, copy_image, ls):
    src = pristine["docker-archive"]
    p = copy_image(src.path, "cut.tar")
    if order == "manifest-first":
        I.retar(src.path, p, first="manifest.json")
    layers = _layer_names(p)
    offs = I.member_offsets(p)
    mo, md, ms = offs["manifest.json"]
    lo, ld, lsz = offs[layers[1]]
    cut = {"manifest-data": md + ms // 2, "manifest-header": mo + 200,
           "layer-data": ld + lsz // 2, "layer-header": lo + 100,
           "last-layer-end": offs[layers[-1]][1] + offs[layers[-1]][2] - 10}[where]
    I.truncate(p, cut)
    names = ["cut.tar", "manifest.json"] + [n[:12] for n in layers] + [h12(l.digest) for l in src.layers]
    I.assert_bad(ls("inspect", "--json", p), *names)


@BOTH_TAR_READERS
def test_archive_without_end_blocks(pristine, copy_image, ls):
    """Every member whole, the two end-of-archive blocks missing: refusing or
    accepting are both fine, but cleanly."""
    p = copy_image(pristine["docker-archive"].path, "cut.tar")
    last = max(I.member_offsets(p).values(), key=lambda o: o[1])
    I.truncate(p, last[1] + last[2] + (-last[2] % 512))
    res = ls("inspect", "--json", p)
    assert res.rc in (0, 2), res.err
    if res.rc == 2:
        I.assert_bad(res, "cut.tar")


@BOTH_TAR_READERS
@pytest.mark.parametrize("frac", [0.1, 0.5, 0.97])
def test_truncated_oci_archive(frac, pristine, tmp_path, ls):
    src = pristine["oci-gzip"]
    p = I.pack_oci_archive(src.path, tmp_path / "cut-oci.tar")
    big = max(src.layers, key=lambda l: l.compressed_size)
    o, d, s = I.member_offsets(p)[f"blobs/sha256/{I.hexof(big.digest)}"]
    I.truncate(p, d + int(s * frac))
    I.assert_bad(ls("inspect", "--json", p), "cut-oci.tar", h12(big.digest))


@BOTH_TAR_READERS
def test_truncated_blob_in_layout(pristine, copy_image, ls):
    src = pristine["oci-zstd"]
    d = copy_image(src.path)
    blob = d / "blobs/sha256" / I.hexof(src.layers[0].digest)
    I.truncate(blob, blob.stat().st_size // 2)
    I.assert_bad(ls("inspect", "--json", d), h12(src.layers[0].digest))


# --------------------------------------------------------------------------
# flipped bytes: digest mismatches
# --------------------------------------------------------------------------

def _flip_in_docker_archive(src, p):
    """Flip a byte inside a file's *data* in layer 0 of a docker-archive, so
    the tar still parses and only the digest is wrong."""
    lname = _layer_names(p)[0]
    _, ld, _ = I.member_offsets(p)[lname]
    raw = [data for ti, data in I.read_outer(p) if ti.name == lname][0]
    inner, size = I.inner_data_offset(raw, ".bin")
    I.flip_byte(p, ld + inner + size // 2)
    return src.layers[0]


def test_flipped_byte_docker_archive(pristine, copy_image, ls):
    src = pristine["docker-archive"]
    p = copy_image(src.path, "flip.tar")
    layer = _flip_in_docker_archive(src, p)
    I.assert_bad(ls("inspect", "--json", p), h12(layer.digest))


@BOTH_TAR_READERS
def test_flipped_byte_docker_archive_no_verify(pristine, copy_image, ls):
    src = pristine["docker-archive"]
    p = copy_image(src.path, "flip.tar")
    _flip_in_docker_archive(src, p)
    res = ls("inspect", "--json", "--no-verify", p)
    assert res.rc == 0, res.err
    assert res.json()["layers"][0]["entries"] == src.layers[0].entries


@pytest.mark.parametrize("kind", ["oci-gzip", "oci-zstd", "oci-plain"])
def test_flipped_byte_layout_blob(kind, pristine, copy_image, ls):
    src = pristine[kind]
    d = copy_image(src.path)
    layer = src.layers[0]
    blob = d / "blobs/sha256" / I.hexof(layer.digest)
    if kind == "oci-plain":
        inner, size = I.inner_data_offset(blob.read_bytes(), ".bin")
        I.flip_byte(blob, inner + size // 2)
    else:
        I.flip_byte(blob, blob.stat().st_size // 2)
    I.assert_bad(ls("inspect", "--json", d), h12(layer.digest))


@BOTH_TAR_READERS
@pytest.mark.parametrize("kind", ["oci-gzip", "oci-zstd", "oci-plain"])
def test_flipped_byte_layout_blob_no_verify(kind, pristine, copy_image, ls):
    src = pristine[kind]
    d = copy_image(src.path)
    layer = src.layers[0]
    blob = d / "blobs/sha256" / I.hexof(layer.digest)
    if kind == "oci-plain":
        inner, size = I.inner_data_offset(blob.read_bytes(), ".bin")
        I.flip_byte(blob, inner + size // 2)
    else:
        I.flip_byte(blob, blob.stat().st_size // 2)
    res = ls("inspect", "--json", "--no-verify", d)
    if kind == "oci-plain":
        assert res.rc == 0, res.err
    else:  # the decompressor may still notice (CRC / corrupt stream): cleanly
        assert res.rc in (0, 2), res.err
        if res.rc == 2:
            I.assert_bad(res, h12(layer.digest))


def test_flipped_byte_config_blob(pristine, copy_image, ls):
    src = pristine["oci-gzip"]
    d = copy_image(src.path)
    _, _, manifest, cfg = I.oci_load(d)
    path = d / "blobs/sha256" / I.hexof(manifest["config"]["digest"])
    path.write_bytes(cfg.replace(b'"amd64"', b'"amd65"'))
    I.assert_bad(ls("inspect", "--json", d), h12(manifest["config"]["digest"]))


def test_flipped_byte_manifest_blob(pristine, copy_image, ls):
    src = pristine["oci-gzip"]
    d = copy_image(src.path)
    path = d / "blobs/sha256" / I.hexof(src.manifest_digest)
    path.write_bytes(path.read_bytes().replace(b'"schemaVersion":2', b'"schemaVersion":3'))
    I.assert_bad(ls("inspect", "--json", d), h12(src.manifest_digest))


# --------------------------------------------------------------------------
# wrong diff_ids
# --------------------------------------------------------------------------

WRONG = I.sha256(b"not the layer")


@pytest.mark.parametrize("no_verify", [False, True])
def test_wrong_diff_id_layout(no_verify, pristine, copy_image, ls):
    src = pristine["oci-gzip"]
    d = copy_image(src.path)
    cfg = json.loads(I.oci_load(d)[3])
    cfg["rootfs"]["diff_ids"][1] = WRONG
    I.oci_rewrite(d, config=I.jbytes(cfg))
    args = ["--no-verify"] if no_verify else []
    res = ls("inspect", "--json", *args, d)
    if no_verify:
        assert res.rc == 0, res.err
        assert res.json()["layers"][1]["digest"] == src.layers[1].digest
    else:
        I.assert_bad(res, h12(src.layers[1].digest), h12(WRONG), h12(src.layers[1].diff_id))


@pytest.mark.parametrize("no_verify", [False, True])
def test_wrong_diff_id_docker_archive(no_verify, pristine, copy_image, ls):
    src = pristine["docker-archive"]
    p = copy_image(src.path, "wrongdiff.tar")
    with tarfile.open(src.path) as tf:
        mj = json.loads(tf.extractfile("manifest.json").read())
        cfg = json.loads(tf.extractfile(mj[0]["Config"]).read())
    cfg["rootfs"]["diff_ids"][1] = WRONG
    # the config is named by its digest: store it under its new name, so only
    # the diff_id is wrong (a stale name is its own error, see below)
    raw = I.jbytes(cfg)
    old = mj[0]["Config"]
    mj[0]["Config"] = I.hexof(I.sha256(raw)) + ".json"
    I.retar(src.path, p, replace={"manifest.json": I.jbytes(mj)}, drop={old},
            extra=[(mj[0]["Config"], raw)])
    args = ["--no-verify"] if no_verify else []
    res = ls("inspect", "--json", *args, p)
    if no_verify:
        assert res.rc == 0, res.err
    else:
        I.assert_bad(res, h12(WRONG), h12(src.layers[1].diff_id), mj[0]["Layers"][1][:12])


def test_config_name_digest_mismatch_still_checks_diff_ids(pristine, copy_image, ls):
    """A config not named by its digest is only a warning (test_formats.py),
    because the diff_ids inside it are still checked: wrong ones fail."""
    src = pristine["docker-archive"]
    p = copy_image(src.path, "stalecfg.tar")
    with tarfile.open(src.path) as tf:
        name = json.loads(tf.extractfile("manifest.json").read())[0]["Config"]
        cfg = json.loads(tf.extractfile(name).read())
    cfg["rootfs"]["diff_ids"][1] = WRONG
    I.retar(src.path, p, replace={name: I.jbytes(cfg)})
    I.assert_bad(ls("inspect", "--json", p), h12(WRONG))


# --------------------------------------------------------------------------
# missing blobs / members
# --------------------------------------------------------------------------

@pytest.mark.parametrize("what", ["layer", "config", "manifest"])
def test_missing_blob_layout(what, pristine, copy_image, ls):
    src = pristine["oci-gzip"]
    d = copy_image(src.path)
    digest = {"layer": src.layers[1].digest, "config": src.config_digest,
              "manifest": src.manifest_digest}[what]
    (d / "blobs/sha256" / I.hexof(digest)).unlink()
    I.assert_bad(ls("inspect", "--json", d), h12(digest))


@pytest.mark.parametrize("what", ["layer", "config"])
def test_missing_member_docker_archive(what, pristine, copy_image, ls):
    src = pristine["docker-archive"]
    p = copy_image(src.path, "missing.tar")
    with tarfile.open(src.path) as tf:
        mj = json.loads(tf.extractfile("manifest.json").read())
    name = mj[0]["Layers"][1] if what == "layer" else mj[0]["Config"]
    I.retar(src.path, p, drop={name})
    I.assert_bad(ls("inspect", "--json", p), name, name[:12])


def test_missing_index_json(pristine, copy_image, ls):
    d = copy_image(pristine["oci-gzip"].path, "noindex")
    (d / "index.json").unlink()
    I.assert_bad(ls("inspect", "--json", d), "index.json", "noindex")


# --------------------------------------------------------------------------
# garbage JSON: invalid, or valid but the wrong shape
# --------------------------------------------------------------------------

GARBAGE = {
    "invalid": b"{not json",
    "truncated": b'[{"Config": "x.json", "Layers": [',
    "list-of-ints": b"[1, 2, 3]",
    "string": b'"hello"',
    "null": b"null",
    "wrong-types": b'[{"Config": 5, "RepoTags": "x", "Layers": {"a": 1}}]',
    "empty-list": b"[]",
    "object": b"{}",
}


@pytest.mark.parametrize("kind", list(GARBAGE))
def test_garbage_manifest_json(kind, pristine, copy_image, ls):
    src = pristine["docker-archive"]
    p = copy_image(src.path, "garbage.tar")
    I.retar(src.path, p, replace={"manifest.json": GARBAGE[kind]})
    I.assert_bad(ls("inspect", "--json", p), "manifest.json", "garbage.tar")


INDEX_GARBAGE = {
    "invalid": b"{not json",
    "list": b"[]",
    "manifests-not-list": b'{"schemaVersion": 2, "manifests": {}}',
    "descriptor-not-object": b'{"schemaVersion": 2, "manifests": ["sha256:abc"]}',
    "digest-not-string": b'{"schemaVersion": 2, "manifests": [{"mediaType": "%s", "digest": 5, "size": 1}]}'
                         % I.OCI_MANIFEST.encode(),
    "digest-bad-form": b'{"schemaVersion": 2, "manifests": [{"mediaType": "%s", "digest": "sha256:../../etc/passwd", "size": 1}]}'
                       % I.OCI_MANIFEST.encode(),
    "no-manifests": b'{"schemaVersion": 2, "manifests": []}',
}


@pytest.mark.parametrize("kind", list(INDEX_GARBAGE))
def test_garbage_index_json(kind, pristine, copy_image, ls):
    d = copy_image(pristine["oci-gzip"].path, "badindex")
    (d / "index.json").write_bytes(INDEX_GARBAGE[kind])
    I.assert_bad(ls("inspect", "--json", d), "index.json", "badindex")


MANIFEST_GARBAGE = {
    "invalid": b"{not json",
    "list": b"[]",
    "layers-not-list": I.jbytes({"schemaVersion": 2, "mediaType": I.OCI_MANIFEST,
                                 "config": {"mediaType": I.OCI_CONFIG, "digest": I.sha256(b""), "size": 0},
                                 "layers": {"a": 1}}),
    "config-missing": I.jbytes({"schemaVersion": 2, "mediaType": I.OCI_MANIFEST, "layers": []}),
}


@pytest.mark.parametrize("kind", list(MANIFEST_GARBAGE))
def test_garbage_manifest_blob(kind, pristine, copy_image, ls):
    d = copy_image(pristine["oci-gzip"].path)
    mdesc = I.oci_rewrite(d, manifest_raw=MANIFEST_GARBAGE[kind])  # digest stays valid
    I.assert_bad(ls("inspect", "--json", d), h12(mdesc["digest"]), "manifest")


CONFIG_GARBAGE = {
    "invalid": b"{not json",
    "list": b"[]",
    "rootfs-not-object": b'{"architecture": "amd64", "os": "linux", "rootfs": 5}',
    "diff-ids-not-list": b'{"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": "x"}}',
    "no-rootfs": b'{"architecture": "amd64", "os": "linux"}',
}


@pytest.mark.parametrize("kind", list(CONFIG_GARBAGE))
def test_garbage_config_layout(kind, pristine, copy_image, ls):
    d = copy_image(pristine["oci-gzip"].path)
    raw = CONFIG_GARBAGE[kind]
    I.oci_rewrite(d, config=raw)
    I.assert_bad(ls("inspect", "--json", d), h12(I.sha256(raw)), "config")


@pytest.mark.parametrize("kind", ["invalid", "list"])
def test_garbage_config_docker_archive(kind, pristine, copy_image, ls):
    src = pristine["docker-archive"]
    p = copy_image(src.path, "badcfg.tar")
    with tarfile.open(src.path) as tf:
        name = json.loads(tf.extractfile("manifest.json").read())[0]["Config"]
    I.retar(src.path, p, replace={name: CONFIG_GARBAGE[kind]})
    I.assert_bad(ls("inspect", "--json", p), name[:12], "config")


# --------------------------------------------------------------------------
# layers vs diff_ids
# --------------------------------------------------------------------------

@pytest.mark.parametrize("delta", [-1, +1])
def test_layer_count_mismatch_layout(delta, pristine, copy_image, ls):
    src = pristine["oci-gzip"]
    d = copy_image(src.path)
    cfg = json.loads(I.oci_load(d)[3])
    ids = cfg["rootfs"]["diff_ids"]
    cfg["rootfs"]["diff_ids"] = ids[:-1] if delta < 0 else ids + [WRONG]
    raw = I.jbytes(cfg)
    mdesc = I.oci_rewrite(d, config=raw)
    I.assert_bad(ls("inspect", "--json", d), "diff_id", h12(I.sha256(raw)), h12(mdesc["digest"]))
    # --no-verify does not make an inconsistent image consistent
    I.assert_bad(ls("inspect", "--json", "--no-verify", d), "diff_id", h12(I.sha256(raw)),
                 h12(mdesc["digest"]))


def test_layer_count_mismatch_docker_archive(pristine, copy_image, ls):
    src = pristine["docker-archive"]
    p = copy_image(src.path, "count.tar")
    with tarfile.open(src.path) as tf:
        mj = json.loads(tf.extractfile("manifest.json").read())
    mj[0]["Layers"] = mj[0]["Layers"] + [mj[0]["Layers"][0]]
    I.retar(src.path, p, replace={"manifest.json": I.jbytes(mj)})
    I.assert_bad(ls("inspect", "--json", p), "diff_id", "manifest.json", "count.tar", mj[0]["Config"][:12])


# --------------------------------------------------------------------------
# selection errors
# --------------------------------------------------------------------------

@pytest.mark.parametrize("plat", ["linux/mips64le", "windows/amd64", "linux/arm/v5"])
def test_unknown_platform(plat, multi_platform, ls):
    I.assert_bad(ls("inspect", "--json", "--platform", plat, multi_platform.path), plat, "linux/amd64")


@pytest.mark.parametrize("plat", ["nonsense", "linux/", "/amd64", "a/b/c/d"])
def test_malformed_platform(plat, multi_platform, ls):
    I.assert_bad(ls("inspect", "--json", "--platform", plat, multi_platform.path), plat, "platform")


def test_unknown_tag_docker_archive(pristine, ls):
    p = pristine["docker-archive"].path
    I.assert_bad(ls("inspect", "--json", f"{p}:nope:latest"), "nope")


def test_unknown_ref_layout(pristine, ls):
    d = pristine["oci-gzip"].path
    I.assert_bad(ls("inspect", "--json", f"{d}:nope"), "nope")


@pytest.mark.parametrize("sel", ["nope", "nope:latest", "7", "-1"])
def test_unknown_image_option(sel, pristine, multi_image, ls):
    for path in (pristine["oci-gzip"].path, multi_image.path):
        I.assert_bad(ls("inspect", "--json", "--image", sel, path), sel)


# --------------------------------------------------------------------------
# hostile archives: nothing is ever written, nothing read outside the archive
# --------------------------------------------------------------------------

def _hostile_dirs(tmp_path):
    cwd = tmp_path / "a" / "b" / "c"
    cwd.mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    return cwd


@BOTH_TAR_READERS
def test_hostile_member_names_write_nothing(pristine, tmp_path, ls):
    cwd = _hostile_dirs(tmp_path)
    src = pristine["docker-archive"]
    p = cwd / "hostile.tar"
    abs_target = tmp_path / "outside" / "abs-evil"
    I.retar(src.path, p, extra=[
        ("../../evil", b"evil\n"),
        ("../../../../../../../../tmp/layerscope-evil-" + tmp_path.name, b"evil\n"),
        (str(abs_target), b"evil\n"),
        ("escape", None, {"symlink": str(tmp_path / "outside")}),
        ("escape/evil2", b"evil\n"),
        ("hl", None, {"hardlink": "../../evil"}),
    ])
    before = I.tree_snapshot(tmp_path)
    res = ls("inspect", "--json", p, cwd=cwd)
    assert res.rc in (0, 2), res.err
    if res.rc == 2:
        I.assert_bad(res, "hostile.tar", "evil", "escape")
    assert I.tree_snapshot(tmp_path) == before
    assert not (tmp_path / "a" / "evil").exists()
    assert not abs_target.exists()
    assert not (tmp_path / "outside" / "evil2").exists()
    assert not os.path.exists("/tmp/layerscope-evil-" + tmp_path.name)


def test_hostile_layer_path_in_manifest(pristine, tmp_path, ls):
    """manifest.json names a layer as ``../../evil``: looked up inside the
    archive (or refused), never on disk, never written."""
    cwd = _hostile_dirs(tmp_path)
    src = pristine["docker-archive"]
    p = cwd / "hostile.tar"
    with tarfile.open(src.path) as tf:
        mj = json.loads(tf.extractfile("manifest.json").read())
        raw0 = tf.extractfile(mj[0]["Layers"][0]).read()
    mj[0]["Layers"][0] = "../../evil"
    I.retar(src.path, p, replace={"manifest.json": I.jbytes(mj)}, drop={_layer_names(src.path)[0]},
            extra=[("../../evil", raw0)])
    before = I.tree_snapshot(tmp_path)
    res = ls("inspect", "--json", p, cwd=cwd)
    assert res.rc in (0, 2), res.err
    if res.rc == 2:
        I.assert_bad(res, "evil", "hostile.tar")
    else:
        assert res.json()["layers"][0]["diff_id"] == src.layers[0].diff_id
    assert I.tree_snapshot(tmp_path) == before


@pytest.mark.parametrize("how", ["absolute", "relative"])
def test_layer_symlink_escaping_archive(how, pristine, tmp_path, ls):
    """``<id>/layer.tar`` is a symlink pointing out of the archive, at a real
    file on disk holding exactly the right layer bytes.  Following it onto the
    host filesystem would "succeed"; the right answer is a missing layer."""
    cwd = _hostile_dirs(tmp_path)
    src = pristine["docker-archive"]
    p = cwd / "escape.tar"
    with tarfile.open(src.path) as tf:
        mj = json.loads(tf.extractfile("manifest.json").read())
        layer0 = mj[0]["Layers"][0]
        raw0 = tf.extractfile(layer0).read()
        v1dir = [ti.name for ti in tf.getmembers() if ti.issym()][0]  # <id>/layer.tar
    # real layer bytes where a naive resolver would look
    (tmp_path / "outside" / "layer.tar").write_bytes(raw0)
    (tmp_path / "a" / "outside").mkdir()
    (tmp_path / "a" / "outside" / "layer.tar").write_bytes(raw0)
    target = str(tmp_path / "outside" / "layer.tar") if how == "absolute" else "../../../outside/layer.tar"
    mj[0]["Layers"][0] = v1dir
    I.retar(src.path, p, replace={"manifest.json": I.jbytes(mj)}, drop={layer0},
            links={v1dir: target})
    res = ls("inspect", "--json", p, cwd=cwd)
    I.assert_bad(res, v1dir, v1dir[:12], "escape.tar", "layer.tar")


def test_symlink_loop_in_archive(pristine, tmp_path, ls):
    src = pristine["docker-archive"]
    p = tmp_path / "loop.tar"
    with tarfile.open(src.path) as tf:
        mj = json.loads(tf.extractfile("manifest.json").read())
        syms = [ti.name for ti in tf.getmembers() if ti.issym()]
    a, b = syms[0], syms[1]
    mj[0]["Layers"][0] = a
    I.retar(src.path, p, replace={"manifest.json": I.jbytes(mj)},
            links={a: "../" + b, b: "../" + a})
    I.assert_bad(ls("inspect", "--json", p, timeout=30), a[:12], "loop.tar", "link")


@BOTH_TAR_READERS
def test_hostile_layer_shapes_are_analysed_not_crashed_on(tmp_path, ls):
    """A layer nesting 3,000 directories deep (a 6,000-character PAX path), a
    symlink loop that a later entry writes through, a hardlink into the loop and
    a 255-character name: every command finishes (no recursion limit, no hang)."""
    deep = "/".join(["d"] * 3000)
    raws = [I.make_tar([("file", deep + "/f", b"x" * 10), ("symlink", "loop", "loop2"), ("symlink", "loop2", "loop"),
                        ("file", "loop/x", b"y"), ("hardlink", "h", "loop/x")]),
            I.make_tar([("whiteout", "d"), ("file", "z" * 255, b"z")])]
    lay = I.OCILayout(tmp_path / "deep")
    descs = [lay.blob(r, "application/vnd.oci.image.layer.v1.tar") for r in raws]
    lay.add_ref(lay.image(descs, I.make_config([I.sha256(r) for r in raws])), "latest")
    lay.finish()
    img = tmp_path / "deep"
    for args in (["inspect", "--json"], ["changes", "--json"], ["ls", "-R", "--json"], ["ls", "-R", "--layer", "0"]):
        res = ls(*args, img, timeout=120)
        assert res.rc == 0, (args, res.err)
    doc = ls("ls", "-R", "--layer", "0", "--json", img).json()
    assert any(e["path"] == "/" + deep + "/f" for e in doc["entries"])
    warnings = {w["code"] for layer in ls("changes", "--json", img).json()["layers"] for w in layer["warnings"]}
    assert {"symlink-loop", "dangling-hardlink"} <= warnings, warnings
