"""Error views of the book: the ipywidgets explorer, the plotly maps, offline HTML and the small helpers."""

import io
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from genre_utils import tracks, webplots
from genre_utils import widgets as W
from genre_utils.audio import write_wav
from genre_utils.config import FeatureParams
from genre_utils.genres import GENRES
from genre_utils.metrics import top3_line
from genre_utils.results import RunResults

SR = 22050

#: (true genre, predicted genre, confidence of the prediction) per synthetic test track.
#: Cells: blues->jazz 3 (the largest error cell), rock->metal 2, pop->disco 1, and correct clips.
SPEC = [
    ("blues", "jazz", 0.50), ("blues", "jazz", 0.70), ("blues", "jazz", 0.60), ("blues", "blues", 0.80),
    ("rock", "metal", 0.55), ("rock", "metal", 0.65), ("rock", "rock", 0.90),
    ("pop", "disco", 0.45), ("pop", "pop", 0.75), ("jazz", "jazz", 0.85), ("metal", "metal", 0.95),
]


def track_record(k: int, true: str, pred: str, confidence: float, path) -> dict:
    """A ``results.raw["test"]["tracks"]`` row: mean probabilities peaking at ``pred``, 3 of 4 windows for it."""
    probs = np.full(len(GENRES), (1.0 - confidence) / (len(GENRES) - 1))
    probs[GENRES.index(pred)] = confidence
    votes = np.zeros(len(GENRES), dtype=int)
    votes[GENRES.index(pred)] = 3
    votes[GENRES.index(true) if true != pred else (GENRES.index(pred) + 1) % len(GENRES)] = 1
    record = {"track_id": f"test:{true}.{k:03d}", "y_true": GENRES.index(true), "true_genre": true,
              "n_segments": 4, "pred": GENRES.index(pred), "pred_genre": pred, "tied": False,
              "correct": true == pred, "line": top3_line(true, probs), "source": "synthetic", "path": str(path)}
    record.update({f"votes_{g}": int(v) for g, v in zip(GENRES, votes)})
    record.update({f"prob_{g}": float(p) for g, p in zip(GENRES, probs)})
    return record


def make_results(folder, spec=SPEC, seconds: float = 6.0) -> RunResults:
    """Results shaped like ``results.json`` with one short tone WAV per test track in ``folder``."""
    tracks = []
    for k, (true, pred, conf) in enumerate(spec):
        t = np.arange(int(seconds * SR)) / SR
        path = folder / f"{true}_{k:03d}.wav"
        write_wav(path, (0.3 * np.sin(2 * np.pi * (220 + 40 * k) * t)).astype(np.float32), SR)
        tracks.append(track_record(k, true, pred, conf, path))
    cm = np.zeros((len(GENRES), len(GENRES)), dtype=int)
    for true, pred, _ in spec:
        cm[GENRES.index(true), GENRES.index(pred)] += 1
    return RunResults.from_dict({"genres": list(GENRES), "config": {"features": {"kind": "mfcc"}},
                                 "test": {"tracks": tracks, "track_confusion": cm.tolist()}})


def ids_of(results, true, pred):
    return {r["track_id"] for r in results.raw["test"]["tracks"] if r["true_genre"] == true and r["pred_genre"] == pred}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return make_results(tmp_path_factory.mktemp("clips"))


# ------------------------------------------------------------------------------------------- tables
def test_error_table_has_one_row_per_track_with_the_documented_columns(results):
    table = results.error_table()
    assert list(table.columns) == ["track_id", "true_genre", "pred_genre", "correct", "n_segments", "votes",
                                   "confidence", "line", "path"]
    assert len(table) == len(SPEC)
    assert table["correct"].tolist() == [t == p for t, p, _ in SPEC]
    assert table["votes"].tolist() == [3] * len(SPEC)
    np.testing.assert_allclose(table["confidence"], [c for _, _, c in SPEC])
    np.testing.assert_array_equal(results.confusion().to_numpy(), results.raw["test"]["track_confusion"])


def test_largest_error_cell_ignores_the_diagonal_and_breaks_ties_row_major():
    counts = np.diag([9, 9, 9])
    counts[2, 0] = counts[1, 2] = 2
    assert tracks.largest_error_cell(counts, ["a", "b", "c"]) == ("b", "c")
    assert tracks.largest_error_cell(np.diag([1, 5, 2]), ["a", "b", "c"]) == ("b", "b")  # no error at all


def test_cell_clips_lists_the_most_confident_first(results):
    clips = tracks.cell_clips(results.error_table(), "blues", "jazz")
    assert clips["confidence"].tolist() == [0.70, 0.60, 0.50]


def test_examples_per_genre_is_deterministic_and_takes_n_per_genre(results):
    table = results.error_table()
    one = W.examples_per_genre(table, n=2, seed=3)
    assert one.equals(W.examples_per_genre(table, n=2, seed=3))
    assert one.groupby("genre").size().to_dict() == {"blues": 2, "jazz": 1, "metal": 1, "pop": 2, "rock": 2}
    assert list(one["genre"]) == sorted(one["genre"], key=GENRES.index)
    assert set(one["path"]) <= set(table["path"])
    # a store-style table with integer labels and a status column: unused tracks never picked
    frame = pd.DataFrame({"track_id": ["a", "b", "c"], "label": [0, 0, 1], "path": ["a.wav", "b.wav", "c.wav"],
                          "status": ["used", "skipped", "used"]})
    assert W.examples_per_genre(frame, n=5).to_dict("list") == {
        "genre": ["blues", "classical"], "track_id": ["a", "c"], "path": ["a.wav", "c.wav"]}


# ------------------------------------------------------------------------------------------ audio
def test_clip_wav_is_16_bit_mono_and_cut_to_the_requested_length(results):
    wav = W.clip_wav(results.raw["test"]["tracks"][0]["path"], seconds=2.5)
    info = sf.info(io.BytesIO(wav))
    assert (info.samplerate, info.channels, info.subtype) == (SR, 1, "PCM_16")
    assert info.frames == int(2.5 * SR)


def test_clip_player_embeds_audio_or_explains_a_missing_file(results, tmp_path):
    pytest.importorskip("IPython")
    player = W.clip_player(results.raw["test"]["tracks"][0]["path"], seconds=1.0)
    assert player.data[:4] == b"RIFF" and "data:audio/wav;base64," in player._repr_html_()
    gone = W.clip_player(tmp_path / "gone.wav")
    assert "gone.wav" in gone._repr_html_() and "file not found" in gone._repr_html_()


# --------------------------------------------------------------------------------------- explorer
def test_explorer_opens_on_the_largest_error_cell_with_image_and_audio(results):
    pytest.importorskip("ipywidgets")
    parts = W.explorer(results, max_audio_seconds=4.0).parts
    assert (parts.true.value, parts.pred.value) == ("blues", "jazz")
    assert {value for _, value in parts.clips.options} == ids_of(results, "blues", "jazz")
    assert parts.clips.value == "test:blues.001"  # the most confident of the cell (0.70)
    assert parts.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    info = sf.info(io.BytesIO(parts.audio.value))
    assert info.samplerate == SR and info.frames == 4 * SR
    assert parts.message.value == ""
    assert "blues (4)" in dict(parts.true.options) and "jazz (3)" in dict(parts.pred.options)
    again = W.explorer(results, max_audio_seconds=4.0).parts  # the saved state does not change between runs
    assert (again.image.value, again.audio.value) == (parts.image.value, parts.audio.value)


def test_explorer_dropdowns_change_the_clip_list_and_the_shown_clip(results):
    pytest.importorskip("ipywidgets")
    parts = W.explorer(results, max_audio_seconds=1.0).parts
    first_audio = parts.audio.value
    parts.true.value = "rock"  # blues->jazz had no rock clip: the view moves to rock's largest error cell
    assert parts.pred.value == "metal"
    assert {value for _, value in parts.clips.options} == ids_of(results, "rock", "metal")
    assert "metal (2)" in dict(parts.pred.options)
    parts.pred.value = "rock"  # the diagonal: correct clips
    assert {value for _, value in parts.clips.options} == ids_of(results, "rock", "rock")
    assert parts.audio.value and parts.audio.value != first_audio
    parts.pred.value = "classical"  # an empty cell clears the clip and says so
    assert parts.clips.options == () and parts.clips.value is None
    assert parts.image.value == b"" and "no test clip" in parts.message.value


def test_explorer_shows_a_message_for_a_missing_audio_file(tmp_path):
    pytest.importorskip("ipywidgets")
    results = make_results(tmp_path, spec=[("pop", "disco", 0.6), ("pop", "pop", 0.6)], seconds=5.0)
    missing = results.raw["test"]["tracks"][0]["path"]
    Path(missing).unlink()
    parts = W.explorer(results).parts
    assert parts.clips.value == "test:pop.000"
    assert "file not found" in parts.message.value and missing in parts.message.value
    assert parts.audio.value == b"" and parts.image.value == b""
    assert parts.audio.layout.display == "none"
    parts.pred.value = "pop"  # the other clip is fine
    assert parts.audio.value[:4] == b"RIFF" and parts.image.value[:4] == b"\x89PNG" and parts.message.value == ""


def test_explorer_draws_the_store_features_of_a_clip_whose_audio_is_gone(tmp_path):
    pytest.importorskip("ipywidgets")
    results = make_results(tmp_path, spec=[("pop", "disco", 0.6)], seconds=1.0)
    Path(results.raw["test"]["tracks"][0]["path"]).unlink()
    params = FeatureParams()
    manifest = pd.DataFrame({"row": [0, 1, 2], "track_id": ["other", "test:pop.000", "test:pop.000"],
                             "split": ["test"] * 3, "start": [0, 0, params.segment_samples]})
    features = np.random.default_rng(0).normal(size=(3, *params.shape)).astype(np.float16)
    store = SimpleNamespace(params=params, features=features, manifest=manifest)
    parts = W.explorer(results, dataset=store).parts
    assert parts.image.value[:4] == b"\x89PNG"
    assert parts.audio.value == b"" and "file not found" in parts.message.value


# ---------------------------------------------------------------------------------------- plotly
def test_error_map_hover_lists_the_clips_of_each_cell(results):
    pytest.importorskip("plotly")
    heat = webplots.error_map(results).data[0]
    hover = np.asarray(heat.customdata, dtype=object)
    assert list(heat.x) == list(GENRES) and list(heat.y) == list(GENRES)
    for i, true in enumerate(GENRES):
        for j, pred in enumerate(GENRES):
            listed = set(re.findall(r"test:[a-z]+\.\d{3}", hover[i][j]))
            assert listed == ids_of(results, true, pred), (true, pred)
    i, j = GENRES.index("blues"), GENRES.index("jazz")
    assert heat.text[i][j] == "3" and heat.z[i][j] == pytest.approx(75.0)


def test_error_map_hover_truncates_long_cells(tmp_path):
    pytest.importorskip("plotly")
    results = make_results(tmp_path, spec=[("pop", "disco", 0.5)] * (webplots.HOVER_CLIPS + 3), seconds=0.1)
    heat = webplots.error_map(results).data[0]
    cell = heat.customdata[GENRES.index("pop")][GENRES.index("disco")]
    assert cell.count("test:pop.") == webplots.HOVER_CLIPS and cell.endswith("+3 more")


def test_error_scatter_has_one_distinct_point_per_track(results):
    pytest.importorskip("plotly")
    fig = webplots.error_scatter(results)
    correct, wrong = fig.data
    assert len(correct.x) + len(wrong.x) == len(SPEC)
    assert len(wrong.x) == sum(t != p for t, p, _ in SPEC)
    points = {(x, y) for trace in fig.data for x, y in zip(trace.x, trace.y)}
    assert len(points) == len(SPEC)  # jitter keeps points of a cell apart
    # every point stays inside its cell: predicted genre on x, true genre on y, as in error_map
    assert fig.layout.xaxis.title.text == "predicted genre" and fig.layout.yaxis.title.text == "true genre"
    hovers = [h for trace in fig.data for h in trace.customdata]
    xs = [x for trace in fig.data for x in trace.x]
    ys = [y for trace in fig.data for y in trace.y]
    lookup = {r["track_id"]: r for r in results.raw["test"]["tracks"]}
    for h, x, y in zip(hovers, xs, ys):
        r = lookup[re.search(r"test:[a-z]+\.\d{3}", h).group()]
        assert round(x) == r["pred"] and round(y) == r["y_true"]
        assert r["line"] in h and "3 of 4 windows" in h
    assert list(fig.layout.xaxis.ticktext) == list(GENRES)
    assert fig.to_json() == webplots.error_scatter(results).to_json()  # deterministic


def test_figure_html_embeds_plotly_inline_behind_the_amd_guard(results):
    pytest.importorskip("plotly")
    pytest.importorskip("IPython")
    fig = webplots.error_map(results)
    text = webplots.figure_html(fig)
    assert text.startswith(webplots.AMD_GUARD) and text.endswith(webplots.AMD_RESTORE)
    assert "window.define = undefined" in text
    assert "plotly.js v" in text and len(text) > 1_000_000  # the library itself, inline
    sources = re.findall(r"<script[^>]*\bsrc\s*=", text)
    assert sources == []  # no external script at all (no cdn.plot.ly, no https://)
    assert text == webplots.figure_html(webplots.error_map(results))  # same results, same HTML (no random div id)
    light = webplots.figure_html(fig, include_plotlyjs=False)
    assert "plotly.js v" not in light and len(light) < 100_000
    assert webplots.show_offline(fig)._repr_html_() == text
