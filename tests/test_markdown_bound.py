"""The Markdown summaries stay under GitHub's comment limit whatever the input:
documents of 100,000 files (thousands of workloads) with long paths and long commands full of
characters Markdown would otherwise read as markup."""

from __future__ import annotations

import re

import pytest

from layerscope.report import markdown

N = 100_000
UGLY = "a|b`c*d_e[f]<g>~h&amp;\n"  # every character a cell must escape, and a newline


_PATHS = ["/" + "/".join(f"dir{i % 97}-{UGLY.strip()}-{'x' * 40}" for _ in range(6)) + f"/file{i}.bin"
          for i in range(1000)]
_STEPS = [f"/bin/sh -c apt-get install -y {' '.join(f'pkg{j}|`x`' for j in range(200))} # {i}\n&& more"
          for i in range(100)]


def path(i: int) -> str:
    """A long path full of specials (1,000 distinct ones, shared: 100,000 rows stay light)."""
    return _PATHS[i % len(_PATHS)]


def step(i: int) -> str:
    return _STEPS[i % len(_STEPS)]


def inspect_doc() -> dict:
    three_hundred = list(range(300))
    layers = [{"index": i, "digest": f"sha256:{i:064x}", "diff_id": f"sha256:{i:064x}", "media_type": "x",
               "compression": "gzip", "size": 1000 * i, "compressed_size": 500 * i, "created_by": step(i),
               "entries": 1000, "foreign": False, "urls": None} for i in range(2_000)]
    return {
        "schema": "layerscope.inspect/2",
        "image": {"ref": "r" * 5000 + UGLY, "path": "/tmp/" + "p" * 5000, "format": "oci-archive",
                  "manifest_digest": None, "config_digest": "sha256:" + "c" * 64, "legacy_id": None,
                  "platform": "linux/amd64", "size": 10 ** 12, "compressed_size": 10 ** 11, "verified": True},
        "layers": layers,
        "warnings": [f"warning {i}: {path(i)}" for i in range(N)],
        "efficiency": {"efficiency": 0.5, "wasted_bytes": 10 ** 9, "user_wasted_ratio": 0.4, "base_layers": 1,
                       "stored_file_bytes": 10 ** 12, "final_file_bytes": 10 ** 11, "dive_efficiency": 0.6,
                       "dive_wasted_bytes": 10 ** 8, "dive_user_wasted_ratio": None, "by_reason": {"deleted": 1},
                       "top": [{"path": path(i), "bytes": N - i, "reason": "deleted", "layers": three_hundred}
                               for i in range(N)]},
        "duplicate_content": {"savable_bytes": 10 ** 9, "groups": [
            {"digest": "d", "size": 10, "paths": [path(i + j) for j in range(50)], "savable_bytes": N - i}
            for i in range(0, N, 10)]},
    }


def changes_doc() -> dict:
    changes = [{"path": path(i), "change": ("added", "modified", "deleted", "metadata", "opaque")[i % 5],
                "type": "file", "size": i, "removed_bytes": i % 7} for i in range(N)]
    return {"schema": "layerscope.changes/2", "image": {"ref": None, "path": "img" + UGLY, "config_digest": None},
            "layers": [{"index": k, "digest": f"sha256:{k:064x}", "created_by": step(k),
                        "changes": changes[k::500], "warnings": [{"code": "noop-whiteout", "path": path(i),
                                                                  "message": UGLY * 20} for i in range(200)]}
                       for k in range(500)]}


def compare_doc() -> dict:
    side = {"ref": "r" * 3000, "path": "p" + UGLY, "format": "oci-layout", "manifest_digest": None,
            "config_digest": None, "platform": "linux/amd64", "layers": 5, "size": 10 ** 9, "compressed_size": None,
            "verified": True, "warnings": [UGLY * 50] * 1000}
    node = [{"path": path(i), "type": "file", "size": i} for i in range(N)]
    pkg = [{"type": "deb", "name": "n" * 500 + UGLY, "version": "v" * 500, "arch": "amd64", "size": i,
            "path": path(i)} for i in range(N)]
    return {
        "schema": "layerscope.compare/1", "a": side, "b": side, "compared": ["layers", "files"],
        "layers": None, "history": None,
        "config": {"changes": [{"field": "env", "key": "K" * 300 + str(i), "change": "changed", "a": {"x": [UGLY] * 50},
                                "b": UGLY * 80} for i in range(N)]},
        "files": {"added": node, "removed": node,
                  "modified": [{"path": path(i), "changes": ["content", "mode"] * 50, "type_a": "file",
                                "type_b": "file", "size_a": 0, "size_b": i} for i in range(N)]},
        "directories": [{"path": path(i), "size_delta": i, "added": i, "removed": i, "modified": i} for i in range(N)],
        "packages": {"added": pkg, "removed": pkg,
                     "changed": [{"type": "deb", "name": "n" * 500, "version_a": "1" * 300, "version_b": UGLY * 30,
                                  "arch_a": None, "arch_b": None, "size_a": 1, "size_b": 2, "path_a": "/",
                                  "path_b": "/"} for _ in range(N)],
                     "counts_a": {"deb": N}, "counts_b": {"deb": N}, "warnings": [UGLY * 100] * 1000},
        "summary": {"differ": True, "layers": None, "config": N, "history": {"added": N, "removed": N},
                    "files": {"added": N, "removed": N, "modified": N, "size_delta": 10 ** 9},
                    "packages": {"added": N, "removed": N, "changed": N}},
    }


def savings_doc() -> dict:
    levels = ("layer", "chainid", "file", "chunk")
    images = [{"index": i, "name": path(i)} for i in range(5_000)]
    everyone = list(range(5_000))  # one list shared by every row
    return {
        "schema": "layerscope.savings/1", "avg_chunk": 65536, "images": images,
        "totals": {lv: {"bytes": 10 ** 12, "compressed": 10 ** 11} for lv in ("naive", *levels)},
        "per_image": [{"image": i, **{lv: {"bytes": i, "shared": i, "unique": i} for lv in levels}}
                      for i in range(5_000)],
        "matrix": {},
        "top_layers": [{"diff_id": f"sha256:{i:064x}", "size": i, "images": everyone} for i in range(N)],
        "near_misses": [{"a": "sha256:a", "b": "sha256:b", "common": i, "share": 0.5, "cause": UGLY * 100,
                         "changed": i} for i in range(N)],
    }


def ci_doc() -> dict:
    return {"schema": "layerscope.ci/1", "image": {"ref": UGLY * 500, "path": "p" * 9000},
            "baseline": {"ref": None, "path": "b" * 9000}, "config": {"source": UGLY * 300, "metrics": "layerscope"},
            "result": "FAIL",
            "rules": [{"name": "forbid_paths", "status": "FAIL", "value": N, "threshold": [path(i) for i in range(2000)],
                       "message": " ".join(path(i) for i in range(2000))} for _ in range(300)]}


def store_stats_doc() -> dict:
    counted = {"count": 10 ** 12, "shared": 10 ** 11}
    return {"schema": "layerscope.store.stats/1", "store": "/s" * 50_000, "images": N, "layers": counted,
            "files": counted, "chunks": counted, "blobs": N, "packs": N,
            "bytes": {k: 10 ** 15 for k in ("logical", "unique", "packs", "index", "stored")},
            "ratio": {"total": 1.5, "dedup": 2.5, "compression": 3.5}}


def workload_doc() -> dict:
    """3,000 workloads, images, warnings and rebase layers, 500 nodes, every name full of specials."""
    from tests.workload_docs import huge

    return huge(hostile=UGLY)


DOCS = {"inspect": inspect_doc, "changes": changes_doc, "compare": compare_doc, "savings": savings_doc,
        "ci": ci_doc, "store stats": store_stats_doc, "workload": workload_doc}


@pytest.fixture(scope="module", params=sorted(DOCS))
def huge(request) -> tuple[str, dict]:
    return request.param, DOCS[request.param]()


def rows_per_table(md: str) -> list[int]:
    counts, n = [], None
    for line in md.splitlines():
        if line.startswith("| "):
            n = (n or 0) + 1
        elif n is not None:
            counts.append(n)
            n = None
    return counts + ([n] if n is not None else [])


def test_under_the_bound_with_every_table_capped(huge):
    name, doc = huge
    md = markdown.render(doc)
    assert len(md) < markdown.MAX_CHARS == 65_000
    assert md.startswith(f"### layerscope {name}")
    assert all(n <= markdown.ROWS + 2 for n in rows_per_table(md))  # header, rule, rows
    assert "more (`--format json` lists them all)" in md or name == "store stats"
    for line in md.splitlines():
        assert line == line.rstrip()
        if line.startswith("| "):  # a cell never runs on: no line longer than its cells allow
            assert len(line) < 20 * markdown.CELL, line[:200]
            assert len(re.split(r"(?<!\\)\|", line)) == len(re.split(r"(?<!\\)\|", _header(md, line)))


def _header(md: str, row: str) -> str:
    lines = md.splitlines()
    i = lines.index(row)
    while i > 0 and lines[i - 1].startswith("| "):
        i -= 1
    return lines[i]


def test_trailing_sections_are_dropped_as_a_last_resort(huge, monkeypatch):
    """With the caps lifted the total is still bounded: whole sections go, and a note says so."""
    name, doc = huge
    monkeypatch.setattr(markdown, "ROWS", 1_000)
    monkeypatch.setattr(markdown, "CELL", 1_000)
    md = markdown.render(doc)
    assert len(md) < markdown.MAX_CHARS
    assert md.startswith(f"### layerscope {name}")
    if name != "store stats":  # one small table: its one long cell is cut, nothing is left to drop
        assert re.search(r"left out to stay under 65,000 characters|cut here to stay under the size limit", md)


def test_a_small_document_is_whole():
    doc = store_stats_doc()
    doc["store"] = "/srv/store"
    md = markdown.render(doc)
    assert "left out" not in md and "more (" not in md
    assert md.endswith("|\n")


def test_an_unknown_schema_is_an_error():
    from layerscope.errors import UsageError

    with pytest.raises(UsageError, match="no Markdown rendering of a layerscope.ls/2 document"):
        markdown.render({"schema": "layerscope.ls/2"})
