"""The layer cache: a hit gives the report a cold run gives, and is never trusted blindly.

The suite runs with the cache off (conftest); these tests turn it on with
LAYERSCOPE_CACHE pointing at their own directory.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import images as I
from layerscope import inspect
from layerscope.errors import DigestMismatchError
from layerscope.layer import cache as C
from layerscope.layer.cache import ScanCache

def _cached_files(root: Path) -> list[Path]:
    """The scan entries under ``root`` (not the records of blobs seen hashed: test_cache_seen.py)."""
    return sorted(p for p in root.rglob("*") if p.is_file() and p.read_bytes()[:8] != b"LSSEEN\n\0")


def _run(ls, cache_dir: Path | None, *argv) -> tuple[int, str, str]:
    env = dict(ls.env)
    env["LAYERSCOPE_CACHE"] = str(cache_dir) if cache_dir else "off"
    p = subprocess.run(ls.cmd + [str(a) for a in argv], capture_output=True, text=True, env=env,
                       stdin=subprocess.DEVNULL, timeout=I.TIMEOUT)
    return p.returncode, p.stdout, p.stderr


def _docs(arg: str, cache, verify: bool) -> object:
    """inspect, changes and ls -R documents of an image, or the error a run ends with."""
    from layerscope.analysis.view import changes, merged_view
    from layerscope.errors import LayerscopeError
    from layerscope.report.json_out import changes_doc, inspect_doc, ls_doc

    try:
        kw = {"verify": verify, "cache": cache}
        view = merged_view(arg, **kw)
        rows = [(p, view.tree.nodes[p]) for p in view.tree.walk("")]
        return json.dumps([inspect_doc(inspect(arg, **kw)), changes_doc(changes(arg, **kw)), ls_doc(view, rows)])
    except LayerscopeError as e:
        return f"error: {e}"


def _cold_then_warm(arg: str, cache_dir: Path) -> None:
    for verify in (True, False):
        cold = _docs(arg, False, verify)
        store = ScanCache(str(cache_dir))
        first = _docs(arg, store, verify)   # fills the cache (when verifying)
        warm = _docs(arg, store, verify)    # reads it
        assert first == cold, (arg, verify)
        assert warm == cold, (arg, verify)
        if verify and not cold.startswith("error"):
            assert store.hits > 0, arg


def test_hit_gives_the_cold_report_on_every_format(py_images, multi_image, multi_platform, tmp_path):
    cache_dir = tmp_path / "cache"
    args = [exp.arg for exp in py_images.values()]
    args += [f"{multi_image.path}:{tag}" for tag in multi_image.order]
    args += [exp.arg for exp in multi_platform.platforms.values() if not exp.extra_args]
    for arg in args:
        _cold_then_warm(arg, cache_dir)
    assert len(_cached_files(cache_dir)) >= len(py_images)


def test_hit_gives_the_cold_report_on_tool_built_images(tool_variants, tmp_path):
    """Including the variant skopeo breaks (a wrong diff_id): same error, warm or cold."""
    for name, v in tool_variants.items():
        _cold_then_warm(v.arg, tmp_path / "cache")


def test_hit_gives_the_cold_report_on_random_stacks(random_image, tmp_path):
    """Hardlinks, whiteouts, opaque dirs, xattrs, devices: every Entry field survives the round trip."""
    cache_dir = tmp_path / "cache"
    tags = sorted(random_image.tags)
    for tag in tags[:: max(1, len(tags) // 15)]:
        _cold_then_warm(random_image.arg(tag), cache_dir)


def test_compare_hit_gives_the_cold_result(cimg, tmp_path):
    """compare reads package databases from the bytes a scan kept: a hit must carry them,
    whichever command wrote the entry."""
    from layerscope import compare
    from layerscope.report.compare_out import compare_doc

    a, b = cimg.arg("a"), cimg.arg("b")
    cold = compare_doc(compare(a, b, cache=False))
    assert cold["packages"]["added"] and cold["packages"]["changed"]
    for first in ("compare", "inspect"):
        cache_dir = tmp_path / first
        store = ScanCache(str(cache_dir))
        if first == "inspect":
            inspect(a, cache=store)
            inspect(b, cache=store)
        else:
            assert compare_doc(compare(a, b, cache=store)) == cold
        assert len(_cached_files(cache_dir)) == 4  # base, a's layer, b's two: the shared one once
        warm_store = ScanCache(str(cache_dir))
        assert compare_doc(compare(a, b, cache=warm_store)) == cold
        assert (warm_store.hits, warm_store.misses) == (4, 0)
        assert compare_doc(compare(b, a, cache=warm_store))["packages"]["removed"] == cold["packages"]["added"]


def test_cli_hit_gives_the_cold_output(ls, py_images, tmp_path):
    cache_dir = tmp_path / "cache"
    for name in ("legacy-docker", "docker25", "zstd-frames"):
        arg = py_images[name].arg
        for cmd in (("inspect",), ("inspect", "--json"), ("changes",), ("ls", "-R", "--json"),
                    ("compare", "--json", py_images["docker25"].arg), ("compare",  py_images["legacy-docker"].arg)):
            cold = _run(ls, None, *cmd, arg)
            first = _run(ls, cache_dir, *cmd, arg)
            warm = _run(ls, cache_dir, *cmd, arg)
            assert cold[0] == 0, cold[2]
            assert first == cold == warm, (name, cmd)


def test_api_counts_hits_and_entries_round_trip(tmp_path):
    exp = I.build_simple_oci_layout(tmp_path / "img", compress="gzip")
    store = ScanCache(str(tmp_path / "cache"))
    cold = inspect(exp.arg, cache=False, keep_entries=True)
    first = inspect(exp.arg, cache=store, keep_entries=True)
    assert (store.hits, store.misses) == (0, 3)
    warm = inspect(exp.arg, cache=store, keep_entries=True)
    assert (store.hits, store.misses) == (3, 3)
    for a, b, c in zip(cold.layers, first.layers, warm.layers):
        assert a.files == b.files == c.files
        assert (a.digest, a.diff_id, a.size, a.entries) == (c.digest, c.diff_id, c.size, c.entries)
    assert cold.wasted_bytes == warm.wasted_bytes and cold.efficiency == warm.efficiency


def test_unverified_scans_are_not_written(tmp_path):
    exp = I.build_simple_oci_layout(tmp_path / "img", compress="zstd")
    inspect(exp.arg, verify=False, cache=str(tmp_path / "cache"))
    assert _cached_files(tmp_path / "cache") == []


@pytest.mark.parametrize("damage", ["flip-body", "flip-header", "truncate", "garbage", "empty", "version"])
def test_a_damaged_entry_is_ignored_and_rebuilt(tmp_path, damage):
    exp = I.build_simple_oci_layout(tmp_path / "img", compress="gzip")
    cache_dir = tmp_path / "cache"
    cold = inspect(exp.arg, cache=False, keep_entries=True)
    inspect(exp.arg, cache=str(cache_dir))
    files = _cached_files(cache_dir)
    assert len(files) == 3
    for f in files:
        data = bytearray(f.read_bytes())
        if damage == "flip-body":
            data[-40] ^= 0x01
        elif damage == "flip-header":
            data[20] ^= 0x20
        elif damage == "truncate":
            data = data[: len(data) // 2]
        elif damage == "garbage":
            data = bytearray(os.urandom(len(data)))
        elif damage == "empty":
            data = bytearray()
        elif damage == "version":  # a valid-looking entry of another format version
            data[8] = C.SCAN_FORMAT + 1
            body = bytes(data[:-16])
            from xxhash import xxh3_128_digest
            data = bytearray(body + xxh3_128_digest(body))
        f.write_bytes(bytes(data))
    store = ScanCache(str(cache_dir))
    again = inspect(exp.arg, cache=store, keep_entries=True)
    assert store.hits == 0 and store.rejected == 3
    assert [l.files for l in again.layers] == [l.files for l in cold.layers]
    # rebuilt: the next run hits
    store2 = ScanCache(str(cache_dir))
    inspect(exp.arg, cache=store2)
    assert store2.hits == 3


def test_a_foreign_entry_is_not_trusted(tmp_path):
    """An intact entry of another layer, moved under this layer's name, is a miss."""
    exp = I.build_simple_oci_layout(tmp_path / "img", compress="gzip")
    cache_dir = tmp_path / "cache"
    store = ScanCache(str(cache_dir))
    inspect(exp.arg, cache=store)
    keys = [l.digest for l in exp.layers]
    a, b = (Path(store.path_for(k)) for k in keys[:2])
    shutil.copyfile(a, b)
    assert store.get(keys[1]) is None and store.rejected == 1
    assert store.get(keys[0]) is not None


def test_a_hit_still_verifies_the_blob(tmp_path, ls):
    exp = I.build_simple_oci_layout(tmp_path / "img", compress="none")
    cache_dir = tmp_path / "cache"
    inspect(exp.arg, cache=str(cache_dir))
    # same name, other bytes: the blob no longer hashes to its digest
    blob = tmp_path / "img" / "blobs" / "sha256" / I.hexof(exp.layers[0].digest)
    data = bytearray(blob.read_bytes())
    data[700] ^= 0xFF
    blob.write_bytes(bytes(data))
    store = ScanCache(str(cache_dir))
    with pytest.raises(DigestMismatchError, match="blob digest mismatch"):
        inspect(exp.arg, cache=store)
    assert store.hits >= 1
    env = dict(ls.env, LAYERSCOPE_CACHE=str(cache_dir))
    p = subprocess.run(ls.cmd + ["inspect", exp.arg], capture_output=True, text=True, env=env)
    assert p.returncode == 2 and "blob digest mismatch" in p.stderr and len(p.stderr.splitlines()) == 1


def test_a_legacy_layer_hit_checks_its_diff_id(tmp_path):
    """Legacy docker-archive layers have no blob digest: they are cached under their diff_id."""
    exp = I.build_legacy_docker_archive(tmp_path / "legacy.tar", "docker")
    cache_dir = tmp_path / "cache"
    store = ScanCache(str(cache_dir))
    inspect(exp.arg, cache=store)
    assert store.misses == 3 and len(_cached_files(cache_dir)) == 3
    store = ScanCache(str(cache_dir))
    warm = inspect(exp.arg, cache=store)
    assert store.hits == 3
    assert [l.diff_id for l in warm.layers] == [l.diff_id for l in exp.layers]


def test_an_unwritable_cache_costs_nothing_but_speed(tmp_path):
    exp = I.build_simple_oci_layout(tmp_path / "img", compress="gzip")
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    report = inspect(exp.arg, cache=str(blocker / "cache"))
    assert len(report.layers) == 3


def test_size_cap_evicts_least_recently_used(tmp_path):
    exp = I.build_simple_oci_layout(tmp_path / "img", compress="gzip")
    cache_dir = tmp_path / "cache"
    inspect(exp.arg, cache=str(cache_dir))
    sizes = sorted(f.stat().st_size for f in _cached_files(cache_dir))
    # room for the two smallest entries only
    store = ScanCache(str(cache_dir), max_bytes=sizes[0] + sizes[1])
    freed = store.prune()
    assert freed > 0
    left = _cached_files(cache_dir)
    assert sum(f.stat().st_size for f in left) <= sizes[0] + sizes[1]
    assert 0 < len(left) < 3


def test_cache_off_by_flag_and_by_env(ls, tmp_path):
    exp = I.build_simple_oci_layout(tmp_path / "img", compress="gzip")
    cache_dir = tmp_path / "cache"
    env = dict(ls.env, LAYERSCOPE_CACHE=str(cache_dir))
    p = subprocess.run(ls.cmd + ["inspect", "--no-cache", exp.arg], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    assert not cache_dir.exists()
    p = subprocess.run(ls.cmd + ["inspect", exp.arg], capture_output=True, text=True, env=env)
    assert p.returncode == 0 and len(_cached_files(cache_dir)) == 3


_RACE = r"""
import sys
from layerscope import inspect
from layerscope.layer.cache import ScanCache
arg, cache_dir, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
out = []
for _ in range(rounds):
    store = ScanCache(cache_dir, max_bytes=int(sys.argv[4]))
    r = inspect(arg, cache=store)
    out.append((r.wasted_bytes, [l.diff_id for l in r.layers], [l.entries for l in r.layers]))
assert all(o == out[0] for o in out), out
print(repr(out[0]))
"""


def test_concurrent_runs_share_a_cache(tmp_path):
    """Writers racing (and a cap small enough to make them evict each other) never break a reader."""
    exp = I.build_simple_oci_layout(tmp_path / "img", compress="gzip")
    cold = inspect(exp.arg, cache=False)
    want = repr((cold.wasted_bytes, [l.diff_id for l in cold.layers], [l.entries for l in cold.layers]))
    cache_dir = tmp_path / "cache"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    for cap in (1 << 30, 6000):
        procs = [subprocess.Popen([sys.executable, "-c", _RACE, exp.arg, str(cache_dir), "6", str(cap)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
                 for _ in range(4)]
        for p in procs:
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
            assert out.strip() == want
    assert not [f for f in _cached_files(cache_dir) if f.name.startswith(".tmp-")]


def test_cache_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LAYERSCOPE_CACHE", str(tmp_path / "c"))
    assert C.default_dir() == str(tmp_path / "c")
    for off in ("off", "0", ""):
        monkeypatch.setenv("LAYERSCOPE_CACHE", off)
        assert C.default_dir() is None and ScanCache.default() is None
    monkeypatch.delenv("LAYERSCOPE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert C.default_dir() == str(tmp_path / "xdg" / "layerscope")
    monkeypatch.setenv("LAYERSCOPE_CACHE_MAX", "10MB")
    assert ScanCache(str(tmp_path)).max_bytes == 10_000_000


def test_keys_never_become_paths(tmp_path):
    store = ScanCache(str(tmp_path / "c"))
    p = store.path_for("sha256:../../../etc/passwd")
    assert os.path.commonpath([p, store.dir]) == store.dir


@pytest.mark.parametrize("n, codec", [(5, "none"), (4000, "zstd")])
def test_small_bodies_are_stored_raw_big_ones_zstd(tmp_path, n, codec):
    """A small layer's entry is read back without zstandard (start-up); a big one is compressed."""
    from layerscope.layer.entry import Entry
    from layerscope.layer.scan import LayerScan

    entries = [Entry(f"usr/share/doc/package-{i}/copyright", "file", i, 0o644, 0, 0, 1.5e9, digest=bytes(16),
                     header_offset=i * 1024, data_offset=i * 1024 + 512, raw_name=f"./usr/share/doc/package-{i}/copyright",
                     data_size=i) for i in range(n)]
    entries[0].defects = ("path-escape",)
    scan = LayerScan(1 << 20, "gzip", n, "sha256:" + "a" * 64, "sha256:" + "b" * 64, entries, ["a defect"])
    store = ScanCache(str(tmp_path / "cache"))
    assert store.put("sha256:" + "a" * 64, scan)
    (path,) = _cached_files(tmp_path / "cache")
    data = path.read_bytes()
    hlen = int.from_bytes(data[12:16], "little")
    assert json.loads(data[16:16 + hlen])["codec"] == codec
    back = store.get("sha256:" + "a" * 64)
    assert back == scan and back.entries == entries
    code = ("import sys; from layerscope.layer.cache import ScanCache; "
            f"s = ScanCache({str(tmp_path / 'cache')!r}).get({'sha256:' + 'a' * 64!r}); "
            "print(s.entry_count, 'zstandard' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == [str(n), str(codec == "zstd")]
