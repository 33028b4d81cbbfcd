"""The checkpoints :func:`genre_utils.train.fit` writes, read back refused unless they are ours (never unpickled),
and the writing and resuming side the training loop calls.

A checkpoint is a dict of tensors and plain Python values (``format``, ``model_spec``, ``model_state``,
``optimizer_state``, ``epoch``, ``history``, ``train_config``, ``data``, ``config``, ...), loaded with
``torch.load(..., weights_only=True)``; anything else (a plain state_dict, a truncated file, a pickle holding
code) is a :class:`~genre_utils.errors.CheckpointError` with one line saying what the file is.
"""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .config import FeatureParams, TrainConfig, resume_differences
from .devices import model_device, scoring_precision, select_device
from .errors import CheckpointError, RunMismatchError
from .models import build_model
from .provenance import atomic_same_file, atomic_torch_save, to_plain

__all__ = ["CHECKPOINT_FORMAT", "READABLE_FORMATS", "read_checkpoint", "checkpoint_config", "read_history",
           "load_checkpoint", "checkpoint_precision", "empty_history", "best_epoch", "resume_record",
           "checkpoint_dict", "save_epoch", "restore"]

#: Tag stored in every checkpoint.
#: ``/2``: the training settings are one :class:`~genre_utils.config.TrainConfig` (``'train_config'``, a plain
#: dict) and the data sizes ``'data'``; ``/1`` checkpoints (with ``'train_params'``) still load for evaluation
#: and prediction, but are not resumed (run folders are caches: retrain, or ``--restart``).
CHECKPOINT_FORMAT = "genre_utils.checkpoint/2"
#: Formats :func:`load_checkpoint` reads.
READABLE_FORMATS = ("genre_utils.checkpoint/1", CHECKPOINT_FORMAT)


def read_checkpoint(path) -> dict:
    """The checkpoint dict at ``path``, loaded with ``weights_only=True`` (never anything else).

    Raises
    ------
    FileNotFoundError
        Nothing at ``path``.
    genre_utils.errors.CheckpointError
        The file is not a genre_utils checkpoint: not a torch file, truncated, holding Python objects
        other than tensors and plain values (refused, never executed), or another kind of torch file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    expected = "expected a checkpoint written by `genre-utils train` (best.pt or last.pt of a run folder)"
    with open(path, "rb") as fh:
        head = fh.read(4)
    # torch.save writes a zip archive (older torch: a pickle, protocol 2+); anything else (a text file, JSON,
    # CSV) is no torch file at all, whatever the weights-only unpickler makes of its first bytes
    if head and not (head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"):
        raise CheckpointError(f"{path}: not a checkpoint (not a torch file); {expected}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (PermissionError, IsADirectoryError):
        raise
    except pickle.UnpicklingError as err:
        if "weights only load failed" in str(err).lower() or "unsupported global" in str(err).lower():
            raise CheckpointError(f"{path}: refused to load, the file holds Python objects other than tensors "
                                  f"and plain values (loading it could run code); {expected}") from None
        raise CheckpointError(f"{path}: not a readable checkpoint; {expected}") from None
    except Exception as err:  # torch reports a damaged file as KeyError, EOFError, RuntimeError, ...
        size = path.stat().st_size
        reason = ("an empty file" if size == 0 else "truncated or damaged"
                  if isinstance(err, (EOFError, RuntimeError, OSError)) else "not a torch file")
        raise CheckpointError(f"{path}: not a readable checkpoint ({reason}); {expected}") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") not in READABLE_FORMATS:
        what = "a plain state_dict" if isinstance(ckpt, dict) and ckpt and all(
            isinstance(v, torch.Tensor) for v in ckpt.values()) else f"a torch file holding {type(ckpt).__name__}"
        raise CheckpointError(f"{path}: not a genre_utils checkpoint ({what}); {expected}")
    missing = [k for k in ("model_spec", "model_state", "epoch", "history") if k not in ckpt]
    if missing:
        raise CheckpointError(f"{path}: incomplete genre_utils checkpoint (no {', '.join(missing)}); {expected}")
    return ckpt


def checkpoint_config(path) -> dict | None:
    """The ``config`` dict stored in a checkpoint (None if it has none)."""
    return read_checkpoint(path).get("config")


def read_history(run_dir) -> dict:
    """The full training history of a run (from its ``last.pt``; ``best.pt`` stops at the best epoch)."""
    return read_checkpoint(Path(run_dir) / "last.pt")["history"]


def checkpoint_precision(ckpt: dict, model: nn.Module) -> str:
    """The arithmetic to score ``model``, loaded from ``ckpt``, in where it now is: the one it trained in where
    that device has the units for it (:func:`~genre_utils.devices.scoring_precision`), else fp32."""
    trained = (ckpt.get("train_config") or {}).get("precision") or "fp32"
    return scoring_precision(trained, model_device(model))


def load_checkpoint(path, device=None) -> tuple[nn.Module, dict]:
    """Rebuild a trained model from a checkpoint (loaded with ``weights_only=True``).

    Parameters
    ----------
    path : path-like
        A ``.pt`` file written by :func:`fit`, or a run folder (then its ``best.pt``).
    device : str or torch.device, optional
        Default: :func:`select_device`.

    Returns
    -------
    model : nn.Module
        In eval mode, on ``device``, with the standardisation statistics restored.
    checkpoint : dict
        The whole checkpoint (``model_spec``, ``epoch``, ``history``, ``best_epoch``, ``train_config``,
        ``config``, ...).
    """
    path = Path(path)
    if path.is_dir():
        path = path / "best.pt"
    ckpt = read_checkpoint(path)
    spec = ckpt["model_spec"]
    try:
        model = build_model(spec["name"], **spec["kwargs"])
        model.load_state_dict(ckpt["model_state"])
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{path}: the weights do not fit the model the checkpoint names "
                              f"({spec.get('name') if isinstance(spec, dict) else spec}: {first}); "
                              "expected a checkpoint written by `genre-utils train`") from None
    feats = (ckpt.get("config") or {}).get("features")
    if feats:
        try:
            shape = FeatureParams(**feats).shape
        except (TypeError, ValueError) as err:
            raise CheckpointError(f"{path}: the checkpoint's feature parameters are not valid ({err})") from None
        if list(shape) != list(getattr(model, "input_shape", shape)):
            raise CheckpointError(f"{path}: the checkpoint's features give windows of shape {tuple(shape)}, but its "
                                  f"model takes {tuple(model.input_shape)}")
    model.to(device=select_device(device), memory_format=torch.channels_last)
    model.eval()
    return model, ckpt


# ----------------------------------------------------------------------------------------------------
# writing and resuming (the training loop's side)


def empty_history() -> dict:
    """The per-epoch lists a run's history holds, empty."""
    return {"epoch": [], "train_loss": [], "train_acc": [], "valid_loss": [], "valid_acc": [],
            "train_seconds": [], "epoch_seconds": []}


def best_epoch(history: dict) -> tuple[int | None, float]:
    """Epoch (1-based) of the highest validation accuracy, and that accuracy; the earliest one on ties."""
    if not history["valid_acc"]:
        return None, math.nan
    accs = np.asarray(history["valid_acc"], dtype=float)
    i = int(np.nanargmax(accs)) if np.isfinite(accs).any() else 0
    return history["epoch"][i], float(accs[i])


def resume_record(spec, cfg: TrainConfig | dict | None, n_train, n_valid) -> dict:
    """What a resumed run must share with the run it continues (compared by :func:`resume_differences`):
    the model spec, the training settings and the training and validation sizes."""
    return {"model_spec": to_plain(spec), "train": cfg.to_dict() if isinstance(cfg, TrainConfig) else cfg,
            "data": {"n_train": n_train, "n_valid": n_valid}}


def checkpoint_dict(model, optimizer, cfg: TrainConfig, record: dict, epoch: int, history: dict, config: dict,
                    step_log=(), scaler=None) -> dict:
    """Everything a checkpoint holds after ``epoch`` finished epochs (tensors and plain values only)."""
    best, best_acc = best_epoch(history)
    return {
        "format": CHECKPOINT_FORMAT,
        "model_spec": record["model_spec"],
        "model_state": {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
        "optimizer_state": optimizer.state_dict(),
        "epoch": int(epoch),
        "history": to_plain(history),
        "best_epoch": best,
        "best_valid_acc": best_acc,
        "train_config": cfg.to_dict(),
        "data": dict(record["data"]),
        # every epoch reseeds from (seed, epoch), so the seed is all a resumed run needs; the torch
        # generator state is kept for inspection
        "rng": {"seed": int(cfg.seed), "next_epoch": int(epoch) + 1, "torch_cpu": torch.get_rng_state()},
        **({"scaler_state": scaler.state_dict()} if scaler is not None else {}),
        "config": config,
        "step_log": to_plain(list(step_log)),
        "versions": {"torch": str(torch.__version__)},
        # the intra-op threads it trained with: another count rounds the sums differently, and training grows
        # that into other weights (see the README's reproducibility section)
        "threads": int(torch.get_num_threads()),
    }


def save_epoch(out_dir: Path, ckpt: dict, keep_epochs: bool) -> None:
    """Write ``last.pt`` (and ``epoch_{k:03d}.pt`` when kept, ``best.pt`` when this epoch is the best), each
    atomically."""
    epoch = ckpt["epoch"]
    if keep_epochs:
        atomic_torch_save(ckpt, out_dir / f"epoch_{epoch:03d}.pt")
    atomic_torch_save(ckpt, out_dir / "last.pt")
    if ckpt["best_epoch"] == epoch:  # the same checkpoint: linked, not written twice (140 MB for the CRNN)
        atomic_same_file(out_dir / "last.pt", out_dir / "best.pt")


def restore(path, model, optimizer, record: dict, device, scaler=None) -> tuple[int, dict, dict | None, list]:
    """Load weights, optimizer state and history of ``last.pt`` into a fresh run, if it continues this one
    (:func:`genre_utils.config.resume_differences`, the check the run-folder check of ``train_run`` uses).

    Returns
    -------
    epochs, history, partial, step_log
        The finished epochs, the history, the progress of an epoch stopped inside (or None) and the step log.

    Raises
    ------
    genre_utils.errors.RunMismatchError
        The checkpoint is of an earlier format, or of other settings.
    """
    ckpt = read_checkpoint(path)
    if ckpt["format"] != CHECKPOINT_FORMAT:
        raise RunMismatchError(f"{path}: cannot resume a checkpoint of an earlier format ({ckpt['format']}, written "
                               f"before the training settings were one TrainConfig); use another out_dir or "
                               "resume=False")
    stored = resume_record(ckpt["model_spec"], ckpt.get("train_config"), *(
        (ckpt.get("data") or {}).get(k) for k in ("n_train", "n_valid")))
    changed = resume_differences(stored, record, more_epochs=True, ignore=())
    if changed:
        raise RunMismatchError(f"{path}: cannot resume, settings changed ({', '.join(changed)}); "
                               "use another out_dir or resume=False")
    model.load_state_dict(ckpt["model_state"])
    model.to(device=device, memory_format=torch.channels_last)
    optimizer.load_state_dict(ckpt["optimizer_state"])
    if scaler is not None and "scaler_state" in ckpt:
        scaler.load_state_dict(ckpt["scaler_state"])
    history = empty_history()
    for key in history:
        history[key] = list(ckpt["history"].get(key, []))
    return int(ckpt["epoch"]), history, ckpt.get("partial"), list(ckpt.get("step_log") or [])
