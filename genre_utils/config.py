"""One configuration object for every profile, shared by the CLI, the notebooks and the tests.

Three profiles exist:

``tiny``
    For the test suite: a handful of short synthetic clips, a few hundred training windows, seconds of work.
``quick``
    The default of ``make book``: the synthetic corpus at a size that builds end to end in minutes on two
    CPU cores.
``paper``
    The paper's sizes (100,000 balanced training windows, 10,000 validation windows, 15 epochs, batch 200,
    Adam with lr 2e-5 and weight decay 0.005), meant for the real GTZAN/FMA data and a GPU.

Every derived size lives here, so a notebook never re-derives a number the package already knows.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

__all__ = ["FeatureParams", "Profile", "PROFILES", "SCHEDULES", "check_schedule", "get_profile", "num_threads", "fingerprint"]

#: Learning-rate schedules a profile may name (:func:`genre_utils.train.learning_rate`).
SCHEDULES = ("constant", "onecycle")


def check_schedule(schedule: str) -> str:
    """``schedule`` if it is one of :data:`SCHEDULES`; otherwise a ValueError naming the choices."""
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, not {schedule!r}")
    return schedule


@dataclass(frozen=True)
class FeatureParams:
    """Audio and feature parameters shared by dataset building, training and prediction.

    The defaults make the paper's CRNN see exactly the GRU input size it states (256 x 1 x 12 = 3072):
    a 5-s window at 22,050 Hz is 110,250 samples; with ``hop_length=470`` and centred frames librosa
    returns ``1 + 110250 // 470 = 235`` frames. Four blocks of [conv without padding, 2x2 max-pool] with
    kernels 5, 5, 3, 3 map the 64 x 235 input to 256 x 1 x 12 (height 64->60->30->26->13->11->5->3->1,
    width 235->231->115->111->55->53->26->24->12). Any hop from 454 to 485 samples gives the same
    output shape; 470 is the value nearest the frame rate that a 64 x ~235 input implies.

    Attributes
    ----------
    sample_rate : int
        Target sampling rate in Hz; every file is decoded to mono and resampled to it.
    segment_seconds : float
        Length of one model input window in seconds.
    n_fft : int
        FFT size in samples (about 93 ms at 22,050 Hz).
    hop_length : int
        Hop between frames in samples (about 21.3 ms).
    n_mels : int
        Mel bands of the filter bank the MFCCs are computed from (``kind='mfcc'`` only).
    height : int
        Rows of one feature matrix: MFCC coefficients for ``'mfcc'``, mel bands for ``'logmel'``.
    kind : {'mfcc', 'logmel'}
        ``'mfcc'`` (the paper) or ``'logmel'`` (64 log-mel bands; the alternative of the ablation).
    """

    sample_rate: int = 22050
    segment_seconds: float = 5.0
    n_fft: int = 2048
    hop_length: int = 470
    n_mels: int = 128
    height: int = 64
    kind: str = "mfcc"

    def __post_init__(self):
        if self.kind not in ("mfcc", "logmel"):
            raise ValueError(f"feature kind must be 'mfcc' or 'logmel', not {self.kind!r}")

    @property
    def segment_samples(self) -> int:
        """Samples in one window (110,250 by default)."""
        return int(round(self.segment_seconds * self.sample_rate))

    @property
    def n_frames(self) -> int:
        """Frames in one window's feature matrix (235 by default; librosa centres frames)."""
        return 1 + self.segment_samples // self.hop_length

    @property
    def shape(self) -> tuple[int, int]:
        """Shape ``(height, n_frames)`` of one window's features, (64, 235) by default."""
        return (self.height, self.n_frames)


@dataclass(frozen=True)
class Profile:
    """Sizes and hyperparameters of one build profile.

    Attributes
    ----------
    name : str
        Profile name (``tiny``, ``quick`` or ``paper``).
    seed : int
        Seed of every random choice (corpus, splits, window offsets, weight init, batch order).
    synth_tracks_per_genre : int
        Synthetic GTZAN-layout clips per genre.
    synth_fma_tracks : int
        Synthetic FMA-layout tracks in all (unbalanced, including genres outside the 10).
    synth_newdata_per_genre : int
        Synthetic "new data" clips per genre (paper section 9), used only for evaluation.
    clip_seconds : float
        Length of the synthetic clips (the real datasets' clips are 30 s).
    split_fractions : tuple of float
        Train/valid/test fractions of the track-level split.
    n_train, n_valid : int
        Balanced numbers of 5-s training and validation windows (paper: 100,000 and 10,000).
    test_segments_per_track : int
        Non-overlapping 5-s test segments per track (6 for a 30-s clip).
    epochs, batch_size, lr, weight_decay, dropout : training hyperparameters
        Paper: 15, 200, 2e-5, 0.005; dropout is not stated in the paper.
    schedule : {'constant', 'onecycle'}
        Learning-rate schedule (:func:`genre_utils.train.learning_rate`); ``lr`` is its peak. The paper
        trains at a constant rate.
    window_norm : bool
        Standardise every window around its own mean (cepstral mean normalisation,
        :class:`genre_utils.models.Standardize`) instead of around the training set's mean; the CRNN
        only (the baseline keeps the global standardisation). Not in the paper.
    batchnorm : bool
        Batch normalisation in each of the CRNN's conv blocks (after the pool). Not in the paper.

    features : FeatureParams
        Audio and feature parameters.

    Notes
    -----
    The paper's recipe (constant rate, no batch normalisation, global standardisation) needs many more
    optimiser steps than the ``quick`` budget allows: measured on the quick synthetic corpus, 5 epochs of
    it leave the CRNN at 40-50 % track accuracy with training accuracy no higher, i.e. still fitting.
    ``quick`` and ``tiny`` therefore train with a one-cycle schedule, batch normalisation and per-window
    standardisation (the book's deviation table lists each); ``paper`` keeps the paper's recipe.
    """

    name: str
    seed: int = 0
    synth_tracks_per_genre: int = 20
    synth_fma_tracks: int = 120
    synth_newdata_per_genre: int = 4
    clip_seconds: float = 30.0
    split_fractions: tuple[float, float, float] = (0.70, 0.15, 0.15)
    n_train: int = 2000
    n_valid: int = 400
    test_segments_per_track: int = 6
    epochs: int = 6
    batch_size: int = 50
    lr: float = 1e-3
    weight_decay: float = 0.005
    dropout: float = 0.3
    schedule: str = "constant"
    window_norm: bool = False
    batchnorm: bool = False
    features: FeatureParams = field(default_factory=FeatureParams)

    def __post_init__(self):
        check_schedule(self.schedule)

    def replace(self, **changes) -> "Profile":
        """Return a copy with some fields changed (``features`` accepts a dict of FeatureParams fields)."""
        feats = changes.pop("features", None)
        if isinstance(feats, dict):
            changes["features"] = dataclasses.replace(self.features, **feats)
        elif feats is not None:
            changes["features"] = feats
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Plain-JSON form of the profile (for results and fingerprints)."""
        return dataclasses.asdict(self)


PROFILES: dict[str, Profile] = {
    "tiny": Profile(
        name="tiny",
        synth_tracks_per_genre=4,
        synth_fma_tracks=24,
        synth_newdata_per_genre=1,
        clip_seconds=10.0,
        n_train=200,
        n_valid=60,
        test_segments_per_track=2,
        epochs=2,
        batch_size=25,
        lr=3e-3,
        schedule="onecycle",
        window_norm=True,
        batchnorm=True,
    ),
    "quick": Profile(name="quick", epochs=5, lr=3e-3, schedule="onecycle", window_norm=True, batchnorm=True),
    "paper": Profile(
        name="paper",
        synth_tracks_per_genre=100,
        synth_fma_tracks=900,
        synth_newdata_per_genre=10,
        n_train=100_000,
        n_valid=10_000,
        epochs=15,
        batch_size=200,
        lr=2e-5,
        weight_decay=0.005,
        dropout=0.3,
    ),
}


def get_profile(name: str | Profile) -> Profile:
    """Look a profile up by name (a :class:`Profile` passes through unchanged)."""
    if isinstance(name, Profile):
        return name
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}") from None


def num_threads() -> int:
    """Worker count: the cores this process may use, at least 1.

    joblib's count (kept by scikit-learn, already installed) honours the CPU affinity mask *and* a
    container's CPU quota (cgroup v1/v2 CFS limits), which ``os.cpu_count`` and ``sched_getaffinity`` do
    not: a container limited to 2 CPUs on a 64-core host gets 2 workers, not 64.
    """
    import joblib

    return max(1, int(joblib.cpu_count(only_physical_cores=False)))


def fingerprint(*parts) -> str:
    """Short, stable SHA-256 fingerprint of JSON-serialisable parts (dataclasses are expanded)."""
    def default(o):
        if dataclasses.is_dataclass(o):
            return dataclasses.asdict(o)
        return str(o)

    blob = json.dumps(parts, sort_keys=True, default=default).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
