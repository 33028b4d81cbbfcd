"""Shared by the live tests (listening test, saliency, `make explore`): a tiny fake run and headless Chromium."""

from __future__ import annotations

import shutil
import time

import numpy as np

from genre_utils.audio import write_wav
from genre_utils.genres import GENRES

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CHROMEDRIVER = shutil.which("chromedriver")
NO_CHROMIUM = ("headless Chromium and chromedriver are needed (Debian: apt-get install chromium chromium-driver; "
               ".ci/run installs them)")


def tone(seconds: float, freq: float, rate: int = 22050, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    noise = np.random.default_rng(seed).normal(0, 0.02, t.size)
    return (0.3 * np.sin(2 * np.pi * freq * t) + noise).astype(np.float32)


def _probs(pred: str, p: float = 0.6) -> dict:
    rest = (1 - p) / (len(GENRES) - 1)
    return {f"prob_{g}": (p if g == pred else rest) for g in GENRES}


def fake_results(folder, cells, newdata=(), seconds: float = 6.0) -> dict:
    """A run's results with test tracks in the given (true, predicted) cells, audio written under ``folder``.

    ``cells``: list of (true genre, predicted genre); ``newdata``: list of (label, predicted genre).
    """
    tracks, files = [], []
    for k, (true, pred) in enumerate(cells):
        path = folder / "audio" / f"{true}.{k:05d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_wav(path, tone(seconds, 150 + 40 * k, seed=k), 22050)
        votes = {f"votes_{g}": (2 if g == pred else 0) for g in GENRES}
        conf = 0.9 - 0.05 * k
        tracks.append({"track_id": f"gtzan:{true}.{k:05d}", "y_true": GENRES.index(true), "true_genre": true,
                       "n_segments": 2, "pred": GENRES.index(pred), "pred_genre": pred, "tied": False, **votes,
                       **_probs(pred, conf), "correct": true == pred,
                       "line": f"{true}: {pred}:{conf:.2f}", "source": "gtzan", "path": str(path)})
    for k, (label, pred) in enumerate(newdata):
        path = folder / "newdata" / label / f"{label}-new-{k:03d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_wav(path, tone(seconds, 300 + 25 * k, seed=100 + k), 22050)
        files.append({"path": str(path), "label": label, "n_segments": 1, "pred_genre": pred,
                      "pred": GENRES.index(pred), "correct": label == pred, "error": "",
                      "line": f"{label}: {pred}:0.50", **_probs(pred, 0.5)})
    return {"genres": list(GENRES), "test": {"tracks": tracks},
            "newdata": {"files": files, "summary": {"n_files": len(files)}},
            "config": {"features": {"sample_rate": 22050, "segment_seconds": 5.0, "n_fft": 2048,
                                    "hop_length": 470, "n_mels": 128, "height": 64, "kind": "mfcc"}}}


def chromium_driver(window: str = "1280,1600"):
    """Headless Chromium with the network cut off except localhost."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--window-size={window}", "--autoplay-policy=no-user-gesture-required",
                 # only localhost answers: every other host resolves to nothing, and a dead proxy catches the rest
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
                 "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>;localhost;127.0.0.1"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


def explorer_url(proc, timeout: float = 120.0) -> str | None:
    """The URL ``python -m genre_utils.explore`` prints (``Explorer: URL``) on ``proc``'s stdout; None when
    it stops or ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            return None
        if line.startswith("Explorer: "):
            return line.split(" ", 1)[1].strip()
    return None


def check_static_explorer(driver, cell=None, track_id=None) -> None:
    """Drive the kernel-free explorer (genre_utils.static_explorer) of the page open in ``driver``.

    Picks ``cell`` (true, predicted genre index as strings; default the first non-empty error cell of the
    matrix) in the two dropdowns, checks the list shows that cell's tracks, clicks ``track_id`` (default the
    first listed) and waits for its image and an MP3 player with a ``data:`` source; then clicks another cell of
    the matrix and checks that both dropdowns and the list follow.
    """
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    root = driver.find_element(By.CSS_SELECTOR, ".gu-explorer")
    cells = root.find_elements(By.CSS_SELECTOR, "td.gu-cell:not(.gu-empty)")
    at = {(c.get_attribute("data-t"), c.get_attribute("data-p")): c for c in cells}
    if cell is None:
        cell = next((k for k in at if k[0] != k[1]), next(iter(at)))
    true, pred = Select(root.find_element(By.CSS_SELECTOR, "select.gu-true")), Select(
        root.find_element(By.CSS_SELECTOR, "select.gu-pred"))
    true.select_by_value(cell[0])
    pred.select_by_value(cell[1])
    rows = [r for r in root.find_elements(By.CSS_SELECTOR, "tr.gu-track") if r.is_displayed()]
    assert len(rows) == int(at[cell].get_attribute("data-n")), (cell, len(rows))
    names = [r.find_element(By.TAG_NAME, "td").text for r in rows]
    row = rows[names.index(track_id)] if track_id else rows[0]
    row.click()
    detail = root.find_element(By.CSS_SELECTOR, ".gu-detail")
    assert (track_id or names[0]) in detail.text
    WebDriverWait(driver, 10).until(lambda d: d.execute_script(
        "var i = arguments[0].querySelector('img'); return !!i && i.complete && i.naturalWidth > 0;", detail))
    audio = driver.execute_script(
        "var a = arguments[0].querySelector('audio'); if (!a) { return null; } a.load();"
        "return new Promise(r => setTimeout(() => r({src: a.src.slice(0, 30), duration: a.duration}), 1500));",
        detail)
    assert audio and audio["src"].startswith("data:audio/mpeg;base64,") and audio["duration"] > 1, audio
    other = next(k for k in at if k != cell)
    at[other].click()
    assert (true.first_selected_option.get_attribute("value"), pred.first_selected_option.get_attribute("value")) \
        == other
    shown = [r for r in root.find_elements(By.CSS_SELECTOR, "tr.gu-track") if r.is_displayed()]
    assert len(shown) == int(at[other].get_attribute("data-n"))
