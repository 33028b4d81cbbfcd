"""A run's results as one typed object: what ``results.json`` holds, read once, with one home for each question.

:func:`genre_utils.experiments.evaluate_run` writes ``results.json`` (plain JSON, readable without this
package); everything in the package and the book reads it back through :class:`RunResults`:

=================================== ===========================================================================
question                            where it is answered
=================================== ===========================================================================
test accuracy, with n and interval  :meth:`RunResults.accuracy` (counted from the per-item table; a segment
                                    accuracy resamples whole tracks)
per-genre accuracy                  :meth:`RunResults.genre_accuracies`
confusion matrix                    :meth:`RunResults.confusion` (a labelled frame of counts, or row shares)
per-genre table                     :meth:`RunResults.per_genre` (:func:`genre_utils.metrics.per_genre_table`)
one row per test track              :meth:`RunResults.error_table`; :meth:`RunResults.correct_by_track`
new data                            :attr:`RunResults.newdata_files`, :meth:`RunResults.newdata_accuracy`
training curve                      :attr:`RunResults.history`, :meth:`RunResults.best_epoch_accuracy`,
                                    :meth:`RunResults.valid_accuracy` (validation windows, resampling tracks)
=================================== ===========================================================================

The recorded ``headline`` accuracies of the JSON file are kept for readers without the package; the package
itself never reads them back as numbers, so no accuracy is counted in two places.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from .genres import GENRES
from .metrics import confusion, per_genre_table
from .splits import has_artist
from .stats import Accuracy, SeedAccuracy, cluster_difference, clustered_accuracy, seed_accuracy, seed_comparison

__all__ = ["RunResults", "Headline", "load_results", "LEVELS", "correct_matrix", "seeds_accuracy", "compare_seeds",
           "artist_gap"]

#: The two levels of evaluation, and the name of their items.
LEVELS = {"track": "tracks", "segment": "segments"}

#: Columns every new-data file table has, even when the run had no new-data folder.
NEWDATA_COLUMNS = ("path", "label", "pred_genre", "n_segments", "top3", "line", "error")

#: Columns of :meth:`RunResults.error_table`.
ERROR_COLUMNS = ["track_id", "true_genre", "pred_genre", "correct", "n_segments", "votes", "confidence", "line",
                 "path"]


@dataclass(frozen=True)
class Headline:
    """What a run's training recorded besides its test predictions (the ``headline`` block of ``results.json``).

    Attributes
    ----------
    best_epoch : int or None
        1-based epoch of the checkpoint that was tested (highest validation accuracy).
    best_valid_accuracy, final_train_accuracy : float or None
        Window-level fractions from the training history.
    train_seconds, eval_seconds : float
        Wall-clock seconds of training (summed over epochs) and of the evaluation.
    n_test_segments, n_test_tracks : int
    """

    best_epoch: int | None = None
    best_valid_accuracy: float | None = None
    final_train_accuracy: float | None = None
    train_seconds: float = 0.0
    eval_seconds: float = 0.0
    n_test_segments: int = 0
    n_test_tracks: int = 0

    @classmethod
    def from_dict(cls, block: dict | None) -> Headline:
        block = block or {}
        return cls(**{f: block[f] for f in cls.__dataclass_fields__ if block.get(f) is not None})


def _is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


@dataclass(frozen=True, eq=False)
class RunResults:
    """One run's ``results.json``, read once, with typed views and one method per question.

    Build it with :func:`load_results` (a run folder or the file) or :meth:`from_dict` (the parsed JSON, or any
    part of it: missing blocks read as empty). ``raw`` keeps the JSON as read, for writing it back
    (:meth:`with_block`) and for the few blocks read as plain mappings (``config``, ``dataset``).

    Attributes
    ----------
    raw : dict
        The JSON object as read.
    path : Path or None
        The file it was read from.
    """

    raw: dict = field(repr=False)
    path: Path | None = None

    # ---------------------------------------------------------------------------------------------- reading
    @classmethod
    def from_dict(cls, data: dict, path=None) -> RunResults:
        """Wrap a parsed ``results.json`` (a :class:`RunResults` is returned as it is)."""
        if isinstance(data, RunResults):
            return data
        if not isinstance(data, dict):
            raise TypeError(f"results must be a dict read from results.json, got {type(data).__name__}")
        return cls(raw=data, path=Path(path) if path is not None else None)

    def to_dict(self) -> dict:
        """The JSON object (a shallow copy), e.g. for :func:`genre_utils.evaluate.write_results`."""
        return dict(self.raw)

    def with_block(self, name: str, value) -> RunResults:
        """A copy with one top-level block replaced or added (e.g. ``confidence`` after calibration)."""
        return RunResults({**self.raw, name: value}, self.path)

    def __eq__(self, other) -> bool:
        return isinstance(other, RunResults) and self.raw == other.raw

    __hash__ = None  # mutable contents: not hashable

    # ------------------------------------------------------------------------------------------ plain blocks
    @property
    def genres(self) -> list[str]:
        """The class order of the run (the ten GTZAN genres when the file names none)."""
        return list(self.raw.get("genres") or GENRES)

    @property
    def key(self) -> str | None:
        """The cache key the run was made under."""
        return self.raw.get("key")

    @property
    def checkpoint_sha256(self) -> str | None:
        """sha256 of the ``best.pt`` these results score."""
        return self.raw.get("checkpoint_sha256")

    @property
    def model(self) -> str:
        """Model name (``crnn``, ``crnn-temporal``, ``baseline``, ...)."""
        return str(self.raw.get("model") or "")

    @property
    def n_parameters(self) -> int | None:
        return self.raw.get("n_parameters")

    @property
    def data_description(self) -> str:
        """Which data the store holds, in words (empty when not recorded)."""
        return str(self.raw.get("data_description") or "")

    @property
    def config(self) -> dict:
        """The checkpoint's configuration (training settings, model spec, feature parameters)."""
        return self.raw.get("config") or {}

    @property
    def dataset(self) -> dict:
        """The store's fingerprints, windows per split, tracks per split, split method and profile."""
        return self.raw.get("dataset") or {}

    @property
    def versions(self) -> dict:
        """Library versions recorded when the results were written (:func:`genre_utils.provenance.versions`)."""
        return self.raw.get("versions") or {}

    @property
    def code_fingerprint(self) -> str | None:
        """Fingerprint of the code that trained and evaluated the run."""
        return self.raw.get("code_fingerprint")

    @property
    def confidence(self) -> dict | None:
        """The calibration summary written by :func:`genre_utils.confidence.calibrate_run`, if any."""
        return self.raw.get("confidence")

    @cached_property
    def headline(self) -> Headline:
        return Headline.from_dict(self.raw.get("headline"))

    @property
    def history(self) -> dict[str, list]:
        """Per-epoch training history (``train_acc``, ``valid_acc``, ``train_loss``, ``valid_loss``, ...)."""
        return self.raw.get("history") or {}

    def n_windows(self, split: str) -> int:
        """Windows of one split of the store (``train``, ``valid`` or ``test``)."""
        return int((self.dataset.get("n_windows") or {}).get(split) or 0)

    def n_clips(self) -> int:
        """Tracks of all splits of the store."""
        return int(sum((self.dataset.get("tracks_per_split") or {}).values()))

    # -------------------------------------------------------------------------------------- per-item tables
    def _test_block(self) -> dict:
        return self.raw.get("test") or {}

    @cached_property
    def tracks(self) -> pd.DataFrame:
        """One row per test track: the vote (:func:`genre_utils.metrics.majority_vote` columns), ``y_true``,
        ``true_genre``, ``correct``, ``line`` and, when recorded, ``source`` and ``path``."""
        return self._table("tracks")

    @cached_property
    def segments(self) -> pd.DataFrame:
        """One row per test window: ``segment_id``, ``track_id``, ``true_genre``, ``pred_genre``, ``correct``,
        ``prob_<genre>``."""
        return self._table("segments")

    def _table(self, name: str) -> pd.DataFrame:
        table = pd.DataFrame.from_records(self._test_block().get(name) or [])
        if table.empty:
            return pd.DataFrame(columns=["track_id", "true_genre", "pred_genre"])
        return table

    def items(self, level: str = "track") -> pd.DataFrame:
        """:attr:`tracks` (``level='track'``) or :attr:`segments` (``'segment'``)."""
        if level not in LEVELS:
            raise ValueError(f"level must be one of {sorted(LEVELS)}, got {level!r}")
        return self.tracks if level == "track" else self.segments

    def _right(self, table: pd.DataFrame) -> np.ndarray:
        return (table["true_genre"].astype(str) == table["pred_genre"].astype(str)).to_numpy()

    # ------------------------------------------------------------------------------------------- accuracies
    def accuracy(self, level: str = "track") -> Accuracy:
        """Test accuracy as :class:`~genre_utils.stats.Accuracy`, counted from the per-item table.

        ``k`` is the number of test tracks (``level='track'``) or segments (``'segment'``) whose predicted genre
        is the true one, ``n`` the number of them; nothing is recovered from a rounded fraction. A segment
        accuracy's interval resamples whole tracks (:func:`~genre_utils.stats.clustered_accuracy`): the
        segments of one track are not independent draws. A track accuracy keeps Wilson's interval.
        """
        table = self.items(level)
        right = self._right(table)
        if level == "segment" and "track_id" in table.columns and len(table):
            return clustered_accuracy(right, table["track_id"].astype(str).to_numpy())
        return Accuracy(int(right.sum()), int(len(table)))

    def genre_accuracies(self, level: str = "track", genres=None) -> dict[str, Accuracy]:
        """Per-genre accuracy (recall) with its count: ``genre -> Accuracy(right, test items of the genre)``."""
        table = self.items(level)
        true, pred = table["true_genre"].astype(str), table["pred_genre"].astype(str)
        return {g: Accuracy(int(((true == g) & (pred == g)).sum()), int((true == g).sum()))
                for g in (genres if genres is not None else self.genres)}

    def confusion(self, level: str = "track", normalise: bool = False) -> pd.DataFrame:
        """The confusion matrix, rows the true genre and columns the predicted one.

        Returns
        -------
        frame : DataFrame, shape (n_genres, n_genres)
            Integer counts; with ``normalise``, each row divided by its sum (a row without items is NaN).
        """
        genres = self.genres
        cm = confusion(*self._class_indices(level), len(genres))
        frame = pd.DataFrame(cm, index=pd.Index(genres, name="true"), columns=pd.Index(genres, name="predicted"))
        if not normalise:
            return frame
        rows = frame.sum(axis=1).to_numpy(dtype=float)[:, None]
        shares = np.divide(cm.astype(float), rows, out=np.full(cm.shape, np.nan), where=rows > 0)
        return pd.DataFrame(shares, index=frame.index, columns=frame.columns)

    def per_genre(self, level: str = "track") -> pd.DataFrame:
        """Per-genre support, predictions, accuracy, precision and the two false positive rates
        (:func:`genre_utils.metrics.per_genre_table`), index ``genre``."""
        return per_genre_table(*self._class_indices(level), len(self.genres), self.genres)

    def _class_indices(self, level: str) -> tuple[np.ndarray, np.ndarray]:
        """True and predicted class index of every item of ``level``, in :attr:`genres` order."""
        index = {g: k for k, g in enumerate(self.genres)}
        table = self.items(level)
        return tuple(table[col].astype(str).map(index).to_numpy(dtype=np.int64) for col in ("true_genre", "pred_genre"))

    def correct_by_track(self) -> pd.Series:
        """Whether each test track was right, indexed by ``track_id`` (str), for paired comparisons."""
        table = self.tracks
        return pd.Series(self._right(table), index=table["track_id"].astype(str).to_numpy(), name="correct")

    def best_epoch_accuracy(self, split: str) -> Accuracy:
        """Window-level accuracy on ``split`` (``train`` or ``valid``) at the tested (best) epoch, as a count
        of the split's windows."""
        hkey = {"train": "train_acc", "valid": "valid_acc"}[split]
        best = self.headline.best_epoch
        values = self.history.get(hkey) or []
        n = self.n_windows(split)
        if best is None or not 1 <= best <= len(values) or _is_missing(values[best - 1]):
            return Accuracy(0, 0)
        return Accuracy(int(round(values[best - 1] * n)), n)

    def valid_accuracy(self) -> Accuracy:
        """Window-level validation accuracy of the tested checkpoint (its best epoch's), with an interval that
        resamples the validation tracks: :func:`~genre_utils.stats.clustered_accuracy` of the per-window record
        :func:`genre_utils.experiments.evaluate_run` keeps. Results written before that record fall back to
        :meth:`best_epoch_accuracy` (Wilson's interval over windows)."""
        windows = pd.DataFrame.from_records((self.raw.get("valid") or {}).get("windows") or [])
        if windows.empty or "correct" not in windows:
            return self.best_epoch_accuracy("valid")
        return clustered_accuracy(windows["correct"].astype(bool).to_numpy(),
                                  windows["track_id"].astype(str).to_numpy())

    def error_table(self) -> pd.DataFrame:
        """One row per test track: what it is, what the model said, and where its audio lives.

        Returns
        -------
        table : DataFrame
            In the order of :attr:`tracks`, columns ``track_id``, ``true_genre``, ``pred_genre``, ``correct``
            (bool), ``n_segments`` (windows voted), ``votes`` (windows voting for the prediction),
            ``confidence`` (mean probability of the predicted genre, 0-1), ``line`` (the top-3 line) and
            ``path`` (audio file; None when the results do not record it).
        """
        tracks = self.tracks
        if tracks.empty:
            return pd.DataFrame(columns=ERROR_COLUMNS)
        pred = tracks["pred_genre"].astype(str)
        records = tracks.to_dict("records")

        def of_prediction(prefix):  # the value of column <prefix><predicted genre> in every row
            return [row.get(f"{prefix}{g}") for row, g in zip(records, pred)]

        table = pd.DataFrame({
            "track_id": tracks["track_id"].astype(str),
            "true_genre": tracks["true_genre"].astype(str),
            "pred_genre": pred,
            "correct": tracks["true_genre"].astype(str) == pred,
            "n_segments": tracks["n_segments"].astype(int),
            "votes": pd.array(of_prediction("votes_"), dtype="Int64"),
            "confidence": pd.to_numeric(pd.Series(of_prediction("prob_")), errors="coerce").to_numpy(),
            "line": tracks["line"].astype(str),
            "path": tracks["path"] if "path" in tracks else None,
        })
        return table[ERROR_COLUMNS]

    # --------------------------------------------------------------------------------------------- new data
    def _newdata(self) -> dict:
        return self.raw.get("newdata") or {}

    @cached_property
    def newdata_files(self) -> pd.DataFrame:
        """One row per file of the new-data folder (:func:`genre_utils.evaluate.evaluate_files` columns);
        ``error`` is an empty string for files that were classified."""
        files = pd.DataFrame.from_records(self._newdata().get("files") or [])
        for col in NEWDATA_COLUMNS:
            if col not in files:
                files[col] = pd.Series(dtype=object)
        files["error"] = files["error"].fillna("").astype(str)
        return files

    @property
    def newdata_summary(self) -> dict:
        """Counts of the new-data evaluation (files, failed, skipped by the scan and why)."""
        return self._newdata().get("summary") or {}

    @property
    def has_newdata(self) -> bool:
        """Whether the run was evaluated on a new-data folder with at least one file."""
        return bool(self._newdata().get("files"))

    def newdata_accuracy(self) -> Accuracy:
        """Accuracy on the new-data folder, counted from the per-file table (unreadable files left out)."""
        ok = self.newdata_files[self.newdata_files["error"] == ""]
        return Accuracy(int((ok["pred_genre"].astype(str) == ok["label"].astype(str)).sum()), int(len(ok)))


def load_results(path) -> RunResults:
    """Read a run's ``results.json`` (a run folder or the file itself) as :class:`RunResults`."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path} does not hold a JSON object")
    return RunResults.from_dict(data, path)


def correct_matrix(runs) -> tuple[np.ndarray, list[str]]:
    """Whether each test track was right under each run: the runs of one model under several seeds (or any runs
    tested on the same tracks), aligned on the first run's track order.

    Returns
    -------
    correct : ndarray of bool, shape (len(runs), n_tracks)
    track_ids : list of str

    Raises
    ------
    ValueError
        The runs were not tested on the same tracks.
    """
    series = [RunResults.from_dict(r).correct_by_track() for r in runs]
    if not series:
        return np.zeros((0, 0), dtype=bool), []
    ids = list(series[0].index)
    for s in series[1:]:
        if set(s.index) != set(ids) or not s.index.is_unique:
            raise ValueError("the runs were not tested on the same tracks")
    return np.stack([s.loc[ids].to_numpy(dtype=bool) for s in series]), ids


def seeds_accuracy(runs) -> SeedAccuracy:
    """Track accuracy of one model over its seeds (:func:`genre_utils.stats.seed_accuracy` of
    :func:`correct_matrix`)."""
    return seed_accuracy(correct_matrix(runs)[0])


def compare_seeds(runs_a, runs_b) -> dict:
    """Model A (its runs under every seed) against model B on their test tracks:
    :func:`genre_utils.stats.seed_comparison` of one :func:`correct_matrix` of all the runs, so A's and B's
    tracks are paired by id (the runs must share their test tracks).

    Returns
    -------
    dict
        :func:`~genre_utils.stats.seed_comparison`'s result, plus ``accuracy_a`` and ``accuracy_b``
        (:class:`~genre_utils.stats.SeedAccuracy` of each model).
    """
    runs_a, runs_b = list(runs_a), list(runs_b)
    matrix, _ = correct_matrix(runs_a + runs_b)
    a, b = matrix[:len(runs_a)], matrix[len(runs_a):]
    return {**seed_comparison(a, b), "accuracy_a": seed_accuracy(a), "accuracy_b": seed_accuracy(b)}



def artist_gap(random_runs, artist_runs, random_tracks: pd.DataFrame) -> dict | None:
    """The random split's model against the artist split's, on the test tracks both splits test.

    The synthetic corpus's test-only clips are by artists with one balanced clip each
    (:func:`genre_utils.synth.artists.gtzan_artists`), and both splits send them to the test split: a paired
    comparison on the same tracks, in which only the random split may have trained on another track by the
    same artist. Tracks by one artist are not independent, so the interval resamples artists
    (:func:`genre_utils.stats.cluster_difference`); the seeds' spread of each side is reported beside it.

    Parameters
    ----------
    random_runs, artist_runs : sequences of results dicts or RunResults
        The runs of each split (every seed).
    random_tracks : DataFrame
        The random split's store ``tracks.csv``: ``track_id``, ``artist``, ``split``.

    Returns
    -------
    dict or None
        None when the two splits test no track in common. Otherwise
        :func:`~genre_utils.stats.cluster_difference`'s fields (random minus artist; ``n_clusters`` is the
        number of artists), ``accuracy_random``, ``accuracy_artist`` (mean over seeds on the shared tracks),
        ``n_seen`` (shared tracks whose artist had a training track under the random split), ``seeds_random``,
        ``seeds_artist``, ``spread`` (the larger of the two sides' seed spreads on the shared tracks) and
        ``beyond_noise`` (the interval excludes zero and the gap exceeds the spread).
    """
    rand = [RunResults.from_dict(r).correct_by_track() for r in random_runs]
    art = [RunResults.from_dict(r).correct_by_track() for r in artist_runs]
    if not rand or not art:
        return None
    shared = sorted(set.intersection(*(set(s.index) for s in rand + art)))
    if not shared:
        return None
    a = np.stack([s.loc[shared].to_numpy(dtype=float) for s in rand])
    b = np.stack([s.loc[shared].to_numpy(dtype=float) for s in art])
    table = random_tracks.assign(track_id=random_tracks["track_id"].astype(str)).set_index("track_id")
    named = table["artist"].where(has_artist(table))
    artist = [name if isinstance(name, str) else f"track:{t}" for t, name in zip(shared, named.reindex(shared))]
    trained = set(named[table["split"] == "train"].dropna().astype(str))
    gap = cluster_difference(a.mean(axis=0), b.mean(axis=0), artist)
    spread = max(float(np.ptp(a.mean(axis=1))), float(np.ptp(b.mean(axis=1))))
    beyond = bool((gap["low"] > 0 or gap["high"] < 0) and abs(gap["difference"]) > spread)
    return {**gap, "accuracy_random": float(a.mean()), "accuracy_artist": float(b.mean()),
            "n_seen": int(sum(x in trained for x in artist)), "seeds_random": len(rand), "seeds_artist": len(art),
            "spread": spread, "beyond_noise": beyond}
