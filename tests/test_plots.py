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
    "blues_scale": lambda: plots.blues_scale("A"),
    "features": lambda: plots.feature_image(np.random.default_rng(0).normal(size=(64, 235)), FeatureParams()),
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
