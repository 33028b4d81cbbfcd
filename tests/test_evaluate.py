"""Evaluation of paper sections 7-9: majority vote, confusion tables, top-3 lines, whole files, results.json."""

import json
import re

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from genre_utils.audio import write_mp3, write_wav
from genre_utils.config import FeatureParams
from genre_utils.evaluate import evaluate_files, evaluate_segments, predict_proba, write_results
from genre_utils.features import file_segments
from genre_utils.genres import GENRES
from genre_utils.metrics import confusion, majority_vote, per_genre_table, row_normalise, top3_line
from genre_utils.models import build_model
from genre_utils.results import RunResults

G = {g: k for k, g in enumerate(GENRES)}


class FixedScores(nn.Module):
    """Stand-in model: the logits are the first 10 values of each window's first row."""

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return x.reshape(x.shape[0], -1)[:, :10] + 0 * self.dummy


def windows_voting_for(preds, scale=4.0):
    """Windows whose FixedScores logits are ``scale`` (scalar or per window) for class ``preds[i]``, else 0."""
    X = np.zeros((len(preds), 2, 12), dtype=np.float32)
    X[np.arange(len(preds)), 0, preds] = scale
    return X


def probs_from(rows):
    """Probability rows from {class: prob} dicts, the rest of the mass spread evenly."""
    out = np.zeros((len(rows), 10))
    for i, row in enumerate(rows):
        rest = (1 - sum(row.values())) / (10 - len(row))
        out[i] = rest
        for k, p in row.items():
            out[i, k] = p
    return out


def test_predict_proba_rows_are_softmax():
    X = windows_voting_for([3, 7, 7])
    probs = predict_proba(FixedScores(), X, batch_size=2)
    assert probs.shape == (3, 10)
    # the softmax runs in float32: a row sums to 1 within a few float32 ulp (1.7e-7 off with torch's AVX-512
    # kernels), not to float64 precision; a missing or wrong normalisation is off by far more
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert list(probs.argmax(axis=1)) == [3, 7, 7]
    e = np.exp(4.0)
    assert probs[0, 3] == pytest.approx(e / (e + 9), rel=1e-5)


def test_majority_vote_counts_and_tie_rule():
    track_ids = ["a", "a", "a", "b", "b", "b", "b", "c", "a", "d", "d"]
    probs = probs_from([
        {0: 0.6}, {0: 0.5}, {1: 0.9}, # a: 0, 0, 1 ...
        {2: 0.5}, {3: 0.9}, {2: 0.6}, {3: 0.8},   # b: 2-2 tie, sums 3: 1.7 > 2: 1.1 -> 3
        {9: 0.7},                                  # c: single segment
        {1: 0.95},                                 # a again (not adjacent): 0 has 2 votes, 1 has 2 -> tie
        {4: 0.5, 5: 0.5 - 1e-9}, {4: 0.5 - 1e-9, 5: 0.5},   # d: 4 and 5 one vote each, equal sums
    ])
    table = majority_vote(track_ids, probs)
    assert list(table["track_id"]) == ["a", "b", "c", "d"]
    assert list(table["n_segments"]) == [4, 4, 1, 2]
    # a: votes 0,0,1,1 -> tie; summed p(0) = 0.6 + 0.5 + small, p(1) = 0.9 + 0.95 + small -> classical
    assert table.loc[0, "votes_blues"] == 2 and table.loc[0, "votes_classical"] == 2
    assert table.loc[0, "pred_genre"] == "classical" and table.loc[0, "tied"]
    assert table.loc[1, "pred"] == 3 and table.loc[1, "tied"]
    assert table.loc[2, "pred_genre"] == "rock" and not table.loc[2, "tied"]
    # d: equal summed probabilities -> the lower class index
    assert table.loc[3, "pred"] == 4
    vote_cols = [f"votes_{g}" for g in GENRES]
    assert list(table[vote_cols].sum(axis=1)) == [4, 4, 1, 2]
    prob_cols = [f"prob_{g}" for g in GENRES]
    np.testing.assert_allclose(table.loc[1, prob_cols].to_numpy(dtype=float), probs[3:7].mean(axis=0))


def test_majority_vote_without_tie_is_plain_majority():
    probs = probs_from([{6: 0.4}, {6: 0.4}, {6: 0.4}, {1: 0.99}, {1: 0.99}, {6: 0.4}])
    table = majority_vote([7] * 6, probs)
    # metal wins 4-2 although classical has the larger summed probability
    assert table.loc[0, "pred_genre"] == "metal" and not table.loc[0, "tied"]


def test_confusion_and_row_normalise_by_hand():
    y_true = [0, 0, 0, 1, 1, 2]
    y_pred = [0, 1, 1, 1, 1, 0]
    cm = confusion(y_true, y_pred, n_classes=3)
    assert cm.tolist() == [[1, 2, 0], [0, 2, 0], [1, 0, 0]]
    norm = row_normalise(confusion(y_true, y_pred, n_classes=4))
    np.testing.assert_allclose(norm[0], [1 / 3, 2 / 3, 0, 0])
    np.testing.assert_allclose(norm[2], [1, 0, 0, 0])
    assert np.isnan(norm[3]).all()          # no items of class 3
    with pytest.raises(ValueError):
        confusion([0, 3], [0, 1], n_classes=3)


def test_per_genre_table_reproduces_the_papers_pop_numbers():
    # 16 clips per genre; pop (5 of 16 right, 6 -> rock, 5 -> hiphop) and one clip of every other genre
    # predicted as pop: the paper's 31.2 % pop accuracy and 64.3 % "false positive rate" (= 9/14)
    y_true, y_pred = [], []
    for g in range(10):
        y_true += [g] * 16
        if g == G["pop"]:
            y_pred += [g] * 5 + [G["rock"]] * 6 + [G["hiphop"]] * 5
        else:
            y_pred += [G["pop"]] + [g] * 15
    table = per_genre_table(y_true, y_pred)
    pop = table.loc["pop"]
    assert pop["support"] == 16 and pop["n_predicted"] == 14 and pop["correct"] == 5
    assert pop["accuracy"] == pytest.approx(5 / 16)               # 31.2 %
    assert round(pop["accuracy"] * 100, 1) == 31.2
    assert pop["false_discovery_rate"] == pytest.approx(9 / 14)   # 64.3 %
    assert round(pop["false_discovery_rate"] * 100, 1) == 64.3
    assert pop["precision"] == pytest.approx(5 / 14)
    assert pop["false_positive_rate"] == pytest.approx(9 / 144)   # textbook FPR: 6.2 %
    rock = table.loc["rock"]
    assert rock["accuracy"] == pytest.approx(15 / 16)
    assert rock["n_predicted"] == 21 and rock["false_discovery_rate"] == pytest.approx(6 / 21)
    assert rock["false_positive_rate"] == pytest.approx(6 / 144)
    assert list(table.index) == list(GENRES)


def test_per_genre_table_marks_undefined_ratios_nan():
    table = per_genre_table([0, 0], [0, 1], n_classes=3, genres=("x", "y", "z"))
    assert np.isnan(table.loc["z", "accuracy"]) and np.isnan(table.loc["z", "precision"])
    assert table.loc["y", "precision"] == 0 and table.loc["y", "false_positive_rate"] == 0.5


def test_top3_line_matches_the_papers_figures():
    fig9 = probs_from([{G["jazz"]: 0.86, G["classical"]: 0.12, G["country"]: 0.01}])[0]
    assert top3_line("jazz", fig9) == "jazz: jazz:0.86 classical:0.12 country:0.01"
    fig11 = probs_from([{G["hiphop"]: 0.79, G["pop"]: 0.19, G["jazz"]: 0.02}])[0]
    assert top3_line(G["pop"], fig11) == "pop: hiphop:0.79 pop:0.19 jazz:0.02"
    fig10 = probs_from([{G["country"]: 0.52, G["jazz"]: 0.221, G["blues"]: 0.218, G["pop"]: 0.04}])[0]
    assert top3_line("blues", fig10, k=None) == "blues: country:0.52 jazz:0.22 blues:0.22 pop:0.04"
    assert top3_line("blues", fig10) == "blues: country:0.52 jazz:0.22 blues:0.22"
    # entries that round to 0.00 are dropped rather than padded; no prefix without a label
    sure = probs_from([{G["metal"]: 0.996}])[0]
    assert top3_line(None, sure) == "metal:1.00"


def test_evaluate_segments_by_hand():
    # three tracks of two segments (the tiny profile's layout) and one of three
    track_ids = np.array([10, 10, 11, 11, 12, 12, 13, 13, 13])
    y = np.array([0, 0, 7, 7, 6, 6, 9, 9, 9])
    preds = np.array([0, 5, 9, 9, 6, 6, 7, 9, 9])
    scales = np.array([4.0, 6.0, 4, 4, 4, 4, 4, 4, 4])   # track 10's jazz segment is the more confident one
    results = evaluate_segments(FixedScores(), windows_voting_for(preds, scales), y, track_ids, batch_size=4)
    assert results["n_segments"] == 9 and results["n_tracks"] == 4
    assert results["segment_accuracy"] == pytest.approx(5 / 9)
    tracks = results["tracks"].set_index("track_id")
    # track 10: blues vs jazz tied 1-1, jazz has the larger summed probability -> jazz (wrong);
    # track 11 -> rock (wrong); tracks 12 and 13 right
    assert list(tracks["pred_genre"]) == ["jazz", "rock", "metal", "rock"]
    assert list(tracks["tied"]) == [True, False, False, False]
    assert results["track_accuracy"] == pytest.approx(2 / 4)
    assert results["track_confusion"][G["pop"], G["rock"]] == 1
    assert results["track_confusion"].sum() == 4
    assert results["segment_confusion"][G["rock"], G["pop"]] == 1
    assert results["track_per_genre"].loc["pop", "accuracy"] == 0
    assert tracks.loc[11, "line"].startswith("pop: rock:")
    segments = results["segments"]
    assert list(segments["correct"]) == list(preds == y)
    with pytest.raises(ValueError, match="different labels"):
        evaluate_segments(FixedScores(), windows_voting_for(preds), np.arange(9) % 10, track_ids)


def tone(seconds, sr, freq=440.0, channels=1, seed=0):
    t = np.arange(int(seconds * sr)) / sr
    y = 0.4 * np.sin(2 * np.pi * freq * t) + 0.05 * np.random.default_rng(seed).normal(size=t.size)
    return np.stack([y, 0.5 * y], axis=1) if channels == 2 else y


def test_evaluate_files_handles_formats_and_broken_files(tmp_path):
    write_wav(tmp_path / "mono.wav", tone(6, 22050), 22050)
    write_mp3(tmp_path / "long.mp3", tone(11, 22050, freq=220), 22050)
    write_wav(tmp_path / "stereo48k.wav", tone(6, 48000, freq=880, channels=2), 48000)
    (tmp_path / "broken.mp3").write_bytes(b"this is not audio" * 50)
    write_wav(tmp_path / "short.wav", tone(1, 22050), 22050)
    paths = [tmp_path / n for n in ("mono.wav", "long.mp3", "stereo48k.wav", "broken.mp3", "short.wav", "gone.wav")]
    labels = ["jazz", "rock", None, "pop", None, None]
    params = FeatureParams()
    model = build_model("crnn", seed=0).eval()

    table = evaluate_files(model, paths, params, labels=labels, progress=False)
    assert list(table["path"]) == [str(p) for p in paths]
    ok = table["error"] == ""
    assert list(ok) == [True, True, True, False, False, False]
    assert list(table["n_segments"]) == [1, 2, 1, 0, 0, 0]
    assert "unreadable" in table.loc[3, "error"]
    assert "too short" in table.loc[4, "error"]
    assert "not found" in table.loc[5, "error"]
    assert table.loc[~ok, "pred"].isna().all() and table.loc[ok, "pred"].between(0, 9).all()
    probs = table.loc[ok, [f"prob_{g}" for g in GENRES]].to_numpy(dtype=float)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)     # means of float32 softmax rows
    line = re.compile(r"^(\w+: )?(\w+:\d\.\d\d)( \w+:\d\.\d\d){0,2}$")
    for text in table.loc[ok, "line"]:
        assert line.match(text), text
    assert table.loc[0, "line"].startswith("jazz: ") and table.loc[2, "line"] == table.loc[2, "top3"]
    assert table.loc[0, "correct"] == (table.loc[0, "pred_genre"] == "jazz")
    assert pd.isna(table.loc[2, "correct"])

    # the same numbers as running the pieces by hand: features -> probabilities -> vote (the same calls on
    # the same two windows in one batch, in this process: identical, so the default rtol=1e-7 holds anywhere)
    feats, _ = file_segments(paths[1], params)
    vote = majority_vote([0, 0], predict_proba(model, feats))
    assert table.loc[1, "pred"] == vote.loc[0, "pred"]
    np.testing.assert_allclose(probs[1], vote.loc[0, [f"prob_{g}" for g in GENRES]].to_numpy(dtype=float))

    with pytest.raises(ValueError, match="shape"):
        evaluate_files(build_model("crnn", input_shape=(64, 60)), paths[:1], params, progress=False)
    with pytest.raises(ValueError, match="labels not among"):
        evaluate_files(model, paths[:1], params, labels=["polka"], progress=False)


def test_write_results_is_strict_json_with_versions(tmp_path):
    results = {
        "segment_accuracy": np.float64(0.665),
        "confusion": np.array([[1, 2], [3, 4]]),
        "per_genre": per_genre_table([0, 0], [0, 1], n_classes=3, genres=("x", "y", "z")),
        "missing": float("nan"),
        "shape": (64, 235),
    }
    path = write_results(tmp_path / "run" / "results.json", results)
    data = json.loads(path.read_text())
    assert data["segment_accuracy"] == 0.665 and data["confusion"] == [[1, 2], [3, 4]]
    assert data["missing"] is None and data["shape"] == [64, 235]
    assert data["per_genre"][0]["genre"] == "x" and data["per_genre"][2]["accuracy"] is None
    assert {"python", "torch", "librosa", "numpy", "pandas", "genre_utils"} <= set(data["versions"])
    assert [p.name for p in path.parent.iterdir()] == ["results.json"]     # no temp file left behind


def test_evaluation_outputs_serialise(tmp_path):
    preds = np.array([0, 5, 9, 9])
    results = evaluate_segments(FixedScores(), windows_voting_for(preds), np.array([0, 0, 7, 7]),
                                np.array(["t1", "t1", "t2", "t2"]))
    path = write_results(tmp_path / "results.json", {"test": results, "config": {"profile": "tiny"}})
    data = json.loads(path.read_text())
    assert data["test"]["track_accuracy"] == results["track_accuracy"]
    assert data["test"]["track_confusion"] == results["track_confusion"].tolist()
    assert [row["track_id"] for row in data["test"]["tracks"]] == ["t1", "t2"]
    assert data["test"]["segment_per_genre"][7]["genre"] == "pop"


def test_paired_comparison_separates_a_real_margin_from_noise():
    from genre_utils.stats import paired_comparison

    rng = np.random.default_rng(0)
    b = rng.random(60) < 0.5
    better = b.copy()
    better[~b] = True                                  # A gets every track B gets, and all the others
    res = paired_comparison(better, b, n_boot=2000)
    assert res["difference"] == pytest.approx(better.mean() - b.mean())
    assert res["a_only"] == int((~b).sum()) and res["b_only"] == 0
    assert res["low"] > 0 and res["p_value"] < 1e-6
    same = paired_comparison(b, b, n_boot=2000)
    assert same["difference"] == 0 and same["p_value"] == 1.0 and same["low"] == same["high"] == 0
    # two models that each get a different half of the tracks: no evidence either way
    half = np.arange(60) < 30
    tie = paired_comparison(half, ~half, n_boot=2000)
    assert tie["difference"] == 0 and tie["low"] < 0 < tie["high"] and tie["p_value"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="equal-length"):
        paired_comparison(b, b[:-1])


def test_profile_model_follows_the_profiles_recipe():
    from genre_utils.experiments import build_profile_model
    from genre_utils.models import feature_stats, window_feature_stats

    rng = np.random.default_rng(3)
    X = (rng.normal(size=(12, 64, 60)) + rng.normal(size=(12, 64, 1)) * 20).astype(np.float16)
    quick = build_profile_model("crnn", "quick", X, (64, 60))
    assert quick.standardize.per_window and isinstance(quick.bn1, nn.BatchNorm2d)
    np.testing.assert_allclose(quick.standardize.std.numpy(), window_feature_stats(X)[1], rtol=1e-5)
    paper = build_profile_model("crnn", "paper", X, (64, 60))
    assert not paper.standardize.per_window and isinstance(paper.bn1, nn.Identity)
    np.testing.assert_allclose(paper.standardize.mean.numpy(), feature_stats(X)[0], rtol=1e-5)
    assert paper.spec["kwargs"]["dropout"] == 0.3
    # the baseline keeps the global standardisation (and gets no batch-norm argument it does not have)
    mlp = build_profile_model("baseline", "quick", X, (64, 60), *feature_stats(X))
    assert not mlp.standardize.per_window
    np.testing.assert_allclose(mlp.standardize.std.numpy(), feature_stats(X)[1], rtol=1e-5)


def test_track_summaries_average_windows_and_see_movement_only_with_dynamics():
    from genre_utils.probe import track_mean_features

    class FakeStore:
        def split(self, name):
            t = np.arange(8)
            still = np.full((2, 3, 8), 5.0)                       # track "a": two windows, nothing moves
            moving = 5.0 + np.tile(np.where(t % 2, 1.0, -1.0), (2, 3, 1))   # track "b": alternates every frame
            X = np.concatenate([moving, still]).astype(np.float16)
            rows = pd.DataFrame({"track_id": ["b", "b", "a", "a"]})
            return X, np.array([1, 1, 0, 0]), rows

    # the features are small integers, so means, spreads and changes are exact in any float precision
    means, y, ids = track_mean_features(FakeStore(), "test", return_ids=True)
    assert list(ids) == ["a", "b"] and list(y) == [0, 1] and means.shape == (2, 3)
    np.testing.assert_allclose(means, 5.0)                          # the mean cannot tell them apart
    dyn, _ = track_mean_features(FakeStore(), "test", summary="dynamics")
    assert dyn.shape == (2, 9)
    np.testing.assert_allclose(dyn[0, 3:], 0.0)                     # "a": no spread, no change
    np.testing.assert_allclose(dyn[1, 3:6], 1.0)                    # "b": spread 1 ...
    np.testing.assert_allclose(dyn[1, 6:], 2.0)                     # ... and a change of 2 per frame
    with pytest.raises(ValueError, match="summary"):
        track_mean_features(FakeStore(), "test", summary="median")


def test_scan_skipped_records_name_each_left_out_file_relative_to_the_folder(tmp_path):
    """The files a new-data scan leaves out before decoding are kept by name and reason (results.json)."""
    from genre_utils.experiments import scan_skipped_records
    from genre_utils.sources import scan_folder

    root = tmp_path / "newdata"
    (root / "jazz").mkdir(parents=True)
    (root / "polka").mkdir()
    write_wav(root / "jazz" / "ok.wav", tone(6, 22050), 22050)
    (root / "jazz" / "notes.txt").write_text("not audio")
    (root / "jazz" / ".DS_Store").write_bytes(b"\0")
    write_wav(root / "polka" / "x.wav", tone(6, 22050), 22050)
    found, skipped = scan_folder(root, progress=False)
    assert [t.label for t in found] == ["jazz"]
    records = scan_skipped_records(skipped, root)
    assert [r["file"] for r in records] == ["jazz/.DS_Store", "jazz/notes.txt", "polka/x.wav"]
    reasons = {r["file"]: r["reason"] for r in records}
    assert "not an audio file" in reasons["jazz/notes.txt"] and "unknown genre folder" in reasons["polka/x.wav"]
    assert json.loads(json.dumps(records)) == records            # plain JSON, as results.json stores it
    assert scan_skipped_records([], root) == []


def test_compare_runs_pairs_the_same_tracks_and_falls_back_to_newcombe():
    from genre_utils.probe import compare_runs

    def results(correct, ids=None):
        ids = ids or [f"t{i}" for i in range(len(correct))]
        return RunResults.from_dict({"test": {"tracks": [
            {"track_id": t, "true_genre": "jazz", "pred_genre": "jazz" if c else "pop"}
            for t, c in zip(ids, correct)]}})

    a = results([True] * 8 + [False] * 2)
    b = results([True] * 5 + [False] * 5)
    paired_cmp, paired = compare_runs(a, b)
    assert paired and paired_cmp["n_tracks"] == 10 and paired_cmp["difference"] == pytest.approx(0.3)
    assert paired_cmp["a_only"] == 3 and paired_cmp["b_only"] == 0
    # the same tracks in another order pair up by id
    shuffled = results([False] * 5 + [True] * 5, ids=[f"t{i}" for i in range(9, -1, -1)])
    assert compare_runs(a, shuffled)[0]["difference"] == pytest.approx(0.3)
    other, paired = compare_runs(a, results([True] * 5 + [False] * 5, ids=[f"u{i}" for i in range(10)]))
    assert not paired and other["n_tracks"] is None and other["low"] < 0.3 < other["high"]


def test_seed_accuracy_mean_interval_and_spread():
    from genre_utils.stats import seed_accuracy

    right = np.zeros((3, 100), dtype=bool)
    right[0, :70], right[1, :74], right[2, :78] = True, True, True
    acc = seed_accuracy(right)
    assert acc.n_seeds == 3 and acc.n == 100 and acc.value == pytest.approx(0.74)
    assert acc.spread == pytest.approx((0.70, 0.78))
    assert acc.low < 0.74 < acc.high and acc.high - acc.low < 0.25
    assert "3 seeds 70.0-78.0 %" in acc.short() and "mean of 3 seeds" in acc.text()
    one = seed_accuracy(right[:1])
    assert one.short() == one.per_seed[0].short()            # one seed reads as a plain accuracy


def test_seed_comparison_needs_the_interval_and_the_seed_spread():
    from genre_utils.stats import seed_comparison

    rng = np.random.default_rng(0)
    base = rng.random(400) < 0.6
    a = np.stack([base | (rng.random(400) < 0.5) for _ in range(3)])   # far better, seeds close together
    b = np.stack([base] * 3)
    far = seed_comparison(a, b)
    assert far["beyond_interval"] and far["beyond_seeds"] and far["beyond_noise"] and far["difference"] > 0
    assert far["seeds_a"] == far["seeds_b"] == 3 and far["n_tracks"] == 400
    # a small gap (3 points) between two models whose seeds spread over 10 points: not a difference,
    # even when the track interval alone would exclude zero
    c = np.zeros((3, 400), dtype=bool)
    c[0, :220], c[1, :240], c[2, :260] = True, True, True          # 55, 60, 65 %
    d = np.zeros((3, 400), dtype=bool)
    d[:, :228] = True                                                # 57 % for every seed
    near = seed_comparison(c, d)
    assert near["difference"] == pytest.approx(0.03) and not near["beyond_seeds"] and not near["beyond_noise"]
    assert near["spread_a"] == pytest.approx(0.10) and near["spread_b"] == 0
    with pytest.raises(ValueError):
        seed_comparison(c, d[:, :10])
    # one seed of A: a spread from elsewhere stands in for A's (and only then)
    one = seed_comparison(c[2], d, stand_in_spread=0.10)            # 65 % against 57 %: 8 points, within 10
    assert one["spread_stand_in"] and one["spread_a"] == pytest.approx(0.10)
    assert one["beyond_interval"] and not one["beyond_noise"]
    assert seed_comparison(c[2], d)["beyond_noise"] and not seed_comparison(c[2], d)["spread_stand_in"]
    assert not seed_comparison(c, d, stand_in_spread=0.5)["spread_stand_in"]        # A has its own spread


def test_probe_gaps_pair_every_seed_with_each_probe_on_the_same_tracks():
    from genre_utils.probe import probe_gap_table, probe_gaps

    class FakeStore:   # two genres told apart by the mean of row 0: both probes get every test track right
        def split(self, name):
            n = 20 if name == "train" else 10
            y = np.arange(n) % 2
            X = np.random.default_rng(n).normal(size=(n, 3, 6)) * 0.1
            X[:, 0, :] += np.where(y, 4.0, -4.0)[:, None]
            return X.astype(np.float32), y, pd.DataFrame({"track_id": [f"{name}{i:02d}" for i in range(n)]})

    def run(right):
        return RunResults.from_dict({"test": {"tracks": [
            {"track_id": f"test{i:02d}", "true_genre": "jazz", "pred_genre": "jazz" if r else "pop"}
            for i, r in enumerate(right)]}})

    seeds = [run([True] * 6 + [False] * 4), run([True] * 8 + [False] * 2)]     # 60 % and 80 %
    rows = probe_gaps({"the CRNN": seeds}, FakeStore())
    assert [(r["model"], r["summary"]) for r in rows] == [("the CRNN", "mean"), ("the CRNN", "dynamics")]
    for r in rows:
        c = r["comparison"]
        assert r["probe_accuracy"].k == 10 and r["model_accuracy"].n_seeds == 2
        assert c["difference"] == pytest.approx(0.7 - 1.0) and c["spread_a"] == pytest.approx(0.2)
        assert c["n_tracks"] == 10 and c["high"] < 0
    table = probe_gap_table(rows)
    assert list(table.index.get_level_values(1)) == ["the regression on track means",
                                                     "the regression on means, spread and change"]
    assert table.iloc[0]["model minus bag (points)"].startswith("-30.0 [")
    assert table.iloc[0]["reading"] == "behind, beyond the noise"        # 30 points > the seeds' 20
    better = probe_gap_table(probe_gaps({"the CRNN": [run([True] * 10)] * 3}, FakeStore()))
    assert better.iloc[0]["reading"] == "within the noise"                 # level with a perfect probe
    with pytest.raises(ValueError, match="no runs of the MLP"):
        probe_gaps({"the MLP": []}, FakeStore())
    with pytest.raises(ValueError, match="not tested on the probe's test tracks"):
        probe_gaps({"other": [RunResults.from_dict({"test": {"tracks": [
            {"track_id": "x", "true_genre": "jazz", "pred_genre": "jazz"}]}})]}, FakeStore())


def test_window_summary_reads_in_chunks_with_the_same_numbers():
    from genre_utils.probe import window_summary

    X = (np.random.default_rng(5).normal(size=(10, 4, 30)) * 3).astype(np.float16)
    whole = window_summary(X, "dynamics", chunk_size=1024)
    assert whole.shape == (10, 12) and whole.dtype == np.float32
    for size in (1, 3, 7):   # a chunk never changes a window's numbers
        assert np.array_equal(window_summary(X, "dynamics", chunk_size=size), whole)
    assert np.array_equal(window_summary(X, "mean", chunk_size=4), whole[:, :4])
    np.testing.assert_allclose(whole[:, 4:8], X.astype(np.float32).std(axis=2), rtol=1e-6)
    assert window_summary(X[:0], "dynamics").shape == (0, 12)
