"""The ten project genres and the mapping of Free Music Archive (FMA) genres onto them.

The project labels are GTZAN's ten genres. FMA has 163 genres in a tree (``genres.csv``) whose 16 roots are
the "top-level" genres; three GTZAN genres are not roots there: Disco (under Soul-RnB), Metal (under Rock)
and Reggae (``Reggae - Dub``, under International). So the mapping works on the tree, not on
``genre_top``: every FMA genre is mapped to its nearest *anchor* — itself or its closest ancestor that is
one of the anchors below — and a track's candidate labels are those of its ``track.genres`` ids.

Precedence rule when a track's genres map to several labels
-----------------------------------------------------------
1. the label whose anchor lies deepest in the tree wins (a sub-genre anchor such as Metal beats its parent
   Rock: a track tagged ``[Rock, Metal]`` is metal);
2. on equal depth, the label supported by more of the track's genre ids wins;
3. still tied: the track is *ambiguous* and eliminated with that reason (e.g. ``[Blues, Jazz]``).

Tracks none of whose genres reach an anchor (Electronic, Folk, Experimental, ...) are eliminated and
counted, as in step 3 of the paper's section 4.2.
"""

from __future__ import annotations

import functools
from collections import Counter
from importlib import resources

import pandas as pd

__all__ = [
    "GENRES",
    "FMA_ANCHORS",
    "FMA_TRACKS_COLUMNS",
    "fma_genres_all",
    "fma_genre_top",
    "load_fma_genres",
    "fma_anchor_of",
    "map_fma_track",
    "normalise_label",
]

#: The ten project labels, in GTZAN's (alphabetical) order. Class index = position in this tuple.
GENRES: tuple[str, ...] = (
    "blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock",
)

#: FMA genre id -> project label, for the genres whose subtree maps to one label.
FMA_ANCHORS: dict[int, str] = {
    3: "blues",       # Blues (top level)
    5: "classical",   # Classical (top level)
    9: "country",     # Country (top level)
    11: "disco",      # Disco, under Soul-RnB
    21: "hiphop",     # Hip-Hop (top level)
    4: "jazz",        # Jazz (top level)
    31: "metal",      # Metal, under Rock
    10: "pop",        # Pop (top level)
    79: "reggae",     # Reggae - Dub, under International
    12: "rock",       # Rock (top level)
}


#: The 52 columns of FMA's ``tracks.csv`` (two levels: group, name), in the real file's order.
FMA_TRACKS_COLUMNS: tuple[tuple[str, str], ...] = tuple(
    (group, name) for group, names in (
        ("album", ("comments", "date_created", "date_released", "engineer", "favorites", "id", "information",
                   "listens", "producer", "tags", "title", "tracks", "type")),
        ("artist", ("active_year_begin", "active_year_end", "associated_labels", "bio", "comments",
                    "date_created", "favorites", "id", "latitude", "location", "longitude", "members", "name",
                    "related_projects", "tags", "website", "wikipedia")),
        ("set", ("split", "subset")),
        ("track", ("bit_rate", "comments", "composer", "date_created", "date_recorded", "duration", "favorites",
                   "genre_top", "genres", "genres_all", "information", "interest", "language_code", "license",
                   "listens", "lyricist", "number", "publisher", "tags", "title")),
    ) for name in names
)


def fma_genres_all(genre_ids, genres: pd.DataFrame) -> list[int]:
    """The ids and all their ancestors, sorted: what FMA's ``track.genres_all`` lists for ``track.genres``."""
    found = set()
    for gid in genre_ids:
        gid = int(gid)
        while gid and gid in genres.index and gid not in found:
            found.add(gid)
            gid = int(genres.at[gid, "parent"])
    return sorted(found)


def fma_genre_top(genre_ids, genres: pd.DataFrame) -> str | None:
    """FMA's ``track.genre_top``: the one top-level genre all ``genre_ids`` descend from, else None."""
    roots = {g for g in fma_genres_all(genre_ids, genres) if int(genres.at[g, "parent"]) == 0}
    return str(genres.at[roots.pop(), "title"]) if len(roots) == 1 else None


def normalise_label(title: str) -> str:
    """Turn a genre title into the project's spelling: lower case, letters only (``'Hip-Hop'`` -> ``'hiphop'``)."""
    return "".join(ch for ch in title.lower() if ch.isalpha())


@functools.lru_cache(maxsize=None)
def _packaged_genres() -> pd.DataFrame:
    with resources.files("genre_utils").joinpath("data/fma_genres.csv").open("rb") as fh:
        return pd.read_csv(fh, index_col=0)


def load_fma_genres(path=None) -> pd.DataFrame:
    """Read an FMA ``genres.csv`` (columns ``#tracks, parent, title, top_level``, index ``genre_id``).

    Parameters
    ----------
    path : path-like, optional
        A dataset's own ``fma_metadata/genres.csv``; by default the copy shipped with the package.
    """
    if path is None:
        return _packaged_genres().copy()
    table = pd.read_csv(path, index_col=0)
    missing = {"parent", "title"} - set(table.columns)
    if missing or table.index.name != "genre_id":
        raise ValueError(f"{path}: not an FMA genres.csv (expected columns genre_id,#tracks,parent,title,top_level)")
    return table


def fma_anchor_of(genre_id: int, genres: pd.DataFrame) -> tuple[str | None, int]:
    """Nearest anchor label of an FMA genre and that anchor's depth (root genres have depth 1).

    Returns ``(None, 0)`` for a genre outside every anchor's subtree or unknown to ``genres``.
    """
    path = []
    gid = int(genre_id)
    seen = set()
    while gid and gid in genres.index and gid not in seen:
        seen.add(gid)
        path.append(gid)
        gid = int(genres.at[gid, "parent"])
    depth_of_root = len(path)
    for i, g in enumerate(path):
        if g in FMA_ANCHORS:
            return FMA_ANCHORS[g], depth_of_root - i
    return None, 0


def map_fma_track(genre_ids, genres: pd.DataFrame) -> tuple[str | None, str]:
    """Project label of an FMA track from its ``track.genres`` ids, by the precedence rule of this module.

    Parameters
    ----------
    genre_ids : iterable of int
        The track's own genre ids (``track.genres``).
    genres : DataFrame
        The genre table from :func:`load_fma_genres`.

    Returns
    -------
    label : str or None
        One of :data:`GENRES`, or None when the track is eliminated.
    reason : str
        Empty for a mapped track; otherwise why it was eliminated.
    """
    hits = [fma_anchor_of(g, genres) for g in genre_ids]
    hits = [(label, depth) for label, depth in hits if label is not None]
    if not hits:
        return None, "no project genre among its FMA genres"
    depth = {label: max(d for lab, d in hits if lab == label) for label, _ in hits}
    count = Counter(label for label, _ in hits)
    ranked = sorted(depth, key=lambda lab: (depth[lab], count[lab]), reverse=True)
    if len(ranked) > 1 and (depth[ranked[0]], count[ranked[0]]) == (depth[ranked[1]], count[ranked[1]]):
        return None, "ambiguous: maps to " + " and ".join(sorted(ranked[:2]))
    return ranked[0], ""
