"""The store's engine (layerscope/store/repo.py, packs.py): round trips, dedup, gc, verify, crashes, concurrency.

Images come from tests/store_images.py (deterministic from an integer); the
crash tests run it as a child process and SIGKILL it at seeded random moments.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import store_images as S
from layerscope.errors import BadInputError, DigestMismatchError, UsageError
from layerscope.store import Repository
from layerscope.store import packs as P

WORKER = Path(__file__).with_name("store_images.py")


@pytest.fixture
def small_packs(monkeypatch):
    monkeypatch.setattr(P, "BUNDLE_TARGET", 64 << 10)
    monkeypatch.setattr(P, "PACK_TARGET", 256 << 10)


@pytest.fixture
def repo(tmp_path, small_packs):
    r = Repository.create(tmp_path / "store")
    yield r
    r.close()


def pack_files(root) -> list[Path]:
    return sorted(Path(root, "packs").rglob("*.pack"))


def chunk_rows(repo) -> int:
    return repo._db.execute("SELECT count(*) FROM chunks").fetchone()[0]


def run_worker(*args, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(WORKER), *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


# ---- round trips ---------------------------------------------------------------------

def test_round_trip(repo):
    specs = [S.image_spec(n) for n in range(4)]
    for name, layers in specs:
        S.add_image(repo, name, layers)
    assert [i.name for i in repo.images()] == [n for n, _ in specs]
    for name, layers in specs:
        S.check_image(repo, name, layers)
    row = repo.image("img1")
    assert row.record["n"] == len(specs[1][1]) and row.added.endswith("Z")
    assert repo.image("nope") is None and repo.layer("sha256:00") is None
    layer = repo.layer(row.layers[1])
    assert layer.structure_ids.typecode == "Q" and layer.pairs.startswith(len(specs[1][1][1][0]).to_bytes(8, "little"))
    with pytest.raises(BadInputError):
        repo.blob("sha256:" + "0" * 64)


def test_reopen(tmp_path, small_packs):
    with Repository.create(tmp_path / "s") as r:
        S.add_image(r, *S.image_spec(0))
    with Repository.open(tmp_path / "s") as r:
        S.check_image(r, *S.image_spec(0))
        assert r.verify(full=True) == []


def test_dedup_within_and_across_transactions(repo):
    a, b = S.chunk_bytes("a", 3000), S.chunk_bytes("b", 200000)
    with repo.transaction() as tx:
        ia, ib = tx.chunk(a), tx.chunk(memoryview(b))
        assert tx.chunk(a) == ia and tx.chunk(b) == ib and ia != ib
        assert tx.chunks_new == 2 and tx.chunks_known == 2
    with repo.transaction() as tx:
        assert tx.chunk(b) == ib and tx.chunk(a) == ia
        assert tx.chunks_new == 0
        ic = tx.chunk(b"c")
    assert ic > max(ia, ib)
    assert chunk_rows(repo) == 3
    assert [bytes(x) for x in repo.read([ib, ia, ic, ia])] == [b, a, b"c", a]


def test_same_layer_twice(repo):
    S.add_image(repo, *S.image_spec(0))
    S.add_image(repo, "copy", S.image_spec(0)[1])  # every layer known: has_layer skips them all
    n = chunk_rows(repo)
    S.add_image(repo, *S.image_spec(3))  # shares layer 0 with image 0
    S.check_image(repo, "copy", S.image_spec(0)[1])
    assert repo.stats().shared_layers >= 1 and chunk_rows(repo) > n


def test_replace_image(repo):
    S.add_image(repo, "x", S.image_spec(0)[1])
    S.add_image(repo, "x", S.image_spec(1)[1])
    assert [i.name for i in repo.images()] == ["x"]
    S.check_image(repo, "x", S.image_spec(1)[1])


def test_rollback_leaves_nothing(repo):
    S.add_image(repo, *S.image_spec(0))
    before = (chunk_rows(repo), pack_files(repo.root))
    with pytest.raises(RuntimeError):
        with repo.transaction() as tx:
            for k in range(40):  # enough for several packs
                tx.chunk(S.chunk_bytes(f"rb{k}", 40000))
            raise RuntimeError("boom")
    assert (chunk_rows(repo), pack_files(repo.root)) == before
    assert os.listdir(Path(repo.root, "tmp")) == []
    tx = repo.transaction()
    tx.chunk(b"gone")
    tx.rollback()
    assert [i.name for i in repo.images()] == ["img0"] and chunk_rows(repo) == before[0]
    with pytest.raises(UsageError):
        tx.chunk(b"after")


def test_transaction_checks(repo):
    with repo.transaction() as tx:
        with pytest.raises(DigestMismatchError):
            tx.blob("sha256:" + "0" * 64, b"x")
        with pytest.raises(UsageError):
            tx.image("i", {}, ["sha256:not-there"], [])
        with pytest.raises(UsageError):
            repo.transaction()
    assert repo.images() == []


def test_remove(repo):
    S.add_image(repo, *S.image_spec(0))
    assert repo.remove("img0") is True and repo.remove("img0") is False
    assert repo.images() == []


# ---- opening ---------------------------------------------------------------------------

def test_create_refuses_an_existing_store(tmp_path):
    Repository.create(tmp_path / "s").close()
    with pytest.raises(UsageError, match="already exists"):
        Repository.create(tmp_path / "s")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "file").write_text("x")
    with pytest.raises(UsageError):
        Repository.create(tmp_path / "other")


@pytest.mark.parametrize("key, value", [("format", "99"), ("chunker", "fastcdc2020-min1-avg2-max3-level0")])
def test_open_refuses_another_format(tmp_path, key, value):
    Repository.create(tmp_path / "s").close()
    db = sqlite3.connect(tmp_path / "s" / "index.sqlite")
    db.execute("UPDATE meta SET value = ? WHERE key = ?", (value, key))
    db.commit()
    db.close()
    with pytest.raises(BadInputError) as e:
        Repository.open(tmp_path / "s")
    assert "\n" not in str(e.value) and value in str(e.value) and str(tmp_path / "s") in str(e.value)


def test_open_not_a_store(tmp_path):
    with pytest.raises(BadInputError, match="not a layerscope store"):
        Repository.open(tmp_path)
    (tmp_path / "index.sqlite").write_bytes(b"garbage" * 1000)
    with pytest.raises(BadInputError) as e:
        Repository.open(tmp_path)
    assert "index.sqlite" in str(e.value) and "\n" not in str(e.value)


# ---- gc ----------------------------------------------------------------------------------

def test_gc_removes_exactly_the_unreferenced(repo):
    keep = [S.image_spec(n) for n in (0, 1)]
    drop = S.image_spec(2)
    for name, layers in keep + [drop]:
        S.add_image(repo, name, layers)
    live = {c for _n, layers in keep for chunks in layers for c in chunks}
    dead = {c for chunks in drop[1] for c in chunks} - live
    assert dead
    first = repo.gc()
    assert first.chunks_removed == 0 and first.layers_removed == 0
    assert repo.remove(drop[0])
    # leftovers of a killed add: an unreferenced pack and a temp file
    orphan = Path(repo.root, "packs", "ab", "ab" + "0" * 30 + ".pack")
    orphan.parent.mkdir(exist_ok=True)
    orphan.write_bytes(P.MAGIC + b"junk")
    Path(repo.root, "tmp", "x.pack").write_bytes(b"junk")
    result = repo.gc()
    assert result.chunks_removed == len(dead) and result.blobs_removed == 1
    assert result.layers_removed == len({S.diff_id(c) for c in drop[1]} - {S.diff_id(c) for _n, l in keep for c in l})
    assert result.orphans_removed == 2 and not orphan.exists() and os.listdir(Path(repo.root, "tmp")) == []
    assert chunk_rows(repo) == len(live)
    for name, layers in keep:
        S.check_image(repo, name, layers)
    assert repo.verify(full=True) == []
    indexed = {r[0] for r in repo._db.execute("SELECT name FROM packs")}
    assert {p.stem for p in pack_files(repo.root)} == indexed


def test_gc_rewrites_mostly_garbage_packs(repo):
    shared = S.chunk_bytes("shared", 3000)
    big = [S.chunk_bytes(f"big{k}", 30000) for k in range(8)]
    S.add_image(repo, "a", [[shared] + big])
    old = set(pack_files(repo.root))  # a's: 'shared' is all that stays live in them
    S.add_image(repo, "b", [[shared, b"tail"]])
    repo.remove("a")
    result = repo.gc()
    assert result.packs_rewritten >= 1 and result.chunks_moved >= 1 and result.bytes_freed > 0
    assert not old & set(pack_files(repo.root))
    S.check_image(repo, "b", [[shared, b"tail"]])
    assert repo.verify(full=True) == []
    again = repo.gc()  # nothing left to do
    assert (again.chunks_removed, again.packs_rewritten, again.packs_deleted) == (0, 0, 0)


def test_gc_refuses_with_an_open_transaction(repo):
    with repo.transaction():
        with pytest.raises(UsageError):
            repo.gc()


# ---- verify ------------------------------------------------------------------------------

def _layer_pack(repo, diff_id: str) -> tuple[Path, int, int]:
    """The pack file, frame offset and length of a layer's first content chunk."""
    cid = repo.layer(diff_id).content_ids[0]
    name, fo, fl = repo._db.execute("SELECT p.name, c.frame_offset, c.frame_length FROM chunks c JOIN packs p "
                                    "ON p.id = c.pack WHERE c.id = ?", (cid,)).fetchone()
    return Path(P.pack_path(repo.root, name)), fo, fl


def _broken_setup(repo):
    for n in range(3):
        S.add_image(repo, *S.image_spec(n))
    victim = S.diff_id(S.image_spec(1)[1][1])
    return victim, _layer_pack(repo, victim)


def _named(problems, victim: str) -> None:
    assert problems, "verify found nothing"
    assert any(victim in p.layers and "img1" in p.images for p in problems), [str(p) for p in problems]
    assert all(str(p).count("\n") == 0 for p in problems)


@pytest.mark.parametrize("where", ["data", "checksum"])
def test_verify_flipped_bit(repo, where):
    victim, (path, fo, fl) = _broken_setup(repo)
    assert repo.verify() == [] and repo.verify(full=True) == []
    data = bytearray(path.read_bytes())
    at = fo + fl // 2 if where == "data" else fo + fl - 2  # the middle of the frame; its xxh32 checksum
    data[at] ^= 0x10
    path.write_bytes(bytes(data))
    assert repo.verify() == []  # sizes and offsets still agree: only reading tells
    _named(repo.verify(full=True), victim)


def test_verify_wrong_bytes_in_a_good_frame(repo):
    """A frame that decompresses fine but holds other bytes than the index says: only sha256 tells."""
    victim, _place = _broken_setup(repo)
    cid = repo.layer(victim).content_ids[-1]
    repo._db.execute("UPDATE chunks SET sha256 = ? WHERE id = ?", (b"\x01" * 32, cid))
    assert repo.verify() == []
    problems = repo.verify(full=True)
    _named(problems, victim)
    assert any("sha256" in p.message for p in problems)


def test_verify_truncated_pack(repo):
    victim, (path, fo, fl) = _broken_setup(repo)
    os.truncate(path, fo + fl - 1)
    problems = repo.verify()
    _named(problems, victim)
    assert any("index says" in p.message for p in problems)
    _named(repo.verify(full=True), victim)


def test_verify_missing_pack(repo):
    victim, (path, _fo, _fl) = _broken_setup(repo)
    path.unlink()
    problems = repo.verify()
    _named(problems, victim)
    assert any(p.message == "missing" for p in problems)
    row = repo.layer(victim)
    with pytest.raises(BadInputError, match="pack is missing"):
        b"".join(repo.read(row.content_ids))


def test_verify_bad_blob_and_wrong_layer_size(repo):
    S.add_image(repo, *S.image_spec(0))
    repo._db.execute("UPDATE blobs SET data = x'00'")
    repo._db.execute("UPDATE layers SET size = size + 1 WHERE rowid = 1")
    fast = repo.verify()
    assert any(p.what.startswith("layer ") and "img0" in p.images for p in fast)
    full = repo.verify(full=True)
    assert any(p.what.startswith("blob ") and p.images == ["img0"] for p in full)


def test_stats(repo):
    for n in range(4):
        S.add_image(repo, *S.image_spec(n))
    st = repo.stats()
    assert st.images == 4 and st.chunks == chunk_rows(repo) and st.shared_layers >= 1 and st.shared_chunks > 0
    assert st.logical_bytes > st.unique_bytes > st.pack_bytes > 0
    assert st.stored_bytes == st.pack_bytes + st.index_bytes and st.ratio > 0 and st.compression_ratio > 1


# ---- crashes -------------------------------------------------------------------------------

def _committed(out: str) -> list[str]:
    return [line.split()[1] for line in out.splitlines() if line.startswith("committed ")]


def _no_orphans_after_gc(repo) -> None:
    repo.gc()
    indexed = {r[0] for r in repo._db.execute("SELECT name FROM packs")}
    assert {p.stem for p in pack_files(repo.root)} == indexed
    assert os.listdir(Path(repo.root, "tmp")) == []


@pytest.mark.parametrize("seed", range(5))
def test_kill_during_add(tmp_path, seed):
    root = tmp_path / "s"
    Repository.create(root).close()
    rnd = random.Random(seed)
    committed: list[str] = []
    for attempt in range(2):  # two kills per seed, the second on top of the first's leftovers
        p = run_worker("add", root, 0, 24)  # ~0.25 s to start, ~0.5 s to add them all
        time.sleep(rnd.uniform(0.1, 0.8))
        p.send_signal(signal.SIGKILL)
        out, err = p.communicate()
        assert "Traceback" not in err, err
        committed += _committed(out)
        with Repository.open(root) as r:
            assert r.verify(full=True) == []
            present = {i.name for i in r.images()}
            assert set(committed) <= present
            for name in present:
                S.check_image(r, name, S.image_spec(int(name[3:]))[1])
    p = run_worker("add", root, 0, 24)  # the rerun completes
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    with Repository.open(root) as r:
        assert len(r.images()) == 24
        for n in range(24):
            S.check_image(r, *S.image_spec(n))
        _no_orphans_after_gc(r)
        assert r.verify(full=True) == []


@pytest.mark.parametrize("seed", range(4))
def test_kill_during_gc(tmp_path, seed):
    root = tmp_path / "s"
    Repository.create(root).close()
    p = run_worker("churn", root, 40)  # ~0.25 s to start, ~1.5 s to finish
    time.sleep(random.Random(seed).uniform(0.2, 1.6))
    p.send_signal(signal.SIGKILL)
    out, err = p.communicate()
    assert "Traceback" not in err, err
    lines = out.splitlines()
    committed = set(_committed(out))
    removing = {l.split()[1] for l in lines if l.startswith("removing ")}
    with Repository.open(root) as r:
        assert r.verify(full=True) == []
        present = {i.name for i in r.images()}
        assert committed - removing <= present, (lines[-3:], present)
        for name in present:
            S.check_image(r, name, S.image_spec(int(name[5:]), "churn")[1])
        _no_orphans_after_gc(r)
        for name in present:
            S.check_image(r, name, S.image_spec(int(name[5:]), "churn")[1])
        assert r.verify(full=True) == []


# ---- concurrency ---------------------------------------------------------------------------

def test_two_processes_add_at_once(tmp_path):
    root = tmp_path / "s"
    Repository.create(root).close()
    stop = threading.Event()
    seen: list[int] = []

    def reader():
        # a reader beside the writers: every image it lists is whole
        with Repository.open(root) as r:
            while not stop.is_set():
                for row in r.images():
                    prefix = "a" if row.name.startswith("a") else "b"
                    S.check_image(r, row.name, S.image_spec(int(row.name[1:]), prefix)[1])
                seen.append(len(r.images()))

    failures = []
    t = threading.Thread(target=lambda: _catch(reader, failures))
    t.start()
    procs = [run_worker("add", root, 0, 10, prefix) for prefix in ("a", "b")]
    results = [p.communicate(timeout=120) for p in procs]
    stop.set()
    t.join()
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0, err
    assert not failures, failures[0]
    assert seen and max(seen) <= 20
    with Repository.open(root) as r:
        assert len(r.images()) == 20
        for prefix in ("a", "b"):
            for n in range(10):
                S.check_image(r, *S.image_spec(n, prefix))
        assert r.verify(full=True) == []
        # the shared pool is stored once: one row per distinct sha256
        distinct = {c for prefix in ("a", "b") for n in range(10) for l in S.image_spec(n, prefix)[1] for c in l}
        assert chunk_rows(r) == len(distinct)
        _no_orphans_after_gc(r)
        assert r.verify(full=True) == []


def _catch(fn, failures: list) -> None:
    try:
        fn()
    except BaseException as e:  # reported by the test thread
        failures.append(e)


def test_lost_race_uses_the_winners_chunk(tmp_path, small_packs):
    """Two adders store the same new chunk; the second to commit points at the first's copy."""
    root = tmp_path / "s"
    Repository.create(root).close()
    one, two = Repository.open(root), Repository.open(root)
    data = [S.chunk_bytes(f"race{k}", 20000) for k in range(6)]
    layer = S.diff_id(data)
    tx1, tx2 = one.transaction(), two.transaction()
    ids1 = [tx1.chunk(c) for c in data]
    ids2 = [tx2.chunk(c) for c in data]  # neither has committed: both store them
    assert not set(ids1) & set(ids2)
    for tx, ids, name in ((tx1, ids1, "one"), (tx2, ids2, "two")):
        tx.layer(layer + name, sum(map(len, data)), b"", [], ids)
        tx.image(name, {}, [layer + name], [])
    tx1.commit()
    tx2.commit()
    assert chunk_rows(one) == len(data)
    for name in ("one", "two"):
        row = one.layer(layer + name)
        assert list(row.content_ids) == ids1
        assert b"".join(bytes(b) for b in one.read(row.content_ids)) == b"".join(data)
    assert one.verify(full=True) == []
    packs_before = len(pack_files(root))
    assert one.gc().packs_deleted >= 1 and len(pack_files(root)) < packs_before  # the loser's copy
    assert b"".join(bytes(b) for b in two.read(ids1)) == b"".join(data)
    one.close()
    two.close()


def test_bad_index_rows_are_one_line_errors(repo):
    S.add_image(repo, *S.image_spec(0))
    d = repo.image("img0").layers[0]
    repo._db.execute("UPDATE layers SET content_ids = x'01020304050607' WHERE diff_id = ?", (d,))
    repo._db.execute("UPDATE images SET record = '{nope'")
    for call in (lambda: repo.layer(d), repo.images, lambda: list(repo.read([10 ** 9]))):
        with pytest.raises(BadInputError) as e:
            call()
        assert "index.sqlite" in str(e.value) and "\n" not in str(e.value)
    problems = repo.verify()
    assert any(p.what == f"layer {d}" and p.images == ["img0"] for p in problems)
    repo._db.execute("DROP TABLE chunks")
    with pytest.raises(BadInputError, match="store index: no such table"):
        repo.stats()


def test_read_while_gc_moves_the_chunks(tmp_path, small_packs):
    """A reader half-way through a layer when gc rewrites the packs under it looks the chunks up again."""
    root = tmp_path / "s"
    Repository.create(root).close()
    keep = [S.chunk_bytes(f"keep{k}", 20000) for k in range(30)]
    junk = [S.chunk_bytes(f"junk{k}", 60000) for k in range(30)]
    with Repository.open(root) as w:
        S.add_image(w, "a", [[c for pair in zip(keep, junk) for c in pair]])  # keep's chunks spread over packs
        S.add_image(w, "b", [keep])
        w.remove("a")
    reader, gc = Repository.open(root), Repository.open(root)
    row = reader.layer(S.diff_id(keep))
    ids = list(row.structure_ids) + list(row.content_ids)
    chunks = reader.read(ids)
    first = bytes(next(chunks))
    assert gc.gc().packs_rewritten >= 2
    assert [first] + [bytes(c) for c in chunks] == keep
    reader.close()
    gc.close()
