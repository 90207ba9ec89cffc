"""A container's read/write layer, made by the kernel: random changes through
a real overlayfs mount, then ``layerscope ls IMAGE -R --rw UPPER --json``
against the mounted view itself.

Each seed takes a random image (``random_stacks.random_stack``), unpacks
it with umoci as the lower directory, mounts overlayfs (upper and work
directories empty) and makes seeded random changes in the merged directory:
new files and directories, appends and rewrites (copy-up), chmod and chown
(metadata copy-up), deletions of lower files, symlinks and whole trees
(whiteouts), a tree deleted and re-created (opaque directory), renames of
files, new symlinks and hardlinks. The merged directory, walked with lstat
while mounted, is the oracle; the upper directory is what layerscope reads.

The changes never follow a symlink from the image (an absolute one would lead
out of the mount): every parent component is checked with lstat first.
Needs root (overlayfs mount, trusted.* xattrs); skipped where the kernel
refuses the mount.
"""

from __future__ import annotations

import os
import random
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

import overlay_images as O
from test_interop_overlay import compare, lsj  # noqa: F401  (lsj: a fixture)
from random_stacks import DIRS, LEAVES, LAYERS, SEEDS

pytestmark = pytest.mark.interop

CHANGES = 20


def _rel_dirs(root: Path) -> list[str]:
    return [p for p in DIRS if _is_real_dir(root, p)]


def _is_real_dir(root: Path, rel: str) -> bool:
    """Is every component of ``rel`` a directory (no symlinks on the way)?"""
    cur = root
    for part in rel.split("/"):
        cur = cur / part
        try:
            if not stat.S_ISDIR(os.lstat(cur).st_mode):
                return False
        except FileNotFoundError:
            return False
    return True


def _safe_parent(root: Path, rel: str) -> Path | None:
    """The parent of ``rel`` inside ``root``, creating missing directories;
    None if a component is not a directory (a symlink is never followed)."""
    cur = root
    for part in rel.split("/")[:-1]:
        cur = cur / part
        try:
            st = os.lstat(cur)
        except FileNotFoundError:
            os.mkdir(cur)
            continue
        if not stat.S_ISDIR(st.st_mode):
            return None
    return cur


def _lkind(path: Path) -> str | None:
    try:
        m = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    return "dir" if stat.S_ISDIR(m) else "file" if stat.S_ISREG(m) else "other"


def random_changes(merged: Path, rnd: random.Random) -> list[str]:
    """Apply ``CHANGES`` random changes under ``merged``; what was done, for messages."""
    done = []
    for _ in range(CHANGES):
        op = rnd.choice(["write", "append", "chmod", "chown", "unlink", "rmtree", "opaque", "mkdir",
                         "symlink", "hardlink", "rename", "rename-dir"])
        rel = f"{rnd.choice([''] + DIRS)}/{rnd.choice(LEAVES + ['n1', 'n2'])}".lstrip("/")
        parent = _safe_parent(merged, rel)
        if parent is None:
            continue
        path = parent / rel.rpartition("/")[2]
        kind = _lkind(path)
        try:
            if op == "write" and kind in (None, "file"):
                if kind == "file":
                    os.unlink(path)
                path.write_bytes(rnd.randbytes(rnd.choice([0, 5, 900])))
            elif op == "append" and kind == "file":
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW)
                os.write(fd, b"appended")
                os.close(fd)
            elif op == "chmod" and kind in ("file", "dir"):
                os.chmod(path, rnd.choice([0o600, 0o755, 0o640, 0o1777 if kind == "dir" else 0o4755]))
            elif op == "chown" and kind is not None:
                os.lchown(path, rnd.choice([0, 7, 1000]), rnd.choice([0, 7]))
            elif op == "unlink" and kind in ("file", "other"):
                os.unlink(path)
            elif op in ("rmtree", "opaque"):
                d = rnd.choice(_rel_dirs(merged) or [""])
                if not d:
                    continue
                shutil.rmtree(merged / d)
                if op == "opaque":
                    os.mkdir(merged / d)
                    (merged / d / "fresh").write_bytes(b"fresh")
                rel = d
            elif op == "rename-dir":  # a lower directory: EXDEV unless redirect_dir=on
                d = rnd.choice(_rel_dirs(merged) or [""])
                dest = rnd.choice(["moved1", "moved2", "a/moved3"])
                if not d or _lkind(merged / dest) is not None or dest.startswith(d + "/") or \
                        not _is_real_dir(merged, dest.rpartition("/")[0] or "."):
                    continue
                os.rename(merged / d, merged / dest)
                rel = f"{d} -> {dest}"
            elif op == "mkdir" and kind is None:
                os.mkdir(path)
            elif op == "symlink" and kind is None:
                os.symlink(rnd.choice(["f", "/a/c", "../g", "nope"]), path)
            elif op == "hardlink" and kind is None:
                src = merged / rnd.choice(LEAVES)
                if _lkind(src) == "file":
                    os.link(src, path, follow_symlinks=False)
                    rel = f"{rel} <- {src.name}"
                else:
                    continue
            elif op == "rename" and kind == "file":
                dest_rel = rnd.choice(LEAVES + ["n3"])
                if _lkind(merged / dest_rel) in (None, "file"):
                    os.rename(path, merged / dest_rel)
                    rel = f"{rel} -> {dest_rel}"
                else:
                    continue
            else:
                continue
        except OSError as e:  # e.g. EXDEV renaming a lower directory: the kernel says no, not a bug here
            done.append(f"{op} {rel}: {e.strerror}")
            continue
        done.append(f"{op} {rel}")
    return done


@pytest.fixture(scope="module")
def random_images(random_image):
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("an overlayfs mount needs root")
    return random_image


def _mount(lower: Path, work: Path, options: str) -> tuple[Path, Path]:
    up, wd, merged = work / "upper", work / "work", work / "merged"
    for d in (up, wd, merged):
        d.mkdir()
    r = subprocess.run(["mount", "-t", "overlay", "overlay", "-o", f"lowerdir={lower},upperdir={up},workdir={wd}" + (f",{options}" if options else ""),
                        str(merged)], capture_output=True, text=True, check=False)
    if r.returncode != 0:
        pytest.skip(f"overlay mount ({options or 'defaults'}) refused here: {r.stderr.strip()}")
    return merged, up


def _umount(merged: Path) -> None:
    if subprocess.run(["umount", str(merged)], capture_output=True, check=False).returncode != 0:
        subprocess.run(["umount", "-l", str(merged)], capture_output=True, check=False)


@pytest.mark.parametrize("options", ["", "userxattr", "metacopy=on", "redirect_dir=on"])
@pytest.mark.parametrize("seed", SEEDS)
def test_rw_layer_from_a_real_overlay_mount_matches_the_mount(seed, options, random_images, lsj, tmp_path):
    # the whole stack, or its largest prefix umoci accepts (see test_interop_random), or the empty image
    for tag in [f"r{seed}-{n}" for n in range(LAYERS, 0, -1)] + ["empty"]:
        try:
            lower = O.unpack(random_images.layout, tag, tmp_path / "bundle")
            break
        except RuntimeError:
            continue
    merged, upper = _mount(lower, tmp_path, options)
    try:
        done = random_changes(merged, random.Random(1000 + seed))
        nodes, inodes = O.walk_rootfs(merged)
    finally:
        _umount(merged)
    doc = lsj("ls", random_images.arg(tag), "-R", "--rw", upper, "--json")
    problems = compare(doc, nodes, inodes)
    assert not problems, (f"seed {seed}: {len(problems)} disagreement(s) between `ls --rw` and the mounted "
                          f"overlay after: {'; '.join(done)}\n  " + "\n  ".join(problems))
