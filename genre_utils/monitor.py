"""Monitoring a model on windows (paper section 5.3's function names): logits in eval mode, loss, accuracy,
accuracy per genre. Used by the training loop after every epoch and by its step log."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from .devices import model_device, model_dtype, precision_context, to_input
from .genres import GENRES

__all__ = ["iter_logits", "loss_and_accuracy", "get_accuracy", "get_loss", "get_accuracy_per_genre"]


def iter_logits(model: nn.Module, X, batch_size: int = 256, device=None, precision: str = "fp32"):
    """Yield the logits of consecutive slices of ``X`` in eval mode, without gradients.

    Parameters
    ----------
    model : nn.Module
    X : array-like, shape (N, height, frames)
        float16/float32 array or memmap; read a slice at a time.
    batch_size : int
    device : str or torch.device, optional
        Defaults to the device the model's parameters are on (the model is not moved).
    precision : {'fp32', 'bf16', 'fp16'}
        Arithmetic of the forward pass (:func:`~genre_utils.devices.precision_context`): a trained model is
        scored in :func:`~genre_utils.devices.scoring_precision` of the one it trained in.

    Yields
    ------
    logits : Tensor, shape (b, n_classes), float32, on the CPU
    """
    device = model_device(model) if device is None else torch.device(device)
    dtype = model_dtype(model)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), precision_context(device, precision):
            for start in range(0, len(X), batch_size):
                yield model(to_input(X[start:start + batch_size], device, dtype)).float().cpu()
    finally:
        model.train(was_training)


def loss_and_accuracy(model, X, y, batch_size=256, device=None, precision: str = "fp32") -> tuple[float, float]:
    """Mean cross-entropy and accuracy over (X, y) in one pass (the forward pass in ``precision``)."""
    y = torch.as_tensor(np.asarray(y, dtype=np.int64))
    if len(y) == 0:
        return math.nan, math.nan
    total_loss, correct, start = 0.0, 0, 0
    for logits in iter_logits(model, X, batch_size, device, precision):
        yb = y[start:start + len(logits)]
        total_loss += nn.functional.cross_entropy(logits, yb, reduction="sum").item()
        correct += int((logits.argmax(dim=1) == yb).sum())
        start += len(logits)
    return total_loss / len(y), correct / len(y)


def get_accuracy(model: nn.Module, X, y, batch_size: int = 256, device=None) -> float:
    """Share of windows whose highest-scoring class is the true one (NaN for no windows).

    Parameters
    ----------
    X : array-like, shape (N, height, frames)
    y : array-like of int, shape (N,)
        Class indices into :data:`~genre_utils.genres.GENRES`.
    """
    return loss_and_accuracy(model, X, y, batch_size, device)[1]


def get_loss(model: nn.Module, X, y, batch_size: int = 256, device=None) -> float:
    """Mean cross-entropy (natural log) of the model on (X, y), in eval mode (dropout off)."""
    return loss_and_accuracy(model, X, y, batch_size, device)[0]


def get_accuracy_per_genre(model: nn.Module, X, y, batch_size: int = 256, device=None,
                           genres=GENRES) -> dict[str, float]:
    """Accuracy (recall) per true genre: ``{genre: correct / windows of that genre}``, NaN if none."""
    y = np.asarray(y, dtype=np.int64)
    pred = torch.cat(list(iter_logits(model, X, batch_size, device))).argmax(dim=1).numpy() if len(y) else y
    out = {}
    for k, genre in enumerate(genres):
        mask = y == k
        out[genre] = float((pred[mask] == k).mean()) if mask.any() else math.nan
    return out
