"""The mathematics of a model that says when it does not know: calibration, an "unknown" score, a threshold.

Two questions about the probabilities the classifier prints (``jazz:0.86 ...``):

1. **Are they calibrated?** Of all predictions made with confidence about 0.8, are about 80 % right?
   :func:`reliability_table` sorts the test items into ``n_bins`` equal-width bins of their top-1
   probability (default :data:`N_BINS` = 10) and compares each bin's mean confidence with its accuracy;
   :func:`expected_calibration_error` (ECE) is the item-weighted mean gap. *Temperature scaling*
   (Guo et al. 2017) divides every logit by one scalar ``T`` fitted on the **validation** windows by
   minimising the negative log-likelihood (:func:`fit_temperature`); ``T > 1`` softens an over-confident
   model, ``T < 1`` sharpens an under-confident one, and the predicted genre (the arg max) never changes.
   Track probabilities are the mean of the track's window probabilities, as ``genre-utils predict``
   shows them; the track's top-1 prediction here is the arg max of that mean.

2. **Does it notice music of a genre it was not trained on?** The *unknown score* of a track is one minus
   its calibrated confidence: the maximum of its mean temperature-scaled window probabilities (the
   *maximum softmax probability*, MSP, of Hendrycks & Gimpel 2017). It is chosen over the two usual
   alternatives because

   * it needs nothing but the probabilities the run already stores and ``predict`` already computes, so
     the book reuses the run's test predictions instead of recomputing them, and the threshold reads as
     a plain confidence ("below 0.42 the model says it does not know");
   * the *energy* score ``-T logsumexp(logits / T)`` (Liu et al. 2020) needs the raw logits, which the
     stored probabilities do not keep (``log p`` is the logit only up to a per-window constant, exactly the
     part energy depends on), and it gains over MSP mainly for large, well-trained models;
     :func:`energy_score` is provided for comparison;
   * a penultimate-layer distance (Mahalanobis, Lee et al. 2018) needs class means and a covariance of a
     high-dimensional embedding estimated from the training windows (200 at the ``tiny`` profile, 2,000
     at ``quick``: too few for a stable covariance) and hooks into the model's internals.

   The threshold is set on the validation tracks (decoded like ``predict`` decodes a file) so that 95 %
   of them are accepted (:func:`recall_threshold`); a file whose confidence falls below it is flagged
   "outside what this model was trained on". How well the score separates tracks of genres outside the
   ten from in-genre test tracks is the AUROC (:func:`auroc`, with :func:`bootstrap_auroc`'s 95 %
   interval, both groups resampled).

These are functions of arrays only (probabilities, logits, labels); :mod:`genre_utils.confidence` applies
them to a trained run.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = [
    "N_BINS", "RECALL", "softmax", "logits_from_probs", "nll", "fit_temperature", "track_nll",
    "fit_track_temperature", "track_level", "track_mean_probs",
    "reliability_table", "expected_calibration_error", "msp_confidence", "energy_score", "auroc",
    "bootstrap_auroc", "recall_threshold",
]

#: Equal-width confidence bins of the reliability diagram and the ECE.
N_BINS = 10
#: Share of in-genre validation tracks the unknown threshold accepts.
RECALL = 0.95


# ----------------------------------------------------------------------------------------------------
# probabilities and temperature


def softmax(logits, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature`` (float64, numerically stable).

    Parameters
    ----------
    logits : array-like, shape (N, n_classes)
    temperature : float
        ``T > 0``; 1 gives the model's own probabilities.

    Returns
    -------
    probs : ndarray, shape (N, n_classes)
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def logits_from_probs(probs, floor: float = 1e-300) -> np.ndarray:
    """Logits equivalent to stored probabilities: ``log p`` (floored so that a 0 gives a finite value).

    ``log p`` differs from the model's logits by one constant per row, which neither the softmax nor
    temperature scaling sees: ``softmax(log p / T) == softmax(logits / T)``. So a run's stored window
    probabilities are enough to fit and apply a temperature (not to compute an energy score).
    """
    return np.log(np.maximum(np.asarray(probs, dtype=np.float64), floor))


def nll(logits, labels, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of ``labels`` under ``softmax(logits / temperature)`` (nats)."""
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) == 0:
        return math.nan
    m = z.max(axis=1, keepdims=True)
    lse = (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))[:, 0]
    return float(np.mean(lse - z[np.arange(len(labels)), labels]))


def fit_temperature(logits, labels, bounds: tuple[float, float] = (0.05, 20.0)) -> float:
    """The temperature ``T`` minimising the NLL of ``labels`` (one scalar; Guo et al. 2017).

    A bounded scalar search (Brent) over ``log T``: the NLL is convex in ``1/T``, so it has one minimum;
    ``bounds`` only keeps a degenerate set (all right with huge margins, or a single class) finite.

    Parameters
    ----------
    logits : array-like, shape (N, n_classes)
        Validation logits (or :func:`logits_from_probs` of validation probabilities).
    labels : array-like of int, shape (N,)
    bounds : (float, float)

    Returns
    -------
    T : float
        1.0 when there is nothing to fit on (no items).
    """
    from scipy.optimize import minimize_scalar

    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) == 0:
        return 1.0
    lo, hi = math.log(bounds[0]), math.log(bounds[1])
    res = minimize_scalar(lambda s: nll(logits, labels, math.exp(s)), bounds=(lo, hi), method="bounded",
                          options={"xatol": 1e-5})
    return float(math.exp(res.x))


def track_nll(logits, labels, track_ids, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of each track's label under its mean window probabilities (nats).

    A track's probabilities are the mean of ``softmax(logits / temperature)`` over its windows, as
    ``genre-utils predict`` computes them for a file (:func:`track_mean_probs`); the label of a track is that of
    its first window. NaN without items.
    """
    if len(labels) == 0:
        return math.nan
    _, mean, first = track_level(track_ids, softmax(logits, temperature), labels)
    return float(-np.mean(np.log(np.maximum(mean[np.arange(len(first)), first], 1e-300))))


def fit_track_temperature(logits, labels, track_ids, bounds: tuple[float, float] = (0.05, 20.0)) -> float:
    """The temperature ``T`` minimising :func:`track_nll`: scaling fitted at the level it is used.

    :func:`fit_temperature` fits single windows; a track's probabilities are a mean over its windows, which is
    already softer than one window, so a window temperature tends to leave track probabilities
    under-confident. This fits ``T`` to the track means themselves (a bounded search over ``log T``; the
    track NLL need not be convex in ``1/T``, and the bounded search returns a local minimum within
    ``bounds``).

    Parameters
    ----------
    logits : array-like, shape (N, n_classes)
        Window logits (or :func:`logits_from_probs` of window probabilities).
    labels : array-like of int, shape (N,)
        Label of each window (the same for all windows of a track).
    track_ids : array-like, shape (N,)
    bounds : (float, float)

    Returns
    -------
    T : float
        1.0 when there is nothing to fit on.
    """
    from scipy.optimize import minimize_scalar

    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) == 0:
        return 1.0
    lo, hi = math.log(bounds[0]), math.log(bounds[1])
    res = minimize_scalar(lambda s: track_nll(logits, labels, track_ids, math.exp(s)), bounds=(lo, hi),
                          method="bounded", options={"xatol": 1e-5})
    return float(math.exp(res.x))


def track_level(track_ids, probs, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`track_mean_probs` with each track's label (its first window's).

    Returns
    -------
    ids : ndarray, shape (n_tracks,)
    mean : ndarray, shape (n_tracks, n_classes)
    labels : ndarray of int64, shape (n_tracks,)
    """
    ids, mean = track_mean_probs(track_ids, probs)
    first = pd.Series(np.asarray(labels)).groupby(pd.factorize(np.asarray(track_ids), sort=False)[0]).first()
    return ids, mean, first.to_numpy(np.int64)


def track_mean_probs(track_ids, probs) -> tuple[np.ndarray, np.ndarray]:
    """Mean window probabilities of each track, tracks in order of first appearance.

    Returns
    -------
    ids : ndarray, shape (n_tracks,)
    mean : ndarray, shape (n_tracks, n_classes)
    """
    probs = np.asarray(probs, dtype=np.float64)
    codes, uniques = pd.factorize(np.asarray(track_ids), sort=False)
    sums = np.zeros((len(uniques), probs.shape[1]))
    np.add.at(sums, codes, probs)
    return np.asarray(uniques), sums / np.bincount(codes, minlength=len(uniques))[:, None]


# ----------------------------------------------------------------------------------------------------
# calibration measures


def reliability_table(probs, labels, n_bins: int = N_BINS) -> pd.DataFrame:
    """Reliability diagram data of the top-1 probabilities: ``n_bins`` equal-width bins on [0, 1].

    An item falls in bin ``b`` when its confidence ``c`` (the largest probability) satisfies
    ``b / n_bins < c <= (b + 1) / n_bins`` (the first bin also takes ``c = 0``).

    Parameters
    ----------
    probs : array-like, shape (N, n_classes)
    labels : array-like of int, shape (N,)
    n_bins : int

    Returns
    -------
    table : DataFrame, one row per bin
        ``lower``, ``upper``, ``count``, ``confidence`` (mean top-1 probability), ``accuracy`` (share whose
        top-1 class is the label), ``gap`` (confidence - accuracy; NaN for an empty bin).
    """
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    conf = probs.max(axis=1) if len(probs) else np.zeros(0)
    right = (probs.argmax(axis=1) == labels) if len(probs) else np.zeros(0, bool)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(which, weights=conf, minlength=n_bins) / count
        acc = np.bincount(which, weights=right.astype(float), minlength=n_bins) / count
    return pd.DataFrame({"lower": edges[:-1], "upper": edges[1:], "count": count,
                         "confidence": mean_conf, "accuracy": acc, "gap": mean_conf - acc})


def expected_calibration_error(probs, labels, n_bins: int = N_BINS) -> float:
    """ECE: ``sum_b (n_b / N) |accuracy_b - confidence_b|`` over equal-width bins (:func:`reliability_table`).

    0 for a perfectly calibrated model; NaN without items.
    """
    table = reliability_table(probs, labels, n_bins)
    n = table["count"].sum()
    if n == 0:
        return math.nan
    used = table["count"] > 0
    return float((table["count"][used] * table["gap"][used].abs()).sum() / n)


# ----------------------------------------------------------------------------------------------------
# unknown scores and their evaluation


def msp_confidence(probs) -> np.ndarray:
    """Maximum softmax probability of each row (the confidence; the unknown score is ``1 - MSP``)."""
    probs = np.asarray(probs, dtype=np.float64)
    return probs.max(axis=1) if len(probs) else np.zeros(0)


def energy_score(logits, temperature: float = 1.0) -> np.ndarray:
    """Energy ``-T logsumexp(logits / T)`` of each row (Liu et al. 2020): higher = more unknown.

    Needs the raw logits (not ``log p``, see :func:`logits_from_probs`); not used by :func:`calibrate_run`.
    """
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    m = z.max(axis=1, keepdims=True)
    return -float(temperature) * (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))[:, 0]


def auroc(positive, negative) -> float:
    """Area under the ROC curve: P(a positive scores above a negative), ties counting one half.

    Parameters
    ----------
    positive, negative : array-like of float
        Unknown scores of the open-set (positive) and in-genre (negative) items.

    Returns
    -------
    float
        0.5 = no separation, 1 = every open-set item scores above every in-genre one; NaN if a group is empty.
    """
    pos = np.asarray(positive, dtype=np.float64).ravel()
    neg = np.asarray(negative, dtype=np.float64).ravel()
    if not len(pos) or not len(neg):
        return math.nan
    from scipy.stats import rankdata

    ranks = rankdata(np.concatenate([pos, neg]))
    return float((ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def bootstrap_auroc(positive, negative, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> dict:
    """AUROC with a percentile bootstrap interval; each replicate resamples both groups with replacement.

    Returns
    -------
    dict
        ``auroc``, ``low``, ``high``, ``level``, ``n_boot``, ``n_positive``, ``n_negative`` (NaN bounds when
        a group is empty).
    """
    pos = np.asarray(positive, dtype=np.float64).ravel()
    neg = np.asarray(negative, dtype=np.float64).ravel()
    out = {"auroc": auroc(pos, neg), "low": math.nan, "high": math.nan, "level": level, "n_boot": int(n_boot),
           "n_positive": int(len(pos)), "n_negative": int(len(neg))}
    if not len(pos) or not len(neg):
        return out
    rng = np.random.default_rng(seed)
    reps = np.array([auroc(pos[rng.integers(0, len(pos), len(pos))], neg[rng.integers(0, len(neg), len(neg))])
                     for _ in range(int(n_boot))])
    out["low"], out["high"] = (float(q) for q in np.quantile(reps, [(1 - level) / 2, (1 + level) / 2]))
    return out


def recall_threshold(confidences, recall: float = RECALL) -> float:
    """The lowest confidence still accepted such that at least ``recall`` of these in-genre items are accepted.

    A track is accepted when its confidence is ``>= threshold`` and flagged when below it. The threshold is
    the confidence of the ``ceil(recall * n)``-th most confident item, so at least ``recall`` of the given
    items (validation tracks) are accepted; ties may accept a few more. NaN without items.
    """
    conf = np.sort(np.asarray(confidences, dtype=np.float64).ravel())[::-1]
    if not len(conf):
        return math.nan
    k = max(1, math.ceil(recall * len(conf) - 1e-9))
    return float(conf[k - 1])
