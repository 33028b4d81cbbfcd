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
from genre_utils.genres import GENRES
from genre_utils.lab import control_words as lab_words
from genre_utils.synth.controls import COMBINED, CONTROLS

pytestmark = pytest.mark.slow  # builds the whole book (minutes); `make test` runs it, `make test-fast` does not

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build" / "test-book"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CHROMEDRIVER = shutil.which("chromedriver")
NOTEBOOK_PAGES = sorted((ROOT / "book").glob("*.ipynb"))


def pages(html: Path) -> list[Path]:
    """The rendered chapter pages; a loop over none would pass vacuously, so none is a failure."""
    found = sorted((html / "book").glob("*.html"))
    assert len(found) >= len(NOTEBOOK_PAGES), f"{len(found)} pages under {html / 'book'}"
    return found


def executed(ctx) -> list[Path]:
    """The executed notebooks (as many as the book has), never an empty list."""
    found = sorted((ctx.build_dir / "executed" / "book").glob("*.ipynb"))
    assert len(found) == len(NOTEBOOK_PAGES), f"{len(found)} executed notebooks, {len(NOTEBOOK_PAGES)} in book/"
    return found


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


def test_the_corpus_card_and_the_laboratory_come_with_the_build(book):
    ctx, html = book
    card = json.loads((ctx.build_dir / "data" / "synth-tiny" / "corpus_card.json").read_text())
    assert set(card["genres"]) == set(GENRES) and card["foreign"]
    lab = json.loads((ctx.build_dir / "data" / "lab-tiny" / "lab.json").read_text())
    assert lab["controls"][0] == "none" and len(lab["controls"]) == 1 + len(CONTROLS) - len(COMBINED) and lab["clips"]
    page = (html / "book" / "laboratory.html").read_text()
    assert "bag-of-frames probe" in page and "made common" in page
    # trained under the control: its corpus (no new data), its runs, and the page's section read from them
    control = context.LAB_CONTROLS["tiny"][0]
    timbre = json.loads((ctx.build_dir / "data" / f"synth-tiny-{control}" / "corpus.json").read_text())
    assert timbre["control"] == control and not any(f.startswith("newdata/") for f in timbre["files"])
    for model in context.LAB_MODELS:
        assert (ctx.build_dir / "runs" / "tiny" / f"lab-{control}" / f"{model}-mfcc-random" / "results.json").is_file()
    assert f"Trained and tested with {lab_words(control)} made common to all genres" in page
    assert "each model minus the regression on track means" in page          # glued from the results
    assert f"On the corpus with {lab_words(control)} made common" in page


def test_every_results_page_names_its_data(book):
    ctx, html = book
    for page in pages(html):
        if page.stem in ("ethics", "api", "related_work", "architecture"):
            continue
        assert "synthetic data" in page.read_text(), f"{page.name} does not say which data it shows"


def test_executed_notebooks_hold_the_static_explorer_and_glue(book):
    ctx, _ = book
    nb = nbformat.read(ctx.build_dir / "executed" / "book" / "explorer.ipynb", as_version=4)
    shown = [out["data"]["text/html"] for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
             if "text/html" in out.get("data", {})]
    assert any('class="gu-explorer"' in h for h in shown)
    assert "widgets" not in nb.metadata  # no saved widget that looks live and does nothing without a kernel
    html = (ctx.build_dir / "html" / "book" / "quantitative.html").read_text()
    assert "66.5" in html  # the paper's value, glued from genre_utils.paper beside this build's


def _machine_paths(ctx) -> list[str]:
    """Absolute paths of this machine that must not appear in a page or an executed notebook."""
    paths = {str(ctx.build_dir), str(ROOT), str(Path.home())}
    return sorted(p for p in paths if len(p) > 1)


def test_executed_notebooks_hide_plumbing_and_hold_no_absolute_path(book):
    ctx, _ = book
    for notebook in executed(ctx):
        text = notebook.read_text()
        for path in _machine_paths(ctx):
            assert path not in text, f"{notebook.name} holds the absolute path {path}"
        for i, cell in enumerate(nbformat.read(notebook, as_version=4).cells):
            if cell.cell_type != "code":
                continue
            tags = cell.metadata.get("tags", [])
            if "parameters" in tags or "injected-parameters" in tags:
                assert "remove-cell" in tags, f"{notebook.name} cell {i}: parameters cell not removed"
            elif "show-input" not in tags:
                assert "remove-input" in tags, f"{notebook.name} cell {i}: code shown without show-input"


def test_no_figure_is_shown_twice(book):
    ctx, _ = book
    for notebook in executed(ctx):
        for i, cell in enumerate(nbformat.read(notebook, as_version=4).cells):
            pngs = [out["data"]["image/png"] for out in cell.get("outputs", []) if "image/png" in out.get("data", {})]
            assert len(pngs) == len(set(pngs)), f"{notebook.name} cell {i} shows the same figure twice"


def _png_outputs(notebook: Path) -> int:
    nb = nbformat.read(notebook, as_version=4)
    return sum("image/png" in out.get("data", {}) for cell in nb.cells if cell.cell_type == "code"
               for out in cell.outputs)


#: Figures of the paper (1-13): each must appear in the book under a caption starting "Figure N".
PAPER_FIGURES = 13

#: Every figure caption of a page: its number (the paper's N of "Figure N", 'own' for the book's own figures,
#: numbered "Figure <paper section>.<k>", None when it has none) and whether it holds an image, a plot or a text
#: figure.
FIGURES_JS = """
return Array.from(document.querySelectorAll('figure')).map(f => {
  const cap = f.querySelector('figcaption');
  const text = cap ? cap.innerText.trim() : '';
  const m = text.match(/^Figure\\s+(\\d+)(?![\\d.])/);        // the paper's Figure N
  const own = /^Figure\\s+\\d+\\.\\d+\\b/.test(text);          // the book's own: Figure <section>.<k>
  const imgs = Array.from(f.querySelectorAll('img')).filter(i => i.complete && i.naturalWidth > 0);
  const plot = f.querySelector('.plotly-graph-div, .js-plotly-plot, svg.main-svg, canvas');
  const pre = f.querySelector('pre.text-figure');
  return {number: m ? parseInt(m[1]) : (own ? 'own' : null), text: text,
          rendered: imgs.length > 0 || !!plot || !!(pre && pre.innerText.trim().length > 0)};
}).filter(f => f.text.length > 0);
"""

#: Layout problems of one page: cut table cells, a content column wider than its box, machine paths.
LAYOUT_JS = """
const article = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
const cut = Array.from(document.querySelectorAll('table td, table th'))
  .map(c => c.innerText.trim()).filter(t => /(\\.\\.\\.|\u2026)$/.test(t));
// a table wider than the text column even when wrapped scrolls inside its own box: legal CSS, but the reader
// sees it cut at the column's edge, so it counts as running off the column too
const boxed = Array.from(document.querySelectorAll('table')).map(t => {
  const box = t.closest('div.output, .output.text_html, .cell_output') || t.parentElement;
  const heads = Array.from(t.querySelectorAll('th')).map(h => h.innerText.trim()).filter(x => x);
  return {wide: t.scrollWidth > box.clientWidth + 2,
          what: heads.slice(0, 4).join(' | ') + ' (' + t.scrollWidth + ' px in ' + box.clientWidth + ')'};
}).filter(t => t.wide).map(t => t.what);
return {scroll: article.scrollWidth, client: article.clientWidth, cut: cut.slice(0, 5), wide: boxed.slice(0, 5),
        text: document.body.innerText};
"""


def _page_layout_problems(driver, name: str, paths, source: str = "") -> list[str]:
    """No "..."-truncated table cell, no horizontal overflow of the text column, no absolute path of this machine.

    Paths are looked for in the page's file (``source``) and in the text the browser shows once the widgets
    have rendered; not in the live DOM's attributes, where the browser itself writes the page's own
    ``file://`` address into URLs it resolves.
    """
    found = driver.execute_script(LAYOUT_JS)
    found["text"] += "\n" + source
    problems = []
    if found["cut"]:
        problems.append(f"{name}: table cells cut with '...': {found['cut']}")
    if found["wide"]:
        problems.append(f"{name}: tables wider than the text column (they scroll in their box): {found['wide']}")
    if found["scroll"] > found["client"] + 2:
        problems.append(f"{name}: content runs off the text column (scrollWidth {found['scroll']} > "
                        f"clientWidth {found['client']})")
    for path in paths:
        if path in found["text"]:
            problems.append(f"{name}: the page shows the absolute path {path}")
    return problems


@pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                    reason="headless Chromium and chromedriver are needed (Debian: apt-get install chromium "
                           "chromium-driver; .ci/run installs them)")
def test_pages_render_offline_in_chromium(book):
    pytest.importorskip("selenium", reason="selenium is needed to drive Chromium")
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
    figures: dict = {}
    try:
        for page in pages(html):
            driver.get(page.as_uri())
            WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")
            broken = driver.execute_script(
                "return Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0)"
                ".map(i => i.src.slice(0, 80))")
            if broken:
                problems.append(f"{page.name}: broken images {broken}")
            notebook = ctx.build_dir / "executed" / "book" / f"{page.stem}.ipynb"
            if notebook.is_file():
                shown = driver.execute_script(
                    "return document.querySelectorAll('.cell_output img, figure img').length")
                if shown < _png_outputs(notebook):
                    problems.append(f"{page.name}: {shown} images shown, notebook has {_png_outputs(notebook)}")
            problems += _page_layout_problems(driver, page.name, _machine_paths(ctx), page.read_text())
            for caption in driver.execute_script(FIGURES_JS):
                figures.setdefault(caption["number"], []).append({**caption, "page": page.name})
            errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
            if errors:
                problems.append(f"{page.name}: console errors {errors[:3]}")
            driver.save_screenshot(str(shots / f"{page.stem}.png"))
    finally:
        driver.quit()
    for n in range(1, PAPER_FIGURES + 1):
        found = figures.get(n, [])
        if not found:
            problems.append(f"Figure {n} of the paper has no caption 'Figure {n} ...' in the book")
        elif not any(f["rendered"] for f in found):
            problems.append(f"Figure {n} ({found[0]['page']}) has a caption but no rendered image, plot or text figure")
    for f in figures.get(None, []):
        problems.append(f"{f['page']}: figure caption without a number: {f['text'][:80]!r}")
    assert not problems, "\n".join(problems)
    assert len(list(shots.glob("*.png"))) >= 10


@pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None, reason="headless Chromium and chromedriver are needed")
def test_explorer_page_works_without_a_kernel_in_chromium(book):
    """The explorer page: pick a true/predicted pair, click a track, see its image and hear it, all offline."""
    pytest.importorskip("selenium", reason="selenium is needed to drive Chromium")
    from live_helpers import check_static_explorer, chromium_driver
    from selenium.webdriver.support.ui import WebDriverWait

    ctx, html = book
    driver = chromium_driver(window="1280,2400")
    try:
        driver.get((html / "book" / "explorer.html").as_uri())
        WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")
        assert "Changing the selection needs a running Python kernel" not in driver.page_source
        check_static_explorer(driver)
        errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
        (ctx.build_dir / "screenshots").mkdir(exist_ok=True)
        driver.save_screenshot(str(ctx.build_dir / "screenshots" / "explorer-clicked.png"))
    finally:
        driver.quit()
