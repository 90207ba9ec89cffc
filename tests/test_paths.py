"""normalize_path: how a tar member name becomes the path layerscope reports."""

from __future__ import annotations

import posixpath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from layerscope.layer import normalize_path
from layerscope.layer.paths import normalize_link


@pytest.mark.parametrize(
    "name, path, defects",
    [
        # already normal
        ("usr/bin/ls", "usr/bin/ls", ()),
        ("a", "a", ()),
        (".bashrc", ".bashrc", ()),
        ("etc/.hidden/x", "etc/.hidden/x", ()),
        ("a/..b/c", "a/..b/c", ()),
        ("a/b..", "a/b..", ()),
        ("...", "...", ()),
        # leading "/" and "./", repeatedly
        ("/abs/path", "abs/path", ()),
        ("./usr/bin", "usr/bin", ()),
        ("./././x", "x", ()),
        ("//././/x", "x", ()),
        (".//./x", "x", ()),
        # "//" collapses, "." vanishes, trailing slash dropped
        ("a//b/./c/", "a/b/c", ()),
        ("usr/bin/", "usr/bin", ()),
        ("usr/bin//", "usr/bin", ()),
        ("a/.", "a", ()),
        # the root itself
        ("./", "", ()),
        ("/", "", ()),
        (".", "", ()),
        ("//", "", ()),
        ("./.", "", ()),
        # ".." resolved lexically
        ("a/b/../c", "a/c", ()),
        ("a/..", "", ()),
        ("a/b/../../c", "c", ()),
        # ".." climbing above the root: clamped, and marked
        ("..", "", ("path-escape",)),
        ("../../etc/passwd", "etc/passwd", ("path-escape",)),
        ("a/../../b", "b", ("path-escape",)),
        ("/../x", "x", ("path-escape",)),
        ("./../x/", "x", ("path-escape",)),
        ("a/../b/../../../c/d", "c/d", ("path-escape",)),
        # empty
        ("", "", ("empty-name",)),
        # non-UTF-8 bytes (surrogate-escaped) pass through untouched
        ("caf\udce9/x", "caf\udce9/x", ()),
        ("./caf\udce9/../y", "y", ()),
        # backslashes are not separators in tar
        ("a\\..\\b", "a\\..\\b", ()),
    ],
)
def test_normalize_path_table(name, path, defects):
    assert normalize_path(name) == (path, defects)


@pytest.mark.parametrize(
    "target, path, defects",
    [
        ("usr/bin/ls", "usr/bin/ls", ()),
        ("./usr/bin/ls", "usr/bin/ls", ()),
        ("/usr/bin/ls", "usr/bin/ls", ()),
        ("../../etc/shadow", "etc/shadow", ("link-escape",)),
        ("", "", ("empty-link",)),
    ],
)
def test_normalize_link(target, path, defects):
    assert normalize_link(target) == (path, defects)


_part = st.sampled_from(["", ".", "..", "a", "b", "..a", ".x", "c\udcff", "é"])
_names = st.lists(_part, max_size=8).map("/".join) | st.text(alphabet="ab./", max_size=20)


@given(_names)
def test_normalize_path_properties(name):
    path, defects = normalize_path(name)
    parts = path.split("/") if path else []
    # no empty, "." or ".." parts; no leading or trailing slash
    assert all(p not in ("", ".", "..") for p in parts)
    # idempotent, and a normal path carries no defect
    assert normalize_path(path) == (path, ()) or (path == "" and normalize_path(path)[1] == ("empty-name",))
    # agrees with posixpath's lexical normalisation for names that stay inside the root
    rooted = posixpath.normpath("/" + name)
    expected = rooted.lstrip("/")
    if name == "":
        assert defects == ("empty-name",)
    else:
        # posixpath clamps "/.." at "/" exactly as we do
        assert path == expected
        assert ("path-escape" in defects) == _climbs(name)


def _climbs(name: str) -> bool:
    depth = 0
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if depth == 0:
                return True
            depth -= 1
        else:
            depth += 1
    return False
