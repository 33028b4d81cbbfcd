"""A user's mistake ends with one line naming what was expected, a non-zero exit status, no traceback, and
nothing already built lost (issue "Same results on every machine", parts 5 and 6).

The feature stores here are written directly (random features in the store's file format, no audio), so the
tests train and evaluate in seconds. The tests run as root in CI, where a folder's permissions do not stop a
write; a read-only folder is therefore simulated by making ``tempfile.mkstemp`` (the first step of every
atomic write, and of the CLI's write check) fail with EACCES there, and a full disk by making ``torch.save``
fail with ENOSPC.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from genre_utils import bookbuild, build
from genre_utils.cli import main
from genre_utils.config import get_profile
from genre_utils.errors import CheckpointError, DiskFullError, FolderLocked, UserError
from genre_utils.genres import GENRES

REPO = Path(__file__).resolve().parents[1]
PY = str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv" / "bin" / "python").is_file() else sys.executable


def fake_store(root: Path, kind: str = "mfcc", key: str = "key-mfcc", windows=(("train", 3), ("valid", 1),
               ("test", 2)), seed: int = 0) -> Path:
    """A feature store in the layout `genre-utils dataset` writes, with random features: one track per genre
    and split, ``n`` windows each."""
    params = dataclasses.replace(get_profile("tiny").features, kind=kind)
    rows = []
    for split, n in windows:
        for g, genre in enumerate(GENRES):
            for w in range(n):
                track = f"{split}-{genre}"
                rows.append({"segment_id": f"{track}@{w}", "track_id": track, "source": "gtzan", "genre": genre,
                             "label": g, "split": split, "kind": "segment" if split == "test" else "window",
                             "start": w * params.segment_samples, "offset": w * params.segment_seconds,
                             "path": f"/nowhere/{track}.wav", "artist": ""})
    manifest = pd.DataFrame(rows)
    manifest.insert(0, "row", np.arange(len(manifest)))
    rng = np.random.default_rng(seed)
    feats = rng.normal(size=(len(manifest), *params.shape)).astype(np.float16)
    feats += (manifest["label"].to_numpy()[:, None, None] / 5).astype(np.float16)
    root.mkdir(parents=True)
    np.save(root / "features.npy", feats)
    np.savez(root / "stats.npz", mean=np.zeros(params.height), std=np.ones(params.height))
    manifest.to_csv(root / "manifest.csv", index=False)
    pd.DataFrame({"path": [], "source": [], "reason": []}).to_csv(root / "skipped.csv", index=False)
    counts = manifest.groupby("split").size()
    info = {"cache_key": key, "profile": "tiny", "features": dataclasses.asdict(params), "split_method": "random",
            "data_fingerprint": "fp-of-the-audio", "n_windows": {s: int(counts.get(s, 0)) for s in
                                                                ("train", "valid", "test")},
            "tracks_per_split": {s: 10 for s in ("train", "valid", "test")}}
    (root / "dataset.json").write_text(json.dumps(info))
    return root


def one_error_line(capsys, command="genre-utils") -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(command) and "Traceback" not in err[0]
    return err[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A store, a baseline run trained on it and its results.json."""
    root = tmp_path_factory.mktemp("user-errors")
    store = fake_store(root / "store")
    run = root / "run"
    assert main(["train", "--data", str(store), "--out", str(run), "--model", "baseline", "--device", "cpu",
                 "--quiet"]) == 0
    assert main(["evaluate", "--data", str(store), "--run", str(run), "--device", "cpu", "--quiet"]) == 0
    return root


def run_copy(trained, tmp_path) -> Path:
    return Path(shutil.copytree(trained / "run", tmp_path / "run"))


# ------------------------------------------------------------------------------------ 1. build data


def test_build_data_with_a_missing_gtzan_folder_is_one_line(tmp_path):
    proc = subprocess.run([PY, "-m", "genre_utils.build", "data", "--gtzan", "/nonexistent", "--profile", "tiny",
                           "--build-dir", str(tmp_path / "b")], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert lines[0].startswith("make data: error: /nonexistent: no such directory") and "GTZAN" in lines[0]


# ------------------------------------------------------------------------------------ 2. checkpoints


def _not_checkpoints(trained, folder: Path) -> dict:
    good = (trained / "run" / "best.pt").read_bytes()
    files = {"text": b"hello, not a checkpoint\n", "empty": b"", "truncated": good[: len(good) // 2],
             "head": good[:5000]}
    for name, data in files.items():
        (folder / f"{name}.pt").write_bytes(data)
    torch.save({"weight": torch.zeros(3, 3)}, folder / "state_dict.pt")
    torch.save(torch.randn(10), folder / "random.pt")
    ckpt = torch.load(trained / "run" / "best.pt", weights_only=True)
    ckpt["model_spec"]["kwargs"]["input_shape"] = [32, 100]       # another shape than its weights
    torch.save(ckpt, folder / "other_shape.pt")
    ckpt = torch.load(trained / "run" / "best.pt", weights_only=True)
    ckpt["model_spec"]["name"] = "crnn"                             # another model than its weights
    torch.save(ckpt, folder / "other_model.pt")
    return {p.stem: p for p in folder.glob("*.pt")}


def test_predict_with_something_not_a_checkpoint_is_one_line(trained, tmp_path, capsys):
    audio = tmp_path / "song.wav"
    audio.write_bytes(b"")
    folder = tmp_path / "ckpts"
    folder.mkdir()
    expect = {"text": "not a torch file", "empty": "empty file", "truncated": "truncated or damaged",
              "head": "truncated or damaged",
              "state_dict": "plain state_dict", "random": "holding Tensor", "other_shape": "do not fit",
              "other_model": "do not fit"}
    for name, path in _not_checkpoints(trained, folder).items():
        assert main(["predict", str(audio), "--checkpoint", str(path), "--device", "cpu"]) == 2, name
        line = one_error_line(capsys, "genre-utils predict: error:")
        assert str(path) in line and expect[name] in line, line
        assert "weights_only" not in line and "genre-utils train" in line
    assert main(["predict", str(audio), "--checkpoint", str(tmp_path / "missing.pt"), "--device", "cpu"]) == 2
    assert "no checkpoint at" in one_error_line(capsys)


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):               # unpickling it would create the marker file
        return (open, (self.marker, "w"))


def test_a_malicious_pickle_is_refused_and_never_run(tmp_path, capsys):
    from genre_utils.train import load_checkpoint

    marker = tmp_path / "pwned"
    torch.save({"format": "genre_utils.checkpoint/1", "x": _Payload(str(marker))}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="refused to load"):
        load_checkpoint(tmp_path / "evil.pt", device="cpu")
    assert main(["predict", str(tmp_path), "--checkpoint", str(tmp_path / "evil.pt"), "--device", "cpu"]) == 2
    assert "refused to load" in one_error_line(capsys)
    assert not marker.exists()


# ------------------------------------------------------------------------------------ 3. npm offline


def _path_with_fake_npm(tmp_path, script: str | None) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if script is not None:
        npm = bin_dir / "npm"
        npm.write_text(script)
        npm.chmod(0o755)
    return str(bin_dir)


@pytest.mark.parametrize("script, expected", [
    ("#!/bin/sh\necho 'npm ERR! network request failed, reason: getaddrinfo ENOTFOUND' >&2\nexit 1\n",
     "warning: npm pack failed (npm ERR! network request failed, reason: getaddrinfo ENOTFOUND), so the widget"),
    ("#!/bin/sh\nexit 1\n", "warning: npm pack failed (exit status 1), so the widget"),
    ("#!/bin/sh\nexit 0\n", "warning: npm pack gave no usable package"),
    (None, "warning: npm not found, so the widget"),
])
def test_npm_that_fails_falls_back_to_the_cdn_with_one_warning(tmp_path, monkeypatch, capsys, script, expected):
    monkeypatch.setenv("PATH", _path_with_fake_npm(tmp_path, script))
    assert build._vendor_widget_js(tmp_path / "vendor") is None
    executed = tmp_path / "executed"
    bookbuild.stage_book(REPO, executed, None)
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [err[0]] and err[0].startswith(expected), err
    assert err[0].endswith("will load it from a CDN")
    assert (executed / "_config.yml").is_file()
    assert not (tmp_path / "vendor" / "vendored.json").exists()


# ------------------------------------------------------------------------------------ 4. devices


@pytest.mark.parametrize("device, expected", [
    ("cuda", "CUDA is not available"), ("cuda:1", "CUDA is not available"), ("mps", "MPS is not available"),
    ("nonsense", "unknown device 'nonsense'; expected cpu, cuda, cuda:N, mps"),
    ("meta", "device 'meta' is not supported"),
])
def test_a_device_this_machine_lacks_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys, device, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    for cmd in (["train", "--data", str(tmp_path), "--out", str(tmp_path / "r")],
                ["evaluate", "--data", str(tmp_path), "--run", str(tmp_path)],
                ["predict", str(tmp_path), "--checkpoint", str(tmp_path / "x.pt")]):
        assert main([*cmd, "--device", device]) == 2
        assert expected in one_error_line(capsys, f"genre-utils {cmd[0]}: error:")
    assert not (tmp_path / "r").exists()


def test_a_cuda_index_beyond_the_devices_is_refused(monkeypatch):
    from genre_utils.train import select_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(UserError, match="1 CUDA device"):
        select_device("cuda:3")


def test_a_bad_device_exits_2_without_a_traceback_in_a_real_process(tmp_path):
    proc = subprocess.run([PY, "-m", "genre_utils.cli", "predict", str(tmp_path), "--device", "nonsense"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "genre-utils predict: error: unknown device 'nonsense'; expected cpu, cuda, cuda:N, mps or auto"]


# ------------------------------------------------------------------------------------ 5. read-only, full disk


def _read_only(monkeypatch, folder: Path):
    """Make ``folder`` (and everything below it) refuse new files, as a read-only folder does for a non-root
    user (root writes anyway, so permissions cannot show it in CI)."""
    real = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):
        if dir is not None and Path(dir).resolve().is_relative_to(folder.resolve()):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.path.join(dir, ".x.part"))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)


def test_a_read_only_output_folder_is_one_line_naming_it(trained, tmp_path, monkeypatch, capsys):
    run = run_copy(trained, tmp_path)
    before = (run / "results.json").read_bytes()
    _read_only(monkeypatch, tmp_path)
    assert main(["train", "--data", str(trained / "store"), "--out", str(tmp_path / "new"), "--device", "cpu",
                 "--quiet"]) == 2
    line = one_error_line(capsys, "genre-utils train: error:")
    assert f"cannot write into the output folder {tmp_path / 'new'} (Permission denied)" in line
    # evaluate finds out only when it writes results.json (atomic: the old file stays)
    assert main(["evaluate", "--data", str(trained / "store"), "--run", str(run), "--device", "cpu",
                 "--quiet"]) == 2
    assert f"cannot write into the folder {run} (Permission denied)" in one_error_line(capsys)
    assert (run / "results.json").read_bytes() == before


def test_a_full_disk_is_one_line_and_keeps_the_last_checkpoint(trained, tmp_path, monkeypatch, capsys):
    """Ctrl-C after epoch 1, a full disk at epoch 2 (last.pt of epoch 1 intact), then a normal resume."""
    import genre_utils.train as train_mod

    run = tmp_path / "run"
    cmd = ["train", "--data", str(trained / "store"), "--out", str(run), "--model", "baseline", "--device", "cpu",
           "--quiet"]
    real_save_epoch = train_mod.save_epoch

    def save_then_interrupt(out_dir, ckpt, keep_epochs):
        real_save_epoch(out_dir, ckpt, keep_epochs)
        raise KeyboardInterrupt

    monkeypatch.setattr(train_mod, "save_epoch", save_then_interrupt)
    assert main(cmd) == 130
    assert one_error_line(capsys) == ("genre-utils train: interrupted; run the same command again to resume from "
                                      "the last finished epoch")
    monkeypatch.setattr(train_mod, "save_epoch", real_save_epoch)
    saved = (run / "last.pt").read_bytes()

    def full(obj, f, *args, **kwargs):
        with open(f, "wb") as fh:
            fh.write(b"partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", full)
    assert main(cmd) == 2
    line = one_error_line(capsys)
    assert line == (f"genre-utils train: error: no space left on the device while writing {run / 'last.pt'}; "
                    "free some space and run again")
    assert (run / "last.pt").read_bytes() == saved and not list(run.glob(".*.part"))
    monkeypatch.undo()
    assert main(cmd) == 0
    assert torch.load(run / "last.pt", weights_only=True)["epoch"] == 2
    capsys.readouterr()


def test_a_full_disk_while_evaluating_keeps_results_json(trained, tmp_path, monkeypatch, capsys):
    import genre_utils.provenance as prov

    run = run_copy(trained, tmp_path)
    before = (run / "results.json").read_bytes()

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(prov.os, "fsync", full)
    assert main(["evaluate", "--data", str(trained / "store"), "--run", str(run), "--device", "cpu",
                 "--quiet"]) == 2
    assert "no space left on the device while writing" in one_error_line(capsys)
    assert (run / "results.json").read_bytes() == before


# ------------------------------------------------------------------------------------ 6. data loss


def test_evaluate_refuses_a_store_the_run_was_not_trained_on(trained, tmp_path, capsys):
    run = run_copy(trained, tmp_path)
    before = (run / "results.json").read_bytes()
    logmel = fake_store(tmp_path / "logmel", kind="logmel", key="key-logmel")
    assert main(["evaluate", "--data", str(logmel), "--run", str(run), "--device", "cpu", "--quiet"]) == 2
    line = one_error_line(capsys, "genre-utils evaluate: error:")
    assert f"{run} was not trained on the feature store {logmel}" in line
    assert "kind mfcc (run) vs logmel (store)" in line and str(trained / "store") in line
    # same features, another store (say another split of the same audio): its cache key differs
    other = fake_store(tmp_path / "artist", key="key-artist-split")
    assert main(["evaluate", "--data", str(other), "--run", str(run), "--device", "cpu", "--quiet"]) == 2
    assert "store cache key key-mfcc (run) vs key-artist-split (store)" in one_error_line(capsys)
    assert (run / "results.json").read_bytes() == before
    # the same store reached by another path is the same store
    (tmp_path / "link").symlink_to(trained / "store")
    assert main(["evaluate", "--data", str(tmp_path / "link"), "--run", str(run), "--device", "cpu",
                 "--quiet"]) == 0
    capsys.readouterr()


def test_train_keeps_a_run_of_another_configuration(trained, tmp_path, monkeypatch, capsys):
    run = run_copy(trained, tmp_path)
    saved = {p.name: p.read_bytes() for p in run.iterdir()}
    store = str(trained / "store")
    # the same store spelled by another path resumes the (finished) run: nothing is retrained or lost
    monkeypatch.chdir(trained)
    assert main(["train", "--data", "store/../store", "--out", str(run), "--model", "baseline", "--device",
                 "cpu", "--quiet"]) == 0
    assert {p.name: p.read_bytes() for p in run.iterdir()} == saved
    capsys.readouterr()
    # another configuration: refused, everything kept
    cmd = ["train", "--data", store, "--out", str(run), "--model", "baseline", "--profile", "quick", "--device",
           "cpu", "--quiet"]
    assert main(cmd) == 2
    line = one_error_line(capsys, "genre-utils train: error:")
    assert f"{run} holds a run of another configuration (profile tiny -> quick, train.batch_size 25 -> 50" in line
    assert f"--restart to move that run aside to {run}.old-1" in line
    assert {p.name: p.read_bytes() for p in run.iterdir()} == saved
    # --restart moves it aside and says so
    assert main([*cmd, "--restart"]) == 0
    out = capsys.readouterr().out
    assert f"the earlier run of another configuration was moved to {run}.old-1" in out
    assert {p.name: p.read_bytes() for p in Path(f"{run}.old-1").iterdir()} == saved
    assert torch.load(run / "last.pt", weights_only=True)["config"]["profile"] == "quick"


def test_train_keeps_an_unreadable_checkpoint(trained, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "last.pt").write_bytes(b"truncated")
    assert main(["train", "--data", str(trained / "store"), "--out", str(run), "--device", "cpu", "--quiet"]) == 2
    line = one_error_line(capsys)
    assert f"{run} holds an unreadable checkpoint" in line and "--restart" in line
    assert (run / "last.pt").read_bytes() == b"truncated"


# ------------------------------------------------------------------------------------ 7. empty splits


def test_a_store_without_validation_or_test_windows_is_one_line(trained, tmp_path, capsys):
    no_valid = fake_store(tmp_path / "no-valid", windows=(("train", 3), ("test", 2)))
    assert main(["train", "--data", str(no_valid), "--out", str(tmp_path / "r"), "--device", "cpu",
                 "--quiet"]) == 2
    assert f"the feature store {no_valid} has no validation windows" in one_error_line(capsys)
    assert not (tmp_path / "r" / "last.pt").exists()
    run = run_copy(trained, tmp_path)
    before = (run / "results.json").read_bytes()
    no_test = fake_store(tmp_path / "no-test", windows=(("train", 3), ("valid", 1)))  # the run's key and features
    assert main(["evaluate", "--data", str(no_test), "--run", str(run), "--device", "cpu", "--quiet"]) == 2
    assert f"the feature store {no_test} has no test windows" in one_error_line(capsys)
    assert (run / "results.json").read_bytes() == before


# ------------------------------------------------------------------------------------ 8. Ctrl-C


def test_ctrl_c_during_predict_is_one_line_and_130(trained, tmp_path, monkeypatch, capsys):
    import genre_utils.evaluate as ev

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ev, "evaluate_files", interrupted)
    (tmp_path / "a.wav").write_bytes(b"")
    assert main(["predict", str(tmp_path / "a.wav"), "--checkpoint", str(trained / "run" / "best.pt"),
                 "--device", "cpu", "--quiet"]) == 130  # --quiet: no note about the missing calibration first
    assert one_error_line(capsys) == "genre-utils predict: interrupted; no further files were classified"


def test_sigint_during_train_exits_130_without_a_traceback(tmp_path):
    store = fake_store(tmp_path / "store", windows=(("train", 40), ("valid", 1), ("test", 1)))
    run = tmp_path / "run"
    proc = subprocess.Popen([PY, "-m", "genre_utils.cli", "train", "--data", str(store), "--out", str(run),
                             "--device", "cpu", "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=tmp_path)
    deadline = time.monotonic() + 120
    while not run.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)                       # into the first epoch
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == ("genre-utils train: interrupted; run the same command again to resume "
                                            "from the last finished epoch")
    assert len(err.strip().splitlines()) == 1, err


HOLD_STORE = """
import sys, time
from genre_utils.locks import folder_lock
with folder_lock(sys.argv[1], "dataset"):
    print("held", flush=True)
    time.sleep(60)
"""


def test_two_dataset_builds_into_one_folder_are_one_line(tmp_path, capsys):
    from fixtures_audio import make_gtzan_tree

    make_gtzan_tree(tmp_path / "gtzan")
    out = tmp_path / "store"
    proc = subprocess.Popen([sys.executable, "-c", HOLD_STORE, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        assert main(["dataset", "--gtzan", str(tmp_path / "gtzan"), "--profile", "tiny", "--out", str(out),
                     "--quiet"]) == 2
        line = one_error_line(capsys)
        assert str(out) in line and str(proc.pid) in line
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("err", [FolderLocked("/tmp/somewhere", 1234, "training run"), FolderLocked("/x", None),
                                 DiskFullError(errno.ENOSPC, "No space left on device", "/x/best.pt"),
                                 CheckpointError("damaged checkpoint")])
def test_user_errors_survive_a_process_boundary(err):
    """A training worker's error reaches the parent as the same one line (FolderLocked used to fail to unpickle,
    which turned two builds in one folder into a traceback from multiprocessing)."""
    import pickle

    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err) and str(back) == str(err)
