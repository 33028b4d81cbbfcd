"""The Context's side-by-side training (``make book``'s runs, two at a time on a CPU) and the thread cap."""

from __future__ import annotations

import json

import pytest
from conftest import STORE_PROFILE
from fixtures_audio import make_gtzan_tree

from genre_utils import config, context
from genre_utils.genres import GENRES


def test_thread_cap_lowers_the_core_count_and_ignores_nonsense(monkeypatch):
    monkeypatch.delenv(config.THREADS_ENV, raising=False)
    cores = config.num_threads()
    monkeypatch.setenv(config.THREADS_ENV, "1")
    assert config.num_threads() == 1
    monkeypatch.setenv(config.THREADS_ENV, str(cores + 5))   # a cap above the cores is no cap
    assert config.num_threads() == cores
    for nonsense in ("0", "-2", "two", ""):
        monkeypatch.setenv(config.THREADS_ENV, nonsense)
        assert config.num_threads() == cores


def test_run_workers_two_on_a_cpu_never_more_than_runs_and_an_override(monkeypatch):
    monkeypatch.delenv(context.RUN_WORKERS_ENV, raising=False)
    monkeypatch.setattr(context, "num_threads", lambda: 2)
    assert context.run_workers("cpu", 11) == 2
    assert context.run_workers("cpu", 1) == 1 and context.run_workers("cpu", 0) == 1
    monkeypatch.setattr(context, "num_threads", lambda: 1)
    assert context.run_workers("cpu", 11) == 1
    monkeypatch.setenv(context.RUN_WORKERS_ENV, "3")
    assert context.run_workers("cpu", 11) == 3 and context.run_workers("cpu", 2) == 2


@pytest.mark.slow
def test_runs_trained_side_by_side_are_the_runs_the_context_then_reads(tmp_path, monkeypatch, capsys):
    """Two baseline seeds in two worker processes: each announced once as built, readable by run() without
    training again, and a second build's Context finds both up to date."""
    make_gtzan_tree(tmp_path / "gtzan", "kaggle", GENRES, range(3), seconds=10.5)
    monkeypatch.setenv(context.RUN_WORKERS_ENV, "2")
    runs = [("baseline", "mfcc", "random", None), ("baseline", "mfcc", "random", STORE_PROFILE.seed + 1)]

    ctx = context.context(STORE_PROFILE, tmp_path / "build", gtzan=tmp_path / "gtzan", progress=False)
    ctx.train_runs(runs)
    lines = [line.strip() for line in capsys.readouterr().err.splitlines() if line.strip().startswith("run ")]
    names = [f"baseline-mfcc-random-seed{STORE_PROFILE.seed + 1}", "baseline-mfcc-random"]
    assert sorted(line.split(":")[0] for line in lines) == sorted(f"run {name}" for name in names)
    assert all(": built (" in line for line in lines)   # one line each, no second 'reused' for the same run
    folders = [context.run_dir(STORE_PROFILE.name, *run[:3], tmp_path / "build",
                               None if run[3] is None else run[3]) for run in runs]
    stamps = [(f / "results.json").stat().st_mtime_ns for f in folders]
    results = [ctx.run(*run) for run in runs]
    assert [r.key for r in results] == [json.loads((f / "results.json").read_text())["key"] for f in folders]

    again = context.context(STORE_PROFILE, tmp_path / "build", gtzan=tmp_path / "gtzan", progress=False)
    again.train_runs(runs)
    lines = [line.strip() for line in capsys.readouterr().err.splitlines() if line.strip().startswith("run ")]
    assert len(lines) == 2 and all(": reused (" in line for line in lines)
    assert [(f / "results.json").stat().st_mtime_ns for f in folders] == stamps
