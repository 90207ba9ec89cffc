"""layerscope against real tools: images built by umoci, converted by skopeo.

Every expected value comes from ``skopeo inspect --raw`` / ``skopeo inspect
--config --raw`` on the same image, or from decompressing the stored blobs
here with Python's gzip / python-zstandard and counting members with tarfile.

skopeo behaviour these tests rely on (skopeo 1.9.3, Debian):

* ``docker-archive:`` output: ``<diffid-hex>.tar`` layer files (uncompressed),
  ``<config-hex>.json``, ``<v1id>/layer.tar -> ../<diffid-hex>.tar`` symlinks
  plus ``<v1id>/json`` and ``<v1id>/VERSION``, ``manifest.json`` whose Layers
  name the ``<diffid-hex>.tar`` files, and ``repositories``.
* ``skopeo inspect --raw docker-archive:`` returns a manifest skopeo
  *synthesises*; it labels the uncompressed layers ``...diff.tar.gzip``.  Its
  digest is not a property of the archive, so manifest_digest and media_type
  are not compared for docker-archives.
* ``--dest-compress-format zstd:chunked`` re-serialises each tar and drops
  record padding after the end blocks without updating ``rootfs.diff_ids``:
  layers that had padding come out with a diff_id mismatch.
* docker-archive -> ``oci:`` with ``--dest-oci-accept-uncompressed-layers``
  keeps the layers uncompressed but labels them ``tar+gzip``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

import pytest

import images as I

pytestmark = pytest.mark.interop


@pytest.fixture(autouse=True)
def _need_tools(tools):
    """Every test here asks skopeo/umoci for its expected values."""

MAIN = ["oci-gzip", "docker-archive", "oci-archive-gzip", "oci-zstd", "oci-archive-zstd",
        "oci-plain", "oci-zstd-chunked"]
SAME_IMAGE = ["oci-gzip", "docker-archive", "oci-archive-gzip", "oci-zstd", "oci-archive-zstd",
              "oci-plain"]


@dataclass
class SkopeoView:
    manifest_raw: bytes
    config_raw: bytes
    manifest: dict
    config: dict
    blobs: list[bytes]
    raws: list[bytes]


@pytest.fixture(scope="session")
def skopeo_view(tool_variants):
    @lru_cache(maxsize=None)
    def view(name: str) -> SkopeoView:
        tv = tool_variants[name]
        mraw = I.skopeo_raw("inspect", "--raw", tv.skopeo_ref)
        craw = I.skopeo_raw("inspect", "--config", "--raw", tv.skopeo_ref)
        man, cfg = json.loads(mraw), json.loads(craw)
        blobs = I.layer_blobs(tv.kind, tv.path, man)
        return SkopeoView(mraw, craw, man, cfg, blobs, [I.decompress(b) for b in blobs])
    return view


def variant(tool_variants, name: str) -> I.ToolVariant:
    if name not in tool_variants:
        pytest.skip(f"{name}: not supported by this skopeo")
    return tool_variants[name]


# --------------------------------------------------------------------------
# digests, descriptors, diff_ids
# --------------------------------------------------------------------------

@pytest.mark.parametrize("name", MAIN)
def test_digests_match_skopeo(name, tool_variants, skopeo_view, ls):
    tv = variant(tool_variants, name)
    sv = skopeo_view(name)
    doc = ls.inspect(tv.arg)
    assert doc["schema"] == "layerscope.inspect/2"
    img = doc["image"]
    assert img["config_digest"] == I.sha256(sv.config_raw)
    if tv.kind != "docker-archive":  # skopeo synthesises docker-archive manifests
        assert img["manifest_digest"] == I.sha256(sv.manifest_raw)
    layers = doc["layers"]
    diff_ids = sv.config["rootfs"]["diff_ids"]
    assert len(layers) == len(sv.manifest["layers"]) == len(diff_ids)
    for i, (got, desc, did) in enumerate(zip(layers, sv.manifest["layers"], diff_ids)):
        assert got["index"] == i
        assert got["digest"] == desc["digest"], f"layer {i}"
        assert got["diff_id"] == did, f"layer {i}"
        assert got["compressed_size"] == desc["size"], f"layer {i}"
        if tv.kind != "docker-archive":
            assert got["media_type"] == desc["mediaType"], f"layer {i}"


@pytest.mark.parametrize("name", MAIN)
def test_sizes_entries_compression(name, tool_variants, skopeo_view, ls):
    tv = variant(tool_variants, name)
    sv = skopeo_view(name)
    doc = ls.inspect(tv.arg)
    for i, (got, blob, raw) in enumerate(zip(doc["layers"], sv.blobs, sv.raws)):
        assert got["size"] == len(raw), f"layer {i}"
        assert got["compressed_size"] == len(blob), f"layer {i}"
        assert got["compression"] == I.compression_of(blob), f"layer {i}"
        assert got["entries"] == I.tar_member_count(raw), f"layer {i}"
    assert doc["image"]["size"] == sum(len(r) for r in sv.raws)
    assert doc["image"]["compressed_size"] == sum(len(b) for b in sv.blobs)


@pytest.mark.parametrize("name", MAIN)
def test_created_by_and_platform(name, tool_variants, ls):
    tv = variant(tool_variants, name)
    doc = ls.inspect(tv.arg)
    assert doc["image"]["platform"] == I.host_platform()  # umoci new uses its GOOS/GOARCH
    # history has an empty_layer entry (umoci config) between layers 2 and 3
    assert [l["created_by"] for l in doc["layers"]] == tv.created_by


def test_docker_archive_layers_are_uncompressed(tool_variants, skopeo_view, ls):
    sv = skopeo_view("docker-archive")
    doc = ls.inspect(tool_variants["docker-archive"].arg)
    for i, l in enumerate(doc["layers"]):
        assert l["compression"] == "none", f"layer {i}"
        assert l["digest"] == l["diff_id"] == sv.config["rootfs"]["diff_ids"][i]
        assert l["compressed_size"] == l["size"]


def test_docker_archive_media_type_is_truthful(tool_variants, ls):
    """skopeo's synthesised manifest calls these layers ``.tar.gzip``; a
    media type layerscope reports for them must not claim compression."""
    doc = ls.inspect(tool_variants["docker-archive"].arg)
    for i, l in enumerate(doc["layers"]):
        mt = l.get("media_type") or ""
        assert not mt.endswith(("gzip", "zstd")), f"layer {i}: {mt}"


def test_same_image_across_transports(tool_variants, ls):
    docs = {n: ls.inspect(tool_variants[n].arg) for n in SAME_IMAGE}
    def facts(doc):
        return ([l["diff_id"] for l in doc["layers"]], [l["entries"] for l in doc["layers"]],
                [l["size"] for l in doc["layers"]], doc["image"]["config_digest"],
                doc["image"]["size"], doc["image"]["platform"])
    ref = facts(docs["oci-gzip"])
    for n, d in docs.items():
        assert facts(d) == ref, n
    # the blob digests differ by compression, the uncompressed ones equal the diff_ids
    assert [l["digest"] for l in docs["oci-plain"]["layers"]] == ref[0]
    assert [l["digest"] for l in docs["oci-gzip"]["layers"]] == \
        [l["digest"] for l in docs["oci-archive-gzip"]["layers"]]
    assert [l["digest"] for l in docs["oci-zstd"]["layers"]] == \
        [l["digest"] for l in docs["oci-archive-zstd"]["layers"]]


def test_zstd_chunked_padded_layer(tool_variants, skopeo_view, ls):
    """A zstd:chunked copy of a layer with tar record padding: if skopeo broke
    the diff_id (1.9.x does), layerscope must refuse it naming that layer;
    if skopeo got it right, it must pass."""
    tv = variant(tool_variants, "oci-zstd-chunked-padded")
    sv = skopeo_view("oci-zstd-chunked-padded")
    bad = [i for i, (raw, did) in enumerate(zip(sv.raws, sv.config["rootfs"]["diff_ids"]))
           if I.sha256(raw) != did]
    res = ls("inspect", "--json", tv.arg)
    if not bad:
        assert res.rc == 0, res.err
        return
    i = bad[0]
    desc = sv.manifest["layers"][i]
    I.assert_bad(res, I.hexof(desc["digest"])[:12], I.hexof(sv.config["rootfs"]["diff_ids"][i])[:12])
    ok = ls("inspect", "--json", "--no-verify", tv.arg)
    assert ok.rc == 0, ok.err
    assert ok.json()["layers"][i]["size"] == len(sv.raws[i])


def test_mislabelled_uncompressed_layers(tool_variants, skopeo_view, ls):
    """Media type says +gzip, bytes are plain tar: compression is by magic."""
    sv = skopeo_view("oci-mislabelled")
    assert all(l["mediaType"].endswith("+gzip") for l in sv.manifest["layers"])  # skopeo's label
    assert all(I.compression_of(b) == "none" for b in sv.blobs)
    doc = ls.inspect(tool_variants["oci-mislabelled"].arg)
    for i, (l, desc, raw) in enumerate(zip(doc["layers"], sv.manifest["layers"], sv.raws)):
        assert l["compression"] == "none", f"layer {i}"
        assert l["media_type"] == desc["mediaType"], f"layer {i}"
        assert l["size"] == len(raw) and l["entries"] == I.tar_member_count(raw)


# --------------------------------------------------------------------------
# the umoci layout itself: several refs
# --------------------------------------------------------------------------

def _umoci_refs(layout):
    idx = json.loads((layout / "index.json").read_text())
    return [m["annotations"]["org.opencontainers.image.ref.name"] for m in idx["manifests"]]


def test_umoci_layout_needs_a_ref(umoci_image, ls):
    res = ls("inspect", "--json", umoci_image.layout)
    line = I.assert_bad(res)
    for ref in _umoci_refs(umoci_image.layout):
        assert ref in line, line


@pytest.mark.parametrize("tag", ["core", "v1"])
def test_umoci_layout_ref_selection(tag, umoci_image, ls):
    ref = f"oci:{umoci_image.layout}:{tag}"
    mraw = I.skopeo_raw("inspect", "--raw", ref)
    craw = I.skopeo_raw("inspect", "--config", "--raw", ref)
    for args in ([f"{umoci_image.layout}:{tag}"], ["--image", tag, umoci_image.layout]):
        doc = ls.inspect(*args)
        assert doc["image"]["manifest_digest"] == I.sha256(mraw), args
        assert doc["image"]["config_digest"] == I.sha256(craw), args
        assert [l["digest"] for l in doc["layers"]] == [l["digest"] for l in json.loads(mraw)["layers"]]
        assert [l["created_by"] for l in doc["layers"]] == umoci_image.created_by[tag]


def test_umoci_layout_select_by_index(umoci_image, ls):
    refs = _umoci_refs(umoci_image.layout)
    n = refs.index("v1")
    doc = ls.inspect("--image", str(n), umoci_image.layout)
    want = I.sha256(I.skopeo_raw("inspect", "--raw", f"oci:{umoci_image.layout}:v1"))
    assert doc["image"]["manifest_digest"] == want


def test_zero_layer_image(umoci_image, ls):
    """``umoci new`` makes an image with no layers at all."""
    doc = ls.inspect(f"{umoci_image.layout}:base")
    assert doc["layers"] == []
    assert doc["image"]["size"] == 0 and doc["image"]["compressed_size"] == 0


# --------------------------------------------------------------------------
# platform selection (nested index; skopeo resolves it the same way)
# --------------------------------------------------------------------------

PLATFORMS = ["linux/amd64", "linux/arm64", "linux/arm/v7"]


def _skopeo_platform_args(plat: str) -> list[str]:
    os_, arch, *var = plat.split("/")
    return ["--override-os", os_, "--override-arch", arch] + (["--override-variant", var[0]] if var else [])


@pytest.mark.parametrize("plat", PLATFORMS)
def test_platform_selection(plat, multi_platform, ls):
    exp = multi_platform.platforms[plat]
    doc = ls.inspect("--platform", plat, exp.arg)
    sk = I.skopeo_raw(*_skopeo_platform_args(plat), "inspect", "--config", "--raw",
                      f"oci:{multi_platform.path}:{multi_platform.ref}")
    assert I.sha256(sk) == exp.config_digest  # skopeo agrees with the builder
    I.check_inspect(doc, exp)


def test_platform_default_is_host(multi_platform, ls):
    host = I.host_platform()
    if host not in multi_platform.platforms:
        pytest.skip(f"host platform {host} not in the test image")
    doc = ls.inspect(multi_platform.path)
    assert doc["image"]["platform"] == host
    assert doc["image"]["manifest_digest"] == multi_platform.platforms[host].manifest_digest


def test_platform_unknown_lists_available(multi_platform, ls):
    res = ls("inspect", "--json", "--platform", "linux/mips64le", multi_platform.path)
    line = I.assert_bad(res)
    for plat in PLATFORMS:
        assert plat in line, line


def test_platform_absent_blobs(multi_platform, ls):
    """Listed in the index, manifest never exported: an error naming it,
    while the other platforms of the same layout still work."""
    plat, digest = next(iter(multi_platform.absent.items()))
    res = ls("inspect", "--json", "--platform", plat, multi_platform.path)
    I.assert_bad(res, I.hexof(digest)[:12], digest)


# --------------------------------------------------------------------------
# multi-image docker-archive (skopeo reads the same archive by tag and @index)
# --------------------------------------------------------------------------

def test_multi_image_needs_selection(multi_image, ls):
    res = ls("inspect", "--json", multi_image.path)
    line = I.assert_bad(res)
    for tag in multi_image.order:
        assert tag in line, line


@pytest.mark.parametrize("tag", ["alpha:1.0", "beta:2.0"])
def test_multi_image_select_by_tag(tag, multi_image, ls):
    exp = multi_image.images[tag]
    sk = I.skopeo_raw("inspect", "--config", "--raw", f"docker-archive:{multi_image.path}:{tag}")
    assert I.sha256(sk) == exp.config_digest
    I.check_inspect(ls.inspect(f"{multi_image.path}:{tag}"), exp)
    I.check_inspect(ls.inspect("--image", tag, multi_image.path), exp)


@pytest.mark.parametrize("n", [0, 1])
def test_multi_image_select_by_index(n, multi_image, ls):
    exp = multi_image.images[multi_image.order[n]]
    sk = I.skopeo_raw("inspect", "--config", "--raw", f"docker-archive:{multi_image.path}:@{n}")
    assert I.sha256(sk) == exp.config_digest
    I.check_inspect(ls.inspect("--image", str(n), multi_image.path), exp)
