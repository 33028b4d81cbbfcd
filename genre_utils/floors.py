"""The floors of the package: which module may import which, declared once, and read from the code.

Each module lives on one floor; a module imports only modules of its own floor or of a floor below
(``tests/test_floors.py`` enforces it, with no import circle at all and no private name taken from another
module):

========== =====================================================================================
floor      what lives there
========== =====================================================================================
foundation settings, exceptions, provenance and atomic writes, genres, statistics, locks, workers
signal     audio decoding and cutting, features (and the paper's own feature loop)
data       data sources, splits, the feature store and its checks, the synthetic corpus
model      models, devices, training, checkpoints, evaluation, calibration maths
runs       one run end to end (train, evaluate, calibrate) and its results
book       what the pages show: the Context, tables, prose, figures, widgets, the paper's citations
tools      entry points: the CLI, ``make data``/``make book``, the bench, publishing, the explorer
========== =====================================================================================

Imports inside functions
    A module imports the package's own modules at its top, so that reading its imports tells what code it
    runs. The exceptions are the two top floors, where a function may defer a part of the package that is
    slow to import (for a CLI command, a measurement of the bench, the artefacts a notebook's Context
    builds), each such import with a comment saying why. A function-local import of another library is
    allowed for the libraries of :data:`DEFERRED_LIBRARIES` only, which gives the reason once for each.

Cache keys
    :func:`genre_utils.provenance.code_fingerprint` hashes a module and the package modules it imports *at
    its top* (:func:`genre_utils.imports.imports_of`). Below the book floor every package import is at the
    top, so a key covers all the code its stage runs. The deferred imports of the two top floors are left out
    on purpose: what a Context builds (corpus, store, run) has a key of its own, which the key of a notebook
    that reads it includes, and the tools are keyed by the stages they run. So a store's key covers the code
    that builds stores (foundation, signal and the store's part of data), a run's key the code that trains
    and evaluates, and a notebook's key the modules its cells import
    (:func:`genre_utils.imports.notebook_modules`), not the synthetic corpus's or the CLI's code. This table
    is read by the tests and ``tools/import_graph.py`` only, so editing it changes no key.
"""

from __future__ import annotations

from .imports import PACKAGE_DIR

__all__ = ["FLOOR_ORDER", "FLOORS", "LOCAL_IMPORT_FLOORS", "DEFERRED_LIBRARIES", "floor_of"]

#: The floors, lowest first.
FLOOR_ORDER = ("foundation", "signal", "data", "model", "runs", "book", "tools")

#: Every module of the package (name below ``genre_utils``; ``""`` is the package's ``__init__``) -> its floor.
#: A subpackage's modules take the subpackage's floor unless listed themselves.
FLOORS: dict[str, str] = {
    "": "foundation", "config": "foundation", "errors": "foundation", "provenance": "foundation",
    "genres": "foundation", "stats": "foundation", "locks": "foundation", "parallel": "foundation",
    "imports": "foundation", "floors": "foundation",
    "audio": "signal", "features": "signal", "paper_method": "signal",
    "sources": "data", "splits": "data", "store": "data", "checks": "data", "duplicates": "data",
    "styles": "data", "synth": "data", "corpus_card": "data", "inventory": "data", "dataset": "data",
    "extraction": "data", "fma": "data",
    "models": "model", "devices": "model", "train": "model", "checkpoints": "model", "evaluate": "model",
    "calibration": "model", "monitor": "model", "budget": "model", "metrics": "model",
    "experiments": "runs", "confidence": "runs", "predict": "runs", "probe": "runs", "results": "runs",
    "checkpoint_info": "runs",
    "context": "book", "report": "book", "paper": "book", "narrative": "book", "plots": "book", "webplots": "book",
    "widgets": "book", "saliency": "book", "listening": "book", "tracks": "book", "verdicts": "book",
    "recordings": "book", "confidence_plots": "book", "static_explorer": "book", "lab": "book",
    "cli": "tools", "build": "tools", "bookbuild": "tools", "bench": "tools", "publish": "tools",
    "explore": "tools", "sphinx_ext": "tools",
}

#: Floors whose functions may import package modules (each such import commented; see the module docstring).
LOCAL_IMPORT_FLOORS = ("book", "tools")

#: Libraries a function may import itself, and why (slow to import, needed by few calls, or optional).
DEFERRED_LIBRARIES: dict[str, str] = {
    "torch": "slow to import; the CLI, the build and the data steps start without it",
    "numpy": "provenance.to_plain only; keeps the foundation importable without the scientific stack",
    "pandas": "slow to import; needed by few calls of light modules",
    "scipy": "slow to import; a few statistics and filters need it",
    "sklearn": "slow to import; the linear probe and the confusion matrix only",
    "librosa": "slow to import; feature extraction only",
    "soundfile": "audio file I/O only, loads a native library",
    "soxr": "resampling only, loads a native library",
    "lameenc": "MP3 writing only (the synthetic FMA tree and the bench)",
    "pretty_midi": "slow to import; the synthetic corpus only",
    "tinysoundfont": "the synthetic corpus only, loads a native synthesizer",
    "matplotlib": "slow to import; figures only",
    "seaborn": "slow to import; figures only",
    "plotly": "slow to import; interactive figures only",
    "PIL": "image encoding of the widgets only",
    "IPython": "notebook display only; absent outside Jupyter installs",
    "ipywidgets": "notebook widgets only",
    "myst_nb": "glue only, part of the book extra",
    "nbformat": "notebooks only, part of the book extra",
    "nbclient": "notebook execution only, part of the book extra",
    "papermill": "notebook execution only, part of the book extra",
    "jupyter_client": "the notebook kernels of the build only, part of the book extra",
    "traitlets": "the notebook kernels of the build only, part of the book extra",
    "ghp_import": "publishing only, part of the book extra",
    "yaml": "the book's configuration only",
    "psutil": "process measurements of the bench and the explorer only",
    "joblib": "worker pools only",
    "tqdm": "progress bars only; tqdm.auto looks for Jupyter when imported",
    "fcntl": "POSIX only (the folder locks)",
}


def floor_of(module: str) -> str | None:
    """The floor of ``module`` (``genre_utils.x.y`` or ``x.y``): its own entry, else its package's; None if
    unassigned."""
    name = module.split(".", 1)[1] if module.split(".")[0] == PACKAGE_DIR.name and "." in module else module
    name = "" if name == PACKAGE_DIR.name else name
    parts = name.split(".") if name else [""]
    for i in range(len(parts), 0, -1):
        key = ".".join(parts[:i])
        if key in FLOORS:
            return FLOORS[key]
    return None
