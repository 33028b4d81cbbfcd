"""The genre-utils console script end to end on a small fixture corpus: dataset -> train -> evaluate -> predict."""

import json

import numpy as np
import pytest
from fixtures_audio import make_folder_tree, make_gtzan_tree, tone, write_bytes

from genre_utils.audio import write_mp3, write_wav
from genre_utils.cli import main
from genre_utils.genres import GENRES


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    make_gtzan_tree(root / "gtzan", "tarball", GENRES, range(4), seconds=10.5)
    make_folder_tree(root / "newdata", {"blues": 1, "metal": 1}, seconds=6.0)
    assert main(["dataset", "--gtzan", str(root / "gtzan"), "--profile", "tiny", "--out", str(root / "ds"),
                 "--workers", "1", "--quiet"]) == 0
    assert main(["train", "--data", str(root / "ds"), "--out", str(root / "run"), "--device", "cpu",
                 "--quiet"]) == 0
    assert main(["evaluate", "--data", str(root / "ds"), "--run", str(root / "run"), "--newdata",
                 str(root / "newdata"), "--device", "cpu", "--quiet"]) == 0
    return root


def test_dataset_train_evaluate_write_their_files(pipeline):
    assert (pipeline / "ds" / "dataset.json").is_file()
    assert (pipeline / "run" / "best.pt").is_file()
    res = json.loads((pipeline / "run" / "results.json").read_text())
    head = res["headline"]
    tracks = res["test"]["tracks"]
    assert head["track_accuracy"] == sum(t["true_genre"] == t["pred_genre"] for t in tracks) / len(tracks)
    assert head["n_test_tracks"] == 10  # one test track per genre from four per genre
    assert np.asarray(res["test"]["track_confusion"]).sum() == head["n_test_tracks"]
    assert res["newdata"]["summary"]["n_files"] == 2
    assert res["config"]["features"]["hop_length"] == 470
    assert res["versions"]["torch"]
    assert len(res["history"]["train_loss"]) == 2  # the whole history, not the one stored with best.pt
    # scored in the arithmetic it trained and was validated in, where this machine has it (fp32 elsewhere)
    from genre_utils.devices import scoring_precision

    assert res["scoring_precision"] == scoring_precision(res["config"]["train"]["precision"], "cpu")
    assert isinstance(res["training_threads"], int) and res["training_threads"] >= 1   # it shapes the numbers


def test_train_stops_at_max_steps_and_the_same_command_continues(pipeline, tmp_path, capsys):
    run = tmp_path / "run"
    cmd = ["train", "--data", str(pipeline / "ds"), "--out", str(run), "--device", "cpu", "--quiet"]
    assert main([*cmd, "--max-steps", "1", "--eval-every", "1"]) == 0
    out = capsys.readouterr().out
    assert f"{run}: stopped by --max-steps 1 after step 1 (epoch 0." in out and "no epoch finished yet" in out
    assert not (run / "best.pt").exists()
    assert main(cmd) == 0
    out = capsys.readouterr().out
    assert "stopped" not in out and "2 of 2 epochs" in out
    import torch

    ckpt = torch.load(run / "last.pt", weights_only=True)
    # the log holds the start (step 0) and the stop (step 1) of the first call
    assert [row["step"] for row in ckpt["step_log"]] == [0, 1] and ckpt["history"]["epoch"] == [1, 2]
    # the same two epochs as the uninterrupted run of the fixture (same machine and code: exact)
    straight = torch.load(pipeline / "run" / "last.pt", weights_only=True)
    assert ckpt["history"]["train_loss"] == straight["history"]["train_loss"]


def test_predict_prints_one_line_per_file_and_reports_failures(pipeline, tmp_path, capsys):
    sr = 48_000
    write_wav(tmp_path / "stereo48k.wav", tone(6.0, sr, channels=2), sr)
    write_mp3(tmp_path / "clip.mp3", tone(11.0, 22050), 22050)
    write_bytes(tmp_path / "broken.wav", b"not audio" * 100)
    ckpt = str(pipeline / "run" / "best.pt")
    status = main(["predict", str(tmp_path), "--checkpoint", ckpt, "--device", "cpu"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert status == 1  # one file failed
    assert len(lines) == 3
    by_name = {line.split(":", 1)[0].rsplit("/", 1)[-1]: line for line in lines}
    assert "error: unreadable" in by_name["broken.wav"]
    for name in ("stereo48k.wav", "clip.mp3"):
        entries = by_name[name].split(": ", 1)[1].split()
        assert 1 <= len(entries) <= 3
        assert all(e.split(":")[0] in GENRES and 0.0 <= float(e.split(":")[1]) <= 1.0 for e in entries)
    assert main(["predict", str(tmp_path / "clip.mp3"), "--checkpoint", ckpt, "--device", "cpu"]) == 0


def test_user_errors_are_one_line_not_a_traceback(tmp_path, capsys):
    assert main(["dataset", "--gtzan", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error:" in err[0]
    assert main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    assert "genre-utils dataset" in capsys.readouterr().err


def test_a_stale_checkpoint_is_kept_unless_replacing_is_asked_for(pipeline, tmp_path):
    """A run folder left by other settings (here another learning rate) is refused by default (nothing lost);
    the build's run folders, which are caches, ask for other_run='replace' and start afresh."""
    from genre_utils.config import get_profile
    from genre_utils.errors import RunMismatchError
    from genre_utils.experiments import train_run
    from genre_utils.store import open_dataset
    from genre_utils.train import checkpoint_config

    ds = open_dataset(pipeline / "ds")
    out = tmp_path / "run"
    train_run(ds, "baseline", out, get_profile("tiny").replace(epochs=1), device="cpu", progress=False)
    other = get_profile("tiny").replace(epochs=1, lr=5e-4)
    with pytest.raises(RunMismatchError, match="train.lr 0.003 -> 0.0005"):
        train_run(ds, "baseline", out, other, device="cpu", progress=False)
    assert checkpoint_config(out / "last.pt")["train"]["lr"] == 3e-3
    info = train_run(ds, "baseline", out, other, device="cpu", progress=False, other_run="replace")
    assert checkpoint_config(out / "last.pt")["train"]["lr"] == 5e-4
    assert len(info["history"]["train_loss"]) == 1


# ---------------------------------------------------------------------------------------------------
# predict's confidence, "outside" flag, synthetic note and output modes (genre_utils.confidence)


def _copy_run(pipeline, dest, description=None):
    import shutil

    dest.mkdir()
    for name in ("best.pt", "last.pt", "results.json"):
        shutil.copy(pipeline / "run" / name, dest / name)
    if description is not None:
        res = json.loads((dest / "results.json").read_text())
        res["data_description"] = description
        (dest / "results.json").write_text(json.dumps(res))
    return dest


def _clips(folder):
    folder.mkdir()
    write_wav(folder / "a.wav", tone(6.0, 22050), 22050)
    write_mp3(folder / "b.mp3", tone(11.0, 22050, channels=1), 22050)
    return folder


def test_calibrate_writes_t_and_threshold_and_predict_shows_confidence(pipeline, tmp_path, capsys):
    from genre_utils.checkpoint_info import read_confidence_file

    run = _copy_run(pipeline, tmp_path / "run")
    assert main(["calibrate", "--data", str(pipeline / "ds"), "--run", str(run), "--device", "cpu", "--quiet"]) == 0
    assert "T = " in capsys.readouterr().out
    calib = read_confidence_file(run / "best.pt")
    assert calib["temperature"] > 0 and 0 <= calib["threshold"] <= 1
    stored = json.loads((run / "results.json").read_text())["confidence"]
    assert stored["temperature"] == calib["temperature"] and stored["n_bins"] == 10
    assert set(stored["ece"]) == {"segment", "track"}
    assert stored["open_set"]["n_positive"] == 0  # a GTZAN-only store has no open-set tracks

    clips = _clips(tmp_path / "clips")
    assert main(["predict", str(clips), "--checkpoint", str(run / "best.pt"), "--device", "cpu"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and all(" | confidence " in line for line in lines)  # not synthetic: no note
    for line in lines:
        paper, conf = line.split(" | ")[:2]
        assert 0 <= float(conf.split()[1]) <= 1
        assert all(e.split(":")[0] in GENRES for e in paper.split(": ", 1)[1].split())


def test_calibrate_on_a_full_disk_writes_both_files_or_neither(pipeline, tmp_path, capsys, monkeypatch):
    """A disk that fills up while results.json is written (after confidence.json, before the fix) leaves
    neither file changed: the two describe one calibration."""
    import errno
    import os

    import genre_utils.provenance as prov

    run = _copy_run(pipeline, tmp_path / "run")
    before = (run / "results.json").read_bytes()
    real = prov.os.fsync

    def fsync(fd):
        if os.readlink(f"/proc/self/fd/{fd}").startswith(str(run / ".results.json.")):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd)

    monkeypatch.setattr(prov.os, "fsync", fsync)
    assert main(["calibrate", "--data", str(pipeline / "ds"), "--run", str(run), "--device", "cpu", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no space left on the device while writing" in err[0], err
    assert (run / "results.json").read_bytes() == before
    assert not (run / "confidence.json").exists() and not list(run.glob(".*.part"))
    monkeypatch.undo()
    assert main(["calibrate", "--data", str(pipeline / "ds"), "--run", str(run), "--device", "cpu", "--quiet"]) == 0
    assert (run / "confidence.json").is_file() and "confidence" in json.loads((run / "results.json").read_text())
    capsys.readouterr()


def test_predict_quiet_and_json_modes(pipeline, tmp_path, capsys, monkeypatch):
    import genre_utils.checkpoint_info as cf

    run = _copy_run(pipeline, tmp_path / "run", description="the project's synthetic corpus (genre_utils.synth)")
    clips = _clips(tmp_path / "clips")
    monkeypatch.setattr(cf, "read_confidence_file", lambda ckpt: {"temperature": 1.0, "threshold": 0.0})
    args = ["predict", str(clips), str(tmp_path / "missing.wav"), "--checkpoint", str(run), "--device", "cpu"]

    assert main(args + ["--quiet"]) == 1  # the missing file
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 3 and "error:" in out[2]
    for line in out[:2]:  # exactly the paper's format: `file: genre:p genre:p genre:p`
        entries = line.split(": ", 1)[1].split()
        assert 1 <= len(entries) <= 3 and all(e.split(":")[0] in GENRES and float(e.split(":")[1]) >= 0
                                              for e in entries)

    assert main(args + ["--json"]) == 1
    objs = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert len(objs) == 3
    ok, bad = objs[:2], objs[2]
    for obj in ok:
        assert obj["error"] is None and obj["genre"] in GENRES and len(obj["top3"]) == 3
        assert sum(obj["probabilities"].values()) == pytest.approx(1.0)
        assert 0 <= obj["confidence"] <= 1 and obj["outside_training"] is False and obj["trained_on_synthetic"] is True
        assert obj["line"].endswith(" ".join(f"{g}:{p:.2f}" for g, p in obj["top3"] if round(p, 2) > 0))
    assert bad["error"] and bad["confidence"] is None and bad["outside_training"] is None


def test_predict_notes_synthetic_training_data_and_flags_with_the_threshold(pipeline, tmp_path, capsys, monkeypatch):
    import genre_utils.checkpoint_info as cf

    synth = _copy_run(pipeline, tmp_path / "synth", description="the project's synthetic corpus (genre_utils.synth)")
    clips = _clips(tmp_path / "clips")
    args = ["predict", str(clips), "--checkpoint", str(synth / "best.pt"), "--device", "cpu"]

    # no confidence.json: a note on stderr, paper lines, and the synthetic note first
    assert main(args) == 0
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert lines[0].startswith("note: this model was trained on the project's synthetic corpus")
    assert len(lines) == 3 and " | " not in lines[1] and "no confidence.json" in captured.err

    monkeypatch.setattr(cf, "read_confidence_file", lambda ckpt: {"temperature": 1.0, "threshold": 1.01})
    assert main(args) == 0
    lines = capsys.readouterr().out.strip().splitlines()[1:]
    assert all(line.endswith("| outside what this model was trained on") for line in lines)

    monkeypatch.setattr(cf, "read_confidence_file", lambda ckpt: {"temperature": 1.0, "threshold": 0.0})
    assert main(args) == 0
    lines = capsys.readouterr().out.strip().splitlines()[1:]
    assert all(" | confidence " in line and "outside" not in line for line in lines)


def test_predict_ignores_a_stale_confidence_file(pipeline, tmp_path, capsys):
    from genre_utils.checkpoint_info import CONFIDENCE_FILE, write_confidence_file

    run = _copy_run(pipeline, tmp_path / "run")
    path = write_confidence_file(run / "best.pt", {"temperature": 2.0, "threshold": 1.01})
    data = json.loads(path.read_text())
    data["checkpoint_sha256"] = "0" * 64  # made for another checkpoint (an earlier training)
    (run / CONFIDENCE_FILE).write_text(json.dumps(data))
    clips = _clips(tmp_path / "clips")
    assert main(["predict", str(clips), "--checkpoint", str(run / "best.pt"), "--device", "cpu"]) == 0
    captured = capsys.readouterr()
    assert "outside" not in captured.out and " | " not in captured.out and "no confidence.json" in captured.err


@pytest.mark.slow   # renders the tiny corpus (about ten seconds)
def test_synth_writes_the_corpus_card_beside_the_corpus_and_keeps_it_current(tmp_path, capsys):
    out = tmp_path / "corpus"
    assert main(["synth", "--profile", "tiny", "--out", str(out), "--quiet"]) == 0
    card = json.loads((out / "corpus_card.json").read_text())
    assert set(card["genres"]) == set(GENRES) and "designed_findings" in card
    (out / "corpus_card.json").write_text("{}")            # an old card: the next call (a cache hit) renews it
    assert main(["synth", "--profile", "tiny", "--out", str(out), "--quiet"]) == 0
    assert json.loads((out / "corpus_card.json").read_text())["format"] == card["format"]
