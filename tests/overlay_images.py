"""Images for the merged-filesystem interop tests (``test_interop_overlay.py``).

Two OCI layouts, both made with umoci:

* **ops** -- every layer made by ``umoci repack`` from a rootfs changed in
  between (``umoci unpack`` of the previous tag, as root so owners, devices
  and setuid bits survive): files of many sizes (empty included), content
  edits, chmod / chown (copy-up), deleted files and trees, file <-> dir
  swaps, relative / absolute / dangling symlinks, hardlinks, paths longer
  than 100 and 255 characters, setuid / setgid / sticky, a fifo, char and
  block devices, ``user.*`` xattrs, non-ASCII names.  One tag per layer
  count (``ops1`` .. ``ops3``) so each ``--layer N`` has an umoci oracle;
  a ``umoci config`` step between layers 1 and 2 adds an ``empty_layer``
  history entry (layer indexes must count layers, not history entries).
* **edge** -- ``edge-base`` (one ``umoci repack`` layer) plus, per case, one
  hand-made layer written with :mod:`tarfile` and added with ``umoci raw
  add-layer`` (tag ``e-<case>``): opaque markers before / after the new
  entries, whiteout and re-creation of a path in one layer, whiteouts of
  paths that never existed, hardlinks to lower-layer files, writes through
  lower-layer symlinked directories, implied parent directories, a
  directory with children replaced by a file / a symlink, ...

Each builder also records what it did (:class:`Change`) so the ``changes``
command can be checked against a list known by construction, and the
readers here (:func:`walk_rootfs`, :func:`layer_paths`, :class:`UnpackCache`)
give the oracle's view without layerscope.  Nothing here imports layerscope.
The session fixtures wrapping the builders are in ``test_interop_overlay.py``
(conftest.py is shared).  Building both layouts takes well under a second.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xxhash

import images as I

AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def umoci(*argv: str | os.PathLike) -> str:
    return I.run_tool("umoci", *argv)


def have_umoci() -> bool:
    return shutil.which("umoci") is not None


#: umoci creates the parents a layer implies without entries with
#: ``MkdirAll(dir, 0777)``, i.e. mode 0777 & ~umask of the unpacking process,
#: owned by the unpacking user.  Unpacking with umask 022 gives 0755 root:root,
#: what Docker and containerd use for implied parents; the tests compare
#: layerscope's implied directories against that.
UNPACK_UMASK = 0o022


def unpack(layout: Path, tag: str, bundle: Path) -> Path:
    """``umoci unpack`` (non-rootless as root: owners, devices, setuid kept),
    with umask 022 (see :data:`UNPACK_UMASK`)."""
    if bundle.exists():
        shutil.rmtree(bundle)
    argv = ["umoci", "unpack", *([] if AS_ROOT else ["--rootless"]), "--image", f"{layout}:{tag}",
            str(bundle)]
    p = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=I.TIMEOUT, umask=UNPACK_UMASK)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({p.returncode}): {p.stderr.strip()}")
    return bundle / "rootfs"


# --------------------------------------------------------------------------
# what the builders record
# --------------------------------------------------------------------------

@dataclass
class Change:
    """One change a layer makes by construction.  ``None`` fields are not
    asserted; ``change`` may be a tuple of acceptable values where the
    contract leaves room (type swaps)."""
    path: str
    change: str | tuple[str, ...]
    type: str | None = None
    size: int | None = None
    removed_bytes: int | None = None


@dataclass
class Case:
    """One hand-made edge layer on top of ``edge-base``."""
    name: str
    tag: str
    doc: str
    entries: list[tuple]                 # as for images.make_tar, or raw TarInfo tuples
    changes: list[Change] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)   # warning codes expected in that layer
    implied_dirs: set[str] = field(default_factory=set)  # dirs the layer implies without an entry
    resolve: dict[str, str] = field(default_factory=dict)  # entry path -> where it lands (symlinked dirs)


@dataclass
class OverlayImage:
    layout: Path
    tags: dict[str, int]                 # tag -> number of layers
    final: str                           # the tag with every layer
    changes: dict[int, list[Change]]     # layer index -> changes by construction (final tag)
    created_by: list[str]
    cases: dict[str, Case] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)

    def arg(self, tag: str) -> str:
        return f"{self.layout}:{tag}"


# --------------------------------------------------------------------------
# independent readers: the unpacked rootfs and the layer tars
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Node:
    type: str
    size: int
    mode: int
    uid: int
    gid: int
    link: str | None
    digest: str | None


def _kind(st: os.stat_result) -> str:
    m = st.st_mode
    if stat.S_ISREG(m):
        return "file"
    if stat.S_ISDIR(m):
        return "dir"
    if stat.S_ISLNK(m):
        return "symlink"
    if stat.S_ISCHR(m):
        return "char"
    if stat.S_ISBLK(m):
        return "block"
    if stat.S_ISFIFO(m):
        return "fifo"
    return "other:" + oct(stat.S_IFMT(m))


def file_digest(path: Path | str) -> str:
    h = xxhash.xxh3_128()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def walk_rootfs(root: Path) -> tuple[dict[str, Node], dict[str, tuple[int, int]]]:
    """Every path under ``root`` (root itself excluded), never following
    symlinks: ``{path: Node}`` and ``{path: (st_dev, st_ino)}`` of non-dirs."""
    nodes: dict[str, Node] = {}
    inodes: dict[str, tuple[int, int]] = {}
    root_s = os.fspath(root)

    def visit(dirpath: str, rel: str) -> None:
        with os.scandir(dirpath) as it:
            names = sorted(e.name for e in it)
        for name in names:
            full = os.path.join(dirpath, name)
            r = f"{rel}/{name}" if rel else name
            st = os.lstat(full)
            k = _kind(st)
            link = os.readlink(full) if k == "symlink" else None
            digest = file_digest(full) if k == "file" else None
            size = st.st_size if k == "file" else 0
            nodes[r] = Node(k, size, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, link, digest)
            if k != "dir":  # hardlinks: files, and (tar allows it) symlinks, devices, fifos
                inodes[r] = (st.st_dev, st.st_ino)
            if k == "dir":
                visit(full, r)

    visit(root_s, "")
    return nodes, inodes


def hardlink_groups(inodes: dict[str, tuple[int, int]]) -> set[frozenset[str]]:
    by: dict[tuple[int, int], set[str]] = {}
    for p, ino in inodes.items():
        by.setdefault(ino, set()).add(p)
    return {frozenset(s) for s in by.values() if len(s) > 1}


def norm(name: str) -> str:
    """A tar member name as a path relative to the root ("" is the root)."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    return "/".join(parts)


def manifest_of(layout: Path, tag: str) -> dict:
    idx = json.loads((layout / "index.json").read_bytes())
    for m in idx["manifests"]:
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
            return json.loads((layout / "blobs/sha256" / I.hexof(m["digest"])).read_bytes())
    raise KeyError(tag)


def layer_tars(layout: Path, tag: str) -> list[bytes]:
    man = manifest_of(layout, tag)
    return [I.decompress((layout / "blobs/sha256" / I.hexof(l["digest"])).read_bytes())
            for l in man["layers"]]


def layer_paths(raw: bytes) -> tuple[set[str], set[str]]:
    """(paths the layer has entries for, paths it whites out / makes opaque)
    -- normalised, whiteout prefixes stripped."""
    entries, wh = set(), set()
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tf:
        for ti in tf:
            p = norm(ti.name)
            d, b = os.path.split(p)
            if b == ".wh..wh..opq":
                wh.add(d)
            elif b.startswith(".wh."):
                wh.add(os.path.join(d, b[4:]))
            elif p:
                entries.add(p)
    return entries, wh


# --------------------------------------------------------------------------
# the ops image: every layer by umoci repack
# --------------------------------------------------------------------------

LONG100 = "long/" + "/".join(["segment-of-thirty-characters-x"] * 3) + "/file-over-100.txt"
LONG255 = "long/" + "/".join([f"{i}-" + "y" * 58 for i in range(5)]) + "/file-over-255.txt"
UNICODE = "etc/ünïcødé name.txt"


def _w(root: Path, rel: str, data: bytes, mode: int | None = None) -> int:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    if mode is not None:
        os.chmod(p, mode)
    return len(data)


def _ops_layer0(r: Path, notes: dict) -> list[Change]:
    ch: list[Change] = []

    def w(rel: str, data: bytes, mode: int | None = None) -> None:
        _w(r, rel, data, mode)
        ch.append(Change(rel, "added", "file", len(data), 0))

    w("etc/keep.txt", b"keep\n")
    w("etc/x", I.text_bytes(1234, 10))
    w("etc/empty", b"")
    w("etc/modify.txt", I.text_bytes(3000, 11))
    w("etc/chmod.txt", I.rand_bytes(500, 12), 0o644)
    w("etc/chown.txt", I.rand_bytes(700, 13))
    w(UNICODE, b"unicode\n")
    w("data/one.bin", b"\x01")
    w("data/rand.bin", I.rand_bytes(300_000, 14))
    w("data/words.txt", I.text_bytes(50_000, 15))
    w("tree/a.txt", I.text_bytes(100, 16))
    w("tree/sub/b.bin", I.rand_bytes(2000, 17))
    w("tree/sub/deeper/c", b"ccc")
    (r / "tree/emptydir").mkdir()
    w("swap/f2d", b"0123456789")
    w("swap/d2f/in1", I.text_bytes(20, 18))
    w("swap/d2f/sub/in2", I.text_bytes(30, 19))
    (r / "lnk").mkdir()
    os.symlink("../etc/keep.txt", r / "lnk/rel")
    os.symlink("/etc/keep.txt", r / "lnk/abs")
    os.symlink("/does/not/exist", r / "lnk/dangling")
    os.symlink("../data", r / "lnk/dir")
    os.symlink("loop", r / "lnk/loop")
    w("hl/a", I.text_bytes(400, 20))
    (r / "hl/other").mkdir()
    os.link(r / "hl/a", r / "hl/b")
    os.link(r / "hl/a", r / "hl/other/c")
    w(LONG100, b"long 100\n")
    w(LONG255, b"long 255\n")
    assert len(LONG100) > 100 and len(LONG255) > 255
    w("bin/suid", b"#!/bin/sh\n", 0o4755)
    w("bin/sgid", b"#!/bin/sh\n", 0o2755)
    (r / "tmp").mkdir()
    os.chmod(r / "tmp", 0o1777)
    (r / "run").mkdir()
    os.mkfifo(r / "run/fifo", 0o600)
    os.chmod(r / "run/fifo", 0o600)
    ch.append(Change("run/fifo", "added", "fifo", 0, 0))
    w("owned/file", b"owned\n", 0o640)
    os.chmod(r / "owned", 0o750)
    if AS_ROOT:
        os.chown(r / "owned", 123, 456)
        os.chown(r / "owned/file", 1000, 1000)
        os.chown(r / "bin/sgid", 0, 50)
        os.chmod(r / "bin/sgid", 0o2755)  # chown clears setgid
    (r / "dev").mkdir()
    try:
        os.mknod(r / "dev/null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        os.chmod(r / "dev/null", 0o666)
        os.mknod(r / "dev/loop0", 0o660 | stat.S_IFBLK, os.makedev(7, 0))
        ch.append(Change("dev/null", "added", "char", 0, 0))
        ch.append(Change("dev/loop0", "added", "block", 0, 0))
        notes["devices"] = True
    except OSError as e:
        notes["devices"] = f"mknod failed: {e}"
    w("etc/xattr.txt", b"with xattr\n")
    try:
        os.setxattr(r / "etc/xattr.txt", "user.comment", b"hello")
        notes["xattrs"] = True
    except OSError as e:
        notes["xattrs"] = f"setxattr failed: {e}"
    return ch


def _ops_layer1(r: Path, notes: dict) -> list[Change]:
    ch: list[Change] = []
    (r / "etc/x").unlink()
    ch.append(Change("etc/x", "deleted", removed_bytes=1234))
    new = I.text_bytes(2500, 21)
    (r / "etc/modify.txt").write_bytes(new)
    ch.append(Change("etc/modify.txt", "modified", "file", 2500))
    os.chmod(r / "etc/chmod.txt", 0o600)
    ch.append(Change("etc/chmod.txt", "metadata", "file", 500))
    if AS_ROOT:
        os.chown(r / "etc/chown.txt", 1234, 5678)
        ch.append(Change("etc/chown.txt", "metadata", "file", 700))
    shutil.rmtree(r / "tree")
    ch.append(Change("tree", "deleted", removed_bytes=100 + 2000 + 3))
    (r / "swap/f2d").unlink()
    _w(r, "swap/f2d/child", b"child")
    ch.append(Change("swap/f2d", ("modified", "added"), "dir"))
    ch.append(Change("swap/f2d/child", "added", "file", 5, 0))
    shutil.rmtree(r / "swap/d2f")
    _w(r, "swap/d2f", b"now a f")
    ch.append(Change("swap/d2f", ("modified", "added"), "file", 7))
    _w(r, "new/empty", b"")
    ch.append(Change("new/empty", "added", "file", 0, 0))
    _w(r, "new/file.bin", I.rand_bytes(4096, 22))
    ch.append(Change("new/file.bin", "added", "file", 4096, 0))
    os.link(r / "data/words.txt", r / "new/words-link")  # a new name for a lower-layer file
    # in place through one name of a 3-name hardlink group
    (r / "hl/a").write_bytes(I.text_bytes(450, 23))
    ch.append(Change("hl/a", "modified", "file", 450))
    os.chmod(r / "owned", 0o700)
    ch.append(Change("owned", "metadata", "dir"))
    return ch


def _ops_layer2(r: Path, notes: dict) -> list[Change]:
    ch: list[Change] = []
    (r / "lnk/rel").unlink()
    os.symlink("../etc/modify.txt", r / "lnk/rel")
    ch.append(Change("lnk/rel", "modified", "symlink"))
    (r / "lnk/dangling").unlink()
    ch.append(Change("lnk/dangling", "deleted", removed_bytes=0))
    (r / "etc/x").mkdir()
    _w(r, "etc/x/inner", b"inner\n")
    ch.append(Change("etc/x", "added", "dir"))
    ch.append(Change("etc/x/inner", "added", "file", 6, 0))
    (r / "hl/b").unlink()                      # one name of the group goes
    ch.append(Change("hl/b", "deleted"))
    os.chmod(r / "bin/suid", 0o755)
    ch.append(Change("bin/suid", "metadata", "file"))
    (r / "etc/modify.txt").write_bytes(b"")
    ch.append(Change("etc/modify.txt", "modified", "file", 0))
    return ch


OPS_CREATED_BY = ["RUN ops base", "RUN ops changes", "RUN ops more"]


def build_ops_image(work: Path) -> OverlayImage:
    L = work / "ops"
    umoci("init", "--layout", L)
    umoci("new", "--image", f"{L}:empty")
    notes: dict[str, Any] = {}
    changes: dict[int, list[Change]] = {}
    steps = [("empty", "ops1", _ops_layer0), ("ops1", "ops2", _ops_layer1), ("ops2c", "ops3", _ops_layer2)]
    for i, (src, dst, fn) in enumerate(steps):
        if src == "ops2c":  # a config-only step: an empty_layer history entry between layers 1 and 2
            umoci("config", "--image", f"{L}:ops2", "--tag", "ops2c", "--config.env", "OPS=1",
                  "--history.created_by", "ENV OPS=1")
        bundle = work / f"bundle-{dst}"
        rootfs = unpack(L, src, bundle)
        changes[i] = fn(rootfs, notes)
        umoci("repack", "--image", f"{L}:{dst}", "--history.created_by", OPS_CREATED_BY[i], bundle)
        shutil.rmtree(bundle)
    return OverlayImage(L, {"ops1": 1, "ops2": 2, "ops2c": 2, "ops3": 3}, "ops3", changes, OPS_CREATED_BY,
                        notes=notes)


# --------------------------------------------------------------------------
# the edge image: hand-made layers on an umoci-made base
# --------------------------------------------------------------------------

def _edge_base(r: Path) -> None:
    _w(r, "d/old1", b"o" * 100)
    _w(r, "d/sub/old2", b"p" * 200)
    _w(r, "d2/old", b"q" * 50)
    _w(r, "d2/sub/old", b"r" * 60)
    _w(r, "w/x", b"x" * 10)
    _w(r, "w/y", b"y" * 20)
    _w(r, "real/old", b"s" * 30)
    os.symlink("real", r / "link")
    os.symlink("/real", r / "alink")
    _w(r, "base/file.txt", I.text_bytes(1000, 30))
    _w(r, "dwc/x", b"t" * 40)
    _w(r, "dwc/sub/y", b"u" * 50)
    _w(r, "dws/child", b"v" * 5)
    _w(r, "fd", b"f" * 15)
    _w(r, "h/orig", b"h" * 80)
    os.link(r / "h/orig", r / "h/link")
    _w(r, "h2/orig", b"i" * 90)
    os.link(r / "h2/orig", r / "h2/link")
    _w(r, "real2/inside", b"w" * 8)
    os.symlink("real2", r / "sd")
    (r / "etc").mkdir()
    os.symlink("../../..", r / "up")          # escapes the root: resolved inside it
    os.symlink("link", r / "link2")           # link2 -> link -> real
    _w(r, "real3/kept", b"k" * 9)
    os.symlink("real3", r / "wl")
    _w(r, "d3/old1", b"z" * 70)
    _w(r, "d4/old", b"Z" * 25)
    os.symlink("d4", r / "olink")


def _raw_tar(entries: list[tuple]) -> bytes:
    """images.make_tar plus ``("ti", TarInfo, data)`` for headers make_tar
    cannot express (owners, modes of hardlinks, odd names)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for e in entries:
            if e[0] == "ti":
                ti, data = e[1], e[2]
                if data is not None:
                    ti.size = len(data)
                    tf.addfile(ti, io.BytesIO(data))
                else:
                    tf.addfile(ti)
            else:
                part = I.make_tar([e])
                with tarfile.open(fileobj=io.BytesIO(part), mode="r:") as src:
                    for ti in src:
                        f = src.extractfile(ti) if ti.isreg() else None
                        tf.addfile(ti, f)
    return buf.getvalue()


def _ti(name: str, kind: bytes, mode: int, *, uid: int = 0, gid: int = 0, link: str = "") -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.uid, ti.gid, ti.linkname, ti.mtime = kind, mode, uid, gid, link, I.MTIME
    return ti


def edge_cases() -> list[Case]:
    C = Case
    return [
        C("opaque-first", "e-opaque-first",
          "opaque marker first, then new entries in the same layer: only the new entries remain",
          [("opaque", "d"), ("file", "d/new", b"N" * 11), ("dir", "d/newsub"),
           ("file", "d/newsub/n2", b"M" * 12)],
          [Change("d", "opaque", removed_bytes=300), Change("d/new", "added", "file", 11, 0),
           Change("d/newsub/n2", "added", "file", 12, 0)]),
        C("opaque-last", "e-opaque-last",
          "new entries first, opaque marker last: the marker hides lower layers only",
          [("file", "d2/new", b"N" * 13), ("dir", "d2/nsub"), ("file", "d2/nsub/f", b"F" * 14),
           ("opaque", "d2")],
          [Change("d2", "opaque", removed_bytes=110), Change("d2/new", "added", "file", 13, 0),
           Change("d2/nsub/f", "added", "file", 14, 0)]),
        C("whiteout-recreate", "e-whiteout-recreate",
          "x re-created then whited out (x survives: whiteouts apply to lower layers); "
          "y whited out then re-created",
          [("file", "w/x", b"new x"), ("whiteout", "w/x"), ("whiteout", "w/y"), ("file", "w/y", b"new y!")]),
        C("noop-whiteout", "e-noop-whiteout",
          "whiteout of a path that never existed, in an existing directory",
          [("whiteout", "etc/never-existed"), ("file", "etc/marker", b"m")],
          [Change("etc/marker", "added", "file", 1, 0)], warnings=["noop-whiteout"]),
        C("noop-whiteout-no-parent", "e-noop-whiteout-no-parent",
          "whiteout of a path whose parent never existed either",
          [("whiteout", "nodir/ghost"), ("file", "etc/marker2", b"mm")],
          [Change("etc/marker2", "added", "file", 2, 0)], warnings=["noop-whiteout"]),
        C("hardlink-lower", "e-hardlink-lower",
          "a hardlink to a lower-layer file",
          [("hardlink", "hl-new", "base/file.txt")],
          [Change("hl-new", "added")]),
        C("through-symlink", "e-through-symlink",
          "entries under lower-layer symlinked dirs (link -> real, alink -> /real) land in real/",
          [("file", "link/f", b"via relative link"), ("file", "alink/g", b"via absolute link")],
          [Change("real/f", "added", "file", 17, 0), Change("real/g", "added", "file", 17, 0)],
          resolve={"link/f": "real/f", "alink/g": "real/g"}),
        C("whiteout-through-symlink", "e-whiteout-through-symlink",
          "a whiteout under a lower-layer symlinked dir (link/.wh.old)",
          [("whiteout", "link/old")],
          [Change("real/old", "deleted", removed_bytes=30)],
          resolve={"link/old": "real/old"}),
        C("escape-symlink", "e-escape-symlink",
          "an entry under up -> ../../.. (a lower-layer symlink escaping the root)",
          [("file", "up/escaped", b"escaped")],
          [Change("escaped", "added", "file", 7, 0)],
          resolve={"up/escaped": "escaped"}),
        C("symlink-chain", "e-symlink-chain",
          "an entry under link2 -> link -> real",
          [("file", "link2/chained", b"chained")],
          [Change("real/chained", "added", "file", 7, 0)],
          resolve={"link2/chained": "real/chained"}),
        C("whiteout-symlink-itself", "e-whiteout-symlink-itself",
          "a whiteout of a symlink to a directory (.wh.wl, wl -> real3): the link goes, real3 stays",
          [("whiteout", "wl")],
          [Change("wl", "deleted", removed_bytes=0)]),
        C("opaque-through-symlink", "e-opaque-through-symlink",
          "an opaque marker under a lower-layer symlinked dir (olink -> d4) plus a new entry",
          [("opaque", "olink"), ("file", "olink/new", b"new in d4")],
          [Change("d4", "opaque", removed_bytes=25), Change("d4/new", "added", "file", 9, 0)],
          resolve={"olink": "d4", "olink/new": "d4/new"}),
        C("whiteout-dir-recreated", "e-whiteout-dir-recreated",
          "d3/ and d3/new, then .wh.d3 in the same layer: the lower d3/old1 goes, d3/new stays",
          [("dir", "d3", 0o700), ("file", "d3/new", b"new d3"), ("whiteout", "d3")]),
        C("hardlink-to-symlink", "e-hardlink-to-symlink",
          "a hardlink whose target is a lower-layer symlink (link -> real)",
          [("hardlink", "hls", "link")]),
        C("hardlink-via-symlink", "e-hardlink-via-symlink",
          "a hardlink whose target path goes through a lower-layer symlinked dir (link/old = real/old)",
          [("hardlink", "hvia", "link/old")]),
        C("implied-parents", "e-implied-parents",
          "a/b/c/file with no a, a/b, a/b/c entries; p/q/file2 then p's entry (0700, 7:8) after it",
          [("file", "a/b/c/file", b"deep"), ("file", "p/q/file2", b"deeper"),
           ("ti", _ti("p", tarfile.DIRTYPE, 0o700, uid=7, gid=8), None)],
          [Change("a/b/c/file", "added", "file", 4, 0), Change("p/q/file2", "added", "file", 6, 0)],
          implied_dirs={"a", "a/b", "a/b/c", "p/q"}),
        C("dir-to-file", "e-dir-to-file",
          "a directory with children replaced by a file, another by a symlink",
          [("file", "dwc", b"now a file"), ("symlink", "dws", "real")],
          [Change("dwc", ("modified", "added"), "file", 10), Change("dws", ("modified", "added"), "symlink")]),
        C("file-to-dir", "e-file-to-dir",
          "a file replaced by a directory with a child",
          [("dir", "fd", 0o750), ("file", "fd/child", b"kid")],
          [Change("fd", ("modified", "added"), "dir"), Change("fd/child", "added", "file", 3, 0)]),
        C("symlink-to-dir", "e-symlink-to-dir",
          "a symlink (sd -> real2) replaced by a directory entry with a child",
          [("dir", "sd", 0o711), ("file", "sd/inside2", b"in sd")]),
        C("hardlink-target-deleted", "e-hardlink-target-deleted",
          "h/orig whited out; its lower-layer hardlink h/link keeps the content",
          [("whiteout", "h/orig")],
          [Change("h/orig", "deleted")]),
        C("hardlink-target-replaced", "e-hardlink-target-replaced",
          "h2/orig replaced by new content; its hardlink h2/link keeps the old content",
          [("file", "h2/orig", b"replaced")],
          [Change("h2/orig", "modified", "file", 8)]),
        C("hardlink-own-mode", "e-hardlink-own-mode",
          "a hardlink whose header has another mode/owner than its target",
          [("ti", _ti("hm/t", tarfile.REGTYPE, 0o644), b"target"),
           ("ti", _ti("hm/l", tarfile.LNKTYPE, 0o600, uid=7, gid=7, link="hm/t"), None)],
          implied_dirs={"hm"}),
        C("duplicate-entry", "e-duplicate-entry",
          "the same path twice in one layer: the last one wins",
          [("file", "dup", b"first"), ("file", "dup", b"second, longer"),
           ("dir", "dupdir", 0o700), ("dir", "dupdir", 0o755)],
          [Change("dup", "added", "file", 14, 0), Change("dupdir", "added", "dir", 0, 0)]),
        C("dot-and-slash", "e-dot-and-slash",
          "member names ./dot/file and /slash/file",
          [("ti", _ti("./dot/file", tarfile.REGTYPE, 0o644), b"dot"),
           ("ti", _ti("/slash/file", tarfile.REGTYPE, 0o644), b"slash")],
          [Change("dot/file", "added", "file", 3, 0), Change("slash/file", "added", "file", 5, 0)],
          implied_dirs={"dot", "slash"}),
    ]


EDGE_BASE_CREATED_BY = "RUN edge base"


def build_edge_image(work: Path) -> OverlayImage:
    L = work / "edge"
    umoci("init", "--layout", L)
    umoci("new", "--image", f"{L}:empty")
    bundle = work / "bundle-edge"
    _edge_base(unpack(L, "empty", bundle))
    umoci("repack", "--image", f"{L}:edge-base", "--history.created_by", EDGE_BASE_CREATED_BY, bundle)
    shutil.rmtree(bundle)
    cases = {}
    tags = {"edge-base": 1}
    for c in edge_cases():
        raw = work / f"{c.name}.tar"
        raw.write_bytes(_raw_tar(c.entries))
        umoci("raw", "add-layer", "--image", f"{L}:edge-base", "--tag", c.tag,
              "--history.created_by", f"ADD {c.name}.tar /", raw)
        cases[c.name] = c
        tags[c.tag] = 2
    return OverlayImage(L, tags, "edge-base", {}, [EDGE_BASE_CREATED_BY], cases=cases)


# --------------------------------------------------------------------------
# umoci's view of a tag, unpacked once
# --------------------------------------------------------------------------

class UnpackCache:
    """``cache(image, tag)`` -> (nodes, inodes, error): umoci's view of a tag,
    unpacked once; ``error`` is umoci's message if it refused to unpack."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self._cache: dict[tuple[str, str], tuple[dict, dict, str | None]] = {}

    def __call__(self, img: OverlayImage, tag: str) -> tuple[dict[str, Node], dict, str | None]:
        key = (str(img.layout), tag)
        if key not in self._cache:
            bundle = self.work / f"{img.layout.name}-{tag}"
            try:
                rootfs = unpack(img.layout, tag, bundle)
            except RuntimeError as e:
                self._cache[key] = ({}, {}, str(e))
            else:
                nodes, inodes = walk_rootfs(rootfs)
                self._cache[key] = (nodes, inodes, None)
        return self._cache[key]
