"""`savings`: what layer, ChainID, file and chunk sharing store, against values computed here.

The images (``savings_images.py``) share a base, built with umoci; the
``naive``, ``layer`` and ``file`` totals must equal the values computed from
the manifests and the layer tars (read with ``tarfile``), per image too, and
the acceptance cases of issue #10 must show: a middle layer rebuilt with new
mtimes shares no layer but every file; a big file changed by one byte or with
a MiB appended is a new file, but nearly all of its chunks are shared.
"""

from __future__ import annotations

import json

import pytest

import images as I
import savings_images as SI
import layerscope
from conftest import TAR_BACKENDS
from layerscope.report.savings_out import savings_doc

pytestmark = pytest.mark.interop


@pytest.fixture(scope="session")
def oracle(simg):
    return SI.oracle(simg.layout)


@pytest.fixture(scope="session")
def report(simg):
    return layerscope.savings(simg.args())


def test_totals_equal_the_manifests_and_file_contents(report, oracle):
    assert report.naive == oracle["naive"]
    assert report.totals["layer"] == oracle["layer"]
    assert report.totals["file"] == oracle["file"]


def test_levels_are_ordered(report):
    t = report.totals
    assert t["chunk"] <= t["file"] <= t["layer"] <= t["chainid"] <= report.naive
    assert t["chunk"] < t["file"] < t["layer"] < report.naive  # each level saves something here


def test_per_image_sizes(report, oracle):
    for k, tag in enumerate(SI.TAGS):
        levels = report.per_image[k].levels
        sizes = oracle["layer_sizes"]
        assert levels["layer"].bytes == sum(sizes[d] for d in oracle["diff_ids"][tag])
        assert levels["file"].bytes == sum(oracle["files"][tag].values())
        for lv in levels.values():
            assert 0 <= lv.shared <= lv.bytes
        assert 0 < levels["chunk"].bytes <= levels["file"].bytes <= levels["layer"].bytes


def test_rebuilt_layer_shares_every_file_but_no_layer(report, oracle):
    k = SI.TAGS.index("rebuilt")
    levels = report.per_image[k].levels
    mid = sum(len(d) for d in SI.MID_FILES.values())
    rebuilt_mid = oracle["diff_ids"]["rebuilt"][-1]
    assert rebuilt_mid not in oracle["diff_ids"]["one"]  # the mtimes broke layer sharing
    assert levels["layer"].unique == oracle["layer_sizes"][rebuilt_mid]
    assert levels["file"].unique == 0  # every file is somewhere else
    assert levels["file"].bytes >= mid


@pytest.mark.parametrize("tag, new", [("onebyte", 0), ("append", 1 << 20)])
def test_chunks_catch_what_files_miss(report, tag, new):
    k = SI.TAGS.index(tag)
    levels = report.per_image[k].levels
    assert levels["file"].unique >= SI.BIG  # a new file to file-level dedup
    max_chunk = 4 * report.avg_chunk
    assert new <= levels["chunk"].unique <= new + 2 * max_chunk  # the chunks around the change, no more
    assert levels["chunk"].shared >= SI.BIG - 2 * max_chunk  # the rest of the big file is found elsewhere


def test_matrix(report, oracle):
    n = len(SI.TAGS)
    for name in ("layer", "chunk"):
        m = report.matrix[name]
        for i in range(n):
            for j in range(n):
                assert m[i][j] == m[j][i]
            assert m[i][i] == report.per_image[i].levels[name].bytes
    one, two = SI.TAGS.index("one"), SI.TAGS.index("two")
    d = oracle["diff_ids"]
    assert report.matrix["layer"][one][two] == sum(oracle["layer_sizes"][x] for x in set(d["one"]) & set(d["two"]))


def test_top_layers(report, oracle):
    base = oracle["diff_ids"]["one"][0]
    assert report.top_layers[0].diff_id == base and report.top_layers[0].images == list(range(len(SI.TAGS)))


def test_rebuilt_layer_is_a_near_miss(report, oracle):
    from layerscope.analysis.near_miss import SAME_BUT_MTIMES

    mid, rebuilt = oracle["diff_ids"]["one"][1], oracle["diff_ids"]["rebuilt"][1]
    found = [m for m in report.near_misses if {m.a, m.b} == {mid, rebuilt}]
    assert len(found) == 1, report.near_misses
    m = found[0]
    assert m.cause == SAME_BUT_MTIMES and m.changed == 0
    assert m.common == sum(map(len, SI.MID_FILES.values())) and m.share == 1.0
    # the big file's edits share no content with the original: not near misses of the base
    assert all(oracle["diff_ids"]["one"][0] not in (x.a, x.b) for x in report.near_misses)


@pytest.mark.parametrize("ls", TAR_BACKENDS, indirect=True)
def test_cli_json_is_the_report(ls, simg, report):
    doc = ls("savings", "--json", *simg.args()).json()
    assert doc == json.loads(json.dumps(savings_doc(report)))
    assert doc["schema"] == "layerscope.savings/1"
    assert set(doc["totals"]) == {"naive", "layer", "chainid", "file", "chunk"}
    assert [im["name"] for im in doc["images"]] == simg.args()


def test_cli_text(ls, simg, oracle):
    res = ls("savings", *simg.args())
    assert res.rc == 0, res.err
    assert "near misses" in res.out and "same files, new mtimes" in res.out
    assert "in common (chunk level)" in res.out


def test_all_images_and_a_directory(ls, simg, report, tmp_path):
    # the layout holds more tags than the five: --all-images takes every one of them
    doc = ls("savings", "--json", "--all-images", simg.layout).json()
    names = [im["name"] for im in doc["images"]]
    assert set(simg.args()) <= set(names) and doc["totals"]["chunk"]["bytes"] == report.totals["chunk"]  # the extra tags add no content
    d = tmp_path / "many"
    d.mkdir()
    (d / "notes.txt").write_text("not an image\n")
    (d / "x").symlink_to(simg.layout)
    doc = ls("savings", "--json", "--all-images", d).json()
    assert len(doc["images"]) == len(names)


@pytest.mark.parametrize("args, words", [
    (["/nonexistent.tar"], "nonexistent"),
    (["--avg-chunk", "7"], "chunk"),
])
def test_bad_input_is_one_line(ls, simg, args, words):
    argv = args if args[0].startswith("/") else [*args, *simg.args()[:1]]
    res = ls("savings", *argv)
    assert res.rc == 2 and words in res.err and len(res.err.strip().splitlines()) == 1, res.err


@pytest.fixture(scope="session")
def compressed_oracle(simg):
    return SI.compressed_oracle(simg.layout)


def test_compressed_figures_all_compressed(simg, compressed_oracle):
    want = compressed_oracle
    r = layerscope.savings(simg.args(), sample=1)
    got = r.compressed
    assert abs(got["layer"] - want["layer"]) <= 0.01 * want["layer"]  # the same stream, fed in pieces
    assert abs(got["file"] - want["file"]) <= 0.05 * want["file"]  # files compressed a chunk at a time
    assert got["chunk"] <= got["file"] and got["layer"] <= got["chainid"] <= got["naive"]
    assert got["layer"] < r.totals["layer"] - 100_000  # the text file compresses: not a copy of the sizes


def test_compressed_figures_sampled_within_5_percent(report, compressed_oracle):
    """The default compresses 1/32 of the chunks (and these layers' streams whole: each fits in the
    2 MiB head the sample always measures); the issue allows a sample within 5%."""
    for level in ("layer", "file"):
        want = compressed_oracle[level]
        assert abs(report.compressed[level] - want) <= 0.05 * want, level
    assert report.compressed["chunk"] <= report.compressed["file"]


def test_chainid_counts_a_layer_once_per_parent_chain(tmp_path):
    """The same layer on another parent is one blob to a registry, two to a runtime's layer store."""
    l1 = I.make_tar([("file", "a", I.rand_bytes(5000, 1))])
    l2 = I.make_tar([("file", "b", I.rand_bytes(7000, 2)), ("file", "c", I.rand_bytes(100, 3))])
    lay = I.OCILayout(tmp_path / "img")
    d1, d2 = lay.blob(l1, I.OCI_LAYER), lay.blob(l2, I.OCI_LAYER)
    lay.add_ref(lay.image([d1, d2], I.make_config([I.sha256(l1), I.sha256(l2)])), "x")
    lay.add_ref(lay.image([d2], I.make_config([I.sha256(l2)])), "y")
    lay.finish()
    r = layerscope.savings([f"{tmp_path / 'img'}:x", f"{tmp_path / 'img'}:y"])
    assert r.naive == len(l1) + 2 * len(l2)
    assert r.totals["layer"] == len(l1) + len(l2)
    assert r.totals["chainid"] == len(l1) + 2 * len(l2)
    assert r.totals["file"] == 5000 + 7000 + 100
    x, y = r.per_image
    assert (x.levels["layer"].shared, y.levels["layer"].unique) == (len(l2), 0)
    assert (x.levels["chainid"].shared, y.levels["chainid"].unique) == (0, len(l2))
    assert r.matrix["layer"][0][1] == len(l2)
    assert r.near_misses == []


def test_a_corrupt_layer_is_one_line(ls, tmp_path):
    l1 = I.make_tar([("file", "a", I.rand_bytes(5000, 1))])
    lay = I.OCILayout(tmp_path / "img")
    d1 = lay.blob(l1, I.OCI_LAYER)
    lay.add_ref(lay.image([d1], I.make_config([I.sha256(l1)])), "x")
    lay.finish()
    blob = tmp_path / "img" / "blobs" / "sha256" / d1["digest"].split(":")[1]
    data = bytearray(blob.read_bytes())
    data[700] ^= 1
    blob.write_bytes(bytes(data))
    res = ls("savings", f"{tmp_path / 'img'}:x")
    assert res.rc == 2 and len(res.err_lines) == 1 and "digest" in res.err, res.err


def test_a_tampered_copy_in_another_layout_is_caught(ls, tmp_path):
    """A blob both images name is read once; the other layout's copy of it must still be its
    digest's bytes (checked at the end of the pass, beside the last layers)."""
    l1 = I.make_tar([("file", "a", I.rand_bytes(50_000, 1))])
    l2 = I.make_tar([("file", "b", I.rand_bytes(9000, 2))])
    for name in ("one", "two"):
        lay = I.OCILayout(tmp_path / name)
        d1, d2 = lay.blob(l1, I.OCI_LAYER), lay.blob(l2, I.OCI_LAYER)
        lay.add_ref(lay.image([d1, d2] if name == "one" else [d1], I.make_config(
            [I.sha256(l1), I.sha256(l2)] if name == "one" else [I.sha256(l1)])), "x")
        lay.finish()
    args = [f"{tmp_path / 'one'}:x", f"{tmp_path / 'two'}:x"]
    assert ls("savings", *args).rc == 0
    blob = tmp_path / "two" / "blobs" / "sha256" / d1["digest"].split(":")[1]
    data = bytearray(blob.read_bytes())
    data[600] ^= 1
    blob.write_bytes(bytes(data))
    res = ls("savings", *args)
    assert res.rc == 2 and len(res.err_lines) == 1 and "digest" in res.err and "two" in res.err, res.err
    assert ls("savings", "--no-verify", *args).rc == 0  # asked not to check
