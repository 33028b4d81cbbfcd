"""Decoding, checking, cutting and writing audio.

Everything here works on 1-D ``float32`` arrays of mono samples in [-1, 1]. Decoding goes through
libsndfile (``soundfile``: wav, au, flac, ogg, mp3) and falls back to ``librosa``/``audioread`` for
anything libsndfile cannot open. Bad files raise :class:`AudioError` with a short, human-readable reason
that callers record (in ``skipped.csv``, or in ``genre-utils predict``'s error line).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .provenance import atomic_write_bytes

__all__ = [
    "AUDIO_EXTENSIONS",
    "AudioError",
    "load_audio",
    "check_audio",
    "segment_starts",
    "cut_segments",
    "write_wav",
    "write_mp3",
]

#: File name endings the loaders treat as audio.
AUDIO_EXTENSIONS = (".wav", ".au", ".mp3", ".flac", ".ogg")

#: Peak amplitude below which a file counts as silent (about -80 dBFS).
SILENCE_PEAK = 1e-4


class AudioError(ValueError):
    """A file that cannot serve as audio input; ``str(err)`` is the reason to record."""


def load_audio(path, sample_rate: int = 22050) -> np.ndarray:
    """Decode a file to mono ``float32`` at ``sample_rate`` Hz.

    Parameters
    ----------
    path : path-like
        Audio file (wav, au, mp3, flac, ogg; any channel count and sampling rate).
    sample_rate : int
        Output rate in Hz; resampling uses soxr (librosa's default, high quality).

    Returns
    -------
    y : ndarray, shape (n_samples,), float32

    Raises
    ------
    AudioError
        Missing, empty or undecodable file.
    """
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise AudioError("file not found")
    if path.stat().st_size == 0:
        raise AudioError("empty file (0 bytes)")
    try:
        # an open file object, not the path: given a path, libsndfile also opens a macOS "._name" twin
        # beside the file as a resource fork and then rejects perfectly good mp3s
        with open(path, "rb") as fh:
            data, sr = sf.read(fh, dtype="float32", always_2d=True)
        y = data.mean(axis=1)
    except Exception as first:  # libsndfile could not open it: try audioread through librosa
        try:
            import warnings

            import librosa

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                y, sr = librosa.load(path, sr=None, mono=True)
        except Exception:
            raise AudioError(f"unreadable audio ({_short(first)})") from None
    if sr != sample_rate and y.size:
        import librosa

        y = librosa.resample(y, orig_sr=sr, target_sr=sample_rate)
    return np.ascontiguousarray(y, dtype=np.float32)


def _short(err: Exception) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text[:160]


def check_audio(y: np.ndarray, min_samples: int) -> None:
    """Raise :class:`AudioError` if ``y`` is empty, silent, non-finite or shorter than ``min_samples``."""
    if y.size == 0:
        raise AudioError("no audio samples")
    if not np.all(np.isfinite(y)):
        raise AudioError("non-finite samples (NaN or inf)")
    if float(np.max(np.abs(y))) < SILENCE_PEAK:
        raise AudioError("silent (peak below -80 dBFS)")
    if y.size < min_samples:
        raise AudioError(f"too short: {y.size} samples, one segment needs {min_samples}")


def segment_starts(n_samples: int, segment_samples: int, max_segments: int | None = None,
                   min_fill: float = 0.9) -> np.ndarray:
    """Start samples of consecutive non-overlapping windows over a signal.

    A last partial window is kept (and zero-padded by :func:`cut_segments`) when it holds at least
    ``min_fill`` of a window: real "30-s" clips are often a few milliseconds short of 30 s, and six full
    5-s windows would otherwise not fit.

    Parameters
    ----------
    n_samples : int
        Signal length in samples.
    segment_samples : int
        Window length in samples.
    max_segments : int, optional
        Keep at most this many windows (from the start).
    min_fill : float
        Smallest fraction of a window a final partial window must fill.

    Returns
    -------
    starts : ndarray of int64, shape (n_windows,)
    """
    full, rest = divmod(int(n_samples), int(segment_samples))
    n = full + (1 if rest >= min_fill * segment_samples else 0)
    if max_segments is not None:
        n = min(n, int(max_segments))
    return np.arange(n, dtype=np.int64) * int(segment_samples)


def cut_segments(y: np.ndarray, starts, segment_samples: int) -> np.ndarray:
    """Windows of ``segment_samples`` beginning at ``starts``, zero-padded past the end of ``y``.

    Returns
    -------
    segments : ndarray, shape (len(starts), segment_samples), float32
    """
    starts = np.asarray(starts, dtype=np.int64)
    out = np.zeros((len(starts), segment_samples), dtype=np.float32)
    for i, s in enumerate(starts):
        chunk = y[s:s + segment_samples]
        out[i, :chunk.size] = chunk
    return out


def _pcm16(y: np.ndarray) -> np.ndarray:
    return (np.clip(np.asarray(y, dtype=np.float32), -1.0, 1.0) * 32767.0).round().astype("<i2")


def write_wav(path, y: np.ndarray, sample_rate: int) -> None:
    """Write mono (shape ``(n,)``) or multichannel (shape ``(n, channels)``) audio as 16-bit PCM WAV, atomically."""
    import io

    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, _pcm16(y), sample_rate, format="WAV", subtype="PCM_16")
    atomic_write_bytes(path, buf.getvalue())


def write_mp3(path, y: np.ndarray, sample_rate: int, bitrate_kbps: int = 64) -> None:
    """Encode mono (shape ``(n,)``) or stereo (shape ``(n, 2)``) audio as MP3 with LAME, atomically.

    LAME output is deterministic for the same samples and settings, so corpora stay byte-identical.
    """
    import lameenc

    pcm = _pcm16(y)
    channels = 1 if pcm.ndim == 1 else pcm.shape[1]
    enc = lameenc.Encoder()
    enc.set_bit_rate(int(bitrate_kbps))
    enc.set_in_sample_rate(int(sample_rate))
    enc.set_channels(channels)
    enc.set_quality(5)
    atomic_write_bytes(path, bytes(enc.encode(np.ascontiguousarray(pcm).tobytes()) + enc.flush()))
