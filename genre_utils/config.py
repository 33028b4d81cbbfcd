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
import os
from dataclasses import dataclass, field

__all__ = ["FeatureParams", "Profile", "PROFILES", "SCHEDULES", "check_schedule", "get_profile", "num_threads",
           "THREADS_ENV", "fingerprint", "split_counts", "TEST_ONLY_LIST", "ARTISTS_LIST",
           "TrainConfig", "train_config", "resume_differences"]

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
    output shape; 470 lies near the middle of that range.

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


#: Arithmetic precisions training may run in (:attr:`TrainConfig.precision`).
PRECISIONS = ("fp32", "bf16", "fp16")

#: Number of classes the models predict (the ten GTZAN genres, :data:`genre_utils.genres.GENRES`).
N_GENRES = 10


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of one training run, in one frozen object from the profile to the checkpoint.

    Built from a :class:`Profile` by :func:`train_config`, passed to :func:`genre_utils.train.fit`, stored
    in every checkpoint as a plain dict (:meth:`to_dict`, key ``'train_config'``) and in the run's
    ``config['train']``, and compared on resume by :func:`resume_differences` (nanoGPT's ``GPTConfig`` idea:
    the settings are written down once, not copied from function to function).

    Attributes
    ----------
    model : {'crnn', 'crnn-temporal', 'baseline'}
        The model trained.
    n_classes : int
        Output classes of the model (the labels must lie in ``[0, n_classes)``).
    epochs, batch_size, lr, weight_decay, dropout : int, int, float, float, float
        Training hyperparameters; ``batch_size`` is the global batch of one optimiser step. Paper: 15, 200,
        2e-5, 0.005; dropout is not stated in the paper.
    seed : int
        Weight initialisation and batch order (a profile's training settings take the profile's seed).
    schedule : {'constant', 'onecycle'}
        Learning-rate schedule (:func:`genre_utils.train.learning_rate`); ``lr`` is its peak. The paper
        trains at a constant rate.
    window_norm : bool
        Standardise every window around its own mean (cepstral mean normalisation,
        :class:`genre_utils.models.Standardize`) instead of around the training set's mean. Not in the paper.
    batchnorm : bool
        Batch normalisation in each of the CRNN's conv blocks (after the pool). Not in the paper.
        :func:`genre_utils.experiments.build_profile_model` applies ``window_norm`` and ``batchnorm`` to the
        CRNN variants only (the baseline keeps the global standardisation).
    precision : {'fp32', 'bf16', 'fp16'}
        Arithmetic of the forward pass and loss: ``'fp32'`` (the default, and the CPU's: no autocast at all, so
        the numbers are those of plain float32), or autocast to bfloat16 / float16 (weights and Adam stay
        float32; ``'fp16'`` scales the loss, CUDA only). :func:`genre_utils.devices.default_precision` picks
        bf16 on CUDA devices that support it and on CPUs with bfloat16 units (Intel AMX, AVX512-BF16).
    """

    model: str = "crnn"
    n_classes: int = N_GENRES
    epochs: int = 6
    batch_size: int = 50
    lr: float = 1e-3
    weight_decay: float = 0.005
    dropout: float = 0.3
    seed: int = 0
    schedule: str = "constant"
    window_norm: bool = False
    batchnorm: bool = False
    precision: str = "fp32"

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be positive")
        if self.n_classes < 1:
            raise ValueError("n_classes must be positive")
        check_schedule(self.schedule)

    def replace(self, **changes) -> "TrainConfig":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Plain-JSON form (what a checkpoint stores)."""
        return {f.name: (type(f.default)(v) if isinstance(f.default, (bool, int, float, str)) else v)
                for f in dataclasses.fields(self) for v in [getattr(self, f.name)]}

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """The config a :meth:`to_dict` dict describes (a ValueError for unknown or invalid keys)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown training settings: {', '.join(unknown)}")
        return cls(**d)


#: The training settings a :class:`Profile` holds in its ``train`` (and reads through, ``profile.epochs``).
TRAIN_FIELDS = frozenset(f.name for f in dataclasses.fields(TrainConfig)) - {"seed"}


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
    test_tracks_per_genre : int
        GTZAN-layout test tracks per genre the synthetic corpus guarantees (0: none added). The split gives
        ``split_counts(synth_tracks_per_genre, split_fractions)[2]`` of the balanced clips to test; the corpus
        renders the difference (:attr:`test_only_per_genre`) as extra clips that the splitter sends to test
        only, so training and validation keep their tracks and windows and only the test set grows. FMA-layout
        tracks of a genre add to it. No effect on real data.
    n_train, n_valid : int
        Balanced numbers of 5-s training and validation windows (paper: 100,000 and 10,000).
    test_segments_per_track : int
        Non-overlapping 5-s test segments per track (6 for a 30-s clip).
    train : TrainConfig
        The training settings, the one object that goes on to :func:`genre_utils.train.fit` and into every
        checkpoint (its ``model`` and ``precision`` are filled in per run by :func:`train_config`; its
        ``seed`` is always the profile's). Paper: 15 epochs, batch 200, Adam at lr 2e-5 with weight decay
        0.005; dropout is not stated in the paper. For reading, ``profile.epochs`` is ``profile.train.epochs``
        (likewise every training field), and :meth:`replace` routes training fields into ``train``.
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
    test_tracks_per_genre: int = 0
    n_train: int = 2000
    n_valid: int = 400
    test_segments_per_track: int = 6
    train: TrainConfig = field(default_factory=TrainConfig)
    features: FeatureParams = field(default_factory=FeatureParams)

    def __post_init__(self):
        if isinstance(self.train, dict):
            object.__setattr__(self, "train", TrainConfig.from_dict(self.train))
        if isinstance(self.features, dict):
            object.__setattr__(self, "features", FeatureParams(**self.features))
        if self.train.seed != self.seed:   # one seed for the data and the training
            object.__setattr__(self, "train", self.train.replace(seed=self.seed))

    def __getattr__(self, name):
        # only reached for names that are not fields: the training settings read through the profile
        if name in TRAIN_FIELDS:
            return getattr(self.train, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def replace(self, **changes) -> "Profile":
        """Return a copy with some fields changed.

        ``features`` accepts a dict of FeatureParams fields, ``train`` a dict of TrainConfig fields, and the
        training fields may also be given directly (``replace(epochs=1, lr=5e-4)``)."""
        feats = changes.pop("features", None)
        if isinstance(feats, dict):
            changes["features"] = dataclasses.replace(self.features, **feats)
        elif feats is not None:
            changes["features"] = feats
        train = changes.pop("train", None)
        train = dict(train) if isinstance(train, dict) else ({} if train is None else train.to_dict())
        train.update({k: changes.pop(k) for k in list(changes) if k in TRAIN_FIELDS})
        if train:
            changes["train"] = self.train.replace(**train)
        if "seed" in changes:
            changes["train"] = changes.get("train", self.train).replace(seed=changes["seed"])
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Plain-JSON form of the whole profile (what a store records; :meth:`from_dict` reads it back)."""
        return {**dataclasses.asdict(self), "train": self.train.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> "Profile":
        """The profile a :meth:`to_dict` dict describes (also the flat form stores wrote before ``train``)."""
        d = dict(d)
        if "train" not in d:
            d["train"] = {k: d.pop(k) for k in list(d) if k in TRAIN_FIELDS}
        if isinstance(d.get("split_fractions"), list):
            d["split_fractions"] = tuple(d["split_fractions"])
        return cls(**d)

    def data_dict(self) -> dict:
        """The profile without its training settings: what a feature store depends on (its cache key)."""
        return {k: v for k, v in self.to_dict().items() if k != "train"}

    @property
    def test_only_per_genre(self) -> int:
        """Extra synthetic GTZAN clips per genre rendered for the test split only (see ``test_tracks_per_genre``)."""
        base_test = split_counts(self.synth_tracks_per_genre, self.split_fractions)[2]
        return max(0, int(self.test_tracks_per_genre) - base_test)


#: The list of test-only track ids (``blues.00021``, one per line; ``#`` starts a comment) that a GTZAN root may
#: hold next to its genre folders: the synthetic corpus writes one for its test-only clips
#: (:attr:`Profile.test_only_per_genre`), and the store sends the tracks it names to the test split.
TEST_ONLY_LIST = "test_only.txt"
#: The artist of each track (``track_id,artist`` with a header; ``blues.00021,The Velvet Owls``) that a GTZAN
#: root may hold next to its genre folders, as :data:`TEST_ONLY_LIST`: the synthetic corpus writes one, and for
#: the real GTZAN one can be written from Sturm's artist annotations. The store reads it for the artist split.
ARTISTS_LIST = "artists.csv"


def split_counts(n: int, fractions) -> tuple[int, int, int]:
    """Split ``n`` items by train/valid/test ``fractions``, keeping at least one item per split when ``n >= 3``.

    The track counts of one stratum of :func:`genre_utils.splits.split_tracks`.

    Returns
    -------
    n_train, n_valid, n_test : int
    """
    n_valid = int(round(n * fractions[1]))
    n_test = int(round(n * fractions[2]))
    if n >= 3:
        n_valid, n_test = max(n_valid, 1), max(n_test, 1)
    n_train = n - n_valid - n_test
    return n_train, n_valid, n_test


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
        test_tracks_per_genre=2,
        train=TrainConfig(epochs=2, batch_size=25, lr=3e-3, schedule="onecycle", window_norm=True, batchnorm=True),
    ),
    "quick": Profile(name="quick", test_tracks_per_genre=16,
                     train=TrainConfig(epochs=4, lr=3e-3, schedule="onecycle", window_norm=True, batchnorm=True)),
    "paper": Profile(
        name="paper",
        synth_tracks_per_genre=100,
        synth_fma_tracks=900,
        synth_newdata_per_genre=10,
        test_tracks_per_genre=16,
        n_train=100_000,
        n_valid=10_000,
        train=TrainConfig(epochs=15, batch_size=200, lr=2e-5, weight_decay=0.005, dropout=0.3),
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


def train_config(profile: "str | Profile", model: str, precision: str = "fp32") -> TrainConfig:
    """The profile's training settings (:attr:`Profile.train`) for ``model``, in arithmetic ``precision``."""
    return get_profile(profile).train.replace(model=model, precision=precision)


def _flatten(d, prefix=""):
    out = {}
    for k, v in (d or {}).items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


#: Plainer names of some configuration keys in :func:`resume_differences`' messages.
_KEY_NAMES = {"dataset_key": "store cache key", "data_fingerprint": "store data fingerprint"}


def resume_differences(old: dict | None, new: dict, *, more_epochs: bool = False,
                       ignore: tuple[str, ...] = ("dataset",)) -> list[str]:
    """What keeps a run recorded as ``old`` from being resumed as ``new``: ``['key old -> new', ...]``.

    The one comparison behind every resume: the run-folder check of
    :func:`genre_utils.experiments.train_run` (the whole run configuration, with the store named by its
    fingerprints; the path it was reached by, ``ignore``, does not count) and the resume of
    :func:`genre_utils.train.fit` (model spec, :class:`TrainConfig`, training and validation sizes).
    Nested dicts are compared key by key (``train.lr 0.003 -> 0.0005``); keys are sorted.

    Parameters
    ----------
    old : dict or None
        The recorded configuration (None: a checkpoint that records none, which differs from anything).
    new : dict
    more_epochs : bool
        Let ``train.epochs`` differ when both use the constant schedule (a constant-rate run can be continued
        for more epochs; a one-cycle schedule's length is part of the run).
    """
    if old is None:
        return ["the checkpoint records no configuration"]
    a = _flatten({k: v for k, v in old.items() if k not in ignore})
    b = _flatten({k: v for k, v in new.items() if k not in ignore})
    free = set()
    if more_epochs and a.get("train.schedule") == b.get("train.schedule") == "constant":
        free.add("train.epochs")
    return [f"{_KEY_NAMES.get(k, k)} {a.get(k)} -> {b.get(k)}" for k in sorted(set(a) | set(b))
            if k not in free and a.get(k) != b.get(k)]


#: Environment variable capping :func:`num_threads` (a positive integer): set by ``make book`` in each of the
#: processes that train two runs side by side, or by a user who wants to leave cores free.
THREADS_ENV = "GENRE_UTILS_THREADS"


def num_threads() -> int:
    """Worker count: the cores this process may use, at least 1, and at most ``$GENRE_UTILS_THREADS`` when set.

    joblib's count (kept by scikit-learn, already installed) honours the CPU affinity mask *and* a
    container's CPU quota (cgroup v1/v2 CFS limits), which ``os.cpu_count`` and ``sched_getaffinity`` do
    not: a container limited to 2 CPUs on a 64-core host gets 2 workers, not 64.
    """
    import joblib

    cores = max(1, int(joblib.cpu_count(only_physical_cores=False)))
    cap = os.environ.get(THREADS_ENV, "").strip()
    return min(cores, int(cap)) if cap.isdigit() and int(cap) > 0 else cores


def fingerprint(*parts) -> str:
    """Short, stable SHA-256 fingerprint of JSON-serialisable parts (dataclasses are expanded)."""
    def default(o):
        if dataclasses.is_dataclass(o):
            return dataclasses.asdict(o)
        return str(o)

    blob = json.dumps(parts, sort_keys=True, default=default).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
