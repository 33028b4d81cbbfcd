"""Where training and prediction run: device choice, threads, mixed precision and the distributed group.

:func:`select_device` picks CUDA, then Apple's MPS, then the CPU (or checks the user's choice);
:func:`default_precision` and the autocast context decide the arithmetic; :func:`distributed` joins the
process group ``torchrun`` sets up (NCCL on GPUs, gloo on CPUs) and returns this process's rank and share.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import os
import platform

import numpy as np
import torch
from torch import nn

from .config import num_threads
from .errors import UserError

__all__ = ["select_device", "set_threads", "default_precision", "scoring_precision", "cpu_bf16_units", "PRECISION_ENV",
           "Distributed", "distributed", "model_device", "model_dtype", "to_input", "precision_context"]


# ----------------------------------------------------------------------------------------------------
# device and threads


def select_device(preference=None) -> torch.device:
    """The device to compute on: CUDA if available, else Apple's MPS, else the CPU.

    Parameters
    ----------
    preference : str or torch.device, optional
        ``'cpu'``, ``'cuda'``, ``'cuda:1'``, ``'mps'``; None or ``'auto'`` picks automatically.

    Raises
    ------
    genre_utils.errors.UserError
        If ``preference`` names no device this package computes on (``cpu``, ``cuda``, ``cuda:N``, ``mps``),
        or one this machine does not have (a ValueError).
    """
    if isinstance(preference, torch.device):
        preference = str(preference)
    if preference in (None, "", "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    expected = "expected cpu, cuda, cuda:N, mps or auto"
    try:
        device = torch.device(str(preference).strip().lower())
    except (RuntimeError, TypeError, ValueError):
        raise UserError(f"unknown device {preference!r}; {expected}") from None
    if device.type not in ("cpu", "cuda", "mps"):
        raise UserError(f"device {preference!r} is not supported; {expected}")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError(f"device {preference!r} requested but CUDA is not available on this machine; "
                            "use --device cpu (or leave --device out to pick the first available)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            n = torch.cuda.device_count()
            raise UserError(f"device {preference!r} requested but this machine has {n} CUDA device(s), "
                            f"cuda:0 to cuda:{n - 1}")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UserError(f"device {preference!r} requested but MPS is not available on this machine; "
                        "use --device cpu (or leave --device out to pick the first available)")
    return device


def set_threads(n: int | None = None) -> int:
    """Set torch's intra-op thread count (default: the cores this process may use) and return it."""
    n = int(n or num_threads())
    torch.set_num_threads(n)
    return n


#: glibc's ``mallopt`` parameters (``<malloc.h>``).
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4


def reuse_freed_memory() -> bool:
    """Ask glibc to keep freed memory for the next allocation instead of handing it back (Linux with glibc).

    A CPU training step allocates and frees hundreds of MB of activations. By default glibc serves each
    large block with a fresh ``mmap`` and unmaps it when it is freed, so every step touches all of that
    memory anew: measured on the quick profile's CRNN (batch 50, 2 cores), about 80,000 page faults and
    0.16-0.20 s of system time a step, 0.50 s a step in all. With ``mmap`` off and the trim threshold at
    2 GiB, freed blocks stay in the heap and the next step reuses them: 2,000 page faults, 0.40 s a step.
    The arithmetic is unchanged (the same kernels on the same numbers); what changes is that the process's
    resident memory stays near its peak instead of shrinking between steps.

    Returns
    -------
    applied : bool
        False where there is no glibc (macOS, Windows, musl), and nothing was changed.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return libc.mallopt(_M_MMAP_MAX, 0) == 1 and libc.mallopt(_M_TRIM_THRESHOLD, 2 ** 31 - 1) == 1


#: Environment variable naming the training arithmetic (``fp32``, ``bf16`` or ``fp16``) instead of
#: :func:`default_precision`'s choice: ``GENRE_UTILS_PRECISION=fp32 make book`` trains in plain float32 on any
#: machine.
PRECISION_ENV = "GENRE_UTILS_PRECISION"


def cpu_bf16_units() -> bool:
    """Whether this CPU has bfloat16 dot-product instructions (Intel AMX, or AVX512-BF16 as on AMD Zen 4 and
    Intel Cooper Lake), which oneDNN's bf16 convolutions use; without them bf16 is emulated and slower."""
    cpu = getattr(torch, "cpu", None)
    checks = [getattr(cpu, name, None) for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")]
    try:
        return any(bool(check()) for check in checks if check is not None)
    except RuntimeError:
        return False


def default_precision(device) -> str:
    """The arithmetic a run trains in when none is asked for: ``'bf16'`` (autocast; weights and Adam stay float32)
    on a CUDA device that supports bfloat16 and on a CPU with bfloat16 units (:func:`cpu_bf16_units`), else
    ``'fp32'`` (MPS, and CPUs without them). ``$GENRE_UTILS_PRECISION`` overrides.

    On the project's two-core Intel Xeon (AMX) a CRNN training step of the quick profile takes 0.21 s in bf16
    against 0.47 s in fp32, and the three seeds of the quick main run scored 100, 101 and 117 of 170 test
    tracks in bf16 against 88, 109 and 105 in fp32: the same accuracy within the seeds' spread.
    """
    wanted = os.environ.get(PRECISION_ENV, "").strip().lower()
    if wanted:
        if wanted not in ("fp32", "bf16", "fp16"):
            raise UserError(f"{PRECISION_ENV}={wanted!r} is not a precision; use fp32, bf16 or fp16")
        return wanted
    return "bf16" if _bf16_units(torch.device(device)) else "fp32"


def _bf16_units(device: torch.device) -> bool:
    """Whether ``device`` computes in bfloat16 natively: a CUDA device that supports it, or a CPU with
    :func:`cpu_bf16_units` (MPS and other CPUs would emulate it)."""
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return device.type == "cpu" and cpu_bf16_units()


def scoring_precision(trained: str, device) -> str:
    """The arithmetic to score a model in that trained in ``trained``: the same where ``device`` has the units for
    it (bf16 on a CUDA device that supports bfloat16 or a CPU with :func:`cpu_bf16_units`; fp16 on CUDA), else
    ``'fp32'``. A model is scored as it trained (its validation accuracy, which chose the best epoch, was measured
    that way); where the hardware would only emulate that arithmetic, plain float32 is both faster and exact.

    On the project's two-core Xeon (AMX) a quick CRNN scores a 5-s window in 3.3 ms in bf16 against 7.0 ms in
    fp32 (one thread); 766 of 768 test windows keep their top genre.
    """
    device = torch.device(device)
    if trained == "bf16" and _bf16_units(device):
        return "bf16"
    if trained == "fp16" and device.type == "cuda":
        return "fp16"
    return "fp32"


def precision_context(device: torch.device, precision: str):
    """The forward pass's context: nothing at all for fp32 (plain float32 numbers), autocast otherwise."""
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision == "fp16" and device.type != "cuda":
        raise UserError("precision fp16 needs a CUDA device; use bf16 or fp32 on the CPU")
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16 if precision == "bf16" else torch.float16)


# ----------------------------------------------------------------------------------------------------
# several processes (torchrun): DistributedDataParallel


@dataclasses.dataclass(frozen=True)
class Distributed:
    """This process's place among the training processes: ``rank`` of ``world`` (``local_rank`` on its node)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        """Whether this process writes checkpoints and results (rank 0)."""
        return self.rank == 0

    def barrier(self) -> None:
        if self.active:
            torch.distributed.barrier()

    def agree(self, flag: bool) -> bool:
        """True on every process when ``flag`` is true on any (so all of them stop at the same step)."""
        if not self.active:
            return bool(flag)
        on = "cuda" if torch.distributed.get_backend() == "nccl" else "cpu"   # NCCL reduces device tensors only
        box = torch.tensor([1.0 if flag else 0.0], device=on)
        torch.distributed.all_reduce(box, op=torch.distributed.ReduceOp.MAX)
        return bool(box.item())

    def broadcast(self, value):
        """Rank 0's ``value`` (any picklable object), on every rank."""
        if not self.active:
            return value
        box = [value]
        torch.distributed.broadcast_object_list(box, src=0)
        return box[0]


def distributed(device=None) -> Distributed:
    """The process group torchrun describes (``WORLD_SIZE`` > 1 in the environment), joined on first call.

    The backend is NCCL when ``device`` is (or, unset, would be) CUDA, gloo otherwise. Without torchrun's
    variables: a single process, ``Distributed()``.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Distributed()
    import torch.distributed as dist

    if not dist.is_initialized():
        cuda = select_device(device).type == "cuda"
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    return Distributed(rank=dist.get_rank(), world=dist.get_world_size(),
                       local_rank=int(os.environ.get("LOCAL_RANK", "0")),
                       local_world=int(os.environ.get("LOCAL_WORLD_SIZE", str(dist.get_world_size()))))


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's parameters (the CPU for a model without any)."""
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


def model_dtype(model: nn.Module) -> torch.dtype:
    """The floating dtype of the model's parameters: float32 normally, float64 for a model made ``.double()``."""
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.float32


def to_input(batch, device, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """numpy/torch (B, H, W) batch -> (B, 1, H, W) channels_last tensor of ``dtype`` on ``device``."""
    if not isinstance(batch, torch.Tensor):
        batch = torch.from_numpy(np.asarray(batch, dtype=np.float32))
    x = batch.to(device=device, dtype=dtype, non_blocking=True)
    if x.dim() == 3:
        x = x.unsqueeze(1)
    return x.contiguous(memory_format=torch.channels_last)
