"""Calibration and the unknown score (genre_utils.confidence) on synthetic logits with known answers."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from genre_utils import calibration as cal
from genre_utils import checkpoint_info as cf
from genre_utils import confidence_plots, narrative


def _overconfident(n=4000, k=10, sharpen=3.0, seed=0):
    """Labels drawn from softmax(z): calibrated logits z; the model reports sharpen * z (over-confident)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 1.5, (n, k))
    p = cal.softmax(z)
    labels = np.array([rng.choice(k, p=row) for row in p])
    return sharpen * z, labels


def test_temperature_one_leaves_probabilities_unchanged():
    logits = np.random.default_rng(1).normal(0, 3, (50, 10))
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(cal.softmax(logits, 1.0), e / e.sum(axis=1, keepdims=True), rtol=1e-12)
    # stored probabilities are as good as logits for temperature scaling
    np.testing.assert_allclose(cal.softmax(cal.logits_from_probs(cal.softmax(logits)), 2.5), cal.softmax(logits, 2.5),
                               rtol=1e-9, atol=1e-15)
    with pytest.raises(ValueError):
        cal.softmax(logits, 0.0)


def test_overconfident_model_is_recovered_and_its_ece_falls():
    logits, labels = _overconfident(sharpen=3.0)
    T = cal.fit_temperature(logits[:2000], labels[:2000])
    assert 2.5 < T < 3.5  # the known over-confidence
    before = cal.expected_calibration_error(cal.softmax(logits[2000:]), labels[2000:])
    after = cal.expected_calibration_error(cal.softmax(logits[2000:], T), labels[2000:])
    assert after < before / 3 and after < 0.03
    assert cal.nll(logits, labels, T) < cal.nll(logits, labels, 1.0)
    # scaling never changes the predicted class
    assert (cal.softmax(logits, T).argmax(1) == logits.argmax(1)).all()


def test_underconfident_model_gets_t_below_one():
    logits, labels = _overconfident(sharpen=0.5, seed=3)
    assert 0.35 < cal.fit_temperature(logits, labels) < 0.65


def test_reliability_table_by_hand():
    probs = np.array([[0.95, 0.05], [0.92, 0.08], [0.55, 0.45], [0.3, 0.7]])
    labels = np.array([0, 1, 0, 1])
    t = cal.reliability_table(probs, labels, n_bins=10)
    assert len(t) == 10 and t["count"].sum() == 4
    assert t.loc[9, "count"] == 2 and t.loc[9, "accuracy"] == 0.5 and t.loc[9, "confidence"] == pytest.approx(0.935)
    assert t.loc[5, "count"] == 1 and t.loc[5, "accuracy"] == 1.0  # 0.55 lies in (0.5, 0.6]
    assert t.loc[6, "count"] == 1 and t.loc[6, "accuracy"] == 1.0
    assert math.isnan(t.loc[0, "accuracy"])  # empty bin: no data, not 0
    ece = cal.expected_calibration_error(probs, labels, 10)
    assert ece == pytest.approx((2 * 0.435 + 0.45 + 0.3) / 4)
    assert math.isnan(cal.expected_calibration_error(np.zeros((0, 2)), np.zeros(0, int)))


def test_track_temperature_fits_the_track_means_not_the_windows():
    """Windows drawn calibrated, so T ~ 1 on single windows; a track's mean of 8 such windows is softer than its
    windows, and the track temperature that calibrates those means must sharpen them (T < 1)."""
    rng = np.random.default_rng(3)
    n_tracks, per, k = 400, 8, 5
    labels = rng.integers(0, k, n_tracks)
    z = rng.normal(0, 1.0, (n_tracks * per, k))
    z[np.arange(n_tracks * per), np.repeat(labels, per)] += 1.5       # evidence for the track's genre
    y = np.repeat(labels, per)
    ids = np.repeat(np.arange(n_tracks), per)
    window_T = cal.fit_temperature(z, y)
    track_T = cal.fit_track_temperature(z, y, ids)
    assert track_T < window_T
    assert cal.track_nll(z, y, ids, track_T) < cal.track_nll(z, y, ids, window_T)
    assert cal.track_nll(z, y, ids, track_T) <= cal.track_nll(z, y, ids, 1.0)
    # one window per track: the track NLL is the window NLL, and both fits agree
    assert cal.track_nll(z, y, np.arange(len(y)), 1.7) == pytest.approx(cal.nll(z, y, 1.7), rel=1e-12)
    assert cal.fit_track_temperature(z[:0], y[:0], ids[:0]) == 1.0 and math.isnan(cal.track_nll(z[:0], y[:0], []))


def test_track_mean_probs_keeps_first_appearance_order():
    ids, mean = cal.track_mean_probs(["b", "a", "b"], [[1.0, 0.0], [0.2, 0.8], [0.0, 1.0]])
    assert list(ids) == ["b", "a"]
    np.testing.assert_allclose(mean, [[0.5, 0.5], [0.2, 0.8]])


def test_auroc_and_bootstrap_interval():
    assert cal.auroc([0.9, 0.8], [0.1, 0.2, 0.3]) == 1.0
    assert cal.auroc([0.1], [0.9]) == 0.0
    assert cal.auroc([0.5, 0.5], [0.5]) == 0.5  # ties count one half
    assert math.isnan(cal.auroc([], [0.3]))
    rng = np.random.default_rng(0)
    sep = cal.bootstrap_auroc(rng.normal(1.5, 1, 60), rng.normal(0, 1, 80), n_boot=500, seed=0)
    assert sep["low"] < sep["auroc"] < sep["high"] and sep["low"] > 0.7
    same = cal.bootstrap_auroc(rng.normal(0, 1, 40), rng.normal(0, 1, 40), n_boot=500, seed=0)
    assert same["low"] < 0.5 < same["high"]
    assert cal.bootstrap_auroc([0.2, 0.4], [0.1], n_boot=50) == cal.bootstrap_auroc([0.2, 0.4], [0.1], n_boot=50)


def test_recall_threshold_accepts_at_least_the_asked_share():
    conf = np.linspace(0.1, 1.0, 20)
    thr = cal.recall_threshold(conf, 0.95)
    assert (conf >= thr).mean() >= 0.95 and (conf >= thr).sum() == 19
    assert cal.recall_threshold([0.3], 0.95) == 0.3
    assert math.isnan(cal.recall_threshold([], 0.95))


def test_energy_score_is_minus_logsumexp():
    logits = np.array([[1.0, 2.0, 3.0]])
    assert cal.energy_score(logits)[0] == pytest.approx(-np.log(np.exp(logits).sum()))
    assert cal.energy_score(logits, 2.0)[0] == pytest.approx(-2 * np.log(np.exp(logits / 2).sum()))


def test_confidence_file_is_keyed_to_the_checkpoint(tmp_path):
    ckpt = tmp_path / "best.pt"
    ckpt.write_bytes(b"weights one")
    cf.write_confidence_file(ckpt, {"temperature": 1.7, "threshold": 0.4, "recall": 0.95})
    data = cf.read_confidence_file(ckpt)
    assert data["temperature"] == 1.7 and data["threshold"] == 0.4
    assert cf.read_confidence_file(tmp_path) == data  # a run folder means its best.pt
    ckpt.write_bytes(b"weights two")  # retrained: the side file is stale and never used
    assert cf.read_confidence_file(ckpt) is None
    (tmp_path / cf.CONFIDENCE_FILE).write_text("{broken")
    assert cf.read_confidence_file(ckpt) is None


def test_checkpoint_field_and_trained_on(tmp_path):
    assert cf.checkpoint_field({"config": {"features": {"a": 1}}}, "features") == {"a": 1}
    assert cf.checkpoint_field({"train_config": {"data": {"synthetic": True}}}, "synthetic") is True
    assert cf.checkpoint_field({}, "missing", default=3) == 3
    ckpt = tmp_path / "best.pt"
    ckpt.write_bytes(b"x")
    assert cf.trained_on(ckpt, {"config": {"synthetic": False}})["synthetic"] is False
    assert cf.trained_on(ckpt, {})["synthetic"] is None  # nothing says
    (tmp_path / "results.json").write_text(json.dumps({"data_description": "the project's synthetic corpus"}))
    assert cf.trained_on(ckpt, {})["synthetic"] is True
    # from the store the checkpoint names: a source inside a corpus written by genre-utils synth
    other = tmp_path / "other"
    other.mkdir()
    (other / "best.pt").write_bytes(b"x")
    store, corpus = tmp_path / "store", tmp_path / "synth"
    store.mkdir(), (corpus / "gtzan").mkdir(parents=True)
    (corpus / "corpus.json").write_text("{}")
    (store / "dataset.json").write_text(json.dumps({"sources": {"gtzan": str(corpus / "gtzan"), "fma": None}}))
    assert cf.trained_on(other / "best.pt", {"config": {"dataset": str(store)}})["synthetic"] is True


def _summary(T=1.6, before=0.2, after=0.05, auroc=0.8, low=0.6, high=0.95, n_open=10):
    return {"temperature": T, "threshold": 0.3, "recall": 0.95,
            "ece": {"segment": {"before": before, "after": after}, "track": {"before": after, "after": before}},
            "open_set": {"auroc": auroc, "low": low, "high": high, "n_positive": n_open, "n_negative": 20,
                         "rejected_open": {"k": 4, "n": n_open}, "rejected_test": {"k": 1, "n": 20}}}


def test_sentences_follow_the_numbers():
    s = _summary()
    assert "over-confident" in narrative.temperature_sentence(s["temperature"])
    assert "under-confident" in narrative.temperature_sentence(0.7)
    assert "close to 1" in narrative.temperature_sentence(1.01)
    # 1.05 shows as 1.05 and is not above 1.05: the "close to 1" branch, never "1.05 > 1 ... over-confident"
    assert "close to 1" in narrative.temperature_sentence(1.05)
    rejection = narrative.rejection_sentence(s)
    assert "4 of 10 open-set tracks" in rejection and "1 of 20 in-genre test tracks" in rejection
    auroc = narrative.auroc_sentence(s["open_set"], synthetic=False)
    assert "more often than chance" in auroc and "*below*" not in auroc
    assert "includes 0.5" in narrative.auroc_sentence(_summary(auroc=0.55, low=0.3, high=0.8)["open_set"])
    assert "*below*" in narrative.auroc_sentence(_summary(auroc=0.2, low=0.1, high=0.4)["open_set"])
    none = _summary(auroc=None, low=None, high=None, n_open=0)
    assert "not measured" in narrative.auroc_sentence(none["open_set"])
    assert "no rejection rate" in narrative.rejection_sentence(none)


def test_figures_draw():
    logits, labels = _overconfident(n=300)
    before = cal.reliability_table(cal.softmax(logits), labels)
    after = cal.reliability_table(cal.softmax(logits, 3.0), labels)
    fig = confidence_plots.reliability_figure(before, after, "segments", temperature=3.0)
    assert len(fig.axes) == 2
    tracks = pd.DataFrame({"group": ["in-genre test", "open set"], "confidence": [0.8, 0.3]})
    assert confidence_plots.score_figure(tracks, 0.5).axes
