"""Rendering and mastering: General MIDI to a finished, post-processed clip (:func:`render`).

:func:`synthesize` plays the MIDI with the ``midirenderer`` wheel (a self-contained Rust SoundFont
synthesizer) and the ``TimGM6mb.sf2`` bank that ships inside ``pretty_midi``; :func:`render` resamples,
cuts and runs the per-track production (:func:`post_process`: EQ, saturation, reverb, loudness, background
noise, a soft limiter).
"""

from __future__ import annotations

import hashlib
import io
import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..provenance import library_version
from .seeding import pick, seeded_rng

__all__ = ["synthesize", "render", "Production", "PRODUCTION", "post_process", "soundfont_bytes", "soundfont_name",
           "corpus_tools"]


@lru_cache(maxsize=1)
def soundfont_bytes() -> bytes:
    """The bytes of the General MIDI bank every clip is rendered with (``TimGM6mb.sf2`` inside pretty_midi)."""
    import pretty_midi

    return (Path(pretty_midi.__file__).parent / "TimGM6mb.sf2").read_bytes()


def synthesize(midi) -> tuple[np.ndarray, int]:
    """Render General MIDI with ``midirenderer`` and the TimGM6mb bank.

    Returns
    -------
    y : ndarray, shape (n_samples,), float32
        Mono mix (mean of the renderer's two channels).
    sample_rate : int
        The renderer's rate (48,000 Hz).
    """
    import midirenderer
    import soundfile as sf

    buf = io.BytesIO()
    midi.write(buf)
    if not any(inst.notes for inst in midi.instruments):
        return np.zeros(0, dtype=np.float32), 48000
    data, sr = sf.read(io.BytesIO(midirenderer.render_wave_from(soundfont_bytes(), buf.getvalue())),
                       dtype="float32", always_2d=True)
    return data.mean(axis=1), int(sr)


def render(midi, seconds: float, sample_rate: int = 22050, seed: int = 0, shift: bool = False) -> np.ndarray:
    """Synthesize, resample, cut and post-process one clip.

    Parameters
    ----------
    midi : pretty_midi.PrettyMIDI
    seconds : float
        Output length; the audio is cut or zero-padded to exactly ``round(seconds * sample_rate)`` samples.
    sample_rate : int
        Output rate in Hz (resampled from the renderer's 48 kHz with soxr, high quality).
    seed : int
        Seed of the post-processing (EQ, saturation, reverb, noise, loudness).
    shift : bool
        "New data" processing (:data:`PRODUCTION`): harsher band limits, more saturation and reverb,
        more background noise, a wider loudness range.

    Returns
    -------
    y : ndarray, shape (round(seconds * sample_rate),), float32
        Peak below 1 (soft-limited), loudness set to a random target RMS.
    """
    import soxr

    y, sr = synthesize(midi)
    if y.size and sr != sample_rate:
        y = soxr.resample(y, sr, sample_rate, quality="HQ")
    n = int(round(seconds * sample_rate))
    y = np.pad(y[:n], (0, max(0, n - y.size))).astype(np.float64)
    rng = seeded_rng("render", int(seed), bool(shift))
    return post_process(y, sample_rate, rng, shift).astype(np.float32)


@dataclass(frozen=True)
class Production:
    """Ranges of the per-track post-processing ("production") drawn in :func:`post_process`.

    Genre-independent on purpose: it varies the spectral envelope (which a mean over frames sees) without
    touching rhythm (which it does not).
    """

    highpass: tuple = (25.0, 100.0)      # Hz, log-uniform
    lowpass: tuple = (6000.0, 10500.0)   # Hz, log-uniform (capped at 0.45 * sr)
    tilt: tuple = (-0.2, 0.3)            # gain of a >1.5 kHz copy added back (treble cut/boost)
    saturation: float = 0.1              # probability of tanh saturation
    reverb: float = 0.3                  # probability of convolution reverb
    reverb_mix: tuple = (0.05, 0.25)
    loudness_db: tuple = (-21.0, -16.0)  # target RMS in dBFS (a random gain per track)
    snr_db: tuple = (28.0, 45.0)         # signal-to-noise ratio of the added background noise


#: Production of the training corpus (GTZAN and FMA trees) and of the shifted "new data".
PRODUCTION = {
    False: Production(),
    True: Production(highpass=(50.0, 250.0), lowpass=(3500.0, 9000.0), tilt=(-0.4, 0.6), saturation=0.3,
                     reverb=0.5, reverb_mix=(0.1, 0.4), loudness_db=(-28.0, -12.0), snr_db=(15.0, 30.0)),
}


def post_process(y: np.ndarray, sr: int, rng: np.random.Generator, shift: bool = False) -> np.ndarray:
    """The per-track production: EQ, saturation, reverb, loudness, background noise, soft limiter.

    Parameters
    ----------
    y : ndarray, shape (n_samples,), float64
    sr : int
        Sampling rate in Hz.
    rng : numpy.random.Generator
    shift : bool
        Use the "new data" ranges of :data:`PRODUCTION`.

    Returns
    -------
    ndarray, shape (n_samples,), float64
        Peak at most 0.98; an all-zero input is returned unchanged.
    """
    if not np.any(y):
        return y
    prod = PRODUCTION[bool(shift)]
    y = _equalise(y, sr, rng, prod)
    if rng.random() < prod.saturation:
        y = _saturate(y, rng)
    if rng.random() < prod.reverb:
        y = _reverb(y, sr, rng, prod.reverb_mix)
    y = y * (10 ** (rng.uniform(*prod.loudness_db) / 20) / _rms(y))
    snr_db = rng.uniform(*prod.snr_db)
    y = y + _noise(y.size, sr, rng) * (_rms(y) / 10 ** (snr_db / 20))
    return _limit(y)


def _rms(y: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(y)))) + 1e-12


def _loguniform(rng, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _equalise(y, sr, rng, prod: Production):
    """Random band limits (a high-pass and a low-pass) and a spectral tilt around 1.5 kHz."""
    from scipy.signal import butter, sosfilt

    low = _loguniform(rng, *prod.highpass)
    high = min(_loguniform(rng, *prod.lowpass), 0.45 * sr)
    y = sosfilt(butter(2, [low, high], btype="bandpass", fs=sr, output="sos"), y)
    tilt = rng.uniform(*prod.tilt)
    return y + tilt * sosfilt(butter(1, 1500, btype="highpass", fs=sr, output="sos"), y)


def _saturate(y, rng):
    drive = rng.uniform(1.5, 4.0)
    peak = np.max(np.abs(y)) + 1e-12
    return np.tanh(drive * y / peak) / np.tanh(drive) * peak


def _reverb(y, sr, rng, mix):
    """Convolution with exponentially decaying noise (RT60 0.3-1.8 s, 10 ms pre-delay)."""
    from scipy.signal import fftconvolve

    rt60 = rng.uniform(0.3, 1.8)
    t = np.arange(int(min(rt60, 1.2) * sr)) / sr
    ir = rng.standard_normal(t.size) * np.exp(-6.91 * t / rt60)
    ir[: int(0.01 * sr)] = 0.0
    wet = fftconvolve(y, ir)[: y.size]
    return y + rng.uniform(*mix) * wet * (_rms(y) / _rms(wet))


def _noise(n: int, sr: int, rng) -> np.ndarray:
    """Unit-RMS background: white, pink or brown noise, sometimes with mains hum or crackle."""
    from scipy import fft

    colour = pick(rng, (0.0, 1.0, 2.0))
    m = fft.next_fast_len(n, real=True)  # shape white noise in the frequency domain, on a fast FFT size
    f = np.fft.rfftfreq(m, 1 / sr)
    f[0] = f[1]
    x = fft.irfft(fft.rfft(rng.standard_normal(m)) * (f / 1000.0) ** (-colour / 2), m)[:n]
    if rng.random() < 0.15:
        mains = pick(rng, (50.0, 60.0))
        t = np.arange(n) / sr
        x = x / _rms(x) + 2.0 * sum(np.sin(2 * np.pi * mains * h * t) / h for h in (1, 2, 3))
    if rng.random() < 0.1:
        clicks = np.zeros(n)
        where = rng.integers(0, n, size=int(n / sr * rng.uniform(2, 15)))
        clicks[where] = rng.standard_normal(where.size) * 30
        x = x / _rms(x) + clicks
    return x / _rms(x)


def _limit(y: np.ndarray, ceiling: float = 0.98) -> np.ndarray:
    peak = np.max(np.abs(y))
    if peak <= ceiling:
        return y
    knee = 0.8 * ceiling  # linear below the knee, tanh-compressed above it
    over = np.abs(y) > knee
    out = y.copy()
    out[over] = np.sign(y[over]) * (knee + (ceiling - knee) * np.tanh((np.abs(y[over]) - knee) / (ceiling - knee)))
    return out


def soundfont_name(data: bytes) -> str | None:
    """The bank name a SoundFont 2 file gives itself (``INAM`` of its ``LIST INFO`` chunk); None if absent."""

    if data[:4] != b"RIFF" or data[8:12] != b"sfbk":
        return None
    pos = 12
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        if cid == b"LIST" and data[pos + 8:pos + 12] == b"INFO":
            sub, end = pos + 12, min(pos + 8 + size, len(data))
            while sub + 8 <= end:
                sid, ssize = data[sub:sub + 4], struct.unpack("<I", data[sub + 4:sub + 8])[0]
                if sid == b"INAM":
                    return data[sub + 8:sub + 8 + ssize].split(b"\0")[0].decode("ascii", "replace").strip()
                sub += 8 + ssize + (ssize & 1)
            return None
        pos += 8 + size + (size & 1)
    return None


def corpus_tools() -> dict:
    """What renders the synthetic corpus: the versions of ``pretty_midi`` and ``midirenderer``, and the name
    (the bank's own ``INAM`` tag) and sha256 of the General MIDI SoundFont :func:`synthesize` renders with
    (read through :func:`soundfont_bytes`). Missing pieces are None."""
    out = {"pretty_midi": library_version("pretty_midi"), "midirenderer": library_version("midirenderer"),
           "soundfont": None, "soundfont_sha256": None}
    try:
        data = soundfont_bytes()
    except (ImportError, OSError):
        return out
    out["soundfont"] = soundfont_name(data)
    out["soundfont_sha256"] = hashlib.sha256(data).hexdigest()
    return out
