"""What a careless user still broke (issue 19, part 6): the fault sweep's defects, one test each.

Each test failed before its fix. The stores are the fake ones of :mod:`test_user_errors` (random features,
no audio), so training takes seconds.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import test_user_errors
import torch
from test_user_errors import fake_store, one_error_line, run_copy  # noqa: F401

from genre_utils.cli import main

trained = test_user_errors.trained  # the module's fixture: a store, a baseline run on it and its results.json

HOLD = """
import sys, time
from genre_utils.locks import folder_lock
with folder_lock(sys.argv[1], sys.argv[2]):
    print("held", flush=True)
    time.sleep(60)
"""


def _holding(folder: Path, what: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(folder), what], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


# ------------------------------------------------------------------------------------ high


@pytest.mark.parametrize("command", ["train", "evaluate", "calibrate"])
def test_a_second_writer_of_a_run_folder_is_one_line_and_changes_nothing(trained, tmp_path, capsys, command):
    run = run_copy(trained, tmp_path)
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.name != ".lock"}
    proc = _holding(run, "training")
    try:
        flag = "--out" if command == "train" else "--run"
        argv = [command, "--data", str(trained / "store"), flag, str(run), "--device", "cpu", "--quiet"]
        if command == "train":
            argv += ["--model", "baseline", "--max-steps", "1000"]
        assert main(argv) == 2
        line = one_error_line(capsys, f"genre-utils {command}: error:")
        assert f"{run} is in use: process {proc.pid} is running a training there" in line
    finally:
        proc.kill()
        proc.wait()
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.name != ".lock"} == before


def test_results_are_tied_to_the_checkpoint_they_scored(trained, tmp_path, capsys):
    """train -> evaluate -> train on (here: a best.pt of the same configuration with other weights, as a
    continued training writes): the old results.json no longer describes best.pt, and nothing presents it as
    if it did."""
    from genre_utils import explore
    from genre_utils.experiments import stale_results

    store, run = str(trained / "store"), run_copy(trained, tmp_path)
    assert stale_results(run) is None
    ckpt = torch.load(run / "best.pt", weights_only=True)
    ckpt["model_state"] = {k: v + 0.01 if v.is_floating_point() else v for k, v in ckpt["model_state"].items()}
    torch.save(ckpt, run / "best.pt")
    assert main(["train", "--data", store, "--out", str(run), "--model", "baseline", "--device", "cpu",
                 "--quiet"]) == 0                                     # finished already: resumes, says so
    out = capsys.readouterr().out
    assert "results.json is of an earlier best.pt" in out and "genre-utils evaluate" in out
    assert "scored an earlier best.pt" in stale_results(run)
    assert explore.main(["--run", str(run), "--no-build"]) == 2
    line = one_error_line(capsys, "explore:")
    assert "results.json scored an earlier best.pt" in line and "genre-utils evaluate" in line
    assert explore.find_run(tmp_path) is None
    # calibrate refuses to build on the stale test predictions and writes nothing
    before = (run / "results.json").read_bytes()
    assert main(["calibrate", "--data", store, "--run", str(run), "--device", "cpu", "--quiet"]) == 2
    line = one_error_line(capsys)
    assert "scored an earlier best.pt" in line and "nothing was written" in line
    assert (run / "results.json").read_bytes() == before and not (run / "confidence.json").exists()
    # evaluating again ties them together
    assert main(["evaluate", "--data", store, "--run", str(run), "--device", "cpu", "--quiet"]) == 0
    assert stale_results(run) is None


def test_the_build_reevaluates_a_run_whose_best_pt_changed(trained, tmp_path):
    from genre_utils.experiments import run_experiment
    from genre_utils.store import open_dataset

    ds = open_dataset(trained / "store")
    run = tmp_path / "run"
    first = run_experiment(ds, "baseline", run, device="cpu", progress=False)
    assert first.checkpoint_sha256 and run_experiment(ds, "baseline", run, device="cpu", progress=False) == first
    torch.save(torch.load(run / "last.pt", weights_only=True), run / "best.pt")   # another best.pt, same key
    again = run_experiment(ds, "baseline", run, device="cpu", progress=False)
    assert again.checkpoint_sha256 != first.checkpoint_sha256


FORMULAS = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "'quoted", "plain"]


def test_formula_like_fma_metadata_is_neutralised_in_the_store_csvs_and_read_back_unchanged(tmp_path):
    import csv

    from fixtures_audio import make_fma_tree, make_gtzan_tree
    from test_bad_audio import PROFILE

    from genre_utils.store import build_dataset, open_dataset

    make_gtzan_tree(tmp_path / "gtzan", "kaggle", ("blues", "jazz"), range(4), seconds=12.0)
    make_fma_tree(tmp_path / "fma", [dict(track_id=2 + i, genres=[21], artist=a, duration=12.0)
                                     for i, a in enumerate(FORMULAS)], seconds=12.0)
    out = tmp_path / "store"
    build_dataset(out, gtzan=tmp_path / "gtzan", fma=tmp_path / "fma", profile=PROFILE, workers=1, progress=False)
    for name in ("manifest.csv", "tracks.csv", "skipped.csv", "duplicates.csv", "near_duplicates.csv"):
        with open(out / name, newline="") as fh:
            cells = [cell for row in csv.reader(fh) for cell in row]
        risky = [c for c in cells if c[:1] in ("=", "+", "@") or (c[:1] == "-" and not _number(c))]
        assert not risky, (name, risky)
    ds = open_dataset(out)
    fma = ds.tracks[ds.tracks["source"] == "fma"]
    assert sorted(fma["artist"]) == sorted(FORMULAS)
    assert set(ds.manifest.loc[ds.manifest["source"] == "fma", "artist"]) <= set(FORMULAS)
    assert "'quoted" in set(fma["artist"])                     # a value that began with a quote keeps it


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# ------------------------------------------------------------------------------------ medium


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_predict_max_segments_must_be_positive(trained, tmp_path, capsys, value):
    from fixtures_audio import write_audio

    song = write_audio(tmp_path / "song.wav", seconds=6.0)
    with pytest.raises(SystemExit) as exit_:
        main(["predict", str(song), "--checkpoint", str(trained / "run" / "best.pt"), "--max-segments", value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --max-segments: expected a positive int, not '{value}'" in err and "Traceback" not in err


def test_absurd_float_samples_are_refused_per_file_and_the_others_still_classified(trained, tmp_path, capsys):
    import json

    import soundfile as sf
    from fixtures_audio import tone, write_audio

    huge = tmp_path / "huge.wav"
    sf.write(huge, tone(6.0) * np.float32(3e19), 22050, subtype="FLOAT")
    good = write_audio(tmp_path / "good.wav", seconds=6.0)
    checkpoint = str(trained / "run" / "best.pt")
    assert main(["predict", str(huge), str(good), "--checkpoint", checkpoint, "--quiet", "--device", "cpu"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{huge}: error: not audio: peak amplitude 9.0e+18") and "nan" not in out[0]
    assert out[1].startswith(f"{good}: ") and "error" not in out[1]
    assert main(["predict", str(huge), str(good), "--checkpoint", checkpoint, "--json", "--device", "cpu"]) == 1
    objs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["path"] for o in objs] == [str(huge), str(good)]
    assert objs[0]["error"].startswith("not audio") and objs[1]["error"] is None and objs[1]["genre"]


def test_a_file_name_with_undecodable_bytes_is_skipped_with_its_reason_and_the_store_completes(tmp_path):
    import os

    from fixtures_audio import make_gtzan_tree, write_audio
    from test_bad_audio import PROFILE

    from genre_utils.store import build_dataset

    _, files = make_gtzan_tree(tmp_path / "gtzan", "kaggle", ("blues", "jazz"), range(4), seconds=12.0)
    folder = os.fsencode(files[0].parent)
    os.rename(os.fsencode(files[0]), folder + b"/blues.00009\xff.wav")
    song = write_audio(tmp_path / "new" / "jazz" / "x.wav", seconds=12.0)
    os.rename(os.fsencode(song), os.fsencode(song.parent) + b"/caf\xe9.wav")
    ds = build_dataset(tmp_path / "store", gtzan=tmp_path / "gtzan", folders=[tmp_path / "new"], profile=PROFILE,
                       workers=1, progress=False)
    assert (ds.root / "dataset.json").is_file() and (ds.root / "tracks.csv").is_file()
    reasons = ds.skipped.set_index("path")["reason"]
    assert reasons[f"{files[0].parent}/blues.00009\\xff.wav"].startswith("file name is not valid UTF-8")
    assert reasons[f"{song.parent}/caf\\xe9.wav"].startswith("file name is not valid UTF-8")
    assert len(ds.tracks) == 7


@pytest.fixture
def small_disk(tmp_path):
    """A 1-MB tmpfs (needs root, as in CI; skipped elsewhere), unmounted afterwards."""
    mnt = tmp_path / "small-disk"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1M", "tmpfs", str(mnt)], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({proc.stderr.strip() or proc.returncode}); the "
                    "monkeypatched test covers the message")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_the_dataset_build_on_a_full_disk_is_one_line_not_a_bus_error(tmp_path, small_disk):
    from fixtures_audio import make_gtzan_tree

    make_gtzan_tree(tmp_path / "gtzan", "kaggle", ("blues", "jazz"), range(4), seconds=12.0)
    out = small_disk / "store"
    proc = subprocess.run([sys.executable, "-m", "genre_utils.cli", "dataset", "--gtzan", str(tmp_path / "gtzan"),
                           "--profile", "tiny", "--out", str(out), "--quiet", "--workers", "2"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert lines[0].startswith(f"genre-utils dataset: error: no space left on the device for the features of {out}")
    assert "MB are free" in lines[0] and not (out / "features.npy.part").exists()   # the space is given back


def test_a_refused_reservation_for_the_features_is_one_line(tmp_path, monkeypatch, capsys):
    import errno
    import os

    from fixtures_audio import make_gtzan_tree

    def full(fd, offset, length):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "posix_fallocate", full)
    make_gtzan_tree(tmp_path / "gtzan", "kaggle", ("blues", "jazz"), range(4), seconds=12.0)
    assert main(["dataset", "--gtzan", str(tmp_path / "gtzan"), "--profile", "tiny", "--out", str(tmp_path / "s"),
                 "--quiet", "--workers", "1"]) == 2
    assert "no space left on the device for the features of" in one_error_line(capsys)


def test_an_unreadable_genre_folder_stops_the_dataset_build(tmp_path, monkeypatch, capsys):
    """Root reads a chmod-000 folder anyway, so the refusal is simulated as in test_bad_audio."""
    import os

    from fixtures_audio import make_gtzan_tree

    genre_dir, _ = make_gtzan_tree(tmp_path / "gtzan", "kaggle", ("blues", "jazz"), range(4), seconds=12.0)
    real, jazz = os.scandir, str(genre_dir / "jazz")

    def scandir(path="."):
        if os.fspath(path) == jazz:
            raise PermissionError(13, "Permission denied", jazz)
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    out = tmp_path / "store"
    assert main(["dataset", "--gtzan", str(tmp_path / "gtzan"), "--profile", "tiny", "--out", str(out),
                 "--quiet", "--workers", "1"]) == 2
    line = one_error_line(capsys, "genre-utils dataset: error:")
    assert f"cannot read the folder {jazz} (Permission denied)" in line and "left out" in line
    assert not (out / "dataset.json").exists()


# ------------------------------------------------------------------------------------ low


def test_a_failed_dataset_build_leaves_no_folder_holding_only_the_lock(tmp_path, capsys):
    out = tmp_path / "store"
    assert main(["dataset", "--gtzan", str(tmp_path / "nowhere"), "--profile", "tiny", "--out", str(out),
                 "--quiet"]) == 2
    assert "no such directory" in one_error_line(capsys)
    assert not out.exists()
    out.mkdir()
    (out / "keep.txt").write_text("mine")     # a folder that held something is left as it was (plus the lock)
    assert main(["dataset", "--gtzan", str(tmp_path / "nowhere"), "--profile", "tiny", "--out", str(out),
                 "--quiet"]) == 2
    capsys.readouterr()
    assert (out / "keep.txt").read_text() == "mine"


def test_a_failed_book_build_leaves_no_build_folder_holding_only_the_lock(tmp_path):
    build_dir = tmp_path / "b"
    proc = subprocess.run([sys.executable, "-m", "genre_utils.build", "data", "--gtzan", "/nonexistent", "--profile",
                           "tiny", "--build-dir", str(build_dir)], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert not build_dir.exists(), sorted(p.name for p in build_dir.iterdir())


@pytest.mark.parametrize("text", ["# genre-book\n\nA reproducible Jupyter Book\n", "genre,path\nblues,x.wav\n",
                                  '{"a": 1}\n', "hello, not a checkpoint\n"])
def test_a_text_file_given_as_checkpoint_is_not_called_unsafe(trained, tmp_path, capsys, text):
    (tmp_path / "notes.pt").write_text(text)
    (tmp_path / "song.wav").write_bytes(b"")
    assert main(["predict", str(tmp_path / "song.wav"), "--checkpoint", str(tmp_path / "notes.pt"), "--device",
                 "cpu"]) == 2
    line = one_error_line(capsys, "genre-utils predict: error:")
    assert "not a torch file" in line and "could run code" not in line and "Python objects" not in line


def _unknown_length_flac(path: Path, seconds: float) -> Path:
    """A FLAC whose STREAMINFO says 'total samples: 0' (unknown, as a streaming encoder writes it)."""
    from fixtures_audio import write_audio

    data = bytearray(write_audio(path, seconds=seconds).read_bytes())
    value = int.from_bytes(data[18:26], "big")       # sample rate, channels, bits, then 36 bits of total samples
    assert value & ((1 << 36) - 1) == round(seconds * 22050)
    data[18:26] = (value & ~((1 << 36) - 1)).to_bytes(8, "big")
    path.write_bytes(bytes(data))
    return path


def test_a_flac_of_unknown_length_is_read_by_streaming(tmp_path, monkeypatch):
    import genre_utils.audio as audio

    flac = _unknown_length_flac(tmp_path / "stream.flac", 3.0)
    y = audio.load_audio(flac)
    assert y.shape == (66150,) and np.abs(y).max() > 0.2
    monkeypatch.setattr(audio, "MAX_DECODE_SAMPLES", 30_000)     # and a stream is still bounded while read
    with pytest.raises(audio.AudioError, match="too large to decode: the stream"):
        audio.load_audio(flac)


def test_a_link_loop_a_fifo_and_a_link_to_dev_zero_are_named_and_never_read(trained, tmp_path, capsys):
    import os

    from genre_utils.sources import probe_audio

    loop = tmp_path / "loop.wav"
    loop.symlink_to(loop)
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.wav"
    zero.symlink_to("/dev/zero")
    broken = tmp_path / "broken.wav"
    broken.symlink_to(tmp_path / "gone.wav")
    expect = {loop: "a symbolic link loop", fifo: "a named pipe (FIFO)", zero: "a device (/dev/zero)",
              broken: "a broken symbolic link", tmp_path / "missing.wav": "file not found"}
    argv = ["predict", *map(str, expect), "--checkpoint", str(trained / "run" / "best.pt"), "--quiet", "--device",
            "cpu"]
    proc = subprocess.run([sys.executable, "-m", "genre_utils.cli", *argv], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)              # a FIFO opened for reading would hang here
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == len(expect)
    for (path, reason), line in zip(expect.items(), lines):
        assert line.startswith(f"{path}: error: {reason}"), line
    for path, reason in expect.items():              # the store's scan names them the same way
        duration, why = probe_audio(path)
        assert duration is None and why.startswith(reason), why


RENDER = """
import sys
from genre_utils import synth
from genre_utils.config import get_profile
profile = get_profile("tiny").replace(synth_tracks_per_genre=2, synth_fma_tracks=4, synth_newdata_per_genre=0)
print("start", flush=True)
synth.render_corpus(sys.argv[1], profile, progress=False, workers=2)
"""


def _children(pid: int) -> list[int]:
    import psutil

    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


def test_sigkill_during_a_parallel_render_leaves_no_worker_and_no_traceback(tmp_path):
    """kill -9 of the parent alone (not its group): the workers go with it, silently, instead of finishing their
    clip and dying on a broken pipe with a traceback each."""
    import os
    import signal
    import time

    import psutil

    out = tmp_path / "corpus"
    proc = subprocess.Popen([sys.executable, "-c", RENDER, str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "start"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (len(_children(proc.pid)) < 2 or not list(out.rglob("*.wav"))):
        time.sleep(0.05)
    workers = _children(proc.pid)
    assert len(workers) >= 2
    os.kill(proc.pid, signal.SIGKILL)
    _, err = proc.communicate(timeout=120)        # EOF once every worker holding stderr is gone
    procs = []
    for pid in workers:
        try:
            procs.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            pass
    gone, alive = psutil.wait_procs(procs, timeout=30)
    for p in alive:
        p.kill()
    assert not alive and "Traceback" not in err and "BrokenPipe" not in err, err[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["SIGHUP", "SIGKILL"])
def test_the_explorer_server_goes_when_its_launcher_is_hung_up_or_killed(tmp_path, sig):
    """HUP (the terminal closed) or KILL of the launcher alone: Voila and its kernel stop too and the port is
    free again, instead of serving on."""
    import http.client
    import importlib.util
    import os
    import signal
    import threading
    import time
    import urllib.request

    import psutil
    from live_helpers import explorer_url
    from test_explore import make_run

    from genre_utils import explore

    if importlib.util.find_spec("voila") is None:
        pytest.skip("Voila is not installed")
    run = make_run(tmp_path / "b")
    port = explore._free_port()
    proc = subprocess.Popen([sys.executable, "-m", "genre_utils.explore", "--run", str(run), "--port", str(port),
                             "--build-dir", str(tmp_path / "b")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        url = explorer_url(proc)
        assert url, proc.stderr.read() if proc.poll() is not None else "no URL printed"
        deadline = time.monotonic() + 120
        def open_page():   # the page's kernel starts on this request; the kill below cuts the reply short
            try:
                urllib.request.urlopen(url, timeout=120).read()
            except (OSError, http.client.HTTPException):
                pass

        threading.Thread(target=open_page, daemon=True).start()
        while time.monotonic() < deadline and len(psutil.Process(proc.pid).children(recursive=True)) < 2:
            time.sleep(0.2)                                          # Voila and the page's kernel
        served = psutil.Process(proc.pid).children(recursive=True)
        assert len(served) >= 2
        os.kill(proc.pid, getattr(signal, sig))                        # the launcher alone, not its group
        proc.wait(timeout=60)
        gone, alive = psutil.wait_procs(served, timeout=30)
        assert not alive, [p.cmdline()[:3] for p in alive]
        listening = [c for c in psutil.net_connections("tcp") if c.laddr and c.laddr.port == port
                     and c.status == psutil.CONN_LISTEN]
        assert not listening                                         # (a closed connection may linger in TIME_WAIT)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)                       # whatever is left of the session
        except ProcessLookupError:
            pass
        proc.communicate()




def test_building_the_book_outside_the_repository_stops_at_once(tmp_path):
    import time

    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "genre_utils.build", "book", "--profile", "tiny", "--build-dir",
                           str(tmp_path / "b")], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0] == (
        f"make book: error: {tmp_path} is not (inside) the genre-book repository: no _toc.yml there or above it; "
        "run `make book` (or python -m genre_utils.build book) from the repository's folder")
    assert time.monotonic() - t0 < 60 and not (tmp_path / "b").exists()    # no corpus rendered first


def test_calibrating_the_main_run_does_not_invalidate_the_pages_executed_before_it(tmp_path):
    """The confidence page adds a 'confidence' section to the main run's results.json; pages keyed on the whole
    build (intro, training, qualitative run before it) must keep their key, or a no-change build after a data
    change executes them once more. A change to the results themselves still changes it."""
    import json
    import os
    import types

    from genre_utils import bookbuild
    from genre_utils.confidence import results_with_confidence

    ctx = types.SimpleNamespace(synthetic=False, profile=types.SimpleNamespace(name="tiny"), build_dir=tmp_path,
                                key_of=lambda kind, args: f"{kind}-{'-'.join(args)}")
    run = tmp_path / "runs" / "tiny" / "crnn-mfcc-random"
    run.mkdir(parents=True)
    results = {"key": "k1", "headline": {"track_accuracy": 0.5}, "test": {"tracks": [{"a": 1}]}}
    (run / "results.json").write_text(json.dumps(results))
    before = bookbuild.current_deps(ctx, [], True)
    (run / "results.json").write_text(results_with_confidence(run / "results.json", {"temperature": 1.3, "tracks": []}))
    os.utime(run / "results.json", ns=(1, 1))
    assert json.loads((run / "results.json").read_text())["confidence"] == {"temperature": 1.3}
    assert bookbuild.current_deps(ctx, [], True) == before
    (run / "results.json").write_text(json.dumps({**results, "headline": {"track_accuracy": 0.6}}))
    assert bookbuild.current_deps(ctx, [], True) != before
