"""The steps of ``make data`` and ``make book``, each cached so that a rerun with nothing changed is quick.

Layout of the build folder (``_build`` by default)::

    _build/data/synth-<profile>/          synthetic corpus (GTZAN + FMA layouts, new data)
    _build/data/<profile>-<kind>-<split>/ feature store (see genre_utils.store)
    _build/runs/<profile>/<model>-<kind>-<split>/   checkpoints and results.json of one trained model
    _build/executed/                      executed notebooks + the book's configuration, rendered from here
    _build/html/                          the rendered book
    _build/results.json                   the build's headline numbers (keys in the README)

Notebooks get a :class:`genre_utils.context.Context` from their papermill parameters
(``context.context(profile, build_dir, ...)``) and ask it for stores and trained runs; every notebook
therefore reaches the same cached artefacts, and each model is trained once per build.

``make book`` runs, under the lock ``<build>/.lock`` (a second build of the same folder stops at once):

1. :func:`prepare`: the corpus, every store and every run the profile trains
   (:func:`genre_utils.context.profile_runs`) and the laboratory's clips, one line each with its
   seconds and progress bars on the terminal. Each is cached on everything it depends on: the corpus on
   its settings, seed, code and libraries (:func:`genre_utils.synth.corpus_fingerprint`); a store on its
   input files (path, size, time; content with ``--verify``), settings, code and libraries
   (:func:`genre_utils.store.build_dataset`); a run on its store's key and data fingerprint, the model,
   the hyperparameters, code and libraries (:func:`genre_utils.experiments.run_key`). A reused artefact is
   checked first (sizes and checksums recorded when it was written), so a broken one is rebuilt. On a
   CPU the runs train two at a time, each in a process of its own with half the cores
   (:meth:`genre_utils.context.Context.train_runs`).
2. The notebooks whose key changed are executed, and 3. the HTML book is rendered when any input of it
   changed (:mod:`genre_utils.bookbuild` describes both keys).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from . import bookbuild
from .config import PROFILES
from .context import Context, book_runs, context, find_root, lab_runs, main_run_dir, profile_runs, run_dir
from .errors import BuildError, UserError, one_line, user_error_types
from .locks import folder_lock
from .provenance import atomic_write_bytes, atomic_write_text, versions

__all__ = ["prepare", "build_data", "build_book", "build_lock", "summarise", "main"]

#: Pinned versions of the widget JavaScript vendored into the book (fetched with npm, never from a CDN).
WIDGET_JS = {"@jupyter-widgets/html-manager": "1.0.15", "requirejs": "2.3.8"}

# ------------------------------------------------------------------------------------------ the book
def _toc_notebooks(root: Path) -> list[Path]:
    """Pages of ``_toc.yml`` in reading order, as paths (``.ipynb`` or ``.md``)."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [c["file"] for c in part.get("chapters", [])]
    pages = []
    for f in files:
        for ext in (".ipynb", ".md"):
            if (root / (f + ext)).is_file():
                pages.append(root / (f + ext))
                break
        else:
            raise BuildError(f"_toc.yml names {f}, but neither {f}.ipynb nor {f}.md exists")
    return pages


def notebook_parameters(ctx: Context) -> dict:
    """The papermill parameters of every notebook: profile, data roots and device, but no build folder.

    The build folder reaches the notebooks through ``$GENRE_UTILS_BUILD_DIR`` (``build_dir`` is injected as
    None, which :func:`genre_utils.context.context` resolves from that variable), so no absolute path of the
    build machine is written into an executed notebook or a page.
    """
    return {"profile": ctx.profile.name, "build_dir": None,
            "gtzan": None if ctx.synthetic else (str(ctx.gtzan) if ctx.gtzan else None),
            "fma": None if ctx.synthetic else (str(ctx.fma) if ctx.fma else None),
            "device": ctx.device}


def _vendor_widget_js(cache: Path) -> Path | None:
    """Fetch the pinned widget JavaScript with npm once; return the folder holding it.

    Without npm, or when ``npm pack`` fails (offline, no registry, a broken npm), print one warning line and
    return None: the book is still built, and its saved widgets load the JavaScript from a CDN.
    """
    done = cache / "vendored.json"
    if done.is_file() and json.loads(done.read_text()) == WIDGET_JS:
        return cache
    fallback = "so the widget JavaScript is not vendored; saved widgets in the HTML will load it from a CDN"
    npm = shutil.which("npm")
    if npm is None:
        print(f"warning: npm not found, {fallback}", file=sys.stderr)
        return None
    try:
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            specs = [f"{name}@{version}" for name, version in WIDGET_JS.items()]
            subprocess.run([npm, "pack", *specs, "--pack-destination", tmp, "--silent"], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=600)
            files = {}
            for tgz in Path(tmp).glob("*.tgz"):
                with tarfile.open(tgz) as tar:
                    for member in tar.getmembers():
                        name = member.name
                        keep = name == "package/require.js" or (
                            name.startswith("package/dist/") and not name.endswith(("embed.js", "libembed-amd.js"))
                            and not name.endswith(".map"))
                        if keep and member.isfile():
                            files[Path(name).name] = tar.extractfile(member).read()
            if not any(name.endswith(".js") for name in files):
                raise tarfile.TarError("npm pack returned no JavaScript")
    except subprocess.CalledProcessError as err:
        last = (err.stderr or "").strip().splitlines()[-1:] or [f"exit status {err.returncode}"]
        print(f"warning: npm pack failed ({' '.join(last[0].split())}), {fallback}", file=sys.stderr)
        return None
    except subprocess.TimeoutExpired:
        print(f"warning: npm pack did not finish in 10 minutes, {fallback}", file=sys.stderr)
        return None
    except (OSError, tarfile.TarError) as err:
        print(f"warning: npm pack gave no usable package ({' '.join(str(err).split())}), {fallback}",
              file=sys.stderr)
        return None
    for name, data in files.items():
        atomic_write_bytes(cache / name, data)
    atomic_write_text(done, json.dumps(WIDGET_JS))
    return cache


def prepare(ctx: Context) -> None:
    """Bring every artefact the book reads up to date, one progress line each: corpus, stores, runs.

    Done before any notebook runs, so training happens here, with progress bars on the build's terminal,
    and the notebooks only read cached results.
    """
    ctx.corpus()
    for model, kind, split in profile_runs(ctx.profile):
        ctx.dataset(kind, split)
    # two at a time on a CPU (Context.train_runs), the laboratory's runs on its controlled corpora with them
    ctx.train_runs(book_runs(ctx.profile) + (lab_runs(ctx.profile) if ctx.synthetic else []))
    ctx.lab()   # the laboratory's clips, with every core


def build_data(ctx: Context):
    """``make data``: the corpus and the main feature store, under the build folder's lock."""
    with build_lock(ctx.build_dir):
        return ctx.dataset()


def build_lock(build_dir):
    """Hold ``<build>/.lock`` for a whole ``make data`` / ``make book``; a second build stops at once.

    Raises
    ------
    genre_utils.locks.FolderLocked
        Another process holds it (a :class:`~genre_utils.errors.UserError`: one line naming the folder and
        the holder's pid).
    """
    return folder_lock(build_dir, "build")


def build_book(ctx: Context, root: Path | None = None, strict: bool = True, cell_timeout=None) -> Path:
    """Prepare the artefacts, execute the notebooks whose inputs changed, render the HTML book when needed.

    Each step prints one line with its seconds; see :mod:`genre_utils.bookbuild` for the keys.

    Parameters
    ----------
    ctx : Context
    root : Path, optional
        Repository root (default: found from the working directory).
    strict : bool
        Treat Sphinx warnings as errors (``-W``), as CI does.
    cell_timeout : int, optional
        Time limit of one notebook cell in seconds (default: ``$GENRE_UTILS_CELL_TIMEOUT`` or 4 hours; 0: none).

    Returns
    -------
    html : Path
        ``<build>/html``, the rendered book.
    """
    root = find_root(root)
    if not (root / "_toc.yml").is_file():  # before minutes of corpus, features and training
        raise UserError(f"{root} is not (inside) the genre-book repository: no _toc.yml there or above it; run "
                        "`make book` (or python -m genre_utils.build book) from the repository's folder")
    with build_lock(ctx.build_dir):
        prepare(ctx)
        params = notebook_parameters(ctx)
        pages = _toc_notebooks(root)
        timings = bookbuild.execute_notebooks(ctx, root, pages, params, bookbuild.cell_timeout(cell_timeout))
        vendored = _vendor_widget_js(ctx.build_dir / "vendor")
        html = bookbuild.render_html(ctx, root, pages, vendored, strict)
        summarise(ctx, timings)
    return html


# -------------------------------------------------------------------------------------------- summary
def summarise(ctx: Context, timings: dict | None = None) -> dict:
    """Write ``<build>/results.json``: the build's headline numbers, one entry per run the profile trains.

    Keys: ``profile``, ``data`` (description), ``synthetic``, ``runs`` (run name -> ``segment_accuracy``,
    ``track_accuracy``, ``newdata_accuracy``, ``best_epoch``, ``train_seconds``, ``data_fingerprint``),
    ``main_run``, ``notebook_seconds``, ``versions``.
    """
    from .results import load_results  # deferred: torch, only once the runs are done

    runs = {}
    for model, kind, split in profile_runs(ctx.profile):
        folder = run_dir(ctx.profile.name, model, kind, split, ctx.build_dir)
        if (folder / "results.json").is_file():
            res = load_results(folder)
            runs[folder.name] = {
                "segment_accuracy": res.accuracy("segment").value, "track_accuracy": res.accuracy("track").value,
                "newdata_accuracy": res.newdata_accuracy().value if res.has_newdata else None,
                "best_epoch": res.headline.best_epoch, "train_seconds": res.headline.train_seconds,
                "data_fingerprint": res.dataset.get("data_fingerprint")}
    summary = {"profile": ctx.profile.name, "data": ctx.data_description, "synthetic": ctx.synthetic,
               "main_run": main_run_dir(ctx.profile.name, ctx.build_dir).name, "runs": runs,
               "notebook_seconds": timings or {}, "versions": versions()}
    atomic_write_text(ctx.build_dir / "results.json", json.dumps(summary, indent=2))
    return summary


def main(argv=None) -> int:
    """``python -m genre_utils.build {data,book}``: the targets of the Makefile.

    Exit status 0 on success; 1 when a notebook or the book's rendering failed; 2 for a mistake in the input
    or setup (one line on stderr: a data folder that is not there, a device this machine lacks, a folder
    that cannot be written, a full disk); 130 after Ctrl-C.
    """
    parser = argparse.ArgumentParser(prog="python -m genre_utils.build")
    parser.add_argument("target", choices=["data", "book"])
    parser.add_argument("--profile", default="quick", choices=sorted(PROFILES))
    parser.add_argument("--build-dir", default="_build", type=Path)
    parser.add_argument("--gtzan", type=Path)
    parser.add_argument("--fma", type=Path)
    parser.add_argument("--device")
    parser.add_argument("--no-strict", action="store_true", help="do not treat Sphinx warnings as errors")
    parser.add_argument("--verify", action="store_true",
                        help="check content hashes of input files and cached artefacts, not only size and time")
    parser.add_argument("--cell-timeout", type=float, default=None,
                        help="seconds one notebook cell may run (default: $GENRE_UTILS_CELL_TIMEOUT or 4 hours; "
                             "0: no limit)")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    try:
        if args.device:
            from .train import select_device  # deferred: torch, only when a device is named

            select_device(args.device)
        ctx = context(args.profile, args.build_dir, args.gtzan, args.fma, device=args.device, verify=args.verify)
        if args.target == "data":
            ds = build_data(ctx)
            print(f"dataset ready: {ds.root} ({ds.info['n_tracks_used']} tracks, windows {ds.info['n_windows']})")
        else:
            html = build_book(ctx, strict=not args.no_strict, cell_timeout=args.cell_timeout)
            print(f"book ready: {html / 'index.html'} ({time.perf_counter() - t0:.0f} s); "
                  f"headline numbers in {ctx.build_dir / 'results.json'}")
    except BuildError as err:
        print(f"make {args.target}: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"make {args.target}: interrupted; run it again to resume", file=sys.stderr)
        return 130
    except user_error_types() as err:
        print(f"make {args.target}: error: {one_line(err)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
