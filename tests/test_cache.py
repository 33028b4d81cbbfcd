"""No cache serves a stale result: change one input at a time, exactly the dependent stages run again.

Stages are counted with spies (monkeypatched stage functions), never timed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import numpy as np
import pytest
from conftest import MINI_CORPUS, STORE_PROFILE
from fixtures_audio import make_gtzan_tree

from genre_utils import bookbuild, build, context, experiments, store, synth
from genre_utils.config import get_profile
from genre_utils.genres import GENRES
from genre_utils.synth import corpus as synth_corpus

PROFILE, MINI = STORE_PROFILE, MINI_CORPUS


# ----------------------------------------------------------------------------------------------- store
@pytest.fixture(autouse=True)
def fixed_code(monkeypatch):
    """One input changes at a time: the package's code is pinned (edits elsewhere must not count)."""
    for module in (store, synth_corpus, bookbuild, experiments):
        monkeypatch.setattr(module, "code_fingerprint", lambda *m: "pinned code")


@pytest.fixture()
def gtzan(tmp_path):
    make_gtzan_tree(tmp_path / "gtzan", "kaggle", GENRES, range(3), seconds=10.5)
    return tmp_path / "gtzan"


@pytest.fixture()
def extractions(monkeypatch):
    """Counts the feature extractions of build_dataset (one per store build that extracts)."""
    calls = []
    real = store.extract_tracks

    def spy(*args, **kw):
        calls.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(store, "extract_tracks", spy)
    return calls


def _build(gtzan, out, **kw):
    return store.build_dataset(out, gtzan=gtzan, profile=PROFILE, workers=1, progress=False, **kw)


def _same_size_and_time(path, data: bytes) -> None:
    st = path.stat()
    assert len(data) == st.st_size
    path.write_bytes(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_store_reuse_is_validated_and_content_checked_only_with_verify(gtzan, tmp_path, extractions, capsys):
    out = tmp_path / "store"
    first = _build(gtzan, out)
    expected = np.array(first.features)                     # a copy: the file is truncated in place below
    assert len(extractions) == 1
    _build(gtzan, out)
    assert len(extractions) == 1                            # unchanged: reused

    # a truncated features.npy is noticed and rebuilt, naming the file
    feats = out / "features.npy"
    with open(feats, "r+b") as fh:
        fh.truncate(feats.stat().st_size - 100)
    again = _build(gtzan, out)
    assert len(extractions) == 2 and "features.npy" in capsys.readouterr().err
    assert np.array_equal(np.asarray(again.features), expected)

    # a bad dataset.json and an edited small file, likewise
    (out / "dataset.json").write_text("{not json")
    _build(gtzan, out)
    assert len(extractions) == 3 and "dataset.json" in capsys.readouterr().err
    (out / "manifest.csv").write_text((out / "manifest.csv").read_text().replace("train", "valid", 1))
    _build(gtzan, out)
    assert len(extractions) == 4 and "manifest.csv" in capsys.readouterr().err

    # one audio file's content changes, same size and time: only --verify sees it
    wav = sorted(gtzan.rglob("blues.00000.wav"))[0]
    data = bytearray(wav.read_bytes())
    data[-2000:] = bytes(2000)
    _same_size_and_time(wav, bytes(data))
    same = _build(gtzan, out)
    assert len(extractions) == 4 and same.info["data_fingerprint"] == first.info["data_fingerprint"]
    verified = _build(gtzan, out, verify=True)
    assert len(extractions) == 5 and "blues.00000.wav" in capsys.readouterr().err
    assert verified.info["data_fingerprint"] != first.info["data_fingerprint"]
    # ... and everything downstream of the store changes key
    assert experiments.run_key(verified, "crnn", PROFILE) != experiments.run_key(first, "crnn", PROFILE)
    assert context.store_key(verified) != context.store_key(first)
    # the run's key holds the settings that train: the precision the device would pick, or the one asked for
    cpu_default = experiments.default_precision("cpu")
    assert experiments.run_train_config(PROFILE, "crnn", "cpu").precision == cpu_default
    assert experiments.run_key(first, "crnn", PROFILE, device="cpu") == experiments.run_key(first, "crnn", PROFILE)
    other = "fp32" if cpu_default == "bf16" else "bf16"
    assert experiments.run_key(first, "crnn", PROFILE, device="cpu", precision=other) != \
        experiments.run_key(first, "crnn", PROFILE, device="cpu")
    # a run variant is its model with one setting changed, and a key of its own
    variant = experiments.run_train_config(PROFILE, "crnn-globalnorm", "cpu")
    assert variant.model == "crnn" and variant.window_norm is False
    assert variant.replace(window_norm=PROFILE.window_norm) == experiments.run_train_config(PROFILE, "crnn", "cpu")
    assert experiments.run_key(first, "crnn-globalnorm", PROFILE) != experiments.run_key(first, "crnn", PROFILE)
    # another training seed is another run on the same data: its own key, the profile's data untouched
    seeded = experiments.run_train_config(PROFILE, "crnn", "cpu", seed=PROFILE.seed + 1)
    assert seeded.seed == PROFILE.seed + 1 and seeded.replace(seed=PROFILE.seed) == \
        experiments.run_train_config(PROFILE, "crnn", "cpu")
    assert experiments.run_key(first, "crnn", PROFILE, seed=PROFILE.seed + 1) != experiments.run_key(first, "crnn",
                                                                                                      PROFILE)
    _build(gtzan, out, verify=True)
    assert len(extractions) == 5                            # verified and unchanged: reused


def test_store_key_follows_library_versions_and_code(gtzan, tmp_path, extractions, monkeypatch):
    out = tmp_path / "store"
    _build(gtzan, out)
    real = store.library_key
    monkeypatch.setattr(store, "library_key", lambda stage: {**real(stage), "librosa": "0.0-other"})
    _build(gtzan, out)
    assert len(extractions) == 2
    monkeypatch.setattr(store, "code_fingerprint", lambda *m: "other code")
    _build(gtzan, out)
    assert len(extractions) == 3


# ---------------------------------------------------------------------------------------------- corpus
def test_corpus_notices_deleted_truncated_and_altered_files(tmp_path, monkeypatch, capsys):
    out = tmp_path / "corpus"
    first = synth.render_corpus(out, MINI, progress=False, workers=1)
    clip = out / "gtzan/genres_original/metal/metal.00000.wav"
    good = clip.read_bytes()
    assert synth.render_corpus(out, MINI, progress=False)["cached"] is True

    clip.unlink()
    again = synth.render_corpus(out, MINI, progress=False, workers=1)
    assert not again["cached"] and again["files_rendered"] == 1 and clip.read_bytes() == good
    assert "metal.00000.wav" in capsys.readouterr().err

    clip.write_bytes(good[: len(good) // 2])
    again = synth.render_corpus(out, MINI, progress=False, workers=1)
    assert again["files_rendered"] == 1 and clip.read_bytes() == good

    _same_size_and_time(clip, good[:-10] + bytes(10))
    assert synth.render_corpus(out, MINI, progress=False)["cached"] is True       # size and time match
    again = synth.render_corpus(out, MINI, progress=False, workers=1, verify=True)
    assert again["files_rendered"] == 1 and clip.read_bytes() == good

    # the corpus is keyed on its code and libraries, not only SYNTH_VERSION
    monkeypatch.setattr(synth_corpus, "code_fingerprint", lambda *m: "other code")
    assert synth.corpus_fingerprint(MINI) != first["fingerprint"]
    real = synth_corpus.library_key
    monkeypatch.setattr(synth_corpus, "library_key", lambda stage: {**real(stage), "tinysoundfont": "0.0-other"})
    assert synth.corpus_fingerprint(MINI) != first["fingerprint"]


# ------------------------------------------------------------------------------------------- notebooks
class FakeContext:
    """The part of context.Context the notebook and HTML steps use, with artefact keys set by the test."""

    def __init__(self, build_dir):
        self.build_dir = build_dir
        self.profile = get_profile("tiny")
        self.synthetic = True
        self.keys = {}

    def key_of(self, kind, args):
        return self.keys.get((kind, *args), "initial")


def _notebook(path, code: str) -> None:
    params = nbformat.v4.new_code_cell("profile = 'tiny'\nbuild_dir = None")
    params.metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python",
                                                           "display_name": "Python 3"},
                                            "language_info": {"name": "python"}})
    nb.cells = [params, nbformat.v4.new_code_cell(code)]
    nbformat.write(nb, path)


@pytest.fixture()
def fake_book(tmp_path, monkeypatch):
    """A three-notebook book (one reads a run, one a store, one the build folder) and a fake executor.

    The executor runs the code cells in this process, with the dependency file set as the build sets it,
    so the notebooks' ``context.record_dependency`` calls are what a kernel would record.
    """
    root = tmp_path / "root"
    (root / "book").mkdir(parents=True)
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/a\n"
                                   "parts:\n- chapters:\n  - file: book/b\n  - file: book/c\n")
    (root / "_config.yml").write_text("title: fake\n")
    _notebook(root / "book" / "a.ipynb", "from genre_utils import context\ncontext.record_dependency('run', "
                                         "['crnn', 'mfcc', 'random'], 'k')")
    _notebook(root / "book" / "b.ipynb", "from genre_utils import context\ncontext.record_dependency('store', "
                                         "['mfcc', 'random'], 'k')")
    _notebook(root / "book" / "c.ipynb", "folder = context.run_dir('tiny', 'crnn', build_dir=ctx.build_dir)")
    executed = []

    def fake_execute(page, target, parameters, cwd, timeout, build_dir=None, **_):
        executed.append(page.name)
        deps = target.with_name(f".deps-{target.stem}.jsonl")
        os.environ[bookbuild.DEPS_ENV] = str(deps)
        try:
            for src in bookbuild._code_cells(page):
                if "record_dependency" in src:
                    exec(src, {})
        finally:
            del os.environ[bookbuild.DEPS_ENV]
        target.write_text(page.read_text())
        recorded = [[d["kind"], d["args"]] for d in map(json.loads, deps.read_text().splitlines())] \
            if deps.is_file() else []
        deps.unlink(missing_ok=True)
        return recorded

    monkeypatch.setattr(bookbuild, "_execute", fake_execute)
    monkeypatch.setenv("GENRE_UTILS_NOTEBOOK_WORKERS", "1")   # the fake sets os.environ: one notebook at a time
    ctx = FakeContext(tmp_path / "build")
    pages = build._toc_notebooks(root)

    def run():
        executed.clear()
        bookbuild.execute_notebooks(ctx, root, pages, {"profile": "tiny"})
        return sorted(executed)

    return root, ctx, run


def test_notebooks_rerun_exactly_when_what_they_read_changes(fake_book, monkeypatch):
    root, ctx, run = fake_book
    assert run() == ["a.ipynb", "b.ipynb", "c.ipynb"]
    assert run() == []
    stamp = json.loads((ctx.build_dir / "executed/book/a.key.json").read_text())
    assert stamp["recorded"] == [["run", ["crnn", "mfcc", "random"]]] and not stamp["everything"]

    ctx.keys["run", "crnn", "mfcc", "random"] = "retrained"        # a run changes
    assert run() == ["a.ipynb", "c.ipynb"]
    ctx.keys["store", "mfcc", "random"] = "rebuilt"                # a store changes
    assert run() == ["b.ipynb", "c.ipynb"]
    ctx.keys["run", "crnn", "logmel", "random"] = "other"         # a run only c reads (via the build folder)
    assert run() == ["c.ipynb"]

    page = root / "book" / "b.ipynb"                                # one notebook's source
    nb = nbformat.read(page, as_version=4)
    nb.cells[1].source += "\n# edited"
    nbformat.write(nb, page)
    assert run() == ["b.ipynb"]

    target = ctx.build_dir / "executed/book/a.ipynb"                # a half-written executed notebook
    target.write_text(target.read_text()[:50])
    assert run() == ["a.ipynb"]

    real = bookbuild.library_key                                    # a library version
    monkeypatch.setattr(bookbuild, "library_key", lambda stage: {**real(stage), "matplotlib": "0.0-other"})
    assert run() == ["a.ipynb", "b.ipynb", "c.ipynb"]
    assert run() == []


def test_html_is_rendered_only_when_an_input_changes_and_swapped_atomically(fake_book, monkeypatch):
    root, ctx, run = fake_book
    run()
    renders = []

    def fake_jupyter_book(executed, strict):
        renders.append(1)
        out = executed / "_build" / "html"
        out.mkdir(parents=True, exist_ok=True)
        (out / "index.html").write_text(f"render {len(renders)}")
        (out / "page.html").write_text("x" * 1000)
        return out

    monkeypatch.setattr(bookbuild, "_jupyter_book", fake_jupyter_book)
    pages = build._toc_notebooks(root)
    html = bookbuild.render_html(ctx, root, pages, None)
    assert (html / "index.html").read_text() == "render 1"
    bookbuild.render_html(ctx, root, pages, None)
    assert len(renders) == 1                                        # nothing changed

    (root / "_config.yml").write_text("title: changed\n")
    real_copytree = bookbuild.shutil.copytree

    def interrupted_copy(src, dst, **kw):
        real_copytree(src, dst, **kw)
        (dst / "index.html").write_text("half")
        raise KeyboardInterrupt

    monkeypatch.setattr(bookbuild.shutil, "copytree", interrupted_copy)
    with pytest.raises(KeyboardInterrupt):
        bookbuild.render_html(ctx, root, pages, None)
    assert (html / "index.html").read_text() == "render 1"          # the old book, whole
    monkeypatch.setattr(bookbuild.shutil, "copytree", real_copytree)
    bookbuild.render_html(ctx, root, pages, None)
    assert (html / "index.html").read_text() == "render 3"
    assert not list(ctx.build_dir.glob(".html-*"))

    ctx.keys["run", "crnn", "mfcc", "random"] = "retrained"        # a notebook re-executes: HTML again
    run()
    bookbuild.render_html(ctx, root, pages, None)
    assert len(renders) == 4


# ------------------------------------------------------------------------------------------------ lock
HOLD = """
import sys, time
from genre_utils import build
with build.build_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(60)
"""


def test_second_build_on_the_same_folder_stops_at_once(tmp_path, capsys):
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(HOLD), str(tmp_path)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        rc = build.main(["data", "--profile", "tiny", "--build-dir", str(tmp_path)])
        err = capsys.readouterr().err
        assert rc != 0 and str(tmp_path) in err and str(proc.pid) in err
        assert len(err.strip().splitlines()) == 1
    finally:
        proc.kill()
        proc.wait()
    with build.build_lock(tmp_path):                                # released with its holder
        pass


def test_two_notebooks_run_side_by_side_and_a_reader_waits_for_its_writer(tmp_path, monkeypatch):
    """With two workers two notebooks overlap, each kernel gets half the cores' threads, and a page of
    bookbuild.RUNS_AFTER starts only once the page it reads from has finished."""
    import threading
    import time as _time

    events, lock = [], threading.Lock()

    def fake_execute(page, target, parameters, cwd, timeout, build_dir=None, kernel_env=None):
        with lock:
            events.append(("start", page.name, dict(kernel_env or {})))
        _time.sleep(0.3)
        target.write_text(page.read_text())
        with lock:
            events.append(("end", page.name, None))
        return []

    root = tmp_path / "root"
    (root / "book").mkdir(parents=True)
    names = ["confidence", "real_recordings", "intro", "data"]
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/confidence\nparts:\n- chapters:\n"
                                   + "".join(f"  - file: book/{n}\n" for n in names[1:]))
    (root / "_config.yml").write_text("title: fake\n")
    for n in names:
        _notebook(root / "book" / f"{n}.ipynb", "x = 1")
    monkeypatch.setattr(bookbuild, "_execute", fake_execute)
    monkeypatch.setenv("GENRE_UTILS_NOTEBOOK_WORKERS", "2")
    monkeypatch.setattr(bookbuild, "num_threads", lambda: 4)
    ctx = FakeContext(tmp_path / "build")
    timings = bookbuild.execute_notebooks(ctx, root, build._toc_notebooks(root), {"profile": "tiny"})
    assert sorted(timings) == sorted(f"{n}.ipynb" for n in names)
    order = [(kind, name) for kind, name, _ in events]
    assert order.index(("start", "real_recordings.ipynb")) > order.index(("end", "confidence.ipynb"))
    starts = [i for i, (kind, _) in enumerate(order) if kind == "start"]
    assert order[1][0] == "start", order      # the second notebook started before the first ended
    assert all(env.get("OMP_NUM_THREADS") == "2" for kind, _, env in events if kind == "start")
    assert len(starts) == 4


def test_a_notebook_of_the_build_waits_for_a_sibling_holding_a_folder(monkeypatch):
    """make book runs two notebooks at a time; one asking for a store that another is checking waits for it (a
    refusal failed a whole quick build), while outside a build the refusal stays immediate."""
    from genre_utils.errors import FolderLocked

    calls = []

    def busy(times):
        def call():
            calls.append(1)
            if len(calls) <= times:
                raise FolderLocked("/x/store", 123, "feature-store build")
            return "store"
        return call

    monkeypatch.delenv(context.DEPS_ENV, raising=False)
    with pytest.raises(FolderLocked):
        context._patiently(busy(2))
    assert len(calls) == 1
    calls.clear()
    monkeypatch.setenv(context.DEPS_ENV, "deps.jsonl")
    assert context._patiently(busy(2)) == "store" and len(calls) == 3
    calls.clear()
    monkeypatch.setattr(context, "SHARED_FOLDER_WAIT", 0.0)      # a holder that never lets go: refused in the end
    with pytest.raises(FolderLocked):
        context._patiently(busy(10**6))



def test_long_pages_start_first_and_the_rest_keep_page_order():
    pages = [Path(f"book/{n}.ipynb") for n in ("intro", "data", "explorer", "discussion", "laboratory", "confidence")]
    order = [p.stem for p in bookbuild.execution_order(pages)]
    assert order == ["laboratory", "confidence", "explorer", "intro", "data", "discussion"]
    assert bookbuild.execution_order([]) == []
