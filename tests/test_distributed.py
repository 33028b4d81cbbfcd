"""DistributedDataParallel over torch.distributed (gloo on the CPU): two processes, each taking its share of
every global batch, end where one process with the same global batch ends, and a run interrupted after epoch 1
and inside epoch 2 resumes under DDP to the same weights; ``torchrun`` itself launches ``genre-utils train`` on
two processes.

Why the equivalence test trains in float64. The two runs sum the same gradient terms in different orders (one
process with two threads; two processes with one thread each, then gloo's all-reduce), so their gradients
differ by rounding, and which CPU kernel runs (AVX2 on one machine, AVX-512 on another) changes those orders
again. Adam then divides each gradient by its running root mean square: for a gradient near zero the update
``lr * g / (|g| + eps)`` moves by up to ``lr / eps`` times the gradient's rounding error (1e5 here). In
float32, rounding errors of about 1e-9 on such gradients can move a weight by 1e-4 in one step: no tolerance
that small differences could fail derives from that, and one fixed at 1e-5 held on AMD and failed on Intel.
In float64 the same errors are about 1e-17, so even amplified by 1e5 over 6 steps they stay below 1e-10;
the test allows 1e-7, a margin of 1,000 that no CPU's summation order approaches, while a real difference
(a share counted twice, a missing all-reduce, another batch order) moves weights by about lr = 1e-3.
"""

import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from genre_utils.models import build_model
from genre_utils.train import Distributed, distributed, fit

SHAPE = (64, 60)
# dropout 0 and no batch norm: with them each rank would draw its own masks and normalise over its own share,
# so the runs would differ by design, not by rounding
SETTINGS = dict(batch_size=15, lr=1e-3, weight_decay=0.005, seed=7, device="cpu", progress=False)


def data():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 10, 50)
    X = rng.normal(size=(50, *SHAPE)).astype(np.float32)
    for i, c in enumerate(y):
        X[i, c * 6:(c + 1) * 6] += 0.5
    return X.astype(np.float16), y.astype(np.int64)


def model():
    # float64 weights, gradients and all-reduce (the batches follow the model's dtype): see the module docstring
    return build_model("crnn-temporal", input_shape=SHAPE, dropout=0.0, seed=1).double()


def _worker(rank, world, port, out_dir):
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    X, y = data()
    try:
        # 36 training windows in global batches of 15: shares of 8 + 7, 8 + 7 and 3 + 3 windows. Three calls:
        # one epoch; then a stop inside epoch 2 (after its first step, --max-steps 4); then the rest
        fit(model(), X[:36], y[:36], X[36:], y[36:], epochs=1, out_dir=out_dir, **SETTINGS)
        stopped = fit(model(), X[:36], y[:36], X[36:], y[36:], epochs=2, out_dir=out_dir, max_steps=4, **SETTINGS)
        assert stopped["stopped"]["step"] == 4 and stopped["epoch"] == [1]
        history = fit(model(), X[:36], y[:36], X[36:], y[36:], epochs=2, out_dir=out_dir, **SETTINGS)
        assert distributed().world == world and history["epoch"] == [1, 2] and history["stopped"] is None
    finally:
        torch.distributed.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_single_process_is_not_distributed(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert distributed() == Distributed() and Distributed().main and not Distributed().active


@pytest.mark.slow
def test_two_gloo_processes_equal_one_with_the_same_global_batch(tmp_path):
    X, y = data()
    single = fit(model(), X[:36], y[:36], X[36:], y[36:], epochs=2, out_dir=tmp_path / "one", **SETTINGS)
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path / "two")), nprocs=2, join=True)
    a = torch.load(tmp_path / "one" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "two" / "last.pt", weights_only=True)
    assert b["epoch"] == 2 and b["history"]["epoch"] == [1, 2]
    assert b["train_config"] == a["train_config"]   # the global batch is the run's, whatever the process count
    # float64 throughout: rounding differences of about 1e-17, amplified at most 1e5-fold by Adam over 6 steps,
    # against a tolerance of 1e-7 (the module docstring derives it); a real difference moves weights by ~1e-3
    for name, wa in a["model_state"].items():
        wb = b["model_state"][name]
        if wa.is_floating_point():
            assert wa.dtype == torch.float64, name
            assert torch.allclose(wa, wb, rtol=0, atol=1e-7), (name, float((wa - wb).abs().max()))
        else:
            assert torch.equal(wa, wb), name
    assert np.allclose(single["train_loss"], b["history"]["train_loss"], rtol=1e-5)
    assert np.allclose(single["valid_loss"], b["history"]["valid_loss"], rtol=1e-5)
    assert single["valid_acc"] == b["history"]["valid_acc"]


@pytest.mark.slow
def test_torchrun_launches_genre_utils_train_on_two_processes(tmp_path):
    """The README's command, on the CPU with gloo: rank 0 alone reports and writes; a stop and a resume."""
    from fixtures_audio import make_gtzan_tree

    from genre_utils.cli import main
    from genre_utils.config import get_profile
    from genre_utils.genres import GENRES

    make_gtzan_tree(tmp_path / "gtzan", "tarball", GENRES, range(4), seconds=10.5)
    assert main(["dataset", "--gtzan", str(tmp_path / "gtzan"), "--profile", "tiny", "--out", str(tmp_path / "ds"),
                 "--workers", "1", "--quiet"]) == 0
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "genre_utils.cli", "train", "--data", str(tmp_path / "ds"), "--out", str(run), "--device", "cpu",
           "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    first = subprocess.run([*cmd, "--max-steps", "3"], capture_output=True, text=True, timeout=600, env=env)
    assert first.returncode == 0, first.stderr[-2000:]
    assert first.stdout.count("stopped by --max-steps 3 after step 3") == 1   # rank 0 alone reports
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert second.returncode == 0, second.stderr[-2000:]
    profile = get_profile("tiny")
    assert second.stdout.count(f"{profile.epochs} of {profile.epochs} epochs") == 1
    ckpt = torch.load(run / "last.pt", weights_only=True)
    assert ckpt["history"]["epoch"] == list(range(1, profile.epochs + 1)) and "partial" not in ckpt
    assert ckpt["train_config"]["batch_size"] == profile.batch_size   # the global batch, not a share of it
    assert sorted(p.name for p in run.iterdir()) == [".lock", "best.pt", "last.pt"]   # .lock: rank 0's run lock
