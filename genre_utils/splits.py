"""Track-level splits and the balanced window plan of the paper's sections 4.3-4.4.

A split is decided per *track*, never per segment: every 5-s window of a track lands in the split of its
track, so no recording contributes to both training and testing (the leak of segment-level splits that
inflates many published GTZAN numbers). The one exception is ``segment``, the leaky split kept as an ablation.

Four split methods:

``random``
    Stratified by genre, 70/15/15 by default (the paper's proportions), seeded.
``artist``
    Like ``random`` but whole artists are assigned at once (tracks without a known artist count as
    their own artist), so one artist never spans two splits; an artist is stratified by its most common
    genre. GTZAN ships without artist metadata: the store reads it from an ``artists.csv`` beside the genre
    folders (:data:`genre_utils.config.ARTISTS_LIST`; the synthetic corpus writes one, and for the real GTZAN
    it can be written from Sturm's artist annotations); without one, GTZAN's tracks are each their own artist
    and this *is* a track split. :func:`artist_coverage` counts the tracks without an artist and
    :func:`artist_note` says so in one sentence (the store records it in ``dataset.json`` and warns when the
    artist split is chosen).
``official``
    The dataset's own split: for GTZAN the artist- and fault-filtered lists of Kereliuk, Sturm & Larsen
    (2015), for FMA the ``set.split`` column. Tracks outside the lists are left out and recorded.
``segment``
    The mistake of many genre repositories (the paper splits whole clips; it does not say whether repeated
    recordings or an artist's clips were kept together): 5-s segments are split at random,
    so the windows of one recording land in training *and* test. To keep its test set comparable with
    ``random``, the test tracks are exactly those of ``random`` and are tested on the same consecutive
    segments; the training and validation windows are drawn from *every* track, the test tracks included
    (:func:`plan_windows`), so nearly every test window's recording is also trained on
    (:func:`leak_summary` counts them; the store records it in ``dataset.json``).

Tracks marked ``test_only`` (the synthetic corpus's extra test clips, listed in a GTZAN root's
``test_only.txt``: :data:`genre_utils.config.TEST_ONLY_LIST`) go to the test split under ``random``, ``artist``
and ``segment``, with every track they share a unit with; the other tracks are split exactly as without them,
so adding test-only tracks changes neither the training nor the validation tracks.

Under ``random`` and ``artist``, tracks that share a non-empty ``dup_group`` (identical decoded audio, found
by the store; see :mod:`genre_utils.duplicates`) form one unit, so a recording copied under two names, formats
or genre folders never lands in two splits. Without duplicates the split is exactly the one without groups.

The training and validation sets are then *balanced*: every genre receives the same number of random
5-s windows, drawn round-robin over that genre's tracks at uniformly random offsets. The test set keeps
each track's consecutive non-overlapping windows (six for a 30-s clip) so a whole-track majority vote is
possible.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from .audio import segment_starts
from .config import split_counts
from .genres import GENRES

__all__ = ["SPLITS", "SPLIT_METHODS", "SPLIT_HELP", "split_tracks", "split_units", "has_artist", "artist_coverage",
           "artist_note", "balanced_windows", "consecutive_windows", "plan_windows", "leak_summary"]

SPLITS = ("train", "valid", "test")
SPLIT_METHODS = ("random", "artist", "official", "segment")

#: One-line help of the CLI's ``--split`` option.
SPLIT_HELP = ("how tracks are split (default random): random = 70/15/15 stratified by genre; artist = whole "
              "artists in one split (tracks without an artist, e.g. GTZAN without an artists.csv beside its genre "
              "folders, are their own unit); official = GTZAN's fault-filtered lists / FMA's set.split; segment = "
              "the leaky ablation: the test tracks of random, but training windows drawn from every track, test "
              "tracks included; under random and artist identical recordings always share a split")


def _rng(seed: int, *keys) -> np.random.Generator:
    """Independent, reproducible generator for one (seed, purpose) pair."""
    digest = hashlib.sha256("/".join(map(str, keys)).encode()).digest()
    return np.random.default_rng([int(seed), int.from_bytes(digest[:8], "little")])


_counts = split_counts  # the track counts of one stratum (shared with the corpus's test-only clips)


def _fill_by_deficit(sizes, target, order) -> list[int]:
    """Give each unit (in ``order``) to the split furthest below its target size.

    When there are at least three units and a split ends up empty (few, large artists), the smallest unit
    of the split holding the most units moves there, so every split has data.

    Returns
    -------
    chosen : list of int
        Split index (0 train, 1 valid, 2 test) of every unit, in the units' own order.
    """
    filled = np.zeros(3)
    chosen = [0] * len(sizes)
    for i in order:
        k = int(np.argmax(target - filled))  # ties go to the earlier split
        chosen[i] = k
        filled[k] += sizes[i]
    if len(sizes) >= 3:
        for empty in (k for k in range(3) if k not in chosen):
            donor = max(range(3), key=lambda k: chosen.count(k))
            smallest = min((i for i in range(len(sizes)) if chosen[i] == donor), key=lambda i: sizes[i])
            chosen[smallest] = empty
    return chosen


def has_artist(tracks: pd.DataFrame) -> pd.Series:
    """Whether each track has a known artist (``artist`` neither missing nor blank); all False without the column."""
    if "artist" not in tracks:
        return pd.Series(False, index=tracks.index)
    return tracks["artist"].notna() & (tracks["artist"].astype(str).str.strip() != "")


def split_units(tracks: pd.DataFrame, method: str = "random") -> pd.Series:
    """The unit each track is split with: itself, its artist, merged over groups of identical recordings.

    Parameters
    ----------
    tracks : DataFrame
        ``track_id``; ``artist`` for ``method='artist'``; optionally ``dup_group`` (str, ``''`` or NaN for a
        track with no duplicate).
    method : {'random', 'artist', 'segment'}

    Returns
    -------
    unit : Series of str, aligned with ``tracks.index``
        ``random`` and ``segment``: the track id; ``artist``: the artist name, or ``'track:<id>'`` for a track without
        one. Units linked by a shared ``dup_group`` are merged (transitively) and named by their smallest
        member, so without duplicates the units are exactly the unmerged ones.
    """
    ids = tracks["track_id"].astype(str)
    if method == "artist":
        base = tracks["artist"].astype(object).where(has_artist(tracks), "track:" + ids).astype(str)
    else:
        base = ids
    groups = tracks["dup_group"].fillna("").astype(str) if "dup_group" in tracks else None
    if groups is None or not (groups != "").any():
        return base
    parent = {u: u for u in base}

    def find(u):
        while parent[u] != u:
            parent[u] = parent[parent[u]]
            u = parent[u]
        return u

    for _, members in base[groups != ""].groupby(groups[groups != ""], sort=True):
        roots = sorted({find(u) for u in members})
        for r in roots[1:]:
            parent[r] = roots[0]
    return base.map(find)


def split_tracks(tracks: pd.DataFrame, method: str = "random", fractions=(0.70, 0.15, 0.15),
                 seed: int = 0) -> pd.Series:
    """Assign every track to ``'train'``, ``'valid'`` or ``'test'`` (or None when ``official`` has no entry).

    Parameters
    ----------
    tracks : DataFrame
        One row per track with columns ``track_id``, ``label``, and for the other methods ``artist`` and
        ``official_split``; optionally ``dup_group``: tracks sharing a non-empty value are identical
        recordings and are split as one unit under ``random``, ``artist`` and ``segment`` (see
        :func:`split_units`), stratified by the unit's most common genre; optionally ``test_only`` (bool):
        such tracks, and the units holding them, go to ``'test'`` and the others are split as if they were
        absent. ``official`` follows the lists whatever the groups and marks.
    method : {'random', 'artist', 'official', 'segment'}
        ``segment`` assigns the tracks exactly as ``random`` does (same seed stream): its leak lies in the
        window plan (:func:`plan_windows`).
    fractions : tuple of three floats
        Train/valid/test shares for ``random`` and ``artist``.
    seed : int

    Returns
    -------
    split : Series of str or None, aligned with ``tracks.index``
    """
    if method not in SPLIT_METHODS:
        raise ValueError(f"split method must be one of {SPLIT_METHODS}, not {method!r}")
    if method == "official":
        return tracks["official_split"].where(tracks["official_split"].isin(SPLITS), None).astype(object)
    if method == "segment":
        method = "random"  # the same test tracks as random; the leak is in plan_windows
    out = pd.Series(None, index=tracks.index, dtype=object)
    # an artist (or a group of identical recordings) is one unit across all genres, stratified by its
    # most common genre; a lone track's stratum is its own genre
    unit_key = split_units(tracks, method)
    if "test_only" in tracks and tracks["test_only"].fillna(False).astype(bool).any():
        forced = unit_key.isin(unit_key[tracks["test_only"].fillna(False).astype(bool)])
        out[forced] = "test"
        tracks, unit_key = tracks[~forced], split_units(tracks[~forced], method)
    major = tracks.groupby(unit_key)["label"].agg(lambda s: s.value_counts().sort_index().idxmax())
    strata = unit_key.map(major)
    for genre, group in tracks.groupby(strata, sort=True):
        rng = _rng(seed, "split", method, genre)
        units = [list(g.sort_values("track_id").index) for _, g in group.groupby(unit_key[group.index], sort=True)]
        target = np.array(_counts(len(group), fractions), dtype=float)
        chosen = _fill_by_deficit([len(units[i]) for i in range(len(units))], target, rng.permutation(len(units)))
        for unit, k in zip(units, chosen):
            out.loc[unit] = SPLITS[k]
    return out


def artist_coverage(tracks: pd.DataFrame) -> dict:
    """How many tracks have no artist, overall and per source.

    Parameters
    ----------
    tracks : DataFrame
        ``artist`` (None, NaN or ``''`` when unknown) and optionally ``source``.

    Returns
    -------
    coverage : dict
        ``n_tracks``, ``n_without_artist`` (ints) and ``without_artist_by_source`` (source -> count, only
        sources with at least one such track).
    """
    missing = ~has_artist(tracks)
    by_source = {}
    if "source" in tracks:
        by_source = {str(k): int(v) for k, v in tracks.loc[missing, "source"].value_counts().sort_index().items()}
    return {"n_tracks": int(len(tracks)), "n_without_artist": int(missing.sum()), "without_artist_by_source": by_source}


def artist_note(coverage: dict, method: str | None = None) -> str:
    """One sentence on what the artist split means for these tracks, true whatever the data.

    Parameters
    ----------
    coverage : dict
        From :func:`artist_coverage`.
    method : str, optional
        The split method in use; the sentence says whether the artist split is the one applied.

    Returns
    -------
    note : str
        E.g. ``'330 of 399 tracks have no artist (gtzan: 330). The artist split treats each of them as its own
        artist and keeps each named artist's tracks together in one split.'``
    """
    n, k = coverage["n_tracks"], coverage["n_without_artist"]
    where = coverage.get("without_artist_by_source") or {}
    detail = f" ({', '.join(f'{s}: {c:,}' for s, c in where.items())})" if where else ""
    which = "The artist split used for these tracks" if method == "artist" else "The artist split"
    if n == 0:
        return "There are no tracks, so the artist split has nothing to group."
    if k == 0:
        return f"All {n:,} tracks have an artist. {which} keeps each artist's tracks together in one split."
    if k == n:
        return (f"None of the {n:,} tracks has an artist{detail}. {which} therefore treats each track as its own "
                "artist: here it is a track split.")
    return (f"{k:,} of {n:,} tracks have no artist{detail}. {which} treats each of them as its own artist and "
            "keeps each named artist's tracks together in one split.")


def balanced_windows(tracks: pd.DataFrame, n_windows: int, segment_samples: int, seed: int,
                     split: str) -> tuple[pd.DataFrame, dict]:
    """Draw ``n_windows`` random windows, the same number per genre, from the tracks of one split.

    Each genre's quota is ``n_windows // 10`` (the remainder goes to the first genres in
    :data:`~genre_utils.genres.GENRES` order). Windows are drawn round-robin over the genre's tracks in a
    seeded random order, each at a uniformly random start, so a genre with few tracks gets more windows per
    track ("oversampling the minority classes" of the paper) and no track is favoured.

    Parameters
    ----------
    tracks : DataFrame
        Tracks of this split: ``track_id``, ``label`` and ``n_samples`` (decoded length in samples).
    n_windows : int
        Total number of windows wanted.
    segment_samples : int
        Window length in samples.
    seed : int
    split : str
        Name of the split (feeds the seed, so train and valid draws differ).

    Returns
    -------
    windows : DataFrame
        Columns ``track_id``, ``start`` (samples), one row per window, ordered by track then start.
    shortfall : dict
        Genre -> number of windows that could not be drawn because the split has no track of that genre.
    """
    quota = np.full(len(GENRES), n_windows // len(GENRES))
    quota[: n_windows % len(GENRES)] += 1
    rows, shortfall = [], {}
    for g, genre in enumerate(GENRES):
        group = tracks[tracks["label"] == genre].sort_values("track_id")
        if group.empty:
            if quota[g]:
                shortfall[genre] = int(quota[g])
            continue
        rng = _rng(seed, "windows", split, genre)
        order = rng.permutation(len(group))
        ids = group["track_id"].to_numpy()[order]
        spans = np.maximum(group["n_samples"].to_numpy()[order] - segment_samples, 0)
        picks = np.arange(quota[g]) % len(group)
        starts = rng.integers(0, spans[picks] + 1)
        rows.append(pd.DataFrame({"track_id": ids[picks], "start": starts.astype(np.int64)}))
    windows = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["track_id", "start"])
    return windows.sort_values(["track_id", "start"], kind="stable").reset_index(drop=True), shortfall


def consecutive_windows(tracks: pd.DataFrame, segment_samples: int, max_segments: int) -> pd.DataFrame:
    """Consecutive non-overlapping windows of every track (at most ``max_segments`` each).

    Returns
    -------
    windows : DataFrame
        Columns ``track_id``, ``start`` (samples), ordered by track then start.
    """
    rows = [
        pd.DataFrame({"track_id": tid, "start": segment_starts(n, segment_samples, max_segments)})
        for tid, n in zip(tracks["track_id"], tracks["n_samples"])
    ]
    windows = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["track_id", "start"])
    return windows.sort_values(["track_id", "start"], kind="stable").reset_index(drop=True)


def plan_windows(tracks: pd.DataFrame, *, n_train: int, n_valid: int, test_segments: int,
                 segment_samples: int, seed: int, split_method: str = "random") -> tuple[pd.DataFrame, dict]:
    """Every window the dataset will hold: balanced train and valid windows, consecutive test segments.

    Parameters
    ----------
    tracks : DataFrame
        Usable tracks with ``track_id``, ``label``, ``n_samples`` and ``split``.
    n_train, n_valid : int
        Balanced window counts (paper: 100,000 and 10,000).
    test_segments : int
        Windows per test track (paper: 6).
    segment_samples : int
    seed : int
    split_method : str
        ``'segment'`` draws the balanced train and valid windows from every track (all splits), so they share
        recordings with the test segments (the leaky ablation); any other method from the split's own tracks.

    Returns
    -------
    windows : DataFrame
        ``track_id``, ``start``, ``split``, ``kind`` ('window' = random balanced, 'segment' = consecutive),
        ordered train, valid, test (so each split is a contiguous block of rows), then track, then start.
    shortfall : dict
        Split -> {genre: windows missing}; empty when every quota was met.
    """
    parts, shortfall = [], {}
    for split, n in (("train", n_train), ("valid", n_valid)):
        pool = tracks if split_method == "segment" else tracks[tracks["split"] == split]
        w, short = balanced_windows(pool, n, segment_samples, seed, split)
        parts.append(w.assign(split=split, kind="window"))
        if short:
            shortfall[split] = short
    w = consecutive_windows(tracks[tracks["split"] == "test"], segment_samples, test_segments)
    parts.append(w.assign(split="test", kind="segment"))
    return pd.concat(parts, ignore_index=True), shortfall


def leak_summary(windows: pd.DataFrame, segment_samples: int) -> dict:
    """How much of the test set shares recordings with the training windows.

    Parameters
    ----------
    windows : DataFrame
        ``track_id``, ``start`` and ``split`` of every window (the plan of :func:`plan_windows`).
    segment_samples : int
        Window length in samples.

    Returns
    -------
    summary : dict
        ``test_windows``; ``test_windows_from_training_tracks``: test windows whose track also has a training
        window (0 under a track-level split, nearly all under ``segment``); ``test_windows_overlapping_training``:
        test windows that share samples with a training window of the same track; ``test_tracks`` and
        ``test_tracks_with_training_windows``.
    """
    test, train = windows[windows["split"] == "test"], windows[windows["split"] == "train"]
    shared = test["track_id"].isin(set(train["track_id"]))
    starts = {tid: np.sort(g.to_numpy(np.int64)) for tid, g in train.groupby("track_id")["start"]}
    overlapping = 0
    for tid, start in zip(test.loc[shared, "track_id"], test.loc[shared, "start"]):
        s = starts[tid]  # a training window [a, a + L) overlaps [start, start + L) when |a - start| < L
        lo = np.searchsorted(s, start - segment_samples, side="right")
        overlapping += bool(lo < s.size and s[lo] < start + segment_samples)
    return {"test_windows": int(len(test)), "test_windows_from_training_tracks": int(shared.sum()),
            "test_windows_overlapping_training": int(overlapping),
            "test_tracks": int(test["track_id"].nunique()),
            "test_tracks_with_training_windows": int(test.loc[shared, "track_id"].nunique())}
