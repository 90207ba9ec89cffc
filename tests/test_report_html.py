"""HTML reports (layerscope.report.html): one self-contained page per document.

The documents come from the CLI (``--json``) on the sample images of
``layerscope.testing.samples``, one of which carries a hostile string in a
path, a ``created_by`` line and a label. Pages are parsed with
:mod:`html.parser` and checked against the document they were made from.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from layerscope import inspect
from layerscope.errors import LayerscopeError
from layerscope.report.html import render
from layerscope.report.html.charts import squarify
from layerscope.report.json_out import inspect_doc
from layerscope.testing import samples

HOSTILE = "</script><img src=x onerror=alert(1)>"
CI_RULES = """[ci]
lowest_efficiency = 0.9
highest_wasted_bytes = "200KB"
highest_user_wasted_percent = 0.2
max_image_size = "5MB"
max_layers = 4
forbid_paths = ["**/*.pem"]
max_growth = "10%"
"""


class Element:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Element | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Element] = []
        self.parts: list[Element | str] = []  # text and elements, in document order

    @property
    def classes(self) -> list[str]:
        return (self.attrs.get("class") or "").split()

    def iter(self):
        yield self
        for c in self.children:
            yield from c.iter()

    def find(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list[Element]:
        return [e for e in self.iter() if (tag is None or e.tag == tag) and (cls is None or cls in e.classes)
                and all(e.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())]

    def by_id(self, ident: str) -> Element:
        (found,) = [e for e in self.iter() if e.attrs.get("id") == ident]
        return found

    @property
    def text(self) -> str:
        return "".join(p for p in self.parts if isinstance(p, str))

    def all_text(self) -> str:
        return "".join(p if isinstance(p, str) else p.all_text() for p in self.parts)


VOID = {"meta", "input", "br", "img", "link", "hr"}


class Tree(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = self.at = Element("#root", {}, None)
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        e = Element(tag, dict(attrs), self.at)
        self.at.children.append(e)
        self.at.parts.append(e)
        if tag not in VOID:
            self.at = e

    def handle_startendtag(self, tag, attrs):
        e = Element(tag, dict(attrs), self.at)
        self.at.children.append(e)
        self.at.parts.append(e)

    def handle_endtag(self, tag):
        e = self.at
        while e is not None and e.tag != tag:
            e = e.parent
        assert e is not None, f"</{tag}> closes nothing"
        self.at = e.parent

    def handle_data(self, data):
        self.at.parts.append(data)


def parse(page: str) -> Element:
    return Tree(page).root


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    w = tmp_path_factory.mktemp("html")
    samples.demo(w / "img", hostile=HOSTILE)
    (w / ".layerscope.toml").write_text(CI_RULES)
    return w


@pytest.fixture(scope="module")
def docs(work, ls) -> dict[str, dict]:
    a, b = f"{work / 'img'}:app-1.0", f"{work / 'img'}:app-1.1"
    argv = {"inspect": ["inspect", "--json", a], "changes": ["changes", "--json", a],
            "compare": ["compare", "--json", a, b], "savings": ["savings", "--json", a, b],
            "ci": ["ci", "--json", b, "--baseline", a]}
    out = {}
    for name, args in argv.items():
        res = ls(*args, cwd=work)
        assert res.rc in (0, 1), (name, res.err)
        out[name] = json.loads(res.out)
    st = str(work / "store")
    assert ls("store", "init", "--store", st).rc == 0
    assert ls("store", "add", "--store", st, a, b).rc == 0
    out["stats"] = json.loads(ls("store", "stats", "--json", "--store", st).out)
    return out


@pytest.fixture(scope="module")
def pages(docs) -> dict[str, str]:
    return {name: render(doc) for name, doc in docs.items()}


KINDS = ["inspect", "changes", "compare", "savings", "ci", "stats"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_page_is_self_contained(kind, pages):
    page = pages[kind]
    root = parse(page)
    assert page.startswith("<!DOCTYPE html>")
    (csp,) = root.find("meta", http_equiv="Content-Security-Policy")
    assert "default-src 'none'" in csp.attrs["content"] and "connect-src" not in csp.attrs["content"]
    assert "http://" not in page and "https://" not in page
    for e in root.iter():
        assert "src" not in e.attrs and "href" not in e.attrs, e.tag  # nothing to load, nothing to follow
        assert not any(a.startswith("on") for a in e.attrs), e.tag  # handlers are bound by the page script
    assert [e.tag for e in root.iter() if e.tag in ("link", "iframe", "object", "embed", "img", "image", "use")] == []
    assert len(root.find("script")) == 1 and len(root.find("style")) == 1
    assert "@media print" in root.find("style")[0].text


@pytest.mark.parametrize("kind", ["inspect", "changes", "compare"])
def test_hostile_strings_stay_text(kind, pages, docs):
    assert HOSTILE in json.dumps(docs[kind], ensure_ascii=False)  # the document holds it ...
    page = pages[kind]
    assert HOSTILE not in page and "<img" not in page  # ... the page only escaped
    root = parse(page)
    assert HOSTILE in root.all_text() or any(HOSTILE in (v or "") for e in root.iter() for v in e.attrs.values())
    (script,) = root.find("script")
    assert "alert" not in script.text


def _poisoned(doc):
    """Every string of a document (but its schema) with the hostile string appended."""
    if isinstance(doc, dict):
        return {k: v if k == "schema" else _poisoned(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_poisoned(v) for v in doc]
    return doc + HOSTILE if isinstance(doc, str) else doc


@pytest.mark.parametrize("kind", KINDS)
def test_every_string_is_escaped(kind, docs):
    page = render(_poisoned(docs[kind]))
    assert HOSTILE not in page and "<img" not in page
    root = parse(page)
    assert len(root.find("script")) == 1 and not root.find("img")
    assert HOSTILE in root.all_text()


def test_inspect(docs, pages):
    doc, root = docs["inspect"], parse(pages["inspect"])
    bars = root.by_id("layer-bars").find(cls="layer-bar")
    assert [float(b.attrs["data-value"]) for b in bars] == [l["size"] for l in doc["layers"]]
    text = root.all_text()
    for l in doc["layers"]:
        assert l["created_by"] in text
    for reason, b in doc["efficiency"]["by_reason"].items():
        assert reason in root.by_id("waste-bars").all_text()
    top = root.by_id("top-wasted").find("tr")[1:]
    assert [r.find("td")[0].all_text() for r in top] == [t["path"] for t in doc["efficiency"]["top"]]
    dups = root.by_id("duplicates").find("tr")[1:]
    assert len(dups) == len(doc["duplicate_content"]["groups"]) >= 1
    # the treemap: one level per directory that holds boxes, the top level's boxes the root's children
    fs = doc["filesystem"]
    svg = root.by_id("treemap")
    levels = svg.find("g", cls="level")

    def opened(n):
        return n["type"] == "dir" and any(c["size"] for c in n["children"])

    def walk(n):
        yield n
        for c in n.get("children", ()):
            yield from walk(c)

    assert len(levels) == sum(opened(n) for n in walk(fs["root"]))
    assert levels[0].attrs["id"] == "tm-0" and "style" not in levels[0].attrs
    assert all(l.attrs["style"] == "display:none" for l in levels[1:])
    boxes = [g for g in levels[0].children if "node" in g.classes]
    kids = [c for c in fs["root"]["children"] if c["size"]]
    assert [(b.attrs["data-path"], int(b.attrs["data-size"])) for b in boxes] == [(c["path"], c["size"]) for c in kids]
    ids = {l.attrs["id"] for l in levels}
    for g in svg.find("g", cls="dir"):
        assert g.attrs["data-target"] in ids
    area = {b.attrs["data-path"]: float(b.find("rect")[0].attrs["width"]) * float(b.find("rect")[0].attrs["height"])
            for b in boxes}
    total = sum(c["size"] for c in kids)
    for c in kids:
        assert area[c["path"]] == pytest.approx(1000 * 440 * c["size"] / total, rel=1e-3, abs=1)  # .2f rounding


def test_inspect_without_the_filesystem(work):
    doc = inspect_doc(inspect(f"{work / 'img'}:app-1.0", analyze=False))
    root = parse(render(doc))
    assert not root.find("svg") and len(root.by_id("layer-bars").find(cls="layer-bar")) == len(doc["layers"])


def test_changes(docs, pages):
    doc, root = docs["changes"], parse(pages["changes"])
    rows = root.by_id("change-counts").find("tr")[1:]
    assert len(rows) == len(doc["layers"])
    head = [th.all_text() for th in root.by_id("change-counts").find("th")]
    for row, l in zip(rows, doc["layers"]):
        cells = dict(zip(head, (td.all_text() for td in row.find("td"))))
        assert int(cells["all"]) == len(l["changes"])
        for kind in head[1:-2]:
            assert int(cells[kind]) == sum(c["change"] == kind for c in l["changes"])
        largest = root.by_id(f"largest-{l['index']}").find("tr")[1:]
        biggest = max(l["changes"], key=lambda c: max(c["size"] or 0, c["removed_bytes"] or 0))
        assert largest[0].find("td")[0].all_text() == biggest["path"]


def test_compare(docs, pages):
    doc, root = docs["compare"], parse(pages["compare"])
    lay = doc["layers"]
    shared = {s["diff_id"] for s in lay["shared"]}
    for side in ("a", "b"):
        rows = root.by_id(f"layers-{side}").find("tr")[1:]
        assert [r.attrs["data-diff-id"] for r in rows] == [x["diff_id"] for x in lay[side]]
        assert [r.classes[0] for r in rows] == ["shared" if x["diff_id"] in shared else f"only-{side}"
                                               for x in lay[side]]
    files = doc["files"]
    assert len(root.by_id("files-table").find("tr")) - 1 == sum(len(files[k]) for k in ("added", "removed", "modified"))
    assert len(root.by_id("config-table").find("tr")) - 1 == len(doc["config"]["changes"])
    assert len(root.by_id("dir-bars").find(cls="dir-bar")) == len(doc["directories"])
    for box in root.find("input", cls="filter"):
        root.by_id(box.attrs["data-table"])  # every filter box names its table


@pytest.mark.parametrize("only", ["config", "files", "layers", "history", "packages"])
def test_compare_of_one_section(only, work, ls):
    """``--only``: the other sections are null, and the page leaves them out."""
    doc = json.loads(ls("compare", "--json", "--only", only, f"{work / 'img'}:app-1.0", f"{work / 'img'}:app-1.1").out)
    root = parse(render(doc))
    tables = {"config": "config-table", "files": "files-table", "layers": "layers-a", "history": "history-table",
              "packages": "packages-table"}
    present = {k for k, ident in tables.items() if any(e.attrs.get("id") == ident for e in root.iter())}
    assert present == {only}


def test_savings(docs, pages):
    doc, root = docs["savings"], parse(pages["savings"])
    bars = root.by_id("totals-bars").find(cls="total-bar")
    assert [int(float(b.attrs["data-value"])) for b in bars] == [doc["totals"][k]["bytes"] for k in
                                                                 ("naive", "layer", "chainid", "file", "chunk")]
    for level, m in doc["matrix"].items():
        cells = root.by_id(f"heat-{level}").find("td", cls="cell")
        assert [int(c.attrs["data-bytes"]) for c in cells] == [v for row in m for v in row]
    assert len(root.by_id("near-misses").find("tr")) - 1 == len(doc["near_misses"]) >= 1


def test_ci(docs, pages):
    doc, root = docs["ci"], parse(pages["ci"])
    rules = root.by_id("rules")
    text = rules.all_text()
    for r in doc["rules"]:
        assert f"{r['status']} {r['name']}" in text and r["message"] in text
    bars = rules.find(cls="rule-bar")
    assert len(bars) == len(doc["rules"])
    drawn = [b for b in bars if "data-threshold" in b.attrs]
    assert len(drawn) == sum(isinstance(r["value"], (int, float)) and isinstance(r["threshold"], (int, float))
                             for r in doc["rules"]) >= 5
    assert root.by_id("result").all_text() == doc["result"] == "FAIL"
    growth = next(b for b in drawn if float(b.attrs["data-value"]) < 0)  # app-1.1 is smaller: zero in the middle
    fill = growth.find(cls="fill")[0].attrs["style"]
    assert float(re.search(r"left:([\d.]+)%", fill).group(1)) < 50


def test_store_stats(docs, pages):
    doc, root = docs["stats"], parse(pages["stats"])
    bars = root.by_id("bytes-bars").find(cls="byte-bar")
    assert [int(b.attrs["data-value"]) for b in bars] == [doc["bytes"][k] for k in
                                                          ("logical", "unique", "packs", "index", "stored")]
    share = root.by_id("share-bars").find(cls="share-bar")
    assert [int(b.attrs["data-value"]) for b in share] == [doc[k]["shared"] for k in ("layers", "files", "chunks")]


def test_an_unknown_document_is_an_error():
    with pytest.raises(LayerscopeError, match="no HTML report"):
        render({"schema": "layerscope.ls/2"})
    with pytest.raises(LayerscopeError):
        render({})


@pytest.mark.parametrize("sizes", [[5, 3, 2, 1, 1], [1], [100, 1, 1, 1], [7] * 13, list(range(40, 0, -1))])
def test_squarify_areas_follow_sizes(sizes):
    rects = squarify(sizes, 0, 0, 1000, 560)
    total = sum(sizes)
    assert len(rects) == len(sizes)
    for s, (x, y, w, h) in zip(sizes, rects):
        assert w * h == pytest.approx(1000 * 560 * s / total, rel=1e-6)
        assert -1e-6 <= x and x + w <= 1000 + 1e-6 and -1e-6 <= y and y + h <= 560 + 1e-6
    for i, (x, y, w, h) in enumerate(rects):  # no two overlap
        for (x2, y2, w2, h2) in rects[i + 1:]:
            assert min(x + w, x2 + w2) - max(x, x2) <= 1e-6 or min(y + h, y2 + h2) - max(y, y2) <= 1e-6
    if len(set(sizes)) == 1:  # squarified: no slivers when sizes are alike
        worst = max(max(w / h, h / w) for _, _, w, h in rects)
        assert worst < 4


def test_a_100000_file_image_stays_under_5_mb(tmp_path):
    layout = samples.oci_layout(tmp_path / "big", {"t": ([(samples.many_files(100_000), "ADD many /")],
                                                         {"Cmd": ["/bin/sh"]})})
    doc = inspect_doc(inspect(f"{layout}:t"))
    fs = doc["filesystem"]
    assert fs["files"] == 100_000 and fs["aggregated"] and fs["nodes"] <= fs["max_nodes"]
    page = render(doc)
    assert len(page.encode()) < 5_000_000
    stack, boxes = [fs["root"]], 0
    while stack:
        n = stack.pop()
        boxes += sum(1 for c in n.get("children", ()) if c["size"])
        stack.extend(n.get("children", ()))
    assert page.count('<g class="node ') == boxes > 3000  # every node of the aggregate is drawn (but the root)
