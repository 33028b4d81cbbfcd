"""Reading a built feature store: :func:`open_dataset` and the :class:`Dataset` it returns (memory-mapped features,
the manifest, the training statistics), a track's windows (:func:`track_windows`), and whether a store was built
from the project's synthetic corpus (:func:`built_from_synthetic`). :mod:`genre_utils.store` writes stores.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .config import FeatureParams, Profile, get_profile
from .provenance import read_csv

__all__ = ["Dataset", "open_dataset", "track_windows", "built_from_synthetic"]


@dataclass
class Dataset:
    """A built dataset folder, opened read-only.

    Attributes
    ----------
    root : Path
    manifest : DataFrame
        One row per window (see the module docstring).
    features : ndarray, shape (n_windows, height, n_frames), float16, memory-mapped
    params : FeatureParams
    info : dict
        Contents of ``dataset.json``.
    mean, std : ndarray, shape (height,), float64
        Per-row statistics of the training windows.
    """

    root: Path
    manifest: pd.DataFrame
    features: np.ndarray
    params: FeatureParams
    info: dict
    mean: np.ndarray
    std: np.ndarray

    def split(self, name: str):
        """Features, class indices and manifest rows of one split.

        Returns
        -------
        X : ndarray, shape (n, height, n_frames), float16 (a memory-mapped view)
        y : ndarray, shape (n,), int64
        rows : DataFrame
        """
        rows = self.manifest[self.manifest["split"] == name]
        if rows.empty:
            return self.features[:0], np.zeros(0, np.int64), rows
        lo, hi = int(rows["row"].iloc[0]), int(rows["row"].iloc[-1]) + 1
        assert hi - lo == len(rows), "split rows must be contiguous"
        return self.features[lo:hi], rows["label"].to_numpy(np.int64, copy=True), rows

    @property
    def profile(self) -> Profile:
        """The profile the store was built with, whole as it recorded it: a ``Profile.replace(...)`` override
        survives (looking the profile up again by its name would lose it)."""
        if "profile_config" in self.info:
            return Profile.from_dict(self.info["profile_config"])
        return get_profile(self.info["profile"])

    @property
    def skipped(self) -> pd.DataFrame:
        """Every file or track left out, with its reason."""
        return read_csv(self.root / "skipped.csv", keep_default_na=False)

    @property
    def tracks(self) -> pd.DataFrame:
        """Every track found, with split and status."""
        return read_csv(self.root / "tracks.csv", keep_default_na=False)

    @property
    def track_splits(self) -> pd.Series:
        """The split of every track id found (``train``, ``valid``, ``test``; ``''`` for a track not used)."""
        return self.tracks.drop_duplicates("track_id").set_index("track_id")["split"]


def track_windows(dataset, track_id: str, n_windows: int, split: str = "test") -> np.ndarray | None:
    """The first ``n_windows`` windows of one track in ``split``, in time order, as the store holds them.

    Parameters
    ----------
    dataset : Dataset
        An open store (anything with its ``manifest`` and ``features``).
    track_id : str
    n_windows : int
    split : str

    Returns
    -------
    windows : ndarray, shape (k, height, n_frames), float32, or None
        ``k <= n_windows``; None when the store holds no window of the track in that split.
    """
    m = dataset.manifest
    rows = m[(m["track_id"] == track_id) & (m["split"] == split)].sort_values("start", kind="stable")
    if rows.empty:
        return None
    return np.asarray(dataset.features[rows["row"].to_numpy()[:n_windows]], dtype=np.float32)


def built_from_synthetic(info: dict) -> bool:
    """Whether a store's ``dataset.json`` (``info``) names GTZAN/FMA roots of the project's synthetic corpus
    (a ``corpus.json`` written by :mod:`genre_utils.synth` beside them)."""
    roots = [v for k, v in (info.get("sources") or {}).items() if k in ("gtzan", "fma") and v]
    return any((Path(r).parent / "corpus.json").is_file() for r in roots)


def open_dataset(root) -> Dataset:
    """Open a dataset folder written by :func:`genre_utils.store.build_dataset`.

    Raises
    ------
    FileNotFoundError
        When ``root`` holds no complete dataset (no ``dataset.json``), naming what to run.
    """
    root = Path(root)
    info_path = root / "dataset.json"
    if not info_path.is_file():
        raise FileNotFoundError(f"{root}: no complete dataset here (dataset.json missing); "
                                "build one with `genre-utils dataset --out DIR ...`")
    info = json.loads(info_path.read_text())
    manifest = read_csv(root / "manifest.csv", keep_default_na=False, dtype={"artist": str})
    features = np.load(root / "features.npy", mmap_mode="r")
    stats = np.load(root / "stats.npz")
    return Dataset(root, manifest, features, FeatureParams(**info["features"]), info,
                   stats["mean"], stats["std"])
