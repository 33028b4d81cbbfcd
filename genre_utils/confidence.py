"""A model that says when it does not know: calibration, an "unknown" score and its threshold.

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

:func:`calibrate_run` does all of it for a trained run and writes the fitted ``T`` and threshold next to
the checkpoint (:data:`CONFIDENCE_FILE`, keyed to the checkpoint's sha256, so a file left from another
checkpoint is never used: :func:`read_confidence_file`) and into the run's ``results.json`` under
``confidence``. :func:`confidence_sentences` words the results for the book.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import UserError
from .provenance import file_sha256
from .store import built_from_synthetic

__all__ = [
    "N_BINS", "RECALL", "CONFIDENCE_FILE", "CONFIDENCE_FORMAT", "OPEN_SET_REASON",
    "softmax", "logits_from_probs", "nll", "fit_temperature", "track_mean_probs",
    "reliability_table", "expected_calibration_error", "msp_confidence", "energy_score",
    "auroc", "bootstrap_auroc", "recall_threshold", "checkpoint_sha256", "checkpoint_field", "trained_on",
    "write_confidence_file", "read_confidence_file", "open_set_paths", "calibrate_run", "confidence_sentences",
    "reliability_figure", "score_figure", "open_set_note",
]

#: Equal-width confidence bins of the reliability diagram and the ECE.
N_BINS = 10
#: Share of in-genre validation tracks the unknown threshold accepts.
RECALL = 0.95
#: Side file next to a checkpoint holding its temperature and threshold.
CONFIDENCE_FILE = "confidence.json"
#: Tag of that file's format.
CONFIDENCE_FORMAT = "genre_utils.confidence/1"
#: Reason (in ``skipped.csv``) of FMA tracks whose genres are all outside the ten: the open-set tracks.
OPEN_SET_REASON = "no project genre"


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


# ----------------------------------------------------------------------------------------------------
# checkpoints and the side file


def checkpoint_sha256(path) -> str:
    """sha256 of a checkpoint file's bytes (a run folder means its ``best.pt``)."""
    path = Path(path)
    if path.is_dir():
        path = path / "best.pt"
    return file_sha256(path)


def checkpoint_field(ckpt: dict, *names, default=None):
    """The first of ``names`` found in a checkpoint, at its top level or in its config.

    Tolerant of the checkpoint's layout: it looks in the checkpoint itself, then in ``config``,
    ``train_config``, ``train_params`` and ``data`` (a dict or a dataclass-like mapping), so it keeps
    working when the training configuration moves into one object.
    """
    places = [ckpt]
    for key in ("config", "train_config", "trainconfig", "train_params"):
        sub = ckpt.get(key) if isinstance(ckpt, dict) else None
        if isinstance(sub, dict):
            places.append(sub)
            if isinstance(sub.get("data"), dict):
                places.append(sub["data"])
    if isinstance(ckpt, dict) and isinstance(ckpt.get("data"), dict):
        places.append(ckpt["data"])
    for name in names:
        for place in places:
            if name in place and place[name] is not None:
                return place[name]
    return default


def trained_on(checkpoint_path, ckpt: dict | None = None) -> dict:
    """What data a checkpoint learned from, as far as anything records it.

    In order: the checkpoint's own ``synthetic`` / ``data_description`` fields (:func:`checkpoint_field`);
    the ``data_description`` of the ``results.json`` next to the checkpoint (written by the book's runs);
    the store the checkpoint names (config ``dataset``): its ``dataset.json`` sources, synthetic when a
    source folder lies in a corpus written by ``genre-utils synth`` (a ``corpus.json`` beside it).

    Returns
    -------
    dict
        ``synthetic`` (True, False, or None when nothing says), ``description`` (a sentence or ''),
        ``source`` (where it was read from).
    """
    path = Path(checkpoint_path)
    if path.is_dir():
        path = path / "best.pt"
    ckpt = ckpt or {}
    flag = checkpoint_field(ckpt, "synthetic")
    desc = checkpoint_field(ckpt, "data_description", default="")
    if isinstance(flag, bool):
        return {"synthetic": flag, "description": str(desc or ""), "source": "checkpoint"}
    if desc:
        return {"synthetic": "synthetic" in str(desc).lower(), "description": str(desc), "source": "checkpoint"}
    results = path.parent / "results.json"
    try:
        res = json.loads(results.read_text())
        desc = res.get("data_description") or ""
        if not desc and isinstance(res.get("dataset"), dict):
            desc = res["dataset"].get("data_description") or ""
        if desc:
            return {"synthetic": "synthetic" in desc.lower(), "description": desc, "source": str(results)}
    except (OSError, ValueError, AttributeError):
        pass
    store = checkpoint_field(ckpt, "dataset", "store", "data_dir")
    if isinstance(store, str) and store:
        try:
            info = json.loads((Path(store) / "dataset.json").read_text())
            synthetic = built_from_synthetic(info)
            what = ("the project's synthetic corpus (rendered by genre_utils.synth)" if synthetic
                    else "the data of the feature store " + store)
            return {"synthetic": synthetic, "description": what, "source": str(Path(store) / "dataset.json")}
        except (OSError, ValueError, AttributeError):
            pass
    return {"synthetic": None, "description": "", "source": ""}


def write_confidence_file(checkpoint, summary: dict) -> Path:
    """Write :data:`CONFIDENCE_FILE` next to ``checkpoint``: the temperature and threshold of ``summary``
    (a :func:`calibrate_run` result), keyed to the checkpoint's sha256."""
    from .provenance import atomic_write_text

    path, text = _confidence_file(checkpoint, summary)
    atomic_write_text(path, text)
    return path


def _confidence_file(checkpoint, summary: dict) -> tuple[Path, str]:
    """``(path, text)`` of the :data:`CONFIDENCE_FILE` of ``summary`` for ``checkpoint``."""
    checkpoint = Path(checkpoint)
    if checkpoint.is_dir():
        checkpoint = checkpoint / "best.pt"
    keep = ("temperature", "threshold", "score", "recall", "n_bins", "ece", "open_set")
    payload = {"format": CONFIDENCE_FORMAT, "checkpoint": checkpoint.name,
               "checkpoint_sha256": checkpoint_sha256(checkpoint),
               **{k: summary[k] for k in keep if k in summary}}
    return checkpoint.parent / CONFIDENCE_FILE, json.dumps(_plain(payload), indent=2, allow_nan=False) + "\n"


def read_confidence_file(checkpoint) -> dict | None:
    """The :data:`CONFIDENCE_FILE` next to ``checkpoint`` if it was made for exactly this checkpoint.

    Returns None when there is none, it is unreadable, of another format, or its sha256 is not the
    checkpoint's (a stale file left from an earlier training is never used).
    """
    checkpoint = Path(checkpoint)
    if checkpoint.is_dir():
        checkpoint = checkpoint / "best.pt"
    try:
        data = json.loads((checkpoint.parent / CONFIDENCE_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != CONFIDENCE_FORMAT:
        return None
    try:
        if data.get("checkpoint_sha256") != checkpoint_sha256(checkpoint):
            return None
        temperature, threshold = float(data["temperature"]), data.get("threshold")
    except (OSError, KeyError, TypeError, ValueError):
        return None
    if not temperature > 0:
        return None
    data["temperature"] = temperature
    data["threshold"] = None if threshold is None else float(threshold)
    return data


def _plain(obj):
    from .provenance import to_plain

    return to_plain(obj, nan_to_none=True)


# ----------------------------------------------------------------------------------------------------
# a run end to end


def open_set_paths(ds, limit: int | None = 200) -> list[str]:
    """Audio files the store left out because none of their genres is one of the ten (the open set).

    Read from the store's ``skipped.csv`` (reason ``eliminated: no project genre among its FMA genres``);
    files that do not exist are left out. With more than ``limit``, an evenly spaced selection (by path).
    """
    skipped = ds.skipped
    rows = skipped[skipped["reason"].astype(str).str.contains(OPEN_SET_REASON, regex=False)]
    paths = sorted(p for p in rows["path"].astype(str).unique() if Path(p).is_file())
    if limit is not None and len(paths) > limit:
        paths = [paths[i] for i in np.linspace(0, len(paths) - 1, limit).round().astype(int)]
    return paths


def _track_level(track_ids, probs, labels):
    ids, mean = track_mean_probs(track_ids, probs)
    lab = pd.Series(np.asarray(labels)).groupby(pd.factorize(np.asarray(track_ids), sort=False)[0]).first()
    return ids, mean, lab.to_numpy(np.int64)


def calibrate_run(ds, run_dir, *, device=None, n_bins: int = N_BINS, recall: float = RECALL, n_boot: int = 2000,
                  seed: int = 0, open_set_limit: int | None = 200, write: bool = True, progress: bool = False) -> dict:
    """Calibrate a trained run and measure its open-set detection; store ``T`` and the threshold with it.

    1. Validation windows of ``ds`` through the run's ``best.pt``: ``T`` = :func:`fit_temperature`.
    2. Test predictions stored in the run's ``results.json`` (recomputed when it has none): ECE and
       reliability tables of the top-1 probabilities at segment and track level, before and after ``T``.
    3. Validation tracks decoded from their files like ``genre-utils predict`` does
       (:func:`genre_utils.evaluate.evaluate_files`, ``test_segments_per_track`` windows each), calibrated
       confidence; the threshold accepts ``recall`` of them (:func:`recall_threshold`).
    4. Open-set files (:func:`open_set_paths`) through the same path; their unknown scores against the
       in-genre test tracks' (stored predictions): :func:`bootstrap_auroc`, and the share of each group the
       threshold flags (Wilson intervals).

    Parameters
    ----------
    ds : genre_utils.store.Dataset
        The store the run was trained on.
    run_dir : path-like
        Run folder with ``best.pt`` (and ``results.json``).
    write : bool
        Write :data:`CONFIDENCE_FILE` next to ``best.pt`` and add the summary to ``results.json`` under
        ``confidence``.

    Returns
    -------
    summary : dict
        ``temperature``, ``threshold`` (minimum calibrated confidence accepted), ``score`` (the method),
        ``recall``, ``n_bins``, ``ece`` (``{segment, track} x {before, after}``), ``nll_valid`` (before,
        after), ``reliability`` (the four tables as records), ``open_set`` (``auroc``, ``low``, ``high``, ...,
        ``rejected_open``, ``rejected_test``, ``rejected_valid`` as ``{k, n}``), ``tracks`` (per-track
        confidences of the three groups, records), ``checkpoint_sha256``, ``n_open_set_failed``.
    """
    from .evaluate import evaluate_files, predict_logits
    from .genres import GENRES
    from .train import load_checkpoint

    run_dir = Path(run_dir)
    checkpoint = run_dir / "best.pt"
    model, ckpt = load_checkpoint(checkpoint, device=device)
    try:
        from .experiments import check_run_matches_store
    except ImportError:  # pragma: no cover - renamed; the store check is then the caller's
        check_run_matches_store = None
    if check_run_matches_store is not None:
        check_run_matches_store(ckpt, ds, run_dir)
        from .experiments import stale_results

        if (run_dir / "results.json").is_file() and (problem := stale_results(run_dir)) is not None:
            raise UserError(f"{problem}; nothing was written. Score it first with `genre-utils evaluate --data "
                            f"{ds.root} --run {run_dir}`")
    prob_cols = [f"prob_{g}" for g in GENRES]
    max_segments = ds.profile.test_segments_per_track

    # 1. temperature on the validation windows
    X_valid, y_valid, _ = ds.split("valid")
    valid_logits = predict_logits(model, X_valid, device=device)
    temperature = fit_temperature(valid_logits, y_valid)

    # 2. calibration of the test predictions (the run's own, when stored)
    segments = None
    try:
        res = json.loads((run_dir / "results.json").read_text())
        segments = pd.DataFrame.from_records(res["test"]["segments"])
        if len(segments) != int((ds.manifest["split"] == "test").sum()):
            segments = None
    except (OSError, ValueError, KeyError, TypeError):
        segments = None
    if segments is not None:
        test_logits = logits_from_probs(segments[prob_cols].to_numpy())
        y_test, test_ids = segments["y_true"].to_numpy(np.int64), segments["track_id"].to_numpy()
        source = "stored"
    else:
        X_test, y_test, rows = ds.split("test")
        test_logits, test_ids = predict_logits(model, X_test, device=device), rows["track_id"].to_numpy()
        source = "recomputed"
    ece, reliability = {}, {}
    track_conf = {}
    for stage, T in (("before", 1.0), ("after", temperature)):
        p = softmax(test_logits, T)
        ids, mean, y_track = _track_level(test_ids, p, y_test)
        for level, (pp, yy) in (("segment", (p, y_test)), ("track", (mean, y_track))):
            ece.setdefault(level, {})[stage] = expected_calibration_error(pp, yy, n_bins)
            reliability[f"{level}_{stage}"] = reliability_table(pp, yy, n_bins)
        track_conf[stage] = (ids, msp_confidence(mean), mean.argmax(axis=1) == y_track)

    # 3. threshold on validation tracks, decoded like predict decodes a file
    valid_tracks = ds.tracks[ds.tracks["split"].eq("valid") & ds.tracks["status"].eq("used")]
    valid_table = evaluate_files(model, valid_tracks["path"].tolist(), ds.params, max_segments=max_segments,
                                 device=device, progress=progress, temperature=temperature)
    valid_table = valid_table[valid_table["error"] == ""]
    threshold = recall_threshold(valid_table["confidence"].to_numpy(float), recall)

    # 4. open-set files through the same path; against the in-genre test tracks
    open_paths = open_set_paths(ds, open_set_limit)
    open_table = evaluate_files(model, open_paths, ds.params, max_segments=max_segments, device=device,
                                progress=progress, temperature=temperature)
    n_failed = int((open_table["error"] != "").sum())
    open_table = open_table[open_table["error"] == ""]
    open_conf = open_table["confidence"].to_numpy(float)
    test_ids_t, test_conf, test_right = track_conf["after"]
    sep = bootstrap_auroc(1 - open_conf, 1 - test_conf, n_boot=n_boot, seed=seed)

    def flagged(conf):
        conf = np.asarray(conf, dtype=float)
        return {"k": int((conf < threshold).sum()) if math.isfinite(threshold) else 0, "n": int(len(conf))}

    sep.update(rejected_open=flagged(open_conf), rejected_test=flagged(test_conf),
               rejected_valid=flagged(valid_table["confidence"].to_numpy(float)),
               n_open_set_failed=n_failed)
    tracks = pd.concat([
        pd.DataFrame({"group": "in-genre test", "track": test_ids_t, "confidence": test_conf,
                      "correct": test_right}),
        pd.DataFrame({"group": "in-genre validation", "track": valid_table["path"].to_numpy(),
                      "confidence": valid_table["confidence"].to_numpy(float), "correct": valid_table["correct"]}),
        pd.DataFrame({"group": "open set", "track": open_table["path"].to_numpy(), "confidence": open_conf,
                      "correct": pd.NA}),
    ], ignore_index=True)
    tracks["flagged"] = tracks["confidence"] < threshold

    summary = {
        "format": CONFIDENCE_FORMAT,
        "checkpoint_sha256": checkpoint_sha256(checkpoint),
        "temperature": temperature,
        "threshold": threshold,
        "score": "maximum softmax probability of the track's mean temperature-scaled window probabilities "
                 "(flagged below the threshold)",
        "recall": recall,
        "n_bins": n_bins,
        "test_predictions": source,
        "windows_per_track": max_segments,
        "n_valid_windows": int(len(y_valid)),
        "nll_valid": {"before": nll(valid_logits, y_valid, 1.0), "after": nll(valid_logits, y_valid, temperature)},
        "ece": ece,
        "reliability": {k: v for k, v in reliability.items()},
        "open_set": sep,
        "tracks": tracks,
    }
    summary = _plain(summary)
    if write:  # both files or neither (a full disk while writing the second left the first alone before)
        from .provenance import atomic_write_texts

        files = dict([_confidence_file(checkpoint, summary)])
        results = _results_with(run_dir / "results.json", summary)
        if results is not None:
            files[run_dir / "results.json"] = results
        atomic_write_texts(files)
    return summary


def _results_with(path: Path, summary: dict) -> str | None:
    """The text of ``results.json`` with the summary (without the per-track table) under ``confidence``; None
    when there is no readable results.json."""
    try:
        res = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    res["confidence"] = {k: v for k, v in summary.items() if k != "tracks"}
    return json.dumps(res, indent=2, allow_nan=False, ensure_ascii=False) + "\n"


# ----------------------------------------------------------------------------------------------------
# words and figures


def _pct(x, digits: int = 1) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.{digits}f} %"


def _share(d: dict, unit: str) -> str:
    from .stats import Accuracy

    return Accuracy(d["k"], d["n"]).text(unit)


def confidence_sentences(summary: dict) -> dict:
    """Sentences about a :func:`calibrate_run` summary, each chosen by the numbers it states.

    Returns
    -------
    dict of str
        ``temperature`` (over- or under-confident, or already close), ``ece_segment``, ``ece_track`` (whether
        scaling lowered, raised or kept the ECE), ``auroc`` (better than chance, worse, or not
        distinguishable from it, by the interval), ``rejection`` (what the threshold flags in each group).
    """
    T = float(summary["temperature"])
    out = {}
    if T > 1.05:
        out["temperature"] = (f"The fitted temperature is T = {T:.2f} > 1: on the validation windows the model "
                              "was over-confident, and dividing its logits by T softens its probabilities.")
    elif T < 0.95:
        out["temperature"] = (f"The fitted temperature is T = {T:.2f} < 1: on the validation windows the model "
                              "was under-confident, and dividing its logits by T sharpens its probabilities.")
    else:
        out["temperature"] = (f"The fitted temperature is T = {T:.2f}, close to 1: on the validation windows "
                              "the model's probabilities were already about as sharp as they should be.")
    for level, unit in (("segment", "5-s test windows"), ("track", "test tracks")):
        b, a = summary["ece"][level]["before"], summary["ece"][level]["after"]
        if b is None or a is None:
            out[f"ece_{level}"] = f"The ECE of the {unit} could not be measured (no items)."
        elif round(100 * a, 1) < round(100 * b, 1):
            out[f"ece_{level}"] = (f"On the {unit}, temperature scaling lowered the ECE from {_pct(b)} to "
                                   f"{_pct(a)}.")
        elif round(100 * a, 1) > round(100 * b, 1):
            out[f"ece_{level}"] = (f"On the {unit}, temperature scaling raised the ECE from {_pct(b)} to {_pct(a)}: "
                                   "the temperature fitted on the validation windows does not carry over to "
                                   "these test items, a reminder of how few items both sets hold.")
        else:
            out[f"ece_{level}"] = f"On the {unit}, temperature scaling left the ECE at {_pct(a)}."
    sep = summary["open_set"]
    a, lo, hi = sep.get("auroc"), sep.get("low"), sep.get("high")
    n_open, n_in = sep.get("n_positive", 0), sep.get("n_negative", 0)
    if not n_open or a is None:
        out["auroc"] = ("This corpus has no usable tracks of genres outside the ten, so open-set detection "
                        "was not measured.")
    else:
        span = f"AUROC {a:.2f}, 95 % bootstrap interval {lo:.2f}-{hi:.2f}, {n_open} open-set and {n_in} in-genre tracks"
        if lo is not None and lo > 0.5:
            out["auroc"] = (f"The unknown score ranks the open-set tracks above the in-genre test tracks more often "
                            f"than chance ({span}).")
        elif hi is not None and hi < 0.5:
            out["auroc"] = (f"The unknown score ranks the open-set tracks *below* the in-genre test tracks more often "
                            f"than chance ({span}): the model is more confident about music it was not trained on.")
        else:
            out["auroc"] = (f"The unknown score does not separate the open-set tracks from the in-genre test tracks "
                            f"better than chance can explain ({span}; the interval includes 0.5).")
    thr = summary.get("threshold")
    if thr is None or not n_open:
        out["rejection"] = ("Without open-set tracks (or validation tracks to set it on) no rejection rate "
                            "is reported.")
    else:
        out["rejection"] = (f"Flagging every track whose calibrated confidence is below {thr:.2f} (set to accept at "
                            f"least {_pct(summary['recall'], 0)} of the validation tracks) flags "
                            f"{_share(sep['rejected_open'], 'open-set tracks')} and "
                            f"{_share(sep['rejected_test'], 'in-genre test tracks')}.")
    return out


def reliability_figure(before: pd.DataFrame, after: pd.DataFrame, title: str = "", temperature: float | None = None):
    """Two reliability diagrams side by side: accuracy per confidence bin before and after scaling.

    Bars show each bin's accuracy (bin width, at its position), the dots its mean confidence, the diagonal
    perfect calibration; the number over a bar is the bin's item count. Empty bins are left blank.
    """
    import matplotlib.pyplot as plt

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
    """Calibrated confidence of in-genre test, validation and open-set tracks, with the threshold."""
    import matplotlib.pyplot as plt

    t = pd.DataFrame(tracks)
    groups = [g for g in ("in-genre validation", "in-genre test", "open set") if (t["group"] == g).any()]
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


def open_set_note(synthetic: bool) -> str:
    """What the open-set tracks of this build are, and what their result can mean (synthetic or real data)."""
    if synthetic:
        return ("On the synthetic corpus the open-set tracks are the FMA-layout tracks whose genres (experimental, "
                "folk, international, spoken, ...) are none of the ten. The corpus composes each of them in the "
                "style sheet of one of the ten genres (`genre_utils.synth.FMA_MIX`): only their label is foreign, "
                "not their sound. There is no unfamiliar genre in their audio for a score to find: whatever "
                "separation it shows comes from other differences between these few tracks, and an AUROC near 0.5 "
                "would be no failure of the method. On the real FMA, whose folk or spoken-word tracks do sound "
                "different, the same test is meaningful.")
    return ("The open-set tracks are the FMA tracks whose genres are none of the ten (the store's skipped "
            "tracks with reason 'no project genre'): real music the model has never been trained to name.")
