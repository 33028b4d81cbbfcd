"""Figures are drawn from data and handed back once: no figure is left open in pyplot (it would show twice)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from genre_utils import models, plots  # noqa: E402
from genre_utils.config import FeatureParams  # noqa: E402
from genre_utils.genres import GENRES  # noqa: E402

HISTORY = {"train_loss": [2.3, 2.0, 1.7], "valid_loss": [2.3, 2.1, 1.9],
           "train_acc": [0.1, 0.3, 0.5], "valid_acc": [0.1, 0.25, 0.4]}
COUNTS = pd.DataFrame({"a": range(10), "b": range(10, 20)}, index=list(GENRES))

CASES = {
    "pipeline": lambda: plots.pipeline_diagram([("audio", "audio"), ("MFCC", "feature"), ("CRNN", "conv")]),
    "layers": lambda: plots.layer_diagram(models.describe(models.build_model("crnn"))),
    "curves": lambda: plots.training_curves(HISTORY, best_epoch=3),
    "confusion": lambda: plots.confusion_heatmap(np.eye(10) * 3 + 1),
    "distribution": lambda: plots.genre_distribution(COUNTS),
    "per_genre": lambda: plots.per_genre_bars(COUNTS),
    "ablation": lambda: plots.ablation_bars(pd.DataFrame({"run": ["x", "y"], "acc": [0.5, 0.7]}), "acc", "run"),
    "ablation_seeds": lambda: plots.ablation_bars(
        pd.DataFrame({"run": ["x", "y"], "acc": [0.5, 0.7], "lo": [0.4, 0.6], "hi": [0.6, 0.8], "s0": [0.45, 0.7],
                      "s1": [0.55, 0.7]}), "acc", "run", interval=("lo", "hi"), seeds=("s0", "s1")),
    "genre_windows": lambda: plots.genre_windows_figure({g: np.ones((64, 235)) for g in GENRES}, FeatureParams(),
                                                        np.zeros(64), np.ones(64), title="t"),
    "blues_scale": lambda: plots.blues_scale("A"),
    "accuracy_intervals": lambda: plots.accuracy_intervals({g: __import__("genre_utils.stats").stats.Accuracy(2, 4)
                                                            for g in GENRES}),
    "features": lambda: plots.feature_image(np.random.default_rng(0).normal(size=(64, 235)), FeatureParams()),
    "mfcc_steps": lambda: plots.mfcc_steps_figure(__import__("genre_utils.features").features.mfcc_steps(
        0.1 * np.sin(np.arange(FeatureParams().segment_samples) * 0.05, dtype=np.float32)), FeatureParams()),
}


@pytest.mark.parametrize("name", CASES)
def test_figure_is_returned_and_not_left_open(name):
    plt.close("all")
    fig = CASES[name]()
    assert isinstance(fig, plt.Figure) and fig.axes
    assert plt.get_fignums() == []


def test_confusion_heatmap_labels_every_genre():
    fig = plots.confusion_heatmap(np.eye(10))
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == list(GENRES)


def test_blues_scale_marks_six_notes():
    fig = plots.blues_scale("C")
    labels = {t.get_text() for t in fig.axes[0].texts}
    assert {"1", "b3", "4", "b5", "5", "b7"} <= labels


def test_confusion_heatmap_shows_percentage_and_count():
    cm = np.zeros((10, 10))
    cm[0, 0], cm[0, 1], cm[1, 1] = 3, 1, 2
    texts = [t.get_text() for t in plots.confusion_heatmap(cm).axes[0].texts]
    assert "75\n(3)" in texts and "25\n(1)" in texts and "100\n(2)" in texts
    assert not any(t.startswith("0\n") for t in texts)


def test_accuracy_intervals_draws_counts_and_paper_points():
    from genre_utils.stats import Accuracy

    plt.close("all")
    accs = {g: Accuracy(0, 0) if k == 3 else Accuracy(k % 5, 4) for k, g in enumerate(GENRES)}
    fig = plots.accuracy_intervals(accs, paper={"pop": Accuracy(5, 16), "metal": 0.938})
    ax = fig.axes[0]
    labels = {t.get_text() for t in ax.texts}
    assert "0/4" in labels and "n=0" in labels
    assert plt.get_fignums() == []
    assert [t.get_text() for t in ax.get_xticklabels()] == list(GENRES)


def test_crnn_diagrams_split_the_model_and_mark_what_the_paper_lacks():
    from genre_utils import paper

    plain, trained = models.build_model("crnn"), models.build_model("crnn", batchnorm=True, per_window=True)
    table = models.describe(trained)
    cnn, rnn = plots.crnn_diagrams(table)
    texts = [t.get_text() for t in cnn.axes[0].texts]
    assert not plt.get_fignums()                               # both returned, neither left open
    assert any("conv1" in t for t in texts) and not any("gru" in t for t in texts)
    assert any("gru" in t.get_text() for t in rnn.axes[0].texts)
    assert sum("not in the paper" in t for t in texts) == int(table["type"].str.startswith("BatchNorm").sum()) > 0
    status = paper.layer_status(table, models.count_paper_layers(plain))
    assert status[table["type"].str.startswith("BatchNorm")].eq("no: added by this profile").all()
    n = models.count_paper_layers(plain)
    assert status[table["paper_layer"]].tolist() == [f"yes, layer {k} of {n}" for k in range(1, n + 1)]


def test_genre_windows_are_drawn_standardised_by_row():
    """Each row is drawn as (value - mean[row]) / std[row]: a window equal to the training mean is all zeros,
    however large its loudness row is."""
    rows = np.arange(64, dtype=float)
    mean, std = 100.0 * rows, 1.0 + rows
    window = mean[:, None] + 2.0 * std[:, None] * np.ones((64, 235))
    fig = plots.genre_windows_figure({"blues": window, "jazz": np.tile(mean[:, None], (1, 235))}, FeatureParams(),
                                     mean, std)
    images = [ax.get_images()[0].get_array() for ax in fig.axes if ax.get_images()]
    np.testing.assert_allclose(images[0], 2.0, rtol=1e-12)
    np.testing.assert_allclose(images[1], 0.0, atol=1e-12)
    assert sum(1 for ax in fig.axes if ax.get_title()) == 2     # empty panels are switched off, not titled

