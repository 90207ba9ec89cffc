"""store/export.py: every format x compression is read back by layerscope, skopeo and umoci.

The image is built here with tarfile (files, dirs, symlinks, hardlinks, long
names, pax headers, xattrs) and a hand-written config; expected values come
from those bytes, not from the code under test.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

import images as I
from layerscope.errors import BadInputError, DigestMismatchError, UsageError
from layerscope.source import open_image, open_images
from layerscope.store.export import ExportImage, ExportLayer, from_source, write_image

FORMATS = ["docker-archive", "oci-archive", "oci-dir"]
COMPRESSIONS = ["none", "gzip", "zstd"]
TAG = "docker.io/layerscope-test/app:1.0"


# --------------------------------------------------------------------------
# the image
# --------------------------------------------------------------------------

def _ti(name: str, kind: bytes = tarfile.REGTYPE, mode: int = 0o644, **pax: str) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.mtime, ti.uid, ti.gid = kind, mode, I.MTIME, 0, 0
    ti.uname = ti.gname = "root"
    if pax:
        ti.pax_headers = dict(pax)
    return ti


def _tar(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for ti, data in members:
            if data is not None:
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
            else:
                tf.addfile(ti)
    return buf.getvalue()


LONG = "opt/" + "/".join(["a-rather-long-directory-name"] * 5)  # > 100 bytes: a pax path record


def layer_tars() -> list[bytes]:
    link = _ti("etc/link", tarfile.SYMTYPE, 0o777)
    link.linkname = "hello.txt"
    hard = _ti("etc/hard", tarfile.LNKTYPE)
    hard.linkname = "etc/hello.txt"
    longlink = _ti("opt/longlink", tarfile.SYMTYPE, 0o777)
    longlink.linkname = LONG + "/file-with-a-long-name.txt"  # > 100: a pax linkpath record
    one = _tar([
        (_ti("etc", tarfile.DIRTYPE, 0o755), None),
        (_ti("etc/hello.txt"), b"hello\n"),
        (link, None),
        (hard, None),
        (_ti("opt", tarfile.DIRTYPE, 0o755), None),
        (_ti(LONG.split("/", 1)[0] + "/" + LONG.split("/", 2)[1], tarfile.DIRTYPE, 0o755), None),
        (_ti(LONG + "/file-with-a-long-name.txt"), b"long\n"),
        (longlink, None),
        (_ti("opt/attrs.bin", **{"SCHILY.xattr.user.layerscope": "yes"}), I.rand_bytes(70_000, 7)),
        (_ti("opt/caf\u00e9-\u00fcml\u00e4ut.txt"), "unicode name\n".encode()),  # a pax path record
    ])
    two = _tar([
        (_ti("usr", tarfile.DIRTYPE, 0o755), None),
        (_ti("usr/bin", tarfile.DIRTYPE, 0o755), None),
        (_ti("usr/bin/tool", mode=0o755), b"#!/bin/sh\necho hi\n"),
        (_ti("usr/data.txt"), I.text_bytes(2_600_000, 3)),  # several parallel gzip blocks
        (_ti("etc", tarfile.DIRTYPE, 0o755), None),
        (_ti("etc/hello.txt"), b"hello again\n"),  # replaces layer one's
        (_ti("usr/empty"), b""),
    ])
    return [one, two]


def config_for(tars: list[bytes]) -> bytes:
    diff_ids = [I.sha256(t) for t in tars]
    # not compact and keys not sorted: the bytes must be kept as they are
    return json.dumps({"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
                       "config": {"Cmd": ["/bin/sh"]},
                       "rootfs": {"type": "layers", "diff_ids": diff_ids},
                       "history": [{"created_by": "one"}, {"created_by": "two"}]}, indent=1).encode()


def pieces_of(data: bytes, size: int = 1000):
    """The layer in small pieces (and one big one), as bytes and memoryviews."""
    def gen():
        mv = memoryview(data)
        yield mv[:size]
        yield bytes(mv[size:2 * size])
        yield mv[2 * size:]
    return gen


def export_image(tars: list[bytes], **kw) -> ExportImage:
    layers = [ExportLayer(I.sha256(t), len(t), pieces_of(t)) for t in tars]
    return ExportImage(config_for(tars), layers, repo_tags=[TAG], **kw)


@pytest.fixture(scope="module")
def tars() -> list[bytes]:
    return layer_tars()


@pytest.fixture(scope="module")
def exports(tars, tmp_path_factory) -> dict[tuple[str, str], tuple[Path, object]]:
    work = tmp_path_factory.mktemp("exports")
    out = {}
    for fmt in FORMATS:
        for comp in COMPRESSIONS:
            path = work / (f"{fmt}-{comp}" + ("" if fmt == "oci-dir" else ".tar"))
            out[fmt, comp] = path, write_image(path, export_image(tars), format=fmt, compress=comp)
    return out


CASES = [(f, c) for f in FORMATS for c in COMPRESSIONS]


def _decompress(blob: bytes) -> bytes:
    return I.decompress(blob)


# --------------------------------------------------------------------------
# layerscope reads every export back
# --------------------------------------------------------------------------

@pytest.mark.parametrize("fmt,comp", CASES)
def test_layerscope_reads_export(exports, tars, fmt, comp):
    path, res = exports[fmt, comp]
    [img] = open_images(str(path))
    cfg = config_for(tars)
    assert img.config_digest == I.sha256(cfg) == res.config_digest
    assert img.config == json.loads(cfg)
    assert [l.diff_id for l in img.layers] == [I.sha256(t) for t in tars]
    for ref, raw, blob in zip(img.layers, tars, res.layers):
        assert ref.compression() == comp
        stream = ref.open()
        got = []
        while piece := stream.read1(1 << 16):
            got.append(bytes(piece))
        stream.finish()  # checks the blob digest and the diff_id
        assert b"".join(got) == raw
        if fmt != "docker-archive":
            assert ref.digest == blob.digest and ref.compressed_size == blob.size
            assert ref.media_type == "application/vnd.oci.image.layer.v1.tar" + {"none": "", "gzip": "+gzip",
                                                                                 "zstd": "+zstd"}[comp]
    if fmt == "docker-archive":
        assert img.ref == TAG and res.manifest_digest is None
    else:
        assert img.ref == "1.0" and img.manifest_digest == res.manifest_digest


@pytest.mark.parametrize("fmt", FORMATS)
def test_uncompressed_blob_is_the_layer_tar(exports, tars, fmt):
    """With compress none each layer blob's digest is its diff_id and the config keeps the image ID."""
    path, res = exports[fmt, "none"]
    assert [b.digest for b in res.layers] == [I.sha256(t) for t in tars]
    assert [b.size for b in res.layers] == [len(t) for t in tars]
    assert res.config_digest == I.sha256(config_for(tars))
    files = _files(path)
    for t in tars:
        assert files["blobs/sha256/" + I.hexof(I.sha256(t))] == t
    assert files["blobs/sha256/" + I.hexof(res.config_digest)] == config_for(tars)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("comp", ["gzip", "zstd"])
def test_compressed_blobs_are_new_and_reproducible(exports, tars, tmp_path, fmt, comp):
    path, res = exports[fmt, comp]
    files = _files(path)
    for blob, raw in zip(res.layers, tars):
        data = files["blobs/sha256/" + I.hexof(blob.digest)]
        assert I.sha256(data) == blob.digest != I.sha256(raw)
        assert I.compression_of(data) == comp and _decompress(data) == raw
        if comp == "gzip":
            assert data[3] == 0 and data[4:8] == b"\0\0\0\0"  # no FNAME/FEXTRA flags, mtime 0
    again = tmp_path / path.name
    res2 = write_image(again, export_image(tars), format=fmt, compress=comp)
    assert res2 == res.replace(path=str(again))
    assert _files(again) == files


def _files(path: Path) -> dict[str, bytes]:
    """Every regular file of an archive or a layout, by name."""
    if path.is_dir():
        return {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*") if p.is_file()}
    with tarfile.open(path) as tf:
        return {m.name: tf.extractfile(m).read() for m in tf.getmembers() if m.isfile()}


def test_docker_archive_layout(exports, tars):
    path, res = exports["docker-archive", "none"]
    files = _files(path)
    [entry] = json.loads(files["manifest.json"])
    assert entry == {"Config": "blobs/sha256/" + I.hexof(I.sha256(config_for(tars))), "RepoTags": [TAG],
                     "Layers": ["blobs/sha256/" + I.hexof(I.sha256(t)) for t in tars]}


def test_oci_layout_documents(exports, tars):
    path, res = exports["oci-dir", "gzip"]
    assert json.loads((path / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads((path / "index.json").read_text())
    [desc] = index["manifests"]
    assert desc["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert desc["annotations"] == {"org.opencontainers.image.ref.name": "1.0"}
    assert desc["platform"] == {"architecture": "amd64", "os": "linux"}
    raw = (path / "blobs/sha256" / I.hexof(desc["digest"])).read_bytes()
    assert I.sha256(raw) == desc["digest"] == res.manifest_digest and len(raw) == desc["size"]
    manifest = json.loads(raw)
    assert manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    assert [l["mediaType"] for l in manifest["layers"]] == ["application/vnd.oci.image.layer.v1.tar+gzip"] * 2
    assert sorted(p.name for p in (path / "blobs/sha256").iterdir()) == sorted(
        I.hexof(d) for d in [desc["digest"], res.config_digest, *(b.digest for b in res.layers)])
    assert not any(p.name.startswith(".") for p in path.rglob("*"))


def test_ref_name_and_annotations(tars, tmp_path):
    out = tmp_path / "lay"
    write_image(out, export_image(tars, ref_name="app:1.0", annotations={"org.example": "x"}), format="oci-dir")
    [desc] = json.loads((out / "index.json").read_text())["manifests"]
    assert desc["annotations"] == {"org.example": "x", "org.opencontainers.image.ref.name": "app:1.0"}
    assert open_image(f"{out}:app:1.0").config_digest == I.sha256(config_for(tars))


def test_progress_and_repeated_layer(tars, tmp_path):
    """A layer twice in an image is written once; progress counts uncompressed bytes."""
    t = tars[0]
    layers = [ExportLayer(I.sha256(t), len(t), pieces_of(t))] * 2
    image = ExportImage(config_for([t, t]), layers, repo_tags=[TAG])
    seen = []
    res = write_image(tmp_path / "x.tar", image, format="oci-archive", compress="zstd", progress=seen.append)
    assert sum(seen) == len(t)
    assert res.layers[0] == res.layers[1]
    img = open_image(str(tmp_path / "x.tar"))
    assert [l.diff_id for l in img.layers] == [I.sha256(t)] * 2


def test_from_source_roundtrip(exports, tars, tmp_path):
    """An export re-exported through layerscope's readers (another format, other compression) is the same image."""
    src = open_image(str(exports["oci-archive", "gzip"][0]))
    res = write_image(tmp_path / "d.tar", from_source(src, repo_tags=[TAG]), format="docker-archive")
    assert [b.digest for b in res.layers] == [I.sha256(t) for t in tars]
    assert _files(tmp_path / "d.tar") == _files(exports["docker-archive", "none"][0])


# --------------------------------------------------------------------------
# errors and safety
# --------------------------------------------------------------------------

def _listing(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("comp", COMPRESSIONS)
def test_wrong_bytes_raise_and_leave_nothing(tars, tmp_path, fmt, comp):
    bad = bytearray(tars[1])
    bad[2000] ^= 1
    layers = [ExportLayer(I.sha256(tars[0]), len(tars[0]), pieces_of(tars[0])),
              ExportLayer(I.sha256(tars[1]), len(bad), pieces_of(bytes(bad)))]
    out = tmp_path / "sub" / ("o" if fmt == "oci-dir" else "o.tar")
    out.parent.mkdir()
    with pytest.raises(DigestMismatchError, match="diff_id mismatch"):
        write_image(out, ExportImage(config_for(tars), layers), format=fmt, compress=comp)
    assert _listing(tmp_path) == {"sub"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_short_long_and_failing_layers(tars, tmp_path, fmt):
    t = tars[0]
    out = tmp_path / "o"

    def failing():
        yield t[:5000]
        raise ValueError("source went away")

    cases = [
        (ExportLayer(I.sha256(t), len(t) + 1, pieces_of(t)), DigestMismatchError, "size says"),
        (ExportLayer(I.sha256(t), len(t) - 1, pieces_of(t)), DigestMismatchError, "longer than its size"),
        (ExportLayer(I.sha256(t), len(t), failing), BadInputError, "source went away"),
    ]
    for layer, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            write_image(out, ExportImage(config_for([t]), [layer]), format=fmt)
        assert _listing(tmp_path) == set()


def test_refuses_overwrite_unless_asked(tars, tmp_path):
    out = tmp_path / "o.tar"
    out.write_bytes(b"precious")
    with pytest.raises(UsageError, match="exists"):
        write_image(out, export_image(tars))
    assert out.read_bytes() == b"precious"
    write_image(out, export_image(tars), overwrite=True)
    assert open_image(str(out)).config_digest == I.sha256(config_for(tars))
    lay = tmp_path / "lay"
    lay.mkdir()
    (lay / "old").write_text("x")
    with pytest.raises(UsageError, match="exists"):
        write_image(lay, export_image(tars), format="oci-dir")
    with pytest.raises(UsageError, match="is a directory"):
        write_image(lay, export_image(tars), format="oci-archive", overwrite=True)
    write_image(lay, export_image(tars), format="oci-dir", overwrite=True)
    assert not (lay / "old").exists() and (lay / "index.json").exists()
    assert _listing(tmp_path) - {str(p.relative_to(tmp_path)) for p in lay.rglob("*")} == {"o.tar", "lay"}


def test_writes_only_beside_the_output(tars, tmp_path):
    """Everything happens in the output's directory; hostile tag/ref text lands only inside JSON."""
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "keep").write_text("k")
    before = _listing(tmp_path)
    image = export_image(tars, ref_name="../../escape")
    image.repo_tags = ["../../escape:1"]
    for fmt in FORMATS:
        write_image(tmp_path / "a" / "b" / fmt, image, format=fmt, compress="gzip")
    after = _listing(tmp_path)
    assert {p.split("/")[2] for p in after - before} == set(FORMATS)
    assert all(p.startswith("a/b/") for p in after - before)
    assert (tmp_path / "a" / "keep").read_text() == "k"


def test_bad_arguments(tars, tmp_path):
    with pytest.raises(UsageError, match="format"):
        write_image(tmp_path / "x", export_image(tars), format="zip")
    with pytest.raises(UsageError, match="compression"):
        write_image(tmp_path / "x", export_image(tars), compress="lz4")
    with pytest.raises(UsageError, match="does not exist"):
        write_image(tmp_path / "no" / "x", export_image(tars))
    img = export_image(tars)
    img.layers = img.layers[:1]
    with pytest.raises(UsageError, match="diff_ids"):
        write_image(tmp_path / "x", img)
    with pytest.raises(BadInputError, match="not valid JSON"):
        write_image(tmp_path / "x", ExportImage(b"{nope", []))
    with pytest.raises(BadInputError, match="diff_ids"):
        write_image(tmp_path / "x", ExportImage(b"{}", []))
    bad = export_image(tars)
    bad.layers[0] = bad.layers[0].replace(diff_id="sha256:../../x")
    with pytest.raises((BadInputError, UsageError)):
        write_image(tmp_path / "x", bad)
    assert _listing(tmp_path) == set()


def test_huge_blob_header_fits_in_one_block():
    """Past 8 GiB a size needs GNU base-256: the header stays one block, so a placeholder patch fits."""
    from layerscope.store.export import _tar_header

    for size in (0, 5, 8 ** 11 - 1, 8 ** 11, 20 << 30):
        h = _tar_header("blobs/sha256/" + "a" * 64, size)
        assert len(h) == 512
        ti = tarfile.TarInfo.frombuf(h, "utf-8", "strict")
        assert ti.size == size and ti.name == "blobs/sha256/" + "a" * 64


# --------------------------------------------------------------------------
# skopeo and umoci accept the exports
# --------------------------------------------------------------------------

TRANSPORT = {"docker-archive": "docker-archive:", "oci-archive": "oci-archive:", "oci-dir": "oci:"}


@pytest.mark.interop
@pytest.mark.parametrize("fmt,comp", CASES)
def test_skopeo_accepts(tools, exports, tars, tmp_path, fmt, comp):
    path, res = exports[fmt, comp]
    cfg = I.skopeo_raw("inspect", "--config", "--raw", TRANSPORT[fmt] + str(path))
    assert cfg == config_for(tars)
    manifest = json.loads(I.skopeo_raw("inspect", "--raw", TRANSPORT[fmt] + str(path)))
    assert manifest["config"]["digest"] == res.config_digest  # the image ID
    if fmt == "docker-archive":  # skopeo names docker-archive layers by diff_id
        assert [l["digest"] for l in manifest["layers"]] == [I.sha256(t) for t in tars]
    else:
        assert I.sha256(I.skopeo_raw("inspect", "--raw", TRANSPORT[fmt] + str(path))) == res.manifest_digest
        assert [l["digest"] for l in manifest["layers"]] == [b.digest for b in res.layers]
    # a copy reads every blob and checks its digest
    I.skopeo("copy", "-q", TRANSPORT[fmt] + str(path), f"oci:{tmp_path / 'copy'}:x")
    back = open_image(f"{tmp_path / 'copy'}:x")
    assert [l.diff_id for l in back.layers] == [I.sha256(t) for t in tars]


def expected_tree(tars: list[bytes]) -> dict[str, tuple]:
    """path -> ("dir",) / ("file", content, mode) / ("symlink", target): the layers applied in order
    (no whiteouts in these layers)."""
    tree: dict[str, tuple] = {}
    for raw in tars:
        with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
            for m in tf.getmembers():
                parts = m.name.split("/")
                for i in range(1, len(parts)):
                    tree.setdefault("/".join(parts[:i]), ("dir",))
                if m.isdir():
                    tree[m.name] = ("dir",)
                elif m.issym():
                    tree[m.name] = ("symlink", m.linkname)
                elif m.islnk():
                    tree[m.name] = tree[m.linkname]
                else:
                    tree[m.name] = ("file", tf.extractfile(m).read(), m.mode & 0o777)
    return tree


def actual_tree(root: Path) -> dict[str, tuple]:
    tree: dict[str, tuple] = {}
    for p in root.rglob("*"):
        st = p.lstat()
        rel = str(p.relative_to(root))
        if stat.S_ISDIR(st.st_mode):
            tree[rel] = ("dir",)
        elif stat.S_ISLNK(st.st_mode):
            tree[rel] = ("symlink", os.readlink(p))
        else:
            tree[rel] = ("file", p.read_bytes(), st.st_mode & 0o777)
    return tree


@pytest.mark.interop
@pytest.mark.parametrize("fmt,comp", [c for c in CASES if c[0] != "docker-archive"])
def test_umoci_unpacks(tools, exports, tars, tmp_path, fmt, comp):
    path, _res = exports[fmt, comp]
    layout = tmp_path / "layout"
    if fmt == "oci-archive":
        with tarfile.open(path) as tf:
            tf.extractall(layout, filter="data")
    else:
        shutil.copytree(path, layout)
    if comp == "zstd":
        # umoci 0.4.7 predates zstd layers ("blob is not correct mediatype"): say so, then check the
        # content through a gzip copy that skopeo makes from the zstd blobs
        p = subprocess.run(["umoci", "unpack", "--rootless", "--image", f"{layout}:1.0", tmp_path / "z"],
                           capture_output=True, text=True, timeout=I.TIMEOUT)
        assert p.returncode != 0 and "mediatype" in p.stderr
        I.skopeo("copy", "-q", "--dest-compress-format", "gzip", f"oci:{layout}:1.0", f"oci:{tmp_path / 'gz'}:1.0")
        layout = tmp_path / "gz"
    I.run_tool("umoci", "unpack", "--rootless", "--image", f"{layout}:1.0", tmp_path / "bundle")
    got = actual_tree(tmp_path / "bundle" / "rootfs")
    want = expected_tree(tars)
    assert got.keys() == want.keys()
    assert got == want
    assert got["etc/hard"] == ("file", b"hello\n", 0o644)  # layer two replaced hello.txt, not the link


def test_zstd_blob_does_not_depend_on_worker_count(tars, tmp_path, monkeypatch):
    from layerscope.store import compress

    big = I.text_bytes(6 << 20, 5)  # several zstd jobs
    digests = set()
    for n in (1, 2, 3):
        monkeypatch.setattr(compress, "ZSTD_THREADS", n)
        c = compress.compressor("zstd")
        digests.add(I.sha256(b"".join(c.compress(big[i:i + 100_000]) for i in range(0, len(big), 100_000))
                             + c.flush()))
    assert len(digests) == 1


def test_gzip_blob_does_not_depend_on_worker_count():
    from layerscope.store import compress

    big = I.text_bytes(3 * compress.BLOCK + 12345, 6)
    blobs = set()
    for n in (1, 2, 5):
        c = compress._ParallelGzip(n)
        try:
            blobs.add(b"".join(c.compress(big[i:i + 300_000]) for i in range(0, len(big), 300_000)) + c.flush())
        finally:
            c.close()
    [blob] = blobs
    assert gzip.decompress(blob) == big
    assert blob[:10] == gzip.compress(b"", compresslevel=6, mtime=0)[:9] + b"\x03"  # zlib's header, OS 3
    d = __import__("zlib").decompressobj(31)
    assert d.decompress(blob) == big and d.eof and not d.unused_data  # one member


def test_gzip_empty_layer_is_valid():
    from layerscope.store import compress

    c = compress.compressor("gzip")
    try:
        blob = c.compress(b"") + c.flush()
    finally:
        c.close()
    assert gzip.decompress(blob) == b""


@pytest.mark.parametrize("corrupt", [False, True])
def test_big_uncompressed_layer_hashed_beside_its_write(tmp_path, corrupt):
    """Pieces from OVERLAP_MIN up are hashed on a helper thread while written: same checks, same bytes."""
    t = _tar([(_ti("big.bin"), I.rand_bytes(6 << 20, 11))])
    data = bytearray(t)
    if corrupt:
        data[5 << 20] ^= 0x40
    layer = ExportLayer(I.sha256(t), len(t), pieces_of(bytes(data), 1_500_000))
    out = tmp_path / "big.tar"
    if corrupt:
        with pytest.raises(DigestMismatchError):
            write_image(out, ExportImage(config_for([t]), [layer]), format="oci-archive")
        assert _listing(tmp_path) == set()
    else:
        res = write_image(out, ExportImage(config_for([t]), [layer]), format="oci-archive")
        assert _files(out)["blobs/sha256/" + I.hexof(I.sha256(t))] == t and res.layers[0].digest == I.sha256(t)


@pytest.mark.parametrize("size", [100_000, 6 << 20])
def test_sha512_diff_id(tmp_path, size):
    """A sha512 diff_id is checked as sha512; the blob is still named by its sha256."""
    t = _tar([(_ti("f.bin"), I.rand_bytes(size, 12))])
    d512 = "sha512:" + hashlib.sha512(t).hexdigest()
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [d512]}}).encode()
    out = tmp_path / "o"
    res = write_image(out, ExportImage(cfg, [ExportLayer(d512, len(t), pieces_of(t, 1_500_000))]), format="oci-dir")
    assert res.layers[0].digest == I.sha256(t)
    img = open_image(str(out))
    stream = img.layers[0].open()
    while stream.read1(1 << 20):
        pass
    stream.finish()
    assert stream.diff_id == d512


# ---- the write-behind thread ---------------------------------------------------------

def test_writes_behind_keep_order_and_report_errors(tmp_path):
    """Big pieces are written by a thread of their own: the file holds every piece in order, a
    failed write is raised at the next write or flush, and abandon() stops the thread."""
    import threading

    from layerscope.store import export as E

    path = tmp_path / "out"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    out = E._Out(fd)
    pieces = [bytes([k]) * (E.SMALL + k) for k in range(12)] + [b"tail"]
    for p in pieces:
        out.write(p)
    out.flush()
    os.close(fd)
    assert path.read_bytes() == b"".join(pieces) and out.pos == len(path.read_bytes())

    fd = os.open(path, os.O_RDONLY)  # every write fails
    out = E._Out(fd)
    with pytest.raises(OSError):
        for _ in range(10):
            out.write(bytes(E.SMALL))
        out.flush()
    out.abandon()
    os.close(fd)
    assert not [t for t in threading.enumerate() if t.name == "layerscope-export-write"]


def test_a_failed_export_stops_its_writer_and_leaves_nothing(tmp_path):
    """An error in the middle of an export (here the layer's bytes run short) stops the writer
    thread before the temporary file is closed and removed."""
    import threading

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        big = I.rand_bytes(3 << 20, 5)
        ti = _ti("big")
        ti.size = len(big)
        tf.addfile(ti, io.BytesIO(big))
    data = buf.getvalue()
    layer = ExportLayer(I.sha256(data), len(data) + 1, pieces_of(data, 1 << 18))
    image = ExportImage(config_for([data]), [layer], repo_tags=[TAG])
    with pytest.raises(DigestMismatchError):
        write_image(tmp_path / "x.tar", image)
    assert not (tmp_path / "x.tar").exists() and not list(tmp_path.glob(".x.tar.*"))
    assert not [t for t in threading.enumerate() if t.name == "layerscope-export-write"]
