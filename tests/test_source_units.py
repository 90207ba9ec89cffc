"""Unit checks of the source layer's small rules (no archives needed)."""

from __future__ import annotations

import pytest

from layerscope.errors import BadInputError, UsageError
from layerscope.source import split_spec
from layerscope.source.digest import parse_digest
from layerscope.source.reference import normalize_ref as normalize_tag
from layerscope.source.image import config_facts
from layerscope.source.oci import blob_name, ref_matches
from layerscope.source.platform import Platform, parse_platform

D = ["sha256:" + c * 64 for c in "abc"]


def test_history_maps_to_layers_skipping_empty_layers():
    cfg = {"rootfs": {"diff_ids": D}, "history": [
        {"created_by": "ADD base"}, {"created_by": "ENV x=1", "empty_layer": True},
        {"created_by": "RUN a"}, {"created_by": "CMD", "empty_layer": True}, {"created_by": "COPY b"},
    ]}
    assert config_facts(cfg, where="w", verify=True, n_layers=3) == (D, ["ADD base", "RUN a", "COPY b"])


@pytest.mark.parametrize("history", [
    [{"created_by": "ADD base"}],  # too few entries
    [{"created_by": f"RUN {i}"} for i in range(5)],  # too many
    "not a list",
])
def test_history_count_mismatch_is_tolerated(history):
    diff_ids, created = config_facts({"rootfs": {"diff_ids": D}, "history": history}, where="w", verify=True, n_layers=3)
    assert diff_ids == D and len(created) == 3
    if isinstance(history, list):
        assert created[0] == history[0]["created_by"]


def test_layer_count_must_equal_diff_id_count_even_without_verify():
    for verify in (True, False):
        with pytest.raises(BadInputError, match="2 layers but the config has 3 diff_ids"):
            config_facts({"rootfs": {"diff_ids": D}}, where="w", verify=verify, n_layers=2)


@pytest.mark.parametrize("bad", ["sha256:../../etc/passwd", "sha256:" + "a" * 63, "md5:" + "a" * 32, 7, "sha256:" + "A" * 64])
def test_hostile_or_malformed_digests_never_become_paths(bad):
    with pytest.raises(BadInputError):
        blob_name(bad, where="w")
    with pytest.raises(BadInputError):
        parse_digest(bad, where="w")


def test_split_spec_takes_the_longest_existing_path(tmp_path):
    p = tmp_path / "img.tar"
    p.write_bytes(b"")
    assert split_spec(str(p)) == (str(p), None)
    assert split_spec(f"{p}:app:1.0") == (str(p), "app:1.0")
    assert split_spec(f"{p}:registry:5000/app:1") == (str(p), "registry:5000/app:1")
    assert split_spec(str(tmp_path / "missing.tar:x")) == (str(tmp_path / "missing.tar:x"), None)


def test_platform_matching_normalises_like_containerd():
    assert Platform("linux", "arm64", "v8").matches(parse_platform("linux/arm64"))
    assert Platform("linux", "aarch64").matches(parse_platform("linux/arm64/v8"))
    assert Platform("linux", "arm", "v7").matches(parse_platform("linux/arm"))
    assert not Platform("linux", "arm", "v6").matches(parse_platform("linux/arm/v7"))
    assert not Platform("windows", "amd64").matches(parse_platform("linux/amd64"))
    with pytest.raises(UsageError):
        parse_platform("linux")


def test_tag_and_ref_normalisation():
    assert normalize_tag("busybox") == normalize_tag("docker.io/library/busybox:latest") == "busybox:latest"
    assert normalize_tag("registry:5000/app") == "registry:5000/app:latest"
    assert ref_matches("docker.io/library/app:1.0", "app:1.0")
    assert ref_matches("v1", "v1") and ref_matches("example.com/app:v1", "v1")
    assert not ref_matches("example.com/app:v1", "v2")


@pytest.mark.parametrize("change", [None, 0, 2 << 20, (2 << 20) - 1, 5_000_000 - 1, "shorter"])
def test_region_same_bytes_is_exact(tmp_path, change):
    """compare proves another file's copy of a verified blob by equality: every byte, every window."""
    import mmap
    import random

    from layerscope.source import container
    from layerscope.source.container import Region

    if container._memeq() is None:
        pytest.skip("C core not built: copies are hashed instead")
    data = random.Random(5).randbytes(5_000_000)
    other = bytearray(b"head" + data)
    if change == "shorter":
        del other[-1]
    elif change is not None:
        other[4 + change] ^= 1
    (tmp_path / "a").write_bytes(data)
    (tmp_path / "b").write_bytes(bytes(other))
    maps = []
    for name in ("a", "b"):
        with open(tmp_path / name, "rb") as f:
            maps.append(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))
    a = Region(maps[0], 0, len(data))
    b = Region(maps[1], 4, len(other) - 4)
    assert a.same_bytes(b) is (change is None)
