"""Hand-made hostile images (docs/security.md): each test is one attack and what must hold.

Nothing is written outside the test's own temporary directory (layerscope
extracts nothing); paths in layers stay inside the image root, even through
symlinks and hardlinks; digests never become paths outside ``blobs/``; a
self-listing index ends; a decompression bomb is stopped by the layer size
limit; memory per tar entry is bounded.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zlib

import pytest

import hostile_images as H
import images as I
import overlay_images as O
from layerscope.source import limits

GZIP_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
ZSTD_LAYER = "application/vnd.oci.image.layer.v1.tar+zstd"
INDEX = "application/vnd.oci.image.index.v1+json"


def _paths(doc: dict) -> set[str]:
    return {e["path"] for e in doc["entries"]}


def _no_writes(tmp_path, before: set[str]) -> None:
    assert I.tree_snapshot(tmp_path) == before, "layerscope wrote into the file system"


# --------------------------------------------------------------------------
# paths that climb out of the root
# --------------------------------------------------------------------------

def test_dotdot_and_absolute_entries_stay_inside_the_root(tmp_path, ls):
    img = H.layout(tmp_path / "img", [H.raw_tar([
        ("file", "../../etc/passwd", b"evil\n"), ("file", "/abs/file", b"x"), ("file", "a/../../../b", b"y"),
        ("file", "./../../../../../../tmp/evil-" + tmp_path.name, b"z")])])
    cwd = tmp_path / "deep" / "cwd"
    cwd.mkdir(parents=True)
    before = I.tree_snapshot(tmp_path)
    doc = ls("ls", "-R", "--json", img, cwd=cwd).json()
    assert {"/etc/passwd", "/abs/file", "/b", "/tmp/evil-" + tmp_path.name} <= _paths(doc)
    assert all(".." not in p.split("/") for p in _paths(doc))
    assert {w["code"] for w in doc["warnings"]} == {"path-escape"}
    changes = ls("changes", "--json", img, cwd=cwd).json()
    assert {c["path"] for c in changes["layers"][0]["changes"]} >= {"/etc/passwd", "/b"}
    _no_writes(tmp_path, before)
    assert not os.path.exists("/tmp/evil-" + tmp_path.name)


def _symlink_root_image(tmp_path):
    return H.layout(tmp_path / "img", [
        H.raw_tar([("sym", "escape", "/"), ("sym", "up", "../../../.."), ("dir", "etc", None)]),
        H.raw_tar([("file", "escape/etc/evil", b"evil\n"), ("file", "up/evil2", b"e2"),
                   ("file", "escape/../../outside", b"o")])])


def test_symlink_to_root_then_a_write_through_it(tmp_path, ls):
    """Layer 0: ``escape -> /``; layer 1 writes ``escape/etc/evil``. The write lands at
    ``/etc/evil`` of the image (the link resolved inside the root), never on the host."""
    img = _symlink_root_image(tmp_path)
    before = I.tree_snapshot(tmp_path)
    doc = ls("ls", "-R", "--json", img).json()
    by_path = {e["path"]: e for e in doc["entries"]}
    assert {"/etc/evil", "/evil2", "/outside"} <= set(by_path)
    assert by_path["/escape"]["type"] == "symlink" and by_path["/escape"]["link"] == "/"
    assert not any(p.startswith("/escape/") or p.startswith("/up/") for p in by_path)
    changes = ls("changes", "--json", img).json()
    assert {c["path"] for c in changes["layers"][1]["changes"]} >= {"/etc/evil", "/evil2", "/outside"}
    _no_writes(tmp_path, before)


@pytest.mark.skipif(not O.have_umoci(), reason="umoci is not installed")
def test_symlink_to_root_matches_umoci_unpack(tmp_path, ls):
    """umoci unpack resolves the same writes inside its rootfs: the same files, nothing outside the bundle."""
    img = _symlink_root_image(tmp_path)
    rootfs = O.unpack(img, "latest", tmp_path / "bundle")
    nodes, _inodes = O.walk_rootfs(rootfs)
    umoci_files = {"/" + p.lstrip("/") for p, n in nodes.items() if n.type == "file"}
    ours = {e["path"] for e in ls("ls", "-R", "--json", img).json()["entries"] if e["type"] == "file"}
    assert ours == umoci_files
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle", "img"]


def test_hardlinks_to_outside_the_root_are_not_applied(tmp_path, ls):
    """A hardlink names a path the image does not hold (``../../../etc/passwd``, ``/etc/shadow``,
    through ``s -> /``): it never picks up a host file; it is a warning, not an entry."""
    img = H.layout(tmp_path / "img", [H.raw_tar([
        ("hard", "h", "../../../etc/passwd"), ("hard", "h2", "/etc/shadow"), ("sym", "s", "/"),
        ("hard", "h3", "s/etc/passwd")])])
    doc = ls("ls", "-R", "--json", img).json()
    assert _paths(doc) == {"/s"}
    changes = ls("changes", "--json", img).json()
    codes = [(w["code"], w["path"]) for w in changes["layers"][0]["warnings"]]
    assert {("dangling-hardlink", "/h"), ("dangling-hardlink", "/h2"), ("dangling-hardlink", "/h3")} <= set(codes)


def test_hardlink_chain_and_symlink_loops_end(tmp_path, ls):
    """Hardlinks to hardlinks (a chain of 2,000) and a 100-link symlink cycle walked through: finished, not hung."""
    chain = [("file", "f0", b"x")] + [("hard", f"f{i}", f"f{i - 1}") for i in range(1, 2000)]
    cycle = [("sym", f"l{i}", f"l{(i + 1) % 100}") for i in range(100)] + [("file", "l0/x", b"y")]
    img = H.layout(tmp_path / "img", [H.raw_tar(chain + cycle)])
    res = ls("ls", "-R", "--json", img, timeout=60)
    doc = res.json()
    assert {"/f0", "/f1999"} <= _paths(doc)
    assert ls("changes", img, timeout=60).rc == 0


# --------------------------------------------------------------------------
# digests and indexes
# --------------------------------------------------------------------------

def test_manifest_digest_that_is_a_path(tmp_path, ls):
    """index.json names the manifest ``sha256:../../x``, and a valid manifest waits at that path
    outside ``blobs/``: refused as a malformed digest, never read."""
    img = I.build_simple_oci_layout(tmp_path / "img").path
    index = json.loads((img / "index.json").read_bytes())
    real = img / "blobs/sha256" / I.hexof(index["manifests"][0]["digest"])
    (img / "x").write_bytes(real.read_bytes())
    for bad in ("sha256:../../x", "sha256:/etc/passwd", "sha256:" + "0" * 63, "sha256:" + "0" * 64 + "\n"):
        index["manifests"][0]["digest"] = bad
        (img / "index.json").write_bytes(json.dumps(index).encode())
        line = I.assert_bad(ls("inspect", img), "img")
        assert "malformed digest" in line, line
    oci_archive = I.pack_oci_archive(img, tmp_path / "img.tar")
    assert "malformed digest" in I.assert_bad(ls("inspect", oci_archive), "img.tar")


def _index_doc(target_hex: str, size: int) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": INDEX, "manifests": [
        {"mediaType": INDEX, "digest": "sha256:" + target_hex, "size": size}]}).encode()


@pytest.mark.parametrize("verify", [True, False])
def test_index_that_lists_itself(tmp_path, ls, verify):
    """A blob that is an index naming its own file, and a two-index cycle (their bytes cannot hash
    to those names: only ``--no-verify`` reads them as such): one clear error, not endless recursion."""
    a_hex, b_hex = hashlib.sha256(b"a").hexdigest(), hashlib.sha256(b"b").hexdigest()
    size = len(_index_doc(a_hex, 100))  # every document here has this length (a 3-digit size)
    for shape in ("self", "cycle"):
        lay = I.OCILayout(tmp_path / shape)
        (lay.path / "blobs/sha256" / a_hex).write_bytes(_index_doc(b_hex if shape == "cycle" else a_hex, size))
        (lay.path / "blobs/sha256" / b_hex).write_bytes(_index_doc(a_hex, size))
        lay.index = [{"mediaType": INDEX, "digest": "sha256:" + a_hex, "size": size}]
        lay.finish()
        line = I.assert_bad(ls("inspect", lay.path, *([] if verify else ["--no-verify"])), shape)
        assert ("digest mismatch" if verify else "nest") in line, line


def test_indexes_nested_past_the_depth_limit(tmp_path, ls):
    """Each index honestly names the next (digests right): past the nesting limit it is an error."""
    from layerscope.source.oci import MAX_DEPTH

    lay = I.OCILayout(tmp_path / "nested")
    img = I.build_simple_oci_layout(tmp_path / "simple")
    target = json.loads((img.path / "index.json").read_bytes())["manifests"][0]
    for blob in (img.path / "blobs/sha256").iterdir():
        (lay.path / "blobs/sha256" / blob.name).write_bytes(blob.read_bytes())
    desc = {"mediaType": target["mediaType"], "digest": target["digest"], "size": target["size"]}
    for _ in range(MAX_DEPTH + 2):
        desc = lay.blob(I.jbytes({"schemaVersion": 2, "mediaType": INDEX, "manifests": [desc]}), INDEX)
    lay.index = [desc]
    lay.finish()
    line = I.assert_bad(ls("inspect", lay.path), "nested")
    assert "nest" in line or "deep" in line, line


# --------------------------------------------------------------------------
# decompression bombs: the layer size limit
# --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def gzip_bomb(tmp_path_factory):
    """10 GiB of zeros in one file, as a ~10 MB gzip layer, built once streaming."""
    d = tmp_path_factory.mktemp("bomb")
    size = H.gzip_bomb(d / "blob", 10 << 30)
    assert size < 20 << 20
    return H.bomb_layout(d / "gzip-bomb", d / "blob", GZIP_LAYER)


def _assert_limit_line(line: str, img_name: str) -> None:
    assert img_name in line and "layer 0" in line, line
    assert "limit" in line and "--max-layer-size" in line, line


def test_gzip_bomb_is_stopped_by_the_default_limit(gzip_bomb, ls):
    line = I.assert_bad(ls("inspect", gzip_bomb), "gzip-bomb")
    _assert_limit_line(line, "gzip-bomb")
    assert "100 x" in line


def test_gzip_bomb_with_an_explicit_limit(gzip_bomb, ls):
    """``--max-layer-size`` and the variable replace the default; the stop comes at the limit (fast)."""
    line = I.assert_bad(ls("ls", "-R", "--max-layer-size", "64MiB", gzip_bomb), "gzip-bomb")
    _assert_limit_line(line, "gzip-bomb")
    assert "67.1 MB" in line
    env_ls = type(ls)()
    env_ls.env["LAYERSCOPE_MAX_LAYER_SIZE"] = "32MiB"
    assert "33.6 MB" in I.assert_bad(env_ls("changes", gzip_bomb), "gzip-bomb")


def test_zstd_bomb_is_stopped(tmp_path, ls):
    blob = H.zstd_bomb(1200 << 20)  # past the 1 GiB floor; a few hundred kB of zstd
    assert len(blob) < 1 << 20
    (tmp_path / "blob").write_bytes(blob)
    img = H.bomb_layout(tmp_path / "zstd-bomb", tmp_path / "blob", ZSTD_LAYER)
    _assert_limit_line(I.assert_bad(ls("inspect", img), "zstd-bomb"), "zstd-bomb")


def test_uncompressed_layer_over_the_limit_is_refused_before_reading(tmp_path, ls):
    raw = H.raw_tar([("file", "big", bytes(300_000))])
    img = H.layout(tmp_path / "plain", [raw])
    assert ls("inspect", img).rc == 0
    line = I.assert_bad(ls("inspect", "--max-layer-size", "100kB", img), "plain")
    _assert_limit_line(line, "plain")
    assert "off" not in ls("inspect", "--max-layer-size", "off", img).err


def test_the_limit_rule(monkeypatch):
    """The default: RATIO x compressed + FLOOR, capped; real layers expand 2-6x (docs/security.md)."""
    monkeypatch.delenv(limits.ENV, raising=False)
    limits.set_max_layer_size("default")
    assert limits.max_layer_size(0) == limits.FLOOR
    assert limits.max_layer_size(10 << 20) == limits.RATIO * (10 << 20) + limits.FLOOR
    assert limits.max_layer_size(10 << 30) == limits.ABSOLUTE_CAP
    assert limits.max_layer_size(1_006_056_711) > 6 * 1_006_056_711  # the largest real layer measured
    monkeypatch.setenv(limits.ENV, "1GiB")
    assert limits.max_layer_size(1 << 40) == 1 << 30
    monkeypatch.setenv(limits.ENV, "off")
    assert limits.max_layer_size(1 << 40) is None
    for bad in ("-1", "0", "lots"):
        with pytest.raises(ValueError):
            limits.parse_limit(bad)


def test_bad_limit_values_are_usage_errors(tmp_path, ls):
    img = H.layout(tmp_path / "img", [H.raw_tar([("file", "f", b"x")])])
    res = ls("inspect", "--max-layer-size", "lots", img)
    assert res.rc == 2 and "--max-layer-size" in res.err and "Traceback" not in res.err
    env_ls = type(ls)()
    env_ls.env["LAYERSCOPE_MAX_LAYER_SIZE"] = "lots"
    assert "LAYERSCOPE_MAX_LAYER_SIZE" in I.assert_bad(env_ls("inspect", img))


# --------------------------------------------------------------------------
# resource limits: many entries, huge headers
# --------------------------------------------------------------------------

ENTRIES = 200_000
BYTES_PER_ENTRY = 1600  # changes --json measured 1,146 (200,000) and 1,135 (1,000,000 entries): docs/security.md

_RSS = ("import sys\nfrom layerscope.entry import main\nsys.argv = ['layerscope', *sys.argv[1:]]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "finally:\n    print(open('/proc/self/status').read(), file=sys.stderr)")


def _hwm(status: str) -> int:
    """The process's peak RSS (VmHWM, bytes). Not ru_maxrss: that survives exec, so a child
    would report at least the RSS its parent (pytest) had when it forked."""
    return int(status.split("VmHWM:")[1].split()[0]) * 1024


def _peak_rss(ls, *args) -> int:
    p = subprocess.run([sys.executable, "-c", _RSS, *map(str, args)], capture_output=True, text=True,
                       env=ls.env, timeout=120)
    assert p.returncode == 0, p.stderr
    return _hwm(p.stderr)


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="VmHWM is Linux's")
def test_memory_per_entry_is_bounded(tmp_path, ls):
    """A layer of 200,000 empty files: the peak RSS grows by at most BYTES_PER_ENTRY per entry."""
    blob = H.many_empty_files(ENTRIES)
    raw = zlib.decompress(blob, 31)
    img = H.layout(tmp_path / "many", [raw], blobs=[blob], media_type=GZIP_LAYER)
    small = H.layout(tmp_path / "one", [H.raw_tar([("file", "f", b"")])])
    base = _peak_rss(ls, "changes", "--json", small)
    peak = _peak_rss(ls, "changes", "--json", img)
    per_entry = (peak - base) / ENTRIES
    assert per_entry < BYTES_PER_ENTRY, f"{per_entry:.0f} bytes per entry"


def test_huge_pax_header_is_refused(tmp_path, ls):
    """A PAX header claiming 20 MB of records (past MAX_META_SIZE) is an error naming the layer, not a 20 MB read."""
    from layerscope.tarheader import MAX_META_SIZE

    pax = tarfile_header("././@PaxHeader", b"x", MAX_META_SIZE + 1)
    raw = pax + b"\0" * (-len(pax) % 512) + bytes(1024)
    img = H.layout(tmp_path / "pax", [raw])
    I.assert_bad(ls("inspect", img), "pax")


def tarfile_header(name: str, typeflag: bytes, size: int) -> bytes:
    """A bare ustar header with any size field (the body is not written)."""
    import tarfile

    ti = tarfile.TarInfo(name)
    ti.size = size
    ti.type = typeflag
    return ti.tobuf(tarfile.USTAR_FORMAT)


def _ustar_with_size_field(field: bytes) -> bytes:
    import tarfile

    b = bytearray(tarfile.TarInfo("f").tobuf(tarfile.USTAR_FORMAT))
    b[124:136] = field
    b[148:156] = b" " * 8
    b[148:156] = b"%06o\0 " % sum(b)
    return bytes(b)


@pytest.mark.parametrize("ls", ["python", "c"], indirect=True)
@pytest.mark.parametrize("shape", ["2**62 bytes", "negative", "garbage"])
def test_absurd_header_sizes(tmp_path, ls, shape):
    """A member claiming 4 EiB (base-256), a negative size, a size field of garbage: one clean error, at once."""
    field = {"2**62 bytes": b"\x80" + (1 << 62).to_bytes(11, "big"), "negative": b"\xff" * 12,
             "garbage": b"zz\x01zz\x02zzzzzz"}[shape]
    img = H.layout(tmp_path / "absurd", [_ustar_with_size_field(field) + b"x" * 512 + bytes(1024)])
    I.assert_bad(ls("ls", "-R", img, timeout=30), "absurd")


@pytest.mark.parametrize("confusion", ["manifest-with-manifests", "index-says-manifest", "manifest-says-index"])
def test_media_type_confusion_is_refused(tmp_path, ls, confusion):
    """CVE-2021-41190: a document that reads as an index and as a manifest (both fields, or its own
    mediaType against the descriptor's) is refused, digests all right."""
    img = I.build_simple_oci_layout(tmp_path / "img").path
    index = json.loads((img / "index.json").read_bytes())
    desc = index["manifests"][0]
    blob = img / "blobs/sha256" / I.hexof(desc["digest"])
    doc = json.loads(blob.read_bytes())
    if confusion == "manifest-with-manifests":
        doc["manifests"] = [dict(desc)]
    elif confusion == "manifest-says-index":
        doc["mediaType"] = INDEX
    else:
        desc["mediaType"] = INDEX
        doc = {"schemaVersion": 2, "mediaType": doc["mediaType"], "manifests": [dict(desc)]}
        doc["manifests"][0]["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
    data = json.dumps(doc).encode()
    new = hashlib.sha256(data).hexdigest()
    (img / "blobs/sha256" / new).write_bytes(data)
    desc.update(digest="sha256:" + new, size=len(data))
    (img / "index.json").write_bytes(json.dumps(index).encode())
    assert "ambiguous" in I.assert_bad(ls("inspect", img), "img")


@pytest.mark.parametrize("link", ["blob", "blobs-dir"])
def test_layout_symlinks_out_of_the_layout_are_refused(tmp_path, ls, link):
    """A layout directory whose blob (or whose ``blobs/sha256``) is a symlink to files outside it --
    here the right bytes, so only the confinement stops the read: refused, naming the link."""
    img = I.build_simple_oci_layout(tmp_path / "img").path
    outside = tmp_path / "outside"
    shutil.copytree(img / "blobs/sha256", outside)
    if link == "blob":
        layer = img / "blobs/sha256" / I.hexof(json.loads(
            (img / "blobs/sha256" / I.hexof(json.loads((img / "index.json").read_bytes())["manifests"][0]["digest"]))
            .read_bytes())["layers"][0]["digest"])
        layer.unlink()
        layer.symlink_to(outside / layer.name)
    else:
        shutil.rmtree(img / "blobs/sha256")
        (img / "blobs/sha256").symlink_to(outside)
    line = I.assert_bad(ls("inspect", img), "img")
    assert "outside the layout" in line, line
    via = tmp_path / "via-link"
    via.symlink_to(I.build_simple_oci_layout(tmp_path / "img2").path)
    assert ls("inspect", "--json", via).rc == 0  # the layout itself may be reached through a symlink


def _pax_member(records: dict[str, str], name: str = "f") -> bytes:
    """A pax header (written here: tarfile's writer is quadratic in the record count) and a 1-byte file."""
    import tarfile

    def record(k: str, v: str) -> bytes:
        body = f" {k}={v}\n".encode()
        n = len(body) + len(str(len(body)))
        return b"%d" % (n + (len(str(n)) > len(str(len(body))))) + body

    data = b"".join(record(k, v) for k, v in records.items())
    x = tarfile.TarInfo("././@PaxHeader")
    x.type, x.size = tarfile.XHDTYPE, len(data)
    f = tarfile.TarInfo(name)
    f.size = 1
    return (x.tobuf(tarfile.USTAR_FORMAT) + data + bytes(-len(data) % 512) + f.tobuf(tarfile.USTAR_FORMAT)
            + b"x" + bytes(511))


@pytest.mark.parametrize("ls", ["python", "c"], indirect=True)
def test_xattr_flood_is_refused(tmp_path, ls):
    """Extended attributes stay with their entry all run long: a pax header of 200,000 tiny xattrs (under
    MAX_META_SIZE) is an error, not a 200,000-key dict per member; a few real ones are read."""
    from layerscope.layer.tar import MAX_XATTRS

    flood = {f"SCHILY.xattr.user.{i}": "y" for i in range(200_000)}
    img = H.layout(tmp_path / "flood", [_pax_member(flood) + bytes(1024)])
    assert "extended attributes" in I.assert_bad(ls("inspect", img), "flood")
    fine = {f"SCHILY.xattr.user.{i}": "y" for i in range(MAX_XATTRS - 1)}
    fine["SCHILY.xattr.security.capability"] = "\x01\x00\x00\x02"
    ok = H.layout(tmp_path / "ok", [_pax_member(fine) + bytes(1024)])
    assert ls("inspect", ok).rc == 0
