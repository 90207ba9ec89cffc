"""A cache hit on unchanged file bytes skips the re-hash; any write to the file brings it back.

analysis/layers.py:verify_blob records, in the layer cache, the identity of the
file bytes (device, inode, size, mtime, ctime, offset, length) that hashed in
full to a digest. These tests check that the record is used only while that
identity holds, and never for a file that changed too recently to tell.
"""

from __future__ import annotations

import os
import shutil
import tarfile

import pytest

import images as I
from layerscope import inspect
from layerscope.analysis import layers as L
from layerscope.errors import DigestMismatchError
from layerscope.layer.cache import ScanCache
from layerscope.source.image import LayerRef


@pytest.fixture
def hashed(monkeypatch):
    """The blobs a run hashes on a cache hit (LayerRef.check_blob), by digest."""
    calls: list[str] = []
    real = LayerRef.check_blob

    def spy(self, expected, *, where=None):
        calls.append(expected)
        return real(self, expected, where=where)

    monkeypatch.setattr(LayerRef, "check_blob", spy)
    return calls


@pytest.fixture
def settled_now(monkeypatch):
    """Files written by the test count as settled (the default wants 2 s of quiet)."""
    monkeypatch.setattr(L, "SETTLED_NS", -10**12)


def _flip_in_place(path, offset: int) -> None:
    """Change one byte without changing size or mtime (ctime still moves: no one can set it)."""
    st = os.stat(path)
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0xFF]))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def _docker_layer_offset(archive) -> int:
    with tarfile.open(archive) as tf:
        member = max(tf.getmembers(), key=lambda m: m.size)
        return member.offset_data + 700


@pytest.mark.parametrize("form", ["oci-layout", "docker-archive"])
def test_unchanged_file_is_not_hashed_again(form, tmp_path, hashed, settled_now):
    exp = (I.build_simple_oci_layout(tmp_path / "img", compress="gzip") if form == "oci-layout"
           else I.build_legacy_docker_archive(tmp_path / "img.tar", "docker"))
    store = ScanCache(str(tmp_path / "cache"))
    cold = inspect(exp.arg, cache=False)
    inspect(exp.arg, cache=store)  # cold: scans and records what it hashed
    assert hashed == []
    warm = inspect(exp.arg, cache=store)
    assert store.hits == 3 and hashed == []  # no blob hashed again
    assert [(l.digest, l.diff_id, l.size) for l in warm.layers] == [(l.digest, l.diff_id, l.size) for l in cold.layers]
    assert warm.wasted_bytes == cold.wasted_bytes


@pytest.mark.parametrize("form", ["oci-layout", "docker-archive"])
def test_a_write_in_place_is_caught_even_with_mtime_put_back(form, tmp_path, hashed, settled_now):
    if form == "oci-layout":
        exp = I.build_simple_oci_layout(tmp_path / "img", compress="none")
        target, offset = tmp_path / "img" / "blobs" / "sha256" / I.hexof(exp.layers[0].digest), 700
        error = "blob digest mismatch"
    else:
        exp = I.build_legacy_docker_archive(tmp_path / "img.tar", "docker")
        target = tmp_path / "img.tar"
        offset = _docker_layer_offset(target)
        error = "mismatch"
    store = ScanCache(str(tmp_path / "cache"))
    inspect(exp.arg, cache=store)
    inspect(exp.arg, cache=store)
    assert hashed == []
    _flip_in_place(target, offset)
    with pytest.raises(DigestMismatchError, match=error):
        inspect(exp.arg, cache=ScanCache(str(tmp_path / "cache")))
    assert hashed  # the changed file was hashed, not trusted


def test_a_replaced_file_is_hashed_again(tmp_path, hashed, settled_now):
    exp = I.build_simple_oci_layout(tmp_path / "img", compress="gzip")
    store = ScanCache(str(tmp_path / "cache"))
    inspect(exp.arg, cache=store)
    blob = tmp_path / "img" / "blobs" / "sha256" / I.hexof(exp.layers[1].digest)
    shutil.copy(blob, tmp_path / "copy")
    os.replace(tmp_path / "copy", blob)  # same bytes, another inode
    inspect(exp.arg, cache=store)
    assert hashed == [exp.layers[1].digest]
    inspect(exp.arg, cache=store)  # and recorded again
    assert hashed == [exp.layers[1].digest]


def test_a_file_written_just_now_is_not_recorded(tmp_path, hashed):
    """A write within the same timestamp tick as the hash could leave the identity as it was."""
    exp = I.build_simple_oci_layout(tmp_path / "img", compress="gzip")
    store = ScanCache(str(tmp_path / "cache"))
    inspect(exp.arg, cache=store)
    inspect(exp.arg, cache=store)
    assert sorted(hashed) == sorted(l.digest for l in exp.layers)


def test_records_are_keyed_by_digest_too(tmp_path, settled_now):
    exp = I.build_simple_oci_layout(tmp_path / "img", compress="gzip")
    store = ScanCache(str(tmp_path / "cache"))
    inspect(exp.arg, cache=store)
    img_layer = LayerRefFinder(exp.arg).layer(0)
    stamp = L._stamp(img_layer, exp.layers[0].digest)
    assert stamp is not None and store.seen(stamp[0])
    other = L._stamp(img_layer, "sha256:" + "0" * 64)
    assert not store.seen(other[0])


class LayerRefFinder:
    """The LayerRefs of an image, as the analysis opens them."""

    def __init__(self, arg: str) -> None:
        from layerscope.source import open_image

        self.image = open_image(arg)

    def layer(self, i: int) -> LayerRef:
        return self.image.layers[i]


def test_a_copy_proven_by_equality_is_not_recorded(tmp_path, settled_now):
    """compare proves another file's copy of a shared blob by equality with the copy it is
    scanning -- whose own hash may still fail: such a proof must not outlive the run."""
    exp = I.build_simple_oci_layout(tmp_path / "a", compress="gzip")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    store = ScanCache(str(tmp_path / "cache"))
    finder_a, finder_b = LayerRefFinder(exp.arg), LayerRefFinder(str(tmp_path / "b"))
    a, b = finder_a.layer(0), finder_b.layer(0)
    L.verify_blob(b, exp.layers[0].digest, where="b", cache=store, verified=a)
    stamp = L._stamp(b, exp.layers[0].digest)
    if b.same_bytes(a) is not None:  # with the C core: proven by equality, not recorded
        assert not store.seen(stamp[0])
    L.verify_blob(b, exp.layers[0].digest, where="b", cache=store)  # a full hash is recorded
    assert store.seen(stamp[0])
