"""The notebook and HTML steps of ``make book``: execute what changed, render when anything did.

Keys
----
Executed notebook (``<build>/executed/book/<name>.ipynb``, stamp ``<name>.key.json`` beside it)
    The notebook's source, the papermill parameters, the code of the package modules its cells import
    (:func:`notebook_code`), :func:`~genre_utils.provenance.library_key` of the
    ``book`` stage, and the current keys of the artefacts the notebook read. What it read is *recorded*
    while it runs: every :class:`~genre_utils.context.Context` call (``corpus()``, ``dataset()``, ``run()``)
    in the kernel appends the artefact and its key to a file named by ``$GENRE_UTILS_DEPS``; the build
    stores that list in the stamp. On the next build each recorded artefact's key is asked of the build's
    own Context, which has just brought every artefact of :data:`~genre_utils.context.BOOK_RUNS` up to date,
    so the check costs a dictionary lookup; a notebook re-executes exactly when one of *its* inputs changed.
    A notebook that reaches into the build folder itself (``build_dir``, ``run_dir(``, ``main_run_dir(`` in
    its code beyond the Context set-up) cannot be traced that way; it is keyed on every artefact of the build
    instead (all corpus, store and run keys, the ``dataset.json`` of every store folder of the profile, the
    size and time of every run's ``results.json``, and ``bench/report.json``).
    The stamp also holds the SHA-256 of the executed notebook and is written after it, so a half-written or
    altered notebook is never taken as done.
Rendered book (``<build>/html``, stamp ``html/.build-key``)
    The keys of the executed notebooks, ``_config.yml``, ``_toc.yml``, the Markdown pages, ``_static/``, the vendored
    widget JavaScript, the package's code, the ``book`` libraries and the strictness. Jupyter Book renders
    into ``executed/_build/html``; the result is copied to a temporary folder beside ``html`` and swapped in
    by renames, so an interrupted step never leaves a half ``html``.

Execution
---------
The notebooks get the build folder from ``$GENRE_UTILS_BUILD_DIR`` (their injected ``build_dir`` is None), and
each executed notebook is tagged by :func:`_hide_default_parameters`: code cells
``remove-input`` unless tagged ``show-input``, the parameters cells ``remove-cell``; so neither a page nor an
executed notebook holds an absolute path of the build machine.
Kernels run over IPC sockets (no TCP warning) with ``PYDEVD_DISABLE_FILE_VALIDATION=1``; their own stderr
goes to ``<name>.kernel.log`` beside the executed notebook, not to the terminal. What a notebook's Context
does (an artefact built or reused, with its seconds) is written to a progress file that the build prints as
it comes. Two notebooks run at a time on a machine with two cores or more (:func:`notebook_workers`; a page
that reads what another writes waits for it, :data:`RUNS_AFTER`), each kernel with half the cores for its
thread pools. Every cell has a time limit (``--cell-timeout`` / ``$GENRE_UTILS_CELL_TIMEOUT``, default
:data:`DEFAULT_CELL_TIMEOUT` s); a cell over it fails the build naming the notebook and the cell.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

from .config import fingerprint, num_threads
from .context import BUILD_DIR_ENV, DEPS_ENV, LOG_ENV, book_runs
from .errors import BuildError
from .imports import PACKAGE_DIR, notebook_modules
from .provenance import atomic_write_text, code_fingerprint, file_sha256, library_key

__all__ = ["DEFAULT_CELL_TIMEOUT", "cell_timeout", "execute_notebooks", "render_html", "notebook_key", "html_key",
           "stage_book", "notebook_code"]

PACKAGE_NAME = PACKAGE_DIR.name
#: Default time limit of one notebook cell, seconds (generous: a cell that trains on a CPU can take long).
DEFAULT_CELL_TIMEOUT = 4 * 3600
#: Environment variable of the per-cell time limit (see :func:`cell_timeout`).
CELL_TIMEOUT_ENV = "GENRE_UTILS_CELL_TIMEOUT"
#: Code of a notebook that reads the build folder directly (beyond ``context.context(...)``).
_READS_BUILD_DIR = re.compile(r"\.build_dir\b|\brun_dir\(|\bmain_run_dir\(")


def cell_timeout(value=None) -> int | None:
    """The per-cell time limit in seconds: ``value``, else ``$GENRE_UTILS_CELL_TIMEOUT``, else the default.

    0 or a negative number means no limit (None).
    """
    if value is None:
        value = os.environ.get(CELL_TIMEOUT_ENV) or DEFAULT_CELL_TIMEOUT
    value = int(float(value))
    return value if value > 0 else None


def _read_json(path: Path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def _code_cells(page: Path) -> list[str]:
    import nbformat

    nb = nbformat.read(page, as_version=4)
    return ["".join(c.source) for c in nb.cells if c.cell_type == "code"
            and "parameters" not in c.metadata.get("tags", [])]


def reads_build_dir(page: Path) -> bool:
    """True when the notebook's code reads the build folder itself, not only through its Context."""
    return any(_READS_BUILD_DIR.search(src) for src in _code_cells(page))


def _everything(ctx) -> dict:
    """Keys of every artefact of the build (for notebooks that read the build folder directly)."""
    keys = {}
    if ctx.synthetic:
        keys["corpus"] = ctx.key_of("corpus", [])
    for model, kind, split, seed in book_runs(ctx.profile):
        keys[f"store {kind}-{split}"] = ctx.key_of("store", [kind, split])
        args = [model, kind, split] + ([] if seed is None else [str(seed)])
        keys[f"run {'-'.join(args)}"] = ctx.key_of("run", args)
    name = ctx.profile.name
    for info in sorted((ctx.build_dir / "data").glob(f"{name}-*/dataset.json")):
        keys[f"file {info.parent.name}/dataset.json"] = file_sha256(info)
    for res in sorted((ctx.build_dir / "runs" / name).glob("*/results.json")):
        keys[f"file {res.parent.name}/results.json"] = _results_key(res)
    bench = ctx.build_dir / "bench" / "report.json"
    keys["file bench/report.json"] = file_sha256(bench) if bench.is_file() else None
    return keys


def _results_key(path: Path) -> str | None:
    """Key of a run's ``results.json`` as the notebooks read it: its content without the ``confidence``
    section. The confidence page calibrates the main run and adds that section (a deterministic function of
    the run, its store and the code, all keyed already); keyed by size and modification time, the rewrite made
    every earlier page keyed on the whole build (intro, training, qualitative) execute once more in the next
    build, so a build after a data change did not settle until the one after."""
    results = _read_json(path)
    if not isinstance(results, dict):
        return None
    return fingerprint({k: v for k, v in results.items() if k != "confidence"})


def current_deps(ctx, recorded: list, everything: bool) -> dict:
    """Current keys of the artefacts in ``recorded`` (``[kind, args]`` pairs), or of all of them."""
    if everything:
        return _everything(ctx)
    return {f"{kind} {'-'.join(args)}": ctx.key_of(kind, args) for kind, args in recorded}


def notebook_key(page: Path, params: dict, deps: dict) -> str:
    """Key of one executed notebook (see the module docstring)."""
    return fingerprint(file_sha256(page), params, notebook_code(page), library_key("book"), deps)


def notebook_code(page: Path) -> str:
    """:func:`~genre_utils.provenance.code_fingerprint` of the package modules the notebook's cells import
    (:func:`~genre_utils.imports.notebook_modules`) and of the package's ``__init__``."""
    return code_fingerprint(PACKAGE_NAME, *notebook_modules(page))


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.stem + ".key.json")


def up_to_date(ctx, page: Path, target: Path, params: dict) -> bool:
    """Whether ``target`` is a complete execution of ``page`` whose inputs are all unchanged."""
    stamp = _read_json(_stamp_path(target))
    if not isinstance(stamp, dict) or not target.is_file():
        return False
    if stamp.get("sha256") != file_sha256(target):
        return False  # half-written, or changed since: not trusted
    deps = current_deps(ctx, stamp.get("recorded", []), stamp.get("everything", False))
    return stamp.get("key") == notebook_key(page, params, deps)


# ------------------------------------------------------------------------------------------- kernels
#: Process groups of the kernels this process has running (each kernel starts its own session): what Ctrl-C in
#: :func:`execute_notebooks` interrupts, since a kernel run from a worker thread never sees the terminal's signal.
_LIVE_KERNELS: set[int] = set()


def _kernel_manager_class(log_path: Path, env: dict | None = None, cwd: Path | None = None):
    """An ``AsyncKernelManager`` over IPC sockets whose kernel's stdout/stderr go to ``log_path``, whose
    environment is this process's plus ``env`` (given to the kernel alone, so that notebooks executed side by
    side in threads never see each other's variables) and which starts in ``cwd`` (the kernel's own working
    directory: papermill's ``cwd=`` would move this whole process there, which notebooks executed in threads
    race on, one thread restoring the folder another had moved to)."""
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class QuietKernelManager(AsyncKernelManager):
        @default("transport")
        def _default_transport(self):
            return "ipc"

        @default("ip")
        def _default_ip(self):  # the socket files: a private temporary folder, short enough for AF_UNIX
            return os.path.join(tempfile.mkdtemp(prefix="genre-kernel-"), "ipc")

        async def _async_launch_kernel(self, kernel_cmd, **kw):
            kw["env"] = {**(kw.get("env") or os.environ), **(env or {})}
            if cwd is not None:
                kw["cwd"] = str(cwd)
            log = open(log_path, "ab")
            kw.setdefault("stdout", log)
            kw.setdefault("stderr", log)
            try:
                info = await super()._async_launch_kernel(kernel_cmd, **kw)
            finally:
                log.close()
            self.genre_pgid = getattr(self.provisioner, "pgid", None)
            if self.genre_pgid:
                _LIVE_KERNELS.add(self.genre_pgid)
            return info

        async def _async_cleanup_resources(self, restart: bool = False) -> None:
            _LIVE_KERNELS.discard(getattr(self, "genre_pgid", None))
            await super()._async_cleanup_resources(restart=restart)
            folder = os.path.dirname(self.ip)
            if os.path.basename(folder).startswith("genre-kernel-"):
                shutil.rmtree(folder, ignore_errors=True)

    return QuietKernelManager


class _Tail(threading.Thread):
    """Print the lines appended to a file while a notebook runs (what its Context reports)."""

    def __init__(self, path: Path, prefix: str):
        super().__init__(daemon=True)
        self.path, self.prefix, self.stop = path, prefix, threading.Event()
        self.pos = 0

    def _drain(self):
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.pos)
                data = fh.read()
        except OSError:
            return
        end = data.rfind(b"\n") + 1
        self.pos += end
        for line in data[:end].decode(errors="replace").splitlines():
            print(f"{self.prefix}{line}", file=sys.stderr, flush=True)

    def run(self):
        while not self.stop.wait(0.5):
            self._drain()
        self._drain()


def _failed_cell(page: Path, preview: str) -> str:
    """``cell N (first line)`` of the code cell whose source begins like the timeout's preview."""
    lines = [ln for ln in preview.splitlines() if ln.strip() and not set(ln.strip()) <= {"-"}]
    first = lines[0].strip() if lines else ""
    for i, src in enumerate(_code_cells(page), start=1):
        if first and src.strip().startswith(first):
            return f"cell {i} (`{first[:60]}`)"
    return f"a cell (`{first[:60]}`)"


def _hide_default_parameters(path: Path, root: Path | None = None) -> None:
    """Hide the plumbing of an executed notebook: the one mechanism that decides what a page shows of its code.

    * every code cell gets ``remove-input`` (its output stays) unless it is tagged ``show-input`` - code that
      teaches, such as the CRNN's ``forward``;
    * the notebook's own ``parameters`` cell and papermill's ``injected-parameters`` cell get ``remove-cell``;
    * papermill's record of the run keeps paths relative to the repository root (``root``), never absolute.
    """
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tags = list(cell.metadata.get("tags", []))
        if "parameters" in tags or "injected-parameters" in tags:
            wanted = ["remove-cell"]
        elif "show-input" in tags:
            wanted = []
        else:
            wanted = ["remove-input"]
        tags += [t for t in wanted if t not in tags]
        cell.metadata["tags"] = tags
    meta = nb.metadata.get("papermill")
    if meta is not None:
        for key in ("input_path", "output_path", "cwd"):
            value = meta.get(key)
            if value:
                meta[key] = _relative(value, root)
        meta["environment_variables"] = {}
    nbformat.write(nb, path)


def _relative(value: str, root: Path | None) -> str:
    """``value`` relative to ``root`` when it lies under it, else only its file name."""
    path = Path(value)
    if root is not None:
        try:
            return path.resolve().relative_to(Path(root).resolve()).as_posix()
        except ValueError:
            pass
    return path.name


def _execute(page: Path, target: Path, parameters: dict, cwd: Path, timeout: int | None, build_dir=None,
             kernel_env: dict | None = None) -> list:
    """Run one notebook with papermill into ``target`` (atomically); return the artefacts it recorded.

    ``build_dir`` reaches the kernel as ``$GENRE_UTILS_BUILD_DIR`` (the injected ``build_dir`` is None), and the
    executed notebook is passed through :func:`_hide_default_parameters`. ``kernel_env`` adds variables to the
    kernel's environment (the thread counts of :func:`execute_notebooks`).
    """
    import papermill as pm
    from nbclient.exceptions import CellTimeoutError


    tmp = target.with_name(f".part-{target.name}")
    deps = target.with_name(f".deps-{target.stem}.jsonl")
    progress = target.with_name(f".progress-{target.stem}.log")
    for f in (deps, progress, target.with_suffix(".kernel.log")):
        f.unlink(missing_ok=True)
    env = {DEPS_ENV: str(deps), LOG_ENV: str(progress), "PYDEVD_DISABLE_FILE_VALIDATION": "1", **(kernel_env or {})}
    if build_dir is not None:
        env[BUILD_DIR_ENV] = str(build_dir)
    tail = _Tail(progress, f"    [{page.name}] ")
    tail.start()
    try:
        pm.execute_notebook(str(page), str(tmp), parameters=parameters, kernel_name="python3",
                            progress_bar=False, log_output=False, request_save_on_cell_execute=False,
                            execution_timeout=timeout,
                            kernel_manager_class=_kernel_manager_class(target.with_suffix(".kernel.log"), env, cwd))
    except pm.PapermillExecutionError as err:
        raise BuildError(f"notebook {page.name} failed in cell {err.exec_count} (executed copy: {tmp}):\n"
                         f"{err.ename}: {err.evalue}") from None
    except CellTimeoutError as err:
        preview = str(err).split("preview of the cell contents:", 1)[-1]
        raise BuildError(f"notebook {page.name}: {_failed_cell(page, preview)} ran longer than the cell timeout "
                         f"({timeout} s; set --cell-timeout or GENRE_UTILS_CELL_TIMEOUT)") from None
    finally:
        tail.stop.set()
        tail.join()
    _hide_default_parameters(tmp, root=Path(cwd).parent)
    os.replace(tmp, target)
    recorded = []
    if deps.is_file():
        for line in deps.read_text().splitlines():
            item = json.loads(line)
            if [item["kind"], item["args"]] not in recorded:
                recorded.append([item["kind"], item["args"]])
    for f in (deps, progress):
        f.unlink(missing_ok=True)
    return recorded


#: Pages that read what another page writes, and so run after it: page -> the pages before it. The real
#: recordings are classified with the calibration the confidence page fits (``confidence.json``).
RUNS_AFTER = {"real_recordings.ipynb": ("confidence.ipynb",)}
#: Pages that take several times as long as the others (measured on the quick build: the laboratory about
#: 40 s, the confidence, qualitative and explorer pages 17-18 s, the rest 3-9 s), started first so that the
#: short pages fill the other worker beside them instead of one long page running alone at the end.
LONG_PAGES = ("laboratory.ipynb", "confidence.ipynb", "qualitative.ipynb", "explorer.ipynb")


def execution_order(pages: list[Path]) -> list[Path]:
    """``pages`` with the :data:`LONG_PAGES` first (in that order), the others after them in page order."""
    rank = {name: k for k, name in enumerate(LONG_PAGES)}
    return sorted(pages, key=lambda p: (rank.get(p.name, len(LONG_PAGES)), pages.index(p)))


def notebook_workers(n_pages: int) -> int:
    """Notebooks executed side by side: two when the machine has at least two cores and there are two to run
    (``$GENRE_UTILS_NOTEBOOK_WORKERS`` overrides). Most of a notebook's time is a kernel starting and importing
    the scientific stack on one core; two at a time keep both cores of a small machine busy."""
    wanted = os.environ.get("GENRE_UTILS_NOTEBOOK_WORKERS")
    workers = int(wanted) if wanted and wanted.isdigit() else min(2, num_threads())
    return max(1, min(workers, n_pages))


def execute_notebooks(ctx, root: Path, pages: list[Path], params: dict, timeout: int | None = None) -> dict:
    """Execute the notebooks among ``pages`` whose key changed; return ``{name: seconds}`` of those executed.

    Prints one line per notebook: executed (with its seconds) or unchanged. Up to :func:`notebook_workers`
    notebooks run at a time, the :data:`LONG_PAGES` first and then in page order, as far as :data:`RUNS_AFTER`
    allows; with more than one, each kernel
    gets an even share of the cores for its thread pools (``OMP_NUM_THREADS`` and friends), so two kernels
    never compete for the same cores. A failed notebook stops the build once the ones running have finished.
    """
    book = ctx.build_dir / "executed" / "book"
    book.mkdir(parents=True, exist_ok=True)
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    todo = []
    for page in pages:
        if page.suffix != ".ipynb":
            continue
        if up_to_date(ctx, page, book / page.name, params):
            print(f"  notebook {page.name}: unchanged, not re-executed", flush=True)
        else:
            todo.append(page)
    workers = notebook_workers(len(todo))
    threads = str(max(1, num_threads() // workers))
    kernel_env = {} if workers == 1 else {k: threads for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                                               "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")}
    timings, running, done = {}, {}, set()
    names = {p.name for p in todo}

    def ready(page):
        return all(before in done or before not in names for before in RUNS_AFTER.get(page.name, ()))

    def start(pool, page):
        target = book / page.name
        print(f"  notebook {page.name}: executing ...", flush=True)
        _stamp_path(target).unlink(missing_ok=True)
        running[pool.submit(_timed_execute, page, target, params, root / "book", timeout, ctx.build_dir,
                            kernel_env)] = page

    pending = execution_order(todo)
    failure = None
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        while pending or running:
            while failure is None and len(running) < workers and any(ready(p) for p in pending):
                page = next(p for p in pending if ready(p))
                pending.remove(page)
                start(pool, page)
            if not running:
                break
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in finished:
                page = running.pop(future)
                try:
                    recorded, seconds = future.result()
                except BaseException as err:   # the first failure is raised once the others have finished
                    failure = failure or err
                    continue
                target = book / page.name
                timings[page.name] = seconds
                done.add(page.name)
                everything = reads_build_dir(page)
                deps = current_deps(ctx, recorded, everything)
                stamp = {"key": notebook_key(page, params, deps), "sha256": file_sha256(target), "recorded": recorded,
                         "everything": everything, "deps": deps, "seconds": seconds}
                atomic_write_text(_stamp_path(target), json.dumps(stamp, indent=1))
                target.with_suffix(".key").unlink(missing_ok=True)  # the stamp of older versions
                print(f"  notebook {page.name}: executed in {seconds:.1f} s", flush=True)
    except KeyboardInterrupt:
        for pgid in list(_LIVE_KERNELS):   # the kernels run in sessions of their own: pass the Ctrl-C on
            try:
                os.killpg(pgid, signal.SIGINT)
            except OSError:
                pass
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if failure is not None:
        raise failure
    return timings


def _timed_execute(page, target, params, cwd, timeout, build_dir, kernel_env) -> tuple[list, float]:
    """:func:`_execute` with its seconds (what a worker thread of :func:`execute_notebooks` runs)."""
    t0 = time.perf_counter()
    recorded = _execute(page, target, params, cwd, timeout, build_dir=build_dir, kernel_env=kernel_env)
    return recorded, round(time.perf_counter() - t0, 1)


# ---------------------------------------------------------------------------------------------- HTML
def html_key(ctx, root: Path, pages: list[Path], vendored: Path | None, strict: bool) -> str:
    """Key of the rendered book (see the module docstring)."""
    book = ctx.build_dir / "executed" / "book"
    notebooks = {p.name: (_read_json(_stamp_path(book / p.name)) or {}).get("key")
                 for p in pages if p.suffix == ".ipynb"}
    markdown = {p.name: file_sha256(p) for p in sorted((root / "book").glob("*.md"))}  # what stage_book copies
    markdown.update({f"_static/{p.relative_to(root / '_static').as_posix()}": file_sha256(p)
                     for p in sorted((root / "_static").rglob("*")) if p.is_file()})
    widgets = sorted((f.name, file_sha256(f)) for f in vendored.iterdir()) if vendored is not None else None
    return fingerprint(notebooks, markdown, file_sha256(root / "_config.yml"), file_sha256(root / "_toc.yml"), widgets,
                       code_fingerprint(), library_key("book"), bool(strict))


def stage_book(root: Path, executed: Path, vendored: Path | None) -> None:
    """Copy the book's configuration and Markdown pages next to the executed notebooks (Jupyter Book renders
    from there), with the vendored widget JavaScript of ``vendored`` (None: a CDN) and the style sheets."""
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
    # else: genre_utils.build has said why (one warning line); the widgets load their JavaScript from a CDN
    # The book's style sheets (wrapped table cells, text figures, no Sphinx figure numbers: the captions carry
    # the paper's) go to a folder of their own, named explicitly. Not to _static: when the source has one,
    # Jupyter Book puts every .js of every static folder on every page, the widget bundles included, which
    # then run before RequireJS ("define is not defined").
    css = executed / "_book_css"
    if css.exists():
        shutil.rmtree(css)
    css.mkdir()
    sheets = sorted(p.name for p in (root / "_static").glob("*.css")) if (root / "_static").is_dir() else []
    for name in sheets:
        shutil.copy2(root / "_static" / name, css / name)
    if sheets:
        sphinx_config["html_static_path"] = [*sphinx_config.get("html_static_path", []), "_book_css"]
        sphinx_config["html_css_files"] = [*sphinx_config.get("html_css_files", []), *sheets]
    shutil.rmtree(executed / "_static", ignore_errors=True)  # left by an earlier build
    (executed / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    shutil.copy2(root / "_toc.yml", executed / "_toc.yml")
    for page in (root / "book").glob("*.md"):
        shutil.copy2(page, executed / "book" / page.name)


def _jupyter_book(executed: Path, strict: bool) -> Path:
    """Run ``jupyter-book build`` on ``executed``; return its HTML folder."""
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(executed), "--builder", "html"]
    if strict:
        cmd += ["-W", "--keep-going"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError("jupyter-book build failed:\n" + proc.stdout[-4000:] + proc.stderr[-4000:])
    return executed / "_build" / "html"


def render_html(ctx, root: Path, pages: list[Path], vendored: Path | None, strict: bool = True) -> Path:
    """Render the book into ``<build>/html`` unless its key is unchanged; swap it in atomically."""
    html = ctx.build_dir / "html"
    for stale in ctx.build_dir.glob(".html-*"):  # left by an interrupted step
        shutil.rmtree(stale, ignore_errors=True)
    key = html_key(ctx, root, pages, vendored, strict)
    stamp = html / ".build-key"
    if (html / "index.html").is_file() and stamp.is_file() and stamp.read_text() == key:
        print("  HTML: unchanged, not re-rendered", flush=True)
        return html
    print("  HTML: rendering ...", flush=True)
    t0 = time.perf_counter()
    executed = ctx.build_dir / "executed"
    stage_book(root, executed, vendored)
    built = _jupyter_book(executed, strict)
    tmp = Path(tempfile.mkdtemp(prefix=".html-new-", dir=ctx.build_dir))
    os.chmod(tmp, 0o755)  # mkdtemp makes it private
    shutil.copytree(built, tmp, dirs_exist_ok=True)
    (tmp / ".build-key").write_text(key)
    old = ctx.build_dir / f".html-old-{os.getpid()}"
    if html.exists():
        os.replace(html, old)
    os.replace(tmp, html)
    shutil.rmtree(old, ignore_errors=True)
    print(f"  HTML: rendered in {time.perf_counter() - t0:.1f} s", flush=True)
    return html
