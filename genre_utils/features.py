"""Feature extraction: MFCC (the paper) or log-mel (the alternative), one parameter set for all uses.

Dataset building, training, evaluation and ``genre-utils predict`` all call :func:`extract` with the same
:class:`~genre_utils.config.FeatureParams`, so a model never sees features computed differently from the
ones it was trained on.

The numbers are librosa's (``librosa.feature.mfcc`` and ``librosa.feature.melspectrogram`` followed by
``librosa.power_to_db``, called on one window); the arithmetic runs in torch, ``CHUNK_WINDOWS`` windows
at a time (so that their intermediates stay in the CPU cache):

1. power spectrogram: ``torch.stft`` with a periodic Hann window, centred frames padded with zeros
   (librosa 0.11's ``pad_mode='constant'``), ``|X|^2``;
2. mel power: librosa's Slaney-normalised filter bank as a matrix product, cut into blocks of adjacent
   filters so that each block only multiplies the FFT bins it covers (the bank is almost all zeros);
3. decibels: ``10 log10(max(power, 1e-10))``;
4. MFCCs only: each window floored at its own maximum minus 80 dB (librosa's ``top_db``), then an
   orthonormal DCT-II as a matrix product, keeping the first ``height`` coefficients.

librosa computes the STFT in float64 and this module in float32, so the two differ by rounding: on music
about 1e-3 dB at most (``tests/test_features.py`` checks single windows, quiet ones and silence included;
the benchmark checks whole clips). Only log-mel bands more than about 100 dB below their frame's loudest
FFT bin, which a pure synthetic tone has and recorded audio does not, reach the float32 FFT's rounding
floor and can differ by a few tenths of a dB; MFCCs never keep such bands (80-dB floor).

Why not torchaudio's ``MFCC`` transform, which does the same in torch: its decibel floor (``top_db``) is
taken over the whole batch, not per window, so a window's MFCCs would depend on the other windows it is
batched with (the bug this module once had); it would also add a dependency that must match torch's
version exactly. librosa itself (float64, one window per call) is 3-4x slower through the store.

The filter bank, window and DCT matrix are built once per parameter set and kept (a process forked after
the first call inherits them). :func:`extract` computes in one thread whatever ``torch.set_num_threads``
says (the work per call is too small to share; see :func:`one_torch_thread`) and restores the setting.
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import lru_cache

import numpy as np

from .audio import check_audio, cut_segments, load_audio, segment_starts
from .config import FeatureParams

__all__ = ["extract", "torch_features", "file_segments", "one_torch_thread", "mfcc_steps"]

AMIN = 1e-10        # power floor before the logarithm (librosa's amin)
TOP_DB = 80.0       # MFCCs: dynamic range kept below each window's maximum (librosa's top_db)
MEL_BLOCK = 16      # adjacent mel filters per block of the filter-bank product (measured fastest for 128 bands)
CHUNK_WINDOWS = 2   # windows computed together: their ~4 MB of intermediates stay in cache (measured faster)


def extract(segments: np.ndarray, params: FeatureParams = FeatureParams()) -> np.ndarray:
    """Feature matrices of a batch of equal-length audio windows.

    Every window's features depend on that window alone: extracting it in a batch or by itself gives the
    same matrix (up to float rounding).

    Parameters
    ----------
    segments : ndarray, shape (n_windows, params.segment_samples) or (params.segment_samples,)
        Mono audio at ``params.sample_rate`` Hz.
    params : FeatureParams
        ``kind='mfcc'``: ``params.height`` MFCCs from an ``n_mels``-band mel spectrogram, as
        ``librosa.feature.mfcc`` computes them for one window (power spectrogram, dB relative to 1.0,
        floored 80 dB below the window's maximum, orthonormal DCT-II). ``kind='logmel'``: ``params.height``
        mel bands, power in dB relative to 1.0 (``10 log10``, floor 1e-10, no top clipping), as
        ``librosa.power_to_db(librosa.feature.melspectrogram(...), top_db=None)``.

    Returns
    -------
    features : ndarray, shape (n_windows, params.height, params.n_frames), float32
        (64, 235) per window with the default parameters; a 1-D input gives one matrix of shape
        (params.height, params.n_frames). Finite for any finite input, silence included.

    Raises
    ------
    ValueError
        Windows of another length than ``params.segment_samples``.
    """
    import torch

    y = np.asarray(segments, dtype=np.float32)
    if y.shape[-1:] != (params.segment_samples,):
        raise ValueError(f"windows must have {params.segment_samples} samples, got shape {y.shape}")
    lead = y.shape[:-1]
    y = np.require(y.reshape(-1, params.segment_samples), requirements=("C", "W"))
    out = np.empty((len(y), *params.shape), np.float32)
    with torch.inference_mode(), one_torch_thread():
        for first in range(0, len(y), CHUNK_WINDOWS):
            chunk = torch.from_numpy(y[first:first + CHUNK_WINDOWS])
            out[first:first + len(chunk)] = torch_features(chunk, params).transpose(-1, -2).numpy()
    return out.reshape(*lead, *params.shape)


def torch_features(y, params: FeatureParams):
    """:func:`extract` on a few windows in torch.

    Parameters
    ----------
    y : torch.Tensor, shape (n_windows, params.segment_samples), float32

    Returns
    -------
    features : torch.Tensor, shape (n_windows, params.n_frames, params.height), float32 (frames first)
    """
    import torch

    n_mels = params.n_mels if params.kind == "mfcc" else params.height
    power = _power_spectrogram(y, params.n_fft, params.hop_length)
    db = _decibels(_mel_power(power, params.sample_rate, params.n_fft, n_mels))
    if params.kind == "logmel":
        return db
    # the floor is per window: librosa.feature.mfcc on a batch takes it from the whole batch's maximum, so a
    # quiet window's MFCCs would depend on the windows extracted with it
    floor = db.amax(dim=(-2, -1), keepdim=True) - TOP_DB
    return torch.maximum(db, floor) @ _dct_matrix(n_mels, params.height)


def mfcc_steps(window: np.ndarray, params: FeatureParams = FeatureParams()) -> dict[str, np.ndarray]:
    """Every stage of :func:`extract` for one window, in order, for looking at (the same calls, kept apart).

    Parameters
    ----------
    window : ndarray, shape (params.segment_samples,)
        Mono audio at ``params.sample_rate`` Hz.
    params : FeatureParams
        MFCC parameters (``kind`` is ignored: the steps are the MFCC's).

    Returns
    -------
    steps : dict of ndarray, frequency (or coefficient) first, frames second, float32
        ``power`` (1 + n_fft // 2, n_frames): ``|STFT|^2`` of Hann-windowed frames;
        ``filters`` (n_mels, 1 + n_fft // 2): the mel filter bank, triangles on the mel scale;
        ``mel`` (n_mels, n_frames): ``filters @ power``, the power in each mel band;
        ``decibels`` (n_mels, n_frames): ``10 log10`` of it, floored 80 dB below the window's loudest value;
        ``mfcc`` (height, n_frames): the first ``height`` coefficients of a DCT-II of each frame's decibels,
        equal to ``extract(window, params)``.
    """
    import torch

    y = np.asarray(window, dtype=np.float32)
    if y.shape != (params.segment_samples,):
        raise ValueError(f"one window of {params.segment_samples} samples is needed, got shape {y.shape}")
    blocks = _mel_blocks(params.sample_rate, params.n_fft, params.n_mels)
    filters = np.zeros((params.n_mels, 1 + params.n_fft // 2), np.float32)
    first = 0
    for bins, weights in blocks:
        filters[first:first + weights.shape[1], bins] = weights.numpy().T
        first += weights.shape[1]
    with torch.inference_mode(), one_torch_thread():
        power = _power_spectrogram(torch.from_numpy(y)[None], params.n_fft, params.hop_length)
        mel = _mel_power(power, params.sample_rate, params.n_fft, params.n_mels)
        db = _decibels(mel.clone())
        floored = torch.maximum(db, db.amax(dim=(-2, -1), keepdim=True) - TOP_DB)
        mfcc = floored @ _dct_matrix(params.n_mels, params.height)
    return {"power": power[0].T.numpy().copy(), "filters": filters, "mel": mel[0].T.numpy().copy(),
            "decibels": floored[0].T.numpy().copy(), "mfcc": mfcc[0].T.numpy().copy()}


@contextmanager
def one_torch_thread():
    """Run torch single-threaded inside the block, then restore the caller's thread count.

    A chunk of windows is a few milliseconds of work split over some twenty operations, each ending in a
    wait for every thread. On an idle 2-core machine two threads were 1.9 times faster than one (5.2 vs
    9.9 ms per 30-s clip); while another process kept the cores busy they were 13 to 75 times slower (a
    descheduled thread stalls every operation). One thread is the robust choice; parallelism pays across
    files instead (worker processes, :func:`genre_utils.store.extract_tracks`).
    """
    import torch

    before = torch.get_num_threads()
    if before != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if before != 1:
            torch.set_num_threads(before)


def _power_spectrogram(y, n_fft: int, hop_length: int):
    """``|STFT|^2`` of each window, frames first.

    Parameters
    ----------
    y : torch.Tensor, shape (n_windows, n_samples), float32
    n_fft, hop_length : int

    Returns
    -------
    power : torch.Tensor, shape (n_windows, 1 + n_samples // hop_length, 1 + n_fft // 2), float32
    """
    import torch

    spec = torch.stft(y, n_fft, hop_length, window=_window(n_fft), center=True, pad_mode="constant",
                      return_complex=True)
    parts = torch.view_as_real(spec.transpose(-1, -2))       # (n, frames, bins, [re, im]), contiguous
    power = parts[..., 0].square()
    return power.addcmul_(parts[..., 1], parts[..., 1])


def _mel_power(power, sample_rate: int, n_fft: int, n_mels: int):
    """Mel-band power: ``power @ weights.T`` with librosa's filter bank, one block of filters at a time.

    Parameters
    ----------
    power : torch.Tensor, shape (..., n_frames, 1 + n_fft // 2)

    Returns
    -------
    mel : torch.Tensor, shape (..., n_frames, n_mels)
    """
    import torch

    return torch.cat([power[..., bins] @ weights for bins, weights in _mel_blocks(sample_rate, n_fft, n_mels)],
                     dim=-1)


def _decibels(power):
    """``10 log10(max(power, AMIN))``, in place."""
    return power.clamp_(min=AMIN).log10_().mul_(10.0)


@lru_cache(maxsize=4)
def _window(n_fft: int):
    """librosa's analysis window: periodic Hann of ``n_fft`` samples (computed in float64, stored as float32)."""
    import librosa
    import torch

    return torch.from_numpy(librosa.filters.get_window("hann", n_fft, fftbins=True).astype(np.float32))


@lru_cache(maxsize=8)
def _mel_blocks(sample_rate: int, n_fft: int, n_mels: int) -> tuple:
    """librosa's mel filter bank (Slaney scale and area normalisation) cut into blocks of adjacent filters.

    A mel filter is a triangle over a few FFT bins, so the (n_mels, 1 + n_fft // 2) bank is mostly zeros.
    Blocks of ``MEL_BLOCK`` adjacent filters together cover a contiguous range of bins; multiplying only
    that range skips the zeros (for 128 bands and 1025 bins, 13 % of the dense product's work).

    Returns
    -------
    blocks : tuple of (slice, torch.Tensor of shape (bins in the slice, filters in the block))
        The FFT bins a block covers and the block's weights, transposed.
    """
    import librosa
    import torch

    bank = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, norm="slaney")
    blocks = []
    for first in range(0, n_mels, MEL_BLOCK):
        filters = bank[first:first + MEL_BLOCK]
        used = np.flatnonzero(filters.any(axis=0))
        bins = slice(int(used[0]), int(used[-1]) + 1) if used.size else slice(0, 0)
        blocks.append((bins, torch.from_numpy(np.ascontiguousarray(filters[:, bins].T, dtype=np.float32))))
    return tuple(blocks)


@lru_cache(maxsize=4)
def _dct_matrix(n_mels: int, n_coefficients: int):
    """Orthonormal DCT-II as a matrix: ``db @ matrix`` gives the first ``n_coefficients`` of each row of ``db``.

    Returns
    -------
    matrix : torch.Tensor, shape (n_mels, n_coefficients), float32
        Column ``k`` is ``sqrt((1 if k == 0 else 2) / n_mels) * cos(pi * k * (2 m + 1) / (2 n_mels))`` over
        ``m``, the basis ``scipy.fft.dct(..., type=2, norm='ortho')`` (librosa's MFCC) uses.
    """
    import torch

    m = np.arange(n_mels)[:, None]
    k = np.arange(n_coefficients)[None, :]
    basis = np.sqrt(2.0 / n_mels) * np.cos(np.pi * k * (2 * m + 1) / (2 * n_mels))
    basis[:, 0] = np.sqrt(1.0 / n_mels)
    return torch.from_numpy(basis.astype(np.float32))


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
