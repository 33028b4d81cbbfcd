"""The kernel-free error explorer (genre_utils.static_explorer): what it lists, what it embeds, and that it works
in headless Chromium without a kernel or a network."""

import io
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from live_helpers import CHROMEDRIVER, CHROMIUM, NO_CHROMIUM, fake_results
from PIL import Image

from genre_utils import static_explorer as S
from genre_utils import tracks
from genre_utils.config import FeatureParams
from genre_utils.genres import GENRES
from genre_utils.models import build_model
from genre_utils.results import RunResults

#: (true, predicted) per test track, most confident first (fake_results lowers the confidence track by track).
#: Errors: blues->jazz x3, rock->metal x1; correct: blues x3, rock x2, pop x1, jazz x1.
CELLS = [("blues", "jazz"), ("blues", "blues"), ("rock", "metal"), ("blues", "jazz"), ("blues", "blues"),
         ("rock", "rock"), ("pop", "pop"), ("blues", "blues"), ("jazz", "jazz"), ("rock", "rock"),
         ("blues", "jazz")]
ROW = re.compile(r'<tr class="gu-track( gu-bare)?" data-t="(\d+)" data-p="(\d+)" data-m="(\d*)"')


def ids(*ks):
    return [f"gtzan:{CELLS[k][0]}.{k:05d}" for k in ks]


def fake_store(track_ids, params=FeatureParams(), seed=0):
    """A feature store with two consecutive test windows per track (random MFCC-like values)."""
    rows = [{"row": 2 * i + w, "track_id": t, "split": "test", "start": w * params.segment_samples}
            for i, t in enumerate(track_ids) for w in range(2)]
    feats = np.random.default_rng(seed).normal(0, 20, (len(rows), *params.shape)).astype(np.float16)
    return SimpleNamespace(params=params, features=feats, manifest=pd.DataFrame(rows))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    results = fake_results(tmp_path_factory.mktemp("static"), CELLS, seconds=6.0)
    table = RunResults.from_dict(results).error_table()
    torch.manual_seed(0)
    model = build_model("crnn", input_shape=FeatureParams().shape).eval()
    return SimpleNamespace(results=results, table=table, store=fake_store(table["track_id"]), model=model)


@pytest.fixture(scope="module")
def page(run):
    return S.explorer_html(run.table, GENRES, dataset=run.store, model=run.model, correct_per_genre=2)


def test_media_go_to_every_error_then_the_most_confident_correct_tracks_in_turns(run):
    chosen = S.media_tracks(run.table, GENRES, correct_per_genre=2)
    errors = ids(0, 3, 10, 2)  # rank 0 of blues->jazz, of rock->metal, then ranks 1 and 2 of blues->jazz
    assert chosen[:2] == ids(0, 2) and sorted(chosen[:4]) == sorted(errors)
    assert sorted(chosen[4:]) == sorted(ids(1, 4, 5, 9, 6, 8))  # two blues, two rock, the one pop, the one jazz
    assert ids(7)[0] not in chosen  # the third correct blues track is listed only
    # a cap keeps the first tracks of every cell: each error cell's most confident track before any second one
    assert S.media_tracks(run.table, GENRES, correct_per_genre=2, max_tracks=3) == ids(0, 2, 3)
    assert S.media_tracks(run.table, GENRES, correct_per_genre=0) == chosen[:4]


def test_page_lists_every_test_track_and_embeds_media_only_for_the_chosen_ones(run, page):
    rows = ROW.findall(page)
    assert len(rows) == len(run.table) == len(CELLS)
    chosen = S.media_tracks(run.table, GENRES, correct_per_genre=2)
    with_media = [r for r in rows if r[3] != ""]
    assert len(with_media) == len(chosen) == 10
    assert sorted(int(r[3]) for r in with_media) == list(range(len(chosen)))
    assert all((r[0] == " gu-bare") == (r[3] == "") for r in rows)
    assert page.count("data:image/png;base64,") == len(chosen)
    assert page.count("data:audio/mpeg;base64,") == len(chosen)
    # each cell's rows come together, most confident first (the order the page lists them in)
    listed = re.findall(r'tabindex="0"><td>([^<]+)</td>', page)
    blues_jazz = [t for t in listed if t in ids(0, 3, 10)]
    assert blues_jazz == ids(0, 3, 10)


def test_matrix_counts_are_the_confusion_counts(run, page):
    counts = RunResults.from_dict(run.results).confusion().to_numpy()
    cells = re.findall(r'class="gu-cell[^"]*" data-t="(\d+)" data-p="(\d+)" data-n="(\d+)"', page)
    assert len(cells) == len(GENRES) ** 2
    shown = np.zeros_like(counts)
    for t, p, n in cells:
        shown[int(t), int(p)] = int(n)
    np.testing.assert_array_equal(shown, counts)
    assert counts[GENRES.index("blues"), GENRES.index("jazz")] == 3
    # it opens on the largest error cell
    assert '"open": [0, 5]' in page and tracks.largest_error_cell(counts, GENRES) == ("blues", "jazz")


def test_page_needs_no_network_and_is_the_same_every_time(run, page):
    assert "http:" not in page and "https:" not in page  # ':' is no base64 character: no URL hides in the media
    assert not re.search(r"<(script|img|audio|link|iframe)[^>]*\b(src|href)\s*=", page)  # nothing loaded
    assert page == S.explorer_html(run.table, GENRES, dataset=run.store, model=run.model, correct_per_genre=2)


def test_hostile_track_names_are_escaped(run, tmp_path):
    results = fake_results(tmp_path, [("rock", "metal"), ("rock", "rock")], seconds=2.0)
    bad = '<script>alert("x")</script>'
    results["test"]["tracks"][0].update(track_id=bad, line=f"{bad} <b>metal</b>")
    table = RunResults.from_dict(results).error_table()
    page = S.explorer_html(table, GENRES, dataset=fake_store(table["track_id"]), model=run.model)
    assert "<script>alert" not in page and "<b>metal" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert page.count("<script") == 2  # the data block and the code, nothing else
    assert len(ROW.findall(page)) == 2


def test_a_missing_file_or_window_is_said_and_leaks_no_path(run, tmp_path):
    results = fake_results(tmp_path, [("pop", "disco"), ("pop", "pop")], seconds=2.0)
    Path(results["test"]["tracks"][0]["path"]).unlink()
    table = RunResults.from_dict(results).error_table()
    store = fake_store(table["track_id"].iloc[:1])  # the store lacks the second track
    page = S.explorer_html(table, GENRES, dataset=store)  # no model: images without saliency
    assert "no sound: file not found" in page and "no image: the feature store holds no test window" in page
    assert page.count("data:image/png;base64,") == 1 and page.count("data:audio/mpeg;base64,") == 1
    assert str(tmp_path) not in page


def test_track_image_has_both_panels_on_one_time_axis():
    params = FeatureParams()
    windows = np.random.default_rng(1).normal(0, 20, (2, *params.shape)).astype(np.float32)
    sal = np.random.default_rng(2).normal(0, 1, (params.height, 2 * params.shape[1])).astype(np.float32)
    both, one = S.track_png(windows, sal, params, "t", "s"), S.track_png(windows, None, params, "t")
    big, small = Image.open(io.BytesIO(both)), Image.open(io.BytesIO(one))
    assert big.width == small.width == 432 and big.height > 1.6 * small.height
    assert both == S.track_png(windows, sal, params, "t", "s")


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None, reason=NO_CHROMIUM)
def test_explorer_works_in_chromium_without_a_kernel(run, page, tmp_path):
    pytest.importorskip("selenium", reason="selenium is needed to drive Chromium")
    from live_helpers import check_static_explorer, chromium_driver
    from selenium.webdriver.common.by import By

    path = tmp_path / "explorer.html"
    path.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>{page}</body></html>")
    driver = chromium_driver()
    try:
        driver.get(path.as_uri())
        rock = str(GENRES.index("rock"))
        check_static_explorer(driver, (rock, rock), ids(5)[0])
        # a track without media says so, and shows no player
        blues = str(GENRES.index("blues"))
        driver.find_element(By.CSS_SELECTOR, f'td.gu-cell[data-t="{blues}"][data-p="{blues}"]').click()
        rows = [r for r in driver.find_elements(By.CSS_SELECTOR, "tr.gu-track") if r.is_displayed()]
        assert [r.find_element(By.TAG_NAME, "td").text for r in rows] == ids(1, 4, 7)
        rows[2].click()
        detail = driver.find_element(By.CSS_SELECTOR, ".gu-detail")
        assert "listed only" in detail.text and not detail.find_elements(By.TAG_NAME, "audio")
        errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
    finally:
        driver.quit()
