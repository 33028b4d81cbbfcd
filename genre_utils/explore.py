"""`make explore`: the error explorer as a live app on localhost (Voilà), on the runs of the last `make book`.

Voilà runs a notebook in a Jupyter kernel and serves only its outputs (no code, no editing), so the
explorer's dropdowns, track list, feature image, saliency map and audio player all respond in the browser,
as they would in JupyterLab, without the reader seeing or changing any code. It is chosen over opening
JupyterLab on ``book/explorer.ipynb`` because the reader wants the app, not the notebook: nothing to run
cell by cell, nothing to save by mistake, and one small dependency (``voila``, the ``live`` extra)
instead of the whole JupyterLab front end.

What it does::

    python -m genre_utils.explore [--profile quick] [--build-dir _build] [--run DIR] [--port 8866] [--no-build]

1. finds the run to show: ``--run``, else the main run (CRNN, MFCC, random split) of the profile of the last
   ``make book`` (``<build>/results.json``), else of any profile already trained in ``<build>/runs``; with
   none, it builds the main run of ``--profile`` (saying so; corpus, features and training take minutes),
   unless ``--no-build``, when it stops with one line;
2. writes a two-cell app notebook to ``<build>/explore/explorer.ipynb`` (it calls :func:`app`);
3. starts Voilà on it, bound to 127.0.0.1 only, with a random access token, prints the URL and waits;
4. Ctrl-C (or SIGTERM) stops Voilà, which shuts its kernel down; any process it left is ended too.

Every failure a user can meet (no runs and no way to build them, Voilà missing, port taken) is one line on
stderr and exit status 2, not a traceback.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from .context import BOOK_RUNS, context, find_root, run_dir
from .errors import ExploreError
from .parallel import die_with_parent

__all__ = ["find_run", "app", "write_app_notebook", "serve", "main"]

MAIN_RUN = BOOK_RUNS[0]


def _has_run(folder: Path) -> bool:
    """A trained and evaluated run whose results.json scored the best.pt beside it."""
    from .experiments import stale_results  # deferred: loads torch, which the launcher itself does not need

    return (folder / "results.json").is_file() and (folder / "best.pt").is_file() and stale_results(folder) is None


def find_run(build_dir, profile: str | None = None) -> Path | None:
    """The run folder the explorer should show, or None when nothing is trained yet.

    Order: the main run of ``profile`` when given and trained; the main run of the profile of the last
    ``make book`` (``<build_dir>/results.json``); the most recently trained main run of any profile.
    """
    build_dir = Path(build_dir)
    candidates = []
    if profile:
        candidates.append(run_dir(profile, *MAIN_RUN, build_dir=build_dir))
    try:
        last = json.loads((build_dir / "results.json").read_text())["profile"]
        candidates.append(run_dir(last, *MAIN_RUN, build_dir=build_dir))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    for folder in candidates:
        if _has_run(folder):
            return folder
    name = "-".join(MAIN_RUN)
    trained = [p for p in (build_dir / "runs").glob(f"*/{name}") if _has_run(p)]
    return max(trained, key=lambda p: (p / "results.json").stat().st_mtime) if trained else None


def build_main_run(build_dir, profile: str) -> Path:
    """Render the corpus, build the features and train the main run of ``profile`` (as ``make book`` would)."""
    ctx = context(profile, build_dir, progress=True)
    ctx.run(*MAIN_RUN)
    return run_dir(profile, *MAIN_RUN, build_dir=build_dir)


# ------------------------------------------------------------------------------------------ the app
def app(run, max_audio_seconds: float = 10.0, saliency_method: str = "occlusion"):
    """The explorer of one run folder, with its feature store when it is still there (the cell Voilà runs).

    Parameters
    ----------
    run : path-like
        A run folder (``results.json``, ``best.pt``).

    Returns
    -------
    widget : ipywidgets.VBox
        :func:`genre_utils.widgets.explorer` with the run's model (saliency view included).
    """
    # deferred: slow to import (torch); the launcher starts without it
    from .results import load_results
    from .store import open_dataset
    from .widgets import explorer

    run = Path(run)
    results = load_results(run)
    dataset = None
    store = results.config.get("dataset")
    if store and (Path(store) / "dataset.json").is_file():
        try:
            dataset = open_dataset(store)
        except Exception:  # a store rebuilt or damaged since: fall back to decoding the audio files
            dataset = None
    return explorer(results, dataset=dataset, max_audio_seconds=max_audio_seconds, model=run,
                    saliency_method=saliency_method)


def write_app_notebook(run, out_dir) -> Path:
    """The notebook Voilà serves: a heading naming the run and one cell calling :func:`app`."""
    import nbformat

    run = Path(run).resolve()
    try:
        results = json.loads((run / "results.json").read_text())
        data = results.get("data_description") or ""
    except (OSError, ValueError):
        data = ""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell(
            f"# Error explorer\n\nRun `{run.parent.name}/{run.name}`" + (f", trained on {data}" if data else "")
            + ". Pick a true and a predicted genre, then a clip: its features, what the model listened to "
              "(red: evidence for the predicted genre), its audio and the model's top three genres."),
        nbformat.v4.new_code_cell(f"from genre_utils import explore\nexplore.app({str(run)!r})"),
    ]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "explorer.ipynb"
    nbformat.write(nb, path)
    return path


# ---------------------------------------------------------------------------------------- the server
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _descendants(pid: int) -> set:
    import psutil

    try:
        return {(p.pid, p.create_time()) for p in psutil.Process(pid).children(recursive=True)}
    except psutil.Error:
        return set()


def _end(processes: set, grace: float = 5.0) -> None:
    """Terminate (then kill) every still-running process of ``processes`` ((pid, create_time) pairs)."""
    import psutil

    alive = []
    for pid, created in processes:
        try:
            p = psutil.Process(pid)
            if p.create_time() == created:
                p.terminate()
                alive.append(p)
        except psutil.Error:
            pass
    _, left = psutil.wait_procs(alive, timeout=grace)
    for p in left:
        try:
            p.kill()
        except psutil.Error:
            pass


def serve(notebook, port: int = 0, token: str | None = None, ready_timeout: float = 120.0, out=sys.stdout) -> int:
    """Serve ``notebook`` with Voilà on 127.0.0.1 until Ctrl-C / SIGTERM; returns Voilà's exit status.

    The URL (with its access token) is printed once the server answers.
    """
    port = port or _free_port()
    if not _port_free(port):
        raise ExploreError(f"port {port} on 127.0.0.1 is already in use: choose another with PORT=...")
    token = token if token is not None else secrets.token_urlsafe(16)
    notebook = Path(notebook)
    cmd = [sys.executable, "-m", "voila", notebook.name, "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
           "--Voila.port_retries=0", "--strip_sources=True", f"--token={token}",
           "--VoilaConfiguration.show_tracebacks=True"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    log = open(notebook.parent / "voila.log", "w")
    launcher = os.getpid()
    # a launcher killed outright (kill -9) takes Voila along: SIGTERM, Voila's own stop, which ends its kernels
    proc = subprocess.Popen(cmd, cwd=notebook.parent, stdout=log, stderr=subprocess.STDOUT, env=env,
                            preexec_fn=lambda: die_with_parent(signal.SIGTERM, launcher))
    url = f"http://127.0.0.1:{port}/" + (f"?token={token}" if token else "")
    seen = set()
    stopping = {"asked": False}

    def on_term(signum, frame):  # SIGTERM, or SIGHUP (the terminal closed): stop like Ctrl-C
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, on_term) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            if proc.poll() is not None:
                tail = (notebook.parent / "voila.log").read_text(errors="replace").strip().splitlines()[-3:]
                raise ExploreError(f"Voila stopped at start (exit {proc.returncode}): {' | '.join(tail)}")
            try:  # listening is enough: a GET of the page would already start a kernel
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise ExploreError(f"Voila did not answer on port {port} within {ready_timeout:.0f} s "
                                       f"(log: {notebook.parent / 'voila.log'})") from None
                time.sleep(0.5)
        print(f"Explorer: {url}", file=out, flush=True)
        print("(served on this machine only; the first page load runs the notebook, a few seconds; "
              "Ctrl-C stops it)", file=out, flush=True)
        while proc.poll() is None:
            seen |= _descendants(proc.pid)
            time.sleep(0.5)
        return proc.returncode
    except KeyboardInterrupt:
        stopping["asked"] = True
        seen |= _descendants(proc.pid)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # Voila's own stop: shuts its kernels down
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        print("Explorer stopped.", file=out, flush=True)
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        _end(seen)  # kernels Voila could not shut down, if any
        log.close()


# ----------------------------------------------------------------------------------------------- CLI
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m genre_utils.explore", description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default=None, help="profile to show (default: that of the last make book; "
                                                    "quick when nothing is built)")
    ap.add_argument("--build-dir", default=None, help="build folder (default: _build at the repository root)")
    ap.add_argument("--run", default=None, help="a run folder to show instead (results.json and best.pt)")
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    ap.add_argument("--no-build", action="store_true", help="never train: stop when no run is built")
    args = ap.parse_args(argv)
    build = Path(args.build_dir).resolve() if args.build_dir else find_root() / "_build"
    try:
        if importlib.util.find_spec("voila") is None:
            raise ExploreError("Voila is not installed in this environment: `make explore` installs it "
                               "(or: pip install -e '.[live]')")
        if args.run:
            run = Path(args.run).resolve()
            if not ((run / "results.json").is_file() and (run / "best.pt").is_file()):
                raise ExploreError(f"{run} is not a trained run (needs results.json and best.pt)")
            from .experiments import stale_results  # deferred: loads torch (see _has_run)

            if (problem := stale_results(run)) is not None:
                raise ExploreError(f"{problem}; score it with `genre-utils evaluate --data STORE --run {run}` "
                                   "first")
        else:
            run = find_run(build, args.profile)
            if run is None:
                profile = args.profile or "quick"
                if args.no_build:
                    raise ExploreError(f"no trained runs in {build / 'runs'}: run `make book` first "
                                       f"(or `make explore` without --no-build to train the {profile} run)")
                print(f"No trained runs in {build / 'runs'}: building the {profile} profile's main run first "
                      "(synthetic corpus, features, training; minutes on a laptop) ...", file=sys.stderr,
                      flush=True)
                try:
                    run = build_main_run(build, profile)
                except KeyboardInterrupt:
                    raise
                except Exception as err:
                    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
                    raise ExploreError(f"no trained runs in {build / 'runs'}, and building them failed "
                                       f"({first}): run `make book` first") from None
        print(f"Showing run {run}", file=sys.stderr, flush=True)
        notebook = write_app_notebook(run, build / "explore")
        return serve(notebook, port=args.port)
    except ExploreError as err:
        print(f"explore: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("explore: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
