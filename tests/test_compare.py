"""`layerscope compare A B` against what was made and what ``umoci unpack`` shows.

The images (``compare_images.py``) come from one base with umoci; the file
lists of ``compare --json`` must equal a comparison of the two unpacked
rootfs trees computed here with ``lstat`` (type, size, mode, owner, symlink
target, content hash, xattrs), path by path; the config, history and
package differences must be exactly the ones made. Then the invariants: an
image against itself, and a docker-archive against the oci-archive of the
same image (skopeo), differ in nothing; ``--exit-code``, ``--only`` and
``--mtime`` do what they say; both tar readers give the same document.
"""

from __future__ import annotations

import json
import shutil

import pytest

import compare_images as CI
from layerscope.report.compare_out import compare_doc
import images as I
from conftest import TAR_BACKENDS

pytestmark = pytest.mark.interop


@pytest.fixture(scope="session")
def ab(cimg, ls) -> dict:
    return ls("compare", "--json", cimg.arg("a"), cimg.arg("b")).json()


def test_files_equal_the_unpacked_trees(cimg, ab):
    want = CI.expected_files(CI.rootfs_view(cimg, "a"), CI.rootfs_view(cimg, "b"))
    got = CI.files_of(ab)
    for key in ("added", "removed", "modified"):
        assert got[key] == want[key], key
    # every kind of difference was made, so the comparison above is not vacuous
    changes = {c for _p, cs, _a, _b in got["modified"] for c in cs}
    assert changes == {"type", "content", "link", "mode", "uid", "gid", "xattrs"}, changes
    modified = {p: cs for p, cs, _a, _b in got["modified"]}
    assert modified["/bin/t"] == ("link",) and modified["/data/swap"] == ("type", "mode")  # a 0644 file, a 0755 dir
    assert modified["/etc/chown"] == ("uid", "gid") and modified["/srv"] == ("mode",)
    assert ("/opt/a-only/file", "file", 7000) in got["removed"] and ("/etc/gone", "file", 3000) in got["removed"]


def test_size_summary_adds_up(cimg, ab):
    va, vb = CI.rootfs_view(cimg, "a"), CI.rootfs_view(cimg, "b")
    delta = sum(n[1] for n in vb.values() if n[0] == "file") - sum(n[1] for n in va.values() if n[0] == "file")
    assert ab["summary"]["files"]["size_delta"] == delta
    dirs = {d["path"]: d for d in ab["directories"]}
    # /opt is all /opt/a-only, and so is most of the root's change: neither is listed
    assert dirs["/opt/a-only"]["size_delta"] == -7000 and "/opt" not in dirs and "/" not in dirs
    assert dirs["/etc"]["size_delta"] == 2500 - 3000 + 8 and (dirs["/etc"]["added"], dirs["/etc"]["removed"]) == (1, 1)
    assert [d["size_delta"] for d in ab["directories"]] == sorted((d["size_delta"] for d in ab["directories"]),
                                                                  key=abs, reverse=True)


def test_config_changes_are_the_ones_made(ab):
    got = [(c["field"], c["key"], c["change"], c["a"], c["b"]) for c in ab["config"]["changes"]]
    assert got == CI.CONFIG_CHANGES


def test_history_changes_are_the_ones_made(ab):
    steps = ab["history"]["steps"]
    assert [s["created_by"] for s in steps if s["change"] == "same"] == CI.HISTORY["base"]
    assert [s["created_by"] for s in steps if s["change"] == "removed"] == CI.HISTORY["a"]
    assert [s["created_by"] for s in steps if s["change"] == "added"] == CI.HISTORY["b"]
    assert [s["empty_layer"] for s in steps if s["change"] == "added"] == [False, False, True]


def test_package_changes_are_the_ones_made(ab):
    p = ab["packages"]
    got = sorted([("added", e["type"], e["name"], None, e["version"]) for e in p["added"]]
                 + [("removed", e["type"], e["name"], e["version"], None) for e in p["removed"]]
                 + [("changed", e["type"], e["name"], e["version_a"], e["version_b"]) for e in p["changed"]],
                 key=lambda t: (t[0], t[1], t[2]))
    assert got == sorted(CI.PACKAGES, key=lambda t: (t[0], t[1], t[2]))
    deb = next(e for e in p["added"] if e["type"] == "deb")
    assert deb["size"] == 8 * 1024 and deb["path"] == "/var/lib/dpkg/status" and deb["arch"] == "all"
    wheel = next(e for e in p["added"] if e["type"] == "pypi")
    assert wheel["path"] == "/usr/lib/python3/dist-packages/lsdemo_wheel-0.3.1.dist-info/METADATA"
    libc = next(e for e in p["changed"] if e["name"] == "libc6")
    assert (libc["size_a"], libc["size_b"]) == (12986 * 1024, 12986 * 1024)
    assert p["counts_a"] == {"deb": 3, "npm": 1, "pypi": 1} and p["counts_b"] == {"deb": 3, "npm": 2, "pypi": 2}
    assert p["warnings"] == [f"B: /{CI.BROKEN_PACKAGE_JSON}: not valid JSON (Expecting value: line 1 column 31 "
                             "(char 30)); its package is not compared"]


def test_layers(ab):
    lay = ab["layers"]
    assert lay["shared_prefix"] == 1 and lay["first_divergence"] == 1
    assert [(s["a"], s["b"]) for s in lay["shared"]] == [([0], [0])]
    assert lay["shared_chain_id"] == lay["shared"][0]["diff_id"]  # one layer: its ChainID is its diff_id
    assert [r["index"] for r in lay["only_a"]] == [1] and [r["index"] for r in lay["only_b"]] == [1, 2]
    assert lay["only_a_bytes"] == lay["a"][1]["size"] and lay["only_b_bytes"] == lay["b"][1]["size"] + lay["b"][2]["size"]
    assert lay["shared_bytes"] == lay["a"][0]["size"] == lay["b"][0]["size"]
    assert ab["summary"]["differ"] is True and ab["schema"] == "layerscope.compare/1"


@pytest.mark.parametrize("ls", TAR_BACKENDS, indirect=True)
def test_both_tar_readers_give_the_same_document(cimg, ls, ab):
    assert ls("compare", "--json", cimg.arg("a"), cimg.arg("b")).json() == ab


def _nothing_differs(doc: dict) -> None:
    s = doc["summary"]
    assert s["files"] == {"added": 0, "removed": 0, "modified": 0, "size_delta": 0}
    assert s["packages"] == {"added": 0, "removed": 0, "changed": 0}
    assert doc["layers"]["first_divergence"] is None and not doc["layers"]["only_a"] and not doc["layers"]["only_b"]
    assert doc["directories"] == []


def test_an_image_against_itself(cimg, ls):
    res = ls("compare", "--json", "--exit-code", cimg.arg("b"), cimg.arg("b"))
    assert res.rc == 0, res.err
    doc = json.loads(res.out)
    _nothing_differs(doc)
    assert doc["config"]["changes"] == [] and doc["history"]["added"] == doc["history"]["removed"] == 0
    assert doc["summary"]["differ"] is False
    assert "No differences." in ls("compare", cimg.arg("b"), cimg.arg("b")).out


def test_docker_archive_against_the_oci_archive(cimg, ls, tmp_path):
    if shutil.which("skopeo") is None:
        pytest.skip("skopeo is needed")
    docker = tmp_path / "b.docker.tar"
    oci = tmp_path / "b.oci.tar"
    I.skopeo("copy", f"oci:{cimg.layout}:b", f"docker-archive:{docker}:b:latest")
    I.skopeo("copy", f"oci:{cimg.layout}:b", f"oci-archive:{oci}:b")
    doc = ls("compare", "--json", docker, oci).json()
    _nothing_differs(doc)
    assert doc["a"]["format"] == "docker-archive" and doc["b"]["format"] == "oci-archive"
    assert len(doc["layers"]["shared"]) == 3
    assert [r["diff_id"] for r in doc["layers"]["a"]] == [r["diff_id"] for r in doc["layers"]["b"]]
    # and the docker-archive against the layout it came from: the same files as a against b
    mixed = ls("compare", "--json", cimg.arg("a"), docker).json()
    assert CI.files_of(mixed) == CI.files_of(ls("compare", "--json", cimg.arg("a"), cimg.arg("b")).json())


def test_exit_code(cimg, ls):
    assert ls("compare", cimg.arg("a"), cimg.arg("b")).rc == 0
    assert ls("compare", "--exit-code", cimg.arg("a"), cimg.arg("b")).rc == 1
    assert ls("compare", "--exit-code", "--only", "files", cimg.arg("b"), cimg.arg("b-touch")).rc == 0
    assert ls("compare", "--exit-code", "--only", "files", "--mtime", cimg.arg("b"), cimg.arg("b-touch")).rc == 1


def test_mtime(cimg, ls):
    plain = ls("compare", "--json", cimg.arg("b"), cimg.arg("b-touch")).json()
    assert plain["files"] == {"added": [], "removed": [], "modified": []}
    assert plain["summary"]["differ"] is True  # a layer and a history step more
    timed = ls("compare", "--json", "--mtime", cimg.arg("b"), cimg.arg("b-touch")).json()
    assert [(m["path"], m["changes"]) for m in timed["files"]["modified"]] == [("/etc/keep", ["mtime"])]


def test_only_limits_the_work(cimg, ls, tmp_path):
    """config and history need no layer: with a layer blob corrupted they still work, and the rest fails."""
    broken = tmp_path / "layout"
    shutil.copytree(cimg.layout, broken)
    doc = ls("compare", "--json", cimg.arg("a"), cimg.arg("b")).json()
    blob = broken / "blobs/sha256" / I.hexof(doc["layers"]["b"][2]["digest"])
    data = bytearray(blob.read_bytes())
    data[100] ^= 0xFF  # same size: only reading the blob finds it
    blob.write_bytes(bytes(data))
    only = ls("compare", "--json", "--only", "config,history", f"{broken}:a", f"{broken}:b").json()
    assert only["compared"] == ["config", "history"]
    assert only["layers"] is only["files"] is only["packages"] is only["directories"] is None
    assert only["config"] == doc["config"] and only["history"] == doc["history"]
    assert only["a"]["size"] is None
    full = ls("compare", f"{broken}:a", f"{broken}:b")
    assert full.rc == 2 and len(full.err_lines) == 1 and "layer 2" in full.err
    files = ls("compare", "--json", "--only", "files", cimg.arg("a"), cimg.arg("b")).json()
    assert files["files"] == doc["files"] and files["packages"] is None and files["config"] is None


def test_bad_input_is_one_line(cimg, ls, tmp_path):
    for argv in (["--only", "files,nope"], ["--only", ""]):
        res = ls("compare", *argv, cimg.arg("a"), cimg.arg("b"))
        assert res.rc == 2 and len(res.err_lines) == 1 and "--only" in res.err
    res = ls("compare", cimg.arg("a"), tmp_path / "missing.tar")
    assert res.rc == 2 and len(res.err_lines) == 1 and "missing.tar" in res.err
    res = ls("compare", cimg.arg("a"), f"{cimg.layout}:no-such-tag")
    assert res.rc == 2 and len(res.err_lines) == 1


def test_text_output(cimg, ls):
    out = ls("compare", cimg.arg("a"), cimg.arg("b")).out
    head = out.split("\n\n")[1].splitlines()
    assert head[0].startswith("Layers:    1 shared") and head[1].startswith("Files:     +")
    assert head[2].startswith("Packages:  +3 -1 ~2") and head[3] == "Config:    6 changes"
    assert head[4] == "History:   +3 -2 steps"
    assert "  ~ env FOO: 1 -> 2" in out and "  + deb   lsdemo 1.0-1  (8.2 kB)" in out
    assert "  ~ deb   libc6 2.36-9 -> 2.36-9+deb12u4" in out
    assert f"warning: B: /{CI.BROKEN_PACKAGE_JSON}: not valid JSON" in out
    for line in ("  ~       +8 B  /etc/mod  (content)", "  ~ " + " " * 10 + "  /bin/t  (link)",
                 "Layers:    1 shared (", "shared prefix 1 layer, diverge at layer 1"):
        assert line in out, line


def test_long_lists_are_elided(cimg, ls, monkeypatch):
    from layerscope.report import compare_out

    import layerscope
    report = layerscope.compare(cimg.arg("a"), cimg.arg("b"), cache=False)
    monkeypatch.setattr(compare_out, "LIMIT", 2)
    short = compare_out.compare_text(report)
    assert f"… {len(report.files.added) - 2:,} more (--all shows them)" in short
    full = compare_out.compare_text(report, all_rows=True)
    assert "more (--all" not in full
    for path, _node in report.files.added:
        assert f"  /{path}\n" in full


def test_a_shared_layer_is_read_once(cimg, monkeypatch):
    """One pool for both images: the base layer both share is scanned a single time."""
    import layerscope
    from layerscope.analysis import layers

    read = []
    real = layers.scan

    def counting(stream, **kw):
        read.append(stream.where)
        return real(stream, **kw)

    monkeypatch.setattr(layers, "scan", counting)
    layerscope.compare(cimg.arg("a"), cimg.arg("b"), cache=False, jobs=1)
    assert len(read) == 4 and len(set(read)) == 4  # base, a's layer, b's two


def test_python_api(cimg):
    import layerscope
    r = layerscope.compare(cimg.arg("a"), cimg.arg("b"), cache=False, only=["files", "packages"])
    assert isinstance(r, layerscope.CompareReport) and r.differ
    assert r.sections == ("files", "packages") and r.layers is None
    assert {m.path for m in r.files.modified} >= {"etc/mod", "bin/t", "data/swap"}
    assert [p.name for p in r.packages.added] == ["lsdemo", "@scope/thing", "lsdemo_wheel"]
    img = layerscope.open_image(cimg.arg("b"))
    same = layerscope.compare_images(img, img, cache=False)
    assert not same.differ


def test_random_stacks_against_umoci(random_image, tmp_path):
    """Each random stack's first layer(s) against the whole stack (they share a prefix, so B
    goes on from a copy of A's tree), and the whole stack against its first layer: the file
    lists equal the two ``umoci unpack`` trees compared here (xattrs are not in this oracle)."""
    import overlay_images as O
    import random_stacks as R
    from layerscope import compare
    from layerscope.report.compare_out import compare_doc

    unpacked = O.UnpackCache(tmp_path)
    compared = 0
    for seed in R.SEEDS:
        for n in range(1, R.LAYERS):
            tags = (f"r{seed}-{n}", f"r{seed}-{R.LAYERS}")
            views = [unpacked(random_image, t) for t in tags]
            if any(err for _n, _i, err in views):
                continue  # umoci refuses one of them
            va, vb = ({p: (x.type, x.size, x.mode, x.uid, x.gid, x.link, x.digest, ()) for p, x in nodes.items()}
                      for nodes, _i, _e in views)
            for x, y, wa, wb in ((tags[0], tags[1], va, vb), (tags[1], tags[0], vb, va)):
                got = CI.files_of(compare_doc(compare(random_image.arg(x), random_image.arg(y), cache=False,
                                                      only="files")))
                got["modified"] = [(p, tuple(c for c in cs if c != "xattrs"), sa, sb)
                                   for p, cs, sa, sb in got["modified"] if set(cs) != {"xattrs"}]
                assert got == CI.expected_files(wa, wb), (seed, x, y)
                compared += 1
    assert compared >= len(R.SEEDS)


def test_a_shared_blob_in_another_file_is_still_verified(cimg, ls, tmp_path):
    """A blob both images name is scanned once, but when B's copy is another file (another
    layout or archive) that file is hashed too: a corrupt copy must not pass for the good one."""
    broken = tmp_path / "layout"
    shutil.copytree(cimg.layout, broken)
    doc = ls("compare", "--json", cimg.arg("a"), cimg.arg("b")).json()
    blob = broken / "blobs/sha256" / I.hexof(doc["layers"]["b"][0]["digest"])
    data = bytearray(blob.read_bytes())
    data[200] ^= 0xFF
    blob.write_bytes(bytes(data))
    for a, b, bad in ((cimg.arg("a"), f"{broken}:b", "B"), (f"{broken}:a", cimg.arg("b"), "A")):
        res = ls("compare", "--no-cache", a, b)
        assert res.rc == 2 and len(res.err_lines) == 1, res.err
        assert "layer 0" in res.err and "digest mismatch" in res.err and str(broken) in res.err, (bad, res.err)
    assert ls("compare", "--no-verify", "--json", cimg.arg("a"), f"{broken}:b").rc == 0  # names trusted, as documented


def test_docker_archives_share_layers_by_diff_id(cimg, tmp_path, monkeypatch):
    """Legacy docker-archives name no blob digests: their uncompressed layers are matched by
    diff_id, so two archives of images with a common base read the base once; the other copy is
    proven by equality with the verified one (memcmp), or hashed without the C core."""
    if shutil.which("skopeo") is None:
        pytest.skip("skopeo is needed")
    import layerscope
    from layerscope.analysis import layers
    from layerscope.source import container

    paths = {}
    for tag in ("a", "b"):
        paths[tag] = tmp_path / f"{tag}.tar"
        I.skopeo("copy", f"oci:{cimg.layout}:{tag}", f"docker-archive:{paths[tag]}:{tag}:latest")
    read, hashed, compared = [], [], []
    real_scan, real_check, real_same = layers.scan, layerscope.LayerRef.check_blob, layerscope.LayerRef.same_bytes
    monkeypatch.setattr(layers, "scan", lambda stream, **kw: read.append(stream.where) or real_scan(stream, **kw))
    monkeypatch.setattr(layerscope.LayerRef, "check_blob",
                        lambda self, *a, **kw: hashed.append(self.index) or real_check(self, *a, **kw))
    monkeypatch.setattr(layerscope.LayerRef, "same_bytes",
                        lambda self, other: compared.append(self.index) or real_same(self, other))
    r = layerscope.compare(str(paths["a"]), str(paths["b"]), cache=False)
    native = container._memeq() is not None
    assert len(read) == 4 and compared == [0] and hashed == ([] if native else [0])
    assert r.layers.shared_prefix == 1
    want = layerscope.compare(cimg.arg("a"), cimg.arg("b"), cache=False)
    assert CI.files_of(compare_doc(r)) == CI.files_of(compare_doc(want))


def test_two_images_of_one_archive_and_two_platforms_of_one_index(ls, multi_image, multi_platform):
    """Any sources inspect reads: tags of one multi-image docker-archive; platforms of one index."""
    doc = ls("compare", "--json", f"{multi_image.path}:alpha:1.0", f"{multi_image.path}:beta:2.0").json()
    assert doc["layers"]["shared_prefix"] == 1 and len(doc["layers"]["shared"]) == 1
    assert [e["path"] for e in doc["files"]["added"]] == ["/app/b.txt", "/app/sub"]
    assert [e["path"] for e in doc["files"]["removed"]] == ["/app/a.txt"]
    doc = ls("compare", "--json", "--platform-a", "linux/amd64", "--platform-b", "linux/arm/v7",
             multi_platform.path, multi_platform.path).json()
    assert (doc["a"]["platform"], doc["b"]["platform"]) == ("linux/amd64", "linux/arm/v7")
    assert [(c["field"], c["a"], c["b"]) for c in doc["config"]["changes"]] == [
        ("platform", "linux/amd64", "linux/arm/v7")]
    added, removed = ({e["path"] for e in doc["files"][k]} for k in ("added", "removed"))
    assert "/arch/arm" in added and "/arch/amd64" in removed and "/data/rand52.bin" in added
    assert doc["layers"]["first_divergence"] == 0  # different bases (seeds): nothing shared
    same = ls("compare", "--json", "--platform", "linux/arm64", "--exit-code", multi_platform.path,
              multi_platform.path)
    assert same.rc == 0 and json.loads(same.out)["a"]["platform"] == "linux/arm64"
