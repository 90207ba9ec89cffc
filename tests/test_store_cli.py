"""`layerscope store ...` from the command line: the commands, their exit codes and one-line
errors, and `store add` killed with SIGKILL at seeded random moments on real images."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import images as I


@pytest.fixture(scope="module")
def three(tmp_path_factory) -> list[str]:
    """Three small OCI layouts sharing a base layer (one tag each)."""
    return I.layouts_sharing_a_base(tmp_path_factory.mktemp("cli-images"), text=400_000, binary=300_000, top=200_000)


def _env(store: Path) -> dict:
    return dict(os.environ, LAYERSCOPE_STORE=str(store))


def test_the_commands(ls, three, tmp_path):
    store = tmp_path / "s"
    assert ls("store", "init", "--store", store).rc == 0
    res = ls("store", "add", "--store", store, *three)
    assert res.rc == 0 and res.out.count("added") == 3
    assert "1 read" in res.out.splitlines()[1] and "1 already in the store" in res.out  # the base: read once
    doc = ls("store", "ls", "--store", store, "--json").json()
    assert doc["schema"] == "layerscope.store.ls/1" and [i["name"] for i in doc["images"]] == ["v0", "v1", "v2"]
    st = ls("store", "stats", "--store", store, "--json").json()
    assert st["schema"] == "layerscope.store.stats/1" and st["images"] == 3 and st["layers"] == {"count": 4, "shared": 1}
    assert st["bytes"]["stored"] < st["bytes"]["logical"]
    out = tmp_path / "v1.tar"
    assert ls("store", "export", "--store", store, "v1", "-o", out).rc == 0
    assert ls("inspect", out).rc == 0  # every digest checked on the way in
    assert ls("store", "export", "--store", store, "v1", "-o", out).rc == 2  # no overwrite without --force
    assert ls("store", "export", "--store", store, "v1", "-o", out, "--force").rc == 0
    assert ls("store", "rm", "--store", store, "v0", "v2").rc == 0
    assert ls("store", "gc", "--store", store).rc == 0
    assert ls("store", "verify", "--store", store, "--full").rc == 0
    assert [i["name"] for i in ls("store", "ls", "--store", store, "--json").json()["images"]] == ["v1"]
    assert ls("store", "export", "--store", store, "v1", "-o", tmp_path / "again.tar").rc == 0
    assert (tmp_path / "again.tar").read_bytes() == out.read_bytes()  # exports are reproducible


@pytest.mark.parametrize("args,words", [
    (["store", "ls"], ["not a"]),  # no store there
    (["store", "export", "nope", "-o", "x.tar"], ["nope"]),
    (["store", "rm", "nope"], ["nope"]),
])
def test_bad_requests_are_one_line(ls, tmp_path, args, words):
    store = tmp_path / "s"
    if args[1] != "ls":
        assert ls("store", "init", "--store", store).rc == 0
    res = ls(*args[:2], "--store", store, *args[2:])
    assert res.rc == 2 and len(res.err_lines) == 1, res.err
    assert all(w in res.err for w in words), res.err


def test_a_corrupt_image_is_not_added(ls, three, tmp_path):
    store = tmp_path / "s"
    ls("store", "init", "--store", store)
    layout = Path(three[0].rsplit(":", 1)[0])
    bad = tmp_path / "bad"
    import shutil

    shutil.copytree(layout, bad)
    blobs = sorted((bad / "blobs" / "sha256").iterdir(), key=lambda p: -p.stat().st_size)
    data = bytearray(blobs[0].read_bytes())
    data[len(data) // 2] ^= 1
    blobs[0].write_bytes(bytes(data))
    res = ls("store", "add", "--store", store, f"{bad}:v0")
    assert res.rc == 2 and len(res.err_lines) == 1 and "digest" in res.err, res.err
    assert ls("store", "ls", "--store", store, "--json").json()["images"] == []
    assert ls("store", "verify", "--store", store, "--full").rc == 0


def test_a_flipped_bit_is_found_and_named(ls, three, tmp_path):
    store = tmp_path / "s"
    ls("store", "init", "--store", store)
    ls("store", "add", "--store", store, three[0])
    pack = max((store / "packs").rglob("*.pack"), key=lambda p: p.stat().st_size)
    data = bytearray(pack.read_bytes())
    data[len(data) // 2] ^= 0x10
    pack.write_bytes(bytes(data))
    res = ls("store", "verify", "--store", store, "--full")
    assert res.rc == 1 and "v0" in res.out, res.out


def _layerscope() -> list[str]:
    return [sys.executable, "-m", "layerscope"]


@pytest.mark.parametrize("seed", range(3))
def test_add_killed_at_random_moments(three, tmp_path, seed):
    """SIGKILL `store add` at a seeded random moment: what was committed is intact, verify passes,
    the same add run again completes, and the exports are bit-exact."""
    store = tmp_path / "s"
    subprocess.run([*_layerscope(), "store", "init", "--store", store], check=True, capture_output=True)
    rnd = random.Random(seed)
    for _ in range(3):
        proc = subprocess.Popen([*_layerscope(), "store", "add", "--store", store, *three],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        time.sleep(rnd.uniform(0.05, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        check = subprocess.run([*_layerscope(), "store", "verify", "--store", store, "--full"],
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        listed = json.loads(subprocess.run([*_layerscope(), "store", "ls", "--store", store, "--json"],
                                           check=True, capture_output=True, text=True).stdout)
        for image in listed["images"]:  # whatever is listed is whole
            out = tmp_path / f"{image['name']}.tar"
            subprocess.run([*_layerscope(), "store", "export", "--store", store, image["name"], "-o", out, "--force"],
                           check=True, capture_output=True)
    subprocess.run([*_layerscope(), "store", "add", "--store", store, *three], check=True, capture_output=True)
    from layerscope.source import open_images

    for spec in three:
        tag = spec.rsplit(":", 1)[1]
        out = tmp_path / f"final-{tag}.tar"
        subprocess.run([*_layerscope(), "store", "export", "--store", store, tag, "-o", out],
                       check=True, capture_output=True)
        (orig,), (back,) = open_images(spec), open_images(str(out))  # every digest checked
        assert [x.diff_id for x in back.layers] == [x.diff_id for x in orig.layers]
        assert back.config_digest == orig.config_digest


def test_full_verify_rebuilds_every_layer(three, tmp_path):
    """A recipe that no longer rebuilds its layer (chunks intact, the pairs changed) is found by
    verify --full, which rebuilds every layer and checks its diff_id, and names the images."""
    import sqlite3

    from layerscope import Store

    s = Store.init(tmp_path / "s")
    s.add(three[:2])
    assert s.verify(full=True) == []
    base = s.repo.images()[0].layers[0]
    s.close()
    db = sqlite3.connect(tmp_path / "s" / "index.sqlite")
    (pairs,) = db.execute("SELECT pairs FROM layers WHERE diff_id = ?", (base,)).fetchone()
    swapped = pairs[8:16] + pairs[:8] + pairs[16:]  # structure and content lengths of the first pair swapped
    db.execute("UPDATE layers SET pairs = ? WHERE diff_id = ?", (swapped, base))
    db.commit()
    db.close()
    with Store(tmp_path / "s") as s:
        assert s.verify(full=False) == []  # the fast check does not rebuild
        (problem,) = s.verify(full=True)
        assert problem.layers == [base] and problem.images == ["v0", "v1"]


def test_export_checks_the_rebuilt_layer(ls, three, tmp_path):
    """Export trusts no recipe blindly: a layer whose rebuilt bytes are not what was added
    (its XXH3-128, recorded at add) fails the export with one line and leaves no file."""
    import sqlite3

    store = tmp_path / "s"
    ls("store", "init", "--store", store)
    ls("store", "add", "--store", store, three[0])
    db = sqlite3.connect(store / "index.sqlite")
    diff_id, pairs, xxh3 = db.execute("SELECT diff_id, pairs, xxh3 FROM layers ORDER BY size DESC").fetchone()
    db.execute("UPDATE layers SET xxh3 = ? WHERE diff_id = ?", (bytes([xxh3[0] ^ 1]) + xxh3[1:], diff_id))
    db.commit()
    for fmt in ("docker-archive", "oci-dir", "oci-archive"):
        out = tmp_path / f"out-{fmt}"
        res = ls("store", "export", "--store", store, "v0", "-o", out, "--format", fmt)
        assert res.rc == 2 and len(res.err_lines) == 1 and "does not match" in res.err, res.err
        assert not out.exists()
    # lengths that no longer add up are caught as well, before any check
    db.execute("UPDATE layers SET xxh3 = ?, pairs = ? WHERE diff_id = ?",
               (xxh3, pairs[8:16] + pairs[:8] + pairs[16:], diff_id))
    db.commit()
    db.close()
    for fmt in ("docker-archive", "oci-dir"):
        out = tmp_path / f"out-{fmt}"
        res = ls("store", "export", "--store", store, "v0", "-o", out, "--format", fmt)
        assert res.rc == 2 and len(res.err_lines) == 1 and "damaged" in res.err, res.err
        assert not out.exists() and not any(p.name.startswith(".") for p in tmp_path.iterdir() if p != store)


def test_two_adds_at_once(three, tmp_path):
    """Two `store add` processes on images sharing a base layer, at the same time: both succeed,
    the base is kept once, and both images come back bit-exact."""
    from layerscope.source import open_images

    store = tmp_path / "s"
    subprocess.run([*_layerscope(), "store", "init", "--store", store], check=True, capture_output=True)
    procs = [subprocess.Popen([*_layerscope(), "store", "add", "--store", store, spec],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for spec in three[:2]]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    stats = json.loads(subprocess.run([*_layerscope(), "store", "stats", "--store", store, "--json"],
                                      check=True, capture_output=True, text=True).stdout)
    assert stats["layers"] == {"count": 3, "shared": 1}
    for spec in three[:2]:
        tag = spec.rsplit(":", 1)[1]
        out = tmp_path / f"{tag}.tar"
        subprocess.run([*_layerscope(), "store", "export", "--store", store, tag, "-o", out], check=True,
                       capture_output=True)
        (orig,), (back,) = open_images(spec), open_images(str(out))
        assert [x.diff_id for x in back.layers] == [x.diff_id for x in orig.layers]
        assert back.config_digest == orig.config_digest
    assert subprocess.run([*_layerscope(), "store", "verify", "--store", store, "--full"]).returncode == 0


def test_progress_bars(ls, three, tmp_path):
    """--progress draws a bar on stderr for add, export, verify and gc (and breaks nothing)."""
    store = tmp_path / "s"
    ls("store", "init", "--store", store)
    for args in (["add", *three], ["export", "v0", "-o", tmp_path / "o.tar"], ["rm", "v1"], ["gc"], ["verify", "--full"]):
        extra = ["--progress"] if args[0] != "rm" else []
        res = ls("store", args[0], "--store", store, *extra, *args[1:])
        assert res.rc == 0, res.err
        if extra and args[0] != "gc":
            assert "B" in res.err or "%" in res.err or "it" in res.err, (args, res.err)
