"""Every figure of the book, drawn from code: diagrams, curves, confusion matrices and distributions.

Each function returns a matplotlib ``Figure`` and draws nothing else, so a notebook shows it with one call
and ``glue`` can store it. Diagrams take their numbers (layer shapes, parameter counts) from the model
objects, never from typed-in constants.
"""

from __future__ import annotations

import functools
import io
import math
import textwrap

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch

from .genres import GENRES
from .stats import wilson_interval

__all__ = [
    "draw_features", "feature_range", "figure_png",
    "pipeline_diagram", "layer_diagram", "training_curves", "overlap_heatmap", "confusion_heatmap",
    "genre_distribution",
    "blues_scale", "feature_image", "per_genre_bars", "ablation_bars", "accuracy_intervals",
    "paper_recipe_curve", "crnn_diagrams", "CORRECT_COLOR", "WRONG_COLOR",
    "mfcc_steps_figure", "genre_windows_figure", "lab_effects_figure",
]

def _detached(draw):
    """Close the returned figure in pyplot, so a notebook shows it once (as the cell's value), not twice."""
    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        fig = draw(*args, **kwargs)
        if kwargs.get("ax") is None:  # a figure drawn into the caller's axes stays the caller's
            plt.close(fig)
        return fig

    return wrapper


_COLORS = {"audio": "#d8e8f8", "feature": "#e4f2dc", "conv": "#fbe3c8", "pool": "#fdf1dc",
           "rnn": "#e8dcf4", "dense": "#f6d6dc", "out": "#e0e0e0"}


def _box(ax, x, y, w, h, text, color, fontsize=9):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.05",
                                facecolor=color, edgecolor="#444444", linewidth=1.0))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=fontsize, wrap=True)


def _arrow(ax, x0, y0, x1, y1):
    ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=12, color="#444444"))


@_detached
def pipeline_diagram(stages, title: str = "") -> plt.Figure:
    """A left-to-right chain of boxes (the paper's Figure 1 "black box" view, or any pipeline).

    Parameters
    ----------
    stages : list of (str, str)
        ``(label, kind)`` per box; kind picks the colour (audio, feature, conv, pool, rnn, dense, out).
    title : str
    """
    n = len(stages)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.9 * n), 1.9))
    w, gap = 1.5, 0.45
    for i, (label, kind) in enumerate(stages):
        x = i * (w + gap)
        _box(ax, x, 0.2, w, 1.0, label, _COLORS.get(kind, "#ffffff"))
        if i:
            _arrow(ax, x - gap, 0.7, x, 0.7)
    ax.set_xlim(-0.1, n * (w + gap) - gap + 0.1)
    ax.set_ylim(0, 1.4)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return fig


def _layer_kind(name: str) -> str:
    """Colour kind of a layer box, guessed from its name; a layer marked 'not in the paper' gets the grey box."""
    name = name.lower()
    if "not in the paper" in name:
        return "out"
    for key, kind in (("conv", "conv"), ("pool", "pool"), ("gru", "rnn"), ("rnn", "rnn"),
                      ("fc", "dense"), ("linear", "dense"), ("stand", "feature"), ("input", "audio")):
        if key in name:
            return kind
    return "out"


@_detached
def layer_diagram(table: pd.DataFrame, title: str = "", kinds=None) -> plt.Figure:
    """A vertical stack of the layers of a model, one box per row of ``models.describe(model)``.

    Parameters
    ----------
    table : DataFrame
        Columns ``layer``, ``output shape`` (or ``output_shape``) and ``parameters`` (as returned by
        :func:`genre_utils.models.describe`).
    title : str
    kinds : callable, optional
        Maps a layer name to a colour kind; by default guessed from the name.
    """
    shape_col = "output shape" if "output shape" in table.columns else "output_shape"
    param_col = "parameters" if "parameters" in table.columns else "params"

    kinds = kinds or _layer_kind
    n = len(table)
    fig, ax = plt.subplots(figsize=(6.2, 0.55 * n + 0.8))
    for i, row in enumerate(table.itertuples(index=False)):
        rec = dict(zip(table.columns, row))
        y = n - 1 - i
        label = f"{rec['layer']}   ->  {rec[shape_col]}"
        params = rec.get(param_col)
        if params:
            label += f"   ({int(params):,} parameters)"
        _box(ax, 0.0, y * 0.55 + 0.05, 6.0, 0.42, label, _COLORS[kinds(str(rec["layer"]))], fontsize=8.5)
        if i:
            _arrow(ax, 3.0, y * 0.55 + 0.55, 3.0, y * 0.55 + 0.47)
    ax.set_xlim(-0.1, 6.1)
    ax.set_ylim(0, n * 0.55 + 0.1)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return fig


@_detached
def training_curves(history: dict, title: str = "", best_epoch: int | None = None) -> plt.Figure:
    """Loss and accuracy per epoch for training and validation (the paper's Figures 4 and 6).

    Parameters
    ----------
    history : dict
        Lists ``train_loss``, ``valid_loss``, ``train_acc``, ``valid_acc`` (one value per epoch, accuracy
        as a fraction).
    best_epoch : int, optional
        1-based epoch to mark (the one kept by validation accuracy).
    """
    epochs = np.arange(1, len(history["train_loss"]) + 1)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.3))
    ax1.plot(epochs, history["train_loss"], "o-", label="training")
    ax1.plot(epochs, history["valid_loss"], "s-", label="validation")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("cross-entropy loss")
    ax2.plot(epochs, 100 * np.asarray(history["train_acc"]), "o-", label="training")
    ax2.plot(epochs, 100 * np.asarray(history["valid_acc"]), "s-", label="validation")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("accuracy (%)")
    ax2.set_ylim(0, 100)
    for ax in (ax1, ax2):
        if best_epoch:
            ax.axvline(best_epoch, color="#888888", linestyle=":", linewidth=1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


@_detached
def overlap_heatmap(matrix: pd.DataFrame, title: str = "") -> plt.Figure:
    """How many style-sheet items each pair of genres shares (:func:`genre_utils.corpus_card.overlap_matrix`).

    Parameters
    ----------
    matrix : DataFrame
        Genres x genres, integer counts; the diagonal is drawn empty.
    """
    import seaborn as sns

    values = matrix.to_numpy(dtype=float)
    mask = np.eye(len(matrix), dtype=bool)
    fig, ax = plt.subplots(figsize=(6.4, 5.4))
    sns.heatmap(values, ax=ax, mask=mask, cmap="Oranges", vmin=0, annot=matrix.to_numpy(), fmt="d",
                annot_kws={"fontsize": 8}, linewidths=0.5, linecolor="#e6e6e6", square=True,
                xticklabels=list(matrix.columns), yticklabels=list(matrix.index),
                cbar_kws={"fraction": 0.046, "label": "items shared (grooves, progressions, parts, instruments)"})
    ax.set_yticks(np.arange(len(matrix)) + 0.5, list(matrix.index), rotation=0)
    ax.set_xticks(np.arange(len(matrix)) + 0.5, list(matrix.columns), rotation=45, ha="right")
    if title:
        ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return fig


@_detached
def confusion_heatmap(cm, labels=GENRES, normalise: bool = True, title: str = "") -> plt.Figure:
    """Confusion matrix as a seaborn heat map (the paper's Figure 7): rows are true genres, columns predictions.

    Parameters
    ----------
    cm : array-like, shape (n, n)
        Counts.
    normalise : bool
        Colour by row percentage (each true genre sums to 100 %); each non-empty cell shows its percentage
        and, below it, its count, so a 100 % of one track is not read as a 100 % of sixteen.
    """
    import seaborn as sns

    cm = np.asarray(cm, dtype=float)
    rows = cm.sum(axis=1, keepdims=True)
    shown = np.divide(100 * cm, rows, out=np.zeros_like(cm), where=rows > 0) if normalise else cm
    annot = np.full(cm.shape, "", dtype=object)
    for i, j in zip(*np.nonzero(cm)):
        annot[i, j] = f"{shown[i, j]:.0f}\n({int(cm[i, j])})" if normalise else f"{int(cm[i, j])}"
    ylabels = list(labels)
    fig, ax = plt.subplots(figsize=(7.0, 5.8))
    sns.heatmap(shown, ax=ax, cmap="Blues", vmin=0, vmax=100 if normalise else None, annot=annot, fmt="",
                annot_kws={"fontsize": 7}, linewidths=0.5, linecolor="#e6e6e6", square=True,
                xticklabels=list(labels), yticklabels=ylabels,
                cbar_kws={"fraction": 0.046, "label": "% of the true genre (count below)" if normalise else "clips"})
    ax.set_yticks(np.arange(len(labels)) + 0.5, ylabels, rotation=0)
    ax.set_xticks(np.arange(len(labels)) + 0.5, list(labels), rotation=45, ha="right")
    ax.set_xlabel("predicted genre")
    ax.set_ylabel("true genre")
    if title:
        ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return fig


@_detached
def accuracy_intervals(accuracies: dict, paper: dict | None = None, title: str = "",
                       build_label: str = "this build", paper_label: str = "paper") -> plt.Figure:
    """Per-genre accuracy with 95 % Wilson intervals (seaborn bars, error bars from the counts).

    Parameters
    ----------
    accuracies : dict
        ``genre -> stats.Accuracy`` for this build (genres without items are drawn empty and marked n=0).
    paper : dict, optional
        ``genre -> stats.Accuracy`` (or a fraction) for the genres the paper reports, drawn as diamonds
        with their own interval when a count is given.
    """
    import seaborn as sns

    genres = list(accuracies)
    frame = pd.DataFrame({"genre": genres,
                          "accuracy": [100 * a.value if a.n else np.nan for a in accuracies.values()]})
    fig, ax = plt.subplots(figsize=(10.5, 3.8))
    sns.barplot(data=frame, x="genre", y="accuracy", color="#9ec5ee", errorbar=None, ax=ax, label=build_label)
    for x, a in enumerate(accuracies.values()):
        if not a.n:
            ax.text(x, 2, "n=0", ha="center", fontsize=7, color="#666666")
            continue
        low, high = a.interval
        ax.errorbar(x, 100 * a.value, yerr=[[100 * (a.value - low)], [100 * (high - a.value)]], fmt="none",
                    ecolor="#1f3f66", capsize=3, linewidth=1)
        ax.text(x, 101, f"{a.k}/{a.n}", ha="center", va="bottom", fontsize=7)
    for g, p in (paper or {}).items():
        if g not in genres:
            continue
        x = genres.index(g) + 0.28
        value = p.value if hasattr(p, "value") else float(p)
        if hasattr(p, "interval"):
            low, high = p.interval
            ax.errorbar(x, 100 * value, yerr=[[100 * (value - low)], [100 * (high - value)]], fmt="none",
                        ecolor="#b5651d", capsize=2, linewidth=1)
        ax.plot(x, 100 * value, marker="D", color="#d9822b", linestyle="none",
                label=paper_label if g == next(iter(paper)) else None)
    ax.set_ylim(0, 112)
    ax.set_yticks(range(0, 101, 20))
    ax.set_ylabel("accuracy (%), 95 % interval")
    ax.set_xlabel("")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    if title:
        ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return fig


@_detached
def genre_distribution(counts: pd.DataFrame, title: str = "", ylabel: str = "clips") -> plt.Figure:
    """Grouped bars of counts per genre (the paper's Figure 12, and the per-source data statistics).

    Parameters
    ----------
    counts : DataFrame
        Index = genres, one column per group (e.g. split or source).
    """
    fig, ax = plt.subplots(figsize=(8, 3.2))
    counts.plot.bar(ax=ax, width=0.8)
    ax.set_ylabel(ylabel)
    ax.set_xlabel("")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, ncols=min(4, counts.shape[1]))
    plt.setp(ax.get_xticklabels(), rotation=0)
    if title:
        ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return fig


@_detached
def per_genre_bars(values: pd.DataFrame, title: str = "", ylabel: str = "accuracy (%)") -> plt.Figure:
    """Bars of a per-genre quantity, one colour per column (e.g. this build vs the paper)."""
    fig = genre_distribution(values, title, ylabel)
    fig.axes[0].set_ylim(0, 100)
    return fig


@_detached
def ablation_bars(table: pd.DataFrame, value: str, label: str, title: str = "", interval: tuple[str, str] | None = None,
                  seeds: tuple[str, str] | None = None) -> plt.Figure:
    """Horizontal bars of one metric across ablation rows (``table[label]`` names each bar).

    ``interval`` names the columns of each bar's interval (thin black whiskers: the test set's uncertainty);
    ``seeds`` those of the range over training seeds (a thick orange segment, drawn where a row has more than
    one seed, i.e. the two ends differ).
    """
    fig, ax = plt.subplots(figsize=(7.5, 0.5 * len(table) + 1.3))
    y = np.arange(len(table))
    values = 100 * table[value].to_numpy(dtype=float)
    ax.barh(y, values, color="#7aa6d6", label=value.replace("_", " "))
    if interval is not None:
        lo, hi = (100 * table[c].to_numpy(dtype=float) for c in interval)
        ax.errorbar(values, y, xerr=[values - lo, hi - values], fmt="none", ecolor="black", elinewidth=1, capsize=3,
                    label="95 % interval (test tracks)")
    if seeds is not None:
        lo, hi = (100 * table[c].to_numpy(dtype=float) for c in seeds)
        several = hi > lo
        if several.any():
            ax.hlines(y[several], lo[several], hi[several], colors="#dd8452", linewidth=5,
                      label="range over training seeds")
    for k, v in enumerate(values):
        ax.text(1, k, f"{v:.1f}", va="center", fontsize=8, color="white", fontweight="bold")
    ax.set_yticks(y, table[label])
    ax.set_xlim(0, 105)
    ax.set_xlabel(f"{value.replace('_', ' ')} (%)")
    ax.invert_yaxis()
    ax.grid(axis="x", alpha=0.3)
    if title:
        ax.set_title(title, fontsize=11)
    if interval is not None or seeds is not None:   # under the figure: a bar may reach any length
        fig.legend(*ax.get_legend_handles_labels(), loc="lower center", ncol=3, fontsize=7, frameon=False)
        fig.tight_layout(rect=(0, 0.35 / fig.get_figheight(), 1, 1))
    else:
        fig.tight_layout()
    return fig


@_detached
def lab_effects_figure(effects: pd.DataFrame, title: str = "") -> plt.Figure:
    """What each laboratory control costs each model (:func:`genre_utils.lab.lab_effects`): one group of bars per
    control, one bar per model, the change in accuracy (points) with its 95 % interval; a bar whose change is
    beyond the noise is drawn solid, the others hatched (legend under the plot)."""
    models = list(dict.fromkeys(effects["model"]))
    controls = list(dict.fromkeys(effects["control"]))
    colours = ("#4c72b0", "#dd8452", "#55a868", "#c44e52")
    width = 0.8 / max(1, len(models))
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    for m, model in enumerate(models):
        rows = effects[effects["model"] == model].set_index("control").reindex(controls)
        x = np.arange(len(controls)) + (m - (len(models) - 1) / 2) * width
        d = 100 * rows["difference"].to_numpy(dtype=float)
        lo, hi = 100 * rows["low"].to_numpy(dtype=float), 100 * rows["high"].to_numpy(dtype=float)
        solid = rows["beyond_noise"].fillna(False).to_numpy(dtype=bool)
        colour = colours[m % len(colours)]
        ax.bar(x, d, width, color=[colour if s else "white" for s in solid], edgecolor=colour,
               hatch=None, label=model)
        ax.bar(x[~solid], d[~solid], width, color="none", edgecolor=colour, hatch="///")
        ax.errorbar(x, d, yerr=[d - lo, hi - d], fmt="none", ecolor="black", elinewidth=1, capsize=2)
    ax.axhline(0, color="black", linewidth=0.8)
    from .lab import control_words  # deferred: the plots module loads nothing of the laboratory's otherwise

    ax.set_xticks(np.arange(len(controls)),
                  [textwrap.fill(f"{control_words(c)} made common", 16) for c in controls], fontsize=8)
    ax.set_ylabel("change in accuracy (points)")
    ax.grid(axis="y", alpha=0.3)
    if title:
        ax.set_title(title, fontsize=11)
    handles = [Patch(facecolor=colours[m % len(colours)], label=model) for m, model in enumerate(models)]
    handles.append(Patch(facecolor="white", edgecolor="grey", hatch="///", label="hatched: within the noise"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.3 / fig.get_figheight(), 1, 1))
    return fig


@_detached
def blues_scale(tonic: str = "C") -> plt.Figure:
    """The six-note blues scale on a one-octave keyboard (the paper's Figure 8), blue note highlighted.

    The scale is 1, b3, 4, b5, 5, b7 (semitone steps 3-2-1-1-3-2); the flattened fifth is the "blue note".
    """
    names = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
    root = names.index(tonic)
    steps = [0, 3, 5, 6, 7, 10]
    scale = {(root + s) % 12: deg for s, deg in zip(steps, ["1", "b3", "4", "b5", "5", "b7"])}
    white = [0, 2, 4, 5, 7, 9, 11]
    black = {1: 0.7, 3: 1.7, 6: 3.7, 8: 4.7, 10: 5.7}
    fig, ax = plt.subplots(figsize=(7, 2.6))
    for i, pc in enumerate(white):
        face = "#9ec5ee" if pc in scale else "white"
        ax.add_patch(plt.Rectangle((i, 0), 1, 3, facecolor=face, edgecolor="black"))
        ax.text(i + 0.5, 0.25, names[pc], ha="center", fontsize=9)
        if pc in scale:
            ax.text(i + 0.5, 0.75, scale[pc], ha="center", fontsize=9, weight="bold")
    for pc, x in black.items():
        face = "#1f5fa8" if pc in scale else "black"
        if scale.get(pc) == "b5":
            face = "#d9534f"
        ax.add_patch(plt.Rectangle((x, 1.2), 0.6, 1.8, facecolor=face, edgecolor="black", zorder=2))
        if pc in scale:
            ax.text(x + 0.3, 1.45, scale[pc], ha="center", fontsize=8, color="white", weight="bold", zorder=3)
    ax.set_xlim(0, 7)
    ax.set_ylim(0, 3)
    ax.axis("off")
    ax.set_title(f"{tonic} blues scale: 1, b3, 4, b5, 5, b7 (scale notes blue, the blue note b5 red)", fontsize=10)
    fig.tight_layout()
    return fig


def draw_features(ax, features: np.ndarray, params, vmin=None, vmax=None, colorbar_fraction: float = 0.046):
    """Draw a feature matrix (MFCC or log-mel) on ``ax`` against time in seconds, with a colour bar.

    Parameters
    ----------
    ax : matplotlib Axes
    features : ndarray, shape (height, n_frames)
        One window, or several side by side.
    params : FeatureParams
        Gives the time axis (hop and sampling rate) and the kind of rows (MFCC index or mel band).
    vmin, vmax : float, optional
        Colour range (default: the data's range).
    colorbar_fraction : float

    Returns
    -------
    image : matplotlib AxesImage
    """
    features = np.asarray(features, dtype=np.float32)
    seconds = features.shape[1] * params.hop_length / params.sample_rate
    im = ax.imshow(features, origin="lower", aspect="auto", cmap="magma", vmin=vmin, vmax=vmax,
                   extent=(0, seconds, 0, features.shape[0]), interpolation="nearest")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("MFCC index" if params.kind == "mfcc" else "mel band")
    ax.figure.colorbar(im, ax=ax, fraction=colorbar_fraction, label="value" if params.kind == "mfcc" else "dB")
    return im


def feature_range(image: np.ndarray, params) -> tuple[float, float]:
    """Colour range of a feature image: its 1st to 99th percentile (for MFCCs: of rows 1 and up).

    The loudness coefficient of the MFCCs (row 0) lies far below the others; leaving it out of the range (it is
    drawn clipped) keeps it from flattening the rest of the image.

    Parameters
    ----------
    image : ndarray, shape (height, n_frames)
    params : FeatureParams
        Its ``kind`` says whether the rows are MFCCs.

    Returns
    -------
    lo, hi : float
    """
    image = np.asarray(image, dtype=np.float32)
    body = image[1:] if params.kind == "mfcc" and len(image) > 1 else image
    lo, hi = np.percentile(body, [1, 99])
    return float(lo), float(hi)


def figure_png(fig, colors: int | None = 64) -> bytes:
    """A figure (drawn at its own dpi) as PNG bytes, its RGBA image quantised to a palette of ``colors``.

    A small palette looks the same for these images and makes the file about three times smaller, which
    matters where a page embeds many of them. ``colors=None`` keeps full colour. The same figure gives the same
    bytes (no timestamp is written).
    """
    from PIL import Image

    fig.canvas.draw()
    image = Image.fromarray(np.asarray(fig.canvas.buffer_rgba())).convert("RGB")
    if colors:
        image = image.quantize(colors=colors, method=Image.Quantize.MEDIANCUT)
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


@_detached
def feature_image(features: np.ndarray, params, title: str = "", ax=None) -> plt.Figure:
    """One window's feature matrix (MFCC or log-mel) against time in seconds.

    Parameters
    ----------
    features : ndarray, shape (height, n_frames)
    params : FeatureParams
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 2.6))
    else:
        fig = ax.figure
    draw_features(ax, features, params)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


@_detached
def genre_windows_figure(windows: dict, params, mean, std, clip: float = 3.0, title: str = "") -> plt.Figure:
    """One window per genre, every coefficient standardised as the training set's: a grid of two columns.

    Row ``r`` of a window is drawn as ``(value - mean[r]) / std[r]``, with the per-coefficient mean and standard
    deviation of the training windows (the store's, what a globally standardised model sees). So a colour
    means the same in every panel and every row: red above that coefficient's usual value, blue below, white
    usual. Unstandardised, coefficient 0 (loudness) spans a range many times that of the others, and one
    colour scale flattens every other row to one colour.

    Parameters
    ----------
    windows : dict of str -> ndarray, shape (height, n_frames)
        One window per genre, in the order to draw.
    params : FeatureParams
    mean, std : array-like, shape (height,)
        Per-row statistics of the training windows.
    clip : float
        Colour range in standard deviations (values beyond are drawn at the end of the scale).
    title : str
    """
    mean = np.asarray(mean, dtype=np.float64).reshape(-1, 1)
    std = np.maximum(np.asarray(std, dtype=np.float64).reshape(-1, 1), 1e-12)
    names = list(windows)
    n_rows = max(1, math.ceil(len(names) / 2))
    fig, axes = plt.subplots(n_rows, 2, figsize=(11, 1.75 * n_rows + 0.7), sharex=True, sharey=True, squeeze=False,
                             layout="constrained")
    image = None
    for ax, name in zip(axes.flat, names):
        z = (np.asarray(windows[name], dtype=np.float64) - mean) / std
        seconds = z.shape[1] * params.hop_length / params.sample_rate
        image = ax.imshow(z, origin="lower", aspect="auto", cmap="RdBu_r", vmin=-clip, vmax=clip,
                          extent=(0, seconds, 0, z.shape[0]), interpolation="nearest")
        ax.set_title(name, fontsize=10)
    for ax in axes.flat[len(names):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("MFCC index" if params.kind == "mfcc" else "mel band", fontsize=9)
    for ax in axes[-1, :]:
        ax.set_xlabel("time (s)", fontsize=9)
    if image is not None:
        bar = fig.colorbar(image, ax=axes, fraction=0.025, pad=0.02)
        bar.set_label("standard deviations from the training mean of the row", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


@_detached
def mfcc_steps_figure(steps: dict, params) -> plt.Figure:
    """The stages of one window's MFCCs (:func:`genre_utils.features.mfcc_steps`), four panels left to right,
    top to bottom: power spectrogram, mel filter bank, log-mel spectrogram, MFCCs.

    Parameters
    ----------
    steps : dict of ndarray
        ``power``, ``filters``, ``decibels``, ``mfcc`` as :func:`~genre_utils.features.mfcc_steps` returns them.
    params : FeatureParams
    """
    seconds = steps["mfcc"].shape[1] * params.hop_length / params.sample_rate
    nyquist = params.sample_rate / 2
    fig, axes = plt.subplots(2, 2, figsize=(9.5, 5.6))
    power_db = 10 * np.log10(np.maximum(steps["power"], 1e-10))
    panels = [
        (axes[0, 0], power_db, "1. power spectrogram (dB)", (0, seconds, 0, nyquist / 1000), "frequency (kHz)"),
        (axes[1, 0], steps["decibels"], "3. log of the mel bands (dB, floor 80 dB down)",
         (0, seconds, 0, steps["decibels"].shape[0]), "mel band"),
        (axes[1, 1], steps["mfcc"], "4. DCT of each frame: the MFCCs", (0, seconds, 0, steps["mfcc"].shape[0]),
         "coefficient"),
    ]
    for ax, image, title, extent, ylabel in panels:
        shown = ax.imshow(image, origin="lower", aspect="auto", extent=extent, cmap="magma")
        ax.set_title(title, fontsize=9.5)
        ax.set_ylabel(ylabel, fontsize=8.5)
        ax.set_xlabel("time (s)", fontsize=8.5)
        fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.02)
    ax = axes[0, 1]
    freqs = np.linspace(0, nyquist / 1000, steps["filters"].shape[1])
    for k in range(0, steps["filters"].shape[0], 8):   # every eighth filter: the triangles widen with frequency
        ax.plot(freqs, steps["filters"][k], lw=1)
    ax.set_xlim(0, nyquist / 1000 / 2)
    ax.set_title("2. mel filter bank (every 8th of the triangles)", fontsize=9.5)
    ax.set_xlabel("frequency (kHz)", fontsize=8.5)
    ax.set_ylabel("weight", fontsize=8.5)
    fig.tight_layout()
    return fig


#: Colours of right and wrong answers in every figure (and in the interactive ones of :mod:`genre_utils.webplots`).
CORRECT_COLOR, WRONG_COLOR = "#2c7fb8", "#d95f02"


@_detached
def paper_recipe_curve(record: dict) -> plt.Figure:
    """The measured run of the paper's recipe (a :mod:`genre_utils.bench.paper_recipe` record) against epochs.

    Left: validation accuracy of every logged step with its 95 % Wilson band (n = validation windows)
    and chance (10 %). Right: the training loss averaged over the steps between two rows, and the
    validation loss.
    """
    log = record["step_log"]
    n = int(record["store"]["n_windows"]["valid"])
    epoch = np.array([row["epoch"] for row in log], dtype=float)
    acc = np.array([row["valid_acc"] for row in log], dtype=float)
    band = np.array([wilson_interval(round(a * n), n) for a in acc])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.3))
    ax1.fill_between(epoch, 100 * band[:, 0], 100 * band[:, 1], alpha=0.25, label="95 % interval")
    ax1.plot(epoch, 100 * acc, "s-", markersize=3, label=f"validation ({n:,} windows)")
    ax1.axhline(10, color="#888888", linestyle=":", linewidth=1, label="chance")
    ax1.set_ylim(0, max(40.0, float(np.nanmax(100 * band[:, 1])) + 5))
    ax1.set_ylabel("accuracy (%)")
    trained = [(row["epoch"], row["train_loss"]) for row in log if row["train_loss"] is not None]
    if trained:
        ax2.plot(*zip(*trained), "o-", markersize=3, label="training (mean since the last point)")
    ax2.plot(epoch, [row["valid_loss"] for row in log], "s-", markersize=3, label="validation")
    ax2.axhline(math.log(10), color="#888888", linestyle=":", linewidth=1, label="ln 10 (uniform guess)")
    ax2.set_ylabel("cross-entropy loss")
    for ax in (ax1, ax2):
        ax.set_xlabel(f"epoch (of {record['train_config']['epochs']}; "
                      f"{record['steps_per_epoch']:,} steps of {record['train_config']['batch_size']})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def crnn_diagrams(table: pd.DataFrame) -> tuple[plt.Figure, plt.Figure]:
    """The CRNN's convolutional part and its recurrent part as two layer stacks (the paper's Figures 2 and 3).

    ``table`` is :func:`genre_utils.models.describe` of the trained CRNN; its batch normalisations, which the
    paper does not have, are labelled so and drawn grey.
    """
    rows = table.copy()
    rows["layer"] = [f"{layer} (batch norm, not in the paper)" if kind.startswith("BatchNorm") else layer
                     for layer, kind in zip(rows["layer"], rows["type"])]
    cnn = rows[rows["layer"].str.match(r"^(input|standardize|conv|pool|bn)")]
    rnn = rows[rows["layer"].str.match(r"^(gru|fc|drop|output)")]
    return layer_diagram(cnn), layer_diagram(rnn)
