"""dive's model has a fast path (a layer without whiteouts: no tree) and the
general one (dive's tree, children first); both must give the figures of the
tree-per-layer code that was checked against dive itself (tests/dive_reference.py,
and test_interop_random.py / test_waste.py against the dive binary)."""

from __future__ import annotations

import random

import pytest

from layerscope.fs.dive import DiveModel
from layerscope.layer.entry import DIR, FILE, HARDLINK, SYMLINK, Entry
from tests import dive_reference

NAMES = ["a", "b", "c", "a/x", "a/y", "a/x/deep", "b/z", "c/q/r", "a/x/deep/er", "nope"]
WHITEOUTS = [".wh.a", "a/.wh.x", "a/.wh..wh..opq", ".wh.b", "b/.wh.z", "a/x/.wh.deep", ".wh.c",
             ".wh..wh.plnk/1", "a/.wh..wh.aufs", "c/.wh.q", ".wh.nope"]


def _entry(path: str, kind: str, size: int) -> Entry:
    return Entry(path=path, kind=kind, size=size if kind == FILE else 0, mode=0o644, uid=0, gid=0, mtime=0)


def random_layer(rnd: random.Random, whiteouts: bool) -> list[Entry]:
    if not whiteouts and rnd.random() < 0.5:  # each path once: what the fast path takes
        names = rnd.sample(NAMES, rnd.randint(0, len(NAMES))) + [""] * rnd.choice([0, 0, 1, 2])
        rnd.shuffle(names)
        return [_entry(p, rnd.choice([FILE, FILE, DIR, DIR, SYMLINK, HARDLINK]), rnd.choice([0, 1, 7, 100, 4096]))
                for p in names]
    out = []
    for _ in range(rnd.randint(0, 12)):
        if whiteouts and rnd.random() < 0.25:
            out.append(_entry(rnd.choice(WHITEOUTS), FILE, 0))
            continue
        kind = rnd.choice([FILE, FILE, DIR, DIR, SYMLINK, HARDLINK])
        out.append(_entry(rnd.choice(NAMES + [""]), kind, rnd.choice([0, 1, 7, 100, 4096])))
    return out


def figures(model) -> tuple:
    # the totals first: the fast path's last layer is then not in the per-path table yet
    totals = (model.efficiency, model.wasted_bytes, model.user_wasted_ratio(1), model.user_wasted_ratio(2))
    table = (model.cumulative, model.minimum, model.seen, model.layer_sizes)
    if isinstance(model, DiveModel):
        model._sums_cache = None  # (kept until the next layer) count again, from the complete table
    assert (model.efficiency, model.wasted_bytes) == totals[:2]  # the same once it is
    return totals + table


@pytest.mark.parametrize("seed", range(400))
def test_fast_and_general_paths_give_the_reference_figures(seed):
    rnd = random.Random(seed)
    layers = [random_layer(rnd, whiteouts=i > 0 and rnd.random() < 0.5) for i in range(rnd.randint(1, 5))]
    fast, general, ref = DiveModel(), DiveModel(fast=False), dive_reference.DiveModel()
    for entries in layers:
        for m in (fast, general, ref):
            m.add_layer(entries)
        FAST_TAKEN[fast._pending is not None] += 1
        # the figures are readable between layers too (a layer not stacked yet must not matter)
        assert figures(fast) == figures(general) == figures(ref), (seed, layers)
    assert fast.cumulative.keys() == ref.cumulative.keys()


FAST_TAKEN = [0, 0]


def test_the_random_layers_took_both_paths():
    if not all(FAST_TAKEN):  # run alone: count afresh
        for seed in range(400):
            test_fast_and_general_paths_give_the_reference_figures(seed)
    assert min(FAST_TAKEN) > 200, FAST_TAKEN


def test_fast_path_is_taken_only_without_whiteouts():
    m = DiveModel()
    m.add_layer([_entry("a/x", FILE, 3)])
    assert m._pending is not None and m._unaccounted  # fast: counted and stacked when the next layer comes
    m.add_layer([_entry(".wh.a", FILE, 0)])
    assert m._pending is None and m._stacked.kids is not None  # general: the stack got its index
    m.add_layer([_entry("a/y", FILE, 5), _entry("b", DIR, 0)])
    m.add_layer([_entry(".wh.a", FILE, 0)])
    assert m.cumulative == {"a/x": 3, "a": 0, "a/y": 5, "b": 0}  # "a" was only implied: no directory, 0
    for odd in ([_entry("x", FILE, 1), _entry("x", DIR, 0)],  # a path listed twice
                [Entry(path="s", kind=SYMLINK, size=9, mode=0, uid=0, gid=0, mtime=0)]):  # a non-file with a size
        m.add_layer(odd)
        assert m._pending is None  # the general path took it
