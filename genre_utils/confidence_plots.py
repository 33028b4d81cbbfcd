"""The confidence page's figures: reliability diagrams before and after temperature scaling, and the unknown
score of every group of tracks against the threshold. They draw what :func:`genre_utils.confidence.calibrate_run`
returns."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

__all__ = ["reliability_figure", "score_figure"]


def reliability_figure(before: pd.DataFrame, after: pd.DataFrame, title: str = "", temperature: float | None = None):
    """Two reliability diagrams side by side: accuracy per confidence bin before and after scaling.

    Bars show each bin's accuracy (bin width, at its position), the dots its mean confidence, the diagonal
    perfect calibration; the number over a bar is the bin's item count. Empty bins are left blank.
    """
    fig, axes = plt.subplots(1, 2, figsize=(9, 4), sharey=True)
    for ax, table, name in ((axes[0], before, "before scaling (T = 1)"),
                            (axes[1], after, "after scaling" + (f" (T = {temperature:.2f})" if temperature else ""))):
        t = pd.DataFrame(table)
        used = t["count"] > 0
        width = (t["upper"] - t["lower"]).to_numpy()
        ax.bar(t["lower"][used], t["accuracy"][used], width=width[used.to_numpy()], align="edge",
               color="#4c72b0", edgecolor="white", label="accuracy")
        ax.plot(t["confidence"][used], t["confidence"][used], "o", color="#dd8452", label="mean confidence")
        ax.plot([0, 1], [0, 1], "--", color="grey", lw=1, label="perfect calibration")
        for _, row in t[used].iterrows():
            ax.text((row["lower"] + row["upper"]) / 2, min(row["accuracy"] + 0.02, 0.95), str(int(row["count"])),
                    ha="center", fontsize=7)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("top-1 probability (confidence)")
        ax.set_title(name, fontsize=10)
    axes[0].set_ylabel("accuracy in bin")
    axes[0].legend(loc="upper left", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    plt.close(fig)
    return fig


def score_figure(tracks: pd.DataFrame, threshold: float | None = None, title: str = ""):
    """Calibrated confidence of in-genre validation and test tracks, open-set tracks and new-data files (in two
    rows: those the model gets right and those it gets wrong), with the threshold."""
    t = pd.DataFrame(tracks)
    if "correct" in t:
        new = t["group"] == "new data"
        right = t["correct"].astype("boolean").fillna(False).to_numpy(dtype=bool)
        t.loc[new & right, "group"] = "new data, right"
        t.loc[new & ~right, "group"] = "new data, wrong"
    order = ("in-genre validation", "in-genre test", "new data, right", "new data, wrong", "open set")
    groups = [g for g in order if (t["group"] == g).any()]
    fig, ax = plt.subplots(figsize=(8, 1.0 + 0.8 * max(len(groups), 1)))
    rng = np.random.default_rng(0)
    for i, g in enumerate(groups):
        c = t.loc[t["group"] == g, "confidence"].to_numpy(float)
        ax.plot(c, i + rng.uniform(-0.15, 0.15, len(c)), "o", alpha=0.6)
    if threshold is not None and math.isfinite(threshold):
        ax.axvline(threshold, color="black", ls="--", lw=1)
        ax.text(threshold, len(groups) - 0.5, f" threshold {threshold:.2f}", fontsize=8, va="center")
    ax.set_yticks(range(len(groups)), [f"{g} ({(t['group'] == g).sum()})" for g in groups])
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.5, len(groups) - 0.3)
    ax.set_xlabel("calibrated confidence (flagged when below the threshold)")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    plt.close(fig)
    return fig
