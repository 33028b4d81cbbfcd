"""What a careless user still broke (issue 19, part 6): the fault sweep's defects, one test each.

Each test failed before its fix. The stores are the fake ones of :mod:`test_user_errors` (random features,
no audio), so training takes seconds.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import test_user_errors
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
