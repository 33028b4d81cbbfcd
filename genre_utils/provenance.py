"""Where a result comes from: atomic writes, library versions and code fingerprints, in one place.

Every cached artefact of the build (corpus, store, run, executed notebook) is keyed on what produced it.
The pieces of such a key that are not the artefact's own inputs live here:

* :func:`code_fingerprint` hashes a module of the package *and every package module it imports at its top*,
  found by reading the import statements (``ast``, :mod:`genre_utils.imports`), so a new module is covered as
  soon as something imports it; no hand-kept list of files.
* :func:`versions` reports the versions of the libraries that can change a number; :func:`library_key` is
  the subset a given stage depends on, for cache keys.
* :func:`atomic_write_bytes` / :func:`atomic_write_text` / :func:`atomic_torch_save` write through a
  temporary file in the same folder and an atomic rename, so an interrupted write never leaves a half file
  under the final name. A full disk raises :class:`DiskFullError` with one readable line.
* :func:`to_plain` turns results (numpy, torch, pandas, paths, dataclasses) into plain JSON values.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import importlib.metadata as md
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import tomllib
from functools import lru_cache
from pathlib import Path

from . import __version__
from .errors import DiskFullError
from .imports import imports_of, module_names

__all__ = ["PACKAGE_DIR", "DiskFullError", "atomic_write_bytes", "atomic_write_text", "atomic_write_csv", "read_csv",
           "atomic_write_texts",
           "atomic_torch_save", "atomic_same_file",
           "file_sha256", "versions", "library_key", "code_fingerprint", "module_closure", "STAGE_LIBRARIES",
           "to_plain"]

PACKAGE_DIR = Path(__file__).resolve().parent

#: The libraries whose versions can change the numbers of each stage (part of that stage's cache key).
STAGE_LIBRARIES = {
    "corpus": ("numpy", "scipy", "soxr", "soundfile", "lameenc", "pretty_midi", "tinysoundfont", "pandas"),
    "store": ("numpy", "scipy", "pandas", "librosa", "soundfile", "soxr", "torch"),
    "run": ("numpy", "torch", "scikit-learn", "pandas"),
    "book": ("numpy", "pandas", "scipy", "torch", "scikit-learn", "matplotlib", "seaborn", "plotly",
             "ipywidgets", "jupyter-book", "myst-nb", "sphinx", "papermill"),
}

#: Everything :func:`versions` reports (the union of the stages, plus the corpus's tools).
REPORTED_LIBRARIES = tuple(dict.fromkeys(name for names in STAGE_LIBRARIES.values() for name in names))


def _raise_if_full(err: OSError, path) -> None:
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        raise DiskFullError(err.errno, os.strerror(err.errno), str(path)) from None


def _temporary(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(fd)
    return tmp


def _publish(tmp: str, path: Path) -> None:
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the usual permissions
    os.replace(tmp, path)


def _atomic(path, write) -> None:
    """Call ``write(temporary_path)``, then rename the temporary file to ``path``; clean up on any failure.

    A full disk becomes :class:`DiskFullError` (torch's zip writer reports a short write as
    "unexpected pos", so that counts too).
    """
    path = Path(path)
    tmp = None
    try:
        tmp = _temporary(path)
        write(tmp)
        _publish(tmp, path)
    except BaseException as err:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError):
            _raise_if_full(err, path)
        if isinstance(err, RuntimeError) and "unexpected pos" in str(err):
            raise DiskFullError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path)) from None
        raise


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and an atomic rename.

    Raises
    ------
    DiskFullError
        The file system is full; nothing is left under ``path`` or beside it.
    """
    _atomic(path, lambda tmp: _write_synced(tmp, data))


def _write_synced(tmp, data: bytes) -> None:
    """Write ``data`` to the file ``tmp`` and wait until it is on the disk."""
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def atomic_write_text(path, text: str) -> None:
    """Write text (UTF-8) to ``path`` atomically; see :func:`atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode("utf-8"))


#: First characters that make a spreadsheet read a cell as a formula ("CSV injection"), plus the quote that
#: neutralises them (so that a value which itself begins with a quote survives the round trip).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


def _csv_cells(frame, change):
    """``frame`` with ``change`` applied to every string cell of its text columns (numbers stay numbers)."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or str(out[column].dtype) in ("string", "str"):
            out[column] = out[column].map(lambda v: change(v) if isinstance(v, str) else v)
    return out


def atomic_write_csv(path, frame) -> None:
    """Write a table as CSV (no index), atomically, with every text cell that a spreadsheet would run as a
    formula (beginning with ``= + - @``, a tab or a carriage return) prefixed with ``'``, the usual
    neutralisation; :func:`read_csv` gives the original values back."""
    safe = _csv_cells(frame, lambda v: "'" + v if v.startswith(_FORMULA_START) else v)
    atomic_write_text(path, safe.to_csv(index=False))


def read_csv(path, **kwargs):
    """``pandas.read_csv`` of a file :func:`atomic_write_csv` wrote, with the neutralising quotes removed."""
    import pandas as pd

    frame = pd.read_csv(path, **kwargs)
    return _csv_cells(frame, lambda v: v[1:] if v.startswith("'") else v)


def atomic_write_texts(files: dict) -> None:
    """Write several text files (UTF-8) as one: every temporary file is written and synced before the first
    is renamed, so a full disk (or any failure while writing) replaces none of them; see
    :func:`atomic_write_bytes`.

    Parameters
    ----------
    files : dict
        Path -> text.
    """
    temps: dict[Path, str] = {}
    path = None
    try:
        for path, text in files.items():
            path = Path(path)
            temps[path] = _temporary(path)
            _write_synced(temps[path], text.encode("utf-8"))
    except BaseException as err:
        for tmp in temps.values():
            Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError):
            _raise_if_full(err, path)
        raise
    for path, tmp in temps.items():
        _publish(tmp, path)


def atomic_torch_save(obj, path) -> None:
    """``torch.save`` to ``path`` atomically; see :func:`atomic_write_bytes`."""
    import torch

    _atomic(path, lambda tmp: torch.save(obj, tmp))


def atomic_same_file(src, path) -> None:
    """Make ``path`` hold exactly the bytes of ``src``, atomically: a hard link when the file system allows one
    (nothing is copied; both names share the data until one of them is replaced by another atomic write, which
    gives it a new file and leaves the other untouched), else a copy through a temporary file."""
    def link_or_copy(tmp):
        os.unlink(tmp)
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)

    _atomic(path, link_or_copy)


def file_sha256(path, chunk: int = 1 << 22) -> str:
    """SHA-256 (hex) of a file's bytes, read in chunks of ``chunk`` bytes (large stores never sit in memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def library_version(name: str) -> str | None:
    """The installed version of the distribution ``name``; None when it is not installed."""
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return None


def versions() -> dict:
    """Versions of Python, the platform and every library that can shape a number (None: not installed)."""
    out = {"python": platform.python_version(), "platform": platform.platform(), "genre_utils": __version__}
    out.update({name: library_version(name) for name in REPORTED_LIBRARIES})
    return out


def library_key(stage: str) -> dict:
    """The versions a cache key of ``stage`` (``corpus``, ``store``, ``run``, ``book``) depends on.

    Python's minor version is included: it decides which wheels, and so which kernels, are installed.
    """
    major_minor = ".".join(platform.python_version_tuple()[:2])
    return {"python": major_minor, **{name: library_version(name) for name in STAGE_LIBRARIES[stage]}}


def module_closure(*modules: str) -> list[Path]:
    """The files of ``modules`` (e.g. ``"genre_utils.store"`` or ``"store"``) and of every package module they
    import at their top, transitively (:func:`genre_utils.imports.imports_of`).

    Imports inside functions are not followed: below the book floor there are none, and above it they defer
    work that is keyed on its own (see :mod:`genre_utils.floors`). Parents' ``__init__.py`` are included
    (they run on import). Sorted, so the order never depends on the walk.
    """
    pkg = PACKAGE_DIR.name
    files = module_names(PACKAGE_DIR)
    table = _import_table(_stamps())
    todo = [m if m.split(".")[0] == pkg else f"{pkg}.{m}" for m in modules]
    seen: dict[str, Path] = {}
    while todo:
        name = todo.pop()
        if name in seen or name not in files:  # a name imported from a module, not a module itself
            continue
        seen[name] = files[name]
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        todo += table.get(name, ())
    return sorted(set(seen.values()))


def _stamps() -> tuple:
    """(path, size, mtime) of every file of the package: the state the caches below are keyed on."""
    return tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(PACKAGE_DIR.rglob("*.py")))


@lru_cache(maxsize=4)
def _import_table(stamps: tuple) -> dict[str, tuple[str, ...]]:
    """Module -> the package modules it imports at its top, for the package in the state ``stamps``."""
    files = module_names(PACKAGE_DIR)
    return {name: tuple(sorted({r.target for r in imports_of(name, path, files) if not r.local}))
            for name, path in files.items()}


@lru_cache(maxsize=None)
def _closure_digest(modules: tuple, stamps: tuple) -> str:
    h = hashlib.sha256()
    for path in module_closure(*modules):
        h.update(path.relative_to(PACKAGE_DIR).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def code_fingerprint(*modules: str) -> str:
    """Hash of the code that ``modules`` run: their files and every package module they import at their top
    (:func:`module_closure`).

    With no argument, the whole package (every ``*.py`` under it). Cached per file state (path, size,
    mtime), so it is cheap to call often and still sees an edit.
    """
    if not modules:
        files = sorted(PACKAGE_DIR.rglob("*.py"))
        h = hashlib.sha256()
        for path in files:
            h.update(path.relative_to(PACKAGE_DIR).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
        return h.hexdigest()[:16]
    return _closure_digest(tuple(sorted(modules)), _stamps())


# ---------------------------------------------------------------------------------- locked environment

#: The lock file (``make lock``), at the repository root next to ``pyproject.toml``.
LOCK_FILE = "requirements.lock"


def _repository_root(root=None) -> Path | None:
    """``root`` if given, else the folder above the package when it holds ``pyproject.toml`` (a checkout);
    None for an installed wheel, whose parent folder is ``site-packages``."""
    if root is not None:
        return Path(root)
    candidate = PACKAGE_DIR.parent
    return candidate if (candidate / "pyproject.toml").is_file() else None


def lock_fingerprint(root=None) -> str | None:
    """First 16 hex digits of the sha256 of the lock file's bytes; None when there is no lock file (an
    installed wheel, or a checkout without one)."""
    base = _repository_root(root)
    if base is None:
        return None
    try:
        return file_sha256(base / LOCK_FILE)[:16]
    except FileNotFoundError:
        return None


def dependency_digest(pyproject) -> str:
    """sha256 (hex) of the dependency declaration of ``pyproject`` (a path to ``pyproject.toml``).

    Covers ``requires-python``, ``dependencies`` and every ``optional-dependencies`` extra, each list
    sorted, so reformatting the file or editing anything else in it leaves the digest unchanged while any
    change of a requirement changes it. ``make lock`` writes it into the lock's header; the test suite
    compares the two, so an edit of the dependencies without ``make lock`` fails there.
    """
    project = tomllib.loads(Path(pyproject).read_text(encoding="utf-8")).get("project", {})
    declared = {
        "requires-python": project.get("requires-python"),
        "dependencies": sorted(project.get("dependencies", [])),
        "optional-dependencies": {extra: sorted(reqs)
                                  for extra, reqs in project.get("optional-dependencies", {}).items()},
    }
    return hashlib.sha256(json.dumps(declared, sort_keys=True).encode("utf-8")).hexdigest()


__all__ += ["LOCK_FILE", "lock_fingerprint", "dependency_digest", "library_version"]


def to_plain(obj, nan_to_none: bool = False):
    """Recursively convert to JSON-like Python values (dict, list, str, int, float, bool, None).

    numpy arrays and tensors become (nested) lists, numpy scalars Python scalars, tuples lists, paths
    strings, dataclasses dicts, pandas DataFrames lists of records (a named or non-default index is
    kept as a column), Series dicts; ``nan_to_none`` turns NaN/inf and pandas' NA into None (strict JSON).
    Anything else becomes ``str(obj)``.
    """
    import numpy as np
    import pandas as pd

    torch = sys.modules.get("torch")  # only objects of a loaded torch can be tensors or devices

    def rec(o):
        if o is None or isinstance(o, (bool, str)):
            return o
        if isinstance(o, (int, np.integer)):
            return int(o)
        if isinstance(o, (float, np.floating)):
            o = float(o)
            return None if nan_to_none and not math.isfinite(o) else o
        if isinstance(o, np.bool_):
            return bool(o)
        if isinstance(o, dict):
            return {str(k): rec(v) for k, v in o.items()}
        if isinstance(o, (list, tuple, set, frozenset)):
            return [rec(v) for v in o]
        if torch is not None and isinstance(o, torch.Tensor):
            return rec(o.detach().cpu().numpy())
        if isinstance(o, np.ndarray):
            return [rec(v) for v in o.tolist()] if o.ndim else rec(o.item())
        if isinstance(o, pd.DataFrame):
            frame = o if isinstance(o.index, pd.RangeIndex) and o.index.name is None else o.reset_index()
            return [rec(r) for r in frame.to_dict(orient="records")]
        if isinstance(o, pd.Series):
            return {str(k): rec(v) for k, v in o.items()}
        if o is pd.NA or o is pd.NaT:
            return None
        if isinstance(o, os.PathLike):
            return os.fspath(o)
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            return rec(dataclasses.asdict(o))
        if torch is not None and isinstance(o, torch.device):
            return str(o)
        return str(o)

    return rec(obj)
