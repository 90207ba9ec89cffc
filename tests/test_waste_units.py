"""Waste accounting on hand-made layers: every reason, and the identity that defines wasted_bytes."""

from __future__ import annotations

import pytest

from layerscope.analysis.waste import measure
from layerscope.fs.dive import DiveModel
from layerscope.fs.overlay import Overlay
from tests.test_overlay import D, E


def waste(*layers, base_layers=1):
    ov, dive = Overlay(), DiveModel()
    for i, entries in enumerate(layers):
        dive.add_layer(entries)
        ov.apply(i, entries)
    return measure(ov, dive, base_layers=base_layers)


def stored(*layers):
    return sum(e.size for entries in layers for e in entries if e.kind == "file")


CASES = {
    "deleted": ([E("a", b"x" * 100), E("keep", b"k")], [E(".wh.a")]),
    "overwritten": ([E("a", b"x" * 100)], [E("a", b"y" * 30)]),
    "metadata-copy": ([D("d"), E("d/1", b"1" * 10), E("d/2", b"2" * 20)],
                      [D("d", mode=0o700), E("d/1", b"1" * 10, mode=0o600), E("d/2", b"2" * 20, mode=0o600)]),
    "opaque-hidden": ([D("d"), E("d/old", b"o" * 50)], [D("d"), E("d/.wh..wh..opq"), E("d/new", b"n")]),
    "replaced": ([D("d"), E("d/x", b"x" * 40), E("f", b"f" * 7)], [E("d", b"now a file"), D("f")]),
}
EXPECTED = {"deleted": 100, "overwritten": 100, "metadata-copy": 30, "opaque-hidden": 50, "replaced": 47}


@pytest.mark.parametrize("reason", sorted(CASES))
def test_each_reason_carries_its_bytes_and_reasons_add_up(reason):
    layers = CASES[reason]
    w = waste(*layers)
    assert w.by_reason[reason] == EXPECTED[reason]
    assert sum(w.by_reason.values()) == w.wasted_bytes == w.total_bytes - w.final_bytes
    assert w.total_bytes == stored(*layers)
    assert w.efficiency == pytest.approx(1 - w.wasted_bytes / w.total_bytes)
    assert w.top[0].reason == reason and w.top[0].layers == [0, 1]


def test_same_layer_rewrite_is_waste():
    w = waste([E("a", b"first!"), E("a", b"second")])
    assert w.wasted_bytes == 6 and w.by_reason["metadata-copy"] == 0 and w.by_reason["overwritten"] == 6


def test_hardlinked_content_counts_once_and_survives_while_named():
    w = waste([E("big", b"x" * 100), E("alias", kind="hardlink", link="big")], [E(".wh.big")])
    assert w.total_bytes == 100 and w.final_bytes == 100 and w.wasted_bytes == 0


def test_user_wasted_ratio_uses_layers_above_the_base():
    layers = ([E("base", b"b" * 1000)], [E("tmp", b"t" * 100)], [E(".wh.tmp"), E("app", b"a" * 300)])
    w = waste(*layers)
    assert w.user_wasted_ratio == pytest.approx(100 / 400)
    assert waste(*layers, base_layers=2).user_wasted_ratio == pytest.approx(0 / 300)


def test_duplicate_content_excludes_hardlinks():
    w = waste([E("a", b"same" * 10), E("b", b"same" * 10), E("c", kind="hardlink", link="a"), E("e", b"")])
    assert [(d.paths, d.savable_bytes) for d in w.duplicates] == [(["a", "b"], 40)]


def test_dive_formulas_count_the_kept_copy_and_not_deleted_files():
    # dive: path "a" seen twice (100 + 30) -> wasted 130; a deleted *file* counts 0; min/cumulative
    w = waste([E("a", b"x" * 100), E("gone", b"g" * 50)], [E("a", b"y" * 30), E(".wh.gone")])
    assert w.dive_wasted_bytes == 130 + 50
    assert w.dive_efficiency == pytest.approx((30 + 0) / (130 + 50))
    assert w.wasted_bytes == 150  # layerscope: the 100 overwritten + the 50 deleted


def test_dive_whiteout_of_a_directory_counts_its_files():
    dive, ov = DiveModel(), Overlay()
    for i, entries in enumerate(([D("d"), E("d/x", b"x" * 10), E("d/y", b"y" * 5)], [E(".wh.d")])):
        dive.add_layer(entries)
        ov.apply(i, entries)
    # "d" is no leaf in layer 0 (it has children); in layer 1 its whiteout is, sized by the subtree it deletes
    assert dive.cumulative == {"d/x": 10, "d/y": 5, "d": 15}
    assert dive.wasted_bytes == 0 and dive.efficiency == 1.0


def _dive(*layers) -> DiveModel:
    dive = DiveModel()
    for entries in layers:
        dive.add_layer(entries)
    return dive


def test_dive_counts_a_whiteout_as_zero_when_dive_never_saw_the_directory_entry():
    """dive's tree makes the parents a layer only implies as nodes with no
    file info -- not directories -- so their whiteout is sized 0 (checked
    against dive itself in test_interop_random.py)."""
    implied = _dive([E("d/x", b"x" * 10)], [E(".wh.d")])
    assert implied.cumulative["d"] == 0 and implied.efficiency == 1.0
    listed = _dive([D("d"), E("d/x", b"x" * 10)], [E(".wh.d")])
    assert listed.cumulative["d"] == 10 and listed.minimum["d"] == 10
    # a later layer that only implies "d" takes its directory info away in dive's stack
    relisted = _dive([D("d"), E("d/x", b"x" * 10)], [E("d/y", b"y")], [E(".wh.d")])
    assert relisted.cumulative["d"] == 0


def test_dive_stack_ignores_our_overlay_rules():
    """dive stacks trees naively: an opaque marker removes nothing, so a later
    whiteout of the opaque directory still counts the lower files."""
    dive = _dive([D("d"), E("d/old", b"o" * 50)], [D("d"), E("d/.wh..wh..opq"), E("d/new", b"n")], [E(".wh.d")])
    assert dive.cumulative["d"] == 51


def test_duplicates_are_found_in_the_tree_measure_saw():
    """Duplicates are found on first use; a layer applied after measure does not change them."""
    ov, dive = Overlay(), DiveModel()
    layer = [E("a", b"same" * 10), E("b", b"same" * 10)]
    dive.add_layer(layer)
    ov.apply(0, layer)
    early, late = measure(ov, dive), measure(ov, dive)
    assert [d.paths for d in early.duplicates] == [["a", "b"]]  # early: found before the next layer
    ov.apply("rw", [E("c", b"same" * 10), E(".wh.a")])
    assert [d.paths for d in late.duplicates] == [["a", "b"]]  # late: found as it was, before "rw"
    assert [d.paths for d in measure(ov, dive).duplicates] == [["b", "c"]]
