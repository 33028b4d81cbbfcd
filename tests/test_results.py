"""RunResults: one typed reading of results.json, whose answers agree with what evaluation wrote."""

import json

import numpy as np
import pandas as pd
import pytest

from genre_utils.evaluate import evaluate_segments, write_results
from genre_utils.genres import GENRES
from genre_utils.models import build_model
from genre_utils.results import ERROR_COLUMNS, RunResults, load_results
from genre_utils.stats import Accuracy


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """results.json of an untrained CRNN on random windows (12 tracks of 3 windows), as evaluate_run writes."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(36, 64, 235)).astype(np.float32)
    y = np.repeat(np.arange(12) % 10, 3)
    ids = np.repeat([f"t{k:02d}" for k in range(12)], 3)
    model = build_model("crnn", input_shape=(64, 235), seed=0).eval()
    test = evaluate_segments(model, X, y, ids, device="cpu")
    history = {"train_acc": [0.2, 0.5, 0.4], "valid_acc": [0.1, 0.3, 0.25]}
    path = write_results(tmp_path_factory.mktemp("run") / "results.json", {
        "key": "k", "model": "crnn", "genres": list(GENRES), "history": history,
        "headline": {"segment_accuracy": test["segment_accuracy"], "track_accuracy": test["track_accuracy"],
                     "n_test_segments": test["n_segments"], "n_test_tracks": test["n_tracks"], "best_epoch": 2,
                     "train_seconds": 3.5},
        "dataset": {"n_windows": {"train": 200, "valid": 40, "test": 36}, "tracks_per_split": {"train": 50,
                                                                                               "valid": 10,
                                                                                               "test": 12}},
        "test": {k: test[k] for k in ("segment_confusion", "track_confusion", "segment_per_genre",
                                      "track_per_genre", "tracks", "segments")},
        "newdata": {"summary": None, "files": []}})
    return path, test


def test_loads_a_folder_or_the_file_and_keeps_the_path(written):
    path, _ = written
    a, b = load_results(path.parent), load_results(path)
    assert a == b and a.path == path and a.key == "k" and a.model == "crnn"
    assert a.genres == list(GENRES) and a.n_windows("train") == 200 and a.n_clips() == 72
    assert a.headline.best_epoch == 2 and a.headline.train_seconds == 3.5 and a.headline.eval_seconds == 0.0


def test_answers_agree_with_what_evaluation_wrote(written):
    """One home for each number: the typed answers equal the blocks evaluate_segments computed."""
    path, test = written
    res = load_results(path)
    assert res.accuracy("track").value == pytest.approx(test["track_accuracy"], abs=0)
    assert res.accuracy("segment").value == pytest.approx(test["segment_accuracy"], abs=0)
    assert res.accuracy("track").n == 12 and res.accuracy("segment").n == 36
    np.testing.assert_array_equal(res.confusion("track").to_numpy(), test["track_confusion"])
    np.testing.assert_array_equal(res.confusion("segment").to_numpy(), test["segment_confusion"])
    pd.testing.assert_frame_equal(res.per_genre("track"), test["track_per_genre"], check_dtype=False)
    assert res.confusion().to_numpy().dtype.kind == "i"
    shares = res.confusion(normalise=True)
    filled = res.confusion().sum(axis=1) > 0
    np.testing.assert_allclose(shares[filled].sum(axis=1), 1.0, rtol=1e-12)
    assert shares[~filled].isna().all(axis=None)   # a genre without test tracks: no data, not 0 %


def test_segment_interval_resamples_tracks_and_genre_counts_add_up(written):
    res = load_results(written[0])
    seg = res.accuracy("segment")
    assert seg.resampled == "tracks" and seg.n_groups == 12
    accs = res.genre_accuracies()
    assert list(accs) == list(GENRES)
    assert sum(a.n for a in accs.values()) == 12 and sum(a.k for a in accs.values()) == res.accuracy().k


def test_error_table_and_correct_by_track(written):
    res = load_results(written[0])
    table = res.error_table()
    assert list(table.columns) == ERROR_COLUMNS and len(table) == 12
    assert (table["votes"] <= table["n_segments"]).all()
    right = res.correct_by_track()
    assert list(right.index) == [f"t{k:02d}" for k in range(12)] and right.dtype == bool
    assert right.sum() == res.accuracy().k


def test_best_epoch_accuracy_counts_windows_of_the_tested_epoch(written):
    res = load_results(written[0])
    assert res.best_epoch_accuracy("train") == Accuracy(100, 200)   # epoch 2: 0.5 of 200
    assert res.best_epoch_accuracy("valid") == Accuracy(12, 40)     # 0.3 of 40
    no_epoch = RunResults.from_dict({"history": {"train_acc": [0.5]}, "dataset": {"n_windows": {"train": 10}}})
    assert no_epoch.best_epoch_accuracy("train").n == 0


def test_partial_and_empty_results_read_as_empty():
    empty = RunResults.from_dict({})
    assert empty.accuracy().n == 0 and empty.accuracy("segment").n == 0
    assert empty.error_table().empty and list(empty.error_table().columns) == ERROR_COLUMNS
    assert not empty.has_newdata and empty.newdata_accuracy().n == 0 and "error" in empty.newdata_files
    assert empty.genres == list(GENRES) and empty.confidence is None and empty.history == {}
    with pytest.raises(ValueError):
        empty.accuracy("window")
    with pytest.raises(TypeError):
        RunResults.from_dict(["not", "a", "dict"])


def test_with_block_copies_and_load_refuses_a_non_object(tmp_path):
    res = RunResults.from_dict({"key": "a"})
    calibrated = res.with_block("confidence", {"temperature": 1.3})
    assert calibrated.confidence == {"temperature": 1.3} and res.confidence is None
    (tmp_path / "results.json").write_text(json.dumps([1, 2]))
    with pytest.raises(ValueError):
        load_results(tmp_path)


def test_valid_accuracy_resamples_tracks_and_falls_back_to_the_history():
    windows = [{"track_id": f"v{k // 10}", "correct": k % 10 < 7} for k in range(400)]   # 40 tracks, 70 %
    res = RunResults.from_dict({"valid": {"windows": windows}, "headline": {"best_epoch": 1},
                                "history": {"valid_acc": [0.5]}, "dataset": {"n_windows": {"valid": 400}}})
    acc = res.valid_accuracy()
    assert (acc.k, acc.n) == (280, 400) and acc.resampled == "tracks" and acc.n_groups == 40
    old = RunResults.from_dict({k: v for k, v in res.raw.items() if k != "valid"})
    assert old.valid_accuracy() == Accuracy(200, 400)            # results from before the record: the history's


def test_compare_seeds_pairs_the_two_models_by_track_id():
    """Two models whose results list the same tracks in different orders are still paired track by track."""
    from genre_utils.results import compare_seeds

    def run(right, order):
        return RunResults.from_dict({"test": {"tracks": [
            {"track_id": f"t{k}", "true_genre": "jazz", "pred_genre": "jazz" if right[k] else "pop"} for k in order]}})

    right_a = [True] * 6 + [False] * 4
    a = [run(right_a, range(10))] * 2
    b = [run(right_a, reversed(range(10)))]          # the same answers, listed backwards
    cmp = compare_seeds(a, b)
    assert cmp["difference"] == 0 and cmp["low"] == 0 == cmp["high"]    # identical per track, every resample
    assert cmp["accuracy_a"].value == cmp["accuracy_b"].value == 0.6 and cmp["seeds_a"] == 2
    with pytest.raises(ValueError):
        compare_seeds(a, [RunResults.from_dict({"test": {"tracks": [
            {"track_id": "u0", "true_genre": "jazz", "pred_genre": "jazz"}]}})])


def test_headline_rows_set_a_tested_paper_recipe_beside_the_papers_vote(written):
    from genre_utils import report

    res = load_results(written[0])
    record = {"step_log": [{"step": 10, "epoch": 2.702}],
              "evaluation": {"best_epoch": 2, "test_tracks": {"k": 120, "n": 160}, "newdata_files": None}}
    rows = {r[0]: r for r in report.headline_rows(res, paper_recipe=record)}
    label = next(k for k in rows if k.startswith("the paper's recipe at the paper's size"))
    assert "2.7 of 15 epochs, best epoch 2" in label
    assert (rows[label][2].k, rows[label][2].n) == (120, 160) and rows[label][1][0] == pytest.approx(0.70)
    for untested in (None, {"step_log": [{"step": 10, "epoch": 0.5}], "evaluation": None}, {"step_log": []}):
        assert not any(r[0].startswith("the paper's recipe") for r in report.headline_rows(res, paper_recipe=untested))
