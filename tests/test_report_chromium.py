"""HTML reports in a real browser: headless Chromium driven by selenium + chromium-driver.

Each page is opened from a file:// URL and checked for what only a browser
can tell: no console error, no request other than the page itself (the CSP
and the markup leave nothing to load), the charts as drawn on screen hold
what the document says (bar counts, treemap areas measured with
getBoundingClientRect), and the treemap drills down on a click. A
screenshot of each page is kept as a test artifact
($LAYERSCOPE_TEST_ARTIFACTS, default the test's tmp_path). Skipped when
chromium, chromedriver or selenium is missing.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from layerscope import compare, inspect, savings
from layerscope.report.compare_out import compare_doc
from layerscope.report.html import render
from layerscope.report.json_out import inspect_doc
from layerscope.report.savings_out import savings_doc
from layerscope.testing import samples

pytestmark = pytest.mark.chromium

HOSTILE = "</script><img src=x onerror=alert(1)>"


def _binary(*names: str) -> str | None:
    return next((p for p in map(shutil.which, names) if p), None)


CHROMIUM = _binary("chromium", "chromium-browser", "google-chrome")
CHROMEDRIVER = _binary("chromedriver")


@pytest.fixture(scope="module")
def driver():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("chromium and chromedriver are needed (Debian: apt-get install chromium chromium-driver)")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,900",
                "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)  # a given driver: no Selenium Manager lookup
    yield d
    d.quit()


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> tuple[str, str]:
    lay = samples.demo(tmp_path_factory.mktemp("chromium") / "img", hostile=HOSTILE)
    return f"{lay}:app-1.0", f"{lay}:app-1.1"


@pytest.fixture
def artifacts(tmp_path) -> Path:
    where = Path(os.environ.get("LAYERSCOPE_TEST_ARTIFACTS") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    return where


def open_page(driver, doc: dict, where: Path, name: str) -> str:
    """Write the page, load it (logs cleared first), check errors and requests; its URL."""
    path = where / f"{name}.html"
    path.write_text(render(doc), encoding="utf-8")
    driver.get_log("browser")
    driver.get_log("performance")
    url = path.as_uri()
    driver.get(url)
    driver.execute_script("return document.readyState")
    check_quiet(driver, url)
    return url


def check_quiet(driver, url: str) -> None:
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe
    sent = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] == "Network.requestWillBeSent":
            sent.append(msg["params"]["request"]["url"])
    assert sent, "the performance log saw no request: it is not recording"
    assert [u for u in sent if u != url and not u.startswith("data:")] == []
    assert driver.execute_script("return performance.getEntriesByType('resource').length") == 0


def shot(driver, where: Path, name: str) -> None:
    driver.save_screenshot(str(where / f"{name}.png"))


def rect(driver, el) -> dict:
    return driver.execute_script("var r=arguments[0].getBoundingClientRect();"
                                 "return {x:r.x,y:r.y,w:r.width,h:r.height};", el)


def test_inspect_page(driver, images, artifacts):
    from selenium.webdriver.common.by import By

    doc = inspect_doc(inspect(images[0]))
    open_page(driver, doc, artifacts, "inspect")
    assert driver.execute_script("return document.body.dataset.report") == "inspect"
    assert not driver.execute_script("return document.querySelector('img')")  # the hostile name stayed text
    bars = driver.find_elements(By.CSS_SELECTOR, "#layer-bars .layer-bar")
    assert len(bars) == len(doc["layers"])
    fills = [rect(driver, b.find_element(By.CSS_SELECTOR, ".fill"))["w"] for b in bars]
    biggest = max(range(len(fills)), key=fills.__getitem__)
    for f, l in zip(fills, doc["layers"]):
        assert f == pytest.approx(fills[biggest] * l["size"] / doc["layers"][biggest]["size"], abs=2)

    # the treemap: the top level's box areas follow the sizes
    root = doc["filesystem"]["root"]
    kids = [c for c in root["children"] if c["size"]]
    boxes = driver.find_elements(By.CSS_SELECTOR, "#tm-0 > g.node")
    assert len(boxes) == len(kids) >= 3
    drawn = {b.get_attribute("data-path"): rect(driver, b.find_element(By.TAG_NAME, "rect")) for b in boxes}
    big = [c for c in kids if drawn[c["path"]]["w"] * drawn[c["path"]]["h"] > 400]  # rounding: not slivers
    assert len(big) >= 3
    ref = big[0]
    ref_area = drawn[ref["path"]]["w"] * drawn[ref["path"]]["h"]
    for c in big[1:]:
        area = drawn[c["path"]]["w"] * drawn[c["path"]]["h"]
        assert area / ref_area == pytest.approx(c["size"] / ref["size"], rel=0.03), c["path"]
    assert all(b.is_displayed() for b in boxes)
    shot(driver, artifacts, "inspect")
    driver.execute_script("document.getElementById('filesystem').scrollIntoView()")

    # drill down: a directory's box opens its level, the breadcrumb follows; back up by the breadcrumb
    crumbs = driver.find_element(By.ID, "crumbs")
    assert crumbs.text == "/"
    usr = driver.find_element(By.CSS_SELECTOR, '#tm-0 > g.dir[data-path="/usr"]')
    target = usr.get_attribute("data-target")
    usr.find_element(By.TAG_NAME, "rect").click()
    assert crumbs.get_attribute("data-level") == target
    assert crumbs.text == "/ \u203a usr"
    assert not driver.find_element(By.ID, "tm-0").is_displayed()
    inner = driver.find_elements(By.CSS_SELECTOR, f"#{target} > g.node")
    node = next(c for c in kids if c["path"] == "/usr")
    assert [b.get_attribute("data-path") for b in inner] == [c["path"] for c in node["children"] if c["size"]]
    assert all(b.is_displayed() and rect(driver, b)["w"] > 0 for b in inner)
    shot(driver, artifacts, "inspect-usr")
    crumbs.find_element(By.TAG_NAME, "a").click()
    assert crumbs.text == "/" and driver.find_element(By.ID, "tm-0").is_displayed()
    check_quiet_after_clicks(driver)


def check_quiet_after_clicks(driver) -> None:
    assert not [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert driver.execute_script("return performance.getEntriesByType('resource').length") == 0


def test_compare_page(driver, images, artifacts):
    from selenium.webdriver.common.by import By

    doc = compare_doc(compare(*images))
    open_page(driver, doc, artifacts, "compare")
    for side in ("a", "b"):
        rows = driver.find_elements(By.CSS_SELECTOR, f"#layers-{side} tbody tr")
        assert len(rows) == len(doc["layers"][side])
        assert sum("shared" in r.get_attribute("class") for r in rows) == sum(
            1 for x in doc["layers"][side] if x["diff_id"] in {s["diff_id"] for s in doc["layers"]["shared"]})
    assert len(driver.find_elements(By.CSS_SELECTOR, "#dir-bars .dir-bar")) == len(doc["directories"])
    files = doc["files"]
    rows = driver.find_elements(By.CSS_SELECTOR, "#files-table tbody tr")
    assert len(rows) == len(files["added"]) + len(files["removed"]) + len(files["modified"])
    box = driver.find_element(By.CSS_SELECTOR, 'input.filter[data-table="files-table"]')
    box.send_keys("static")
    want = sum("static" in f["path"] for k in ("added", "removed", "modified") for f in files[k])
    assert 0 < sum(r.is_displayed() for r in rows) == want < len(rows)
    shot(driver, artifacts, "compare")
    check_quiet_after_clicks(driver)


def test_savings_page(driver, images, artifacts):
    from selenium.webdriver.common.by import By

    doc = savings_doc(savings(list(images)))
    open_page(driver, doc, artifacts, "savings")
    assert len(driver.find_elements(By.CSS_SELECTOR, "#totals-bars .total-bar")) == 5
    n = len(doc["images"])
    for level in doc["matrix"]:
        cells = driver.find_elements(By.CSS_SELECTOR, f"#heat-{level} td.cell")
        assert len(cells) == n * n and all(c.is_displayed() for c in cells)
    assert len(driver.find_elements(By.CSS_SELECTOR, "#near-misses tbody tr")) == len(doc["near_misses"])
    shot(driver, artifacts, "savings")
