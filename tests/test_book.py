"""The whole book at the tiny profile: executed, rendered with warnings as errors, and opened in headless Chromium
with the network cut off.

The build goes to ``_build/test-book`` (cached like ``make book``: an unchanged tree re-renders in seconds);
screenshots of every page are saved to ``_build/test-book/screenshots``.
"""

import json
import shutil
from pathlib import Path

import nbformat
import pytest

from genre_utils import build, context

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build" / "test-book"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="session")
def book():
    ctx = context.context("tiny", BUILD, progress=False)
    html = build.build_book(ctx, root=ROOT, strict=True)
    return ctx, html


def test_book_builds_and_writes_headline_results(book):
    ctx, html = book
    assert (html / "index.html").is_file()
    summary = json.loads((ctx.build_dir / "results.json").read_text())
    assert summary["profile"] == "tiny" and summary["synthetic"] is True
    assert set(summary["runs"]) == {context.run_dir("tiny", *r, build_dir=BUILD).name for r in context.BOOK_RUNS}
    for name, run in summary["runs"].items():  # the summary repeats each run's own results
        own = json.loads((BUILD / "runs" / "tiny" / name / "results.json").read_text())["headline"]
        assert run["track_accuracy"] == own["track_accuracy"] and run["segment_accuracy"] == own["segment_accuracy"]


def test_every_results_page_names_its_data(book):
    ctx, html = book
    for page in (html / "book").glob("*.html"):
        if page.stem in ("ethics", "api", "related_work", "architecture"):
            continue
        assert "synthetic data" in page.read_text(), f"{page.name} does not say which data it shows"


def test_executed_notebooks_keep_widget_state_and_glue(book):
    ctx, _ = book
    nb = nbformat.read(ctx.build_dir / "executed" / "book" / "explorer.ipynb", as_version=4)
    assert nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    html = (ctx.build_dir / "html" / "book" / "quantitative.html").read_text()
    assert "66.5" in html  # the paper's value, glued from genre_utils.paper beside this build's


def test_no_figure_is_shown_twice(book):
    ctx, _ = book
    for notebook in sorted((ctx.build_dir / "executed" / "book").glob("*.ipynb")):
        for i, cell in enumerate(nbformat.read(notebook, as_version=4).cells):
            pngs = [out["data"]["image/png"] for out in cell.get("outputs", []) if "image/png" in out.get("data", {})]
            assert len(pngs) == len(set(pngs)), f"{notebook.name} cell {i} shows the same figure twice"


def _png_outputs(notebook: Path) -> int:
    nb = nbformat.read(notebook, as_version=4)
    return sum("image/png" in out.get("data", {}) for cell in nb.cells if cell.cell_type == "code"
               for out in cell.outputs)


@pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                    reason="headless Chromium and chromedriver are needed (Debian: apt-get install chromium "
                           "chromium-driver; .ci/run installs them)")
def test_pages_render_offline_in_chromium(book):
    selenium = pytest.importorskip("selenium", reason="selenium is needed to drive Chromium")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    ctx, html = book
    shots = ctx.build_dir / "screenshots"
    shots.mkdir(exist_ok=True)
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1280,1600",
                 # the network is off: every host resolves to nothing, and a dead proxy catches the rest
                 "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    problems = []
    try:
        for page in sorted((html / "book").glob("*.html")):
            driver.get(page.as_uri())
            WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")
            if page.stem == "explorer":
                WebDriverWait(driver, 30).until(
                    lambda d: d.execute_script("return document.querySelectorAll('.widget-dropdown').length") > 0)
            broken = driver.execute_script(
                "return Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0)"
                ".map(i => i.src.slice(0, 80))")
            if broken:
                problems.append(f"{page.name}: broken images {broken}")
            notebook = ctx.build_dir / "executed" / "book" / f"{page.stem}.ipynb"
            if notebook.is_file():
                shown = driver.execute_script("return document.querySelectorAll('.cell_output img').length")
                if shown < _png_outputs(notebook):
                    problems.append(f"{page.name}: {shown} images shown, notebook has {_png_outputs(notebook)}")
            errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
            if errors:
                problems.append(f"{page.name}: console errors {errors[:3]}")
            driver.save_screenshot(str(shots / f"{page.stem}.png"))
        driver.get((html / "book" / "explorer.html").as_uri())
        WebDriverWait(driver, 30).until(
            lambda d: d.execute_script("return document.querySelectorAll('.widget-dropdown').length") > 0)
        widgets = driver.execute_script(
            "return {dropdowns: document.querySelectorAll('.widget-dropdown').length,"
            " audio: document.querySelectorAll('.widget-audio, audio').length,"
            " images: document.querySelectorAll('.widget-image, .jupyter-widgets img').length,"
            " failed: document.body.innerText.includes('Error rendering Jupyter widget')}")
    finally:
        driver.quit()
    assert not problems, "\n".join(problems)
    assert widgets["dropdowns"] == 2 and widgets["audio"] >= 1 and widgets["images"] >= 1 and not widgets["failed"]
    assert len(list(shots.glob("*.png"))) >= 10
