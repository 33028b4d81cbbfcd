"""Training loop of paper section 5.3: learning, checkpoints, resume, monitoring functions."""

import math
import shutil

import numpy as np
import pytest
import torch
from torch import nn

from genre_utils.genres import GENRES
from genre_utils.models import build_model
from genre_utils.train import (
    adam_beta1,
    fit,
    get_accuracy,
    get_accuracy_per_genre,
    get_loss,
    learning_rate,
    load_checkpoint,
    select_device,
    to_plain,
)

SHAPE = (64, 60)   # smallest convenient input the four conv/pool blocks accept; keeps the tests fast


def stripes(n, n_classes, seed, amplitude=1.0):
    """Noise windows with a brighter band of rows whose position is the class (an easy task)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    X = rng.normal(size=(n, *SHAPE)).astype(np.float32)
    band = SHAPE[0] // n_classes
    for i, c in enumerate(y):
        X[i, c * band:(c + 1) * band] += amplitude
    return X.astype(np.float16), y.astype(np.int64)


class FixedScores(nn.Module):
    """A stand-in model whose logits are the first ``n`` values of each window's first row."""

    def __init__(self, n=10):
        super().__init__()
        self.n = n
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return x.reshape(x.shape[0], -1)[:, :self.n] + 0 * self.dummy


def one_hot_windows(preds, n=10, scale=5.0):
    X = np.zeros((len(preds), 2, 12), dtype=np.float32)
    X[np.arange(len(preds)), 0, preds] = scale
    return X


def test_select_device_prefers_available_hardware():
    assert select_device("cpu") == torch.device("cpu")
    auto = select_device()
    if torch.cuda.is_available():
        assert auto.type == "cuda"
    elif not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        assert auto.type == "cpu"
        with pytest.raises(ValueError, match="CUDA is not available"):
            select_device("cuda")


def test_default_precision_follows_the_cpus_bfloat16_units_and_the_override(monkeypatch):
    from genre_utils import devices
    from genre_utils.errors import UserError

    monkeypatch.delenv(devices.PRECISION_ENV, raising=False)
    assert devices.default_precision("cpu") == ("bf16" if devices.cpu_bf16_units() else "fp32")
    monkeypatch.setattr(devices, "cpu_bf16_units", lambda: True)
    assert devices.default_precision("cpu") == "bf16"
    monkeypatch.setattr(devices, "cpu_bf16_units", lambda: False)
    assert devices.default_precision("cpu") == "fp32"
    monkeypatch.setenv(devices.PRECISION_ENV, "BF16")
    assert devices.default_precision("cpu") == "bf16"
    monkeypatch.setenv(devices.PRECISION_ENV, "half")
    with pytest.raises(UserError, match="GENRE_UTILS_PRECISION='half' is not a precision"):
        devices.default_precision("cpu")


def test_a_model_is_scored_in_the_arithmetic_it_trained_in_where_the_hardware_has_it(monkeypatch):
    from genre_utils import devices
    from genre_utils.checkpoints import checkpoint_precision
    from genre_utils.monitor import iter_logits

    model = build_model("crnn", input_shape=SHAPE, n_classes=4, seed=0)
    for units, expected in ((True, "bf16"), (False, "fp32")):
        monkeypatch.setattr(devices, "cpu_bf16_units", lambda units=units: units)
        assert devices.scoring_precision("bf16", "cpu") == expected
        assert checkpoint_precision({"train_config": {"precision": "bf16"}}, model) == expected
        assert devices.scoring_precision("fp32", "cpu") == "fp32"
        assert devices.scoring_precision("fp16", "cpu") == "fp32"      # float16 autocast is for CUDA
        assert checkpoint_precision({"train_config": {}}, model) == "fp32"   # a checkpoint that does not say
    # the bfloat16 forward pass is really taken (its logits differ from float32's), and stays close to it:
    # bfloat16 keeps 8 significant bits, so a logit moves by about 1 % of the largest, not by its size
    X, _ = stripes(16, 4, seed=0, amplitude=3.0)
    fp32, bf16 = (torch.cat(list(iter_logits(model, X, 8, "cpu", p))).numpy() for p in ("fp32", "bf16"))
    assert not np.array_equal(fp32, bf16)
    np.testing.assert_allclose(bf16, fp32, atol=0.05 * np.abs(fp32).max())


def test_monitoring_functions_on_known_predictions():
    y = np.array([0, 0, 1, 1, 2, 2, 2, 3])
    pred = np.array([0, 1, 1, 1, 2, 0, 0, 3])
    X = one_hot_windows(pred)
    model = FixedScores()
    assert get_accuracy(model, X, y, batch_size=3) == pytest.approx(5 / 8)
    per_genre = get_accuracy_per_genre(model, X, y, batch_size=3)
    assert list(per_genre) == list(GENRES)
    assert per_genre["blues"] == 0.5 and per_genre["classical"] == 1.0
    assert per_genre["country"] == pytest.approx(1 / 3) and per_genre["disco"] == 1.0
    assert math.isnan(per_genre["rock"])
    logits = torch.from_numpy(X.reshape(8, -1)[:, :10])
    expected = nn.functional.cross_entropy(logits, torch.from_numpy(y)).item()
    # float32 losses summed in batches of 3 vs one float32 mean: equal up to a few float32 ulp
    assert get_loss(model, X, y, batch_size=3) == pytest.approx(expected, rel=1e-5)


def test_training_learns_an_easy_task_and_writes_loadable_checkpoints(tmp_path):
    X_train, y_train = stripes(160, 4, seed=0)
    X_valid, y_valid = stripes(60, 4, seed=1)
    model = build_model("crnn", input_shape=SHAPE, n_classes=4, seed=0)
    before = get_loss(model, X_valid, y_valid)
    history = fit(model, X_train, y_train, X_valid, y_valid, epochs=2, batch_size=20, lr=1e-3,
                  weight_decay=0.0, seed=0, out_dir=tmp_path, device="cpu", progress=False,
                  config={"profile": "test", "shape": SHAPE})
    assert history["epoch"] == [1, 2]
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert history["valid_loss"][-1] < before
    assert max(history["valid_acc"]) >= 0.8          # chance is 0.25
    assert all(s > 0 for s in history["train_seconds"])

    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["best.pt", "epoch_001.pt", "epoch_002.pt", "last.pt"]
    ckpt = torch.load(tmp_path / "epoch_001.pt", weights_only=True)
    assert ckpt["epoch"] == 1 and ckpt["history"]["epoch"] == [1]
    assert "optimizer_state" in ckpt and "model_state" in ckpt
    assert ckpt["config"] == {"profile": "test", "shape": [64, 60]}

    best = torch.load(tmp_path / "best.pt", weights_only=True)
    assert best["epoch"] == history["best_epoch"]
    assert history["valid_acc"][history["best_epoch"] - 1] == max(history["valid_acc"])

    restored, info = load_checkpoint(tmp_path / "last.pt", device="cpu")
    assert info["epoch"] == 2 and not restored.training
    model.eval()
    with torch.no_grad():
        x = torch.from_numpy(X_valid[:8].astype(np.float32))
        assert torch.allclose(restored(x), model(x), atol=1e-6)     # same weights and kernels: in fact identical
    assert get_accuracy(restored, X_valid, y_valid) == pytest.approx(history["valid_acc"][-1])
    # a folder loads its best.pt
    assert load_checkpoint(tmp_path, device="cpu")[1]["epoch"] == history["best_epoch"]


def test_baseline_learns_too(tmp_path):
    X_train, y_train = stripes(200, 4, seed=2)
    X_valid, y_valid = stripes(60, 4, seed=3)
    for condense in ("flatten", "stats"):
        model = build_model("baseline", input_shape=SHAPE, n_classes=4, condense=condense, seed=0)
        history = fit(model, X_train, y_train, X_valid, y_valid, epochs=2, batch_size=20, lr=1e-3,
                      weight_decay=0.0, seed=0, out_dir=tmp_path / condense, device="cpu", progress=False)
        assert history["valid_acc"][-1] >= 0.8
        model2, _ = load_checkpoint(tmp_path / condense / "last.pt", device="cpu")
        assert model2.condense == condense


def run(out_dir, epochs, init_seed, **kw):
    X, y = stripes(50, 10, seed=4, amplitude=0.5)
    model = build_model("crnn-temporal", input_shape=SHAPE, dropout=0.3, seed=init_seed)
    args = dict(epochs=epochs, batch_size=16, lr=1e-3, weight_decay=0.005, seed=7, out_dir=out_dir,
                device="cpu", progress=False)
    args.update(kw)
    return fit(model, X[:36], y[:36], X[36:], y[36:], **args)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])   # bf16: the default on a CPU with bfloat16 units
def test_resumed_run_equals_uninterrupted_run(tmp_path, precision):
    straight = run(tmp_path / "a", epochs=2, init_seed=1, precision=precision)
    run(tmp_path / "b", epochs=1, init_seed=1, precision=precision)
    # the "restarted process" builds a differently initialised model: the weights must come from last.pt;
    # it also reads batches from the array instead of an in-memory tensor
    resumed = run(tmp_path / "b", epochs=2, init_seed=99, in_memory=False, precision=precision)
    # exact equality is right here: both runs are in this process, on this CPU, with the same code, so every
    # step runs the same kernels on the same numbers (float16 -> float32 reads are exact whichever way the
    # batches are read). Across CPUs such runs differ (docs: "Same results on every machine?").
    for key in ("epoch", "train_loss", "train_acc", "valid_loss", "valid_acc", "best_epoch"):
        assert resumed[key] == straight[key], key
    a = torch.load(tmp_path / "a" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "last.pt", weights_only=True)
    for name, tensor in a["model_state"].items():
        assert torch.equal(tensor, b["model_state"][name]), name
    for k, state in a["optimizer_state"]["state"].items():
        assert torch.equal(state["exp_avg"], b["optimizer_state"]["state"][k]["exp_avg"])
    # a different seed does give a different run, so the equality above is not vacuous
    other = run(tmp_path / "c", epochs=2, init_seed=1, seed=8, precision=precision)
    assert other["train_loss"] != straight["train_loss"]


def test_a_run_stopped_inside_epochs_resumes_to_the_uninterrupted_weights(tmp_path):
    """--max-steps stops after a step inside an epoch (3 steps per epoch here: 16 + 16 + 4 windows); the
    resumed runs continue at the next step with the same batches and dropout draws."""
    straight = run(tmp_path / "a", epochs=2, init_seed=1)
    first = run(tmp_path / "b", epochs=2, init_seed=1, max_steps=2)
    assert first["stopped"] == {"reason": "max_steps", "step": 2, "epoch": pytest.approx(2 / 3)}
    assert first["epoch"] == [] and not (tmp_path / "b" / "best.pt").exists()
    stored = torch.load(tmp_path / "b" / "last.pt", weights_only=True)
    assert stored["epoch"] == 0 and stored["partial"]["steps"] == 2
    second = run(tmp_path / "b", epochs=2, init_seed=99, max_steps=4)   # through epoch 1, stops inside epoch 2
    assert second["epoch"] == [1] and second["stopped"]["step"] == 4
    last = run(tmp_path / "b", epochs=2, init_seed=99, in_memory=False)
    assert last["stopped"] is None
    # exact equality: same process, CPU, code and numbers (see test_resumed_run_equals_uninterrupted_run)
    for key in ("epoch", "train_loss", "train_acc", "valid_loss", "valid_acc", "best_epoch"):
        assert last[key] == straight[key], key
    a = torch.load(tmp_path / "a" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "last.pt", weights_only=True)
    assert "partial" not in b
    for name, tensor in a["model_state"].items():
        assert torch.equal(tensor, b["model_state"][name]), name
    # a limit the run has already reached takes no step and changes nothing
    saved = (tmp_path / "b" / "last.pt").read_bytes()
    assert run(tmp_path / "b", epochs=3, init_seed=1, max_steps=6)["stopped"] == {
        "reason": "max_steps", "step": 6, "epoch": 2.0}
    assert (tmp_path / "b" / "last.pt").read_bytes() == saved


def test_a_stop_on_an_epochs_last_step_and_the_time_limit(tmp_path):
    at_end = run(tmp_path / "a", epochs=2, init_seed=1, max_steps=3)
    assert at_end["epoch"] == [1] and at_end["stopped"] == {"reason": "max_steps", "step": 3, "epoch": 1.0}
    assert "partial" not in torch.load(tmp_path / "a" / "last.pt", weights_only=True)
    timed = run(tmp_path / "b", epochs=2, init_seed=1, time_limit=1e-9)   # any step reaches it
    assert timed["stopped"]["reason"] == "time_limit" and timed["stopped"]["step"] == 1
    with pytest.raises(ValueError, match="max_steps must be positive"):
        run(tmp_path / "c", epochs=1, init_seed=1, max_steps=0)


def test_the_step_log_survives_a_resume(tmp_path):
    run(tmp_path, epochs=2, init_seed=1, eval_every=2, max_steps=3)
    done = run(tmp_path, epochs=2, init_seed=1, eval_every=2)
    log = done["step_log"]
    # before training, every 2 steps, and at the stop after step 3
    assert [row["step"] for row in log] == [0, 2, 3, 4, 6]
    assert done["step_log_from"] == 3   # rows 0, 2 and 3 came from the first call
    assert [row["epoch"] for row in log] == pytest.approx([0, 2 / 3, 1, 4 / 3, 2])
    assert log[0]["train_loss"] is None and log[0]["seconds"] == 0
    assert all(0 <= row["valid_acc"] <= 1 for row in log)
    assert all(row["windows_per_s"] > 0 for row in log[1:])
    assert all(b["seconds"] > a["seconds"] for a, b in zip(log, log[1:]))
    # the last row's validation is the one after the last epoch (both in eval mode on the same weights)
    assert log[-1]["valid_loss"] == pytest.approx(done["valid_loss"][-1], rel=1e-6)
    assert torch.load(tmp_path / "last.pt", weights_only=True)["step_log"] == log


def test_resume_refuses_changed_settings_and_resume_false_restarts(tmp_path):
    run(tmp_path, epochs=1, init_seed=1)
    with pytest.raises(ValueError, match="lr"):
        run(tmp_path, epochs=2, init_seed=1, lr=5e-4)
    run(tmp_path, epochs=2, init_seed=1)
    assert (tmp_path / "epoch_002.pt").exists()
    fresh = run(tmp_path, epochs=1, init_seed=1, resume=False)
    assert fresh["epoch"] == [1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt", "epoch_001.pt", "last.pt"]
    # nothing left to do: returns the stored history without training
    again = run(tmp_path, epochs=1, init_seed=1)
    assert again["train_loss"] == fresh["train_loss"]


def test_fit_rejects_bad_input(tmp_path):
    X, y = stripes(20, 4, seed=5)
    model = build_model("baseline", input_shape=SHAPE, n_classes=4)
    with pytest.raises(ValueError, match="same length"):
        fit(model, X, y[:-1], X, y, epochs=1, batch_size=5, lr=1e-3, weight_decay=0, seed=0, out_dir=tmp_path,
            progress=False)
    with pytest.raises(ValueError, match="labels"):
        fit(model, X, y + 4, X, y, epochs=1, batch_size=5, lr=1e-3, weight_decay=0, seed=0, out_dir=tmp_path,
            progress=False)


def test_to_plain_gives_checkpoint_safe_values():
    from pathlib import Path

    import pandas as pd

    value = to_plain({"a": (1, 2), "b": np.float32(0.5), "c": np.arange(3), "d": Path("x/y"),
                      "e": pd.DataFrame({"g": ["pop"], "n": [np.int64(3)]}), "f": float("nan")}, nan_to_none=True)
    assert value == {"a": [1, 2], "b": 0.5, "c": [0, 1, 2], "d": "x/y", "e": [{"g": "pop", "n": 3}], "f": None}


def test_one_cycle_learning_rate_matches_torch_and_constant_is_constant():
    total, peak = 37, 2e-3
    opt = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=peak)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=peak, total_steps=total)
    ours = []
    for step in range(total):
        assert learning_rate(step, total, peak, "onecycle") == pytest.approx(opt.param_groups[0]["lr"], rel=1e-9)
        assert adam_beta1(step, total, "onecycle") == pytest.approx(opt.param_groups[0]["betas"][0], rel=1e-9)
        ours.append(learning_rate(step, total, peak, "onecycle"))
        opt.step()
        sched.step()
    assert max(ours) == pytest.approx(peak, rel=1e-3) and ours[0] == pytest.approx(peak / 25) and ours[-1] < peak / 1e5
    assert all(learning_rate(s, total, peak) == peak and adam_beta1(s, total) == 0.9 for s in range(total))
    with pytest.raises(ValueError, match="schedule"):
        learning_rate(0, total, peak, "cosine")


def test_one_cycle_run_resumes_exactly_and_refuses_other_epochs(tmp_path):
    straight = run(tmp_path / "a", epochs=3, init_seed=1, schedule="onecycle")
    # an interruption after epoch 1: the state the run had then, as its last.pt
    (tmp_path / "b").mkdir()
    shutil.copy(tmp_path / "a" / "epoch_001.pt", tmp_path / "b" / "last.pt")
    resumed = run(tmp_path / "b", epochs=3, init_seed=99, schedule="onecycle")
    # exact: same process, same CPU, same code path (see test_resumed_run_equals_uninterrupted_run)
    assert resumed["train_loss"] == straight["train_loss"] and resumed["valid_acc"] == straight["valid_acc"]
    a = torch.load(tmp_path / "a" / "last.pt", weights_only=True)["model_state"]
    b = torch.load(tmp_path / "b" / "last.pt", weights_only=True)["model_state"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    constant = run(tmp_path / "c", epochs=3, init_seed=1)
    assert constant["train_loss"][1:] != straight["train_loss"][1:]
    # the cycle's length is part of the run: more epochs, or another schedule, cannot resume it
    with pytest.raises(ValueError, match="epochs"):
        run(tmp_path / "a", epochs=4, init_seed=1, schedule="onecycle")
    with pytest.raises(ValueError, match="schedule"):
        run(tmp_path / "a", epochs=3, init_seed=1)


def test_freed_memory_is_reused_without_page_faults():
    """After reuse_freed_memory a large block freed and allocated again is not faulted in again (glibc)."""
    import platform
    import subprocess
    import sys

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        pytest.skip("mallopt is glibc's")
    code = ("import resource, sys, torch\n"
            "from genre_utils.devices import reuse_freed_memory\n"
            "applied = reuse_freed_memory() if sys.argv[1] == 'reuse' else None\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
            "for _ in range(20):\n"
            "    torch.ones(16 * 2**20).sum()   # 64 MB allocated, written, freed\n"
            "print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)\n")
    faults = {}
    for mode in ("default", "reuse"):
        out = subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True, check=True).stdout
        applied, faults[mode] = out.split()
        faults[mode] = int(faults[mode])
    assert applied == "True"
    # default: each 64 MB block is a fresh mmap, 16,384 page faults; reused: faulted in once
    assert faults["default"] > 5 * faults["reuse"], faults
