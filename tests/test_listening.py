"""The listening test (paper section 9's human comparison): clip choice, scoring, and the page in Chromium."""

import pytest
from live_helpers import CHROMEDRIVER, CHROMIUM, NO_CHROMIUM, fake_results

from genre_utils import listening
from genre_utils.genres import GENRES
from genre_utils.results import RunResults
from genre_utils.stats import wilson_interval

CELLS = [("blues", "blues"), ("blues", "jazz"), ("jazz", "jazz"), ("metal", "rock"), ("rock", "rock"),
         ("pop", "pop"), ("disco", "pop")]
NEW = [("classical", "classical"), ("country", "blues"), ("hiphop", "hiphop"), ("reggae", "reggae")]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return RunResults.from_dict(fake_results(tmp_path_factory.mktemp("listen"), CELLS, NEW, seconds=4.0))


def test_selection_is_fixed_balanced_and_new_data_first(results):
    a = listening.select_clips(results, n=8, seed=3)
    b = listening.select_clips(results, n=8, seed=3)
    assert a.equals(b) and len(a) == 8
    assert a["clip_id"].is_unique
    # every genre with a clip gets one before any genre gets a second: 8 clips over 10 genres, all distinct
    assert a["true_genre"].is_unique
    new_genres = {g for g, _ in NEW}
    assert (a.loc[a["true_genre"].isin(new_genres), "source"] == "newdata").all()  # new data first in a genre
    assert (a["model_correct"] == (a["true_genre"] == a["model_genre"])).all()
    everything = listening.select_clips(results, n=100)
    assert len(everything) == len(CELLS) + len(NEW)
    assert not listening.select_clips(results, n=8, seed=4)["clip_id"].tolist() == a["clip_id"].tolist()


def test_score_counts_answers_and_uses_wilson(results):
    clips = listening.select_clips(results, n=6)
    answers = [t if i % 2 == 0 else "metal" for i, t in enumerate(clips["true_genre"])]
    answers[-1] = None
    result = listening.score(answers, clips)
    expected = sum(a == t for a, t in zip(answers, clips["true_genre"]))
    assert result["you"].k == expected and result["you"].n == 6 and result["answered"] == 5
    assert result["you"].interval == wilson_interval(expected, 6)
    assert result["confusion"].sum() == 5
    assert result["model"].k == int(clips["model_correct"].sum())
    assert "Paper: its two authors" in listening.score_html(result)


def test_clip_audio_is_short_and_small(results):
    mp3 = listening.clip_mp3(results.raw["test"]["tracks"][0]["path"], seconds=3.0)
    assert mp3[:3] == b"ID3" or mp3[0] == 0xFF
    assert len(mp3) < 3.5 * listening.CLIP_KBPS * 1000 / 8 * 1.2


def test_html_is_self_contained(results):
    clips = listening.select_clips(results, n=5)
    page = listening.listening_html(clips)
    assert page.count("data:audio/mpeg;base64,") == 5
    assert "http://" not in page and "https://" not in page
    assert page == listening.listening_html(clips)  # same clips, same bytes


def test_widget_scores_in_python(results):
    pytest.importorskip("ipywidgets")
    clips = listening.select_clips(results, n=4)
    box = listening.listening_widget(clips)
    parts = box.parts
    assert parts.button.disabled
    for pick, truth in zip(parts.answers, clips["true_genre"]):
        pick.value = truth
    assert not parts.button.disabled
    parts.button.click()
    assert parts.score()["you"].k == 4 and "4 of 4" in parts.result.value


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None, reason=NO_CHROMIUM)
def test_page_scores_the_answers_in_chromium(results, tmp_path):
    pytest.importorskip("selenium", reason="selenium is needed to drive Chromium")
    from live_helpers import chromium_driver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    clips = listening.select_clips(results, n=8, seed=1)
    page = listening.write_listening_test(tmp_path / "listening.html", clips)
    # right on clips 0, 2, 4, ...; a wrong genre on the others
    answers = [t if i % 2 == 0 else next(g for g in GENRES if g != t) for i, t in enumerate(clips["true_genre"])]
    k = sum(a == t for a, t in zip(answers, clips["true_genre"]))
    driver = chromium_driver()
    try:
        driver.get(page.as_uri())
        selects = driver.find_elements(By.CSS_SELECTOR, "select.gu-answer")
        assert len(selects) == len(clips)
        durations = driver.execute_script(
            "var a = Array.from(document.querySelectorAll('audio'));"
            "a.forEach(x => x.load());"
            "return new Promise(r => setTimeout(() => r(a.map(x => x.duration)), 1500));")
        assert all(d > 2.5 for d in durations), durations  # every embedded clip decodes
        button = driver.find_element(By.CSS_SELECTOR, "button.gu-score")
        for i, (select, answer) in enumerate(zip(selects, answers)):
            assert not button.is_enabled()
            Select(select).select_by_value(answer)
        assert button.is_enabled()
        button.click()
        you = driver.find_element(By.CSS_SELECTOR, "tr.gu-you")
        assert (int(you.get_attribute("data-k")), int(you.get_attribute("data-n"))) == (k, len(clips))
        lo, hi = wilson_interval(k, len(clips))
        assert f"{k} of {len(clips)}" in you.text and f"{100 * k / len(clips):.1f} %" in you.text
        assert f"{100 * lo:.1f}-{100 * hi:.1f} %" in you.text
        model_k = int(clips["model_correct"].sum())
        assert f"{model_k} of {len(clips)}" in driver.find_element(By.CSS_SELECTOR, "tr.gu-model").text
        confusion = driver.find_element(By.CSS_SELECTOR, "table.gu-confusion")
        assert sum(int(c.text) for c in confusion.find_elements(By.TAG_NAME, "td") if c.text) == len(clips)
        assert "authors" in driver.find_element(By.CSS_SELECTOR, "table.gu-scores").text
        assert len(driver.find_elements(By.CSS_SELECTOR, ".gu-clip.gu-right")) == k
        errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
    finally:
        driver.quit()
