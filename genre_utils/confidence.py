"""Calibration and the "unknown" threshold of a trained run, end to end.

Three modules share the work, one job each: the mathematics (temperature scaling, reliability and ECE, the
maximum-softmax-probability unknown score, AUROC and the recall threshold, and why that score) is in
:mod:`genre_utils.calibration`; the file beside the checkpoint in :mod:`genre_utils.checkpoint_info`; the
words and figures of the book in :mod:`genre_utils.narrative.confidence` and :mod:`genre_utils.plots`.

:func:`calibrate_run` applies the mathematics to a trained run and writes the fitted ``T`` and threshold next
to the checkpoint (:data:`~genre_utils.checkpoint_info.CONFIDENCE_FILE`) and into the run's ``results.json``
under ``confidence`` - both files or neither.
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
    fit_track_temperature,
    logits_from_probs,
    msp_confidence,
    nll,
    recall_threshold,
    reliability_table,
    softmax,
    track_level,
    track_nll,
)
from .checkpoint_info import CONFIDENCE_FORMAT, checkpoint_sha256, confidence_file_text
from .checkpoints import checkpoint_precision
from .errors import UserError
from .evaluate import evaluate_files, predict_logits
from .experiments import check_run_matches_store, stale_results
from .genres import GENRES
from .metrics import prob_columns
from .provenance import atomic_write_texts, to_plain
from .results import load_results
from .train import load_checkpoint

__all__ = ["OPEN_SET_REASON", "open_set_paths", "calibrate_run", "results_with_confidence"]

#: Reason (in ``skipped.csv``) of FMA tracks whose genres are all outside the ten: the open-set tracks.
OPEN_SET_REASON = "no project genre"


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


def calibrate_run(ds, run_dir, *, device=None, n_bins: int = N_BINS, recall: float = RECALL, n_boot: int = 2000,
                  seed: int = 0, open_set_limit: int | None = 200, write: bool = True, progress: bool = False) -> dict:
    """Calibrate a trained run and measure its open-set detection; store ``T`` and the threshold with it.

    1. Validation windows of ``ds`` through the run's ``best.pt``. The temperature ``T`` that ``genre-utils
       predict`` applies is fitted where it is applied, on each validation track's mean window probabilities
       (:func:`~genre_utils.calibration.fit_track_temperature`); a window temperature
       (:func:`~genre_utils.calibration.fit_temperature`) is fitted beside it for the window-level diagnosis.
    2. Test predictions stored in the run's ``results.json`` (recomputed when it has none): ECE and
       reliability tables of the top-1 probabilities before and after scaling, for single windows (with the
       window temperature) and for tracks (mean window probabilities, with ``T``).
    3. Validation tracks decoded from their files like ``genre-utils predict`` does
       (:func:`genre_utils.evaluate.evaluate_files`, ``test_segments_per_track`` windows each), calibrated
       confidence; the threshold accepts ``recall`` of them (:func:`~genre_utils.calibration.recall_threshold`).
    4. Open-set files (:func:`open_set_paths`) through the same path; their unknown scores against the
       in-genre test tracks' (stored predictions): :func:`~genre_utils.calibration.bootstrap_auroc`, and the
       share of each group the threshold flags (Wilson intervals).
    5. The run's new-data files (labelled music of the ten genres, made differently from the training data)
       through the same path: the share of the files the model gets wrong, and of those it gets right, that
       the threshold flags, and the AUROC of the unknown score for telling the wrong from the right.

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
        ``temperature`` (fitted on validation track means; what predict applies), ``window_temperature``,
        ``threshold`` (minimum calibrated confidence accepted), ``score`` (the method), ``recall``, ``n_bins``,
        ``ece`` (``{segment, track} x {before, after}``), ``nll_valid`` (track level, before and after ``T``),
        ``nll_valid_windows`` (window level, before and after the window temperature), ``reliability`` (the
        four tables as records), ``open_set`` (``auroc``, ``low``, ``high``, ..., ``rejected_open``,
        ``rejected_test``, ``rejected_valid`` as ``{k, n}``), ``newdata`` (``auroc``, ``low``, ``high``, ...,
        ``n_files``, ``flagged_wrong``, ``flagged_right`` as ``{k, n}``), ``tracks`` (per-track confidences of
        the four groups, records), ``checkpoint_sha256``, ``n_open_set_failed``.
    """
    run_dir = Path(run_dir)
    checkpoint = run_dir / "best.pt"
    model, ckpt = load_checkpoint(checkpoint, device=device)
    check_run_matches_store(ckpt, ds, run_dir)
    precision = checkpoint_precision(ckpt, model)   # the arithmetic evaluate scored the run in
    if (problem := stale_results(run_dir)) is not None:   # None also when there are no results yet
        raise UserError(f"{problem}; nothing was written. Score it first with `genre-utils evaluate --data "
                        f"{ds.root} --run {run_dir}`")
    prob_cols = prob_columns(len(GENRES))
    max_segments = ds.profile.test_segments_per_track

    # 1. temperatures on the validation set: per track (what predict applies) and per window
    X_valid, y_valid, valid_rows = ds.split("valid")
    valid_ids = valid_rows["track_id"].to_numpy()
    valid_logits = predict_logits(model, X_valid, device=device, precision=precision)
    temperature = fit_track_temperature(valid_logits, y_valid, valid_ids)
    window_temperature = fit_temperature(valid_logits, y_valid)

    # 2. calibration of the test predictions (the run's own, when stored)
    try:
        results = load_results(run_dir)
    except (OSError, ValueError):
        results = None
    segments = None if results is None else results.segments
    if segments is not None and (len(segments) != int((ds.manifest["split"] == "test").sum())
                                 or prob_cols[0] not in segments or "y_true" not in segments):
        segments = None
    if segments is not None:
        test_logits = logits_from_probs(segments[prob_cols].to_numpy())
        y_test, test_ids = segments["y_true"].to_numpy(np.int64), segments["track_id"].to_numpy()
        source = "stored"
    else:
        X_test, y_test, rows = ds.split("test")
        test_logits = predict_logits(model, X_test, device=device, precision=precision)
        test_ids = rows["track_id"].to_numpy()
        source = "recomputed"
    ece, reliability = {}, {}
    track_conf = {}
    for stage, T_window, T in (("before", 1.0, 1.0), ("after", window_temperature, temperature)):
        p = softmax(test_logits, T_window)
        ids, mean, y_track = track_level(test_ids, softmax(test_logits, T), y_test)
        for level, (pp, yy) in (("segment", (p, y_test)), ("track", (mean, y_track))):
            ece.setdefault(level, {})[stage] = expected_calibration_error(pp, yy, n_bins)
            reliability[f"{level}_{stage}"] = reliability_table(pp, yy, n_bins)
        track_conf[stage] = (ids, msp_confidence(mean), mean.argmax(axis=1) == y_track)

    # 3. threshold on validation tracks, decoded like predict decodes a file
    valid_tracks = ds.tracks[ds.tracks["split"].eq("valid") & ds.tracks["status"].eq("used")]
    valid_table = evaluate_files(model, valid_tracks["path"].tolist(), ds.params, max_segments=max_segments,
                                 device=device, progress=progress, temperature=temperature, precision=precision)
    valid_table = valid_table[valid_table["error"] == ""]
    threshold = recall_threshold(valid_table["confidence"].to_numpy(float), recall)

    # 4. open-set files through the same path; against the in-genre test tracks
    open_paths = open_set_paths(ds, open_set_limit)
    open_table = evaluate_files(model, open_paths, ds.params, max_segments=max_segments, device=device,
                                progress=progress, temperature=temperature, precision=precision)
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

    # 5. the run's new-data files (the ten genres, made differently) through the same path: does the flag
    #    catch the files the model gets wrong, and how many of the right ones does it cost?
    new_files = pd.DataFrame(columns=["path", "label"]) if results is None else results.newdata_files
    new_files = new_files[(new_files["error"] == "") & new_files["label"].isin(GENRES)]
    new_table = evaluate_files(model, new_files["path"].tolist(), ds.params, new_files["label"].tolist(),
                               max_segments=max_segments, device=device, progress=progress, temperature=temperature,
                               precision=precision)
    new_table = new_table[new_table["error"] == ""]
    new_conf = new_table["confidence"].to_numpy(float)
    new_right = new_table["correct"].to_numpy(dtype=bool, na_value=False)
    newdata = bootstrap_auroc(1 - new_conf[~new_right], 1 - new_conf[new_right], n_boot=n_boot, seed=seed)
    newdata.update(n_files=int(len(new_table)), flagged_wrong=flagged(new_conf[~new_right]),
                   flagged_right=flagged(new_conf[new_right]))
    tracks = pd.concat([
        pd.DataFrame({"group": "in-genre test", "track": test_ids_t, "confidence": test_conf,
                      "correct": test_right}),
        pd.DataFrame({"group": "in-genre validation", "track": valid_table["path"].to_numpy(),
                      "confidence": valid_table["confidence"].to_numpy(float), "correct": valid_table["correct"]}),
        pd.DataFrame({"group": "open set", "track": open_table["path"].to_numpy(), "confidence": open_conf,
                      "correct": pd.NA}),
        pd.DataFrame({"group": "new data", "track": new_table["path"].to_numpy(), "confidence": new_conf,
                      "correct": new_right}),
    ], ignore_index=True)
    tracks["flagged"] = tracks["confidence"] < threshold

    summary = {
        "format": CONFIDENCE_FORMAT,
        "checkpoint_sha256": checkpoint_sha256(checkpoint),
        "temperature": temperature,
        "window_temperature": window_temperature,
        "threshold": threshold,
        "score": "maximum softmax probability of the track's mean temperature-scaled window probabilities "
                 "(flagged below the threshold)",
        "recall": recall,
        "n_bins": n_bins,
        "test_predictions": source,
        "windows_per_track": max_segments,
        "n_valid_windows": int(len(y_valid)),
        "n_valid_tracks": int(pd.unique(valid_ids).size),
        "nll_valid": {"before": track_nll(valid_logits, y_valid, valid_ids, 1.0),
                      "after": track_nll(valid_logits, y_valid, valid_ids, temperature)},
        "nll_valid_windows": {"before": nll(valid_logits, y_valid, 1.0),
                              "after": nll(valid_logits, y_valid, window_temperature)},
        "ece": ece,
        "reliability": {k: v for k, v in reliability.items()},
        "open_set": sep,
        "newdata": newdata,
        "tracks": tracks,
    }
    summary = to_plain(summary, nan_to_none=True)
    if write:  # both files or neither (a full disk while writing the second left the first alone before)


        files = dict([confidence_file_text(checkpoint, summary)])
        results = results_with_confidence(run_dir / "results.json", summary)
        if results is not None:
            files[run_dir / "results.json"] = results
        atomic_write_texts(files)
    return summary


def results_with_confidence(path: Path, summary: dict) -> str | None:
    """The text of ``results.json`` with the summary (without the per-track table) under ``confidence``; None
    when there is no readable results.json."""
    try:
        res = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    res["confidence"] = {k: v for k, v in summary.items() if k != "tracks"}
    return json.dumps(res, indent=2, allow_nan=False, ensure_ascii=False) + "\n"
