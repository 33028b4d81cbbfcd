"""Evaluation (paper sections 7-9): a model's predictions on the test windows and on whole files, scored with
:mod:`genre_utils.metrics` (vote, confusion matrices, per-genre tables, top-3 lines), and the ``results.json``
every run writes.

Levels of evaluation:

* **segment** - every 5-s window is classified on its own (the paper's 66.5 % test accuracy);
* **track** - a 30-s clip is cut into six consecutive 5-s windows and gets the genre most of them
  receive (:func:`~genre_utils.metrics.majority_vote`; the paper's 70 %);
* **file** - any audio file of any length, format, sampling rate and channel count goes through
  :func:`genre_utils.features.file_segments` and the same vote (:func:`evaluate_files`, used by
  ``genre-utils predict`` and the section-9 "new data" evaluation).

Confusion matrices have the true genre on the rows and the predicted genre on the columns.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .audio import AudioError
from .calibration import softmax
from .config import FeatureParams
from .features import file_segments
from .genres import GENRES
from .metrics import class_names, confusion, majority_vote, per_genre_table, prob_columns, top3_line
from .provenance import atomic_write_bytes, to_plain, versions
from .train import iter_logits

__all__ = [
    "predict_logits",
    "predict_proba",
    "evaluate_segments",
    "evaluate_files",
    "write_results",
]


def predict_proba(model: torch.nn.Module, X, batch_size: int = 256, device=None, precision: str = "fp32") -> np.ndarray:
    """Softmax class probabilities of every window (:func:`genre_utils.calibration.softmax` of
    :func:`predict_logits`, in float64).

    Parameters
    ----------
    model : nn.Module
        Returns logits of shape (B, n_classes).
    X : array-like, shape (N, height, frames)
        Features (float16/float32 array or memmap, read a slice at a time).
    batch_size : int
    device : str or torch.device, optional
        Default: where the model's parameters are.
    precision : {'fp32', 'bf16', 'fp16'}
        Arithmetic of the forward pass; a checkpoint's model is scored in
        :func:`~genre_utils.checkpoints.checkpoint_precision`.

    Returns
    -------
    probs : ndarray, shape (N, n_classes), float64
        Rows sum to 1.
    """
    return softmax(predict_logits(model, X, batch_size=batch_size, device=device, precision=precision))


def predict_logits(model: torch.nn.Module, X, batch_size: int = 256, device=None,
                   precision: str = "fp32") -> np.ndarray:
    """Raw logits (the model's outputs, as float32, in arithmetic ``precision``) of every window, as float64.

    :func:`predict_proba` is their softmax; :mod:`genre_utils.confidence` divides them by a temperature.

    Returns
    -------
    logits : ndarray, shape (N, n_classes), float64
    """
    chunks = [logits.double().numpy() for logits in iter_logits(model, X, batch_size, device, precision)]
    if not chunks:
        n_classes = getattr(getattr(model, "fc3", None), "out_features", len(GENRES))
        return np.zeros((0, n_classes))
    return np.concatenate(chunks)


def evaluate_segments(model: torch.nn.Module, X, y, track_ids, *, segment_ids=None, batch_size: int = 256,
                      device=None, genres=GENRES, precision: str = "fp32") -> dict:
    """Segment- and track-level evaluation of a test split (paper section 7).

    Parameters
    ----------
    model : nn.Module
    X : array-like, shape (N, height, frames)
        Test windows (e.g. the store's memmap); the segments of a track are its consecutive 5-s windows.
    y : array-like of int, shape (N,)
        True class of every window; all windows of a track must share it.
    track_ids : array-like, shape (N,)
        Track of every window.
    segment_ids : array-like, shape (N,), optional
        Window identifiers copied into the ``segments`` frame.
    batch_size : int
    device : str or torch.device, optional
    genres : sequence of str
    precision : {'fp32', 'bf16', 'fp16'}
        Arithmetic of the forward pass (:func:`predict_proba`).

    Returns
    -------
    results : dict
        ``n_segments``, ``n_tracks``, ``segment_accuracy``, ``track_accuracy`` (floats);
        ``segment_confusion``, ``track_confusion`` (count matrices, true x predicted);
        ``segment_per_genre``, ``track_per_genre`` (:func:`~genre_utils.metrics.per_genre_table`);
        ``segments`` (DataFrame per window: ``segment_id``, ``track_id``, ``y_true``, ``true_genre``,
        ``y_pred``, ``pred_genre``, ``correct``, ``prob_<genre>``);
        ``tracks`` (DataFrame per track: :func:`~genre_utils.metrics.majority_vote` columns plus ``y_true``,
        ``true_genre``, ``correct`` and ``line``, the :func:`~genre_utils.metrics.top3_line` of the mean probabilities).
    """
    y = np.asarray(y, dtype=np.int64)
    track_ids = np.asarray(track_ids)
    if not (len(X) == len(y) == len(track_ids)):
        raise ValueError(f"X, y and track_ids differ in length ({len(X)}, {len(y)}, {len(track_ids)})")
    probs = predict_proba(model, X, batch_size=batch_size, device=device, precision=precision)
    n_classes = probs.shape[1]
    names = class_names(n_classes, genres)
    pred = probs.argmax(axis=1)

    segments = pd.DataFrame({
        "segment_id": np.arange(len(y)) if segment_ids is None else np.asarray(segment_ids),
        "track_id": track_ids, "y_true": y, "true_genre": [names[k] for k in y],
        "y_pred": pred, "pred_genre": [names[k] for k in pred], "correct": pred == y,
    })
    segments = pd.concat([segments, pd.DataFrame(probs, columns=prob_columns(n_classes, genres))], axis=1)

    tracks = majority_vote(track_ids, probs, genres)
    labels = pd.Series(y).groupby(pd.factorize(track_ids, sort=False)[0])
    if (labels.nunique() > 1).any():
        bad = tracks["track_id"][(labels.nunique() > 1).to_numpy()].tolist()[:5]
        raise ValueError(f"tracks with segments of different labels: {bad}")
    track_true = labels.first().to_numpy()
    tracks.insert(1, "y_true", track_true)
    tracks.insert(2, "true_genre", [names[k] for k in track_true])
    tracks["correct"] = tracks["pred"].to_numpy() == track_true
    mean_probs = tracks[prob_columns(n_classes, genres)].to_numpy()
    tracks["line"] = [top3_line(t, p, genres=genres) for t, p in zip(tracks["true_genre"], mean_probs)]

    return {
        "n_segments": int(len(y)),
        "n_tracks": int(len(tracks)),
        "segment_accuracy": float(np.mean(pred == y)) if len(y) else math.nan,
        "track_accuracy": float(tracks["correct"].mean()) if len(tracks) else math.nan,
        "segment_confusion": confusion(y, pred, n_classes),
        "track_confusion": confusion(track_true, tracks["pred"].to_numpy(), n_classes),
        "segment_per_genre": per_genre_table(y, pred, n_classes, genres),
        "track_per_genre": per_genre_table(track_true, tracks["pred"].to_numpy(), n_classes, genres),
        "segments": segments,
        "tracks": tracks,
    }


def evaluate_files(model: torch.nn.Module, paths, params: FeatureParams = FeatureParams(), labels=None, *,
                   max_segments: int | None = None, batch_size: int = 64, device=None, k: int | None = 3,
                   progress: bool = True, genres=GENRES, temperature: float | None = None,
                   precision: str = "fp32") -> pd.DataFrame:
    """Predict the genre of whole audio files by majority vote over their 5-s windows (paper section 9).

    Every file is decoded (any format :func:`genre_utils.audio.load_audio` reads, any sampling rate and
    channel count), cut into consecutive 5-s windows, turned into features with the same ``params`` as the
    training data, classified window by window and voted on (:func:`~genre_utils.metrics.majority_vote`, same tie rule).
    A file that cannot be used (unreadable, empty, silent, shorter than 4.5 s: the
    :class:`~genre_utils.audio.AudioError` message; any other failure while decoding or extracting
    features: ``failed: <exception>``) gets a row with its ``error`` filled and no prediction; the other
    files are unaffected.

    Parameters
    ----------
    model : nn.Module
        Trained on features of shape ``params.shape``.
    paths : sequence of path-like
    params : FeatureParams
        Feature parameters of the training data (the checkpoint's config records them).
    labels : sequence of (str or None), optional
        True genre of each file (a name from ``genres``), e.g. from a ``<dir>/<genre>/<file>`` folder.
    max_segments : int, optional
        Use only the first windows of each file (6 for the paper's 30-s pieces); default all.
    batch_size : int
    device : str or torch.device, optional
    k : int or None
        Entries of the top-k line (:func:`~genre_utils.metrics.top3_line`).
    progress : bool
        tqdm bar over the files.
    genres : sequence of str
    temperature : float, optional
        When given, a ``confidence`` column is added: the largest of the file's mean window probabilities
        after dividing the logits by ``temperature`` (:mod:`genre_utils.confidence`; NaN on error). The
        prediction, ``top3`` and ``line`` stay the model's own probabilities.
    precision : {'fp32', 'bf16', 'fp16'}
        Arithmetic of the forward pass (:func:`predict_proba`).

    Returns
    -------
    table : DataFrame
        One row per path, in order: ``path``, ``label`` (or None), ``n_segments``, ``pred`` (nullable
        int), ``pred_genre``, ``correct`` (nullable bool; NA without a label or a prediction), ``tied``,
        ``top3`` (``genre:prob`` entries of the mean probabilities), ``line`` (``label: top3`` when
        labelled, else ``top3``; empty on error), ``error`` (empty string when fine) and
        ``prob_<genre>`` (and ``confidence`` with a ``temperature``).
    """
    from tqdm.auto import tqdm

    paths = [Path(p) for p in paths]
    labels = [None] * len(paths) if labels is None else list(labels)
    if len(labels) != len(paths):
        raise ValueError(f"{len(labels)} labels for {len(paths)} paths")
    unknown = sorted({lab for lab in labels if lab is not None and lab not in genres})
    if unknown:
        raise ValueError(f"labels not among the genres: {unknown}")
    model_shape = getattr(model, "input_shape", None)
    if model_shape is not None and tuple(model_shape) != tuple(params.shape):
        raise ValueError(f"model expects features of shape {tuple(model_shape)}, params give {params.shape}")
    n_classes = len(genres)
    prob_cols = prob_columns(n_classes, genres)

    rows = []
    for path, label in tqdm(list(zip(paths, labels)), desc="files", unit="file", disable=not progress):
        row = {"path": str(path), "label": label, "n_segments": 0, "pred": pd.NA, "pred_genre": None,
               "correct": pd.NA, "tied": pd.NA, "top3": "", "line": "", "error": ""}
        if temperature is not None:
            row["confidence"] = math.nan
        try:
            feats, _ = file_segments(path, params, max_segments=max_segments)
        except AudioError as err:
            row["error"] = str(err)
            rows.append(row)
            continue
        except Exception as err:  # a decoder/feature failure AudioError does not cover: record it, go on
            row["error"] = f"failed: {type(err).__name__}: {err}"[:240]
            rows.append(row)
            continue
        logits = predict_logits(model, feats, batch_size=batch_size, device=device, precision=precision)
        if not np.all(np.isfinite(logits)):  # never a "genre:nan" line: the file's row says why instead
            row["error"] = "the model's output for this file is not finite (features out of range)"
            rows.append(row)
            continue
        probs = softmax(logits)
        if temperature is not None:
            row["confidence"] = float(softmax(logits, temperature).mean(axis=0).max())
        vote = majority_vote(np.zeros(len(probs), dtype=np.int64), probs, genres).iloc[0]
        mean_probs = vote[prob_cols].to_numpy(dtype=np.float64)
        top = top3_line(None, mean_probs, k=k, genres=genres)
        row.update({"n_segments": int(vote["n_segments"]), "pred": int(vote["pred"]),
                    "pred_genre": vote["pred_genre"], "tied": bool(vote["tied"]), "top3": top,
                    "line": top if label is None else f"{label}: {top}",
                    "correct": pd.NA if label is None else vote["pred_genre"] == label})
        row.update(zip(prob_cols, mean_probs))
        rows.append(row)

    table = pd.DataFrame(rows, columns=["path", "label", "n_segments", "pred", "pred_genre", "correct",
                                        "tied", "top3", "line", "error", *prob_cols]
                         + (["confidence"] if temperature is not None else []))
    table["pred"] = table["pred"].astype("Int64")
    table["correct"] = table["correct"].astype("boolean")
    table["tied"] = table["tied"].astype("boolean")
    return table


def write_results(path, results: dict) -> Path:
    """Write a run's results as strict JSON, atomically, with :func:`~genre_utils.provenance.versions` as ``versions``.

    numpy arrays and tensors become lists, numpy scalars numbers, DataFrames lists of records (a named
    index such as ``genre`` becomes a column), NaN/inf and missing values ``null``.

    Parameters
    ----------
    path : path-like
        Usually ``<run>/results.json``.
    results : dict

    Returns
    -------
    path : Path
    """
    path = Path(path)
    payload = to_plain({**results, "versions": versions()}, nan_to_none=True)
    text = json.dumps(payload, indent=2, allow_nan=False, ensure_ascii=False) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"))
    return path
