"""What a trained checkpoint carries beside its weights: which data it learned from, and its confidence file.

A checkpoint (``best.pt``) records its configuration; :func:`checkpoint_field` finds a field in it whatever
the layout, and :func:`trained_on` says whether it learned from the synthetic corpus or real data. The
temperature and the unknown threshold fitted by :func:`genre_utils.confidence.calibrate_run` live next to it
in :data:`CONFIDENCE_FILE`, keyed to the checkpoint's sha256, so a file left from another checkpoint is never
used (:func:`read_confidence_file`); ``genre-utils predict`` reads both.
"""

from __future__ import annotations

import json
from pathlib import Path

from .dataset import built_from_synthetic
from .provenance import atomic_write_text, file_sha256, to_plain
from .results import load_results

__all__ = ["CONFIDENCE_FILE", "CONFIDENCE_FORMAT", "checkpoint_sha256", "checkpoint_field", "trained_on",
           "write_confidence_file", "confidence_file_text", "read_confidence_file"]

#: Side file next to a checkpoint holding its temperature and threshold.
CONFIDENCE_FILE = "confidence.json"
#: Tag of that file's format.
CONFIDENCE_FORMAT = "genre_utils.confidence/1"


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
        res = load_results(results)
        desc = res.data_description or str(res.dataset.get("data_description") or "")
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
    (a :func:`genre_utils.confidence.calibrate_run` result), keyed to the checkpoint's sha256."""
    path, text = confidence_file_text(checkpoint, summary)
    atomic_write_text(path, text)
    return path


def confidence_file_text(checkpoint, summary: dict) -> tuple[Path, str]:
    """``(path, text)`` of the :data:`CONFIDENCE_FILE` of ``summary`` for ``checkpoint``."""
    checkpoint = Path(checkpoint)
    if checkpoint.is_dir():
        checkpoint = checkpoint / "best.pt"
    keep = ("temperature", "window_temperature", "threshold", "score", "recall", "n_bins", "ece", "open_set")
    payload = {"format": CONFIDENCE_FORMAT, "checkpoint": checkpoint.name,
               "checkpoint_sha256": checkpoint_sha256(checkpoint),
               **{k: summary[k] for k in keep if k in summary}}
    text = json.dumps(to_plain(payload, nan_to_none=True), indent=2, allow_nan=False) + "\n"
    return checkpoint.parent / CONFIDENCE_FILE, text


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
