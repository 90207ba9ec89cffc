"""`overlay` and `ls --rw`: a container's read/write layer on top of the sample image."""

from __future__ import annotations

import errno
import io
import json
import os
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

SAMPLE = str(Path(__file__).resolve().parent.parent / "examples" / "sample.tar")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "layerscope", *args], capture_output=True, text=True, timeout=60)


def _set_opaque(path: Path) -> bool:
    for name in ("trusted.overlay.opaque", "user.overlay.opaque"):
        try:
            os.setxattr(path, name, b"y")
            return True
        except OSError as e:
            if e.errno not in (errno.ENOTSUP, errno.EPERM, errno.EOPNOTSUPP):
                raise
    return False


@pytest.fixture
def upper(tmp_path):
    """What overlayfs leaves after: echo > /app/new.txt; rm /etc/passwd; chmod 755 busybox; rm -rf /usr/bin/*; mkdir /usr/bin"""
    u = tmp_path / "upper"
    (u / "app").mkdir(parents=True)
    (u / "app" / "new.txt").write_bytes(b"hello\n")
    (u / "etc").mkdir()
    try:
        os.mknod(u / "etc" / "passwd", stat.S_IFCHR | 0o600, os.makedev(0, 0))
    except PermissionError:
        pytest.skip("mknod not permitted here")
    (u / "usr" / "lib" / "libfoo").mkdir(parents=True)
    lib = u / "usr" / "lib" / "libfoo" / "libfoo.so.1"
    lib.write_bytes(b"l" * 40000)
    os.chmod(lib, 0o755)  # chmod of an image file: overlayfs copied all 40000 bytes up
    (u / "usr" / "bin").mkdir()
    opaque = _set_opaque(u / "usr" / "bin")
    if not opaque:
        pytest.skip("no overlay xattrs on this filesystem")
    return u


def test_overlay_docker_diff_and_copy_up(upper):
    res = run("overlay", SAMPLE, "--rw", str(upper), "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["schema"] == "layerscope.overlay/2"
    diff = {d["path"]: d["kind"] for d in doc["diff"]}
    assert diff["/app/new.txt"] == "A"
    assert diff["/etc/passwd"] == "D"
    assert diff["/app"] == "C" and diff["/etc"] == "C"  # existed in the image: C, never A
    assert diff["/usr/lib/libfoo/libfoo.so.1"] == "C"
    assert diff["/usr/bin"] == "C"  # opaque: the dir changed, its image children deleted
    assert {p for p, k in diff.items() if p.startswith("/usr/bin/")} == {"/usr/bin/busybox", "/usr/bin/ls", "/usr/bin/sh"}
    assert all(diff[p] == "D" for p in ("/usr/bin/busybox", "/usr/bin/ls", "/usr/bin/sh"))
    assert doc["copy_up_bytes"] == 40000
    assert doc["copied_up"] == [{"path": "/usr/lib/libfoo/libfoo.so.1", "size": 40000}]
    kinds = {c["path"]: c["change"] for c in doc["changes"]}
    assert kinds["/usr/lib/libfoo/libfoo.so.1"] == "metadata" and kinds["/app/new.txt"] == "added"


def test_renamed_directory_redirect_dir(tmp_path):
    """`mv /usr/lib /usr/lib2` under redirect_dir=on: the upper dir names its old path; the
    merged view and docker diff show the image's files under the new name, and no copy-up."""
    u = tmp_path / "upper"
    (u / "usr" / "lib2").mkdir(parents=True)
    try:
        os.mknod(u / "usr" / "lib", stat.S_IFCHR | 0o600, os.makedev(0, 0))
        os.setxattr(u / "usr" / "lib2", "trusted.overlay.redirect", b"lib")
    except (PermissionError, OSError):
        pytest.skip("mknod / trusted xattrs not permitted here")
    ls = json.loads(run("ls", SAMPLE, "/usr", "-R", "--rw", str(u), "--json").stdout)
    paths = {e["path"]: e for e in ls["entries"]}
    assert "/usr/lib" not in paths and paths["/usr/lib2/libfoo/libfoo.so.1"]["size"] == 40000
    doc = json.loads(run("overlay", SAMPLE, "--rw", str(u), "--json").stdout)
    diff = {d["path"]: d["kind"] for d in doc["diff"]}
    assert diff == {"/usr": "C", "/usr/lib": "D", "/usr/lib2": "A", "/usr/lib2/libfoo": "A",
                    "/usr/lib2/libfoo/libfoo.so.1": "A"}
    assert doc["copy_up_bytes"] == 0
    deleted = {c["path"]: c for c in doc["changes"] if c["change"] == "deleted"}
    assert deleted["/usr/lib"]["removed_bytes"] == 0  # the bytes are still in view, under usr/lib2


def test_ls_rw_shows_the_container_view(upper):
    res = run("ls", SAMPLE, "-R", "--rw", str(upper), "--json")
    assert res.returncode == 0, res.stderr
    entries = {e["path"]: e for e in json.loads(res.stdout)["entries"]}
    assert "/etc/passwd" not in entries and "/usr/bin/busybox" not in entries
    assert entries["/app/new.txt"]["layer"] == "rw" and entries["/app/new.txt"]["size"] == 6
    assert entries["/usr/lib/libfoo/libfoo.so.1"]["mode"] == 0o755
    assert entries["/usr/lib/libfoo/libfoo.so.1"]["layer"] == "rw"
    assert entries["/etc/os-release"]["layer"] == 0


@pytest.mark.usefixtures("tar_backend")  # both tar readers (conftest)
def test_oci_form_tar_gives_the_same_diff(tmp_path, upper):
    """The same changes as a layer tar (docker commit form: .wh. markers)."""
    buf = tmp_path / "rw.tar"
    with tarfile.open(buf, "w") as tf:
        def add(name, data=None, mode=0o644, kind=tarfile.REGTYPE):
            ti = tarfile.TarInfo(name)
            ti.type, ti.mode = kind, mode
            if data is not None:
                ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data) if data is not None else None)
        add("app", kind=tarfile.DIRTYPE, mode=0o755)
        add("app/new.txt", b"hello\n")
        add("etc", kind=tarfile.DIRTYPE, mode=0o755)
        add("etc/.wh.passwd", b"")
        add("usr", kind=tarfile.DIRTYPE, mode=0o755)
        add("usr/lib", kind=tarfile.DIRTYPE, mode=0o755)
        add("usr/lib/libfoo", kind=tarfile.DIRTYPE, mode=0o755)
        add("usr/lib/libfoo/libfoo.so.1", b"l" * 40000, mode=0o755)
        add("usr/bin", kind=tarfile.DIRTYPE, mode=0o755)
        add("usr/bin/.wh..wh..opq", b"")
    from_tar = json.loads(run("overlay", SAMPLE, "--rw", str(buf), "--json").stdout)
    from_dir = json.loads(run("overlay", SAMPLE, "--rw", str(upper), "--json").stdout)
    assert from_tar["diff"] == from_dir["diff"]
    assert from_tar["copy_up_bytes"] == from_dir["copy_up_bytes"] == 40000


def test_bad_rw_path_is_one_line_exit_2(tmp_path):
    for bad in (tmp_path / "missing", tmp_path):
        if bad == tmp_path:
            bad = tmp_path / "junk.tar"
            bad.write_bytes(b"\x00garbage" * 100)
        res = run("overlay", SAMPLE, "--rw", str(bad))
        assert res.returncode == 2 and "Traceback" not in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1 and str(bad) in res.stderr
    res = run("ls", SAMPLE, "--rw", str(tmp_path), "--layer", "0")
    assert res.returncode == 2 and "cannot be combined" in res.stderr
