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

import pytest

import overlay_images as O
import waste_images as W
from random_stacks import LAYERS, SEEDS
from test_interop_overlay import compare, ls_doc, lsj, rel  # noqa: F401  (lsj: a fixture)

pytestmark = pytest.mark.interop


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


def _view(doc: dict) -> dict[str, tuple]:
    """path -> what a container sees there (type as the content it names, content, link, attributes)."""
    raw = {rel(e["path"]): e for e in doc["entries"]}
    out = {}
    for p, e in raw.items():
        t = "file" if e["type"] == "hardlink" else e["type"]
        out[p] = (t, e.get("digest"), e.get("link") if t == "symlink" else None, e["mode"], e["uid"], e["gid"])
    return out


def _under(path: str, roots: set[str]) -> bool:
    probe = path
    while probe:
        probe = probe.rpartition("/")[0]
        if probe in roots or (probe == "" and "" in roots):
            return True
    return False


@pytest.mark.parametrize("seed", SEEDS)
def test_random_stack_changes_agree_with_the_views(seed, random_image, unpacked, lsj):
    """``changes --layer i`` against the difference of the merged views at
    layers i-1 and i (which the test above checks against umoci): every path
    that appeared, vanished or changed is accounted for by a change at it or
    above it, and every change is borne out by the views."""
    final = f"r{seed}-{LAYERS}"
    problems = []
    for i in range(1, LAYERS):
        if unpacked(random_image, f"r{seed}-{i + 1}")[2]:
            break  # views umoci refuses are not checked
        a = _view(ls_doc(lsj, random_image, final, i - 1))
        b = _view(ls_doc(lsj, random_image, final, i))
        doc = lsj("changes", random_image.arg(final), "--layer", str(i), "--json")
        ch: dict[str, set[str]] = {}
        for c in doc["layers"][0]["changes"]:
            ch.setdefault(rel(c["path"]), set()).add(c["change"])
        gone_roots = {p for p, k in ch.items() if k & {"deleted", "opaque", "modified"}}
        for p in set(a) | set(b):
            kinds = ch.get(p, set())
            if p in b and p not in a and not kinds & {"added", "modified"}:
                problems.append(f"layer {i}: {p} appeared ({b[p][0]}) but changes say {sorted(kinds) or 'nothing'}")
            elif p in a and p not in b and not (kinds & {"deleted", "modified"} or _under(p, gone_roots)):
                problems.append(f"layer {i}: {p} vanished but no change at it or above it")
            elif p in a and p in b and a[p] != b[p]:
                content = a[p][:3] != b[p][:3]
                want = {"modified"} if content else {"metadata", "modified"}
                if not kinds & want and not (kinds & {"added"} and _under(p, gone_roots)):
                    problems.append(f"layer {i}: {p} changed {a[p]} -> {b[p]} but changes say {sorted(kinds) or 'nothing'}")
        for p, kinds in ch.items():
            if "added" in kinds and (p not in b or (p in a and "deleted" not in kinds and not _under(p, gone_roots))):
                problems.append(f"layer {i}: {p} 'added' but the views disagree")
            if "deleted" in kinds and "added" not in kinds and "modified" not in kinds and p in b:
                problems.append(f"layer {i}: {p} 'deleted' but still in view")
            if "opaque" in kinds and (a.get(p, ("",))[0] != "dir" or (
                    b.get(p, ("",))[0] != "dir" and not kinds & {"modified", "deleted"} and not _under(p, gone_roots))):
                problems.append(f"layer {i}: {p} 'opaque' but not a directory that was cleared")
    assert not problems, f"seed {seed} (random_stack({seed})):\n  " + "\n  ".join(problems)


def test_most_random_stacks_were_compared(outcomes):
    """Runs after the per-seed tests: the comparison must not be vacuous."""
    if not outcomes:
        pytest.skip("the per-seed tests did not run")
    views = sum(outcomes.values())
    assert views >= 0.75 * len(SEEDS) * LAYERS, f"only {views} of {len(SEEDS) * LAYERS} views compared: {outcomes}"
