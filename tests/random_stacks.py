"""Seeded random layer stacks (see test_interop_random.py), and one umoci
layout holding them all: tag ``r<seed>-<n>`` has the first n layers of stack
``seed``."""

from __future__ import annotations

import random
import tarfile
from pathlib import Path

import images as I
import overlay_images as O

SEEDS = range(40)
LAYERS = 3

DIRS = ["a", "b", "a/c", "a/c/d", "b/e"]
LEAVES = ["f", "g", "h"]
SYMLINK_TARGETS = ["f", "g", "../f", "/a/c", "/b", "c", "e", "nope", "/a/c/d/f", "."]
FILE_MODES = [0o644, 0o600, 0o755, 0o4755, 0o444]
DIR_MODES = [0o755, 0o700, 0o1777, 0o750]
OWNERS = [0, 0, 1000, 7]


def _leaf(rnd: random.Random) -> str:
    d = rnd.choice([""] + DIRS)
    name = rnd.choice(LEAVES)
    return f"{d}/{name}" if d else name


def _ti(name: str, kind: bytes, mode: int, rnd: random.Random, link: str = "") -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.linkname, ti.mtime = kind, mode, link, I.MTIME
    ti.uid, ti.gid = rnd.choice(OWNERS), rnd.choice(OWNERS)
    return ti


def random_layer(rnd: random.Random, index: int, lower_files: list[str]) -> tuple[list[tuple], list[str]]:
    """One layer's entries (``overlay_images._raw_tar`` form) and the regular
    files it writes (hardlink targets for itself and the layers above)."""
    entries: list[tuple] = []
    first: list[tuple] = []
    files: list[str] = []
    count = rnd.randint(8, 18) if index == 0 else rnd.randint(3, 10)
    for _ in range(count):
        op = rnd.choices(
            ["file", "dir", "symlink", "dirlink", "hardlink", "whiteout", "opaque", "file-on-dir"],
            weights=[34, 14, 8, 5, 10, 14, 7, 2] if index else [50, 30, 8, 4, 8, 0, 0, 0])[0]
        if op in ("file", "file-on-dir"):
            path = _leaf(rnd) if op == "file" else rnd.choice(DIRS)
            data = rnd.randbytes(rnd.choice([0, 1, 100, 700, 3000]))
            entries.append(("ti", _ti(path, tarfile.REGTYPE, rnd.choice(FILE_MODES), rnd), data))
            files.append(path)
        elif op == "dir":
            entries.append(("ti", _ti(rnd.choice(DIRS), tarfile.DIRTYPE, rnd.choice(DIR_MODES), rnd), None))
        elif op == "symlink":
            entries.append(("ti", _ti(_leaf(rnd), tarfile.SYMTYPE, 0o777, rnd, rnd.choice(SYMLINK_TARGETS)), None))
        elif op == "dirlink":  # a directory name becomes a symlink to another directory
            path, target = rnd.sample(DIRS, 2)
            if target.startswith(path + "/"):
                continue  # a link into its own subtree is a loop
            link = "/" + target if rnd.random() < 0.5 else target
            entries.append(("ti", _ti(path, tarfile.SYMTYPE, 0o777, rnd, link), None))
        elif op == "hardlink":
            pool = files or lower_files
            if not pool:
                continue
            ti = _ti(_leaf(rnd), tarfile.LNKTYPE, 0o644, rnd, rnd.choice(pool))
            entries.append(("ti", ti, None))
        elif op == "whiteout":
            if rnd.random() < 0.5:
                entries.append(("whiteout", _leaf(rnd)))
            else:  # see the module doc: a directory's whiteout goes before the layer's entries
                first.append(("whiteout", rnd.choice(DIRS)))
        elif op == "opaque":
            first.append(("opaque", rnd.choice(DIRS)))
    return first + entries, files


def random_stack(seed: int) -> list[list[tuple]]:
    rnd = random.Random(seed)
    layers, files = [], []
    for i in range(LAYERS):
        entries, new = random_layer(rnd, i, files)
        layers.append(entries)
        files += new
    return layers


def build_random_layout(work: Path, seeds) -> O.OverlayImage:
    L = work / "random"
    O.umoci("init", "--layout", L)
    O.umoci("new", "--image", f"{L}:empty")
    for seed in seeds:
        below = "empty"
        for n, entries in enumerate(random_stack(seed), start=1):
            raw = work / f"r{seed}-{n}.tar"
            raw.write_bytes(O._raw_tar(entries))
            O.umoci("raw", "add-layer", "--image", f"{L}:{below}", "--tag", f"r{seed}-{n}",
                    "--history.created_by", f"ADD r{seed}-{n}.tar /", raw)
            below = f"r{seed}-{n}"
    return O.OverlayImage(L, {}, "", {}, [])
