"""What a notebook of the book works on: the profile, the build folder, the data, and cached runs.

Every notebook starts with ``ctx = context.context(profile, build_dir, gtzan, fma, device=device)`` (its
papermill parameters) and asks ``ctx`` for the stores and trained runs it shows: ``ctx.dataset(kind,
split)``, ``ctx.run(model, kind, split)``. Each artefact is built once per build folder and cached on
everything it depends on (see :mod:`genre_utils.build`, which prepares them all before the notebooks run),
so every page reads the same numbers.

This module is the notebooks' entry point; :mod:`genre_utils.build` (papermill, npm, Jupyter Book) is the
tool that runs them.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from .config import THREADS_ENV, Profile, fingerprint, get_profile, num_threads
from .errors import FolderLocked
from .lab import TRAINED_MODELS, control_words
from .parallel import ignore_interrupts, ordered_map

__all__ = ["BOOK_RUNS", "SEEDED_RUNS", "N_SEEDS", "MORE_SEEDED_RUNS", "SKIPPED_RUNS", "run_seeds", "profile_runs",
           "book_runs", "Context", "context", "find_root",
           "run_dir", "main_run_dir", "record_dependency", "store_key", "BUILD_DIR_ENV", "DEPS_ENV", "LOG_ENV",
           "RUN_LABELS", "run_label", "run_workers", "RUN_WORKERS_ENV", "LAB_CONTROLS", "LAB_MODELS", "lab_runs"]

# The environment variables through which ``make book`` (genre_utils.bookbuild) talks to a notebook's Context.
#: The build folder (the notebooks' injected ``build_dir`` is None, so no absolute path lands in a page).
BUILD_DIR_ENV = "GENRE_UTILS_BUILD_DIR"
#: A file the Context appends every artefact it hands out to, with its key (what the notebook read).
DEPS_ENV = "GENRE_UTILS_DEPS"
#: A file the Context appends its progress lines to, which the build prints as they come.
LOG_ENV = "GENRE_UTILS_BUILD_LOG"


#: Runs of the book: (model, feature kind, split method). The first is the main result.
BOOK_RUNS = (
    ("crnn", "mfcc", "random"),
    ("baseline", "mfcc", "random"),
    ("crnn-temporal", "mfcc", "random"),
    ("crnn", "logmel", "random"),
    ("crnn", "mfcc", "artist"),
    ("crnn", "mfcc", "segment"),  # the leaky split (windows of a test track also trained on), as an ablation
    ("crnn-globalnorm", "mfcc", "random"),  # standardised as the paper, not per window (experiments.RUN_VARIANTS)
)

#: Runs of :data:`BOOK_RUNS` trained with :data:`N_SEEDS` training seeds (the others with the profile's seed
#: only): the ones the verdict table rests on. The data (corpus, split, windows) are the same for every seed;
#: the seed sets the weight initialisation and the batch order.
SEEDED_RUNS = BOOK_RUNS[:3]
#: Training seeds of each run of :data:`SEEDED_RUNS`.
N_SEEDS = 3
#: Runs a profile trains under :data:`N_SEEDS` seeds besides :data:`SEEDED_RUNS` (profile name -> runs): the
#: ``quick`` build seeds every run it trains, the artist split and the global standardisation too, since it
#: trains two runs at a time in bfloat16 where the CPU allows (:meth:`Context.train_runs`); ``tiny`` keeps the
#: test suite short and ``paper`` the GPU hours.
MORE_SEEDED_RUNS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "quick": (("crnn", "mfcc", "artist"), ("crnn-globalnorm", "mfcc", "random"))}


#: The laboratory's controlled corpora each profile renders and trains on (:meth:`Context.controlled`; a key of
#: :data:`genre_utils.synth.controls.CONTROLS`). One in ``quick``, for its time budget: timbre, tempo and harmony
#: made common at once, which leaves the genres their rhythm (groove, swing, meter, how each part is played), form
#: and which parts play. ``paper`` adds each of the first two alone.
LAB_CONTROLS: dict[str, tuple[str, ...]] = {"tiny": ("timbre-tempo-harmony",), "quick": ("timbre-tempo-harmony",),
                                            "paper": ("timbre", "tempo", "timbre-tempo-harmony")}
#: The models trained on every controlled corpus (one seed each; the bag-of-frames probe is refitted besides).
LAB_MODELS = tuple(TRAINED_MODELS.values())


def lab_runs(profile) -> list[tuple[str, str, str, None, str]]:
    """The laboratory's runs: ``(model, 'mfcc', 'random', None, control)`` for each of :data:`LAB_MODELS` on each
    of the profile's :data:`LAB_CONTROLS` (for :meth:`Context.train_runs`)."""
    name = getattr(profile, "name", profile)
    return [(model, "mfcc", "random", None, control) for control in LAB_CONTROLS.get(name, ()) for model in LAB_MODELS]


def run_seeds(profile, run: tuple[str, str, str]) -> list[int | None]:
    """The training seeds of one run of the book: None (the profile's own seed, the run's usual folder) and,
    for a run of :data:`SEEDED_RUNS` or of the profile's :data:`MORE_SEEDED_RUNS`, ``N_SEEDS - 1`` more (the
    profile's seed + 1, + 2, ...)."""
    base = getattr(profile, "seed", None)
    name = getattr(profile, "name", profile)
    if base is None:   # a profile name (or an object naming one)
        base = get_profile(name).seed
    seeded = tuple(run) in SEEDED_RUNS or tuple(run) in MORE_SEEDED_RUNS.get(name, ())
    extra = [base + k for k in range(1, N_SEEDS)] if seeded else []
    return [None, *extra]


#: Runs of :data:`BOOK_RUNS` a profile leaves out to stay within its time budget (profile name -> runs). The
#: ``quick`` build (at most 15 minutes on two CPU cores) trains no log-mel run (the laboratory chapter took its
#: place) and no leaky segment split (the leak it measures is the best established of the ablations); it spends
#: that time on three seeds of every run it trains (:data:`MORE_SEEDED_RUNS`). ``tiny`` and ``paper`` train
#: every run.
SKIPPED_RUNS: dict[str, tuple[tuple[str, str, str], ...]] = {"quick": (("crnn", "logmel", "random"),
                                                                       ("crnn", "mfcc", "segment"))}


def profile_runs(profile) -> list[tuple[str, str, str]]:
    """The runs of :data:`BOOK_RUNS` a profile's build trains (all but its :data:`SKIPPED_RUNS`), in order."""
    name = getattr(profile, "name", profile)
    return [run for run in BOOK_RUNS if run not in SKIPPED_RUNS.get(name, ())]


def book_runs(profile) -> list[tuple[str, str, str, int | None]]:
    """Every run the book trains, seeds included: ``(model, kind, split, seed)``, in :data:`BOOK_RUNS` order
    with each run's extra seeds after it (the profile's :data:`SKIPPED_RUNS` left out)."""
    return [(*run, seed) for run in profile_runs(profile) for seed in run_seeds(profile, run)]


#: How the book names each run of :data:`BOOK_RUNS`: (model, features, split) -> label.
RUN_LABELS: dict[tuple[str, str, str], str] = {
    ("crnn", "mfcc", "random"): "CRNN, MFCC, track split (main run)",
    ("baseline", "mfcc", "random"): "baseline MLP, MFCC, track split",
    ("crnn-temporal", "mfcc", "random"): "CRNN with the GRU over time, MFCC, track split",
    ("crnn", "logmel", "random"): "CRNN, log-mel, track split",
    ("crnn", "mfcc", "artist"): "CRNN, MFCC, artist split",
    ("crnn", "mfcc", "segment"): "CRNN, MFCC, 5-s segments split at random (leaky)",
    ("crnn", "mfcc", "official"): "CRNN, MFCC, fault-filtered split",
    ("crnn-globalnorm", "mfcc", "random"): "CRNN standardised globally (as the paper), MFCC, track split",
}

_MODEL_WORDS = {"crnn": "CRNN", "crnn-temporal": "CRNN with the GRU over time", "baseline": "baseline MLP",
                "crnn-globalnorm": "CRNN standardised globally"}
_KIND_WORDS = {"mfcc": "MFCC", "logmel": "log-mel"}
_SPLIT_WORDS = {"random": "track split", "artist": "artist split", "official": "fault-filtered split",
                "segment": "5-s segments split at random (leaky)"}


def run_label(model: str, kind: str, split: str) -> str:
    """The book's name for one run (:data:`RUN_LABELS`, else composed from its three parts)."""
    if (model, kind, split) in RUN_LABELS:
        return RUN_LABELS[model, kind, split]
    return ", ".join((_MODEL_WORDS.get(model, model), _KIND_WORDS.get(kind, kind),
                      _SPLIT_WORDS.get(split, f"{split} split")))


def find_root(start=None) -> Path:
    """The repository root: the nearest folder at or above ``start`` (default: cwd) holding ``_toc.yml``."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_toc.yml").is_file():
            return folder
    return here


def run_dir(profile: str, name: str, kind: str = "mfcc", split: str = "random", build_dir="_build",
            seed: int | None = None) -> Path:
    """Folder of one trained model: ``<build>/runs/<profile>/<name>-<kind>-<split>``, with ``-seed<k>`` for a
    training seed other than the profile's."""
    suffix = "" if seed is None else f"-seed{int(seed)}"
    return Path(build_dir) / "runs" / get_profile(profile).name / f"{name}-{kind}-{split}{suffix}"


def main_run_dir(profile: str, build_dir="_build") -> Path:
    """The run the book's main results come from: the paper's CRNN on MFCCs with a track-level random split."""
    return run_dir(profile, *BOOK_RUNS[0], build_dir=build_dir)


#: How long a notebook of ``make book`` waits for a folder another notebook of the same build holds (seconds).
SHARED_FOLDER_WAIT = 600.0


def _patiently(call):
    """``call()``; inside a notebook that ``make book`` runs (``$GENRE_UTILS_DEPS`` set), a folder lock held by
    another process is waited for instead of refused. The build runs two notebooks at a time, and each one's
    Context checks that the store, corpus or run it asks for is up to date under that folder's lock; the
    build holds its own folder, so the other holder can only be a sibling notebook, which lets go within a
    second. Outside a build (a user's own notebook, ``make data``) the lock is refused at once, as before."""
    if not os.environ.get(DEPS_ENV):
        return call()
    deadline = time.monotonic() + SHARED_FOLDER_WAIT
    while True:
        try:
            return call()
        except FolderLocked:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.25)


@dataclass
class Context:
    """What one build works on: profile, folders and data sources, with cached access to stores and runs.

    Every artefact the Context hands out is recorded with its cache key when ``$GENRE_UTILS_DEPS`` names a
    file (the build sets it while a notebook runs: see :mod:`genre_utils.bookbuild`), and reported as one
    line with its seconds (on stderr, or appended to ``$GENRE_UTILS_BUILD_LOG``, which the build prints).

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
    verify : bool
        Check the content hashes of input files and artefacts when reusing them (see ``build_dataset``).
    """

    profile: Profile
    build_dir: Path
    gtzan: Path | None
    fma: Path | None
    newdata: Path | None
    synthetic: bool
    device: str | None = None
    progress: bool = True
    verify: bool = False
    control: str | None = None
    _datasets: dict = field(default_factory=dict, repr=False)
    _corpus: dict | None = field(default=None, repr=False)
    _runs: dict = field(default_factory=dict, repr=False)
    _lab: object = field(default=None, repr=False)
    _controlled: dict = field(default_factory=dict, repr=False)

    @property
    def data_description(self) -> str:
        """One sentence saying which data the results come from (shown on every results page)."""
        if self.synthetic and self.control:
            return (f"the laboratory's corpus: the project's synthetic corpus rendered again with "
                    f"{control_words(self.control)} made common to all genres, not the real GTZAN or FMA recordings")
        if self.synthetic:
            return ("the project's synthetic corpus (rendered by genre_utils.synth in the GTZAN and FMA "
                    "layouts), not the real GTZAN or FMA recordings")
        parts = [f"GTZAN at {self.gtzan}" if self.gtzan else None, f"FMA at {self.fma}" if self.fma else None]
        return "real data: " + " and ".join(p for p in parts if p)

    def corpus(self) -> dict | None:
        """Render (or reuse) the synthetic corpus; None when the build runs on real data."""
        if not self.synthetic:
            return None
        if self._corpus is None:
            from .synth import render_corpus  # deferred: the corpus has a key of its own (not a notebook's code)

            t0 = time.perf_counter()
            self._corpus = _patiently(lambda: render_corpus(self.gtzan.parent, profile=self.profile,
                                                            progress=self.progress, verify=self.verify,
                                                            control=self.control))
            _stage_line(f"corpus {self.gtzan.parent.name}", self._corpus.get("cached"), t0)
            if self.control is None:
                from .corpus_card import write_card  # deferred: written beside the corpus, not keyed by it

                write_card(self.gtzan.parent)
        record_dependency("corpus", self._tagged([]), self._corpus["fingerprint"])
        return self._corpus

    def controlled(self, control: str) -> "Context":
        """The laboratory's sibling of this synthetic-corpus Context: the same profile and build folder, on the
        corpus rendered again under ``control`` (:func:`genre_utils.synth.render_corpus` with ``control``, in
        ``<build>/data/synth-<profile>-<control>``, without the new data), with its own stores
        (``<profile>-<control>-<kind>-<split>``) and runs (``<build>/runs/<profile>/lab-<control>/``)."""
        if not self.synthetic or self.control is not None:
            raise ValueError("a controlled corpus is made from the synthetic corpus's own Context")
        if control not in self._controlled:
            synth = self.build_dir / "data" / f"synth-{self.profile.name}-{control}"
            self._controlled[control] = Context(self.profile, self.build_dir, synth / "gtzan", synth / "fma", None,
                                                synthetic=True, device=self.device, progress=self.progress,
                                                verify=self.verify, control=control)
        return self._controlled[control]

    def _tagged(self, args: list) -> list:
        """An artefact's recorded arguments, led by ``lab:<control>`` in a controlled Context (:meth:`key_of`)."""
        return [f"lab:{self.control}", *args] if self.control else list(args)

    def dataset(self, kind: str = "mfcc", split: str = "random"):
        """Build (or reuse) and open the feature store for one feature kind and split method."""
        from .store import build_dataset  # deferred: a store has a key of its own (not a notebook's code)

        if (kind, split) not in self._datasets:
            self.corpus()
            name = self.profile.name + (f"-{self.control}" if self.control else "")
            out = self.build_dir / "data" / f"{name}-{kind}-{split}"
            before = _mtime(out / "dataset.json")
            t0 = time.perf_counter()
            self._datasets[kind, split] = _patiently(lambda: build_dataset(
                out, gtzan=self.gtzan, fma=self.fma, profile=self.profile, split_method=split,
                feature_kind=kind, progress=self.progress, verify=self.verify))
            _stage_line(f"store {out.name}", before is not None and before == _mtime(out / "dataset.json"), t0)
        ds = self._datasets[kind, split]
        record_dependency("store", self._tagged([kind, split]), store_key(ds))
        return ds

    def run(self, model: str = "crnn", kind: str = "mfcc", split: str = "random", seed=None):
        """Train (or reuse) one model on one store and return its results (a
        :class:`~genre_utils.results.RunResults`; see :mod:`genre_utils.experiments`).

        ``seed``: a training seed other than the profile's (:func:`run_seeds`), on the same store; such a run is
        scored on the test split only, not on the new data.
        """
        return self._run(model, kind, split, seed, announce=True)

    def _run_job(self, model: str, kind: str, split: str, seed) -> dict:
        """What :func:`genre_utils.experiments.run_experiment` is called with for one run (plain values)."""
        # the new data are classified by the profile's seed only (the book reads them from that run)
        folder = run_dir(self.profile.name, model, kind, split, self.build_dir, seed)
        if self.control:
            folder = folder.parent / f"lab-{self.control}" / folder.name
        return {"store": str(self.dataset(kind, split).root), "model": model, "folder": str(folder),
                "profile": self.profile.name, "newdata": None if seed is not None or self.newdata is None
                else str(self.newdata), "device": self.device, "data_description": self.data_description,
                "seed": seed}

    def _run(self, model: str, kind: str, split: str, seed, announce: bool):
        from .experiments import run_experiment  # deferred: a run has a key of its own (not a notebook's code)

        seed = _own_seed(self.profile, seed)
        if (model, kind, split, seed) not in self._runs:
            ds = self.dataset(kind, split)
            job = self._run_job(model, kind, split, seed)
            folder = Path(job["folder"])
            before = _mtime(folder / "results.json")
            t0 = time.perf_counter()
            self._runs[model, kind, split, seed] = _patiently(lambda: run_experiment(
                ds, model, folder, self.profile, newdata=job["newdata"], device=self.device, progress=self.progress,
                data_description=self.data_description, seed=seed))
            if announce:
                cached = before is not None and before == _mtime(folder / "results.json")
                _stage_line(f"run {_run_name(folder)}", cached, t0)
        res = self._runs[model, kind, split, seed]
        record_dependency("run", self._tagged([model, kind, split] + ([] if seed is None else [str(seed)])), res.key)
        return res

    def train_runs(self, runs) -> None:
        """Train every run of ``runs`` that is not up to date, up to :func:`run_workers` of them at a time, then
        hold them all as :meth:`run` does; one line per run. A run is ``(model, kind, split, seed)``, or
        ``(model, kind, split, seed, control)`` for one of the laboratory's corpora (:meth:`controlled`), so
        the laboratory's runs share the workers with the book's.

        Two at a time on a CPU: a CRNN training step keeps two threads only partly busy (measured on two
        cores: one run with two threads 75 s, with one thread 137 s), so two one-thread runs side by side
        finish sooner than two two-thread runs one after the other. Each side trains in a process of its own,
        with its share of the cores (``$GENRE_UTILS_THREADS``). The same machine always splits its cores the
        same way, so a rebuild gives the same bytes; another thread count rounds the sums differently, and
        training grows that into other weights (one laboratory CRNN of the quick build: 49 % of the test
        tracks with one thread, 38 % with two; see the README).
        """
        from .experiments import cached_run  # deferred: a run has a key of its own (as in run())

        def owner_and_key(run):
            model, kind, split, seed, *control = run
            owner = self.controlled(control[0]) if control and control[0] else self
            return owner, (model, kind, split, _own_seed(self.profile, seed))

        todo = {}   # (control, model, kind, split, seed) -> run_experiment's arguments, for the runs to train
        for run in runs:
            owner, key = owner_and_key(run)
            if key in owner._runs or (owner.control, *key) in todo:
                continue
            job = owner._run_job(*key)
            if cached_run(owner.dataset(key[1], key[2]), key[0], job["folder"], self.profile, newdata=job["newdata"],
                          device=self.device, seed=key[3]) is None:
                todo[owner.control, *key] = job
        workers = run_workers(self.device, len(todo))
        if workers > 1:
            share = max(1, num_threads() // workers)
            results = ordered_map(_train_in_worker, list(todo.values()), workers,
                                  initializer=partial(_training_worker, share), desc="training runs", unit="run",
                                  progress=self.progress, fresh=True)
            for job, seconds in zip(todo.values(), results):
                _stage_line(f"run {_run_name(job['folder'])}", False, seconds=seconds)
        for run in runs:   # the runs trained above were announced as they finished
            owner, key = owner_and_key(run)
            owner._run(*key, announce=workers == 1 or (owner.control, *key) not in todo)

    def lab(self):
        """Render (or reuse) the laboratory of the synthetic corpus (:func:`genre_utils.lab.lab_data`); None on
        real data. Its audio is keyed by the corpus and the main store, both recorded as this page's inputs."""
        from .lab import lab_data  # deferred: the laboratory renders with the synthesiser only when asked

        if not self.synthetic:
            return None
        if self._lab is None:
            t0 = time.perf_counter()
            self._lab = lab_data(self)
            _stage_line(f"laboratory lab-{self.profile.name}", self._lab.manifest.get("cached"), t0)
        return self._lab

    def seed_runs(self, model: str = "crnn", kind: str = "mfcc", split: str = "random") -> list:
        """The run under each of its training seeds (:func:`run_seeds`), the profile's seed first."""
        return [self.run(model, kind, split, seed) for seed in run_seeds(self.profile, (model, kind, split))]

    def key_of(self, kind: str, args) -> str | None:
        """Current cache key of one artefact (``corpus``, ``store`` [kind, split], ``run`` [model, kind, split]).

        Brings the artefact up to date first (a cache hit when the build has just prepared it).
        """
        if args and str(args[0]).startswith("lab:"):
            return self.controlled(str(args[0])[4:]).key_of(kind, args[1:])
        if kind == "corpus":
            corpus = self.corpus()
            return corpus["fingerprint"] if corpus else None
        if kind == "store":
            return store_key(self.dataset(*args))
        if kind == "run":
            return self.run(*args).key
        raise ValueError(f"unknown artefact kind {kind!r}")


def _run_name(folder) -> str:
    """A run's name in the build's progress lines: its folder, led by ``lab-<control>/`` for the laboratory's."""
    folder = Path(folder)
    return f"{folder.parent.name}/{folder.name}" if folder.parent.name.startswith("lab-") else folder.name


def store_key(ds) -> str:
    """What a store's readers depend on: its cache key and the content fingerprint of its tracks."""
    return fingerprint(ds.info["cache_key"], ds.info.get("data_fingerprint"))


def _mtime(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


def record_dependency(kind: str, args, key) -> None:
    """Append ``kind``, ``args`` and ``key`` to the file named by ``$GENRE_UTILS_DEPS`` (when set)."""
    path = os.environ.get(DEPS_ENV)
    if path:
        with open(path, "a") as fh:
            fh.write(json.dumps({"kind": kind, "args": list(args), "key": key}) + "\n")


def _stage_line(what: str, cached, t0: float | None = None, seconds: float | None = None) -> None:
    """One progress line: ``what`` reused or built, with its seconds (since ``t0``, or ``seconds``), to the
    build's log when in a notebook."""
    seconds = time.perf_counter() - t0 if seconds is None else seconds
    line = f"  {what}: {'reused' if cached else 'built'} ({seconds:.1f} s)"
    log = os.environ.get(LOG_ENV)
    if log and cached:
        return  # in a notebook, only work done is worth a line (the build has reported every artefact)
    if log:
        with open(log, "a") as fh:
            fh.write(line.strip() + "\n")
    else:
        print(line, file=sys.stderr, flush=True)


def _own_seed(profile: Profile, seed) -> int | None:
    """A run's training seed as its folder and cache name it: None for the profile's own seed."""
    return None if seed is None or int(seed) == profile.seed else int(seed)


#: Environment variable overriding :func:`run_workers` (a positive integer).
RUN_WORKERS_ENV = "GENRE_UTILS_RUN_WORKERS"


def run_workers(device, n_runs: int) -> int:
    """How many runs :meth:`Context.train_runs` trains side by side: two on a CPU with at least two cores,
    one on a CUDA or MPS device (the runs would share it), never more than there are runs;
    ``$GENRE_UTILS_RUN_WORKERS`` overrides."""
    wanted = os.environ.get(RUN_WORKERS_ENV, "").strip()
    if wanted.isdigit() and int(wanted) > 0:
        workers = int(wanted)
    else:
        from .devices import select_device  # deferred: imports torch

        workers = min(2, num_threads()) if select_device(device).type == "cpu" else 1
    return max(1, min(workers, n_runs))


def _training_worker(threads: int) -> None:
    """Initialiser of a process that trains runs for :meth:`Context.train_runs`: ``threads`` cores, no Ctrl-C
    (the build reports an interruption once)."""
    ignore_interrupts()
    os.environ[THREADS_ENV] = str(threads)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(threads)


def _train_in_worker(job: dict) -> float:
    """Train and evaluate one run of :meth:`Context.train_runs` (:func:`genre_utils.experiments.run_experiment`
    on the already checked store); return its seconds."""
    from .dataset import open_dataset  # deferred: a run has a key of its own, and so has its store
    from .experiments import run_experiment  # deferred: a run has a key of its own (as in run())

    t0 = time.perf_counter()
    run_experiment(open_dataset(job["store"]), job["model"], Path(job["folder"]), job["profile"],
                   newdata=None if job["newdata"] is None else Path(job["newdata"]), device=job["device"],
                   progress=False, data_description=job["data_description"], seed=job["seed"])
    return time.perf_counter() - t0


def context(profile: str = "quick", build_dir=None, gtzan=None, fma=None, newdata=None, device=None,
            progress: bool = True, verify: bool = False) -> Context:
    """The :class:`Context` of a notebook's papermill parameters.

    Parameters
    ----------
    profile : str
        ``tiny``, ``quick`` or ``paper``.
    build_dir : path-like, optional
        Default: ``$GENRE_UTILS_BUILD_DIR`` when set (``make book`` sets it while a notebook runs, so that no
        absolute path is injected into the notebooks), else ``_build`` at the repository root (found from the
        working directory).
    gtzan, fma : path-like, optional
        Real data roots; without them the synthetic corpus of the profile is used.
    newdata : path-like, optional
        Labelled folder for the paper's section 9; default: the synthetic corpus's ``newdata/``.
    device : str, optional
    progress : bool
    verify : bool
        Check content hashes when reusing inputs and artefacts (``--verify``).
    """
    prof = get_profile(profile)
    build_dir = build_dir or os.environ.get(BUILD_DIR_ENV) or None
    build = Path(build_dir).resolve() if build_dir else find_root() / "_build"
    if gtzan or fma:
        return Context(prof, build, Path(gtzan) if gtzan else None, Path(fma) if fma else None,
                       Path(newdata) if newdata else None, synthetic=False, device=device, progress=progress,
                       verify=verify)
    synth = build / "data" / f"synth-{prof.name}"
    return Context(prof, build, synth / "gtzan", synth / "fma", Path(newdata) if newdata else synth / "newdata",
                   synthetic=True, device=device, progress=progress, verify=verify)
