"""Markdown and HTML renderings of ``layerscope.workload/1`` (issue #15).

The documents are made by ``workload_doc`` from report records (tests/workload_docs.py), not by
the CLI: the figures below are the ones that small document's layers add up to.
"""

from __future__ import annotations

import json
import re

import pytest

from layerscope.report import markdown
from layerscope.report.html import render
from tests.test_report_html import HOSTILE, parse
from tests.workload_docs import huge, small

NASTY = 'web|`x`*_[a](b)<script>alert("1")</script>\nnext'  # ends a row, links, runs script, breaks a line


@pytest.fixture(scope="module")
def doc() -> dict:
    return small()


def test_markdown_figures(doc):
    md = markdown.render(doc)
    assert md.startswith("### layerscope workload: 2 workloads, 3 distinct images\n")
    assert ("- **Pulled:** 30.0 MB (naive 45.0 MB); **stored:** 120.0 MB (naive 180.0 MB)" in md)
    assert "store 36.0 MB less (120.0 MB → 84.0 MB) and pull about 9.0 MB less" in md
    assert "- **Unresolved:** 1 container, left out of the figures" in md
    # the warning comes before any table: an unresolved image is missing from every figure
    assert md.index("#### Warnings (1)") < md.index("| ")
    assert "- Deployment/shop/web: container log: cannot resolve fluent/bit:3: not found" in md
    worker = "| 1 | compose/shop/worker | compose | 2 | 28.0 MB | 112.0 MB | 112.0 MB |"
    web = "| 0 | Deployment/shop/web | Deployment | 2 + 1 unresolved | 17.0 MB | 68.0 MB | 108.0 MB |"
    assert md.index(worker) < md.index(web)  # most stored first
    assert "| node-a | Deployment/shop/web, compose/shop/worker | 30.0 MB | 120.0 MB | 180.0 MB |" in md
    base = doc["total"]["shared_layers"][0]
    assert f"| `{base['chain_id'][7:19]}` | 40.0 MB | 10.0 MB | 0, 1 |" in md
    lay = doc["rebase"]["groups"][0]["layers"][0]
    assert (f"| 2 | `{lay['diff_id'][7:19]}` | `{lay['like'][7:19]}` | 36.0 MB | 9.0 MB | 90% "
            "| same files, new mtimes |") in md


def test_markdown_without_nodes_rebase_or_warnings(doc):
    d = json.loads(json.dumps(doc))
    d["nodes"], d["warnings"], d["rebase"]["groups"] = [], [], []
    md = markdown.render(d)
    assert "Per node" not in md and "Warnings" not in md and "Rebase:" not in md.replace("- **Rebase:**", "")
    assert "- **Rebase:** no near-miss layers" in md


def test_markdown_escapes_names():
    md = markdown.render(small(web=NASTY, sidecar=NASTY))
    assert "<script>" not in md and "](" not in md.replace("\\](", "")
    rows = [line for line in md.splitlines() if line.startswith("| ")]
    assert any("web\\|\\`x\\`\\*\\_\\[a\\](b)\\<script\\>" in r for r in rows)
    for line in md.splitlines():  # the newline in the name is folded: no line starts with the rest of it
        assert not line.startswith("next")
    tables, rows = [], []
    for line in md.splitlines() + [""]:  # every row of a table has its header's cells
        if line.startswith("| "):
            rows.append(len(re.split(r"(?<!\\)\|", line)))
        elif rows:
            tables.append(rows)
            rows = []
    assert len(tables) == 4 and all(len(set(t)) == 1 for t in tables), tables


def test_markdown_of_a_huge_document_is_bounded():
    md = markdown.render(huge(hostile=NASTY))
    assert len(md) < markdown.MAX_CHARS
    assert "<script>" not in md and "\nnext" not in md
    assert "… 2,980 more (`--format json` lists them all)" in md  # 3,000 workloads, 20 rows
    assert "#### Warnings (3,000)" in md and "- … 2,980 more" in md


# ---- HTML -------------------------------------------------------------------------------

def test_page_is_self_contained(doc):
    page = render(doc)
    root = parse(page)
    assert page.startswith("<!DOCTYPE html>") and root.find("body")[0].attrs["data-report"] == "workload"
    (csp,) = root.find("meta", http_equiv="Content-Security-Policy")
    assert "default-src 'none'" in csp.attrs["content"]
    assert "http://" not in page and "https://" not in page
    for e in root.iter():
        assert "src" not in e.attrs and "href" not in e.attrs, e.tag
        assert not any(a.startswith("on") for a in e.attrs), e.tag
    assert len(root.find("script")) == 1 and len(root.find("style")) == 1


def test_page_figures(doc):
    root = parse(render(doc))
    t, rb = doc["total"], doc["rebase"]
    totals = root.by_id("totals-bars").find(cls="total-bar")
    assert [int(b.attrs["data-value"]) for b in totals] == [t["naive_stored"], t["stored"], rb["stored_after"],
                                                           t["naive_pulled"], t["pulled"], rb["pulled_after"]]
    bars = root.by_id("workload-bars").find(cls="workload-bar")
    assert len(bars) == len(doc["workloads"])
    by_name = {w["name"]: w for w in doc["workloads"]}
    for b in bars:  # a bar's segments: each image alone, then what its images share; they add up to stored
        label = b.parent.children[b.parent.children.index(b) - 1].attrs["title"]
        w = by_name[label.split(" ", 1)[1]]
        segs = [int(s.attrs["data-value"]) for s in b.find(cls="seg")]
        assert int(b.attrs["data-value"]) == sum(segs) == w["stored"]
        alone = [a["stored"] for a in w["alone"] if a["stored"]]
        assert segs[:len(alone)] == alone
    web = by_name["Deployment/shop/web"]
    assert web["stored"] - sum(a["stored"] for a in web["alone"]) == 40_000_000  # the base both images hold
    assert len(root.by_id("workloads-table").find("tr")) - 1 == 2
    assert len(root.by_id("containers-table").find("tr")) - 1 == 5
    assert [r.all_text() for r in root.by_id("containers-table").find("tr", cls="warn")][0].count("unresolved") == 1
    assert len(root.by_id("node-bars").find(cls="node-bar")) == len(doc["nodes"]) == 1
    assert len(root.by_id("shared-layers").find("tr")) - 1 == len(t["shared_layers"]) == 2
    assert len(root.by_id("rebase-table").find("tr")) - 1 == 1
    warnings = root.by_id("warning-list").find("li", cls="warn")
    assert [w.all_text() for w in warnings] == doc["warnings"]
    order = [e.attrs["id"] for e in root.find("section")]
    assert order.index("warnings") == 1  # before any per-workload figure


def test_page_without_nodes_rebase_or_warnings(doc):
    d = json.loads(json.dumps(doc))
    d["nodes"], d["warnings"], d["rebase"]["groups"] = [], [], []
    root = parse(render(d))
    ids = {e.attrs["id"] for e in root.find("section")}
    assert "nodes" not in ids and "warnings" not in ids
    assert "no near-miss layers" in root.by_id("rebase").all_text()


@pytest.mark.parametrize("name", [HOSTILE, 'a"b\'c<script>alert(1)</script>'])
def test_hostile_names_stay_text(name):
    d = small(web=name, sidecar=name)
    page = render(d)
    assert "<script>alert" not in page and "<img" not in page
    root = parse(page)
    assert len(root.find("script")) == 1 and not root.find("img")
    assert name in root.by_id("workloads-table").all_text()
    assert name in root.by_id("containers-table").all_text()
    labels = [e.attrs["title"] for e in root.by_id("workload-bars").find(cls="lbl")]
    assert f"0 {name}" in labels  # an attribute value, quotes and all


def test_a_huge_page_stays_small():
    d = huge(hostile=HOSTILE)
    page = render(d)
    assert len(page.encode()) < 5_000_000
    assert HOSTILE not in page and "<img" not in page
    root = parse(page)
    assert len(root.by_id("workload-bars").find(cls="workload-bar")) == 200  # the most stored of 3,000
    assert len(root.by_id("warning-list").find("li")) == 1000
    assert "2000 more in the JSON document" in root.by_id("warnings").all_text()
    assert len(root.by_id("containers-table").find("tr")) - 1 == 1000
