"""The Free Music Archive as a data source: ``fma_metadata/tracks.csv`` plus ``fma_<subset>/NNN/NNNNNN.mp3``
(:func:`scan_fma`).

FMA genres are mapped onto the ten project genres by :func:`genre_utils.genres.map_fma_track`; tracks that map
to none (or to two labels equally) are *eliminated*, as in step 3 of the paper's section 4.2. Like every
scanner of :mod:`genre_utils.sources`, it returns ``(tracks, skipped)`` and drops nothing silently: stray
files, rows with an invalid id, unreadable metadata and eliminated tracks all get a skipped row with the reason.
"""

from __future__ import annotations

import ast
import math
import re
from pathlib import Path

import pandas as pd

from .errors import LayoutError, UserError
from .genres import load_fma_genres, map_fma_track
from .sources import (
    FMA_SUBSETS,
    Candidate,
    Skipped,
    Track,
    absolute_path,
    error_text,
    finish_scan,
    junk_reason,
    probe_candidates,
    walk_files,
)

__all__ = ["scan_fma"]

_FMA_SUBSET_RANK = {"small": 0, "medium": 1, "large": 2, "full": 2}

_FMA_SPLITS = {"training": "train", "validation": "valid", "test": "test"}

_FMA_REQUIRED = {
    ("set", "subset"): "subset",
    ("set", "split"): "split",
    ("track", "genres"): "genres",
    ("track", "genres_all"): "genres_all",
    ("track", "genre_top"): "genre_top",
    ("track", "duration"): "duration",
    ("artist", "name"): "artist",
}

_FMA_NAME = re.compile(r"^(?P<number>\d{6})\.mp3$")

#: Largest FMA track id: ids are six digits (the real ones run to 155,320), the audio path is NNN/NNNNNN.mp3.
_FMA_MAX_ID = 999_999

#: Genre ids beyond this are not FMA genres (the real ones run to 1,235); also bounds what int() must hold.
_FMA_MAX_GENRE_ID = 2**31 - 1

#: Longest genre-list cell parsed (the real ones are a few dozen characters).
_MAX_GENRE_CELL = 2000


def _fma_layout_text(subset: str) -> str:
    return (f"<root>/fma_metadata/tracks.csv (+ optional genres.csv) and audio in "
            f"<root>/fma_{subset}/NNN/NNNNNN.mp3")


def _fma_audio_dir(root: Path, subset: str) -> Path:
    names = [f"fma_{subset}"] + (["fma_full"] if subset == "large" else [])
    for name in names:
        if (root / name).is_dir():
            return root / name
    raise LayoutError(f"{root}: audio folder {' or '.join(names)} not found; expected {_fma_layout_text(subset)}")


def _fma_id(value) -> int | None:
    """A tracks.csv ``track_id`` cell as an int in 0 .. 999,999, else None (``'1e23'``, ``'-1'``, ``'2.5'``)."""
    text = str(value).strip()
    if re.fullmatch(r"\d{1,6}", text):
        return int(text)
    try:
        number = float(text)  # '2.0' as pandas may write an id column that once held a NaN
    except ValueError:
        return None
    if math.isfinite(number) and number.is_integer() and 0 <= number <= _FMA_MAX_ID:
        return int(number)
    return None


def _read_tracks_csv(path: Path, skipped: list[Skipped] | None = None) -> pd.DataFrame:
    """Read FMA's ``tracks.csv`` and keep the needed columns under flat names, indexed by integer id.

    A row whose ``track_id`` is not an integer in 0 .. 999,999 (``1e23`` would wrap to a negative int64) is
    dropped with a :class:`Skipped` row in ``skipped`` naming the value.

    Raises
    ------
    ValueError
        The file is not in the real format (three header lines, the required column pairs), or no row
        has a valid id.
    """
    try:
        table = pd.read_csv(path, index_col=0, header=[0, 1], low_memory=False)
    except Exception as err:  # EmptyDataError, ParserError, UnicodeDecodeError, ...
        raise ValueError(f"cannot parse ({error_text(err)})") from None
    if table.columns.nlevels != 2 or table.index.name != "track_id":
        raise ValueError("expected two column header lines and a third line starting with 'track_id' "
                         "(the file pandas writes for a two-level column index)")
    missing = [f"{a}.{b}" for a, b in _FMA_REQUIRED if (a, b) not in table.columns]
    if missing:
        raise ValueError(f"missing column(s) {', '.join(missing)}")
    ids = [_fma_id(v) for v in table.index]
    valid = [i is not None for i in ids]
    if not any(valid):
        raise ValueError("track_id column holds no integer id between 0 and 999999")
    for value, ok in zip(table.index, valid):
        if not ok and skipped is not None:
            skipped.append(Skipped(str(path), "fma", f"row with invalid track_id {str(value)[:40]!r} in tracks.csv "
                                                     f"(expected an integer 0-{_FMA_MAX_ID}); row ignored"))
    flat = table.loc[valid, list(_FMA_REQUIRED)].copy()
    flat.columns = list(_FMA_REQUIRED.values())
    flat.index = pd.Index([i for i in ids if i is not None], dtype="int64")
    return flat


def _fma_genre_table(root: Path, skipped: list[Skipped]) -> pd.DataFrame:
    """The dataset's own ``genres.csv`` if present and readable, else the packaged copy."""
    path = root / "fma_metadata" / "genres.csv"
    if not path.is_file():
        return load_fma_genres()
    try:
        table = load_fma_genres(path)
        table["parent"] = table["parent"].astype("int64")
        table.index = table.index.astype("int64")
        return table
    except Exception as err:
        text = error_text(err).replace(f"{path}: ", "")
        skipped.append(Skipped(str(path), "fma", f"malformed genres.csv ({text}); used the packaged copy"))
        return load_fma_genres()


def _parse_genre_ids(cell) -> list[int] | None:
    """Genre ids of a ``"[17, 10]"`` cell; ``[]`` for an empty cell or list, None when unparsable.

    Only integers in 0 .. 2**31 - 1 count as ids: ``[1e400]`` (inf), ``[2.5]``, ``[-3]``, ``[True]`` or a
    cell longer than 2,000 characters make the cell unparsable, never an exception.
    """
    if cell is None or (isinstance(cell, float) and math.isnan(cell)):
        return []
    text = str(cell).strip() or "[]"
    if len(text) > _MAX_GENRE_CELL:
        return None
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    if not isinstance(value, (list, tuple)):
        return None
    if not all(type(v) is int and 0 <= v <= _FMA_MAX_GENRE_ID for v in value):
        return None
    return list(value)


def _fma_label(genres_cell, genres_all_cell, genre_top, title_to_id: dict, genres: pd.DataFrame):
    """Project label of one tracks.csv row, or ``(None, reason)``; ``reason`` says why it is not kept.

    ``track.genres`` is used first, ``track.genres_all`` when it is empty or unparsable, then the id of
    ``track.genre_top``.
    """
    unparsable = []
    for column, cell in (("track.genres", genres_cell), ("track.genres_all", genres_all_cell)):
        ids = _parse_genre_ids(cell)
        if ids:
            label, why = map_fma_track(ids, genres)
            return label, ("" if label else f"eliminated: {why}")
        if ids is None:
            unparsable.append(f"{column}={cell!r}")
    if isinstance(genre_top, str) and genre_top in title_to_id:
        label, why = map_fma_track([title_to_id[genre_top]], genres)
        return label, ("" if label else f"eliminated: {why}")
    if unparsable:
        return None, f"unparsable genre list ({', '.join(unparsable)}) and no usable track.genre_top"
    return None, "eliminated: no FMA genre listed"


def _fma_audio_path(audio_dir: Path, track_id: int) -> Path:
    tid = f"{track_id:06d}"
    return audio_dir / tid[:3] / f"{tid}.mp3"


def _fma_stray_reason(parts: tuple[str, ...], subset_of: dict, chosen: str) -> str:
    """Why a file in the audio folder is not the audio of a selected tracks.csv row."""
    name = parts[-1]
    junk = junk_reason(name, extensions=(".mp3",))
    if junk:
        return junk.replace("not an audio file", "not an mp3 file")
    match = _FMA_NAME.match(name)
    if not match:
        return "file name is not NNNNNN.mp3"
    track_id = int(match["number"])
    if parts[:-1] != (match["number"][:3],):
        return f"misplaced: track {match['number']} belongs in {match['number'][:3]}/"
    if track_id not in subset_of:
        return "stray: id not in tracks.csv"
    return f"listed in tracks.csv with subset {subset_of[track_id]!r}, outside the {chosen!r} selection"


def scan_fma(root, subset: str = "medium", progress: bool = True) -> tuple[list[Track], list[Skipped]]:
    """List the usable tracks of one FMA subset, mapped to the project genres, and everything skipped.

    Parameters
    ----------
    root : path-like
        Folder holding ``fma_metadata/`` and ``fma_<subset>/``.
    subset : {'small', 'medium', 'large', 'full'}
        Rows whose ``set.subset`` lies within it are selected (medium includes small); ``large`` also
        accepts the audio folder ``fma_full``.

    Returns
    -------
    tracks : list of Track
        Sorted by ``track_id`` (six digits). ``duration`` comes from the mp3 header (the metadata is wrong
        for some files) and falls back to ``track.duration``; ``official_split`` maps FMA's
        training/validation/test to train/valid/test.
    skipped : list of Skipped
        Selected rows that were eliminated by the genre mapping (reason ``'eliminated: ...'``), have no
        audio file, or whose audio is empty or unreadable; plus every other file in the audio folder
        (strays, ids outside the subset, non-mp3 files) and every folder in it that cannot be read. Rows
        about the metadata itself carry its path: a repeated track id (the first row is used), a
        ``track_id`` that is not an integer 0-999999 (the row is ignored), an unreadable ``genres.csv``
        (the packaged copy is used). A track whose ``track.duration`` disagrees with its file keeps a
        ``note``. A ``tracks.csv`` that cannot be read as the real format yields no tracks and a single row
        ``'malformed tracks.csv: ...'``.

    Raises
    ------
    LayoutError
        ``root``, ``fma_metadata/tracks.csv`` or the audio folder is missing.
    ValueError
        Unknown ``subset``.
    """
    if subset not in FMA_SUBSETS:
        raise UserError(f"unknown FMA subset {subset!r}; choose one of {', '.join(FMA_SUBSETS)}")
    root = absolute_path(root)
    if not root.is_dir():
        raise LayoutError(f"{root}: no such directory; expected an FMA copy laid out as {_fma_layout_text(subset)}")
    meta = root / "fma_metadata" / "tracks.csv"
    if not meta.is_file():
        raise LayoutError(f"{root}: fma_metadata/tracks.csv not found; expected {_fma_layout_text(subset)}")
    audio_dir = _fma_audio_dir(root, subset)
    skipped: list[Skipped] = []
    try:
        table = _read_tracks_csv(meta, skipped)
    except ValueError as err:
        return [], [Skipped(str(meta), "fma", f"malformed tracks.csv: {err}")]

    duplicated = table.index.duplicated(keep="first")
    for track_id in table.index[duplicated]:
        reason = f"duplicate row for track id {track_id:06d} in tracks.csv (first kept)"
        skipped.append(Skipped(str(meta), "fma", reason))
    table = table[~duplicated]

    genres = _fma_genre_table(root, skipped)
    title_to_id = {title: int(gid) for gid, title in genres["title"].items()}
    rank = table["subset"].map(_FMA_SUBSET_RANK)
    selected = table[rank <= _FMA_SUBSET_RANK[subset]]  # rows with an unknown subset compare False

    candidates, expected = [], set()
    rows = selected[["genres", "genres_all", "genre_top", "duration", "artist", "split"]]
    for track_id, genres_cell, all_cell, top, meta_duration, artist, split in rows.itertuples(name=None):
        path = _fma_audio_path(audio_dir, int(track_id))
        expected.add(path)
        label, reason = _fma_label(genres_cell, all_cell, top, title_to_id, genres)
        if label is None:
            skipped.append(Skipped(str(path), "fma", reason))
        elif not path.is_file():
            skipped.append(Skipped(str(path), "fma", "no audio file for this id"))
        else:
            candidates.append(Candidate(
                f"{int(track_id):06d}", label, str(path),
                artist=artist if isinstance(artist, str) and artist else None,
                meta_duration=_as_seconds(meta_duration),
                official_split=_FMA_SPLITS.get(split),
            ))

    subset_of = table["subset"].to_dict()
    for path, parts in walk_files(audio_dir, skipped, "fma"):
        if path not in expected:
            skipped.append(Skipped(str(path), "fma", _fma_stray_reason(parts, subset_of, subset)))

    tracks = probe_candidates(candidates, skipped, "fma", progress)
    return finish_scan(tracks, skipped)


def _as_seconds(value) -> float | None:
    """A metadata duration as float seconds, None when missing or not a positive number."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if math.isfinite(seconds) and seconds > 0 else None


# ---------------------------------------------------------------------------------------------------------
# Folder of genre folders ("new data")
# ---------------------------------------------------------------------------------------------------------
