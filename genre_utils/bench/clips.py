"""Test clips of the benchmarks: rendered by the synthetic corpus's composer, or plain tones."""
from pathlib import Path

import numpy as np

from ..genres import GENRES
from .common import bench_log


# ------------------------------------------------------------------------------------------ 1. clips
def _tone_clip(rng: np.random.Generator, n_samples: int, sample_rate: int) -> np.ndarray:
    """Pink-ish noise plus three sine tones with a slow tremolo, peak 0.5."""
    t = np.arange(n_samples) / sample_rate
    y = 0.05 * np.cumsum(rng.standard_normal(n_samples)) / np.sqrt(n_samples)
    y += 0.02 * rng.standard_normal(n_samples)
    for freq in rng.uniform(80, 2000, 3):
        y += 0.2 * np.sin(2 * np.pi * freq * t) * (0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.2, 3) * t))
    return (0.5 * y / np.max(np.abs(y))).astype(np.float32)


def _synth_clip(index: int, seed: int, seconds: float, sample_rate: int) -> np.ndarray:
    # deferred: slow to import, loaded for this measurement only
    from .. import synth

    genre = GENRES[index % len(GENRES)]
    midi = synth.compose(genre, seed + index, seconds)
    return synth.render(midi, seconds, sample_rate=sample_rate, seed=seed + index)


def make_clips(n: int, seconds: float = 30.0, sample_rate: int = 22050, seed: int = 0,
               source: str = "synth") -> tuple[np.ndarray, str]:
    """Deterministic test clips.

    Parameters
    ----------
    n : int
        Number of clips.
    seconds : float
        Length of each clip.
    sample_rate : int
    seed : int
    source : {'synth', 'tones'}
        ``'synth'`` composes and renders music of the ten genres in turn with :mod:`genre_utils.synth`; if
        that fails (module missing or broken) the clips fall back to ``'tones'``.

    Returns
    -------
    clips : ndarray, shape (n, round(seconds * sample_rate)), float32
    source : str
        What produced the clips (``'synth'`` or ``'tones'``).
    """
    n_samples = int(round(seconds * sample_rate))
    if source == "synth":
        try:
            from tqdm.auto import tqdm

            clips = [_synth_clip(i, seed, seconds, sample_rate)[:n_samples]
                     for i in tqdm(range(n), desc="rendering clips", unit="clip", disable=None, leave=False)]
            return np.stack(clips), "synth"
        except Exception as err:  # the synthetic corpus is another module's job: fall back, say so
            bench_log(f"synth clips unavailable ({type(err).__name__}: {err}); using noise + tones")
    rng = np.random.default_rng(seed)
    return np.stack([_tone_clip(rng, n_samples, sample_rate) for _ in range(n)]), "tones"


def write_wavs(clips: np.ndarray, sample_rate: int, folder: Path) -> list[Path]:
    # deferred: slow to import, loaded for this measurement only
    from ..audio import write_wav

    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"clip{i:03d}.wav" for i in range(len(clips))]
    for path, clip in zip(paths, clips):
        write_wav(path, clip, sample_rate)
    return paths
