"""The JSON contract (docs/json.md): one path form in every document, and
each document's schema version pinned.

Every command's document is produced on one small image built to reach
every kind of image-path field (wasted paths, duplicate groups, hardlink
targets, warnings, a container's diff and copy-ups, the root itself), then
walked: every image path must be absolute and normalised, and symlink
targets must stay as stored. Each field kind must actually be seen, so the
walk cannot pass by finding nothing.
"""

from __future__ import annotations

import json
import posixpath
from pathlib import Path

import pytest

import images as I

SCHEMAS = {
    "inspect": "layerscope.inspect/2",
    "changes": "layerscope.changes/2",
    "ls": "layerscope.ls/2",
    "overlay": "layerscope.overlay/2",
    "ci": "layerscope.ci/1",
    "compare": "layerscope.compare/1",
    "savings": "layerscope.savings/1",
}

BIG = I.rand_bytes(30_000, 7)
LAYERS = [
    [("dir", "etc"), ("file", "etc/conf", b"a=1\n"), ("dir", "usr"), ("dir", "usr/bin"),
     ("file", "usr/bin/tool", BIG, 0o755), ("hardlink", "usr/bin/tool2", "usr/bin/tool"),
     ("symlink", "usr/bin/sh", "tool"), ("symlink", "etc/abs", "/usr/bin/tool"),
     ("file", "etc/copy-a", b"same bytes"), ("file", "etc/copy-b", b"same bytes"),
     ("dir", "var"), ("file", "var/junk", I.rand_bytes(20_000, 8))],
    [("whiteout", "var/junk"), ("whiteout", "never/was"), ("hardlink", "etc/dangling", "no/such/file"),
     ("file", "usr/bin/tool", BIG, 0o700)],
    [("opaque", "."), ("dir", "etc"), ("file", "etc/conf", b"a=2\n"), ("dir", "usr"), ("dir", "usr/bin"),
     ("file", "usr/bin/tool", BIG, 0o700), ("hardlink", "usr/bin/tool2", "usr/bin/tool"),
     ("symlink", "usr/bin/sh", "tool"), ("file", "etc/copy-a", b"same bytes"),
     ("file", "etc/copy-b", b"same bytes"), ("file", "etc/key.pem", b"-----BEGIN-----"),
     ("file", "var/lib/dpkg/status", b"Package: a\nStatus: install ok installed\nVersion: 1\n")],
]
# tag t2: t plus a layer (what compare t t2 reports: every path field of its document)
LAYER_T2 = [("file", "var/lib/dpkg/status", b"Package: a\nStatus: install ok installed\nVersion: 2\n\n"
             b"Package: b\nStatus: install ok installed\nVersion: 1\n"),
            ("file", "app/node_modules/x/package.json", b'{"name": "x", "version": "1.0.0"}'),
            ("file", "app/node_modules/y/package.json", b"{"), ("whiteout", "etc/copy-b"),
            ("file", "etc/conf", b"a=22\n")]
RW = [("file", "etc/conf", b"a=3\n"), ("whiteout", "etc/copy-b"), ("file", "new.txt", b"new")]


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    w = tmp_path_factory.mktemp("contract")
    raws = [I.make_tar(l) for l in LAYERS]
    lay = I.OCILayout(w / "img")
    descs = [lay.blob(r, I.OCI_LAYER) for r in raws]
    lay.add_ref(lay.image(descs, I.make_config([I.sha256(r) for r in raws])), "t")
    raws.append(I.make_tar(LAYER_T2))
    descs.append(lay.blob(raws[-1], I.OCI_LAYER))
    lay.add_ref(lay.image(descs, I.make_config([I.sha256(r) for r in raws])), "t2")
    lay.finish()
    (w / "rw.tar").write_bytes(I.make_tar(RW))
    (w / ".layerscope.toml").write_text('[ci]\nforbid_paths = ["**/*.pem"]\nmax_layers = 10\n')
    return w


def commands(w: Path) -> dict[str, list[str]]:
    img, rw = f"{w / 'img'}:t", str(w / "rw.tar")
    return {
        "inspect": ["inspect", "--json", img],
        "changes": ["changes", "--json", img],
        "changes --layer 1": ["changes", "--json", "--layer", "1", img],
        "ls": ["ls", "--json", img],
        "ls -R": ["ls", "-R", "--json", img],
        "ls -R --layer 1": ["ls", "-R", "--layer", "1", "--json", img],
        "ls DIR": ["ls", "--json", img, "/usr/bin"],
        "ls FILE": ["ls", "--json", img, "/usr/bin/tool2"],
        "ls -R --rw": ["ls", "-R", "--rw", rw, "--json", img],
        "overlay": ["overlay", "--rw", rw, "--json", img],
        "ci": ["ci", "--json", img],
        "compare": ["compare", "--json", img, f"{w / 'img'}:t2"],
        "savings": ["savings", "--json", img, f"{w / 'img'}:t2"],
    }


@pytest.fixture(scope="module")
def docs(sample, ls) -> dict[str, dict]:
    out = {}
    for name, argv in commands(sample).items():
        res = ls(*argv, cwd=sample)
        assert res.rc in (0, 1), (name, res.err)  # ci: 1, the .pem is forbidden
        out[name] = json.loads(res.out)
    return out


def image_paths(doc, where: str = ""):
    """(field, value) for every image-path field of a document, by the rules of docs/json.md."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            here = f"{where}.{k}"
            if k == "path" and where not in (".a", ".b") and where.rsplit(".", 1)[-1] not in ("image", "baseline"):
                yield here, v
            elif k in ("path_a", "path_b"):
                yield here, v
            elif k == "paths":
                yield from ((f"{here}[]", p) for p in v)
            elif k == "link" and v is not None and doc.get("type") != "symlink":
                yield here, v
            else:
                yield from image_paths(v, here)
    elif isinstance(doc, list):
        for v in doc:
            yield from image_paths(v, f"{where}[]")


def is_image_path(p) -> bool:
    return isinstance(p, str) and p.startswith("/") and (p == "/" or posixpath.normpath(p) == p) \
        and not p.startswith("//") and "/./" not in p and not p.endswith("/.")


def test_every_path_field_of_every_document_is_absolute(docs):
    seen: set[tuple[str, str]] = set()
    bad = []
    for name, doc in docs.items():
        for field, value in image_paths(doc):
            seen.add((doc["schema"].split("/")[0], field))
            if not is_image_path(value):
                bad.append(f"{name}: {field} = {value!r}")
    assert not bad, "\n".join(bad)
    want = {
        ("layerscope.inspect", ".efficiency.top[].path"),
        ("layerscope.inspect", ".duplicate_content.groups[].paths[]"),
        ("layerscope.inspect", ".filesystem.root.path"),
        ("layerscope.inspect", ".filesystem.root.children[].children[].path"),
        ("layerscope.changes", ".layers[].changes[].path"),
        ("layerscope.changes", ".layers[].warnings[].path"),
        ("layerscope.ls", ".entries[].path"),
        ("layerscope.ls", ".entries[].link"),
        ("layerscope.ls", ".warnings[].path"),
        ("layerscope.overlay", ".diff[].path"),
        ("layerscope.overlay", ".copied_up[].path"),
        ("layerscope.overlay", ".changes[].path"),
        ("layerscope.compare", ".files.added[].path"),
        ("layerscope.compare", ".files.removed[].path"),
        ("layerscope.compare", ".files.modified[].path"),
        ("layerscope.compare", ".directories[].path"),
        ("layerscope.compare", ".packages.added[].path"),
        ("layerscope.compare", ".packages.changed[].path_a"),
        ("layerscope.compare", ".packages.changed[].path_b"),
    }
    assert want <= seen, f"never exercised: {sorted(want - seen)}"


def test_the_root_is_slash(docs):
    """The root-level opaque marker of layer 2 is a change at the root."""
    opaque = [c for l in docs["changes"]["layers"] for c in l["changes"] if c["change"] == "opaque"]
    assert [c["path"] for c in opaque] == ["/"]


def test_links(docs):
    entries = {e["path"]: e for e in docs["ls -R"]["entries"]}
    assert entries["/usr/bin/tool2"]["type"] == "hardlink"
    assert entries["/usr/bin/tool2"]["link"] == "/usr/bin/tool"  # hardlink: an image path
    assert entries["/usr/bin/sh"]["link"] == "tool"  # symlinks stay verbatim
    assert entries["/etc/conf"]["link"] is None
    layer1 = {e["path"]: e for e in docs["ls -R --layer 1"]["entries"]}
    assert layer1["/etc/abs"]["link"] == "/usr/bin/tool"


def test_paths_match_the_text_output(sample, docs, ls):
    """Text and JSON show the same path for every entry, change and wasted file."""
    img = f"{sample / 'img'}:t"
    text = ls("ls", "-R", img).out.splitlines()
    assert [l.split("  ")[-1].split(" => ")[0].split(" -> ")[0] for l in text] == \
        [e["path"] for e in docs["ls -R"]["entries"]]
    changes = ls("changes", img).out
    for layer in docs["changes"]["layers"]:
        for c in layer["changes"]:
            assert f" {c['path']} " in changes, c
    inspect = ls("inspect", img).out
    for t in docs["inspect"]["efficiency"]["top"]:
        assert inspect.count(f" {t['path']}\n") >= 1, t


def test_warnings_name_paths_absolute(docs):
    warnings = [w for l in docs["changes"]["layers"] for w in l["warnings"]]
    by_code = {w["code"]: w for w in warnings}
    assert by_code["noop-whiteout"]["path"] == "/never/.wh.was"
    assert "'/never/was'" in by_code["noop-whiteout"]["message"]
    assert by_code["dangling-hardlink"]["path"] == "/etc/dangling"
    assert "'/no/such/file'" in by_code["dangling-hardlink"]["message"]


def test_image_path_fields_are_host_paths(sample, docs):
    for name, doc in docs.items():
        if name == "savings":  # images are named by the spec as given: PATH:REF
            assert [im["name"] for im in doc["images"]] == [f"{sample / 'img'}:t", f"{sample / 'img'}:t2"]
            continue
        for side in ("a", "b") if name == "compare" else ("image",):
            assert doc[side]["path"] == f"{sample / 'img'}", name  # as given, not an image path


def test_compare_paths_match_the_text_output(sample, docs, ls):
    text = ls("compare", "--all", f"{sample / 'img'}:t", f"{sample / 'img'}:t2").out
    files = docs["compare"]["files"]
    for e in files["added"] + files["removed"] + files["modified"] + docs["compare"]["directories"]:
        assert f"  {e['path']}" in text, e
    (warning,) = docs["compare"]["packages"]["warnings"]
    assert warning.startswith("B: /app/node_modules/y/package.json: not valid JSON (")


@pytest.mark.parametrize("name", sorted(commands(Path("."))))
def test_schema_versions_are_pinned(name, docs):
    assert docs[name]["schema"] == SCHEMAS[name.split()[0]]
