"""The collector pause around inspect: nestable, restores what the caller had."""

from __future__ import annotations

import gc
import threading

import images as I
from layerscope import inspect
from layerscope.gcpause import paused_gc


def test_pause_nests_and_restores():
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_caller_that_had_it_off_keeps_it_off():
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_overlapping_pauses_in_threads():
    inside = threading.Barrier(2)
    leave = threading.Event()

    def worker():
        with paused_gc():
            inside.wait()
            leave.wait()

    t = threading.Thread(target=worker)
    t.start()
    with paused_gc():
        inside.wait()
    assert not gc.isenabled()  # the other thread's pause is still on
    leave.set()
    t.join()
    assert gc.isenabled()


def test_inspect_restores_the_collector_even_on_error(tmp_path):
    exp = I.build_simple_oci_layout(tmp_path / "img", compress="gzip")
    assert inspect(exp.arg, cache=False).layers and gc.isenabled()
    blob = tmp_path / "img" / "blobs" / "sha256" / I.hexof(exp.layers[0].digest)
    blob.write_bytes(blob.read_bytes()[:-10])
    try:
        inspect(exp.arg, cache=False)
    except Exception:
        pass
    assert gc.isenabled()


def test_freeze_spares_the_collection_after_a_pause():
    """What a pause made is walked by the first collection after it, unless frozen."""
    gc.collect()
    base = gc.get_freeze_count()
    try:
        with paused_gc(freeze=True):
            with paused_gc(freeze=False):
                kept = [[i] for i in range(1000)]
            assert gc.get_freeze_count() == base  # not the last pause to end: nothing frozen yet
        assert gc.isenabled()
        assert gc.get_freeze_count() >= base + len(kept)
        assert not any(x is kept for x in gc.get_objects(0))
    finally:
        gc.unfreeze()
    with paused_gc():
        plain = [[i] for i in range(10)]
    assert gc.get_freeze_count() == 0 and plain


def test_the_executable_freezes_what_a_command_made(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from layerscope.cli import main
    from layerscope.cli.options import PROCESS

    exp = I.build_simple_oci_layout(tmp_path / "img", compress="gzip")
    gc.collect()
    result = CliRunner().invoke(main, ["inspect", "--no-cache", exp.arg])  # as a library caller: no freeze
    assert result.exit_code == 0 and gc.get_freeze_count() == 0
    monkeypatch.setitem(PROCESS, "one_shot", True)  # what layerscope.entry.main sets
    try:
        result = CliRunner().invoke(main, ["inspect", "--no-cache", exp.arg])
        assert result.exit_code == 0, result.output
        assert gc.get_freeze_count() > 0 and gc.isenabled()
    finally:
        gc.unfreeze()
