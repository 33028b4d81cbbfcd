"""When a training run stops early, and its step log (:class:`Budget`).

:func:`genre_utils.train.fit` takes ``max_steps``, ``time_limit`` and ``eval_every``; this module keeps the
count and the clock, and the validation rows logged between epochs. Nothing here changes what a training step
computes.
"""

from __future__ import annotations

import time

import torch
from tqdm.auto import tqdm

from .monitor import loss_and_accuracy

__all__ = ["Budget"]


class Budget:
    """A training run's optional stopping point and its step log.

    Its methods take the :class:`genre_utils.train.Run` being trained (``model``, ``device``, ``dist``,
    ``progress``).

    ``max_steps`` counts the run's optimiser steps in all (a resumed run's earlier steps included);
    ``time_limit`` the seconds of training of this call. Both are checked after every step; the run stops
    after the step that reaches either. Every ``eval_every`` steps (and at a stop) the validation set is
    evaluated and a row appended to ``log`` (the first at step 0, before training): ``step``, ``epoch``
    (fractional), ``train_loss`` and ``train_acc`` (averaged over the steps since the last row, in training
    mode), ``valid_loss``, ``valid_acc``, ``seconds`` (training seconds of the whole run, evaluation
    excluded) and ``windows_per_s``.
    Neither changes what a step computes: evaluation runs in eval mode without gradients or random draws.
    """

    def __init__(self, max_steps=None, time_limit=None, eval_every=None, log=None, seconds=0.0, X_valid=None,
                 y_valid=None, eval_batch_size=256, precision: str = "fp32"):
        for name, value in (("max_steps", max_steps), ("time_limit", time_limit), ("eval_every", eval_every)):
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be positive, not {value!r}")
        self.max_steps, self.time_limit, self.eval_every = max_steps, time_limit, eval_every
        self.log = list(log or [])
        self.log_from = len(self.log)            # the first row this call writes (earlier calls wrote the rest)
        self.seconds = float(seconds)            # training seconds of the run before this call
        self.valid = (X_valid, y_valid, eval_batch_size, precision)
        self.started = time.perf_counter()
        self.reason = None
        self._loss = self._correct = None        # sums since the last row (tensors on the device)
        self._windows, self._interval_seconds = 0, 0.0
        self._clock = None

    def start_step(self):
        self._clock = time.perf_counter()

    def _validate(self, run) -> tuple[float, float]:
        X_valid, y_valid, batch_size, precision = self.valid
        return loss_and_accuracy(run.model, X_valid, y_valid, batch_size, run.device, precision)

    def first_row(self, run) -> None:
        """The starting point of a logged run: validation before the first step (no training numbers yet)."""
        if self.eval_every is not None and not self.log:
            valid_loss, valid_acc = self._validate(run)
            self.log.append({"step": 0, "epoch": 0.0, "train_loss": None, "train_acc": None,
                             "valid_loss": valid_loss, "valid_acc": valid_acc, "seconds": 0.0, "windows_per_s": None})

    def end_step(self, run, step: int, n_batches: int, loss, correct, n: int) -> bool:
        """Account for optimiser step ``step`` (1-based, of the whole run); True when the run stops here."""
        elapsed = time.perf_counter() - self._clock
        self.seconds += elapsed
        self._interval_seconds += elapsed
        if self.eval_every is not None:   # the interval's sums, kept on the device (no copy, no sync)
            step_loss, step_correct = loss.detach().float() * n, correct.float()
            self._loss = step_loss if self._loss is None else self._loss + step_loss
            self._correct = step_correct if self._correct is None else self._correct + step_correct
            self._windows += n
        if self.max_steps is not None and step >= self.max_steps:
            self.reason = "max_steps"
        elif self.time_limit is not None and run.dist.agree(time.perf_counter() - self.started >= self.time_limit):
            self.reason = "time_limit"
        if self.eval_every is not None and (step % self.eval_every == 0 or self.reason):
            self._write_row(run, step, n_batches)
        return self.reason is not None

    def _write_row(self, run, step: int, n_batches: int) -> None:
        totals = torch.stack([self._loss.double(), self._correct.double(),
                              torch.tensor(float(self._windows), dtype=torch.float64, device=self._loss.device)])
        if run.dist.active:
            torch.distributed.all_reduce(totals)
        loss_sum, correct, windows = (float(v) for v in totals)
        valid_loss, valid_acc = self._validate(run)
        self.log.append({"step": int(step), "epoch": step / n_batches, "train_loss": loss_sum / windows,
                         "train_acc": correct / windows, "valid_loss": valid_loss, "valid_acc": valid_acc,
                         "seconds": self.seconds, "windows_per_s": windows / max(self._interval_seconds, 1e-9)})
        if run.progress:
            row = self.log[-1]
            tqdm.write(f"step {step} (epoch {row['epoch']:.2f}): train loss {row['train_loss']:.4f} | valid loss "
                       f"{valid_loss:.4f} acc {valid_acc:.3f} | {row['windows_per_s']:.0f} windows/s")
        self._loss = self._correct = None
        self._windows, self._interval_seconds = 0, 0.0
