"""A container's read/write layer: overlayfs upper dirs and layer tars, as OCI-form Entries.

Upper dirs are built by hand in a temporary directory (whiteout devices with
mknod, xattr whiteouts and opaque dirs with setxattr) and, when the sandbox
allows it, produced by a real overlayfs mount. Needs root for mknod, chown and
trusted.* xattrs; each case skips on its own when the system refuses.
"""

from __future__ import annotations

import errno
import gzip
import io
import os
import random
import shutil
import socket
import stat
import subprocess
import tarfile
import tempfile

import pytest
import xxhash
import zstandard

from layerscope.errors import BadInputError
from layerscope.layer import upperdir as rw
from layerscope.layer.upperdir import read_rw_layer, read_upper_dir, read_upper_tar
from layerscope.layer.entry import Entry
from layerscope.record import fields

EMPTY = xxhash.xxh3_128_digest(b"")
# Everything but what legitimately differs between the directory and tar forms.
_SKIP = {"mtime", "header_offset", "data_offset", "raw_name", "uname", "gname"}
_FIELDS = [f for f in fields(Entry) if f not in _SKIP]


def proj(e: Entry) -> tuple:
    return tuple(getattr(e, n) for n in _FIELDS)


def by_path(entries):
    out = {e.path: e for e in entries}
    assert len(out) == len(entries), "duplicate paths"
    return out


def digest(b: bytes) -> bytes:
    return xxhash.xxh3_128_digest(b)


def mknod_or_skip(path, mode, dev):
    try:
        os.mknod(path, mode, dev)
    except PermissionError:
        pytest.skip("mknod not permitted (not root?)")


def _try_setxattr(path, name, value) -> bool:
    try:
        os.setxattr(path, name, value, follow_symlinks=False)
        return True
    except OSError as e:
        if e.errno in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM):
            return False
        raise


def _xattr_caps(base: str) -> tuple[bool, bool]:
    """(trusted.overlay.* settable, user.* settable) on regular files under base."""
    probe = os.path.join(base, ".probe")
    open(probe, "w").close()
    try:
        return _try_setxattr(probe, "trusted.overlay.opaque", b"y"), _try_setxattr(probe, "user.probe", b"1")
    finally:
        os.unlink(probe)


@pytest.fixture
def xbase(tmp_path):
    """(directory, overlay xattr namespace, user xattrs ok) on a filesystem with xattrs.

    tmp_path first; then /var/tmp and /work (tmpfs has user xattrs only on
    newer kernels). Skips when no candidate supports overlay xattrs at all.
    """
    made = []
    try:
        for cand in (str(tmp_path), "/var/tmp", "/work"):
            if cand != str(tmp_path):
                if not os.path.isdir(cand):
                    continue
                try:
                    cand = tempfile.mkdtemp(prefix="layerscope-rw-", dir=cand)
                except OSError:
                    continue
                made.append(cand)
            trusted, user = _xattr_caps(cand)
            if trusted:
                yield os.path.join(cand), "trusted", user
                return
            if user:
                yield cand, "user", user
                return
        pytest.skip("no filesystem here supports trusted.* or user.* xattrs")
    finally:
        for d in made:
            shutil.rmtree(d, ignore_errors=True)


def snapshot(top: str) -> dict:
    """Everything a read could change: listing, metadata, xattrs, access times.

    Directories are listed with O_NOATIME so that taking a snapshot does not
    itself move access times. A symlink's atime is left out: the kernel
    records every readlink and no flag avoids it.
    """
    out = {}

    def visit(p: str) -> None:
        st = os.lstat(p)
        try:
            xs = {k: os.getxattr(p, k, follow_symlinks=False) for k in os.listxattr(p, follow_symlinks=False)}
        except OSError:
            xs = None
        atime = None if stat.S_ISLNK(st.st_mode) else st.st_atime_ns
        out[p] = (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, atime, st.st_nlink, xs)
        if stat.S_ISDIR(st.st_mode):
            fd = os.open(p, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_NOATIME)
            try:
                names = sorted(os.listdir(fd))
            finally:
                os.close(fd)
            for n in names:
                visit(os.path.join(p, n))

    visit(top)
    return out


# --------------------------------------------------------------------------
# plain upper dirs: regular files, dirs, links, devices
# --------------------------------------------------------------------------


def test_regular_tree(tmp_path):
    u = tmp_path / "upper"
    (u / "etc" / "sub").mkdir(parents=True)
    big = random.Random(7).randbytes(3 * (1 << 20) + 5)
    (u / "etc" / "big").write_bytes(big)
    (u / "etc" / "empty").write_bytes(b"")
    (u / "etc" / "sub" / "deep").write_bytes(b"deep\n")
    (u / "bin").mkdir()
    (u / "bin" / "su").write_bytes(b"#!/bin/sh\n")
    os.chmod(u / "bin" / "su", 0o4755)
    (u / "tmp").mkdir()
    os.chmod(u / "tmp", 0o1777)
    os.chown(u / "etc" / "sub" / "deep", 1234, 5678)
    os.symlink("sub/deep", u / "etc" / "rel")
    os.symlink("/etc", u / "hostetc")  # a dir symlink out of the upper dir: never followed
    os.symlink("/nonexistent/dangling", u / "dangling")
    os.link(u / "etc" / "sub" / "deep", u / "bin" / "deep-link")  # "bin/..." sorts first
    os.link(u / "etc" / "sub" / "deep", u / "etc" / "zz-link")
    raw = os.path.join(os.fsencode(u), b"caf\xe9")  # not UTF-8
    with open(raw, "wb") as f:
        f.write(b"x")

    entries = read_upper_dir(str(u))
    paths = [e.path for e in entries]
    assert paths == [
        "bin", "bin/deep-link", "bin/su", "caf\udce9", "dangling",
        "etc", "etc/big", "etc/empty", "etc/rel", "etc/sub", "etc/sub/deep", "etc/zz-link",
        "hostetc", "tmp",
    ]
    e = by_path(entries)
    assert not any(p.startswith("hostetc/") for p in paths)
    # the first name of an inode carries the content; later names are hardlinks to it
    first = e["bin/deep-link"]
    assert (first.kind, first.size, first.digest, first.uid, first.gid) == ("file", 5, digest(b"deep\n"), 1234, 5678)
    for later in ("etc/sub/deep", "etc/zz-link"):
        assert (e[later].kind, e[later].link, e[later].size, e[later].digest) == ("hardlink", "bin/deep-link", 0, None)
        assert (e[later].uid, e[later].gid) == (1234, 5678)
    assert (e["etc/big"].size, e["etc/big"].digest, e["etc/big"].data_size) == (len(big), digest(big), len(big))
    assert (e["etc/empty"].size, e["etc/empty"].digest) == (0, EMPTY)
    assert e["bin/su"].mode == 0o4755 and e["tmp"].mode == 0o1777 and e["tmp"].kind == "dir"
    assert (e["etc/rel"].kind, e["etc/rel"].link) == ("symlink", "sub/deep")
    assert (e["hostetc"].kind, e["hostetc"].link) == ("symlink", "/etc")
    assert e["dangling"].link == "/nonexistent/dangling"
    assert e["caf\udce9"].digest == digest(b"x")
    assert all(x.defects == () and x.xattrs == {} for x in entries)
    # dir form == what read_rw_layer picks for a directory; deterministic
    assert [proj(x) for x in read_rw_layer(u)] == [proj(x) for x in entries]


def test_special_files_and_sockets(tmp_path, monkeypatch):
    u = tmp_path / "u"
    u.mkdir()
    mknod_or_skip(u / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.mknod(u / "loop0", stat.S_IFBLK | 0o660, os.makedev(7, 0))
    os.chmod(u / "null", 0o666)  # mknod's mode goes through the umask
    os.mkfifo(u / "pipe", 0o644)
    monkeypatch.chdir(u)  # AF_UNIX paths are limited to ~108 bytes
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind("sock")
        entries = read_upper_dir(str(u))
    finally:
        s.close()
    assert "sock" in os.listdir(u)
    e = by_path(entries)
    assert set(e) == {"null", "loop0", "pipe"}  # the socket is skipped: a tar cannot hold one
    assert (e["null"].kind, e["null"].devmajor, e["null"].devminor, e["null"].mode) == ("char", 1, 3, 0o666)
    assert (e["loop0"].kind, e["loop0"].devmajor, e["loop0"].devminor) == ("block", 7, 0)
    assert (e["pipe"].kind, e["pipe"].mode, e["pipe"].digest) == ("fifo", 0o644, None)


def test_reads_in_bounded_slices_and_never_writes(tmp_path, monkeypatch):
    u = tmp_path / "u"
    (u / "d").mkdir(parents=True)
    data = os.urandom(5 * (1 << 20) + 17)
    (u / "d" / "f").write_bytes(data)
    os.symlink("f", u / "d" / "l")
    past = 1_000_000_000
    for p in (u / "d" / "f", u / "d", u):
        os.utime(p, (past, past + 10))  # atime < mtime: a relatime read would bump it
    before = snapshot(str(u))
    sizes = []
    real_readv = os.readv

    def readv(fd, bufs):
        sizes.append(sum(len(b) for b in bufs))
        return real_readv(fd, bufs)

    monkeypatch.setattr(rw.os, "readv", readv)
    e = by_path(read_upper_dir(str(u)))
    monkeypatch.undo()
    assert e["d/f"].digest == digest(data)
    assert sizes and max(sizes) <= rw.READ_SIZE == 1 << 20 and len(sizes) >= 6
    assert snapshot(str(u)) == before  # O_NOATIME: not even the access time moved


def test_file_changing_while_read(tmp_path, monkeypatch):
    u = tmp_path / "u"
    u.mkdir()
    (u / "log").write_bytes(b"line\n" * 1000)
    real_hash = rw._Walk.hash

    def hash_while_appending(self, fd, rel):
        with open(u / rel, "ab") as f:  # the container writes while we read
            f.write(b"more\n")
        return real_hash(self, fd, rel)

    monkeypatch.setattr(rw._Walk, "hash", hash_while_appending)
    (e,) = read_upper_dir(str(u))
    assert e.defects == ("changed-while-read",)
    assert e.size == e.data_size == 5005  # size = what was hashed
    assert e.digest == digest(b"line\n" * 1000 + b"more\n")


def test_directory_swapped_for_symlink_is_not_followed(tmp_path):
    u = tmp_path / "u"
    u.mkdir()
    os.symlink("/etc", u / "d")
    fd = os.open(u, os.O_RDONLY | os.O_DIRECTORY)
    try:
        # as if lstat had seen a directory and a symlink was planted before the open
        with pytest.raises(BadInputError, match=r"u/d: cannot open directory"):
            rw._Walk(str(u)).directory(fd, "", "d", "d")
    finally:
        os.close(fd)


# --------------------------------------------------------------------------
# overlay markers: whiteouts, opaque dirs, overlay xattrs, metacopy, redirect
# --------------------------------------------------------------------------


def test_device_whiteouts(tmp_path):
    u = tmp_path / "u"
    (u / "d").mkdir(parents=True)
    mknod_or_skip(u / "gone", stat.S_IFCHR | 0o000, os.makedev(0, 0))
    os.mknod(u / "d" / "x", stat.S_IFCHR | 0o000, os.makedev(0, 0))
    os.link(u / "d" / "x", u / "d" / "y")  # overlay shares one whiteout inode: not hardlinks
    os.chown(u / "gone", 0, 42)
    entries = read_upper_dir(str(u))
    assert [e.path for e in entries] == ["d", "d/.wh.x", "d/.wh.y", ".wh.gone"]
    for e in entries[1:]:
        assert (e.kind, e.size, e.mode, e.digest, e.link, e.xattrs) == ("file", 0, 0o600, EMPTY, None, {})
    assert entries[3].gid == 42


def test_xattr_whiteouts_and_opaque_x(xbase):
    base, ns, _ = xbase
    u = os.path.join(base, "u")
    os.makedirs(os.path.join(u, "d"))
    assert _try_setxattr(os.path.join(u, "d"), f"{ns}.overlay.opaque", b"x")  # "holds xattr whiteouts"
    wo = os.path.join(u, "d", "gone")
    open(wo, "w").close()
    os.setxattr(wo, f"{ns}.overlay.whiteout", b"y")
    notwo = os.path.join(u, "d", "kept")  # not empty: the kernel does not treat it as a whiteout
    with open(notwo, "wb") as f:
        f.write(b"data")
    os.setxattr(notwo, f"{ns}.overlay.whiteout", b"y")
    e = by_path(read_upper_dir(u))
    assert set(e) == {"d", "d/.wh.gone", "d/kept"}  # "x" is not opaque: no marker
    assert (e["d/.wh.gone"].kind, e["d/.wh.gone"].size, e["d/.wh.gone"].xattrs) == ("file", 0, {})
    assert (e["d/kept"].digest, e["d/kept"].xattrs) == (digest(b"data"), {})
    assert e["d"].xattrs == {}


@pytest.mark.parametrize("which", ["trusted.overlay.opaque", "user.overlay.opaque", "user.fuseoverlayfs.opaque"])
def test_opaque_dir(xbase, which):
    base, ns, user_ok = xbase
    if which.startswith("trusted.") and ns != "trusted":
        pytest.skip("trusted.* xattrs not settable here")
    if which.startswith("user.") and not user_ok:
        pytest.skip("user.* xattrs not supported here")
    u = os.path.join(base, "u")
    os.makedirs(os.path.join(u, "a", "opq", "inner"))
    os.chmod(os.path.join(u, "a", "opq"), 0o2750)
    os.chown(os.path.join(u, "a", "opq"), 7, 8)
    with open(os.path.join(u, "a", "opq", "new"), "wb") as f:
        f.write(b"new")
    os.setxattr(os.path.join(u, "a", "opq"), which, b"y")
    entries = read_upper_dir(u)
    assert [e.path for e in entries] == ["a", "a/opq", "a/opq/.wh..wh..opq", "a/opq/inner", "a/opq/new"]
    d, m = entries[1], entries[2]
    assert (d.kind, d.xattrs, d.mode) == ("dir", {}, 0o2750)
    assert (m.kind, m.size, m.digest, m.mode, m.uid, m.gid) == ("file", 0, EMPTY, 0o750, 7, 8)


def test_opaque_literal_marker_not_doubled(xbase):
    base, ns, _ = xbase
    u = os.path.join(base, "u")
    os.makedirs(os.path.join(u, "d"))
    open(os.path.join(u, "d", ".wh..wh..opq"), "w").close()  # fuse-overlayfs writes both
    open(os.path.join(u, "d", ".wh.literal"), "w").close()
    os.setxattr(os.path.join(u, "d"), f"{ns}.overlay.opaque", b"y")
    assert [e.path for e in read_upper_dir(u)] == ["d", "d/.wh..wh..opq", "d/.wh.literal"]


def test_file_xattrs_reported_overlay_xattrs_not(xbase):
    base, ns, user_ok = xbase
    u = os.path.join(base, "u")
    os.makedirs(os.path.join(u, "d"))
    f = os.path.join(u, "d", "f")
    with open(f, "wb") as fh:
        fh.write(b"hello")
    mine = "user.mime_type" if user_ok else "trusted.mine"
    os.setxattr(f, mine, b"text/plain\x00\xff")
    for name in (f"{ns}.overlay.origin", f"{ns}.overlay.impure", f"{ns}.overlay.nlink", f"{ns}.overlay.overlay.x"):
        os.setxattr(f, name, b"\x00\xfb")
    if user_ok:
        os.setxattr(f, "user.fuseoverlayfs.origin", b"1")
    os.setxattr(os.path.join(u, "d"), f"{ns}.overlay.impure", b"y")
    e = by_path(read_upper_dir(u))
    assert e["d/f"].xattrs == {mine: b"text/plain\x00\xff"}
    assert (e["d/f"].defects, e["d"].xattrs, e["d"].defects) == ((), {}, ())


def test_metacopy_and_redirect(xbase):
    base, ns, _ = xbase
    u = os.path.join(base, "u")
    os.makedirs(os.path.join(u, "renamed", "x"))
    f = os.path.join(u, "meta")
    with open(f, "wb") as fh:
        fh.truncate(70000)  # sparse: a metacopy upper file has the size but no data
    os.setxattr(f, f"{ns}.overlay.metacopy", b"")
    os.setxattr(os.path.join(u, "renamed"), f"{ns}.overlay.redirect", b"old")
    os.makedirs(os.path.join(u, "sub"))
    moved = os.path.join(u, "sub", "moved")
    with open(moved, "wb") as fh:
        fh.truncate(5)
    os.setxattr(moved, f"{ns}.overlay.metacopy", b"")
    os.setxattr(moved, f"{ns}.overlay.redirect", b"/elsewhere/orig")
    e = by_path(read_upper_dir(u))
    m = e["meta"]
    assert (m.kind, m.size, m.digest, m.data_size, m.defects, m.xattrs, m.link) == \
        ("file", 70000, None, 0, ("metacopy",), {}, None)
    # a renamed directory / metacopy file names where its lower content is: relative (same
    # directory, upper coordinates) or absolute ("/" + a lower path)
    assert (e["renamed"].link, e["renamed"].defects, e["renamed"].xattrs) == ("old", (), {})
    assert (e["sub/moved"].link, e["sub/moved"].defects) == ("/elsewhere/orig", ("metacopy",))
    assert e["renamed/x"].defects == ()


# --------------------------------------------------------------------------
# tar form: the same layer as a tar gives the same Entries
# --------------------------------------------------------------------------

BIG = random.Random(3).randbytes(2 * (1 << 20) + 3)

# In the order read_upper_dir emits: DFS, names sorted, a whiteout at the
# position of the name it deletes, an opaque marker right after its dir.
SPEC = [
    ("dir", "etc", 0o755, {}, False),
    ("file", "etc/conf", 0o640, b"conf\n", {"user.note": b"hello"}, (0, 0)),
    ("hardlink", "etc/conf2", "etc/conf", 0o640, {"user.note": b"hello"}),
    ("whiteout", "etc/old"),
    ("symlink", "etc/ptr", "conf"),
    ("dir", "opq", 0o750, {}, True),
    ("file", "opq/keep", 0o644, b"", {}, (1000, 1001)),
    ("file", "top", 0o4755, BIG, {}, (0, 0)),
    ("dir", "var", 0o755, {"user.dir": b"d"}, False),
    ("xwhiteout", "var/gone"),
    ("fifo", "var/pipe", 0o600),
    ("whiteout", "zz"),
]


def build_dir(u: str, ns: str, user_ok: bool):
    os.makedirs(u)
    for item in SPEC:
        kind, path = item[0], os.path.join(u, item[1])
        if kind == "dir":
            _, _, mode, xs, opaque = item
            os.mkdir(path)
            os.chmod(path, mode)
            for k, v in xs.items():
                os.setxattr(path, k, v)
            if opaque:
                os.setxattr(path, f"{ns}.overlay.opaque", b"y")
            os.setxattr(path, f"{ns}.overlay.origin", b"\x00junk")
        elif kind == "file":
            _, _, mode, data, xs, (uid, gid) = item
            with open(path, "wb") as f:
                f.write(data)
            os.chown(path, uid, gid)  # before chmod: chown clears setuid
            os.chmod(path, mode)
            for k, v in xs.items():
                os.setxattr(path, k, v)
        elif kind == "hardlink":
            os.link(os.path.join(u, item[2]), path)
        elif kind == "symlink":
            os.symlink(item[2], path)
        elif kind == "whiteout":
            mknod_or_skip(path, stat.S_IFCHR, os.makedev(0, 0))
        elif kind == "xwhiteout":
            open(path, "w").close()
            os.setxattr(path, f"{ns}.overlay.whiteout", b"y")
        elif kind == "fifo":
            os.mkfifo(path, item[2])
            os.chmod(path, item[2])


def build_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        def add(name, typ, mode=0o644, data=b"", xs=None, link="", ids=(0, 0)):
            ti = tarfile.TarInfo(name)
            ti.type, ti.mode, ti.mtime, ti.linkname = typ, mode, 1_700_000_000, link
            ti.uid, ti.gid = ids
            ti.size = len(data) if typ == tarfile.REGTYPE else 0
            if xs:
                ti.pax_headers = {f"SCHILY.xattr.{k}": v.decode() for k, v in xs.items()}
            tf.addfile(ti, io.BytesIO(data) if typ == tarfile.REGTYPE else None)

        for item in SPEC:
            kind, path = item[0], item[1]
            if kind == "dir":
                add(path + "/", tarfile.DIRTYPE, item[2], xs=item[3])
                if item[4]:
                    add(path + "/.wh..wh..opq", tarfile.REGTYPE, item[2] & 0o777)
            elif kind == "file":
                add(path, tarfile.REGTYPE, item[2], item[3], item[4], ids=item[5])
            elif kind == "hardlink":
                add(path, tarfile.LNKTYPE, item[3], xs=item[4], link=item[2])
            elif kind == "symlink":
                add(path, tarfile.SYMTYPE, 0o777, link=item[2])
            elif kind in ("whiteout", "xwhiteout"):
                d, n = os.path.split(path)
                add(os.path.join(d, ".wh." + n), tarfile.REGTYPE, 0o600)
            elif kind == "fifo":
                add(path, tarfile.FIFOTYPE, item[2])
    return buf.getvalue()


@pytest.mark.usefixtures("tar_backend")  # both tar readers (conftest)
@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_tar_form_equals_dir_form(xbase, tmp_path, compression):
    base, ns, user_ok = xbase
    if not user_ok:
        pytest.skip("user.* xattrs not supported here")
    u = os.path.join(base, "upper")
    build_dir(u, ns, user_ok)
    from_dir = read_upper_dir(u)

    raw = build_tar()
    data = {"none": raw, "gzip": gzip.compress(raw), "zstd": zstandard.ZstdCompressor().compress(raw)}[compression]
    t = tmp_path / f"layer.tar.{compression}"
    t.write_bytes(data)
    from_tar = read_upper_tar(str(t))

    assert [e.path for e in from_dir] == [
        "etc", "etc/conf", "etc/conf2", "etc/.wh.old", "etc/ptr", "opq", "opq/.wh..wh..opq", "opq/keep",
        "top", "var", "var/.wh.gone", "var/pipe", ".wh.zz",
    ]
    assert [proj(e) for e in from_tar] == [proj(e) for e in from_dir]
    assert [proj(e) for e in read_rw_layer(t)] == [proj(e) for e in from_tar]
    e = by_path(from_dir)
    assert e["top"].digest == digest(BIG) and e["etc/conf"].xattrs == {"user.note": b"hello"}
    assert e["var"].xattrs == {"user.dir": b"d"} and e["opq"].xattrs == {}


# --------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------


def test_bad_paths(tmp_path):
    missing = tmp_path / "missing"
    with pytest.raises(BadInputError, match=r"missing: no such file or directory"):
        read_rw_layer(missing)
    with pytest.raises(BadInputError, match=r"missing: no such file or directory"):
        read_upper_dir(str(missing))
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(BadInputError, match=r"fifo: not a directory or a regular file"):
        read_rw_layer(tmp_path / "fifo")
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(BadInputError, match=r"empty: empty file"):
        read_rw_layer(tmp_path / "empty")
    (tmp_path / "junk").write_bytes(b"this is not a tar\n" * 100)
    with pytest.raises(BadInputError, match=r"junk: not a tar archive"):
        read_rw_layer(tmp_path / "junk")
    (tmp_path / "trunc.gz").write_bytes(gzip.compress(build_tar())[:-100])
    with pytest.raises(BadInputError, match=r"trunc\.gz: (truncated|corrupt)"):
        read_rw_layer(tmp_path / "trunc.gz")
    with pytest.raises(BadInputError, match=r"not a directory"):
        read_upper_dir(str(tmp_path / "junk"))
    for name in ("missing", "fifo", "empty", "junk", "trunc.gz"):
        try:
            read_rw_layer(tmp_path / name)
        except BadInputError as e:
            assert "\n" not in str(e) and str(tmp_path / name) in str(e)


def test_unreadable_file_names_it(tmp_path, monkeypatch):
    u = tmp_path / "u"
    (u / "d").mkdir(parents=True)
    (u / "d" / "secret").write_bytes(b"s")
    real_open = os.open

    def fake_open(path, flags, *a, **kw):
        if path == "secret":
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_open(path, flags, *a, **kw)

    monkeypatch.setattr(rw.os, "open", fake_open)
    with pytest.raises(BadInputError, match=r"u/d/secret: cannot open: Permission denied$"):
        read_rw_layer(u)


# --------------------------------------------------------------------------
# a real overlayfs mount
# --------------------------------------------------------------------------


def _mount_overlay(tmp_path, options: str = ""):
    if shutil.which("mount") is None or shutil.which("umount") is None:
        pytest.skip("no mount/umount binaries")
    low, up, work, merged = (tmp_path / n for n in ("lower", "upper", "work", "merged"))
    for d in (up, work, merged):
        d.mkdir()
    opts = f"lowerdir={low},upperdir={up},workdir={work}" + (f",{options}" if options else "")
    r = subprocess.run(["mount", "-t", "overlay", "overlay", "-o", opts, str(merged)], capture_output=True, text=True,
                       check=False)
    if r.returncode != 0:
        pytest.skip(f"overlay mount ({options or 'defaults'}) refused here: {r.stderr.strip()}")
    return merged, up


def _umount(merged):
    if subprocess.run(["umount", str(merged)], capture_output=True, check=False).returncode != 0:
        subprocess.run(["umount", "-l", str(merged)], capture_output=True, check=False)


@pytest.mark.parametrize("options", ["", "userxattr"])
def test_real_overlay_mount(tmp_path, options):
    low = tmp_path / "lower"
    (low / "d" / "sub").mkdir(parents=True)
    for name, data in {"a": b"a", "b": b"b", "keep": b"keep", "c": b"lower c\n", "d/x": b"x", "d/sub/z": b"z"}.items():
        (low / name).write_bytes(data)
    os.chmod(low / "c", 0o644)
    merged, up = _mount_overlay(tmp_path, options)
    try:
        os.unlink(merged / "a")  # delete lower files: whiteouts (sharing one inode)
        os.unlink(merged / "b")
        shutil.rmtree(merged / "d")  # rm -rf a lower dir, then recreate it: opaque
        (merged / "d").mkdir()
        (merged / "d" / "new").write_bytes(b"new\n")
        os.chmod(merged / "c", 0o600)  # metadata change: full copy-up
        (merged / "n").write_bytes(b"added\n")
    finally:
        _umount(merged)
    ns = "user" if options == "userxattr" else "trusted"
    assert os.getxattr(up / "d", f"{ns}.overlay.opaque") == b"y"  # the kernel's own marker, as expected
    before = snapshot(str(up))
    e = by_path(read_upper_dir(str(up)))
    assert snapshot(str(up)) == before
    assert set(e) == {".wh.a", ".wh.b", "c", "d", "d/.wh..wh..opq", "d/new", "n"}
    for w in (".wh.a", ".wh.b"):
        assert (e[w].kind, e[w].size, e[w].link) == ("file", 0, None)
    assert (e["c"].kind, e["c"].mode, e["c"].digest, e["c"].xattrs) == ("file", 0o600, digest(b"lower c\n"), {})
    assert e["d"].xattrs == {} and e["d/new"].digest == digest(b"new\n") and e["n"].digest == digest(b"added\n")
    assert not any(x.defects for x in e.values())
    assert not any(x.kind == "hardlink" for x in e.values())


def test_real_overlay_metacopy_and_redirect(tmp_path):
    low = tmp_path / "lower"
    (low / "m").mkdir(parents=True)
    (low / "olddir").mkdir()
    (low / "olddir" / "f").write_bytes(b"f")
    big = os.urandom(100_000)
    (low / "m" / "big").write_bytes(big)
    merged, up = _mount_overlay(tmp_path, "metacopy=on,redirect_dir=on")
    try:
        os.chmod(merged / "m" / "big", 0o600)  # metadata-only copy-up
        os.rename(merged / "olddir", merged / "newdir")  # a renamed lower dir: redirect
    finally:
        _umount(merged)
    e = by_path(read_upper_dir(str(up)))
    if e.get("m/big") is None or "metacopy" not in e["m/big"].defects:
        pytest.skip("the kernel did not make a metacopy copy-up")
    assert set(e) == {"m", "m/big", ".wh.olddir", "newdir"}
    b = e["m/big"]
    assert (b.size, b.digest, b.mode, b.xattrs, b.defects) == (100_000, None, 0o600, {}, ("metacopy",))
    assert (e["newdir"].kind, e["newdir"].link, e["newdir"].defects, e["newdir"].xattrs) == ("dir", "olddir", (), {})
