"""The store end to end: images built with umoci, skopeo and GNU tar go in (docker-archive, gzip
and zstd oci-archive, an OCI layout), come out in every format, and are the same images:
same diff_ids (every layer tar rebuilt byte for byte), same image ID, accepted by skopeo and
umoci, and umoci unpacks the same trees as from the originals."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

import images as I
from layerscope import Store
from layerscope.source import open_images

pytestmark = pytest.mark.skipif(not (shutil.which("skopeo") and shutil.which("umoci")), reason="needs skopeo and umoci")


def _run(*cmd) -> str:
    return subprocess.run([str(c) for c in cmd], check=True, capture_output=True, text=True).stdout


def _features_layer(tmp: Path) -> bytes:
    """A layer with what tar readers get wrong: a GNU sparse file, hardlinks, long names and
    links, pax xattrs, and bytes after the end marker."""
    src = tmp / "feat"
    (src / "d" / ("long" * 40)).mkdir(parents=True)
    (src / "d" / ("long" * 40) / ("name" * 30)).write_bytes(I.rand_bytes(70_000, 7))
    os.link(src / "d" / ("long" * 40) / ("name" * 30), src / "d" / "hard")
    os.symlink("d/" + "long" * 40, src / "link")
    with open(src / "sparse", "wb") as f:
        for i in range(20):
            f.seek(i * 200_000)
            f.write(b"run %d" % i)
    (src / "text").write_bytes(I.text_bytes(300_000, 8))
    out = tmp / "feat.tar"
    subprocess.run(["tar", "--format=pax", "--sparse", "--xattrs", "-cf", out, "-C", src, "."], check=True)
    return out.read_bytes() + b"\x00" * 512 + b"bytes after the end marker\n"


@pytest.fixture(scope="module")
def sources(simg, tmp_path_factory) -> dict[str, str]:
    """name -> image spec: the savings layout's tags, skopeo copies of one in three forms, and a
    layout holding the features layer."""
    tmp = tmp_path_factory.mktemp("store-src")
    specs = {t: f"{simg.layout}:{t}" for t in ("one", "rebuilt", "onebyte")}
    oci = f"oci:{simg.layout}:two"
    for name, transport, extra in [("docker", "docker-archive", []),
                                   ("gzip", "oci-archive", ["--dest-compress-format", "gzip"]),
                                   ("zstd", "oci-archive", ["--dest-compress-format", "zstd"])]:
        path = tmp / f"two.{name}.tar"
        _run("skopeo", "copy", "--quiet", *extra, oci, f"{transport}:{path}:x/two:1")
        specs[f"two-{name}"] = str(path)
    lay = I.OCILayout(tmp / "feat")
    layer = _features_layer(tmp)
    d = lay.blob(layer, "application/vnd.oci.image.layer.v1.tar")
    lay.add_ref(lay.image([d], I.make_config([I.sha256(layer)])), "feat")
    lay.finish()
    specs["feat"] = f"{tmp / 'feat'}:feat"
    return specs


@pytest.fixture(scope="module")
def store(sources, tmp_path_factory) -> Store:
    s = Store.init(tmp_path_factory.mktemp("store") / "s")
    for name, spec in sources.items():
        s.add([spec], name=name)
    yield s
    s.close()


def _image(spec: str):
    (im,) = open_images(spec)
    return im


@pytest.mark.parametrize("fmt,compress", [("docker-archive", "none"), ("oci-archive", "gzip"), ("oci-dir", "zstd"),
                                          ("oci-dir", "none"), ("docker-archive", "gzip"), ("oci-archive", "zstd")])
def test_every_image_comes_back_the_same(store, sources, tmp_path, fmt, compress):
    for name, spec in sources.items():
        out = tmp_path / f"{name}-{fmt}-{compress}"
        store.export(name, out, format=fmt, compress=compress)
        orig, back = _image(spec), _image(str(out))  # layerscope reads it back, checking every digest
        assert [layer.diff_id for layer in back.layers] == [layer.diff_id for layer in orig.layers], name
        assert back.config_digest == orig.config_digest, name  # the image ID
        transport = {"docker-archive": "docker-archive", "oci-archive": "oci-archive", "oci-dir": "oci"}[fmt]
        doc = json.loads(_run("skopeo", "inspect", "--raw" if fmt != "docker-archive" else "--config",
                              f"{transport}:{out}"))
        assert doc, name


def _tree(root: Path) -> dict[str, tuple]:
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        st = p.lstat()
        if p.is_symlink():
            out[rel] = ("link", os.readlink(p))
        elif p.is_dir():
            out[rel] = ("dir", st.st_mode & 0o7777)
        else:
            out[rel] = ("file", st.st_mode & 0o7777, p.read_bytes())
    return out


@pytest.mark.parametrize("name", ["one", "onebyte", "feat"])
def test_umoci_unpacks_the_export_as_the_original(store, sources, tmp_path, name):
    out = tmp_path / "export"
    store.export(name, out, format="oci-dir", compress="gzip")
    layout, tag = sources[name].rsplit(":", 1)
    _run("umoci", "unpack", "--rootless", "--image", f"{layout}:{tag}", tmp_path / "a")
    assert _image(str(out)).ref == tag  # the OCI ref name it had
    _run("umoci", "unpack", "--rootless", "--image", f"{out}:{tag}", tmp_path / "b")
    assert _tree(tmp_path / "a" / "rootfs") == _tree(tmp_path / "b" / "rootfs")


def test_layers_are_shared_and_stats_add_up(store, sources):
    st = store.stats()
    assert st.images == len(sources)
    assert st.shared_layers >= 1  # the savings images share their base
    assert st.stored_bytes < st.logical_bytes / 2
    assert store.verify(full=True) == []
    # the file level, counted here with tarfile: distinct contents of non-empty regular files (sparse
    # ones are kept as structure), and those in more than one layer
    in_layers: dict[bytes, set[str]] = {}
    for diff_id in {d for image in store.images() for d in image.layers}:
        with tarfile.open(fileobj=io.BytesIO(b"".join(store.layer_bytes(diff_id)))) as tf:
            for m in tf:
                if m.isreg() and m.size and not m.issparse():
                    key = hashlib.sha256(tf.extractfile(m).read()).digest()
                    in_layers.setdefault(key, set()).add(diff_id)
    assert st.files == len(in_layers) > 0
    assert st.shared_files == sum(len(layers) > 1 for layers in in_layers.values()) > 0
