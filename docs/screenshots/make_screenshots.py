#!/usr/bin/env python3
"""The README's HTML report screenshots: inspect, changes, compare, savings, ci and store stats of the sample images.

    python docs/screenshots/make_screenshots.py [--out docs/img]

Builds ``layerscope.testing.samples.demo`` (two tags of a small app image) in
a temporary directory, runs the CLI with ``--json`` as a user would, renders
each document with ``layerscope.report.html.render`` and screenshots the page
in headless Chromium (selenium + chromium-driver) at 1200x800, scrolled to
the part worth showing. Needs chromium and chromium-driver (Debian packages).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from layerscope.report.html import render
from layerscope.testing import samples

ROOT = Path(__file__).resolve().parents[2]
RULES = """[ci]
lowest_efficiency = 0.8
highest_wasted_bytes = "200KB"
highest_user_wasted_percent = 0.3
max_image_size = "5MB"
max_layers = 8
forbid_paths = ["**/*.pem", "**/id_rsa"]
max_growth = "10%"
"""
# name -> (command line after `layerscope`, the element scrolled into view (its bottom), or None)
SHOTS = {
    "inspect": (["inspect", "--json", "{a}"], "filesystem"),
    "compare": (["compare", "--json", "{a}", "{b}"], None),
    "savings": (["savings", "--json", "{a}", "{b}"], None),
    "ci": (["ci", "--json", "{b}", "--baseline", "{a}"], None),
    "changes": (["changes", "--json", "{b}"], None),
    "store-stats": (["store", "stats", "--json"], None),  # of a store holding both tags (made first)
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "img"))
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    opts.binary_location = shutil.which("chromium") or "chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,800", "--hide-scrollbars",
                "--force-device-scale-factor=1"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "chromedriver"), options=opts)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",  # the page's viewport, not the window's
                           {"width": 1200, "height": 800, "deviceScaleFactor": 1, "mobile": False})
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            lay = samples.demo(work / "demo")
            (work / ".layerscope.toml").write_text(RULES)
            a, b = f"{lay}:app-1.0", f"{lay}:app-1.1"
            env = dict(os.environ, LAYERSCOPE_STORE=str(work / "store"))
            for step in (["store", "init"], ["store", "add", "--no-progress", a, b]):
                subprocess.run([sys.executable, "-m", "layerscope", *step], cwd=work, env=env, check=True,
                               capture_output=True)
            for name, (cmd, scroll) in SHOTS.items():
                argv_ = [sys.executable, "-m", "layerscope", *(c.format(a=a, b=b) for c in cmd)]
                res = subprocess.run(argv_, cwd=work, env=env, capture_output=True, text=True)
                if res.returncode not in (0, 1):
                    raise SystemExit(f"{' '.join(cmd)}: {res.stderr.strip()}")
                doc = json.loads(res.stdout.replace(str(work) + "/", ""))  # no temporary paths on the pictures
                page = work / f"{name}.html"
                page.write_text(render(doc), encoding="utf-8")
                driver.get(page.as_uri())
                if scroll:
                    driver.execute_script(f"document.getElementById('{scroll}').scrollIntoView({{block: 'end'}})")
                png = out / f"report-{name}.png"
                driver.save_screenshot(str(png))
                print(f"{png} ({png.stat().st_size / 1000:.0f} kB)")
    finally:
        driver.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
