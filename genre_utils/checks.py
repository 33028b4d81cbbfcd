"""What the store records about its tracks beyond "used" or "skipped": notes, duplicates, artist coverage.

:func:`genre_utils.store.build_dataset` calls :func:`annotate` after decoding every track (step 1) and
:func:`record` after splitting (step 2). The data page reads the results back through :func:`artist_sentence`,
:func:`notes_table` and :func:`genre_utils.duplicates.describe_duplicates`, so its sentences are true for
whatever data the store holds.

Notes (``tracks.csv`` column ``note``; the track is still used)
    * the metadata or header length disagrees with the decoded length by more than 2 s and 5 %;
    * a clip far shorter than its source's typical clip: under 80 % of the median decoded length of that
      source's usable tracks (a 12-s GTZAN clip among 30-s ones). Such a clip is *used* (it yields fewer
      windows; a clip shorter than one window is skipped as "too short"), and reported, never silently.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from .duplicates import duplicate_summary, duplicates_table, exact_groups, near_duplicates
from .provenance import atomic_write_csv
from .splits import artist_coverage, artist_note

__all__ = ["SHORT_FRACTION", "annotate", "record", "artist_sentence", "notes_table"]

#: A usable clip shorter than this fraction of its source's median length gets a note.
SHORT_FRACTION = 0.8
#: Decoded length off from the header/metadata length by more than this many seconds and this fraction.
_LENGTH_TOLERANCE = (2.0, 0.05)


def _join(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


def annotate(tracks: pd.DataFrame, sample_rate: int) -> pd.DataFrame:
    """Add ``dup_group`` and extend ``note`` for the usable tracks (``problem == ''``).

    Parameters
    ----------
    tracks : DataFrame
        Scanned tracks with the probe's columns ``n_samples`` (at ``sample_rate``), ``audio_sha1`` and
        ``problem``; ``duration`` (seconds, header or metadata) and ``note`` from the scan.
    sample_rate : int
        Hz of ``n_samples``.

    Returns
    -------
    tracks : DataFrame
        A copy with ``dup_group`` (``'dup-001'``, ... or ``''``; see :func:`genre_utils.duplicates.exact_groups`)
        and ``note`` (``''`` or ``'; '``-joined notes).
    """
    tracks = tracks.copy()
    usable = tracks["problem"] == ""
    digests = tracks["audio_sha1"].where(usable, "").astype(str)
    tracks["dup_group"] = exact_groups(pd.Series(digests.to_numpy(), index=tracks["track_id"])).to_numpy()
    notes = tracks["note"].fillna("").astype(str) if "note" in tracks else pd.Series("", index=tracks.index)
    seconds = tracks["n_samples"].astype(float) / sample_rate
    median = seconds[usable].groupby(tracks.loc[usable, "source"]).median()
    out = []
    for i in tracks.index:
        note = notes[i]
        if usable[i]:
            listed, actual = tracks.at[i, "duration"], seconds[i]
            sec, frac = _LENGTH_TOLERANCE
            if pd.notna(listed) and abs(listed - actual) > max(sec, frac * listed):
                note = _join(note, f"header/metadata length {listed:.1f} s, decodes to {actual:.1f} s "
                                   "(the decoded length is used)")
            typical = median.get(tracks.at[i, "source"], np.nan)
            if actual < SHORT_FRACTION * typical:
                note = _join(note, f"short clip: {actual:.1f} s, far shorter than this source's typical "
                                   f"{typical:.1f} s (used; it gives fewer windows)")
        out.append(note)
    tracks["note"] = out
    return tracks


def record(out, tracks: pd.DataFrame, fingerprints: list, split_method: str) -> dict:
    """Write ``duplicates.csv`` and ``near_duplicates.csv`` and return the ``dataset.json`` entries.

    Parameters
    ----------
    out : Path
        Store folder.
    tracks : DataFrame
        All tracks, aligned with ``fingerprints``, with ``problem``, ``dup_group``, ``note``, ``split``,
        ``artist``, ``label``, ``source``, ``track_id``, ``path``.
    fingerprints : list of ndarray, shape (n_frames, FP_BANDS)
        :func:`genre_utils.duplicates.fingerprint` of each track (empty for unusable ones).
    split_method : str

    Returns
    -------
    entries : dict
        ``duplicates`` (:func:`genre_utils.duplicates.duplicate_summary`), ``artist_split``
        (:func:`genre_utils.splits.artist_coverage` plus ``note``) and ``notes`` (counts of noted tracks).
        Under the artist split with tracks lacking an artist, the note is also printed as a warning line.
    """
    usable_mask = (tracks["problem"] == "").to_numpy()
    usable = tracks[usable_mask]
    atomic_write_csv(out / "duplicates.csv", duplicates_table(usable))
    fps = {tid: fp for tid, fp, ok in zip(tracks["track_id"], fingerprints, usable_mask) if ok}
    near, unchecked = near_duplicates(fps, usable.set_index("track_id")["label"],
                                      usable.set_index("track_id")["dup_group"])
    atomic_write_csv(out / "near_duplicates.csv", near)
    coverage = artist_coverage(usable)
    note = artist_note(coverage, split_method)
    if split_method == "artist" and coverage["n_without_artist"]:
        print(f"warning: {note}", file=sys.stderr, flush=True)
    notes = usable["note"].fillna("").astype(str)
    return {
        "duplicates": duplicate_summary(usable, near, unchecked, split_method),
        "artist_split": {**coverage, "note": note},
        "notes": {"n_tracks_with_note": int((notes != "").sum()),
                  "n_short_clips": int(notes.str.contains("short clip:", regex=False).sum()),
                  "n_length_mismatch": int(notes.str.contains("length", regex=False).sum())},
    }


def artist_sentence(ds) -> str:
    """The data page's sentence on tracks without an artist, from the store's ``dataset.json`` or tracks.

    Parameters
    ----------
    ds : genre_utils.dataset.Dataset

    Returns
    -------
    sentence : str
        E.g. ``'40 of 140 tracks have no artist (gtzan: 40). The artist split treats each of them as its own
        artist ...'``.
    """
    entry = ds.info.get("artist_split")
    if entry is None:  # a store built before this was recorded: count from tracks.csv
        used = ds.tracks[ds.tracks["status"] == "used"]
        entry = {**artist_coverage(used.replace({"artist": {"": None}})), "note": None}
    return entry.get("note") or artist_note(entry, ds.info.get("split_method"))


def notes_table(ds) -> pd.DataFrame:
    """Used tracks that carry a note (short clips, length disagreements), for the data page.

    Returns
    -------
    table : DataFrame
        Columns ``track_id, source, label, split, note``; no rows when nothing was noted (or for a store
        built before notes existed).
    """
    tracks = ds.tracks
    columns = ["track_id", "source", "label", "split", "note"]
    if "note" not in tracks:
        return pd.DataFrame(columns=columns)
    rows = tracks[(tracks["status"] == "used") & (tracks["note"].astype(str) != "")]
    return rows[columns].reset_index(drop=True)
