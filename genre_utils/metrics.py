"""Scoring predictions, without a model: majority vote, confusion matrices, per-genre tables, top-3 lines.

Arrays in, arrays (or frames) out; no torch. :mod:`genre_utils.evaluate` runs a model and scores its outputs
with these functions; :class:`genre_utils.results.RunResults` recomputes a run's tables from its stored
predictions with the same ones.

Confusion matrices have the true genre on the rows and the predicted genre on the columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .genres import GENRES

__all__ = ["class_names", "prob_columns", "majority_vote", "confusion", "row_normalise", "per_genre_table",
           "top3_line"]


def prob_columns(n_classes: int, genres=GENRES) -> list[str]:
    """Column names ``prob_<genre>`` of ``n_classes`` class probabilities."""
    return [f"prob_{g}" for g in class_names(n_classes, genres)]


def class_names(n_classes: int, genres=GENRES) -> list[str]:
    """The genre names of ``n_classes`` classes (``'0'``, ``'1'``, ... when ``genres`` has another length)."""
    return list(genres) if len(genres) == n_classes else [str(k) for k in range(n_classes)]


def majority_vote(track_ids, probs, genres=GENRES) -> pd.DataFrame:
    """Track-level prediction: the genre most of the track's segments are assigned.

    Each segment votes for its most probable genre (argmax). The track gets the genre with the most
    votes. **Tie rule:** when several genres share the most votes (e.g. 3-3, or 2-2-2 of six segments),
    the one among them with the highest probability summed over the track's segments wins; if even those
    sums are exactly equal, the lowest class index wins.

    Parameters
    ----------
    track_ids : array-like, shape (N,)
        Track of every segment (any hashable values; segments of a track need not be adjacent).
    probs : array-like, shape (N, n_classes)
        Per-segment class probabilities (:func:`predict_proba`).
    genres : sequence of str
        Class names (column suffixes).

    Returns
    -------
    tracks : DataFrame
        One row per track in order of first appearance: ``track_id``, ``n_segments``, ``pred`` (class
        index), ``pred_genre``, ``tied`` (True when the tie rule decided), ``votes_<genre>`` (segments
        voting for each genre) and ``prob_<genre>`` (mean probability over the track's segments).
    """
    probs = np.asarray(probs, dtype=np.float64)
    track_ids = np.asarray(track_ids)
    if probs.ndim != 2 or len(probs) != len(track_ids):
        raise ValueError(f"probs must have shape (len(track_ids), n_classes), got {probs.shape} for "
                         f"{len(track_ids)} track ids")
    n_classes = probs.shape[1]
    codes, uniques = pd.factorize(track_ids, sort=False)
    n_tracks = len(uniques)
    votes = np.zeros((n_tracks, n_classes), dtype=np.int64)
    np.add.at(votes, (codes, probs.argmax(axis=1)), 1)
    prob_sums = np.zeros((n_tracks, n_classes))
    np.add.at(prob_sums, codes, probs)
    n_segments = np.bincount(codes, minlength=n_tracks)

    top = votes == votes.max(axis=1, keepdims=True)
    pred = np.where(top, prob_sums, -np.inf).argmax(axis=1)
    names = class_names(n_classes, genres)
    table = pd.DataFrame({"track_id": uniques, "n_segments": n_segments, "pred": pred,
                          "pred_genre": [names[k] for k in pred], "tied": top.sum(axis=1) > 1})
    votes_frame = pd.DataFrame(votes, columns=[f"votes_{g}" for g in names])
    probs_frame = pd.DataFrame(prob_sums / np.maximum(n_segments, 1)[:, None], columns=prob_columns(n_classes, genres))
    return pd.concat([table, votes_frame, probs_frame], axis=1)


def confusion(y_true, y_pred, n_classes: int = 10) -> np.ndarray:
    """Confusion matrix of counts: ``cm[i, j]`` = items of true class i predicted as class j.

    Returns
    -------
    cm : ndarray, shape (n_classes, n_classes), int64
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError("y_true and y_pred must have the same length")
    if y_true.size and (min(y_true.min(), y_pred.min()) < 0 or max(y_true.max(), y_pred.max()) >= n_classes):
        raise ValueError(f"class indices must lie in [0, {n_classes})")
    return np.bincount(y_true * n_classes + y_pred, minlength=n_classes ** 2).reshape(n_classes, n_classes)


def row_normalise(cm) -> np.ndarray:
    """Divide each row of a confusion matrix by its sum: row i = where the items of true class i went.

    The diagonal is then the per-genre accuracy. Rows without any item are NaN (no data, not 0 %).
    """
    cm = np.asarray(cm, dtype=np.float64)
    totals = cm.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, cm / np.where(totals > 0, totals, 1), np.nan)


def per_genre_table(y_true, y_pred, n_classes: int = 10, genres=GENRES) -> pd.DataFrame:
    """Per-genre accuracy, precision and the two "false positive" rates.

    For genre g, with TP = items of g predicted as g, FN = items of g predicted as something else,
    FP = items of other genres predicted as g, TN = the rest:

    ``accuracy`` = TP / (TP + FN)
        What the paper calls the accuracy of a genre (a.k.a. recall): the diagonal of the row-normalised
        confusion matrix (pop: 31.2 % = 5 of 16 songs).
    ``precision`` = TP / (TP + FP)
        Share of the items predicted as g that are g.
    ``false_discovery_rate`` = FP / (TP + FP) = 1 - precision
        Share of the items predicted as g that are *not* g. This is the reading adopted for the paper's
        pop "false positive rate" of 64.3 %: with 16 pop songs and 5 of them right, 64.3 % is exactly
        9 / 14 - 14 songs predicted as pop, 9 of them wrongly. It answers "when the model says pop, how
        often is it wrong?".
    ``false_positive_rate`` = FP / (FP + TN)
        The textbook false positive rate: share of the items of the *other* genres predicted as g. For
        the paper's pop numbers it would be 9 / 144 = 6.2 %.

    Undefined ratios (no items of g, or nothing predicted as g) are NaN.

    Parameters
    ----------
    y_true, y_pred : array-like of int, shape (N,)
    n_classes : int
    genres : sequence of str

    Returns
    -------
    table : DataFrame, index ``genre``
        Columns ``support`` (TP + FN), ``n_predicted`` (TP + FP), ``correct`` (TP), ``accuracy``,
        ``precision``, ``false_discovery_rate``, ``false_positive_rate``.
    """
    cm = confusion(y_true, y_pred, n_classes)
    tp = np.diag(cm).astype(np.float64)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    fp = predicted - tp
    negatives = cm.sum() - support

    def ratio(num, den):
        den = np.asarray(den, dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)

    table = pd.DataFrame({
        "support": support,
        "n_predicted": predicted,
        "correct": np.diag(cm),
        "accuracy": ratio(tp, support),
        "precision": ratio(tp, predicted),
        "false_discovery_rate": ratio(fp, predicted),
        "false_positive_rate": ratio(fp, negatives),
    }, index=pd.Index(class_names(n_classes, genres), name="genre"))
    return table


def top3_line(true_label, probs, k: int | None = 3, genres=GENRES) -> str:
    """One prediction line in the paper's format: ``jazz: jazz:0.86 classical:0.12 country:0.01``.

    The true label, a colon, then the most probable genres in decreasing order as ``genre:probability``
    with two decimals. Genres whose probability rounds to 0.00 are left out, as in the paper's Figures
    9 and 11, which show three entries, not padding with ``:0.00``. The paper's Figure 10
    (``blues: country:0.52 jazz:0.22 blues:0.22 pop:0.04``) shows four entries - every genre that does
    not round to 0 - so despite the figures' "top-3" the paper's rule may have been "all non-zero";
    ``k=None`` gives that form.

    Parameters
    ----------
    true_label : str, int or None
        Genre name, class index, or any text (e.g. a file name); None leaves out the ``label:`` prefix.
    probs : array-like, shape (n_classes,)
        Class probabilities (for a track: the mean over its segments).
    k : int or None
        Most entries to show; None for all that do not round to 0.00.
    genres : sequence of str

    Returns
    -------
    line : str
    """
    probs = np.asarray(probs, dtype=np.float64)
    names = class_names(len(probs), genres)
    order = np.argsort(-probs, kind="stable")
    if k is not None:
        order = order[:k]
    parts = [f"{names[i]}:{probs[i]:.2f}" for i in order if round(float(probs[i]), 2) > 0]
    if not parts:   # degenerate: nothing rounds above 0 - still show the argmax
        parts = [f"{names[order[0]]}:{probs[order[0]]:.2f}"]
    body = " ".join(parts)
    if true_label is None:
        return body
    if isinstance(true_label, (int, np.integer)):
        true_label = names[int(true_label)]
    return f"{true_label}: {body}"
