"""The store under damage and a full disk (issue 14): a flipped bit or a cut in a pack, broken
index pages, a write limit hit in the middle of `store add`. Each promise is the CLI's: one line
and exit 2 for what cannot be done, `verify` naming what is broken and the images it breaks, no
partial output, and the images that were not touched still coming back bit for bit."""

from __future__ import annotations

import os
import resource
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import images as I


@pytest.fixture(scope="module")
def three(tmp_path_factory) -> list[str]:
    """Three small OCI layouts sharing a base layer, each with a top layer of its own."""
    return I.layouts_sharing_a_base(tmp_path_factory.mktemp("fault-images"), text=300_000, binary=200_000, top=150_000)


@pytest.fixture
def stored(ls, three, tmp_path) -> tuple[Path, dict[str, bytes]]:
    """A store holding v0, v1, v2, and each image's export made before any damage."""
    store = tmp_path / "s"
    assert ls("store", "init", "--store", store).rc == 0
    assert ls("store", "add", "--store", store, *three).rc == 0
    return store, _exports(ls, store, ["v0", "v1", "v2"], tmp_path / "before")


def _exports(ls, store: Path, names: list[str], folder: Path) -> dict[str, bytes]:
    folder.mkdir(exist_ok=True)
    out = {}
    for name in names:
        path = folder / f"{name}.tar"
        res = ls("store", "export", "--store", store, name, "-o", path, "--force")
        assert res.rc == 0, res.err
        out[name] = path.read_bytes()
    return out


def _top_frame(store: Path) -> tuple[Path, int, int, str]:
    """(pack file, frame offset, frame length, diff_id) of v2's own top layer's first content chunk."""
    db = sqlite3.connect(store / "index.sqlite")
    try:
        (diff_id,) = db.execute("SELECT diff_id FROM image_layers WHERE image = 'v2' ORDER BY position DESC").fetchone()
        (content,) = db.execute("SELECT content_ids FROM layers WHERE diff_id = ?", (diff_id,)).fetchone()
        cid = int.from_bytes(content[:8], "little")
        name, fo, fl = db.execute("SELECT p.name, c.frame_offset, c.frame_length FROM chunks c "
                                  "JOIN packs p ON p.id = c.pack WHERE c.id = ?", (cid,)).fetchone()
    finally:
        db.close()
    (pack,) = [p for p in (store / "packs").rglob("*.pack") if p.stem == name]
    return pack, fo, fl, diff_id


def _no_partial(folder: Path) -> None:
    assert not [p.name for p in folder.iterdir()], "an export left something behind"


def _check_damage_named(ls, store: Path, pack: Path, diff_id: str, *, full_only: bool) -> None:
    for args in ([], ["--full"]):
        res = ls("store", "verify", "--store", store, *args)
        if full_only and not args:
            continue  # the fast check compares sizes and offsets; only --full reads the bytes
        assert res.rc == 1, (args, res.out, res.err)
        damaged = [l for l in res.out.splitlines() if l.startswith("damaged:")]
        assert damaged and all(pack.stem in l or diff_id in l for l in damaged), res.out
        first = damaged[0]
        assert pack.stem in first and diff_id in first and "v2" in first, first
        assert "v0" not in res.out and "v1" not in res.out, res.out


def _check_exports(ls, store: Path, before: dict[str, bytes], out: Path) -> None:
    """v2 fails to export with one line and no output; v0 and v1 still come back bit for bit."""
    out.mkdir()
    for fmt in ("docker-archive", "oci-dir"):
        res = ls("store", "export", "--store", store, "v2", "-o", out / "v2.tar", "--format", fmt)
        assert res.rc == 2 and len(res.err_lines) == 1 and "internal error" not in res.err, res.err
        assert "pack" in res.err or "damaged" in res.err or "match" in res.err, res.err
        _no_partial(out)
    assert _exports(ls, store, ["v0", "v1"], out / "after") == {k: before[k] for k in ("v0", "v1")}


def test_a_flipped_bit_in_a_frame(ls, stored, tmp_path):
    store, before = stored
    pack, fo, fl, diff_id = _top_frame(store)
    data = bytearray(pack.read_bytes())
    data[fo + fl // 2] ^= 0x04
    pack.write_bytes(bytes(data))
    _check_damage_named(ls, store, pack, diff_id, full_only=True)
    _check_exports(ls, store, before, tmp_path / "out")


def test_a_truncated_pack(ls, stored, tmp_path):
    store, before = stored
    pack, fo, fl, diff_id = _top_frame(store)
    with open(pack, "r+b") as f:
        f.truncate(fo + fl // 2)
    _check_damage_named(ls, store, pack, diff_id, full_only=False)
    _check_exports(ls, store, before, tmp_path / "out")


def _root_pages(index: Path, tables: list[str]) -> list[int]:
    db = sqlite3.connect(index)
    try:
        return [db.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (t,)).fetchone()[0] for t in tables]
    finally:
        db.close()


@pytest.mark.parametrize("tables", [["meta"], ["chunks"], ["images", "layers"]])
def test_a_broken_index_page(ls, three, stored, tmp_path, tables):
    """Garbage over a table's b-tree page (never page 1, the header): every command that meets it
    says so in one line with exit 2 (sqlite's "malformed" is a LayerscopeError, not a traceback),
    and verify says the index is damaged."""
    store, _before = stored
    index = store / "index.sqlite"
    assert not (store / "index.sqlite-wal").exists() or (store / "index.sqlite-wal").stat().st_size == 0
    page = 4096
    data = bytearray(index.read_bytes())
    for root in _root_pages(index, tables):
        assert root > 1
        at = (root - 1) * page
        data[at:at + page] = bytes([0xA5]) * page
    index.write_bytes(bytes(data))
    failed = 0
    for args in (["ls"], ["stats"], ["export", "v2", "-o", tmp_path / "x.tar"], ["rm", "v1"], ["gc"],
                 ["add", three[0]]):
        res = ls("store", args[0], "--store", store, *args[1:])
        if res.rc == 0:
            continue  # this command never reads the damaged table
        failed += 1
        assert res.rc == 2 and len(res.err_lines) == 1 and "internal error" not in res.err, (args, res.err)
        assert "store index is damaged" in res.err and "malformed" in res.err, (args, res.err)
    assert failed >= 3
    assert not (tmp_path / "x.tar").exists()
    for args in ([], ["--full"]):
        res = ls("store", "verify", "--store", store, *args)
        if tables == ["meta"]:  # the store cannot even be opened: verify says so as every command does
            assert res.rc == 2 and len(res.err_lines) == 1 and "store index is damaged" in res.err, res.err
        else:
            assert res.rc == 1 and res.out.startswith("damaged: index index.sqlite: damaged ("), res.out


# ---- a full disk ----------------------------------------------------------------------------------

def _limited(limit: int):
    def preexec() -> None:  # Python ignores SIGXFSZ: a write past the limit fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return preexec


def _cli(*args, limit: int | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "layerscope", *map(str, args)], capture_output=True, text=True,
                          timeout=I.TIMEOUT, preexec_fn=_limited(limit) if limit else None)


def _big_layout(path: Path, *, files: int, size: int, seed: int) -> str:
    """An image of ``files`` incompressible files of ``size`` bytes (big packs) or, with tiny
    text files, many chunks in few pack bytes (a big index commit)."""
    body = [("file", f"d/f{k}", I.rand_bytes(size, seed + k) if size > 4096 else I.text_bytes(size, seed + k))
            for k in range(files)]
    layer = I.make_tar(body)
    lay = I.OCILayout(path)
    d = lay.blob(layer, I.OCI_LAYER)
    lay.add_ref(lay.image([d], I.make_config([I.sha256(layer)])), "big")
    lay.finish()
    return f"{path}:big"


@pytest.mark.parametrize("what", ["pack", "index"])
def test_a_full_disk_during_add(ls, stored, tmp_path, what):
    """A file size limit (RLIMIT_FSIZE) hit while `store add` writes its pack, or while SQLite
    writes the commit: exit 2 with one line, nothing half-visible, the images stored before
    intact and bit-exact, verify passes, and the same add without the limit completes."""
    store, before = stored
    if what == "pack":  # 3 MB of random bytes: the pack passes 1 MB
        spec = _big_layout(tmp_path / "big", files=3, size=1_000_000, seed=50)
    else:  # 4,000 tiny files: a few KB of pack, hundreds of KB of index pages
        spec = _big_layout(tmp_path / "big", files=4000, size=40, seed=60)
    limit = 1 << 20 if what == "pack" else max(128 << 10, (store / "index.sqlite").stat().st_size + 4096)
    listed = _cli("store", "ls", "--store", store).stdout
    res = _cli("store", "add", "--store", store, spec, limit=limit)
    err = [l for l in res.stderr.splitlines() if l.strip()]
    assert res.returncode == 2 and len(err) == 1, res.stderr
    assert "internal error" not in res.stderr and "Traceback" not in res.stderr
    assert "file too large" in res.stderr.lower() or "no space" in res.stderr.lower(), res.stderr
    assert ("index.sqlite: store index: disk I/O error: file too large" in res.stderr) == (what == "index")
    assert _cli("store", "ls", "--store", store).stdout == listed
    check = _cli("store", "verify", "--store", store, "--full")
    assert check.returncode == 0, check.stdout + check.stderr
    assert _exports(ls, store, ["v0", "v1", "v2"], tmp_path / "after") == before
    again = _cli("store", "add", "--store", store, spec)
    assert again.returncode == 0, again.stderr
    assert "big" in _cli("store", "ls", "--store", store).stdout
    assert _cli("store", "verify", "--store", store, "--full").returncode == 0


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs (a real ENOSPC); skipped where mounting is not allowed (not root)."""
    where = tmp_path / "disk"
    where.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where)], capture_output=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.decode(errors='replace').strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


@pytest.mark.parametrize("what", ["pack", "index"])
def test_a_full_disk_during_add_on_tmpfs(ls, three, small_disk, tmp_path, what):
    """The same promises on a disk that is really full (ENOSPC, "No space left on device"): for the
    pack, and for the SQLite commit (a filler leaves room for the small pack, not the index pages)."""
    store = small_disk / "s"
    assert ls("store", "init", "--store", store).rc == 0
    assert ls("store", "add", "--store", store, three[0]).rc == 0
    before = _exports(ls, store, ["v0"], tmp_path / "before")
    if what == "pack":
        spec = _big_layout(tmp_path / "big", files=5, size=1_000_000, seed=70)
    else:
        spec = _big_layout(tmp_path / "big", files=4000, size=40, seed=80)
        st = os.statvfs(small_disk)
        (small_disk / "filler").write_bytes(b"\0" * (st.f_bavail * st.f_frsize - (200 << 10)))
    listed = _cli("store", "ls", "--store", store).stdout
    res = _cli("store", "add", "--store", store, spec)
    err = [l for l in res.stderr.splitlines() if l.strip()]
    assert res.returncode == 2 and len(err) == 1 and "internal error" not in res.stderr, res.stderr
    assert "no space left on device" in res.stderr.lower(), res.stderr
    assert ("index.sqlite: no space left on device: the store index cannot grow" in res.stderr) == (what == "index")
    (small_disk / "filler").unlink(missing_ok=True)
    assert _cli("store", "ls", "--store", store).stdout == listed
    check = _cli("store", "verify", "--store", store, "--full")
    assert check.returncode == 0, check.stdout + check.stderr
    assert _exports(ls, store, ["v0"], tmp_path / "after") == before
    if what == "index":  # room again: the same add completes
        again = _cli("store", "add", "--store", store, spec)
        assert again.returncode == 0, again.stderr
        assert _cli("store", "verify", "--store", store, "--full").returncode == 0


@pytest.mark.parametrize("tamper", ["record-not-an-object", "record-without-layers", "diff-id-path",
                                    "config-digest-path", "layer-entry-not-an-object"])
def test_hostile_index_rows_never_become_paths(ls, stored, tmp_path, tamper):
    """Index rows written by someone else (the index is a file like any other): a digest like
    ``sha256:../../x`` in an image's record, or a record of the wrong shape, fails `store export`
    with one line; nothing is written anywhere (export names files by the digests it computes)."""
    import json

    store, _before = stored
    db = sqlite3.connect(store / "index.sqlite")
    (record,) = db.execute("SELECT record FROM images WHERE name = 'v1'").fetchone()
    rec = json.loads(record)
    evil = "sha256:../../../../evil"
    if tamper == "record-not-an-object":
        rec = ["v1"]
    elif tamper == "record-without-layers":
        del rec["layers"]
    elif tamper == "layer-entry-not-an-object":
        rec["layers"][0] = "sha256:" + "0" * 64
    elif tamper == "diff-id-path":
        real = rec["layers"][1]["diff_id"]
        db.execute("INSERT INTO layers (diff_id, size, pairs, structure_ids, content_ids, xxh3) SELECT ?, size, "
                   "pairs, structure_ids, content_ids, xxh3 FROM layers WHERE diff_id = ?", (evil, real))
        rec["layers"][1]["diff_id"] = evil
        db.execute("UPDATE image_layers SET diff_id = ? WHERE image = 'v1' AND diff_id = ?", (evil, real))
    else:
        db.execute("INSERT INTO blobs (digest, size, data) SELECT ?, size, data FROM blobs WHERE digest = ?",
                   (evil, rec["config_digest"]))
        rec["config_digest"] = evil
    db.execute("UPDATE images SET record = ? WHERE name = 'v1'", (json.dumps(rec),))
    db.commit()
    db.close()
    out = tmp_path / "out"
    out.mkdir()
    for fmt in ("oci-dir", "docker-archive"):
        res = ls("store", "export", "--store", store, "v1", "-o", out / "x" / "y", "--format", fmt)
        assert res.rc == 2 and len(res.err_lines) == 1 and "internal error" not in res.err, res.err
    assert list(out.iterdir()) == []
    assert not list(tmp_path.rglob("evil")) and not (store.parent.parent / "evil").exists()
    assert ls("store", "export", "--store", store, "v0", "-o", out / "v0.tar").rc == 0  # the rest is fine


def test_a_full_disk_during_gc(ls, tmp_path):
    """gc rewrites a pack whose live chunks are under half its bytes; a file size limit hit while
    it writes the new pack: exit 2 with one line, the kept image intact, and gc without the
    limit then completes."""
    store = tmp_path / "s"
    assert ls("store", "init", "--store", store).rc == 0
    small = I.make_tar([("file", "etc/small", I.rand_bytes(150_000, 91))])
    big = I.make_tar([("file", "srv/big", I.rand_bytes(600_000, 92))])
    lay = I.OCILayout(tmp_path / "lay")
    ds, db = lay.blob(small, I.OCI_LAYER), lay.blob(big, I.OCI_LAYER)
    lay.add_ref(lay.image([ds, db], I.make_config([I.sha256(small), I.sha256(big)])), "both")
    lay.add_ref(lay.image([ds], I.make_config([I.sha256(small)])), "v0")
    lay.finish()
    # "both" first: its one pack holds the small layer, which v0 keeps alive once "both" is gone
    assert ls("store", "add", "--store", store, f"{tmp_path / 'lay'}:both").rc == 0
    assert ls("store", "add", "--store", store, f"{tmp_path / 'lay'}:v0").rc == 0
    before = _exports(ls, store, ["v0"], tmp_path / "before")
    assert ls("store", "rm", "--store", store, "both").rc == 0
    res = _cli("store", "gc", "--store", store, limit=64 << 10)
    err = [l for l in res.stderr.splitlines() if l.strip()]
    assert res.returncode == 2 and len(err) == 1 and "internal error" not in res.stderr, res.stderr
    assert "file too large" in res.stderr.lower(), res.stderr
    assert _cli("store", "verify", "--store", store, "--full").returncode == 0
    assert _exports(ls, store, ["v0"], tmp_path / "after") == before
    done = _cli("store", "gc", "--store", store)
    assert done.returncode == 0 and "1 rewritten" in done.stdout, done.stdout + done.stderr
    assert _exports(ls, store, ["v0"], tmp_path / "again") == before
