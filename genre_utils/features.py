"""Feature extraction: MFCC (the paper) or log-mel (the alternative), one parameter set for all uses.

Dataset building, training, evaluation and ``genre-utils predict`` all call :func:`extract` with the same
:class:`~genre_utils.config.FeatureParams`, so a model never sees features computed differently from the
ones it was trained on.
"""

from __future__ import annotations

import numpy as np

from .audio import check_audio, cut_segments, load_audio, segment_starts
from .config import FeatureParams

__all__ = ["extract", "file_segments"]


def extract(segments: np.ndarray, params: FeatureParams = FeatureParams()) -> np.ndarray:
    """Feature matrices of a batch of equal-length audio windows.

    Parameters
    ----------
    segments : ndarray, shape (n_windows, params.segment_samples) or (params.segment_samples,)
        Mono audio at ``params.sample_rate`` Hz.
    params : FeatureParams
        ``kind='mfcc'``: ``params.height`` MFCCs from an ``n_mels``-band mel spectrogram (librosa defaults:
        power spectrogram, dB scaling, orthonormal DCT-II). ``kind='logmel'``: ``params.height`` mel bands,
        power in dB relative to 1.0 (``10 log10``, floor 1e-10, no top clipping).

    Returns
    -------
    features : ndarray, shape (n_windows, params.height, params.n_frames), float32
        (64, 235) per window with the default parameters; a 1-D input gives one matrix of shape
        (params.height, params.n_frames).
    """
    import librosa
    import scipy.fft

    y = np.asarray(segments, dtype=np.float32)
    single = y.ndim == 1
    y = np.atleast_2d(y)
    if y.shape[-1] != params.segment_samples:
        raise ValueError(f"windows must have {params.segment_samples} samples, got {y.shape[-1]}")
    common = dict(sr=params.sample_rate, n_fft=params.n_fft, hop_length=params.hop_length)
    if params.kind == "mfcc":
        # librosa.feature.mfcc on a batch takes power_to_db's top_db=80 floor from the maximum of the whole
        # batch, so a quiet window's MFCCs would depend on the windows extracted with it; floor each window
        # against its own maximum instead, which equals librosa.feature.mfcc called on the window alone
        mel = librosa.feature.melspectrogram(y=y, n_mels=params.n_mels, **common)
        db = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None)
        db = np.maximum(db, db.max(axis=(-2, -1), keepdims=True) - 80.0)
        out = scipy.fft.dct(db, axis=-2, type=2, norm="ortho")[..., :params.height, :]
    else:
        mel = librosa.feature.melspectrogram(y=y, n_mels=params.height, **common)
        out = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None)
    out = out.astype(np.float32, copy=False)
    return out[0] if single else out


def file_segments(path, params: FeatureParams = FeatureParams(), max_segments: int | None = None):
    """Decode a file and return the features of its consecutive 5-s windows.

    This is the path every whole file takes (test tracks, new data, ``genre-utils predict``).

    Parameters
    ----------
    path : path-like
        Any audio file :func:`genre_utils.audio.load_audio` reads.
    params : FeatureParams
    max_segments : int, optional
        Keep only the first windows (6 for the paper's 30-s majority vote).

    Returns
    -------
    features : ndarray, shape (n_windows, params.height, params.n_frames), float32
    starts : ndarray of int64, shape (n_windows,)
        Start of each window in samples at ``params.sample_rate``.

    Raises
    ------
    genre_utils.audio.AudioError
        Unreadable, empty, silent or shorter than 90 % of one window.
    """
    y = load_audio(path, params.sample_rate)
    check_audio(y, min_samples=int(0.9 * params.segment_samples))
    starts = segment_starts(y.size, params.segment_samples, max_segments)
    return extract(cut_segments(y, starts, params.segment_samples), params), starts
