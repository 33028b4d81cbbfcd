"""Interrupted builds resume to the same bytes, and a half-written artefact is never trusted.

The store and training have their own tests (tests/test_store.py, tests/test_train.py); here: the corpus
(a render killed with SIGKILL), the notebooks (real kernels, on a two-notebook fake book) and the HTML step
(tests/test_cache.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pytest
from conftest import MINI_CORPUS
from fixtures_audio import corpus_hashes

from genre_utils import bookbuild, build, synth
from genre_utils.config import get_profile

MINI = MINI_CORPUS



RENDER = """
import sys
sys.path.insert(0, sys.argv[3])
from conftest import MINI_CORPUS
from genre_utils import synth
synth.render_corpus(sys.argv[1], MINI_CORPUS, progress=False, workers=int(sys.argv[2]))
"""


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_corpus_killed_mid_render_resumes_to_the_same_bytes(tmp_path, workers):
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(RENDER), str(out), str(workers),
                             str(Path(__file__).parent)],
                            start_new_session=True, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(out.rglob("*.wav"))) < 4:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)                     # the workers too
    proc.wait()
    assert not (out / synth.CORPUS_JSON).exists(), "the render finished before it could be killed"
    resumed = synth.render_corpus(out, MINI, progress=False, workers=1)
    assert resumed["files_resumed"] >= 3
    whole = synth.render_corpus(tmp_path / "whole", MINI, progress=False, workers=1)
    assert resumed["fingerprint"] == whole["fingerprint"]
    assert corpus_hashes(out) == corpus_hashes(tmp_path / "whole")
    assert not [p for p in out.rglob("*.part")]


# ------------------------------------------------------------------------------------ real kernels
class FakeContext:
    def __init__(self, build_dir):
        self.build_dir, self.profile, self.synthetic, self.keys = build_dir, get_profile("tiny"), True, {}

    def key_of(self, kind, args):
        return self.keys.get((kind, *args), "initial")


def _book(root: Path, second_cell: str) -> list[Path]:
    (root / "book").mkdir(parents=True)
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/a\nparts:\n- chapters:\n  - file: book/b\n")
    for name, code in (("a", "import time\nfrom genre_utils import context\n"
                              "context.record_dependency('store', ['mfcc', 'random'], 'k')\n"
                              "context._stage_line('store fake', False, time.perf_counter())\n"
                              "import sys; print('to the notebook', file=sys.stderr)"),
                       ("b", second_cell)):
        params = nbformat.v4.new_code_cell("profile = 'tiny'")
        params.metadata["tags"] = ["parameters"]
        nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python",
                                                               "display_name": "Python 3"},
                                                "language_info": {"name": "python"}})
        nb.cells = [params, nbformat.v4.new_code_cell(code)]
        nbformat.write(nb, root / "book" / f"{name}.ipynb")
    return build._toc_notebooks(root)


@pytest.mark.slow
def test_real_kernels_record_what_they_read_and_half_written_notebooks_rerun(tmp_path, capfd, monkeypatch):
    monkeypatch.setattr(bookbuild, "code_fingerprint", lambda *m: "pinned code")  # one change at a time
    root = tmp_path / "root"
    pages = _book(root, f"import os\nassert os.getcwd() == {str((root / 'book').resolve())!r}, os.getcwd()")
    ctx = FakeContext(tmp_path / "build")
    here = os.getcwd()
    timings = bookbuild.execute_notebooks(ctx, root, pages, {"profile": "tiny"}, timeout=120)
    assert sorted(timings) == ["a.ipynb", "b.ipynb"]
    # each kernel ran in the book's folder, and this process, whose threads ran them side by side, never moved
    assert os.getcwd() == here
    stamp = json.loads((ctx.build_dir / "executed/book/a.key.json").read_text())
    assert stamp["recorded"] == [["store", ["mfcc", "random"]]]
    err = capfd.readouterr().err
    assert "TCP" not in err and "frozen modules" not in err and "to the notebook" not in err
    assert "[a.ipynb] store fake: built" in err                      # the notebook's progress, on the terminal

    target = ctx.build_dir / "executed/book/b.ipynb"
    target.write_bytes(target.read_bytes()[:-40])                    # cut short
    assert sorted(bookbuild.execute_notebooks(ctx, root, pages, {"profile": "tiny"}, timeout=120)) == ["b.ipynb"]
    nbformat.read(target, as_version=4)                              # whole again
    ctx.keys["store", "mfcc", "random"] = "rebuilt"
    assert sorted(bookbuild.execute_notebooks(ctx, root, pages, {"profile": "tiny"}, timeout=120)) == ["a.ipynb"]


@pytest.mark.slow
def test_a_hung_cell_fails_naming_the_notebook_and_cell(tmp_path):
    root = tmp_path / "root"
    pages = _book(root, "import time\ntime.sleep(60)")
    ctx = FakeContext(tmp_path / "build")
    with pytest.raises(build.BuildError, match=r"b\.ipynb: cell 1 \(`import time`\) ran longer"):
        bookbuild.execute_notebooks(ctx, root, pages, {"profile": "tiny"}, timeout=3)
    assert not (ctx.build_dir / "executed/book/b.ipynb").exists()
    assert not (ctx.build_dir / "executed/book/b.key.json").exists()


def _interrupt_reports_once(proc, what: str) -> str:
    """Ctrl-C the process group of ``proc``: it must stop, fail, and report the interruption once (the parent's
    one report; a worker's would start "Process ForkPoolWorker-N:" / "Process SpawnProcess-N:"). Returns its
    stderr."""
    os.killpg(proc.pid, signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail(f"the {what} did not stop after Ctrl-C")
    assert proc.returncode != 0
    assert err.count("KeyboardInterrupt") == 1 and "Process " not in err, err[-3000:]
    return err


CTRL_C = """
import sys
from genre_utils import synth
from genre_utils.config import get_profile
profile = get_profile("tiny").replace(synth_tracks_per_genre=2, synth_fma_tracks=2, synth_newdata_per_genre=0)
print("start", flush=True)
synth.render_corpus(sys.argv[1], profile, progress=False, workers=2)
"""


@pytest.mark.slow
def test_ctrl_c_during_a_parallel_render_reports_once(tmp_path):
    """Ctrl-C reaches the whole process group; only the parent may report it, and it stops at once."""
    out = tmp_path / "corpus"
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(CTRL_C), str(out)], start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "start"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(out.rglob("*.wav")):
        time.sleep(0.05)
    _interrupt_reports_once(proc, "render")


EXTRACT = """
import sys
from genre_utils.config import FeatureParams
from genre_utils.store import extract_tracks
paths = sys.argv[1:]
print("start", flush=True)
while True:  # keep extracting until interrupted (a fast machine finishes one pass before the signal)
    for block in extract_tracks(paths * 50, [0, 11_025], FeatureParams(), workers=2):
        pass
"""


@pytest.mark.slow
def test_ctrl_c_during_extraction_reports_once(tmp_path):
    from fixtures_audio import write_audio

    paths = [str(write_audio(tmp_path / f"t{i}.wav", seconds=6.0, freq=220.0 * (i + 1))) for i in range(4)]
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(EXTRACT), *paths], start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "start"
    time.sleep(2.0)
    _interrupt_reports_once(proc, "extraction")


NOTEBOOKS_CTRL_C = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from test_interrupt import FakeContext, _book
from genre_utils import bookbuild
root = Path(sys.argv[1])
pages = _book(root, "import time\\ntime.sleep(120)")
print("start", flush=True)
bookbuild.execute_notebooks(FakeContext(Path(sys.argv[2])), root, pages, {"profile": "tiny"}, timeout=300)
"""


@pytest.mark.slow
def test_ctrl_c_stops_notebooks_running_side_by_side(tmp_path):
    """Two notebooks run in worker threads, their kernels in sessions of their own; Ctrl-C in the terminal must
    still stop the build at once (the build passes it on to the kernels), report it once and leave no
    notebook taken as executed."""
    env = {**os.environ, "GENRE_UTILS_NOTEBOOK_WORKERS": "2"}
    proc = subprocess.Popen([sys.executable, "-c", NOTEBOOKS_CTRL_C, str(tmp_path / "root"), str(tmp_path / "build"),
                             str(Path(__file__).parent)], start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline().strip() == "start"
    deadline = time.monotonic() + 120
    log = tmp_path / "build" / "executed" / "book" / "b.kernel.log"
    while not log.exists() and time.monotonic() < deadline:   # the sleeping notebook's kernel is up
        time.sleep(0.2)
    time.sleep(3.0)
    t0 = time.monotonic()
    _interrupt_reports_once(proc, "notebook build")
    assert time.monotonic() - t0 < 30
    assert not (tmp_path / "build" / "executed" / "book" / "b.key.json").exists()


TRAINING_CTRL_C = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from conftest import STORE_PROFILE
from genre_utils import context
root = Path(sys.argv[1])
ctx = context.context(STORE_PROFILE, root / "build", gtzan=root / "gtzan", progress=False)
ctx.dataset()
print("start", flush=True)
ctx.train_runs([("crnn", "mfcc", "random", seed) for seed in range(1, 30)])
"""


@pytest.mark.slow
def test_ctrl_c_during_runs_trained_side_by_side_reports_once(tmp_path):
    """make book trains two runs at a time in spawned workers: Ctrl-C stops them at once, is reported once, and
    leaves no resource-tracker warning about semaphores a killed worker held."""
    from fixtures_audio import make_gtzan_tree

    from genre_utils.genres import GENRES

    make_gtzan_tree(tmp_path / "gtzan", "kaggle", GENRES, range(3), seconds=10.5)
    env = {**os.environ, "GENRE_UTILS_RUN_WORKERS": "2"}
    proc = subprocess.Popen([sys.executable, "-c", TRAINING_CTRL_C, str(tmp_path), str(Path(__file__).parent)],
                            start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    assert proc.stdout.readline().strip() == "start"
    deadline = time.monotonic() + 120   # until the workers have trained something
    while time.monotonic() < deadline and not list((tmp_path / "build" / "runs").rglob("*.pt")):
        time.sleep(0.1)
    assert "leaked" not in _interrupt_reports_once(proc, "training")
