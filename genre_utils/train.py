"""Training (paper section 5.3): Adam, cross-entropy, a checkpoint after every epoch, resumable, seeded.

The loop is plain PyTorch, written to be read in one sitting:

1. every epoch draws its batch order from a numpy generator seeded by ``(seed, epoch)`` and reseeds torch
   (dropout) from the same pair, so an epoch does the same work whether or not the run was interrupted
   before it;
2. batches are slices of one in-memory float32 tensor (or, when the training set does not fit in memory,
   rows read from the store's memmap), with no per-item ``Dataset``/``DataLoader`` overhead;
3. after the epoch the model is evaluated on the validation windows and a checkpoint
   (``epoch_{k:03d}.pt``, ``last.pt``, and ``best.pt`` when validation accuracy improved) is written
   atomically.

Checkpoints hold only tensors and plain Python values and load with ``torch.load(..., weights_only=True)``.

The monitoring functions keep the paper's names: :func:`get_accuracy`, :func:`get_loss`,
:func:`get_accuracy_per_genre`.
"""

from __future__ import annotations

import dataclasses
import math
import pickle
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .config import N_GENRES, TrainConfig, check_schedule, num_threads, resume_differences
from .devices import (
    Distributed,
    _autocast,
    _model_device,
    _to_input,
    default_precision,
    distributed,
    select_device,
    set_threads,
)
from .errors import CheckpointError, RunMismatchError, UserError
from .genres import GENRES
from .models import build_model
from .provenance import atomic_torch_save, to_plain

__all__ = [
    "select_device",
    "make_optimizer",
    "learning_rate",
    "adam_beta1",
    "set_threads",
    "iter_logits",
    "get_accuracy",
    "get_loss",
    "get_accuracy_per_genre",
    "fit",
    "default_precision",
    "Distributed",
    "distributed",
    "read_history",
    "checkpoint_config",
    "load_checkpoint",
    "to_plain",
    "CHECKPOINT_FORMAT",
    "TrainConfig",
]

#: Tag stored in every checkpoint.
#: ``/2``: the training settings are one :class:`~genre_utils.config.TrainConfig` (``'train_config'``, a plain
#: dict) and the data sizes ``'data'``; ``/1`` checkpoints (with ``'train_params'``) still load for evaluation
#: and prediction, but are not resumed (run folders are caches: retrain, or ``--restart``).
CHECKPOINT_FORMAT = "genre_utils.checkpoint/2"
#: Formats :func:`load_checkpoint` reads.
READABLE_FORMATS = ("genre_utils.checkpoint/1", CHECKPOINT_FORMAT)


# ----------------------------------------------------------------------------------------------------
# monitoring (the paper's function names)


def iter_logits(model: nn.Module, X, batch_size: int = 256, device=None):
    """Yield the logits of consecutive slices of ``X`` in eval mode, without gradients.

    Parameters
    ----------
    model : nn.Module
    X : array-like, shape (N, height, frames)
        float16/float32 array or memmap; read a slice at a time.
    batch_size : int
    device : str or torch.device, optional
        Defaults to the device the model's parameters are on (the model is not moved).

    Yields
    ------
    logits : Tensor, shape (b, n_classes), float32, on the CPU
    """
    device = _model_device(model) if device is None else torch.device(device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(X), batch_size):
                yield model(_to_input(X[start:start + batch_size], device)).float().cpu()
    finally:
        model.train(was_training)


def _loss_and_accuracy(model, X, y, batch_size=256, device=None) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over (X, y) in one pass."""
    y = torch.as_tensor(np.asarray(y, dtype=np.int64))
    if len(y) == 0:
        return math.nan, math.nan
    total_loss, correct, start = 0.0, 0, 0
    for logits in iter_logits(model, X, batch_size, device):
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
    return _loss_and_accuracy(model, X, y, batch_size, device)[1]


def get_loss(model: nn.Module, X, y, batch_size: int = 256, device=None) -> float:
    """Mean cross-entropy (natural log) of the model on (X, y), in eval mode (dropout off)."""
    return _loss_and_accuracy(model, X, y, batch_size, device)[0]


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


# ----------------------------------------------------------------------------------------------------
# plain values for checkpoints and JSON


# ----------------------------------------------------------------------------------------------------
# batches


class _Batches:
    """Training windows as one float32 tensor in memory, or rows read from an array/memmap per batch.

    On a CUDA device the tensor is put on the device when it fits (half its free memory), and batches are
    sliced there; otherwise batches are gathered on the host into pinned memory, so that the copy to the
    device is asynchronous (``non_blocking``). On the CPU nothing changes.
    """

    def __init__(self, X, in_memory: bool | None, device: torch.device | None = None):
        nbytes = int(np.prod(X.shape)) * 4
        cuda = device is not None and device.type == "cuda"
        on_device = cuda and in_memory is not False and nbytes <= _device_budget(device)
        if in_memory is None:
            in_memory = on_device or nbytes <= _memory_budget()
        if in_memory:
            self.data = torch.empty(tuple(X.shape), dtype=torch.float32, device=device if on_device else "cpu")
            for start in range(0, len(X), 4096):   # chunked: never holds two full copies in memory
                block = np.asarray(X[start:start + 4096], dtype=np.float32)
                self.data[start:start + len(block)] = torch.from_numpy(block).to(self.data.device)
        else:
            self.data = X
        self.in_memory = in_memory
        self.on_device = on_device
        self.pin = cuda and not on_device

    def __call__(self, idx: np.ndarray):
        if self.on_device:
            return self.data[torch.from_numpy(idx).to(self.data.device)]
        if self.in_memory:
            batch = self.data[torch.from_numpy(idx)]
        else:
            batch = self.data[idx]
            if not self.pin:
                return batch
            batch = torch.from_numpy(np.asarray(batch, dtype=np.float32))
        return batch.pin_memory() if self.pin else batch


def _device_budget(device: torch.device) -> int:
    """Bytes the training set may take on a CUDA device: half its free memory."""
    free, _ = torch.cuda.mem_get_info(device)
    return int(free) // 2


def _memory_budget() -> int:
    """Bytes the training set may take in memory: half of the available memory (2 GiB if unknown)."""
    try:
        import psutil

        return int(psutil.virtual_memory().available) // 2
    except (ImportError, OSError):
        return 2 << 30


def _epoch_seeds(seed: int, epoch: int) -> tuple[np.random.Generator, int]:
    """Numpy generator for the batch order and torch seed (dropout) of one epoch, both from (seed, epoch)."""
    order_seq, torch_seq = np.random.SeedSequence([int(seed), int(epoch)]).spawn(2)
    return np.random.default_rng(order_seq), int(torch_seq.generate_state(1, dtype=np.uint64)[0] >> 1)


# ----------------------------------------------------------------------------------------------------
# the training loop


def _empty_history() -> dict:
    return {"epoch": [], "train_loss": [], "train_acc": [], "valid_loss": [], "valid_acc": [],
            "train_seconds": [], "epoch_seconds": []}


def _best_epoch(history: dict) -> tuple[int | None, float]:
    """Epoch (1-based) of the highest validation accuracy; the earliest one on ties."""
    if not history["valid_acc"]:
        return None, math.nan
    accs = np.asarray(history["valid_acc"], dtype=float)
    i = int(np.nanargmax(accs)) if np.isfinite(accs).any() else 0
    return history["epoch"][i], float(accs[i])


@dataclasses.dataclass
class _Run:
    """The state one training epoch works on (the settings are the :class:`TrainConfig`)."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    criterion: nn.Module
    batches: "_Batches"
    y_train: torch.Tensor
    device: torch.device
    progress: bool
    net: nn.Module | None = None          # what the forward pass calls: the model, or its DDP wrapper
    scaler: object | None = None          # torch.amp.GradScaler under fp16
    dist: Distributed = Distributed()

    def __post_init__(self):
        if self.net is None:
            self.net = self.model


def _settings(model: nn.Module, train_config: TrainConfig | None, settings: dict) -> TrainConfig:
    """The run's :class:`TrainConfig`: ``train_config`` with ``settings`` changed, or (without one) the
    model's own name, classes and dropout with ``settings``; refused when it does not describe the model."""
    spec = getattr(model, "spec", None)
    if spec is None:
        raise ValueError("model has no .spec; build it with genre_utils.models.build_model")
    kwargs = spec.get("kwargs", {})
    if train_config is None:
        train_config = TrainConfig(model=spec["name"], n_classes=int(kwargs.get("n_classes", N_GENRES)),
                                   dropout=float(kwargs.get("dropout", TrainConfig.dropout)),
                                   window_norm=bool(kwargs.get("per_window", False)),
                                   batchnorm=bool(kwargs.get("batchnorm", False)))
    cfg = train_config.replace(**settings) if settings else train_config
    mismatch = [f"{key} {getattr(cfg, key)} (settings) vs {value} (model)"
                for key, value in (("model", spec["name"]), ("n_classes", kwargs.get("n_classes")),
                                   ("dropout", kwargs.get("dropout")))
                if value is not None and getattr(cfg, key) != value]
    if mismatch:
        raise ValueError(f"the training settings do not describe the model: {', '.join(mismatch)}")
    return cfg


def _resume_record(spec, cfg: TrainConfig | dict | None, n_train, n_valid) -> dict:
    """What a resumed run must share with the run it continues (compared by :func:`resume_differences`)."""
    return {"model_spec": to_plain(spec), "train": cfg.to_dict() if isinstance(cfg, TrainConfig) else cfg,
            "data": {"n_train": n_train, "n_valid": n_valid}}


def fit(model: nn.Module, X_train, y_train, X_valid, y_valid, train_config: TrainConfig | None = None, *, out_dir,
        device=None, resume: bool = True, progress: bool = True, config: dict | None = None,
        in_memory: bool | None = None, keep_epochs: bool = True, deterministic: bool = True,
        eval_batch_size: int = 256, **settings) -> dict:
    """Train with Adam and cross-entropy, checkpointing after every epoch.

    Parameters
    ----------
    model : nn.Module
        A model from :func:`genre_utils.models.build_model` (its ``spec`` goes into the checkpoints).
        Its initial weights are the caller's (seed them with ``build_model(..., seed=...)``).
    X_train, X_valid : array-like, shape (N, height, frames)
        float16/float32 arrays or memmaps.
    y_train, y_valid : array-like of int, shape (N,)
        Class indices in ``[0, train_config.n_classes)``.
    train_config : TrainConfig, optional
        Every training setting (:func:`genre_utils.config.train_config` builds it from a profile): ``epochs``
        (a resumed run continues up to this number), ``batch_size`` (windows per optimiser step; the last
        batch of an epoch may be smaller), ``lr`` and ``weight_decay`` (Adam's learning rate, the peak of a
        one-cycle schedule, and L2 weight decay; paper: 2e-5 and 0.005), ``seed`` (batch order and dropout of
        every epoch), ``schedule`` (:func:`learning_rate`), ``n_classes``. Stored in every checkpoint
        (``'train_config'``, a plain dict). Its ``model``, ``n_classes`` and ``dropout`` must be the model's.
    **settings
        :class:`TrainConfig` fields that replace those of ``train_config``; without ``train_config`` they
        complete a config whose ``model``, ``n_classes``, ``dropout``, ``window_norm`` and ``batchnorm`` are
        the model's (``fit(model, ..., epochs=2, batch_size=20, lr=1e-3, weight_decay=0, seed=0, ...)``).
    out_dir : path-like
        Folder of the checkpoints ``epoch_{k:03d}.pt``, ``last.pt``, ``best.pt``.
    device : str or torch.device, optional
        Default: :func:`select_device` (cuda -> mps -> cpu). The model is moved there (channels_last).
        On the CPU, torch's thread count is set to the usable cores (:func:`set_threads`).
    resume : bool
        Continue from ``out_dir/last.pt`` if it exists. Its model spec, training settings and training and
        validation sizes must be these (:func:`genre_utils.config.resume_differences`); only ``epochs`` may
        change, and not under a one-cycle schedule, whose cycle it sets. Checkpoints written before the
        settings were one :class:`TrainConfig` (format ``genre_utils.checkpoint/1``) are not resumed. With
        False the run starts at epoch 1 and first deletes the checkpoints (``epoch_*.pt``, ``last.pt``,
        ``best.pt``) an earlier run left in ``out_dir``.
    progress : bool
        Show a tqdm bar per epoch.
    config : dict, optional
        Run description stored verbatim (as plain values) in every checkpoint, e.g. profile, data
        fingerprint, feature parameters.
    in_memory : bool, optional
        Hold the training set as one float32 tensor (default: if it takes at most half the available
        memory); otherwise each batch is read from ``X_train``.
    keep_epochs : bool
        Keep ``epoch_{k:03d}.pt`` for every epoch (a ``'crnn'`` checkpoint at (64, 235), 11.7 M
        parameters plus Adam's two moment estimates, is about 134 MB);
        with False only ``last.pt`` and ``best.pt`` are written.
    deterministic : bool
        Ask torch for deterministic algorithms during the run (``warn_only``; restored afterwards).
    eval_batch_size : int
        Batch size of the validation pass.

    Returns
    -------
    history : dict
        Lists per epoch: ``epoch`` (1-based), ``train_loss``, ``train_acc`` (averaged over the epoch's
        batches, in training mode with dropout, while the weights change), ``valid_loss``, ``valid_acc``
        (after the epoch, eval mode), ``train_seconds`` (the optimisation loop) and ``epoch_seconds``
        (including validation; checkpoint writing excluded); plus ``best_epoch`` and ``best_valid_acc``.
    """
    cfg = _settings(model, train_config, settings)
    dist = distributed(device)
    if len(X_train) != len(y_train) or len(X_valid) != len(y_valid):
        raise ValueError("X and y must have the same length")
    if len(y_train) == 0 or len(y_valid) == 0:
        raise ValueError("training and validation sets must not be empty")
    for name, labels in (("training", y_train), ("validation", y_valid)):
        labels = np.asarray(labels)
        if labels.min() < 0 or labels.max() >= cfg.n_classes:
            raise ValueError(f"{name} labels must lie in [0, {cfg.n_classes}), got {labels.min()}..{labels.max()}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = select_device(device)
    if dist.active and device.type == "cuda" and device.index is None:
        device = torch.device("cuda", dist.local_rank)   # one GPU per process
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if device.type == "cpu":
        set_threads(max(1, num_threads() // dist.local_world) if dist.active else None)
    if cfg.precision == "fp16" and device.type != "cuda":
        raise UserError("precision fp16 needs a CUDA device; use bf16 or fp32 on the CPU")
    record = _resume_record(model.spec, cfg, len(y_train), len(y_valid))
    config = to_plain(config or {})

    model.to(device=device, memory_format=torch.channels_last)
    optimizer = make_optimizer(model, cfg.lr, cfg.weight_decay)
    history = _empty_history()
    start_epoch = 0
    scaler = torch.amp.GradScaler("cuda") if cfg.precision == "fp16" else None
    if resume and (out_dir / "last.pt").exists():
        start_epoch, history = _restore(out_dir / "last.pt", model, optimizer, record, device, scaler)
    elif not resume:
        dist.barrier()   # every rank has looked at out_dir before rank 0 empties it
        if dist.main:
            for old in [*out_dir.glob("epoch_*.pt"), out_dir / "last.pt", out_dir / "best.pt"]:
                old.unlink(missing_ok=True)
    net = model
    if dist.active:
        from torch.nn.parallel import DistributedDataParallel

        if device.type == "cuda" and cfg.batchnorm:
            net = nn.SyncBatchNorm.convert_sync_batchnorm(model)   # same parameters, statistics over all ranks
        net = DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)

    y_train_t = torch.as_tensor(np.asarray(y_train, dtype=np.int64))
    run = _Run(model=model, optimizer=optimizer, criterion=nn.CrossEntropyLoss(),
               batches=_Batches(X_train, in_memory, device) if start_epoch < cfg.epochs else None,
               y_train=y_train_t, device=device, progress=progress and dist.main, net=net, scaler=scaler, dist=dist)
    progress = progress and dist.main

    previous_det = torch.are_deterministic_algorithms_enabled()
    previous_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    previous_benchmark = torch.backends.cudnn.benchmark
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    try:
        for epoch in range(start_epoch + 1, cfg.epochs + 1):
            t0 = time.perf_counter()
            train_loss, train_acc = _train_one_epoch(cfg, run, epoch)
            train_seconds = time.perf_counter() - t0
            valid_loss, valid_acc = _loss_and_accuracy(model, X_valid, y_valid, eval_batch_size, device)
            for key, value in (("epoch", epoch), ("train_loss", train_loss), ("train_acc", train_acc),
                               ("valid_loss", valid_loss), ("valid_acc", valid_acc),
                               ("train_seconds", train_seconds),
                               ("epoch_seconds", time.perf_counter() - t0)):
                history[key].append(value)
            if progress:
                tqdm.write(f"epoch {epoch}/{cfg.epochs}: train loss {train_loss:.4f} acc {train_acc:.3f} | "
                           f"valid loss {valid_loss:.4f} acc {valid_acc:.3f} | {train_seconds:.1f} s")
            if dist.main:
                _save_epoch(out_dir, run, cfg, record, epoch, history, config, keep_epochs)
            dist.barrier()
    finally:
        torch.use_deterministic_algorithms(previous_det, warn_only=previous_warn)
        torch.backends.cudnn.benchmark = previous_benchmark

    best_epoch, best_acc = _best_epoch(history)
    return {**history, "best_epoch": best_epoch, "best_valid_acc": best_acc}


def make_optimizer(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.Adam:
    """Adam with L2 weight decay (the paper's optimiser), in PyTorch's fused single-kernel form.

    The fused kernel computes the same update as the default implementation (same state, so checkpoints
    are interchangeable) and takes about a third of the optimiser's time on CPU. Devices without a fused
    kernel fall back to the default.
    """
    try:
        return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)


def learning_rate(step: int, total_steps: int, lr: float, schedule: str = "constant") -> float:
    """Learning rate of optimiser step ``step`` (0-based) out of ``total_steps``.

    ``'constant'`` returns ``lr`` throughout (the paper). ``'onecycle'`` (Smith and Topin's one-cycle
    policy, as ``torch.optim.lr_scheduler.OneCycleLR`` defines it) rises on a half cosine from ``lr / 25``
    to ``lr`` over the first 30 % of the steps, then falls on a half cosine to ``lr / 250,000`` at the last
    step; Adam's first-moment decay moves the opposite way (:func:`adam_beta1`). A pure function of the
    step, so a resumed run picks up exactly where the interrupted one stopped.

    Parameters
    ----------
    step : int
        Optimiser steps taken so far.
    total_steps : int
        Steps of the whole run (epochs x batches per epoch).
    lr : float
        Peak learning rate.
    schedule : {'constant', 'onecycle'}
    """
    if check_schedule(schedule) == "constant":
        return float(lr)
    return _one_cycle(step, total_steps, lr / 25.0, lr, lr / 25.0 / 1e4)


def adam_beta1(step: int, total_steps: int, schedule: str = "constant") -> float:
    """Adam's ``beta1`` at step ``step``: 0.9 (PyTorch's default) for ``'constant'``; for ``'onecycle'``
    from 0.95 down to 0.85 while the learning rate rises, and back to 0.95 while it falls (as
    ``OneCycleLR`` cycles it)."""
    if check_schedule(schedule) == "constant":
        return 0.9
    return _one_cycle(step, total_steps, 0.95, 0.85, 0.95)


def _one_cycle(step, total_steps, start, peak, end) -> float:
    """Half-cosine from ``start`` to ``peak`` over 30 % of the steps, then half-cosine to ``end``."""
    rise = max(1.0, 0.3 * total_steps - 1)          # the step at which the peak is reached
    if step <= rise:
        frac, a, b = step / rise, start, peak
    else:
        frac, a, b = min(1.0, (step - rise) / max(1.0, total_steps - 1 - rise)), peak, end
    return float(b + (a - b) * (1 + math.cos(math.pi * frac)) / 2)


def _train_one_epoch(cfg: TrainConfig, run: _Run, epoch: int) -> tuple[float, float]:
    """One pass over the training set in a seeded order; returns the batch-averaged loss and accuracy."""
    model, optimizer, device = run.model, run.optimizer, run.device
    order_rng, torch_seed = _epoch_seeds(cfg.seed, epoch)
    order = order_rng.permutation(len(run.y_train))
    torch.manual_seed(torch_seed)
    model.train()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    batch_size = cfg.batch_size
    n_batches = math.ceil(len(order) / batch_size)
    first_step, total_steps = (epoch - 1) * n_batches, cfg.epochs * n_batches
    bar = tqdm(range(n_batches), desc=f"epoch {epoch}/{cfg.epochs}", unit="batch", leave=False,
               disable=not run.progress)
    dist = run.dist
    for b in bar:
        idx = order[b * batch_size:(b + 1) * batch_size]
        weight = None
        if dist.active:   # this rank's share of the global batch, its loss weighted by the share's size
            shares = np.array_split(idx, dist.world)
            weight = len(shares[dist.rank]) * dist.world / len(idx)
            idx = shares[dist.rank] if len(shares[dist.rank]) else shares[0][:1]   # an empty share adds 0
        xb = _to_input(run.batches(idx), device)
        yb = run.y_train[torch.from_numpy(idx)].to(device, non_blocking=True)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(first_step + b, total_steps, cfg.lr, cfg.schedule)
            group["betas"] = (adam_beta1(first_step + b, total_steps, cfg.schedule), group["betas"][1])
        with _autocast(device, cfg.precision):
            logits = run.net(xb)
            loss = run.criterion(logits.float(), yb) if cfg.precision != "fp32" else run.criterion(logits, yb)
        optimizer.zero_grad(set_to_none=True)
        scaled = loss if weight is None else loss * weight
        if run.scaler is not None:
            run.scaler.scale(scaled).backward()
            run.scaler.step(optimizer)
            run.scaler.update()
        else:
            scaled.backward()
            optimizer.step()
        if weight != 0:
            loss_sum += loss.detach().float() * len(idx)
            correct += (logits.detach().argmax(dim=1) == yb).sum()
        if run.progress and (b % 10 == 9 or b == n_batches - 1):
            bar.set_postfix(loss=f"{loss_sum.item() / min((b + 1) * batch_size, len(order)):.4f}")
    if dist.active:   # the epoch's totals over all ranks
        totals = torch.stack([loss_sum.double(), correct.double()])
        torch.distributed.all_reduce(totals)
        return totals[0].item() / len(order), totals[1].item() / len(order)
    return loss_sum.item() / len(order), correct.item() / len(order)


def _checkpoint(run: _Run, cfg: TrainConfig, record: dict, epoch, history, config) -> dict:
    best_epoch, best_acc = _best_epoch(history)
    return {
        "format": CHECKPOINT_FORMAT,
        "model_spec": record["model_spec"],
        "model_state": {k: v.detach().cpu().contiguous() for k, v in run.model.state_dict().items()},
        "optimizer_state": run.optimizer.state_dict(),
        "epoch": int(epoch),
        "history": to_plain(history),
        "best_epoch": best_epoch,
        "best_valid_acc": best_acc,
        "train_config": cfg.to_dict(),
        "data": dict(record["data"]),
        # every epoch reseeds from (seed, epoch), so the seed is all a resumed run needs; the torch
        # generator state is kept for inspection
        "rng": {"seed": int(cfg.seed), "next_epoch": int(epoch) + 1, "torch_cpu": torch.get_rng_state()},
        **({"scaler_state": run.scaler.state_dict()} if run.scaler is not None else {}),
        "config": config,
        "versions": {"torch": str(torch.__version__)},
    }


def _save_epoch(out_dir, run: _Run, cfg: TrainConfig, record: dict, epoch, history, config, keep_epochs):
    ckpt = _checkpoint(run, cfg, record, epoch, history, config)
    if keep_epochs:
        atomic_torch_save(ckpt, out_dir / f"epoch_{epoch:03d}.pt")
    atomic_torch_save(ckpt, out_dir / "last.pt")
    if ckpt["best_epoch"] == epoch:
        atomic_torch_save(ckpt, out_dir / "best.pt")


def _restore(path, model, optimizer, record: dict, device, scaler=None) -> tuple[int, dict]:
    """Load weights, optimizer state and history of ``last.pt`` into a fresh run, if it continues this one
    (:func:`genre_utils.config.resume_differences`, the check the run-folder check of ``train_run`` uses)."""
    ckpt = _read_checkpoint(path)
    if ckpt["format"] != CHECKPOINT_FORMAT:
        raise RunMismatchError(f"{path}: cannot resume a checkpoint of an earlier format ({ckpt['format']}, written "
                               f"before the training settings were one TrainConfig); use another out_dir or "
                               "resume=False")
    stored = _resume_record(ckpt["model_spec"], ckpt.get("train_config"), *(
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
    history = _empty_history()
    for key in history:
        history[key] = list(ckpt["history"].get(key, []))
    return int(ckpt["epoch"]), history


def _read_checkpoint(path) -> dict:
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
    return _read_checkpoint(path).get("config")


def read_history(run_dir) -> dict:
    """The full training history of a run (from its ``last.pt``; ``best.pt`` stops at the best epoch)."""
    return _read_checkpoint(Path(run_dir) / "last.pt")["history"]


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
    ckpt = _read_checkpoint(path)
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
        from .config import FeatureParams

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
