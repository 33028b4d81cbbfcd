"""`make explore`: finding the run, one-line failures, the explorer's saliency view, and the live app (Voilà) driven
in headless Chromium."""

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from live_helpers import CHROMEDRIVER, CHROMIUM, NO_CHROMIUM, explorer_url, fake_results

from genre_utils import explore
from genre_utils.models import build_model
from genre_utils.provenance import file_sha256
from genre_utils.train import CHECKPOINT_FORMAT

ROOT = Path(__file__).resolve().parents[1]
# two clips in the blues -> jazz cell (the largest error cell, where the app opens), and other cells to switch to
CELLS = [("blues", "jazz"), ("blues", "jazz"), ("blues", "blues"), ("jazz", "jazz"), ("metal", "rock"),
         ("rock", "rock"), ("metal", "metal")]


def make_run(folder: Path) -> Path:
    """A run folder the explorer accepts: results of fake clips and an untrained CRNN's checkpoint."""
    res = fake_results(folder, CELLS, seconds=11.0)
    run = folder / "runs" / "tiny" / "-".join(explore.MAIN_RUN)
    run.mkdir(parents=True)
    model = build_model("crnn", input_shape=(64, 235), seed=0)
    torch.save({"format": CHECKPOINT_FORMAT, "model_spec": model.spec, "model_state": model.state_dict(),
                "epoch": 1, "history": {}, "config": {"features": res["config"]["features"]}}, run / "best.pt")
    res["checkpoint_sha256"] = file_sha256(run / "best.pt")  # the results are of this best.pt
    (run / "results.json").write_text(json.dumps(res))
    return run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("explore"))


def test_find_run_prefers_the_last_book_then_any_trained_run(tmp_path, run):
    assert explore.find_run(tmp_path) is None
    assert explore.find_run(run.parents[2]) == run
    (run.parents[2] / "results.json").write_text(json.dumps({"profile": "quick"}))  # last book: quick, not built
    assert explore.find_run(run.parents[2]) == run
    (run.parents[2] / "results.json").unlink()


def test_no_runs_and_no_build_is_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "genre_utils.explore", "--build-dir", str(tmp_path), "--no-build"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    if importlib.util.find_spec("voila") is None:
        assert proc.returncode == 2 and "Voila is not installed" in proc.stderr
        return
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "no trained runs" in proc.stderr and "make book" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_explorer_saliency_view_follows_the_selected_clip(run):
    pytest.importorskip("ipywidgets")
    parts = explore.app(run, max_audio_seconds=10.0, saliency_method="gradient").parts
    assert (parts.true.value, parts.pred.value) == ("blues", "jazz")
    first = parts.saliency.value
    assert first[:8] == b"\x89PNG\r\n\x1a\n" and parts.saliency.layout.display == ""
    parts.clips.value = parts.clips.options[1][1]
    assert parts.saliency.value != first
    parts.true.value = "rock"
    assert parts.pred.value == "rock" and parts.saliency.value not in (b"", first)


def _voila_missing() -> str | None:
    if importlib.util.find_spec("voila") is None:
        return "Voila is not installed (the live extra: `make explore` or pip install -e '.[live]')"
    if importlib.util.find_spec("selenium") is None:
        return "selenium is needed to drive Chromium"
    return None


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None, reason=NO_CHROMIUM)
@pytest.mark.skipif(_voila_missing() is not None, reason=_voila_missing() or "")
def test_live_explorer_in_chromium(run, tmp_path):
    import psutil
    from live_helpers import chromium_driver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    port = explore._free_port()
    proc = subprocess.Popen([sys.executable, "-m", "genre_utils.explore", "--run", str(run), "--port", str(port),
                             "--build-dir", str(tmp_path)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # its own process group, like a terminal job
    seen = set()

    def remember():
        try:
            seen.update((p.pid, p.create_time()) for p in psutil.Process(proc.pid).children(recursive=True))
        except psutil.Error:
            pass

    driver = None
    try:
        url = explorer_url(proc)
        assert url, "no URL printed"
        assert url.startswith(f"http://127.0.0.1:{port}/")
        driver = chromium_driver()
        driver.get(url)
        wait = WebDriverWait(driver, 180)
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".widget-dropdown select")) == 2
                   and d.find_elements(By.CSS_SELECTOR, ".widget-select select option"))
        remember()

        def state():
            return driver.execute_script(
                "var imgs = Array.from(document.querySelectorAll('.widget-image img, img.widget-image'));"
                "var a = document.querySelector('audio');"
                "var sel = document.querySelector('.widget-select select');"
                "return {options: Array.from(sel.options).map(o => o.textContent.replace(/\\s+/g, ' ')),"
                " selected: sel.selectedIndex,"
                " images: imgs.map(i => i.src), audio: a ? a.src : null,"
                " details: Array.from(document.querySelectorAll('.widget-html-content'))"
                "   .map(h => h.innerHTML).filter(h => h.includes('mean probability')).join('')};")

        def changed(before, *keys):
            def check(_):
                now = state()
                return now if all(now[k] != before[k] for k in keys) else False
            return check

        start = state()
        assert len(start["options"]) == 2 and start["audio"] and len(start["images"]) == 2
        # the selected track: the second clip of the cell
        Select(driver.find_element(By.CSS_SELECTOR, ".widget-select select")).select_by_index(1)
        second = wait.until(changed(start, "images", "audio", "details", "selected"))
        assert second["options"] == start["options"]
        # the true genre: rock (its only cell is rock -> rock)
        true, pred = driver.find_elements(By.CSS_SELECTOR, ".widget-dropdown select")
        Select(true).select_by_index(9)
        third = wait.until(changed(second, "options", "images", "audio", "details"))
        assert len(third["options"]) == 1 and "rock" in third["options"][0]
        # the predicted genre: metal -> rock, then metal -> metal
        true, pred = driver.find_elements(By.CSS_SELECTOR, ".widget-dropdown select")
        Select(true).select_by_index(6)
        fourth = wait.until(changed(third, "options", "images", "audio", "details"))
        assert "metal: rock" in fourth["options"][0]
        true, pred = driver.find_elements(By.CSS_SELECTOR, ".widget-dropdown select")
        Select(pred).select_by_index(6)
        fifth = wait.until(changed(fourth, "options", "images", "audio", "details"))
        assert "metal: metal" in fifth["options"][0]
        remember()
        failed = driver.execute_script("return document.body.innerText")
        assert "Traceback" not in failed and "Error" not in failed.split("Error explorer", 1)[-1]
    finally:
        if driver is not None:
            driver.quit()
        remember()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in the terminal: the whole foreground group gets it
        try:
            rc = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
        out, err = proc.communicate()
    assert rc == 0, err
    assert "Explorer stopped." in out and "Traceback" not in err
    assert seen, "the explorer started no process (no kernel?)"
    time.sleep(1)
    left = []
    for pid, created in seen:
        try:
            if psutil.Process(pid).create_time() == created and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                left.append(pid)
        except psutil.Error:
            pass
    assert not left, f"processes left running: {left}"
    assert explore._port_free(port)
