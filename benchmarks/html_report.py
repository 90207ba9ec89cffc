#!/usr/bin/env python3
"""The HTML report of a 100,000-file image: its size, and how fast Chromium opens it.

    python benchmarks/html_report.py [--files 100000] [--repeat 5] [--workdir DIR] [--no-browser]

Goals (issue 13): the page stays under 5 MB however many files the image has
(the filesystem aggregate is bounded), and headless Chromium opens it --
navigation start until the load event and the treemap painted -- in under
2 s. Also measured: what the aggregate adds to ``inspect`` (one pass over
the final tree), against the inspect of the same image.

The image is one layer of small files in 5-deep directories, ``--per-dir`` to one
(``layerscope.testing.samples.many_files``), written as an OCI layout.
Chromium runs through selenium and chromium-driver (``--headless=new``).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from layerscope import inspect  # noqa: E402
from layerscope.analysis.filesystem import aggregate  # noqa: E402
from layerscope.analysis.waste import _duplicates  # noqa: E402
from layerscope.report.html import render  # noqa: E402
from layerscope.report.json_out import inspect_doc  # noqa: E402
from layerscope.testing import samples  # noqa: E402

SIZE_GOAL = 5_000_000
OPEN_GOAL = 2.0

# resolves after two frames: the page loaded, laid out and painted (the treemap included)
PAINTED = ("var done=arguments[arguments.length-1];"
           "requestAnimationFrame(function(){requestAnimationFrame(function(){"
           "var t=performance.getEntriesByType('navigation')[0];"
           "done({painted:performance.now(),load:t.loadEventEnd,"
           "boxes:document.querySelectorAll('#tm-0 > g.node').length});});});")


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    opts.binary_location = shutil.which("chromium") or shutil.which("chromium-browser") or "chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,900"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver") or "chromedriver"), options=opts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--per-dir", type=int, default=10, help="files per directory (1: the aggregate's worst case)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--workdir", default=None, help="where the image and page go (default: a temporary dir)")
    ap.add_argument("--no-browser", action="store_true", help="size and aggregate cost only")
    args = ap.parse_args(argv)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="layerscope-html-"))
    work.mkdir(parents=True, exist_ok=True)

    t = time.perf_counter()
    raw = samples.many_files(args.files, per_dir=args.per_dir)
    lay = samples.oci_layout(work / f"img-{args.files}-{args.per_dir}", {"t": ([(raw, "ADD many /")],
                                                                             {"Cmd": ["/bin/sh"]})})
    print(f"image: {args.files} files, {args.per_dir} to a directory, written in {time.perf_counter() - t:.1f} s ({lay})")

    inspects, aggs, dups = [], [], []
    for _ in range(args.repeat):
        t = time.perf_counter()
        report = inspect(f"{lay}:t", cache=False)
        inspects.append(time.perf_counter() - t)
        t = time.perf_counter()
        fs = aggregate(report.overlay.tree)
        aggs.append(time.perf_counter() - t)
        t = time.perf_counter()
        _duplicates(report.overlay)
        dups.append(time.perf_counter() - t)
    i, a, d = statistics.median(inspects), statistics.median(aggs), statistics.median(dups)
    print(f"inspect (no cache): median {i * 1000:.0f} ms; the filesystem aggregate: median {a * 1000:.1f} ms "
          f"({100 * a / i:.1f}% of inspect), {fs.nodes} nodes of at most {fs.max_nodes}; "
          f"for scale, the duplicates pass --json also makes: {d * 1000:.1f} ms")

    t = time.perf_counter()
    doc = inspect_doc(report)
    page = render(doc)
    took = time.perf_counter() - t
    path = work / "inspect.html"
    path.write_text(page, encoding="utf-8")
    size = len(page.encode())
    print(f"HTML: {size / 1e6:.2f} MB (goal < {SIZE_GOAL / 1e6:.0f} MB: {'ok' if size < SIZE_GOAL else 'MISSED'}); "
          f"inspect_doc + render {took * 1000:.0f} ms; {path}")
    if args.no_browser:
        return 0 if size < SIZE_GOAL else 1

    driver = browser()
    try:
        opens, loads = [], []
        for _ in range(args.repeat + 1):  # the first warms Chromium's own start-up up
            driver.get("about:blank")
            driver.get(path.as_uri())
            r = driver.execute_async_script(PAINTED)
            assert r["boxes"] > 0
            opens.append(r["painted"] / 1000)
            loads.append(r["load"] / 1000)
        opens, loads = opens[1:], loads[1:]
    finally:
        driver.quit()
    o = statistics.median(opens)
    print(f"Chromium: load event median {statistics.median(loads):.2f} s, treemap painted median {o:.2f} s "
          f"(best {min(opens):.2f} s; goal < {OPEN_GOAL:.0f} s: {'ok' if o < OPEN_GOAL else 'MISSED'})")
    return 0 if size < SIZE_GOAL and o < OPEN_GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
