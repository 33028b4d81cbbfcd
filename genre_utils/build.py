"""The steps of ``make data`` and ``make book``, each cached so that a rerun with nothing changed is quick.

Layout of the build folder (``_build`` by default)::

    _build/data/synth-<profile>/          synthetic corpus (GTZAN + FMA layouts, new data)
    _build/data/<profile>-<kind>-<split>/ feature store (see genre_utils.store)
    _build/runs/<profile>/<model>-<kind>-<split>/   checkpoints and results.json of one trained model
    _build/executed/                      executed notebooks + the book's configuration, rendered from here
    _build/html/                          the rendered book
    _build/results.json                   the build's headline numbers (keys in the README)

Notebooks get a :class:`Context` from their papermill parameters (``context(profile, build_dir, ...)``) and
ask it for stores and trained runs; every notebook therefore reaches the same cached artefacts, and each
model is trained once per build.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .config import PROFILES, Profile, get_profile
from .provenance import code_fingerprint

__all__ = ["Context", "context", "find_root", "run_dir", "main_run_dir", "build_book", "summarise", "main"]

#: Pinned versions of the widget JavaScript vendored into the book (fetched with npm, never from a CDN).
WIDGET_JS = {"@jupyter-widgets/html-manager": "1.0.15", "requirejs": "2.3.8"}

#: Runs of the book: (model, feature kind, split method). The first is the main result.
BOOK_RUNS = (
    ("crnn", "mfcc", "random"),
    ("baseline", "mfcc", "random"),
    ("crnn-temporal", "mfcc", "random"),
    ("crnn", "logmel", "random"),
    ("crnn", "mfcc", "artist"),
)


def find_root(start=None) -> Path:
    """The repository root: the nearest folder at or above ``start`` (default: cwd) holding ``_toc.yml``."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_toc.yml").is_file():
            return folder
    return here


def run_dir(profile: str, name: str, kind: str = "mfcc", split: str = "random", build_dir="_build") -> Path:
    """Folder of one trained model: ``<build>/runs/<profile>/<name>-<kind>-<split>``."""
    return Path(build_dir) / "runs" / get_profile(profile).name / f"{name}-{kind}-{split}"


def main_run_dir(profile: str, build_dir="_build") -> Path:
    """The run the book's main results come from: the paper's CRNN on MFCCs with a track-level random split."""
    return run_dir(profile, *BOOK_RUNS[0], build_dir=build_dir)


@dataclass
class Context:
    """What one build works on: profile, folders and data sources, with cached access to stores and runs.

    Attributes
    ----------
    profile : Profile
    build_dir : Path
        Absolute build folder.
    gtzan, fma, newdata : Path or None
        Real data roots, or the synthetic corpus's folders when none is given.
    synthetic : bool
        True when the build runs on the project's synthetic corpus.
    device : str or None
        Torch device (None: cuda, then mps, then cpu).
    progress : bool
        Show progress bars.
    """

    profile: Profile
    build_dir: Path
    gtzan: Path | None
    fma: Path | None
    newdata: Path | None
    synthetic: bool
    device: str | None = None
    progress: bool = True
    _datasets: dict = field(default_factory=dict, repr=False)

    @property
    def data_description(self) -> str:
        """One sentence saying which data the results come from (shown on every results page)."""
        if self.synthetic:
            return ("the project's synthetic corpus (rendered by genre_utils.synth in the GTZAN and FMA "
                    "layouts), not the real GTZAN or FMA recordings")
        parts = [f"GTZAN at {self.gtzan}" if self.gtzan else None, f"FMA at {self.fma}" if self.fma else None]
        return "real data: " + " and ".join(p for p in parts if p)

    def corpus(self) -> dict | None:
        """Render (or reuse) the synthetic corpus; None when the build runs on real data."""
        if not self.synthetic:
            return None
        from .synth import render_corpus

        return render_corpus(self.gtzan.parent, profile=self.profile, progress=self.progress)

    def dataset(self, kind: str = "mfcc", split: str = "random"):
        """Build (or reuse) and open the feature store for one feature kind and split method."""
        from .store import build_dataset

        if (kind, split) not in self._datasets:
            self.corpus()
            out = self.build_dir / "data" / f"{self.profile.name}-{kind}-{split}"
            self._datasets[kind, split] = build_dataset(
                out, gtzan=self.gtzan, fma=self.fma, profile=self.profile, split_method=split,
                feature_kind=kind, progress=self.progress)
        return self._datasets[kind, split]

    def run(self, model: str = "crnn", kind: str = "mfcc", split: str = "random") -> dict:
        """Train (or reuse) one model on one store and return its results (see genre_utils.experiments)."""
        from .experiments import run_experiment

        ds = self.dataset(kind, split)
        return run_experiment(ds, model, run_dir(self.profile.name, model, kind, split, self.build_dir),
                              self.profile, newdata=self.newdata, device=self.device, progress=self.progress,
                              data_description=self.data_description)


def context(profile: str = "quick", build_dir=None, gtzan=None, fma=None, newdata=None, device=None,
            progress: bool = True) -> Context:
    """The :class:`Context` of a notebook's papermill parameters.

    Parameters
    ----------
    profile : str
        ``tiny``, ``quick`` or ``paper``.
    build_dir : path-like, optional
        Default: ``_build`` at the repository root (found from the working directory).
    gtzan, fma : path-like, optional
        Real data roots; without them the synthetic corpus of the profile is used.
    newdata : path-like, optional
        Labelled folder for the paper's section 9; default: the synthetic corpus's ``newdata/``.
    device : str, optional
    progress : bool
    """
    prof = get_profile(profile)
    build = Path(build_dir).resolve() if build_dir else find_root() / "_build"
    if gtzan or fma:
        return Context(prof, build, Path(gtzan) if gtzan else None, Path(fma) if fma else None,
                       Path(newdata) if newdata else None, synthetic=False, device=device, progress=progress)
    synth = build / "data" / f"synth-{prof.name}"
    return Context(prof, build, synth / "gtzan", synth / "fma", Path(newdata) if newdata else synth / "newdata",
                   synthetic=True, device=device, progress=progress)


# ------------------------------------------------------------------------------------------ the book
class BuildError(RuntimeError):
    """A step of ``make book`` failed; the message names the notebook and the cell."""


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


def _execute(nb: Path, target: Path, parameters: dict, cwd: Path) -> None:
    """Run one notebook with papermill into ``target`` (atomically); failures name the notebook and cell."""
    import papermill as pm

    tmp = target.with_name(f".part-{target.name}")
    try:
        pm.execute_notebook(str(nb), str(tmp), parameters=parameters, cwd=str(cwd), kernel_name="python3",
                            progress_bar=False, log_output=False, request_save_on_cell_execute=False)
    except pm.PapermillExecutionError as err:
        raise BuildError(f"notebook {nb.name} failed in cell {err.exec_count} (executed copy: {tmp}):\n"
                         f"{err.ename}: {err.evalue}") from None
    _hide_default_parameters(tmp)
    os.replace(tmp, target)


def _hide_default_parameters(path: Path) -> None:
    """Tag the notebook's own ``parameters`` cell ``remove-cell``: the page shows papermill's injected values."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "parameters" in tags and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]
    nbformat.write(nb, path)


def _vendor_widget_js(cache: Path) -> Path | None:
    """Fetch the pinned widget JavaScript with npm once; return the folder holding it (None without npm)."""
    done = cache / "vendored.json"
    if done.is_file() and json.loads(done.read_text()) == WIDGET_JS:
        return cache
    npm = shutil.which("npm")
    if npm is None:
        return None
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        specs = [f"{name}@{version}" for name, version in WIDGET_JS.items()]
        subprocess.run([npm, "pack", *specs, "--pack-destination", tmp, "--silent"], check=True,
                       stdout=subprocess.DEVNULL)
        for tgz in Path(tmp).glob("*.tgz"):
            with tarfile.open(tgz) as tar:
                for member in tar.getmembers():
                    name = member.name
                    keep = name == "package/require.js" or (
                        name.startswith("package/dist/") and not name.endswith(("embed.js", "libembed-amd.js"))
                        and not name.endswith(".map"))
                    if keep and member.isfile():
                        (cache / Path(name).name).write_bytes(tar.extractfile(member).read())
    done.write_text(json.dumps(WIDGET_JS))
    return cache


def _stage(root: Path, executed: Path, vendored: Path | None) -> None:
    """Copy the book's configuration and Markdown pages next to the executed notebooks."""
    import yaml

    (executed / "book").mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((root / "_config.yml").read_text())
    sphinx_config = config.setdefault("sphinx", {}).setdefault("config", {})
    static = executed / "_widgets_js"  # not _static: Jupyter Book would load every .js there on every page
    static.mkdir(exist_ok=True)
    if vendored is not None:
        # the widget bundles load their icon fonts next to their AMD module ids, which RequireJS resolves
        # against the page: book/@jupyter-widgets/ or book/@jupyter-widgets/html-manager/dist/ (every
        # notebook page lives in book/); publish the fonts at both (html_extra_path)
        extra = executed / "_widgets_extra" / "book" / "@jupyter-widgets"
        font_dirs = [extra, extra / "html-manager" / "dist"]
        for folder in font_dirs:
            folder.mkdir(parents=True, exist_ok=True)
        for f in vendored.iterdir():
            if f.suffix == ".js" or f.name.endswith(".LICENSE.txt"):
                shutil.copy2(f, static / f.name)
            elif f.name != "vendored.json":
                for folder in font_dirs:
                    shutil.copy2(f, folder / f.name)
        sphinx_config["html_extra_path"] = ["_widgets_extra"]
        sphinx_config["html_static_path"] = ["_widgets_js"]
        sphinx_config["nb_ipywidgets_js"] = {"require.js": {},
                                             "embed-amd.js": {"data-jupyter-widgets-cdn": "./"}}
    else:
        print("warning: npm not found, so the widget JavaScript is not vendored; saved widgets in the HTML "
              "will load it from a CDN", file=sys.stderr)
    (executed / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    shutil.copy2(root / "_toc.yml", executed / "_toc.yml")
    for page in (root / "book").glob("*.md"):
        shutil.copy2(page, executed / "book" / page.name)


def build_book(ctx: Context, root: Path | None = None, strict: bool = True) -> Path:
    """Execute every notebook in ``_toc.yml`` order (skipping unchanged ones) and render the HTML book.

    Parameters
    ----------
    ctx : Context
    root : Path, optional
        Repository root (default: found from the working directory).
    strict : bool
        Treat Sphinx warnings as errors (``-W``), as CI does.

    Returns
    -------
    html : Path
        ``<build>/html``, the rendered book.
    """
    root = find_root(root)
    executed = ctx.build_dir / "executed"
    (executed / "book").mkdir(parents=True, exist_ok=True)
    params = {"profile": ctx.profile.name, "build_dir": str(ctx.build_dir),
              "gtzan": None if ctx.synthetic else (str(ctx.gtzan) if ctx.gtzan else None),
              "fma": None if ctx.synthetic else (str(ctx.fma) if ctx.fma else None),
              "device": ctx.device}
    code = code_fingerprint()
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    timings = {}
    for page in _toc_notebooks(root):
        if page.suffix != ".ipynb":
            continue
        target = executed / "book" / page.name
        stamp = target.with_suffix(".key")
        key = hashlib.sha256(page.read_bytes() + json.dumps(params, sort_keys=True).encode()
                             + code.encode()).hexdigest()
        if target.is_file() and stamp.is_file() and stamp.read_text() == key:
            print(f"  {page.name}: unchanged, not re-executed")
            continue
        print(f"  executing {page.name} ...", flush=True)
        t0 = time.perf_counter()
        _execute(page, target, params, cwd=root / "book")
        timings[page.name] = round(time.perf_counter() - t0, 1)
        stamp.write_text(key)
    vendored = _vendor_widget_js(ctx.build_dir / "vendor")
    _stage(root, executed, vendored)
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(executed), "--builder", "html"]
    if strict:
        cmd += ["-W", "--keep-going"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError("jupyter-book build failed:\n" + proc.stdout[-4000:] + proc.stderr[-4000:])
    html = ctx.build_dir / "html"
    if html.exists():
        shutil.rmtree(html)
    shutil.copytree(executed / "_build" / "html", html)
    summarise(ctx, timings)
    return html


# -------------------------------------------------------------------------------------------- summary
def summarise(ctx: Context, timings: dict | None = None) -> dict:
    """Write ``<build>/results.json``: the build's headline numbers, one entry per run of :data:`BOOK_RUNS`.

    Keys: ``profile``, ``data`` (description), ``synthetic``, ``runs`` (run name -> ``segment_accuracy``,
    ``track_accuracy``, ``newdata_accuracy``, ``best_epoch``, ``train_seconds``, ``data_fingerprint``),
    ``main_run``, ``notebook_seconds``, ``versions``.
    """
    from .experiments import load_results
    from .provenance import atomic_write_text, versions

    runs = {}
    for model, kind, split in BOOK_RUNS:
        folder = run_dir(ctx.profile.name, model, kind, split, ctx.build_dir)
        if (folder / "results.json").is_file():
            res = load_results(folder)
            head = res["headline"]
            runs[folder.name] = {k: head.get(k) for k in ("segment_accuracy", "track_accuracy", "newdata_accuracy",
                                                           "best_epoch", "train_seconds")}
            runs[folder.name]["data_fingerprint"] = res["dataset"]["data_fingerprint"]
    summary = {"profile": ctx.profile.name, "data": ctx.data_description, "synthetic": ctx.synthetic,
               "main_run": main_run_dir(ctx.profile.name, ctx.build_dir).name, "runs": runs,
               "notebook_seconds": timings or {}, "versions": versions()}
    atomic_write_text(ctx.build_dir / "results.json", json.dumps(summary, indent=2))
    return summary


def main(argv=None) -> int:
    """``python -m genre_utils.build {data,book}``: the targets of the Makefile."""
    parser = argparse.ArgumentParser(prog="python -m genre_utils.build")
    parser.add_argument("target", choices=["data", "book"])
    parser.add_argument("--profile", default="quick", choices=sorted(PROFILES))
    parser.add_argument("--build-dir", default="_build", type=Path)
    parser.add_argument("--gtzan", type=Path)
    parser.add_argument("--fma", type=Path)
    parser.add_argument("--device")
    parser.add_argument("--no-strict", action="store_true", help="do not treat Sphinx warnings as errors")
    args = parser.parse_args(argv)
    ctx = context(args.profile, args.build_dir, args.gtzan, args.fma, device=args.device)
    t0 = time.perf_counter()
    try:
        if args.target == "data":
            ds = ctx.dataset()
            print(f"dataset ready: {ds.root} ({ds.info['n_tracks_used']} tracks, windows {ds.info['n_windows']})")
        else:
            html = build_book(ctx, strict=not args.no_strict)
            print(f"book ready: {html / 'index.html'} ({time.perf_counter() - t0:.0f} s); "
                  f"headline numbers in {ctx.build_dir / 'results.json'}")
    except BuildError as err:
        print(f"make {args.target}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
