"""What the model listened to: saliency maps over the MFCC image of a clip.

A saliency map has one value per cell of the model's input (MFCC coefficient x time frame, the ``(64, 235)``
image of one 5-s window) and says how much that cell pushed the model towards one genre (by default the
genre it predicted). Two methods:

:func:`occlusion`
    Hide one small rectangle of the image at a time (a few coefficients x a fraction of a second), replacing
    its values by the window's mean of each coefficient, and measure how much the probability of the genre
    drops. A cell's saliency is the average drop over the rectangles that covered it. Positive: hiding it
    lowers the probability (the model used it as evidence for the genre); negative: hiding it raises the
    probability (it spoke against the genre).
:func:`gradient_x_input`
    One backward pass: the gradient of the genre's log-probability with respect to the input, times the
    input's distance from the same per-coefficient mean. A first-order (linear) estimate of the occlusion
    result for single cells, much cheaper, noisier.

Limits, in one sentence a student can keep in mind: a saliency map shows where changing the input would
change this model's answer for this clip, not what in the music a person would call the genre, and
occlusion depends on the patch size and on what replaces the hidden patch (here the window's mean), so
read it as "the model relied on roughly this region", never as a proof of why.

Time runs along the columns exactly as in the feature images of the book: frame ``k`` starts at
``k * hop_length / sample_rate`` seconds of the window (:func:`frame_seconds`), so a map can be drawn with
the same ``extent`` as :func:`genre_utils.plots.draw_features` and lined up with the audio.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from .dataset import track_windows
from .devices import model_device
from .plots import feature_range, figure_png
from .results import RunResults, load_results
from .train import load_checkpoint

__all__ = ["occlusion", "gradient_x_input", "gradient_x_input_batch", "saliency", "clip_saliency", "frame_seconds",
           "draw_saliency", "saliency_png", "saliency_examples", "saliency_figure", "as_model"]

#: Readable names of the methods.
METHOD_NAMES = {"occlusion": "occlusion", "gradient": "gradient x input", "gradient_x_input": "gradient x input"}

#: Default occlusion patch (coefficients, frames): 8 MFCCs x 20 frames (about 0.43 s at hop 470, 22,050 Hz).
PATCH = (8, 20)
#: Default step between patches (half a patch: every cell is covered by up to 4 patches).
STRIDE = (4, 10)


def _as_batch(x: np.ndarray, device) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(x, dtype=np.float32), device=device)


@torch.no_grad()
def _probs(model, X: np.ndarray, batch_size: int) -> np.ndarray:
    device = model_device(model)
    out = []
    for start in range(0, len(X), batch_size):
        logits = model(_as_batch(X[start:start + batch_size], device))
        out.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
    return np.concatenate(out)


def _positions(size: int, patch: int, stride: int) -> list[int]:
    """Start indices of the patches along one axis, the last one flush with the end (every cell covered)."""
    patch = min(patch, size)
    starts = list(range(0, size - patch + 1, max(1, stride)))
    if starts[-1] != size - patch:
        starts.append(size - patch)
    return starts


def _check_window(window) -> np.ndarray:
    x = np.asarray(window, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"expected one window of shape (height, n_frames), got shape {x.shape}")
    return x


def _target(model, x: np.ndarray, target) -> int:
    if target is None:
        return int(np.argmax(_probs(model, x[None], 1)[0]))
    return int(target)


def occlusion(model, window, target: int | None = None, patch=PATCH, stride=STRIDE,
              batch_size: int = 64) -> np.ndarray:
    """Occlusion saliency of one window: the drop of the genre's probability when a patch is hidden.

    Parameters
    ----------
    model : torch.nn.Module
        Takes ``(B, height, n_frames)`` windows, returns logits ``(B, n_classes)`` (any model of
        :mod:`genre_utils.models`); put it in eval mode first (:func:`genre_utils.train.load_checkpoint` does).
    window : ndarray, shape (height, n_frames)
        One window of raw features, as the store holds them (the model standardises them itself).
    target : int, optional
        Class index; default: the class the model predicts for the window.
    patch : (int, int)
        Patch size (coefficients, frames).
    stride : (int, int)
        Step between patches; patches overlap when it is smaller than ``patch``.
    batch_size : int
        Occluded copies per forward pass.

    Returns
    -------
    saliency : ndarray, shape (height, n_frames), float32
        For each cell, the mean over the patches that cover it of ``p(target | window) - p(target | window
        with the patch replaced by each coefficient's mean over the window)``. Positive: evidence for the
        target genre.
    """
    x = _check_window(window)
    height, frames = x.shape
    target = _target(model, x, target)
    fill = np.broadcast_to(x.mean(axis=1, keepdims=True), x.shape)
    boxes = [(r, c) for r in _positions(height, patch[0], stride[0]) for c in _positions(frames, patch[1], stride[1])]
    ph, pw = min(patch[0], height), min(patch[1], frames)
    base = _probs(model, x[None], 1)[0, target]
    total = np.zeros_like(x, dtype=np.float64)
    count = np.zeros_like(x, dtype=np.float64)
    for start in range(0, len(boxes), batch_size):
        chunk = boxes[start:start + batch_size]
        batch = np.repeat(x[None], len(chunk), axis=0)
        for k, (r, c) in enumerate(chunk):
            batch[k, r:r + ph, c:c + pw] = fill[r:r + ph, c:c + pw]
        drops = base - _probs(model, batch, batch_size)[:, target]
        for (r, c), d in zip(chunk, drops):
            total[r:r + ph, c:c + pw] += d
            count[r:r + ph, c:c + pw] += 1
    return (total / np.maximum(count, 1)).astype(np.float32)


@contextlib.contextmanager
def _gradients_in_eval_mode(model):
    """cuDNN's GRU has no backward pass in eval mode: run the gradient with cuDNN off (CPU is unaffected)."""
    if model_device(model).type == "cuda":
        with torch.backends.cudnn.flags(enabled=False):
            yield
    else:
        yield


def gradient_x_input(model, window, target: int | None = None) -> np.ndarray:
    """Gradient x input saliency of one window.

    ``d log p(target) / d x`` times ``x - mean``, where ``mean`` is each coefficient's mean over the window
    (the same reference as :func:`occlusion`'s filling), so a cell at its row's mean gets 0.

    Parameters
    ----------
    model : torch.nn.Module
    window : ndarray, shape (height, n_frames)
    target : int, optional
        Class index; default: the predicted class.

    Returns
    -------
    saliency : ndarray, shape (height, n_frames), float32
    """
    x = _check_window(window)
    return gradient_x_input_batch(model, x[None], [_target(model, x, target)])[0]


def gradient_x_input_batch(model, windows, targets, batch_size: int = 32) -> np.ndarray:
    """:func:`gradient_x_input` of many windows, ``batch_size`` windows per forward and backward pass.

    The windows do not interact in an eval-mode model, so the gradient of the summed log-probabilities gives
    each window its own gradient; a batch of 32 costs about as much as two single windows on a CPU (the
    passes are dominated by reading the weights), which is what makes saliency for tens of tracks cheap.

    Parameters
    ----------
    model : torch.nn.Module
    windows : ndarray, shape (n, height, n_frames)
    targets : sequence of int, length n
        The class of each window's map.
    batch_size : int

    Returns
    -------
    saliency : ndarray, shape (n, height, n_frames), float32
    """
    X = np.asarray(windows, dtype=np.float32)
    if X.ndim != 3 or len(targets) != len(X):
        raise ValueError(f"expected windows (n, height, n_frames) and n targets, got {X.shape} and {len(targets)}")
    device = model_device(model)
    out = []
    for start in range(0, len(X), batch_size):
        x = X[start:start + batch_size]
        t = torch.as_tensor(np.asarray(targets[start:start + batch_size], dtype=np.int64), device=device)
        inp = _as_batch(x, device).requires_grad_(True)
        with torch.enable_grad(), _gradients_in_eval_mode(model):
            logp = torch.log_softmax(model(inp).float(), dim=1).gather(1, t[:, None]).sum()
            (grad,) = torch.autograd.grad(logp, inp)
        out.append(grad.detach().cpu().numpy() * (x - x.mean(axis=2, keepdims=True)))
    return np.concatenate(out).astype(np.float32) if out else np.zeros_like(X)


def saliency(model, window, method: str = "occlusion", target: int | None = None, **kwargs) -> np.ndarray:
    """:func:`occlusion` (``method="occlusion"``) or :func:`gradient_x_input` (``"gradient"``) of one window."""
    if method == "occlusion":
        return occlusion(model, window, target, **kwargs)
    if method in ("gradient", "gradient_x_input"):
        return gradient_x_input(model, window, target)
    raise ValueError(f"unknown saliency method {method!r} (occlusion or gradient)")


def clip_saliency(model, windows, method: str = "occlusion", target: int | None = None, **kwargs) -> np.ndarray:
    """Saliency of consecutive windows of a clip, side by side (the layout of the explorer's feature image).

    Parameters
    ----------
    windows : ndarray, shape (n_windows, height, n_frames) or (height, n_frames)
    target : int, optional
        One class for every window (e.g. the clip's majority-vote prediction); default: the class the model
        predicts from the windows' summed probabilities.

    Returns
    -------
    saliency : ndarray, shape (height, n_windows * n_frames), float32
    """
    W = np.asarray(windows, dtype=np.float32)
    if W.ndim == 2:
        W = W[None]
    if target is None:
        target = int(np.argmax(_probs(model, W, 64).sum(axis=0)))
    if method in ("gradient", "gradient_x_input"):  # one pass for all the windows
        return np.concatenate(list(gradient_x_input_batch(model, W, [target] * len(W))), axis=1)
    return np.concatenate([saliency(model, w, method, target, **kwargs) for w in W], axis=1)


def frame_seconds(params, n_frames: int) -> np.ndarray:
    """Start time in seconds of each column of a feature (or saliency) image: ``k * hop / rate``."""
    return np.arange(int(n_frames)) * params.hop_length / params.sample_rate


def draw_saliency(ax, sal: np.ndarray, params, features: np.ndarray | None = None, title: str = "",
                  colorbar: bool = True, limit: float | None = None):
    """Draw a saliency map on ``ax`` with time in seconds (same extent as the book's feature images).

    Red cells pushed the model towards the genre, blue ones away from it; the colour scale is symmetric
    around 0, from ``-limit`` to ``limit`` (default: the largest magnitude; cells beyond it are drawn at the
    end of the scale, which the colour bar's pointed ends then say). With ``features`` the MFCC image is
    drawn faintly underneath in grey.
    """
    sal = np.asarray(sal, dtype=np.float32)
    seconds = sal.shape[1] * params.hop_length / params.sample_rate
    extent = (0, seconds, 0, sal.shape[0])
    if features is not None:
        f = np.asarray(features, dtype=np.float32)
        lo, hi = feature_range(f, params)
        ax.imshow(f, origin="lower", aspect="auto", cmap="gray", vmin=lo, vmax=hi, extent=extent,
                  interpolation="nearest")
    top = float(np.max(np.abs(sal)))
    lim = (limit if limit and limit < top else top) or 1.0
    im = ax.imshow(sal, origin="lower", aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim, extent=extent,
                   interpolation="nearest", alpha=0.75 if features is not None else 1.0)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("MFCC index" if params.kind == "mfcc" else "mel band")
    if title:
        ax.set_title(title, fontsize=9)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, fraction=0.04, label="saliency", extend="both" if lim < top else "neither")
    return im


def saliency_png(sal: np.ndarray, params, features=None, title: str = "", dpi: int = 72) -> bytes:
    """A saliency map as a small PNG (same size and time axis as :func:`genre_utils.widgets.feature_png`)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 2.4), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    draw_saliency(ax, sal, params, features, title)
    fig.tight_layout(pad=0.4)
    return figure_png(fig)


def as_model(model):
    """A model, a run folder or a checkpoint path -> a model in eval mode on the CPU (None stays None)."""
    if model is None or hasattr(model, "forward"):
        return model
    return load_checkpoint(model, device="cpu")[0]


def saliency_examples(results: RunResults, seed: int = 0):
    """One correct and one misclassified test track per genre (the most confident of each), or None.

    Returns
    -------
    picks : list of (genre, kind, record or None)
        ``kind`` is ``"correct"`` or ``"wrong"``; genres in the run's class order.
    """
    genres = results.genres
    table = results.error_table()
    records = {str(r["track_id"]): r for r in results.tracks.to_dict("records")}
    picks = []
    for g in genres:
        rows = table[table["true_genre"] == g].sort_values("confidence", ascending=False, kind="stable")
        for kind, part in (("correct", rows[rows["correct"]]), ("wrong", rows[~rows["correct"]])):
            picks.append((g, kind, records[part["track_id"].iloc[0]] if len(part) else None))
    return picks


def saliency_figure(run_dir, dataset, results: RunResults | None = None, method: str = "occlusion", device=None,
                    stride=PATCH):
    """Static figure: saliency of one correct and one misclassified test clip per genre (first window each).

    Parameters
    ----------
    run_dir : path-like
        A run folder (``best.pt`` and ``results.json``).
    dataset : genre_utils.dataset.Dataset
        The store the run was evaluated on (the windows the model saw).
    results : RunResults, optional
        The run's results (default: read from ``run_dir``).
    method : str
        ``"occlusion"`` or ``"gradient"``.
    device : str, optional
    stride : (int, int)
        Occlusion's step between patches; the default, the patch itself, hides non-overlapping patches (about
        100 forward passes a window, a quarter of the overlapping default of :func:`occlusion`), which keeps
        twenty windows affordable in a book build.

    Returns
    -------
    fig : matplotlib Figure
        Closed in pyplot (shown once when it is a cell's value). One row per genre, two panels: the clip's
        first 5-s window, MFCC image in grey with the saliency for the *predicted* genre over it.
    """
    import matplotlib.pyplot as plt

    results = results if results is not None else load_results(run_dir)
    model, _ = load_checkpoint(run_dir, device=device)
    picks = saliency_examples(results)
    genres = results.genres
    n_rows = len(picks) // 2
    fig, axes = plt.subplots(n_rows, 2, figsize=(11, 1.9 * n_rows + 0.6), squeeze=False)
    for k, (genre, kind, record) in enumerate(picks):
        ax = axes[k // 2, k % 2]
        windows = None if record is None else track_windows(dataset, str(record["track_id"]), 1)
        if windows is None:
            ax.axis("off")
            ax.text(0.5, 0.5, f"{genre}: no {'correctly' if kind == 'correct' else 'wrongly'} classified test clip",
                    ha="center", va="center", fontsize=9, transform=ax.transAxes)
            continue
        target = genres.index(record["pred_genre"]) if record["pred_genre"] in genres else None
        sal = saliency(model, windows[0], method, target, **({"stride": stride} if method == "occlusion" else {}))
        mark = "correct" if kind == "correct" else "wrong"
        draw_saliency(ax, sal, dataset.params, windows[0], colorbar=False,
                      title=f"{record['track_id']} ({mark}): true {genre}, predicted {record['pred_genre']}")
        if k // 2 != n_rows - 1:
            ax.set_xlabel("")
    fig.suptitle(f"What the model listened to ({method}): red = evidence for the predicted genre, "
                 "blue = against it", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.45 / fig.get_figheight()))
    plt.close(fig)
    return fig
