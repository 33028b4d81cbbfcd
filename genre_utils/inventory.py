"""What a built store holds, counted: the data page's numbers come from here, not from the notebook.

Every skipped entry of ``skipped.csv`` carries a reason written by the loaders and the store (the prefixes are
theirs): ``'unusable: ...'`` for a file whose audio failed the checks (:mod:`genre_utils.store`),
``'eliminated: ...'`` for an FMA track the genre mapping removed (:mod:`genre_utils.sources`), with
``'ambiguous: ...'`` inside it when the track mapped to two genres equally (:mod:`genre_utils.genres`);
anything else was rejected before its audio was read (system files, unreadable or empty files, missing
audio, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = ["SkipCounts", "skip_counts", "cross_split_pairs"]


@dataclass(frozen=True)
class SkipCounts:
    """How a store's entries were accounted for.

    Attributes
    ----------
    found, used, skipped : int
        Tracks found, tracks used, entries skipped (``dataset.json``).
    unusable : int
        Skipped after decoding: the audio failed the store's checks.
    before_audio : int
        Skipped before the audio was read (``skipped - unusable``).
    no_genre, ambiguous : int
        FMA tracks the genre mapping eliminated: with no genre among the ten, or tied between two.
    other_files : int
        The rest of ``before_audio``: system files, unreadable, empty, missing audio, ...
    unaccounted : int
        Tracks found that are neither used nor unusable (0 unless a rule changes).
    """

    found: int
    used: int
    skipped: int
    unusable: int
    before_audio: int
    no_genre: int
    ambiguous: int
    other_files: int
    unaccounted: int


def skip_counts(info: dict, skipped: pd.DataFrame) -> SkipCounts:
    """Count a store's skipped entries by kind of reason.

    Parameters
    ----------
    info : dict
        ``dataset.json`` (``n_tracks_found``, ``n_tracks_used``, ``n_skipped``).
    skipped : DataFrame
        ``skipped.csv`` (a ``reason`` column).
    """
    reason = skipped["reason"].astype(str) if len(skipped) else pd.Series([], dtype=str)
    unusable = int(reason.str.startswith("unusable").sum())
    ambiguous = int(reason.str.contains("ambiguous").sum())
    no_genre = int((reason.str.startswith("eliminated") & ~reason.str.contains("ambiguous")).sum())
    found, used, n_skipped = int(info["n_tracks_found"]), int(info["n_tracks_used"]), int(info["n_skipped"])
    before = n_skipped - unusable
    return SkipCounts(found=found, used=used, skipped=n_skipped, unusable=unusable, before_audio=before,
                      no_genre=no_genre, ambiguous=ambiguous, other_files=before - ambiguous - no_genre,
                      unaccounted=found - used - unusable)


def cross_split_pairs(near: pd.DataFrame, split_of: pd.Series) -> tuple[int, int]:
    """Near-duplicate pairs whose two tracks landed in different splits.

    Parameters
    ----------
    near : DataFrame
        ``near_duplicates.csv`` (columns ``track_a``, ``track_b``); may be empty.
    split_of : Series
        Split of each track id (``train``, ``valid``, ``test``; ``''`` or missing for a track not used, as
        :attr:`genre_utils.dataset.Dataset.track_splits` gives it, whose pairs count in no split).

    Returns
    -------
    n_cross, n_train_test : int
        Pairs in two different splits, and among them the pairs with one track in train and one in test.
    """
    if len(near) == 0:
        return 0, 0
    pairs = [{a, b} for a, b in zip(near["track_a"].map(split_of), near["track_b"].map(split_of))
             if _in_a_split(a) and _in_a_split(b)]   # a track in no split is in none of them
    return sum(len(p) > 1 for p in pairs), sum(p == {"train", "test"} for p in pairs)


def _in_a_split(split) -> bool:
    return isinstance(split, str) and split != ""
