"""Calibration and the "unknown" threshold of a trained run: computed, stored with the checkpoint, worded.

The mathematics (temperature scaling, reliability and ECE, the maximum-softmax-probability unknown score,
AUROC and the recall threshold, and why that score) is in :mod:`genre_utils.calibration`; this module
applies it to a run.

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

from .calibration import (
    N_BINS,
    RECALL,
    bootstrap_auroc,
    expected_calibration_error,
    fit_temperature,
    logits_from_probs,
    msp_confidence,
    nll,
    recall_threshold,
    reliability_table,
    softmax,
    track_mean_probs,
)
from .dataset import built_from_synthetic
from .errors import UserError
from .evaluate import evaluate_files, predict_logits
from .experiments import check_run_matches_store, stale_results
from .genres import GENRES
from .provenance import atomic_write_text, atomic_write_texts, file_sha256, to_plain
from .stats import Accuracy, percent
from .train import load_checkpoint

__all__ = [
    "CONFIDENCE_FILE", "CONFIDENCE_FORMAT", "OPEN_SET_REASON", "checkpoint_sha256", "checkpoint_field", "trained_on",
    "write_confidence_file", "read_confidence_file", "open_set_paths", "calibrate_run", "confidence_sentences",
    "reliability_figure", "score_figure", "open_set_note",
]

#: Side file next to a checkpoint holding its temperature and threshold.
CONFIDENCE_FILE = "confidence.json"
#: Tag of that file's format.
CONFIDENCE_FORMAT = "genre_utils.confidence/1"
#: Reason (in ``skipped.csv``) of FMA tracks whose genres are all outside the ten: the open-set tracks.
OPEN_SET_REASON = "no project genre"


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

    1. Validation windows of ``ds`` through the run's ``best.pt``: ``T`` =
       :func:`~genre_utils.calibration.fit_temperature`.
    2. Test predictions stored in the run's ``results.json`` (recomputed when it has none): ECE and
       reliability tables of the top-1 probabilities at segment and track level, before and after ``T``.
    3. Validation tracks decoded from their files like ``genre-utils predict`` does
       (:func:`genre_utils.evaluate.evaluate_files`, ``test_segments_per_track`` windows each), calibrated
       confidence; the threshold accepts ``recall`` of them (:func:`~genre_utils.calibration.recall_threshold`).
    4. Open-set files (:func:`open_set_paths`) through the same path; their unknown scores against the
       in-genre test tracks' (stored predictions): :func:`~genre_utils.calibration.bootstrap_auroc`, and the
       share of each group the threshold flags (Wilson intervals).

    Parameters
    ----------
    ds : genre_utils.dataset.Dataset
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
    run_dir = Path(run_dir)
    checkpoint = run_dir / "best.pt"
    model, ckpt = load_checkpoint(checkpoint, device=device)
    check_run_matches_store(ckpt, ds, run_dir)
    if (problem := stale_results(run_dir)) is not None:   # None also when there are no results yet
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


def _share(d: dict, unit: str) -> str:
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
            out[f"ece_{level}"] = (f"On the {unit}, temperature scaling lowered the ECE from {percent(b)} to "
                                   f"{percent(a)}.")
        elif round(100 * a, 1) > round(100 * b, 1):
            out[f"ece_{level}"] = (f"On the {unit}, temperature scaling raised the ECE from {percent(b)} to "
                                   f"{percent(a)}: the temperature fitted on the validation windows does not carry "
                                   "over to these test items, a reminder of how few items both sets hold.")
        else:
            out[f"ece_{level}"] = f"On the {unit}, temperature scaling left the ECE at {percent(a)}."
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
                            f"least {percent(summary['recall'], 0)} of the validation tracks) flags "
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
