"""Reading the checkpoints :func:`genre_utils.train.fit` writes: refused unless they are ours, never unpickled.

A checkpoint is a dict of tensors and plain Python values (``format``, ``model_spec``, ``model_state``,
``optimizer_state``, ``epoch``, ``history``, ``train_config``, ``data``, ``config``, ...), loaded with
``torch.load(..., weights_only=True)``; anything else (a plain state_dict, a truncated file, a pickle holding
code) is a :class:`~genre_utils.errors.CheckpointError` with one line saying what the file is.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
from torch import nn

from .config import FeatureParams
from .devices import select_device
from .errors import CheckpointError
from .models import build_model

__all__ = ["CHECKPOINT_FORMAT", "READABLE_FORMATS", "read_checkpoint", "checkpoint_config", "read_history",
           "load_checkpoint"]

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
