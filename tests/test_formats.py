"""Formats no tool here writes, built byte by byte in ``images.py``.

Each expected value (digests, diff_ids, sizes, member counts, compression,
created_by) is computed from the bytes the builder wrote, not by layerscope.
Where skopeo can read the same image it is used as a second opinion.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile

import pytest

import images as I

SINGLE = ["legacy-docker", "legacy-symlink", "legacy-skopeo", "legacy-hardlink", "docker25",
          "containerd", "compressed-manifest-only", "zstd-frames", "gzip-members", "estargz"]


@pytest.mark.parametrize("name", SINGLE)
def test_inspect_values(name, py_images, ls):
    exp = py_images[name]
    I.check_inspect(ls.inspect(*exp.extra_args, exp.arg), exp)


@pytest.mark.parametrize("style", ["docker", "symlink", "skopeo", "hardlink"])
def test_legacy_layers_digest_is_diff_id(style, py_images, ls):
    doc = ls.inspect(py_images[f"legacy-{style}"].arg)
    for l in doc["layers"]:
        assert l["digest"] == l["diff_id"]
        assert l["compression"] == "none"
        assert l["size"] == l["compressed_size"]


def test_legacy_history_skips_empty_layers(py_images, ls):
    """The config has an ``empty_layer`` history entry after layer 1."""
    doc = ls.inspect(py_images["legacy-symlink"].arg)
    assert [l["created_by"] for l in doc["layers"]] == I.CREATED_BY


@pytest.mark.parametrize("name", ["containerd", "compressed-manifest-only"])
def test_compressed_docker_archive(name, py_images, ls):
    doc = ls.inspect(py_images[name].arg)
    assert [l["compression"] for l in doc["layers"]] == ["gzip", "zstd", "none"]
    for l in doc["layers"]:
        mt = l.get("media_type")
        if mt and l["compression"] != "none":
            assert l["compression"] in mt, mt  # a made-up media type must not lie
        assert l["digest"] != l["diff_id"] or l["compression"] == "none"


def test_docker25_manifest_is_the_real_one(py_images, ls):
    exp = py_images["docker25"]
    doc = ls.inspect(exp.arg)
    assert doc["image"]["manifest_digest"] == exp.manifest_digest
    assert all(l["media_type"] == I.OCI_LAYER for l in doc["layers"])


@pytest.mark.parametrize("kind", ["zstd-frames", "gzip-members", "estargz"])
def test_odd_framing_layer(kind, py_images, ls):
    exp = py_images[kind]
    doc = ls.inspect(exp.arg)
    got, want = doc["layers"][1], exp.layers[1]
    assert (got["size"], got["entries"], got["diff_id"]) == (want.size, want.entries, want.diff_id)
    assert got["compression"] == ("zstd" if kind == "zstd-frames" else "gzip")


def test_oci_ref_selection_on_single_image(py_images, ls):
    exp = py_images["zstd-frames"]
    I.check_inspect(ls.inspect(f"{exp.arg}:zstd-frames"), exp)


def test_foreign_layer_listed_not_fetched(py_images, ls):
    exp = py_images["foreign"]
    fdesc = exp.notes["foreign"]
    res = ls("inspect", "--json", exp.arg)
    assert res.rc == 0, res.err
    doc = res.json()
    I.check_inspect(doc, exp)
    f = doc["layers"][0]
    assert f["digest"] == fdesc["digest"]
    assert f["media_type"] == I.DOCKER_FOREIGN
    assert f["compressed_size"] == fdesc["size"]
    assert f.get("entries") is None  # never read, so not counted
    # nothing was fetched into the layout
    assert not (exp.path / "blobs/sha256" / I.hexof(fdesc["digest"])).exists()


def test_foreign_layer_no_verify(py_images, ls):
    exp = py_images["foreign"]
    res = ls("inspect", "--json", "--no-verify", exp.arg)
    assert res.rc == 0, res.err
    assert res.json()["layers"][0]["digest"] == exp.notes["foreign"]["digest"]


# --------------------------------------------------------------------------
# multi-image archive: values of each image
# --------------------------------------------------------------------------

def test_multi_image_values(multi_image, ls):
    docs = {}
    for tag, exp in multi_image.images.items():
        docs[tag] = ls.inspect(f"{multi_image.path}:{tag}")
        I.check_inspect(docs[tag], exp)
    a, b = docs["alpha:1.0"]["layers"], docs["beta:2.0"]["layers"]
    assert a[0]["digest"] == b[0]["digest"]  # shared base layer
    assert a[1]["digest"] != b[1]["digest"]


# --------------------------------------------------------------------------
# multi-platform layouts
# --------------------------------------------------------------------------

@pytest.mark.parametrize("plat", ["linux/amd64", "linux/arm64", "linux/arm/v7"])
@pytest.mark.parametrize("layout", ["nested", "flat"])
def test_multi_platform_values(layout, plat, multi_platform, multi_platform_flat, ls):
    mp = multi_platform if layout == "nested" else multi_platform_flat
    exp = mp.platforms[plat]
    I.check_inspect(ls.inspect("--platform", plat, mp.path), exp)


def test_multi_platform_flat_default_is_host(multi_platform_flat, ls):
    host = I.host_platform()
    if host not in multi_platform_flat.platforms:
        pytest.skip(f"host platform {host} not in the test image")
    I.check_inspect(ls.inspect(multi_platform_flat.path), multi_platform_flat.platforms[host])


def test_attestation_manifest_never_chosen(multi_platform, ls):
    """The unknown/unknown attestation manifest is not an image to pick."""
    doc = ls.inspect(multi_platform.path)
    assert doc["image"]["manifest_digest"] != multi_platform.attestation_digest
    assert doc["image"]["platform"] != "unknown/unknown"


def test_multi_platform_via_oci_archive(multi_platform, tmp_path, ls):
    archive = I.pack_oci_archive(multi_platform.path, tmp_path / "mp.tar")
    exp = multi_platform.platforms["linux/arm64"]
    doc = ls.inspect("--platform", "linux/arm64", archive)
    I.check_inspect(doc, exp)


# --------------------------------------------------------------------------
# second opinions from skopeo where it can read the format
# --------------------------------------------------------------------------

@pytest.mark.interop
@pytest.mark.parametrize("name", ["legacy-docker", "legacy-symlink", "legacy-skopeo", "legacy-hardlink",
                                  "docker25"])
def test_skopeo_agrees_with_builder(name, py_images, tools):
    exp = py_images[name]
    ref = f"docker-archive:{exp.path}"
    man = json.loads(I.skopeo_raw("inspect", "--raw", ref))
    cfg = I.skopeo_raw("inspect", "--config", "--raw", ref)
    assert I.sha256(cfg) == exp.config_digest
    assert [l["digest"] for l in man["layers"]] == [l.digest for l in exp.layers]
    if name in ("legacy-docker", "legacy-skopeo", "docker25"):
        # (through a symlink/hardlink member skopeo 1.9 reports size 0: the link's size)
        assert [l["size"] for l in man["layers"]] == [l.compressed_size for l in exp.layers]


@pytest.mark.interop
@pytest.mark.parametrize("name", ["docker25", "containerd"])
def test_skopeo_reads_archive_as_oci(name, py_images, tools):
    exp = py_images[name]
    mraw = I.skopeo_raw("inspect", "--raw", f"oci-archive:{exp.path}")
    assert I.sha256(mraw) == exp.manifest_digest
    assert [l["digest"] for l in json.loads(mraw)["layers"]] == [l.digest for l in exp.layers]


@pytest.mark.parametrize("kind", ["zstd-frames", "gzip-members", "estargz"])
def test_reference_decoders_agree(kind, py_images):
    """The reference C decoders (zstd / gzip CLIs) decompress the odd framings
    to the same diff_id: the blobs are valid, not artefacts of Python's
    decoders.  (skopeo is no help here: c/image sniffs compression from the
    first bytes, so a zstd stream opening with a skippable frame is taken as
    uncompressed.)"""
    tool = "zstd" if kind == "zstd-frames" else "gzip"
    if not shutil.which(tool):
        pytest.skip(f"{tool} not installed")
    exp = py_images[kind]
    blob = exp.path / "blobs/sha256" / I.hexof(exp.layers[1].digest)
    out = subprocess.run([tool, "-dc", str(blob)], capture_output=True, timeout=I.TIMEOUT, check=True).stdout
    assert len(out) == exp.layers[1].size
    assert I.sha256(out) == exp.layers[1].diff_id


# --image N must give the image the ref it has when chosen any other way
# (alone in its archive, or by tag / ref name).
REF_SOURCES = ["legacy-docker", "legacy-skopeo", "docker25", "containerd", "compressed-manifest-only",
               "zstd-frames", "estargz"]


@pytest.mark.parametrize("name", REF_SOURCES)
def test_select_by_index_keeps_the_ref(name, py_images, ls):
    exp = py_images[name]
    ref = ls.inspect(*exp.extra_args, exp.arg)["image"]["ref"]
    assert ref
    assert ls.inspect(*exp.extra_args, "--image", "0", exp.arg)["image"]["ref"] == ref


def test_select_by_index_keeps_the_ref_of_an_oci_archive(py_images, tmp_path, ls):
    archive = I.pack_oci_archive(py_images["zstd-frames"].path, tmp_path / "oci.tar")
    doc = ls.inspect("--image", "0", archive)
    assert doc["image"]["format"] == "oci-archive"
    assert doc["image"]["ref"] == ls.inspect(archive)["image"]["ref"] is not None


@pytest.mark.parametrize("n", [0, 1])
def test_select_by_index_in_a_multi_image_archive_keeps_the_ref(n, multi_image, ls):
    tag = multi_image.order[n]
    assert ls.inspect("--image", str(n), multi_image.path)["image"]["ref"] == tag
    assert ls.inspect(f"{multi_image.path}:{tag}")["image"]["ref"] == tag


# --------------------------------------------------------------------------
# a docker-archive whose config file name is not the sha256 of its content
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def stale_config(tmp_path_factory) -> tuple[I.ImageExpect, str]:
    """A skopeo-style archive whose ``<hex>.json`` config was edited after it
    was named (docker load and dive accept such archives: Docker derives the
    image ID from the content)."""
    w = tmp_path_factory.mktemp("stalecfg")
    exp = I.build_legacy_docker_archive(w / "good.tar", "skopeo")
    with tarfile.open(exp.path) as tf:
        name = json.loads(tf.extractfile("manifest.json").read())[0]["Config"]
        cfg = json.loads(tf.extractfile(name).read())
    cfg["config"]["Env"].append("EXTRA=1")
    raw = I.jbytes(cfg)
    out = I.retar(exp.path, w / "stale.tar", replace={name: raw})
    return I.ImageExpect(out, str(out), I.sha256(raw), exp.layers), name


def test_stale_config_name_warns_and_reports_the_real_digest(stale_config, ls):
    exp, name = stale_config
    res = ls("inspect", "--json", exp.arg)
    assert res.rc == 0 and res.err == "", res.err
    doc = res.json()
    I.check_inspect(doc, exp)  # config_digest: the sha256 of the content, not the name
    assert I.hexof(doc["image"]["config_digest"]) != name.removesuffix(".json")
    assert len(doc["warnings"]) == 1
    assert name in doc["warnings"][0] and doc["image"]["config_digest"] in doc["warnings"][0]
    text = ls("inspect", exp.arg)
    assert text.rc == 0 and text.out.count(f"warning: config file {name!r}") == 1


def test_config_named_by_its_digest_gives_no_warning(py_images, ls):
    assert ls.inspect(py_images["legacy-skopeo"].arg)["warnings"] == []


@pytest.mark.parametrize("argv", [["ls", "--json"], ["changes"], ["ci", "--dive-defaults"]])
def test_stale_config_warning_on_stderr_where_output_has_no_place(stale_config, ls, tmp_path, argv):
    exp, name = stale_config
    res = ls(*argv, exp.arg, cwd=tmp_path)
    assert res.rc in (0, 1), res.err
    assert len(res.err_lines) == 1, res.err
    assert res.err_lines[0].startswith(f"layerscope: warning: {exp.arg}: config file {name!r}")


@pytest.mark.interop
def test_dive_accepts_stale_config_name(stale_config, dive_exe, tmp_path):
    import waste_images as W
    doc = W.dive_json(dive_exe, stale_config[0].path, tmp_path)
    assert len(doc["layer"]) == len(stale_config[0].layers)
