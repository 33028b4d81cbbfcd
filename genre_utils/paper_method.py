"""The paper's own data pipeline, kept to measure this build against it (see :mod:`genre_utils.bench`).

The paper computes one ``librosa.feature.mfcc`` per 5-s window in a Python loop and stores each matrix as
a string (``np.array2string`` with an infinite threshold) in one pandas CSV. This build replaces both
(:mod:`genre_utils.features`, :mod:`genre_utils.store`); these functions exist so that the benchmarks can
time the two ways side by side and check they compute the same numbers.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from .audio import segment_starts
from .config import FeatureParams

__all__ = ["window_starts", "extract_paper", "stringify_matrix", "parse_matrix", "write_paper_csv", "load_paper_csv"]


def window_starts(n_samples: int, params: FeatureParams) -> np.ndarray:
    """Start samples of the non-overlapping 5-s windows of a clip of ``n_samples`` samples."""
    return segment_starts(n_samples, params.segment_samples)


def extract_paper(clips: np.ndarray, params: FeatureParams = FeatureParams()) -> np.ndarray:
    """The paper's approach: a Python loop, one ``librosa.feature.mfcc`` call per 5-s window.

    Parameters
    ----------
    clips : ndarray, shape (n_clips, n_samples)
    params : FeatureParams

    Returns
    -------
    features : ndarray, shape (n_clips * windows_per_clip, height, n_frames), float32
    """
    import librosa

    out = []
    for clip in clips:
        for start in window_starts(clip.size, params):
            window = clip[start:start + params.segment_samples]
            out.append(librosa.feature.mfcc(y=window, sr=params.sample_rate, n_mfcc=params.height,
                                            n_mels=params.n_mels, n_fft=params.n_fft, hop_length=params.hop_length))
    return np.stack(out).astype(np.float32, copy=False)


def stringify_matrix(matrix: np.ndarray) -> str:
    """The paper's storage of one feature matrix: ``np.array2string`` with an infinite threshold."""
    return np.array2string(np.asarray(matrix), threshold=np.inf)


def parse_matrix(text: str, dtype=np.float32) -> np.ndarray:
    """Parse a :func:`stringify_matrix` string back to a 2-D array (rows = inner bracket pairs).

    Returns
    -------
    matrix : ndarray, shape (rows, columns)
    """
    n_rows = max(1, text.count("[") - 1)
    flat = text.replace("[", " ").replace("]", " ")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        values = np.fromstring(flat, dtype=dtype, sep=" ")
    return values.reshape(n_rows, -1)


def write_paper_csv(path: Path, strings: list[str], table) -> list[Path]:
    """One row per window with the stringified matrix; ``strings[i % len(strings)]`` is window ``i``'s."""
    frame = table.assign(mfcc=[strings[i % len(strings)] for i in range(len(table))])
    frame.to_csv(path, index=False)
    return [path]


def load_paper_csv(path: Path):
    import pandas as pd

    frame = pd.read_csv(path, keep_default_na=False)
    features = np.stack([parse_matrix(text) for text in frame["mfcc"]])
    return frame.drop(columns="mfcc"), features
