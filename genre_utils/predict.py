"""Whole files through a trained run, as ``genre-utils predict`` and the book's real-recordings page see them:
the vote of the file's 5-s windows, the top-3 line, and, when the run was calibrated, the confidence and the
"outside what this model was trained on" flag (:mod:`genre_utils.confidence`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import checkpoint_info, evaluate
from .checkpoints import checkpoint_precision, load_checkpoint
from .config import FeatureParams

__all__ = ["Run", "load_run", "Prediction", "predict_files"]


@dataclass
class Prediction:
    """What :func:`predict_files` found.

    Attributes
    ----------
    table : DataFrame
        :func:`~genre_utils.evaluate.evaluate_files`' table (one row per file) with ``confidence`` (NaN without a
        calibration or on error) and ``outside`` (True / False, NA without a calibration or on error).
    calibration : dict or None
        The checkpoint's ``confidence.json`` (``temperature``, ``threshold``, ...), None when missing or made for
        another checkpoint.
    synthetic : bool
        The run learned from the project's synthetic corpus.
    """

    table: pd.DataFrame
    calibration: dict | None
    synthetic: bool

    @property
    def threshold(self) -> float | None:
        return self.calibration["threshold"] if self.calibration else None

    @property
    def temperature(self) -> float | None:
        return self.calibration["temperature"] if self.calibration else None


@dataclass
class Run:
    """A trained run ready to predict: its model, feature parameters, calibration, data origin and the arithmetic
    it is scored in (:func:`~genre_utils.checkpoints.checkpoint_precision`, as ``evaluate`` scored it)."""

    checkpoint: Path
    model: object
    params: FeatureParams
    calibration: dict | None
    synthetic: bool
    precision: str = "fp32"


def load_run(checkpoint, device=None) -> Run:
    """Load ``best.pt`` (a run folder is read as its ``best.pt``), its feature parameters and its
    ``confidence.json`` when one was made for it (:func:`genre_utils.checkpoint_info.read_confidence_file`)."""
    checkpoint = Path(checkpoint)
    if checkpoint.is_dir():
        checkpoint = checkpoint / "best.pt"
    model, ckpt = load_checkpoint(checkpoint, device=device)
    feats = checkpoint_info.checkpoint_field(ckpt, "features")
    return Run(checkpoint=checkpoint, model=model, params=FeatureParams(**feats) if feats else FeatureParams(),
               calibration=checkpoint_info.read_confidence_file(checkpoint),
               synthetic=bool(checkpoint_info.trained_on(checkpoint, ckpt)["synthetic"]),
               precision=checkpoint_precision(ckpt, model))


def predict_files(run, paths, *, device=None, max_segments: int | None = None) -> Prediction:
    """Predict the genre of every file with a run.

    Parameters
    ----------
    run : Run or path-like
        A :func:`load_run` result, or a checkpoint / run folder to load.
    paths : sequence of path-like
        Audio files; one that cannot be used gets a row with its ``error``.
    device : str, optional
    max_segments : int, optional
        Use only the first windows of each file.
    """
    if not isinstance(run, Run):
        run = load_run(run, device=device)
    calib = run.calibration
    table = evaluate.evaluate_files(run.model, [str(p) for p in paths], run.params, max_segments=max_segments,
                                    device=device, progress=False, temperature=calib["temperature"] if calib else None,
                                    precision=run.precision)
    if calib is None:   # no temperature, so no confidence was computed
        table["confidence"] = float("nan")
        table["outside"] = pd.array([pd.NA] * len(table), dtype="boolean")
    else:
        ok = table["error"] == ""
        table["outside"] = pd.array([bool(c < calib["threshold"]) if good else pd.NA
                                     for c, good in zip(table["confidence"], ok)], dtype="boolean")
        table.loc[~ok, "confidence"] = float("nan")
    return Prediction(table=table, calibration=calib, synthetic=run.synthetic)
