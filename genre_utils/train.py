"""Training (paper section 5.3): Adam, cross-entropy, a checkpoint after every epoch, resumable, seeded.

The loop is plain PyTorch, written to be read in one sitting (:func:`fit`, then :func:`train_one_epoch`):

1. every epoch draws its batch order from a numpy generator seeded by ``(seed, epoch)`` and reseeds torch
   (dropout) from the same pair, so an epoch does the same work whether or not the run was interrupted
   before it;
2. batches are slices of one in-memory float32 tensor (or, when the training set does not fit in memory,
   rows read from the store's memmap), with no per-item ``Dataset``/``DataLoader`` overhead;
3. after the epoch the model is evaluated on the validation windows and a checkpoint
   (``epoch_{k:03d}.pt``, ``last.pt``, and ``best.pt`` when validation accuracy improved) is written
   atomically.

What the loop calls lives beside it: the checkpoints' writing and resuming in :mod:`genre_utils.checkpoints`,
the early stop and step log in :mod:`genre_utils.budget`, the monitoring functions (the paper's names,
:func:`get_accuracy`, :func:`get_loss`, :func:`get_accuracy_per_genre`) in :mod:`genre_utils.monitor`, the
device, threads, precision and process group in :mod:`genre_utils.devices`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .budget import Budget
from .checkpoints import (
    CHECKPOINT_FORMAT,
    best_epoch,
    checkpoint_config,
    checkpoint_dict,
    empty_history,
    load_checkpoint,
    read_history,
    restore,
    resume_record,
    save_epoch,
)
from .config import N_GENRES, TrainConfig, check_schedule, num_threads
from .devices import (
    Distributed,
    default_precision,
    distributed,
    model_dtype,
    precision_context,
    reuse_freed_memory,
    scoring_precision,
    select_device,
    set_threads,
    to_input,
)
from .errors import UserError
from .monitor import get_accuracy, get_accuracy_per_genre, get_loss, iter_logits, loss_and_accuracy
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
    "train_one_epoch",
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


# ----------------------------------------------------------------------------------------------------
# batches


class Batches:
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


@dataclasses.dataclass
class Run:
    """The state one training epoch works on (the settings are the :class:`TrainConfig`)."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    criterion: nn.Module
    batches: "Batches"
    y_train: torch.Tensor
    device: torch.device
    progress: bool
    net: nn.Module | None = None          # what the forward pass calls: the model, or its DDP wrapper
    scaler: object | None = None          # torch.amp.GradScaler under fp16
    dist: Distributed = Distributed()
    budget: Budget | None = None          # when to stop early, and the step log (None: run every epoch)

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


def fit(model: nn.Module, X_train, y_train, X_valid, y_valid, train_config: TrainConfig | None = None, *, out_dir,
        device=None, resume: bool = True, progress: bool = True, config: dict | None = None,
        in_memory: bool | None = None, keep_epochs: bool = True, deterministic: bool = True,
        eval_batch_size: int = 256, max_steps: int | None = None, time_limit: float | None = None,
        eval_every: int | None = None, **settings) -> dict:
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
    max_steps : int, optional
        Stop once the run has taken this many optimiser steps in all (counting the steps of the runs it
        resumes). Not a training setting: the same call with a larger (or no) limit continues the run.
    time_limit : float, optional
        Stop after the first step that ends this many seconds after training started in this call.
        A stop inside an epoch writes ``last.pt`` with the epoch's progress (``'partial'``: steps done, the
        loss and accuracy sums so far, the torch random state of every process), and the next call resumes
        at the following step with the same batch order and dropout draws, so a run stopped and resumed
        ends with the weights of one that never stopped (same machine; under torchrun, the same number of
        processes). ``best.pt`` and the per-epoch history change only at the end of an epoch.
    eval_every : int, optional
        Evaluate the validation set every this many steps (and at a stop) and log a row (``step_log``).

    Returns
    -------
    history : dict
        Lists per epoch: ``epoch`` (1-based), ``train_loss``, ``train_acc`` (averaged over the epoch's
        batches, in training mode with dropout, while the weights change), ``valid_loss``, ``valid_acc``
        (after the epoch, eval mode), ``train_seconds`` (the optimisation loop) and ``epoch_seconds``
        (including validation; checkpoint writing excluded); plus ``best_epoch`` and ``best_valid_acc``,
        ``step_log`` (the rows of ``eval_every``, kept in the checkpoints across resumes), ``step_log_from``
        (the index of the first row this call wrote; the rows before it come from the run it resumed) and ``stopped``
        (None after the last epoch; else ``{'reason': 'max_steps' or 'time_limit', 'step': steps taken,
        'epoch': steps / steps per epoch}``).
    """
    cfg = _settings(model, train_config, settings)
    _check_data(cfg, X_train, y_train, X_valid, y_valid)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device, dist = _place(device)
    if cfg.precision == "fp16" and device.type != "cuda":
        raise UserError("precision fp16 needs a CUDA device; use bf16 or fp32 on the CPU")
    record = resume_record(model.spec, cfg, len(y_train), len(y_valid))
    scoring = scoring_precision(cfg.precision, device)   # validated as it will be scored (choosing the best epoch)
    config = to_plain(config or {})

    # the model, Adam, and (fp16 only) the loss scaler; then the state of the run this one continues, if any
    model.to(device=device, memory_format=torch.channels_last)
    optimizer = make_optimizer(model, cfg.lr, cfg.weight_decay)
    scaler = torch.amp.GradScaler("cuda") if cfg.precision == "fp16" else None
    start_epoch, history, partial, log, seconds = _continue_or_start(out_dir, resume, dist, model, optimizer,
                                                                    record, device, scaler)
    run = Run(model=model, optimizer=optimizer, criterion=nn.CrossEntropyLoss(),
              batches=Batches(X_train, in_memory, device) if start_epoch < cfg.epochs else None,
              y_train=torch.as_tensor(np.asarray(y_train, dtype=np.int64)), device=device,
              progress=progress and dist.main, net=_data_parallel(model, cfg, device, dist), scaler=scaler,
              dist=dist, budget=Budget(max_steps, time_limit, eval_every, log, seconds, X_valid, y_valid,
                                       eval_batch_size, scoring))
    n_batches = math.ceil(len(run.y_train) / cfg.batch_size)
    if start_epoch == 0 and partial is None:
        run.budget.first_row(run)

    stopped = None
    with _algorithms(device, deterministic):
        for epoch in range(start_epoch + 1, cfg.epochs + 1):
            steps = (epoch - 1) * n_batches + (partial or {}).get("steps", 0)
            if max_steps is not None and steps >= max_steps:
                stopped = {"reason": "max_steps", "step": steps, "epoch": steps / n_batches}
                break
            t0, earlier = time.perf_counter(), (partial or {}).get("seconds", 0.0)
            train_loss, train_acc, state = train_one_epoch(cfg, run, epoch, partial)
            partial = None
            if state is not None:   # stopped inside the epoch: keep its progress, resume at the next step
                stopped = {"reason": run.budget.reason, "step": (epoch - 1) * n_batches + state["steps"],
                           "epoch": epoch - 1 + state["steps"] / n_batches}
                if dist.main:
                    atomic_torch_save({**checkpoint_dict(model, optimizer, cfg, record, epoch - 1, history, config,
                                                         run.budget.log, scaler), "partial": state},
                                      out_dir / "last.pt")
                dist.barrier()
                break
            train_seconds = time.perf_counter() - t0 + earlier
            valid_loss, valid_acc = loss_and_accuracy(model, X_valid, y_valid, eval_batch_size, device, scoring)
            for key, value in (("epoch", epoch), ("train_loss", train_loss), ("train_acc", train_acc),
                               ("valid_loss", valid_loss), ("valid_acc", valid_acc),
                               ("train_seconds", train_seconds), ("epoch_seconds", time.perf_counter() - t0)):
                history[key].append(value)
            if run.progress:
                tqdm.write(f"epoch {epoch}/{cfg.epochs}: train loss {train_loss:.4f} acc {train_acc:.3f} | "
                           f"valid loss {valid_loss:.4f} acc {valid_acc:.3f} | {train_seconds:.1f} s")
            if dist.main:
                save_epoch(out_dir, checkpoint_dict(model, optimizer, cfg, record, epoch, history, config,
                                                    run.budget.log, scaler), keep_epochs)
            dist.barrier()
            if run.budget.reason and epoch < cfg.epochs:   # the limit fell on the epoch's last step
                stopped = {"reason": run.budget.reason, "step": epoch * n_batches, "epoch": float(epoch)}
                break

    best, best_acc = best_epoch(history)
    return {**history, "best_epoch": best, "best_valid_acc": best_acc, "step_log": run.budget.log,
            "step_log_from": run.budget.log_from, "stopped": stopped}


def _check_data(cfg: TrainConfig, X_train, y_train, X_valid, y_valid) -> None:
    """Refuse mismatched lengths, an empty split and labels outside ``[0, n_classes)`` (a ValueError)."""
    if len(X_train) != len(y_train) or len(X_valid) != len(y_valid):
        raise ValueError("X and y must have the same length")
    if len(y_train) == 0 or len(y_valid) == 0:
        raise ValueError("training and validation sets must not be empty")
    for name, labels in (("training", y_train), ("validation", y_valid)):
        labels = np.asarray(labels)
        if labels.min() < 0 or labels.max() >= cfg.n_classes:
            raise ValueError(f"{name} labels must lie in [0, {cfg.n_classes}), got {labels.min()}..{labels.max()}")


def _place(device) -> tuple[torch.device, Distributed]:
    """The device this process trains on and the process group: one GPU per process under torchrun; on the
    CPU the usable cores shared among the node's processes, and freed memory kept for reuse."""
    dist = distributed(device)
    device = select_device(device)
    if dist.active and device.type == "cuda" and device.index is None:
        device = torch.device("cuda", dist.local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if device.type == "cpu":
        set_threads(max(1, num_threads() // dist.local_world) if dist.active else None)
        reuse_freed_memory()
    return device, dist


def _continue_or_start(out_dir: Path, resume: bool, dist: Distributed, model, optimizer, record, device, scaler):
    """The finished epochs, history, progress inside an epoch, step log and training seconds of the run
    ``out_dir/last.pt`` holds when this call continues it; else a fresh start (without ``resume``, after rank 0
    has deleted the checkpoints an earlier run left)."""
    if resume and (out_dir / "last.pt").exists():
        start_epoch, history, partial, log = restore(out_dir / "last.pt", model, optimizer, record, device, scaler)
        seconds = log[-1]["seconds"] if log else sum(history["train_seconds"]) + (partial or {}).get("seconds", 0)
        return start_epoch, history, partial, log, seconds
    if not resume:
        dist.barrier()   # every rank has looked at out_dir before rank 0 empties it
        if dist.main:
            for old in [*out_dir.glob("epoch_*.pt"), out_dir / "last.pt", out_dir / "best.pt"]:
                old.unlink(missing_ok=True)
    return 0, empty_history(), None, [], 0.0


def _data_parallel(model: nn.Module, cfg: TrainConfig, device, dist: Distributed) -> nn.Module:
    """What the forward pass calls: the model, or under torchrun its DistributedDataParallel wrapper (batch
    norm statistics synchronised across GPUs)."""
    if not dist.active:
        return model
    from torch.nn.parallel import DistributedDataParallel  # only under torchrun

    net = model
    if device.type == "cuda" and cfg.batchnorm:
        net = nn.SyncBatchNorm.convert_sync_batchnorm(model)   # same parameters, statistics over all ranks
    return DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)


@contextlib.contextmanager
def _algorithms(device, deterministic: bool):
    """Deterministic algorithms (warn-only) and, on CUDA, cuDNN's autotuner for the run; restored after."""
    previous = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
                torch.backends.cudnn.benchmark)
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])
        torch.backends.cudnn.benchmark = previous[2]


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


def train_one_epoch(cfg: TrainConfig, run: Run, epoch: int, partial: dict | None = None):
    """One pass over the training set in a seeded order.

    Returns the batch-averaged loss and accuracy, and None; or, when ``run.budget`` stops the run inside
    the epoch, NaNs and the epoch's progress (what ``partial`` takes to resume it at the next step).
    """
    model, optimizer, device, dist = run.model, run.optimizer, run.device, run.dist
    order_rng, torch_seed = _epoch_seeds(cfg.seed, epoch)
    order = order_rng.permutation(len(run.y_train))
    torch.manual_seed(torch_seed)
    model.train()
    dtype = model_dtype(model)   # float32, or float64 for a model made .double() (the multi-process test)
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    first_batch, t0 = 0, time.perf_counter()
    if partial is not None:   # resume after the steps an earlier call took (their sums are on rank 0)
        first_batch = int(partial["steps"])
        _set_rng_state(partial["rng"][dist.rank % len(partial["rng"])], device)
        if dist.main:
            loss_sum += float(partial["loss_sum"])
            correct += int(partial["correct"])
        t0 -= float(partial["seconds"])
    batch_size = cfg.batch_size
    n_batches = math.ceil(len(order) / batch_size)
    first_step, total_steps = (epoch - 1) * n_batches, cfg.epochs * n_batches
    bar = tqdm(range(first_batch, n_batches), desc=f"epoch {epoch}/{cfg.epochs}", unit="batch", leave=False,
               disable=not run.progress, initial=first_batch, total=n_batches)
    for b in bar:
        run.budget.start_step()
        idx = order[b * batch_size:(b + 1) * batch_size]
        weight = None
        if dist.active:   # this rank's share of the global batch, its loss weighted by the share's size
            shares = np.array_split(idx, dist.world)
            weight = len(shares[dist.rank]) * dist.world / len(idx)
            idx = shares[dist.rank] if len(shares[dist.rank]) else shares[0][:1]   # an empty share adds 0
        xb = to_input(run.batches(idx), device, dtype)
        yb = run.y_train[torch.from_numpy(idx)].to(device, non_blocking=True)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(first_step + b, total_steps, cfg.lr, cfg.schedule)
            group["betas"] = (adam_beta1(first_step + b, total_steps, cfg.schedule), group["betas"][1])
        with precision_context(device, cfg.precision):
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
        hits = (logits.detach().argmax(dim=1) == yb).sum() if weight != 0 else torch.zeros_like(correct)
        n_used = len(idx) if weight != 0 else 0
        loss_sum += loss.detach().float() * n_used
        correct += hits
        if run.progress and (b % 10 == 9 or b == n_batches - 1):
            bar.set_postfix(loss=f"{loss_sum.item() / min((b + 1) * batch_size, len(order)):.4f}")
        if run.budget.end_step(run, first_step + b + 1, n_batches, loss, hits, n_used) and b < n_batches - 1:
            bar.close()
            totals = _rank_sum(dist, loss_sum, correct)
            return math.nan, math.nan, {"steps": b + 1, "loss_sum": totals[0], "correct": int(round(totals[1])),
                                        "seconds": time.perf_counter() - t0, "rng": _gather_rng_states(dist, device)}
    totals = _rank_sum(dist, loss_sum, correct)
    return totals[0] / len(order), totals[1] / len(order), None


def _rank_sum(dist: Distributed, loss_sum, correct) -> tuple[float, float]:
    """The loss and correct-answer sums over all processes (this process's alone when not distributed)."""
    totals = torch.stack([loss_sum.double(), correct.double()])
    if dist.active:
        torch.distributed.all_reduce(totals)
    return float(totals[0]), float(totals[1])


def _gather_rng_states(dist: Distributed, device) -> list:
    """Every process's torch random state (CPU, and the CUDA device's), in rank order."""
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    if not dist.active:
        return [state]
    states = [None] * dist.world
    torch.distributed.all_gather_object(states, state)
    return states


def _set_rng_state(state: dict, device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)
