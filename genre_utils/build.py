"""The steps of ``make data`` and ``make book``, each cached so that a rerun with nothing changed is quick.

Layout of the build folder (``_build`` by default)::

    _build/data/synth-<profile>/          synthetic corpus (GTZAN + FMA layouts, new data)
    _build/data/<profile>-<kind>-<split>/ feature store (see genre_utils.store)
    _build/runs/<profile>/<name>/         checkpoints and results.json of one trained model
    _build/executed/                      executed notebooks + a copy of _config.yml/_toc.yml
    _build/html/                          the rendered book
    _build/results.json                   the build's headline numbers

Notebooks call :func:`data_paths`, :func:`dataset` and :func:`trained_run` with their papermill parameters, so
every notebook reaches the same cached artefacts instead of recomputing them.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from .config import PROFILES, get_profile

__all__ = ["DataPaths", "data_paths", "corpus", "dataset", "run_dir", "main_run_dir", "main"]


@dataclass(frozen=True)
class DataPaths:
    """Where one build's inputs come from and whether they are the synthetic default.

    Attributes
    ----------
    gtzan, fma : Path or None
        Source roots handed to :func:`genre_utils.store.build_dataset`.
    newdata : Path or None
        Labelled folder of "new data" (paper section 9): the synthetic corpus's ``newdata/``.
    synthetic : bool
        True when the build runs on the project's own synthetic corpus.
    """

    gtzan: Path | None
    fma: Path | None
    newdata: Path | None
    synthetic: bool

    @property
    def description(self) -> str:
        """One sentence saying which data the results come from (printed on every results page)."""
        if self.synthetic:
            return ("synthetic corpus rendered by genre_utils.synth in the GTZAN and FMA layouts "
                    "(not the real datasets)")
        parts = [f"GTZAN at {self.gtzan}" if self.gtzan else None, f"FMA at {self.fma}" if self.fma else None]
        return "real data: " + " and ".join(p for p in parts if p)


def data_paths(profile: str, build_dir="_build", gtzan=None, fma=None, newdata=None) -> DataPaths:
    """Resolve the data sources of a build: the given real roots, or the synthetic corpus of ``profile``."""
    if gtzan or fma:
        return DataPaths(Path(gtzan) if gtzan else None, Path(fma) if fma else None,
                         Path(newdata) if newdata else None, synthetic=False)
    root = Path(build_dir) / "data" / f"synth-{get_profile(profile).name}"
    return DataPaths(root / "gtzan", root / "fma", root / "newdata", synthetic=True)


def corpus(profile: str, build_dir="_build", progress: bool = True) -> dict:
    """Render (or reuse) the synthetic corpus of ``profile``; returns its summary."""
    from .synth import render_corpus

    root = Path(build_dir) / "data" / f"synth-{get_profile(profile).name}"
    return render_corpus(root, profile=profile, progress=progress)


def dataset(profile: str, build_dir="_build", gtzan=None, fma=None, kind: str = "mfcc", split: str = "random",
            progress: bool = True):
    """Build (or reuse) the feature store of one configuration and open it.

    Parameters
    ----------
    profile : str
    build_dir : path-like
    gtzan, fma : path-like, optional
        Real data roots; without them the synthetic corpus is rendered first and used.
    kind : {'mfcc', 'logmel'}
    split : {'random', 'artist', 'official'}

    Returns
    -------
    genre_utils.store.Dataset
    """
    from .store import build_dataset

    paths = data_paths(profile, build_dir, gtzan, fma)
    if paths.synthetic:
        corpus(profile, build_dir, progress)
    out = Path(build_dir) / "data" / f"{get_profile(profile).name}-{kind}-{split}"
    return build_dataset(out, gtzan=paths.gtzan, fma=paths.fma, profile=profile, split_method=split,
                         feature_kind=kind, progress=progress)


def run_dir(profile: str, name: str, kind: str = "mfcc", split: str = "random", build_dir="_build") -> Path:
    """Folder of one trained model: ``<build>/runs/<profile>/<name>-<kind>-<split>``."""
    return Path(build_dir) / "runs" / get_profile(profile).name / f"{name}-{kind}-{split}"


def main_run_dir(profile: str, build_dir="_build") -> Path:
    """The run the book's main results come from: the paper's CRNN on MFCCs with a track-level random split."""
    return run_dir(profile, "crnn", "mfcc", "random", build_dir)


def main(argv=None) -> int:
    """``python -m genre_utils.build {data,book}``: the targets of the Makefile."""
    parser = argparse.ArgumentParser(prog="python -m genre_utils.build")
    parser.add_argument("target", choices=["data", "book"])
    parser.add_argument("--profile", default="quick", choices=sorted(PROFILES))
    parser.add_argument("--build-dir", default="_build", type=Path)
    parser.add_argument("--gtzan", type=Path)
    parser.add_argument("--fma", type=Path)
    args = parser.parse_args(argv)
    ds = dataset(args.profile, args.build_dir, args.gtzan, args.fma)
    print(f"dataset ready: {ds.root} ({ds.info['n_tracks_used']} tracks, windows {ds.info['n_windows']})")
    if args.target == "book":
        print("the book itself is not built yet: the notebooks land with the book issue; "
              "stopping after the data step", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
