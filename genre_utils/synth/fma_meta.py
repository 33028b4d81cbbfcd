"""The FMA side of the corpus: which tracks exist, their artists and splits, and ``tracks.csv``.

:func:`plan_fma` draws the tracks (unbalanced like ``fma_medium``, with groups outside the ten labels that
the pipeline must eliminate), :func:`fma_tracks_table` writes their metadata in the real 52-column,
two-level-header format.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..genres import FMA_TRACKS_COLUMNS, GENRES, fma_genre_top, fma_genres_all, load_fma_genres
from .artists import artist_names, invented_title
from .seeding import pick, seeded_rng

__all__ = ["FMA_KBPS", "FMA_MIX", "FmaTrack", "fma_counts", "fma_relpath", "plan_fma", "fma_tracks_table"]

#: Bit rate of the FMA-layout MP3 files (kbit/s).
FMA_KBPS = 64


#: The FMA side of the corpus: group, fma_medium track count (the weight), genre-id variants (a track's
#: ``track.genres``), and the styles its audio is composed in: the ten genres' own, and for the groups outside
#: them their own sheets (:data:`genre_utils.styles.FOREIGN_STYLES`), the corpus's open set. Groups outside the
#: ten labels (and the ``ambiguous`` multi-genre tags) must be eliminated by the pipeline; Metal, Disco and
#: Reggae - Dub are sub-genres, so only ``track.genres``/``genres_all`` reveal them.
FMA_MIX: tuple[tuple, ...] = (
    ("rock", 6200, ((12,), (66,), (25,), (12, 66), (27,), (45,), (12, 15)), ("rock",)),
    ("electronic", 6314, ((15,), (181,), (182,), (296,), (286,), (15, 236)), ("electronic",)),
    ("experimental", 2251, ((38,), (1,), (250,), (38, 47), (32,)), ("experimental",)),
    ("hiphop", 2201, ((21,), (21, 100), (539,), (811,), (21, 15)), ("hiphop",)),
    ("folk", 1519, ((17,), (103,), (17, 33)), ("folk",)),
    ("instrumental", 1350, ((1235,),), ("instrumental",)),
    ("pop", 1186, ((10,), (76,), (362,), (10, 76)), ("pop",)),
    ("metal", 900, ((31,), (101,), (31, 12), (167,), (31, 45)), ("metal",)),
    ("international", 768, ((2,),), ("international",)),
    ("classical", 619, ((5,), (322,), (442,), (659,)), ("classical",)),
    ("old-time", 510, ((8,),), ("old-time",)),
    ("jazz", 384, ((4,), (179,), (906,)), ("jazz",)),
    ("reggae", 250, ((79,), (602,), (79, 2)), ("reggae",)),
    ("ambiguous", 200, ((3, 4), (9, 10), (10, 12)), ("blues", "country", "pop")),
    ("country", 178, ((9,), (63,), (137,), (651,)), ("country",)),
    ("spoken", 118, ((20,),), ("spoken",)),
    ("soul-rnb", 94, ((14,), (19,)), ("soul-rnb",)),
    ("blues", 74, ((3,),), ("blues",)),
    ("disco", 60, ((11,), (11, 14)), ("disco",)),
    ("easy-listening", 21, ((13,),), ("easy-listening",)),
)

#: fma_small holds 8 top genres; tracks of these may be marked subset 'small'.
_SMALL_TOPS = {"Electronic", "Experimental", "Folk", "Hip-Hop", "Instrumental", "International", "Pop", "Rock"}

def fma_counts(n_tracks: int) -> dict[str, int]:
    """Tracks per :data:`FMA_MIX` group: two for each of the ten labels first, the rest by fma_medium weight.

    With fewer than 20 tracks the labels get one each, in order of weight, until tracks run out.
    """
    counts = {group: 0 for group, *_ in FMA_MIX}
    labelled = sorted((g for g, *_ in FMA_MIX if g in GENRES), key=lambda g: -dict((x[0], x[1]) for x in FMA_MIX)[g])
    left = int(n_tracks)
    for _ in range(2):
        for g in labelled:
            if left > 0:
                counts[g] += 1
                left -= 1
    weights = np.array([w for _, w, *_ in FMA_MIX], dtype=float)
    share = weights / weights.sum() * left
    extra = np.floor(share).astype(int)
    for i in np.argsort(-(share - extra), kind="stable")[: left - extra.sum()]:  # largest remainders
        extra[i] += 1
    for (group, *_), k in zip(FMA_MIX, extra):
        counts[group] += int(k)
    return counts


def _date(rng, first="2008-11-25", last="2017-03-30") -> str:
    t0, t1 = pd.Timestamp(first).value // 10**9, pd.Timestamp(last).value // 10**9
    return str(pd.Timestamp(int(rng.integers(t0, t1)), unit="s"))


@dataclass(frozen=True)
class FmaTrack:
    track_id: int
    group: str
    genre_ids: tuple
    style: str          # the genre whose style the audio is composed in
    shift: bool
    artist: int         # index into the artist list
    split: str
    seconds: float      # length of the audio actually written (metadata always says clip_seconds)
    audio: str          # 'ok' | 'empty' | 'missing' | 'short'

    @property
    def relpath(self) -> str:
        return fma_relpath(self.track_id)


def fma_relpath(track_id: int) -> str:
    """Audio path of an FMA track relative to ``out_dir`` (``fma/fma_medium/NNN/NNNNNN.mp3``)."""
    tid = f"{int(track_id):06d}"
    return f"fma/fma_medium/{tid[:3]}/{tid}.mp3"


SPLIT_FRACTIONS = {"training": 0.8, "validation": 0.1, "test": 0.1}


def _artists_and_splits(groups: list[str], rng) -> tuple[list[int], list[str]]:
    """Artist of every track and split of every artist (so the split is artist-filtered, as in FMA).

    Each group's tracks are cut into artists of 1-5 tracks; artists are then dealt, in random order, to
    the split furthest below its target share (:data:`SPLIT_FRACTIONS`) within the group and overall.

    Returns
    -------
    artist_of : list of int
        Artist index of each track.
    split_of : list of str
        Split of each artist.
    """
    artist_of = [0] * len(groups)
    split_of: list[str] = []
    overall = dict.fromkeys(SPLIT_FRACTIONS, 0)
    for group in dict.fromkeys(groups):
        members = [i for i, g in enumerate(groups) if g == group]
        sizes = []
        while sum(sizes) < len(members):
            sizes.append(min(int(rng.integers(1, 6)), len(members) - sum(sizes)))
        first = len(split_of)
        for k, m in enumerate(members):
            artist_of[m] = first + int(np.searchsorted(np.cumsum(sizes), k, side="right"))
        here = dict.fromkeys(SPLIT_FRACTIONS, 0)
        split_of.extend([""] * len(sizes))
        for a in rng.permutation(len(sizes)):
            size = sizes[a]

            def deficit(split):
                return (SPLIT_FRACTIONS[split] * (sum(here.values()) + size) - here[split]
                        + SPLIT_FRACTIONS[split] * (sum(overall.values()) + size) - overall[split])

            split = max(SPLIT_FRACTIONS, key=deficit)
            split_of[first + int(a)] = split
            here[split] += size
            overall[split] += size
    return artist_of, split_of


def plan_fma(n_tracks: int, clip_seconds: float, seed: int) -> tuple[list[FmaTrack], list[str]]:
    """The FMA tracks (``n_tracks`` good ones plus three broken) and artist names, all from ``seed``."""
    rng = seeded_rng("fma-plan", int(seed))
    counts = fma_counts(n_tracks)
    specs = []  # (group, genre ids, style, shift, audio)
    for group, _, variants, styles in FMA_MIX:
        for _ in range(counts[group]):
            # the 'ambiguous' tags sound like a shifted labelled genre; foreign groups play their own sheets
            specs.append((group, pick(rng, variants), pick(rng, styles), group == "ambiguous", "ok"))
    specs += [("rock", (12,), "rock", False, "empty"), ("hiphop", (21,), "hiphop", False, "missing"),
              ("pop", (10,), "pop", False, "short")]
    ids = np.sort(rng.choice(np.arange(2, 155321), size=len(specs), replace=False))
    order = rng.permutation(len(specs))  # ids are not grouped by genre
    artist_of, split_of = _artists_and_splits([group for group, *_ in specs], rng)
    tracks = []
    for i, (group, gids, style, shift, audio) in enumerate(specs):
        seconds = 2.5 if audio == "short" else float(clip_seconds)
        tracks.append(FmaTrack(int(ids[order[i]]), group, tuple(gids), style, shift, artist_of[i],
                               split_of[artist_of[i]], seconds, audio))
    tracks.sort(key=lambda t: t.track_id)
    return tracks, artist_names(len(split_of), rng)


def fma_tracks_table(tracks: list[FmaTrack], artist_names: list[str], clip_seconds: float, seed: int) -> pd.DataFrame:
    """``tracks.csv`` as the real FMA writes it: 52 columns under a two-level header, index ``track_id``."""
    genres = load_fma_genres()
    rng = seeded_rng("fma-table", int(seed))
    artist_ids = np.sort(rng.choice(np.arange(1, 25000), size=len(artist_names), replace=False))
    artist_date = [_date(rng) for _ in artist_names]
    rows = {}
    for t in tracks:
        album_id = int(artist_ids[t.artist]) * 3 % 22000 + int(rng.integers(2))
        top = fma_genre_top(t.genre_ids, genres) or np.nan
        rows[t.track_id] = {
            ("album", "comments"): 0, ("album", "date_created"): artist_date[t.artist],
            ("album", "date_released"): _date(rng) if rng.random() < 0.6 else np.nan,
            ("album", "engineer"): np.nan, ("album", "favorites"): int(rng.integers(0, 8)),
            ("album", "id"): album_id, ("album", "information"): np.nan,
            ("album", "listens"): int(rng.integers(50, 50000)), ("album", "producer"): np.nan,
            ("album", "tags"): "[]", ("album", "title"): invented_title(rng),
            ("album", "tracks"): int(rng.integers(1, 16)), ("album", "type"): "Album",
            ("artist", "active_year_begin"): np.nan, ("artist", "active_year_end"): np.nan,
            ("artist", "associated_labels"): np.nan, ("artist", "bio"): np.nan, ("artist", "comments"): 0,
            ("artist", "date_created"): artist_date[t.artist], ("artist", "favorites"): int(rng.integers(0, 30)),
            ("artist", "id"): int(artist_ids[t.artist]), ("artist", "latitude"): np.nan,
            ("artist", "location"): np.nan, ("artist", "longitude"): np.nan, ("artist", "members"): np.nan,
            ("artist", "name"): artist_names[t.artist], ("artist", "related_projects"): np.nan,
            ("artist", "tags"): "[]", ("artist", "website"): np.nan, ("artist", "wikipedia"): np.nan,
            ("set", "split"): t.split,
            ("set", "subset"): "small" if top in _SMALL_TOPS and rng.random() < 0.3 else "medium",
            ("track", "bit_rate"): FMA_KBPS * 1000, ("track", "comments"): 0, ("track", "composer"): np.nan,
            ("track", "date_created"): _date(rng), ("track", "date_recorded"): np.nan,
            ("track", "duration"): int(round(clip_seconds)), ("track", "favorites"): int(rng.integers(0, 10)),
            ("track", "genre_top"): top, ("track", "genres"): str(list(t.genre_ids)),
            ("track", "genres_all"): str(fma_genres_all(t.genre_ids, genres)), ("track", "information"): np.nan,
            ("track", "interest"): int(rng.integers(20, 20000)),
            ("track", "language_code"): "en" if rng.random() < 0.4 else np.nan,
            ("track", "license"): "Attribution-NonCommercial-ShareAlike 3.0 International",
            ("track", "listens"): int(rng.integers(10, 10000)), ("track", "lyricist"): np.nan,
            ("track", "number"): int(rng.integers(1, 12)), ("track", "publisher"): np.nan, ("track", "tags"): "[]",
            ("track", "title"): invented_title(rng),
        }
    columns = pd.MultiIndex.from_tuples(FMA_TRACKS_COLUMNS)
    table = pd.DataFrame.from_dict(rows, orient="index")[columns]
    table.index.name = "track_id"
    return table
