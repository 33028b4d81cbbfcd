"""Identical and near-identical recordings among a store's tracks.

Real collections repeat themselves: FMA ``full``/``large`` hold byte-identical files under different track
ids, and GTZAN holds exact replicas (Sturm 2013, "The GTZAN dataset: its contents, its faults, ..."). A
recording in both the training and the test split inflates every result, so the store finds them:

Exact duplicates
    Tracks whose *decoded* audio is identical: the SHA-1 of the mono samples at the store's rate, quantised
    to 16-bit PCM (:func:`genre_utils.audio.audio_digest`). File name, folder, container and channel layout
    do not matter: a WAV, an AU and a FLAC of the same 16-bit samples, in two genre folders, are one group.
    MP3 is lossy, so an MP3 copy decodes to different samples and is *not* an exact duplicate of its WAV
    original; the near-duplicate check below reports it instead. :func:`exact_groups` names the groups; the
    store passes them to :func:`genre_utils.splits.split_tracks`, which keeps each group in one split under
    ``random`` and ``artist``, and writes them to ``duplicates.csv``.
Near duplicates (reported, never grouped)
    The same recording cut or encoded differently: an excerpt of one track that reappears in another (GTZAN's
    overlapping excerpts of one song), or a lossy copy. :func:`fingerprint` reduces a track to coarse
    log-energies in 12 frequency bands every 186 ms; :func:`near_duplicates` cuts each track into 3-s blocks
    and looks for each block, at every frame offset, in the other tracks of the same genre (normalised
    correlation after removing each block's per-band and per-frame means, so only the pattern over time and
    frequency counts, not loudness or timbre). Pairs with at least two blocks above the threshold are
    *candidates* for a listener to judge, written to ``near_duplicates.csv``. Any overlap of 9 s or more
    holds two whole blocks and is found; shorter overlaps may be missed. Excerpts of one song that do not
    overlap in time are not found (they share no audio), and neither are copies filed under different genres.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .provenance import read_csv

__all__ = [
    "FP_FRAME", "FP_HOP", "FP_BANDS", "FP_MAX_SECONDS", "NEAR_BLOCK_FRAMES", "NEAR_THRESHOLD", "NEAR_MIN_BLOCKS",
    "NEAR_MAX_TRACKS", "fingerprint", "exact_groups", "duplicates_table", "near_duplicates", "pack_fingerprints",
    "unpack_fingerprints", "duplicate_summary", "describe_duplicates",
]

#: Fingerprint frame and hop in samples at the store's rate (22,050 Hz: 372 ms frames every 186 ms).
FP_FRAME, FP_HOP = 8192, 4096
#: Number of log-spaced frequency bands between 100 Hz and 8 kHz.
FP_BANDS = 12
#: Only the first minute of a track is fingerprinted (GTZAN and FMA clips are 30 s).
FP_MAX_SECONDS = 60.0
#: Block length in fingerprint frames (16 frames, about 3 s).
NEAR_BLOCK_FRAMES = 16
#: Normalised correlation above which a block counts as found in another track.
NEAR_THRESHOLD = 0.8
#: Blocks (about 3 s each) of one track that must be found in the other for a candidate pair.
NEAR_MIN_BLOCKS = 2
#: Genres with more tracks than this are not checked for near duplicates (the cost grows as the square);
#: the store records which were left out.
NEAR_MAX_TRACKS = 1000
#: Blocks whose pattern has less spread than this (silence, a held tone) are not searched for.
_MIN_BLOCK_STD = 1e-3


def fingerprint(y: np.ndarray, sample_rate: int) -> np.ndarray:
    """Coarse time-frequency fingerprint: log band energies of the first minute of a track.

    Parameters
    ----------
    y : ndarray, shape (n_samples,), float32
        Mono samples.
    sample_rate : int
        Hz; frames of :data:`FP_FRAME` samples every :data:`FP_HOP` samples (scaled for rates other than
        22,050 Hz so frames keep their duration).

    Returns
    -------
    fp : ndarray, shape (n_frames, FP_BANDS), float16
        ``log10`` of the energy in each band (Hann-windowed FFT), one row per frame; no rows for a signal
        shorter than one frame.
    """
    scale = sample_rate / 22050
    frame, hop = int(round(FP_FRAME * scale)), int(round(FP_HOP * scale))
    y = np.asarray(y[: int(FP_MAX_SECONDS * sample_rate)], dtype=np.float32)
    if y.size < frame:
        return np.zeros((0, FP_BANDS), np.float16)
    frames = np.lib.stride_tricks.sliding_window_view(y, frame)[::hop]
    power = np.abs(np.fft.rfft(frames * np.hanning(frame).astype(np.float32), axis=1)) ** 2
    freqs = np.fft.rfftfreq(frame, 1 / sample_rate)
    edges = np.geomspace(100.0, min(8000.0, sample_rate / 2), FP_BANDS + 1)
    band = np.clip(np.searchsorted(edges, freqs, side="right") - 1, -1, FP_BANDS)
    energy = np.zeros((len(frames), FP_BANDS))
    for b in range(FP_BANDS):
        energy[:, b] = power[:, band == b].sum(axis=1)
    return np.log10(energy + 1e-10).astype(np.float16)


def pack_fingerprints(fps: list[np.ndarray]) -> dict:
    """Concatenate fingerprints for ``np.savez``: ``frames`` (sum of n_frames, FP_BANDS) and ``offsets`` (n + 1,)."""
    offsets = np.concatenate([[0], np.cumsum([len(f) for f in fps])]).astype(np.int64)
    frames = np.concatenate(fps) if fps else np.zeros((0, FP_BANDS), np.float16)
    return {"frames": frames.astype(np.float16), "offsets": offsets}


def unpack_fingerprints(packed) -> list[np.ndarray]:
    """Inverse of :func:`pack_fingerprints` (accepts the ``np.load`` result)."""
    frames, offsets = packed["frames"], packed["offsets"]
    return [frames[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]


def exact_groups(digests: pd.Series) -> pd.Series:
    """Name the groups of tracks with identical decoded audio.

    Parameters
    ----------
    digests : Series of str
        :func:`genre_utils.audio.audio_digest` of each track, indexed by track id (``''`` = unknown, never
        grouped).

    Returns
    -------
    group : Series of str, same index
        ``'dup-001'``, ``'dup-002'``, ... for tracks sharing their digest with another track (numbered in the
        order of each group's smallest track id); ``''`` for the others.
    """
    digests = digests.fillna("").astype(str)
    known = digests[digests != ""]
    counts = known.value_counts()
    shared = known[known.map(counts) > 1]
    first = shared.groupby(shared).apply(lambda s: min(map(str, s.index)))
    names = {d: f"dup-{i + 1:03d}" for i, d in enumerate(first.sort_values().index)}
    return digests.map(lambda d: names.get(d, "")).astype(object)


def duplicates_table(tracks: pd.DataFrame) -> pd.DataFrame:
    """One row per track that belongs to a group of identical recordings (``duplicates.csv``).

    Parameters
    ----------
    tracks : DataFrame
        With ``dup_group`` plus ``track_id``, ``source``, ``label``, ``path`` and, where known, ``split``.

    Returns
    -------
    table : DataFrame
        Columns ``group, track_id, source, label, split, path``, ordered by group then track id; no rows
        (but the columns) when there are no duplicates.
    """
    columns = ["group", "track_id", "source", "label", "split", "path"]
    if "dup_group" not in tracks:
        return pd.DataFrame(columns=columns)
    rows = tracks[tracks["dup_group"].fillna("") != ""].rename(columns={"dup_group": "group"})
    rows = rows.assign(split=rows["split"] if "split" in rows else None)
    return rows[columns].sort_values(["group", "track_id"]).reset_index(drop=True)


def _blocks_and_windows(fp: np.ndarray, length: int):
    """Non-overlapping blocks and all sliding windows of one fingerprint, each double-centred and normalised.

    Returns
    -------
    blocks : ndarray, shape (n_blocks, length * FP_BANDS), float32 (rows of too little spread dropped)
    block_starts : ndarray of int, shape (n_blocks,)
        First frame of each block.
    windows : ndarray, shape (n_frames - length + 1, length * FP_BANDS), float32
    """
    x = np.asarray(fp, np.float32)
    if len(x) < length:
        empty = np.zeros((0, length * x.shape[1]), np.float32)
        return empty, np.zeros(0, np.int64), empty
    win = np.lib.stride_tricks.sliding_window_view(x, length, axis=0).transpose(0, 2, 1)  # (n, length, bands)
    win = win - win.mean(axis=1, keepdims=True)   # per band over time: timbre and loudness per band
    win = win - win.mean(axis=2, keepdims=True)   # per frame over bands: overall level changes
    flat = win.reshape(len(win), -1)
    norm = np.linalg.norm(flat, axis=1, keepdims=True)
    spread = norm[:, 0] / np.sqrt(flat.shape[1])
    flat = flat / np.maximum(norm, 1e-12)
    starts = np.arange(0, len(win), length)
    starts = starts[spread[starts] >= _MIN_BLOCK_STD]
    return flat[starts], starts, flat


def near_duplicates(fps: dict, labels: pd.Series, exclude: pd.Series | None = None, *,
                    threshold: float = NEAR_THRESHOLD, min_blocks: int = NEAR_MIN_BLOCKS,
                    max_tracks: int = NEAR_MAX_TRACKS) -> tuple[pd.DataFrame, list[str]]:
    """Candidate pairs of tracks that share a stretch of the same audio, within each genre.

    Parameters
    ----------
    fps : dict of str to ndarray, shape (n_frames, FP_BANDS)
        :func:`fingerprint` of each track, by track id.
    labels : Series of str
        Genre of each track, indexed by track id; only tracks of one genre are compared.
    exclude : Series of str, optional
        Exact-duplicate group of each track (``''`` for none); pairs within one group are not reported.
    threshold : float
        Normalised correlation (-1 .. 1) above which a 3-s block counts as found.
    min_blocks : int
        Blocks of one track that must be found in the other.
    max_tracks : int
        Genres with more tracks are left out (returned in ``unchecked``).

    Returns
    -------
    pairs : DataFrame
        Columns ``track_a, track_b`` (``track_a < track_b``), ``label``, ``blocks_found`` (blocks of one track
        found in the other, the larger of the two directions), ``blocks`` (blocks of that track),
        ``similarity`` (highest block correlation), ``offset_a``, ``offset_b`` (seconds at which the best
        block starts in each track, at 22,050 Hz), sorted by ``track_a, track_b``.
    unchecked : list of str
        Genres not checked because they hold more than ``max_tracks`` tracks.
    """
    columns = ["track_a", "track_b", "label", "blocks_found", "blocks", "similarity", "offset_a", "offset_b"]
    exclude = exclude if exclude is not None else pd.Series("", index=labels.index)
    frame_s = FP_HOP / 22050
    found: dict[tuple[str, str], list] = {}
    unchecked = []
    for label, ids in labels.groupby(labels, sort=True):
        ids = sorted(map(str, ids.index))
        if len(ids) > max_tracks:
            unchecked.append(str(label))
            continue
        parts = [_blocks_and_windows(fps[t], NEAR_BLOCK_FRAMES) for t in ids]
        if sum(len(p[2]) for p in parts) == 0:
            continue
        windows = np.concatenate([p[2] for p in parts])
        owner = np.concatenate([np.full(len(p[2]), i) for i, p in enumerate(parts)])
        bounds = np.concatenate([[0], np.cumsum([len(p[2]) for p in parts])])
        nonempty = np.flatnonzero(np.diff(bounds) > 0)
        for a, (blocks, starts, _) in enumerate(parts):
            if len(blocks) == 0:
                continue
            sim = blocks @ windows.T                                   # (n_blocks, n_windows)
            sim[:, owner == a] = -1.0
            best = np.full((len(blocks), len(ids)), -1.0, np.float32)
            best[:, nonempty] = np.maximum.reduceat(sim, bounds[nonempty], axis=1)
            hits = (best >= threshold).sum(axis=0)
            for b in np.flatnonzero(hits >= min_blocks):
                ta, tb = ids[a], ids[b]
                if exclude.get(ta, "") and exclude.get(ta, "") == exclude.get(tb, ""):
                    continue
                k = int(np.argmax(best[:, b]))
                pos = int(np.argmax(sim[k, bounds[b]:bounds[b + 1]]))
                off_a, off_b = starts[k] * frame_s, pos * frame_s
                row = [int(hits[b]), len(blocks), float(best[k, b])]
                key, offsets = ((ta, tb), (off_a, off_b)) if ta < tb else ((tb, ta), (off_b, off_a))
                if key not in found or row[0] > found[key][1]:
                    found[key] = [str(label), *row, round(offsets[0], 2), round(offsets[1], 2)]
    pairs = pd.DataFrame([[*k, *v] for k, v in sorted(found.items())], columns=columns)
    pairs["similarity"] = pairs["similarity"].astype(float).round(4)
    return pairs, unchecked


def duplicate_summary(tracks: pd.DataFrame, near: pd.DataFrame, unchecked: list[str],
                      split_method: str) -> dict:
    """The ``duplicates`` entry of ``dataset.json``.

    Parameters
    ----------
    tracks : DataFrame
        Usable tracks with ``dup_group`` and ``split``.
    near : DataFrame
        From :func:`near_duplicates`.
    unchecked : list of str
        Genres the near-duplicate check left out.
    split_method : str

    Returns
    -------
    summary : dict
        ``n_groups``, ``n_tracks_in_groups``, ``n_extra_copies`` (tracks beyond the first of each group),
        ``groups_spanning_splits`` (0 under random and artist; may be positive under official, whose lists
        are kept as published), ``n_near_candidates``, ``near_unchecked_genres`` and ``method`` (one line
        saying how both checks work).
    """
    grouped = tracks[tracks["dup_group"].fillna("") != ""]
    spans = grouped.groupby("dup_group")["split"].nunique(dropna=True) if len(grouped) else pd.Series(dtype=int)
    return {
        "n_groups": int(grouped["dup_group"].nunique()),
        "n_tracks_in_groups": int(len(grouped)),
        "n_extra_copies": int(len(grouped) - grouped["dup_group"].nunique()),
        "groups_spanning_splits": int((spans > 1).sum()),
        "split_method": split_method,
        "n_near_candidates": int(len(near)),
        "near_unchecked_genres": list(unchecked),
        "method": ("exact: SHA-1 of the decoded mono samples at the store's rate, quantised to 16-bit PCM "
                   "(lossless copies match whatever their name, folder or format; MP3 copies do not); near: "
                   f"3-s blocks of a {FP_BANDS}-band log-energy fingerprint found in another track of the same "
                   f"genre with correlation >= {NEAR_THRESHOLD} ({NEAR_MIN_BLOCKS}+ blocks), reported only"),
    }


def describe_duplicates(ds) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """What a store found: a sentence for the data page and the two tables behind it.

    Parameters
    ----------
    ds : genre_utils.dataset.Dataset
        An opened store (reads ``duplicates.csv``, ``near_duplicates.csv`` and ``dataset.json``).

    Returns
    -------
    sentence : str
        Markdown, true for whatever the store holds (including a store built before these checks existed).
    duplicates : DataFrame
        ``duplicates.csv`` (group, track_id, source, label, split, path), possibly empty.
    near : DataFrame
        ``near_duplicates.csv``, possibly empty.
    """
    summary = ds.info.get("duplicates")
    dup_path, near_path = ds.root / "duplicates.csv", ds.root / "near_duplicates.csv"
    if summary is None or not dup_path.is_file():
        return ("This store was built before duplicates were checked; rebuild it to check them.",
                pd.DataFrame(), pd.DataFrame())
    dups = read_csv(dup_path, keep_default_na=False, dtype=str)
    near = read_csv(near_path, keep_default_na=False) if near_path.is_file() else pd.DataFrame()
    n_groups, n_tracks = summary["n_groups"], summary["n_tracks_in_groups"]
    if n_groups == 0:
        text = "No two usable tracks have identical decoded audio."
    else:
        text = (f"{n_tracks:,} usable tracks fall into {n_groups:,} group(s) of identical decoded audio "
                f"({summary['n_extra_copies']:,} extra cop{'y' if summary['n_extra_copies'] == 1 else 'ies'}); ")
        if summary["split_method"] in ("random", "artist"):
            text += "each group was split as one unit, so no recording is in two splits."
        elif summary["split_method"] == "segment":
            text += ("each group was split as one unit, but the segment split draws training windows from every "
                     "track, so recordings are in two splits by design.")
        else:
            text += (f"the {summary['split_method']} split keeps its lists as published, and "
                     f"{summary['groups_spanning_splits']:,} group(s) span two splits.")
    n_near = summary["n_near_candidates"]
    text += (f" The near-duplicate check (an excerpt of one track found in another of the same genre) reports "
             f"{n_near:,} candidate pair{'' if n_near == 1 else 's'}, listed for inspection and not grouped.")
    if summary["near_unchecked_genres"]:
        text += (" Genres with more than " f"{NEAR_MAX_TRACKS:,} tracks were not checked: "
                 f"{', '.join(summary['near_unchecked_genres'])}.")
    return text, dups, near
