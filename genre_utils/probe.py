"""The bag-of-frames probe and run-to-run comparisons: what a model that cannot hear order gets right, and
whether one run beats another on the same test tracks.

:func:`linear_probe` is a logistic regression on each track's summary of its feature frames (mean, or mean,
spread and frame-to-frame change): blind to the order of events, so the margin by which the CRNN beats it is
what its convolutions and GRU add. :func:`compare_with_probe` and :func:`compare_runs` pair two sets of
track-level answers on the same tracks (:func:`genre_utils.stats.paired_comparison`), or fall back to
Newcombe's interval for different test sets (:func:`genre_utils.stats.unpaired_comparison`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .results import RunResults, correct_matrix
from .stats import accuracy_of, paired_comparison, seed_accuracy, seed_comparison, unpaired_comparison

__all__ = ["window_summary", "track_mean_features", "linear_probe", "fit_probe", "correct_by_track",
           "compare_with_probe", "compare_runs", "SUMMARY_NAMES", "probe_gaps", "probe_gap_table"]

#: How the book names the probe of each track summary.
SUMMARY_NAMES = {"mean": "the regression on track means", "dynamics": "the regression on means, spread and change"}


def window_summary(X, summary: str = "mean", chunk_size: int = 1024) -> np.ndarray:
    """Each window's summary over its frames: what the probe sees of it.

    Parameters
    ----------
    X : array-like, shape (n_windows, height, n_frames)
        May be a memory-mapped float16 store split; it is read ``chunk_size`` windows at a time, so memory stays
        bounded (a whole paper-size training split in float32, with its frame-to-frame differences, would take
        about 18 GB). Each window's numbers do not depend on the chunking.
    summary : {'mean', 'dynamics'}
        ``'mean'``: each row's mean over the frames; ``'dynamics'``: that, each row's standard deviation
        and its mean absolute change from one frame to the next.
    chunk_size : int
        Windows converted to float32 at a time.

    Returns
    -------
    ndarray, shape (n_windows, height) or (n_windows, 3 * height), float32
    """
    if summary not in ("mean", "dynamics"):
        raise ValueError(f"summary must be 'mean' or 'dynamics', not {summary!r}")
    n, height = len(X), np.shape(X)[1]
    out = np.empty((n, height if summary == "mean" else 3 * height), dtype=np.float32)
    for start in range(0, n, max(1, int(chunk_size))):
        chunk = np.asarray(X[start:start + chunk_size], dtype=np.float32)
        out[start:start + len(chunk), :height] = chunk.mean(axis=2)
        if summary == "dynamics":
            out[start:start + len(chunk), height:2 * height] = chunk.std(axis=2)
            out[start:start + len(chunk), 2 * height:] = np.abs(np.diff(chunk, axis=2)).mean(axis=2)
    return out


def track_mean_features(ds, split: str, return_ids: bool = False, summary: str = "mean"):
    """Per-track summary of the store's feature rows, averaged over all the track's windows.

    Parameters
    ----------
    ds : genre_utils.dataset.Dataset
    split : {'train', 'valid', 'test'}
    return_ids : bool
        Also return the track ids.
    summary : {'mean', 'dynamics'}
        ``'mean'``: each row's mean over the frames (the average colour of the track).
        ``'dynamics'``: that mean, plus each row's standard deviation over a window's frames and its mean
        absolute change from one frame to the next (how much, and how fast, the features move) - still
        a bag of frames: the order of events within a window is lost.

    Returns
    -------
    X : ndarray, shape (n_tracks, height) or (n_tracks, 3 * height), float64
    y : ndarray, shape (n_tracks,), int64
    track_ids : ndarray, shape (n_tracks,), object
        Sorted track ids, the order of the rows (only with ``return_ids=True``).
    """
    X, y, rows = ds.split(split)
    per_window = window_summary(X, summary)
    codes, tracks = pd.factorize(rows["track_id"], sort=True)
    sums = np.zeros((len(tracks), per_window.shape[1]))
    np.add.at(sums, codes, per_window)
    counts = np.bincount(codes, minlength=len(tracks))[:, None]
    labels = np.zeros(len(tracks), dtype=np.int64)
    labels[codes] = y
    if return_ids:
        return sums / counts, labels, np.asarray(tracks, dtype=object)
    return sums / counts, labels


def linear_probe(ds, seed: int = 0, summary: str = "mean") -> dict:
    """How hard is the data? A logistic regression on per-track summaries of the features.

    Trained on the training tracks, scored on the test tracks of the store; a corpus whose genres a
    bag-of-frames average already separates would make the CRNN's task trivial.

    Parameters
    ----------
    ds : genre_utils.dataset.Dataset
    seed : int
    summary : {'mean', 'dynamics'}
        What each track is summarised by (:func:`track_mean_features`): its mean feature vector (no
        information about time), or that plus how much and how fast each feature moves.

    Returns
    -------
    dict
        ``train_accuracy``, ``test_accuracy``, ``n_train_tracks``, ``n_test_tracks``, and
        ``test_tracks``: per test track, ``track_id`` and ``correct`` (records).
    """
    X_train, y_train = track_mean_features(ds, "train", summary=summary)
    X_test, y_test, test_ids = track_mean_features(ds, "test", return_ids=True, summary=summary)
    clf = _fit(X_train, y_train, seed)
    correct = clf.predict(X_test) == y_test
    return {"train_accuracy": float(clf.score(X_train, y_train)), "test_accuracy": float(correct.mean()),
            "n_train_tracks": int(len(y_train)), "n_test_tracks": int(len(y_test)),
            "test_tracks": [{"track_id": str(t), "correct": bool(c)} for t, c in zip(test_ids, correct)]}


def _fit(X, y, seed: int):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0, random_state=seed)).fit(X, y)


def fit_probe(ds, summary: str = "mean", seed: int = 0):
    """The probe of :func:`linear_probe`, fitted on the store's training tracks, to ask about other windows.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Its ``predict`` takes :func:`window_summary` rows (one window, or a track's mean over its windows)
        and returns genre indices in the store's label order.
    """
    X_train, y_train = track_mean_features(ds, "train", summary=summary)
    return _fit(X_train, y_train, seed)


def compare_with_probe(results: RunResults, ds, summary: str = "mean", seed: int = 0) -> tuple[dict, dict]:
    """A run's test tracks against a :func:`linear_probe` on the same store, track by track.

    Parameters
    ----------
    results : RunResults
        A run's results (:func:`genre_utils.experiments.evaluate_run`), evaluated on the test split of ``ds``.
    ds : genre_utils.dataset.Dataset
    summary : {'mean', 'dynamics'}
        The probe's track summary.
    seed : int

    Returns
    -------
    probe : dict
        :func:`linear_probe`'s result.
    paired : dict
        :func:`paired_comparison` with the run as A and the probe as B.
    """
    probe = linear_probe(ds, seed=seed, summary=summary)
    run = results.correct_by_track()
    other = correct_by_track(probe)
    return probe, paired_comparison(run.loc[other.index].to_numpy(), other.to_numpy(), seed=seed)


def correct_by_track(probe: dict) -> pd.Series:
    """A :func:`linear_probe` result's ``test_tracks`` as a boolean Series indexed by track id (str)."""
    return pd.DataFrame(probe["test_tracks"]).astype({"track_id": str}).set_index("track_id")["correct"].astype(bool)


def probe_gaps(models: dict, ds, summaries=("mean", "dynamics"), seed: int = 0) -> list[dict]:
    """Each model, over all its training seeds, against each bag-of-frames probe, paired on the same test tracks.

    The probes are deterministic (one fit each); a model's seeds enter as :func:`genre_utils.stats.seed_comparison`
    reads them: the difference of the mean-over-seeds accuracy with a paired bootstrap over the test tracks, and
    the seeds' spread beside it.

    Parameters
    ----------
    models : dict
        ``{name: runs}``, each a list of a model's results (every training seed) tested on the test split of
        ``ds``.
    ds : genre_utils.dataset.Dataset
    summaries : sequence of {'mean', 'dynamics'}
        The probes (:func:`linear_probe`).
    seed : int

    Returns
    -------
    list of dict
        One row per model and probe, models outer: ``model``, ``summary``, ``probe`` (its name in
        :data:`SUMMARY_NAMES`), ``model_accuracy`` (:class:`~genre_utils.stats.SeedAccuracy`),
        ``probe_accuracy`` (:class:`~genre_utils.stats.Accuracy`) and ``comparison`` (model minus probe,
        :func:`~genre_utils.stats.seed_comparison`).

    Raises
    ------
    ValueError
        A model without runs, or whose runs were not tested on the probe's test tracks.
    """
    empty = [name for name, runs in models.items() if not list(runs)]
    if empty:
        raise ValueError(f"no runs of {', '.join(empty)} to compare with the bag of frames")
    probes = {}
    for summary in summaries:
        probes[summary] = correct_by_track(linear_probe(ds, seed=seed, summary=summary))
    rows = []
    for name, runs in models.items():
        matrix, ids = correct_matrix(runs)
        for summary, right in probes.items():
            if set(ids) != set(right.index):
                raise ValueError(f"{name} was not tested on the probe's test tracks")
            other = right.loc[ids].to_numpy(dtype=bool)
            rows.append({"model": name, "summary": summary, "probe": SUMMARY_NAMES[summary],
                         "model_accuracy": seed_accuracy(matrix), "probe_accuracy": accuracy_of(other),
                         "comparison": seed_comparison(matrix, other[None, :], seed=seed)})
    return rows


def probe_gap_table(rows: list[dict]) -> pd.DataFrame:
    """:func:`probe_gaps` as the book shows it.

    Parameters
    ----------
    rows : list of dict
        :func:`probe_gaps`'s rows.

    Returns
    -------
    DataFrame
        Index (``model``, ``bag of frames``); columns: each accuracy with its interval, the difference in points
        with its paired interval over the test tracks, the seeds' spread, and ``reading``: what the two tests of
        :func:`genre_utils.stats.seed_comparison` say (ahead or behind beyond the noise, beyond the test interval
        only, within the noise).
    """
    def verdict(c):
        if c["beyond_noise"]:
            return "ahead, beyond the noise" if c["difference"] > 0 else "behind, beyond the noise"
        if c["beyond_interval"]:
            return "beyond the test interval, not beyond the seeds' spread"
        return "within the noise"

    table = pd.DataFrame([{
        "model": r["model"], "bag of frames": r["probe"],
        "model accuracy (mean over seeds)": r["model_accuracy"].short(),
        "bag-of-frames accuracy": r["probe_accuracy"].short(),
        "model minus bag (points)": (f"{100 * r['comparison']['difference']:+.1f} "
                                     f"[{100 * r['comparison']['low']:+.1f}, {100 * r['comparison']['high']:+.1f}]"),
        "seeds' spread (points)": f"{100 * r['comparison']['spread_a']:.1f}",
        "reading": verdict(r["comparison"])} for r in rows])
    return table.set_index(["model", "bag of frames"]) if len(table) else table


def compare_runs(results_a: RunResults, results_b: RunResults, seed: int = 0) -> tuple[dict, bool]:
    """Run A against run B on their whole test tracks (majority vote).

    Paired (:func:`paired_comparison`: bootstrap over the tracks and McNemar) when both were tested on the
    same tracks, as the leaky segment split is, by construction, with the track split; otherwise
    :func:`unpaired_comparison` of the two accuracies.

    Returns
    -------
    comparison : dict
        In the form :func:`genre_utils.narrative.margin_sentence` reads.
    paired : bool
    """
    a, b = results_a.correct_by_track(), results_b.correct_by_track()
    if a.index.is_unique and b.index.is_unique and set(a.index) == set(b.index):
        return paired_comparison(a.loc[b.index].to_numpy(), b.to_numpy(), seed=seed), True
    return unpaired_comparison(accuracy_of(a.to_numpy()), accuracy_of(b.to_numpy())), False
