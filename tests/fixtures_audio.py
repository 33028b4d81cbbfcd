"""Small on-disk dataset trees for tests: GTZAN (both layouts), FMA (real tracks.csv format) and genre folders.

Every builder writes short tones into a folder the test owns (``tmp_path``) and returns the paths it
created, so a test can check that a loader accounts for each file. Nothing here is committed data.
"""

from __future__ import annotations

import os
import shutil
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from genre_utils.audio import write_mp3, write_wav
from genre_utils.genres import FMA_TRACKS_COLUMNS, fma_genre_top, fma_genres_all, load_fma_genres

#: The 52 (group, name) columns of FMA's tracks.csv in the real order.
FMA_COLUMNS: list[tuple[str, str]] = list(FMA_TRACKS_COLUMNS)

#: Columns that hold numbers in the real file; every other column defaults to an empty string.
_FMA_NUMERIC = {("album", "comments"), ("album", "favorites"), ("album", "id"), ("album", "listens"),
                ("album", "tracks"), ("artist", "comments"), ("artist", "favorites"), ("artist", "id"),
                ("track", "bit_rate"), ("track", "comments"), ("track", "duration"), ("track", "favorites"),
                ("track", "interest"), ("track", "listens"), ("track", "number")}


def tone(seconds: float = 1.0, sample_rate: int = 22050, freq: float = 440.0, channels: int = 1) -> np.ndarray:
    """A sine tone at amplitude 0.3; shape ``(n,)`` for mono, ``(n, channels)`` otherwise, float32."""
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    y = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return y if channels == 1 else np.repeat(y[:, None], channels, axis=1)


def write_audio(path, seconds: float = 1.0, sample_rate: int = 22050, freq: float = 440.0) -> Path:
    """Write a tone in the format its extension names (.wav, .au, .mp3, .flac, .ogg)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    y = tone(seconds, sample_rate, freq)
    suffix = path.suffix.lower()
    if suffix == ".wav":
        write_wav(path, y, sample_rate)
    elif suffix == ".mp3":
        write_mp3(path, y, sample_rate)
    else:
        fmt = {".au": "AU", ".flac": "FLAC", ".ogg": "OGG"}[suffix]
        sf.write(path, y, sample_rate, format=fmt)
    return path


def write_bytes(path, data: bytes = b"") -> Path:
    """Write raw bytes (default: an empty, 0-byte file), creating parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


#: GTZAN layout name -> (folder holding the genre folders, relative to the root; audio extension).
GTZAN_TREES = {
    "tarball": ("genres", ".au"),
    "kaggle": ("Data/genres_original", ".wav"),
    "kaggle-flat": ("genres_original", ".wav"),
}


def make_gtzan_tree(root, layout: str = "tarball", genres=("blues", "jazz"), numbers=(0, 1),
                    seconds: float = 1.0) -> tuple[Path, list[Path]]:
    """Write a tiny GTZAN copy: ``<genre>.NNNNN.<ext>`` tones for each genre and number.

    Parameters
    ----------
    root : path-like
        Dataset root to create.
    layout : {'tarball', 'kaggle', 'kaggle-flat'}
        ``genres/<g>/*.au``, ``Data/genres_original/<g>/*.wav`` or ``genres_original/<g>/*.wav``.
    genres, numbers : sequences
        Genre folders and the clip numbers written in each.
    seconds : float
        Clip length.

    Returns
    -------
    genre_dir : Path
        The folder holding the genre folders (pass it, or ``root``, to the loader).
    files : list of Path
        Every audio file written.
    """
    folder, ext = GTZAN_TREES[layout]
    genre_dir = Path(root) / folder
    files = []
    for g_index, genre in enumerate(genres):
        for number in numbers:
            path = genre_dir / genre / f"{genre}.{number:05d}{ext}"
            files.append(write_audio(path, seconds, freq=220.0 * (1 + g_index) + number))
    return genre_dir, files


def fma_tracks_table(rows: list[dict]) -> pd.DataFrame:
    """A tracks.csv table in the real format: 52 two-level columns in the real order, index ``track_id``.

    Each row is a dict with ``track_id`` (int) and optionally ``genres`` (list of ids, or a raw string to
    write as is), ``genres_all`` and ``genre_top`` (derived from ``genres`` when absent), ``subset``
    (default ``'medium'``), ``split`` (default ``'training'``), ``artist``, ``duration`` (default 30.0)
    and ``title``.
    """
    genres = load_fma_genres()
    records = []
    for row in rows:
        record = {col: (0 if col in _FMA_NUMERIC else "") for col in FMA_COLUMNS}
        ids = row.get("genres", [])
        record[("track", "genres")] = ids if isinstance(ids, str) else str(list(ids))
        if "genres_all" in row:
            record[("track", "genres_all")] = row["genres_all"]
        elif not isinstance(ids, str):
            record[("track", "genres_all")] = str(fma_genres_all(ids, genres))
        if "genre_top" in row:
            record[("track", "genre_top")] = row["genre_top"]
        elif not isinstance(ids, str):
            record[("track", "genre_top")] = fma_genre_top(ids, genres) or ""
        record[("set", "subset")] = row.get("subset", "medium")
        record[("set", "split")] = row.get("split", "training")
        record[("artist", "name")] = row.get("artist", f"Artist {row['track_id']}")
        record[("track", "duration")] = row.get("duration", 30.0)
        record[("track", "title")] = row.get("title", f"Track {row['track_id']}")
        record[("album", "date_created")] = "2008-11-26 01:44:45"
        records.append(record)
    index = pd.Index([int(r["track_id"]) for r in rows], name="track_id")
    return pd.DataFrame(records, index=index, columns=pd.MultiIndex.from_tuples(FMA_COLUMNS))


def fma_audio_relpath(track_id: int) -> str:
    """``'000/000002.mp3'`` for track 2, as in the real audio folders."""
    tid = f"{int(track_id):06d}"
    return f"{tid[:3]}/{tid}.mp3"


def make_fma_tree(root, rows: list[dict], subset: str = "medium", seconds: float = 1.0) -> dict[int, Path]:
    """Write ``fma_metadata/{tracks,genres}.csv`` and mp3 tones under ``fma_<subset>/NNN/``.

    Parameters
    ----------
    root : path-like
        Dataset root to create.
    rows : list of dict
        As for :func:`fma_tracks_table`, plus ``audio``: ``True`` (default, a tone), ``False`` (no file),
        ``'empty'`` (0 bytes) or raw ``bytes`` to write.
    subset : str
        Name of the audio folder (``fma_<subset>``).

    Returns
    -------
    audio : dict of int to Path
        Track id -> audio file written.
    """
    root = Path(root)
    meta = root / "fma_metadata"
    meta.mkdir(parents=True, exist_ok=True)
    fma_tracks_table(rows).to_csv(meta / "tracks.csv")
    with resources.files("genre_utils").joinpath("data/fma_genres.csv").open("rb") as src, \
            open(meta / "genres.csv", "wb") as dst:
        shutil.copyfileobj(src, dst)
    audio_dir = root / f"fma_{subset}"
    audio_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for i, row in enumerate(rows):
        audio = row.get("audio", True)
        if audio is False:
            continue
        path = audio_dir / fma_audio_relpath(row["track_id"])
        if audio is True:
            write_audio(path, seconds, freq=200.0 + 37 * i)
        else:
            write_bytes(path, b"" if audio == "empty" else audio)
        written[int(row["track_id"])] = path
    return written


def make_folder_tree(root, counts: dict[str, int], ext: str = ".wav", seconds: float = 1.0) -> list[Path]:
    """Write ``<root>/<folder>/clip_<i><ext>`` tones, ``counts[folder]`` of them per folder name."""
    files = []
    for f_index, (folder, n) in enumerate(counts.items()):
        for i in range(n):
            files.append(write_audio(Path(root) / folder / f"clip_{i}{ext}", seconds, freq=250.0 + 50 * f_index + i))
    return files


def all_files(folder) -> set[str]:
    """Absolute paths (as str) of every file under ``folder``."""
    return {os.path.abspath(p) for p in Path(folder).rglob("*") if p.is_file()}


def corpus_hashes(root) -> dict[str, str]:
    """sha256 of every file under a rendered corpus ``root`` by relative path, ``corpus.json`` left out (it
    records timings and the code fingerprint, so it differs between two renders of the same audio)."""
    from genre_utils.provenance import file_sha256

    root = Path(root)
    return {str(p.relative_to(root)): file_sha256(p)
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != "corpus.json"}
