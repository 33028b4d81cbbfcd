"""Dataset loaders: turn a folder of audio into labelled :class:`Track` rows plus :class:`Skipped` rows.

Three sources are understood:

``gtzan``
    GTZAN in its original tarball layout (``genres/<genre>/<genre>.NNNNN.au``) or the common Kaggle copy
    (``Data/genres_original/<genre>/<genre>.NNNNN.wav``); the label is the folder's genre.
``fma``
    The Free Music Archive, read by :func:`genre_utils.fma.scan_fma` with the helpers this module shares
    (:func:`walk_files`, :func:`probe_candidates`, ...).
``folder``
    Any ``<root>/<genre>/<audio file>`` tree, for the "new data" of the paper's section 9.

Every scanner returns ``(tracks, skipped)``. Nothing is dropped silently: each file under the scanned
folder either becomes a track or gets a skipped row with the reason (stray system files, macOS ``._``
twins, unknown genre folders, badly named files, empty files, files no decoder can open, FMA tracks
eliminated by the genre mapping, folders that cannot be read, tracks.csv rows with an invalid id, ...).
Scanning is cheap: only the first bytes and the header of each file are read (the container check of
:func:`genre_utils.audio.container_problem`, then ``soundfile.info``), in a thread pool. Decoding every
kept file, and rejecting silent or too-short ones, is the dataset builder's job.
"""

from __future__ import annotations

import functools
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import astuple, dataclass, fields
from importlib import resources
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from .audio import AUDIO_EXTENSIONS, AudioError, container_problem, decode_size_problem, file_problem, load_audio
from .config import num_threads
from .errors import LayoutError
from .genres import GENRES, normalise_label

__all__ = [
    "Track",
    "Skipped",
    "LayoutError",
    "GTZAN_LAYOUTS",
    "FMA_SUBSETS",
    "find_gtzan_genre_dir",
    "scan_gtzan",
    "scan_folder",
    "probe_audio",
    "fault_filtered_split",
    "tracks_frame",
    "skipped_frame",
    "absolute_path",
    "walk_files",
    "junk_reason",
    "error_text",
    "Candidate",
    "probe_candidates",
    "finish_scan",
]


@dataclass(frozen=True)
class Track:
    """One usable audio file with its project label.

    Attributes
    ----------
    track_id : str
        GTZAN: ``'blues.00012'``; FMA: the six-digit id, ``'000002'``; folder: ``'<genre>/<file stem>'``.
    source : str
        ``'gtzan'``, ``'fma'`` or the ``source`` name given to :func:`scan_folder` (``'folder'``).
    label : str
        One of :data:`genre_utils.genres.GENRES`.
    path : str
        Absolute path of the audio file.
    artist : str or None
        FMA artist name where known; None for GTZAN and folder tracks.
    duration : float or None
        Length in seconds from the file header (or FMA metadata when the header gives no length).
    official_split : {'train', 'valid', 'test'} or None
        FMA's artist-filtered ``set.split``; for GTZAN, membership in the fault-filtered lists.
    note : str
        Something wrong but not disqualifying, recorded rather than silent; e.g. an FMA track whose
        ``track.duration`` disagrees with its file (``''`` when nothing is).
    """

    track_id: str
    source: str
    label: str
    path: str
    artist: str | None
    duration: float | None
    official_split: str | None
    note: str = ""


@dataclass(frozen=True)
class Skipped:
    """A file (or metadata row) that was not kept, and why.

    Attributes
    ----------
    path : str
        Absolute path of the file; for an FMA id without audio, the path where its audio was expected.
    source : str
        Source name, as in :class:`Track`.
    reason : str
        Human-readable reason; FMA tracks removed by the genre mapping start with ``'eliminated: '``.
    """

    path: str
    source: str
    reason: str


#: The GTZAN folders :func:`scan_gtzan` looks for, in this order, relative to the given root.
GTZAN_LAYOUTS: tuple[tuple[str, str], ...] = (
    ("genres", "original tarball: <root>/genres/<genre>/<genre>.NNNNN.au"),
    ("Data/genres_original", "Kaggle copy: <root>/Data/genres_original/<genre>/<genre>.NNNNN.wav"),
    ("genres_original", "Kaggle copy without Data/: <root>/genres_original/<genre>/<genre>.NNNNN.wav"),
    (".", "root is the genres or genres_original folder itself: <root>/<genre>/<genre>.NNNNN.<au|wav>"),
)

#: FMA subsets, smallest first; each includes the previous ones. ``full`` has the tracks of ``large``
#: at full length, in the folder ``fma_full``.
FMA_SUBSETS: tuple[str, ...] = ("small", "medium", "large", "full")


#: System files that are never audio, whatever their name ends with.
_SYSTEM_FILES = {".ds_store", "thumbs.db", "desktop.ini", ".directory"}
_GTZAN_NAME = re.compile(r"^(?P<genre>[A-Za-z-]+)\.(?P<number>\d{5})\.(?P<ext>[A-Za-z0-9]+)$")
#: libsndfile's frame count for streams of unknown length.
_UNKNOWN_FRAMES = 2**63 - 1
#: Rate used only to measure a file's length when the header is unreadable and it must be decoded.
_DECODE_RATE = 22050
_OPEN_ERROR_PREFIX = re.compile(r"^Error opening (?:'.*'|<.*>): ")
#: An FMA ``track.duration`` off from the file's header by more than this many seconds and this fraction
#: gets a note on the track (the file's own length is used).
_DURATION_TOLERANCE = (2.0, 0.05)


# ---------------------------------------------------------------------------------------------------------
# Shared helpers: walking a folder, naming junk files, probing headers
# ---------------------------------------------------------------------------------------------------------

def absolute_path(root) -> Path:
    return Path(os.path.abspath(os.path.expanduser(os.fspath(root))))


#: Start of the skip reason of a folder that cannot be listed (:func:`genre_utils.store.scan_sources` refuses it).
UNREADABLE_FOLDER = "cannot read folder"


def walk_files(folder: Path, skipped: list | None = None, source: str = ""):
    """Yield ``(path, parts)`` for every file under ``folder`` in sorted order; ``parts`` is the relative path.

    A folder that cannot be listed (permissions, I/O error) adds a :class:`Skipped` row to ``skipped``
    (its files cannot be named, so the folder is) instead of vanishing.
    """
    def unreadable(err: OSError) -> None:
        if skipped is not None:
            where = err.filename or str(folder)
            skipped.append(Skipped(str(where), source, f"{UNREADABLE_FOLDER} ({err.strerror or err}); "
                                                       "the files in it are not listed"))

    for dirpath, dirnames, filenames in os.walk(folder, onerror=unreadable):
        dirnames.sort()
        rel = Path(dirpath).relative_to(folder).parts
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if not _utf8_name(str(path)):  # no CSV, JSON or terminal line could carry it: skipped, up front
                if skipped is not None:
                    skipped.append(Skipped(_printable_path(path), source, "file name is not valid UTF-8 (bytes shown "
                                                                         "as \\xNN); rename the file to use it"))
                continue
            yield path, rel + (name,)


def _utf8_name(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes, which Python keeps as lone surrogates
        return False
    return True


def _printable_path(path) -> str:
    """``path`` as text that can be written anywhere: undecodable bytes of its name as ``\\xNN``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def junk_reason(name: str, extensions=AUDIO_EXTENSIONS) -> str | None:
    """Why a file name cannot be audio (system file, ``._`` twin, other extension), or None."""
    if name.startswith("._"):
        return "macOS AppleDouble metadata file ('._' twin of another file), not audio"
    if name.lower() in _SYSTEM_FILES:
        return f"system file {name}, not audio"
    suffix = Path(name).suffix.lower()
    if suffix not in extensions:
        return f"not an audio file (extension {suffix or 'none'!s}; expected {', '.join(extensions)})"
    return None


def error_text(err: Exception) -> str:
    """First line of an exception message, without the ``Error opening <file>:`` prefix of libsndfile."""
    text = (str(err).strip() or type(err).__name__).splitlines()[0]
    return _OPEN_ERROR_PREFIX.sub("", text)[:200]


def probe_audio(path) -> tuple[float | None, str]:
    """Length of an audio file from its header, or why it cannot be used.

    Checks the first bytes (:func:`genre_utils.audio.container_problem`: no known audio container,
    header-only or truncated WAV/AU), then reads only the header with ``soundfile.info``: a header that
    declares no frames, or more than :data:`genre_utils.audio.MAX_DECODE_SAMPLES` samples, is rejected. If
    libsndfile cannot read the header, decodes the file once with :func:`genre_utils.audio.load_audio`
    (which reports why it is unreadable).

    libsndfile is handed an open file object rather than the path: given a path, it also opens a macOS
    ``._<name>`` twin next to the file as a resource fork, and then fails on perfectly good MP3s
    ("bad resource fork") whenever such a twin exists.

    Parameters
    ----------
    path : path-like
        Audio file.

    Returns
    -------
    duration : float or None
        Seconds; None when the file is unusable, or when the header gives no length (some MP3 streams).
    reason : str
        Empty for a usable file; otherwise why it must be skipped.
    """
    import soundfile as sf

    problem = file_problem(path)  # a link loop, a FIFO, a device: named, and never opened
    if problem:
        return None, problem
    try:
        if os.path.getsize(path) == 0:
            return None, "empty file (0 bytes)"
    except OSError as err:
        return None, f"cannot read file ({err.strerror})"
    problem = container_problem(path)
    if problem:
        return None, problem
    try:
        with open(path, "rb") as fh:
            info = sf.info(fh)
    except Exception as err:
        header_error = error_text(err)
    else:
        if info.samplerate <= 0 or info.frames >= _UNKNOWN_FRAMES:
            return None, ""
        if info.frames == 0:
            return None, "no audio frames (the header declares a length of 0)"
        too_big = decode_size_problem(info.frames, info.channels, info.samplerate)
        if too_big:
            return None, too_big
        return float(info.frames) / info.samplerate, ""
    try:
        y = load_audio(path, _DECODE_RATE)
    except AudioError as err:
        text = str(err)
        return None, (text if text.startswith(("too large", "longer than")) else f"unreadable audio ({header_error})")
    return y.size / _DECODE_RATE, ""


def _probe_many(paths: list[str], desc: str, progress: bool = True) -> list[tuple[float | None, str]]:
    """:func:`probe_audio` over many files in a thread pool, results in input order, with a progress bar."""
    if not paths:
        return []
    workers = max(1, min(num_threads(), len(paths)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = pool.map(probe_audio, paths)
        return list(tqdm(results, total=len(paths), desc=desc, unit="file", disable=None if progress else True))


@dataclass(frozen=True)
class Candidate:
    """A labelled file that passed the cheap checks and still has to pass the header probe."""

    track_id: str
    label: str
    path: str
    artist: str | None = None
    meta_duration: float | None = None
    official_split: str | None = None


def _keep_first_per_id(candidates: list[Candidate], skipped: list[Skipped], source: str) -> list[Candidate]:
    """Drop all but the first file (by path) of each track id, recording the others as skipped."""
    kept: dict[str, Candidate] = {}
    for cand in sorted(candidates, key=lambda c: (c.track_id, c.path)):
        first = kept.setdefault(cand.track_id, cand)
        if first is not cand:
            skipped.append(Skipped(cand.path, source, f"duplicate track id {cand.track_id} (kept {first.path})"))
    return list(kept.values())


def probe_candidates(candidates: list[Candidate], skipped: list[Skipped], source: str,
                      progress: bool = True) -> list[Track]:
    """Probe each candidate's header; usable ones become tracks, the others skipped rows."""
    candidates = _keep_first_per_id(candidates, skipped, source)
    probed = _probe_many([c.path for c in candidates], desc=f"probing {source} headers", progress=progress)
    tracks = []
    for cand, (duration, reason) in zip(candidates, probed):
        if reason:
            skipped.append(Skipped(cand.path, source, reason))
            continue
        if duration is None:  # the header gave no length: trust the metadata, if any
            duration = cand.meta_duration
        tracks.append(Track(cand.track_id, source, cand.label, cand.path, cand.artist, duration,
                            cand.official_split, _duration_note(cand.meta_duration, duration)))
    return tracks


def _duration_note(listed: float | None, actual: float | None) -> str:
    """A note when the metadata's length of a track disagrees with its file's header (see _DURATION_TOLERANCE)."""
    if listed is None or actual is None:
        return ""
    seconds, fraction = _DURATION_TOLERANCE
    if abs(listed - actual) <= max(seconds, fraction * listed):
        return ""
    return f"metadata lists {listed:.1f} s, the file holds {actual:.1f} s (the file's length is used)"


def finish_scan(tracks: list[Track], skipped: list[Skipped]) -> tuple[list[Track], list[Skipped]]:
    """Deterministic order: tracks by id, skipped rows by path then reason."""
    return (sorted(tracks, key=lambda t: (t.track_id, t.path)),
            sorted(skipped, key=lambda s: (s.path, s.reason)))


# ---------------------------------------------------------------------------------------------------------
# GTZAN
# ---------------------------------------------------------------------------------------------------------

def _has_genre_folder(folder: Path) -> bool:
    try:
        return folder.is_dir() and any(
            child.is_dir() and normalise_label(child.name) in GENRES for child in folder.iterdir())
    except OSError:  # an unreadable folder holds no genre folder we could use
        return False


def _gtzan_layout_error(root: Path, problem: str) -> LayoutError:
    accepted = "; ".join(text for _, text in GTZAN_LAYOUTS)
    genres = ", ".join(GENRES)
    return LayoutError(f"{root}: {problem}. Accepted GTZAN layouts: {accepted} (<genre> one of {genres}).")


def find_gtzan_genre_dir(root) -> Path:
    """The folder holding GTZAN's genre folders, for any accepted layout of :data:`GTZAN_LAYOUTS`.

    Raises
    ------
    LayoutError
        ``root`` does not exist, or none of the layouts matches.
    """
    root = absolute_path(root)
    if not root.is_dir():
        raise _gtzan_layout_error(root, "no such directory")
    for relative, _ in GTZAN_LAYOUTS:
        folder = root / relative if relative != "." else root
        if _has_genre_folder(folder):
            return folder
    raise _gtzan_layout_error(root, "no GTZAN genre folders found")


def _gtzan_file_reason(parts: tuple[str, ...]) -> tuple[str | None, str | None]:
    """``(track_id, None)`` for a well-placed, well-named GTZAN file, else ``(None, reason)``."""
    name = parts[-1]
    junk = junk_reason(name)
    if junk:
        return None, junk
    if len(parts) == 1:
        return None, "not inside a genre folder"
    folder_label = normalise_label(parts[0])
    if folder_label not in GENRES:
        return None, f"unknown genre folder {parts[0]!r} (expected one of {', '.join(GENRES)})"
    if len(parts) > 2:
        return None, f"inside a subfolder of genre folder {parts[0]!r} (expected {parts[0]}/<genre>.NNNNN.<ext>)"
    match = _GTZAN_NAME.match(name)
    if not match:
        return None, "file name does not match <genre>.NNNNN.<ext>"
    if normalise_label(match["genre"]) != folder_label:
        return None, f"genre prefix {match['genre']!r} disagrees with folder {parts[0]!r}"
    return f"{folder_label}.{match['number']}", None


def scan_gtzan(root, progress: bool = True) -> tuple[list[Track], list[Skipped]]:
    """List the usable GTZAN clips under ``root`` and every file that was skipped.

    Parameters
    ----------
    root : path-like
        A GTZAN copy in any layout of :data:`GTZAN_LAYOUTS` (the folder containing ``genres/`` or
        ``Data/genres_original/``, or the genre folder itself).

    Returns
    -------
    tracks : list of Track
        Sorted by ``track_id`` (``'blues.00000'``); label = genre folder; ``official_split`` = the
        fault-filtered list holding the id, or None.
    skipped : list of Skipped
        One row per file under the genre folder that is not a track (each file inside an unknown genre
        folder gets its own row), sorted by path.

    Raises
    ------
    LayoutError
        ``root`` is missing or matches no accepted layout; the message lists the layouts.
    """
    genre_dir = find_gtzan_genre_dir(root)
    split = fault_filtered_split()
    candidates, skipped = [], []
    for path, parts in walk_files(genre_dir, skipped, "gtzan"):
        track_id, reason = _gtzan_file_reason(parts)
        if reason:
            skipped.append(Skipped(str(path), "gtzan", reason))
        else:
            label = track_id.split(".")[0]
            candidates.append(Candidate(track_id, label, str(path), official_split=split.get(track_id)))
    tracks = probe_candidates(candidates, skipped, "gtzan", progress)
    return finish_scan(tracks, skipped)


@functools.lru_cache(maxsize=None)
def _packaged_fault_filtered() -> tuple[tuple[str, str], ...]:
    pairs = []
    folder = resources.files("genre_utils").joinpath("data/gtzan_fault_filtered")
    for split in ("train", "valid", "test"):
        for line in folder.joinpath(f"{split}.txt").read_text().splitlines():
            if line.strip():
                pairs.append((line.strip(), split))
    return tuple(pairs)


def fault_filtered_split() -> dict[str, str]:
    """GTZAN's fault-filtered split (Kereliuk, Sturm & Larsen 2015) from the package data.

    Returns
    -------
    split : dict of str to str
        Track id (``'blues.00012'``) -> ``'train'`` (443 ids), ``'valid'`` (197) or ``'test'`` (290);
        the 70 clips of GTZAN's catalogued faults are in no list.
    """
    return dict(_packaged_fault_filtered())


# ---------------------------------------------------------------------------------------------------------
# FMA
# ---------------------------------------------------------------------------------------------------------

def _folder_layout_error(root: Path, problem: str) -> LayoutError:
    return LayoutError(f"{root}: {problem}; expected <root>/<genre>/<audio file> with <genre> one of "
                       f"{', '.join(GENRES)} (any case; 'Hip-Hop' and 'hip hop' mean hiphop)")


def scan_folder(root, source: str = "folder", progress: bool = True) -> tuple[list[Track], list[Skipped]]:
    """List the audio files of a ``<root>/<genre>/<file>`` tree (new data) and every file skipped.

    Parameters
    ----------
    root : path-like
        Folder of genre folders. Folder names are matched after :func:`genre_utils.genres.normalise_label`
        (case and non-letters ignored). Files in subfolders of a genre folder are kept too.
    source : str
        Source name written into every row.

    Returns
    -------
    tracks : list of Track
        ``track_id`` = ``'<genre>/<path inside the genre folder without extension>'`` (``'jazz/song'``),
        sorted; ``artist`` and ``official_split`` are None.
    skipped : list of Skipped
        Stray non-audio files, files outside a genre folder or in an unknown one, duplicates of an id,
        empty and unreadable files.

    Raises
    ------
    LayoutError
        ``root`` is missing or holds no genre folder.
    """
    root = absolute_path(root)
    if not root.is_dir():
        raise _folder_layout_error(root, "no such directory")
    if not _has_genre_folder(root):
        found = sorted(child.name for child in root.iterdir() if child.is_dir())
        raise _folder_layout_error(root, f"no genre folder found (subfolders: {', '.join(found) or 'none'})")
    candidates, skipped = [], []
    for path, parts in walk_files(root, skipped, source):
        reason = junk_reason(parts[-1])
        label = normalise_label(parts[0]) if len(parts) > 1 else None
        if reason is None and label is None:
            reason = "not inside a genre folder"
        elif reason is None and label not in GENRES:
            reason = f"unknown genre folder {parts[0]!r} (expected one of {', '.join(GENRES)})"
        if reason:
            skipped.append(Skipped(str(path), source, reason))
            continue
        inner = Path(*parts[1:]).with_suffix("").as_posix()
        candidates.append(Candidate(f"{label}/{inner}", label, str(path)))
    tracks = probe_candidates(candidates, skipped, source, progress)
    return finish_scan(tracks, skipped)


# ---------------------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------------------

TRACK_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Track))
SKIPPED_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Skipped))


def tracks_frame(tracks: list[Track]) -> pd.DataFrame:
    """One row per track, columns = the :class:`Track` fields (``duration`` as float seconds, NaN if unknown)."""
    frame = pd.DataFrame([astuple(t) for t in tracks], columns=list(TRACK_COLUMNS))
    frame["duration"] = pd.to_numeric(frame["duration"], errors="coerce").astype("float64")
    return frame


def skipped_frame(skipped: list[Skipped]) -> pd.DataFrame:
    """One row per skipped file, columns ``path, source, reason`` (kept even when there are no rows)."""
    return pd.DataFrame([astuple(s) for s in skipped], columns=list(SKIPPED_COLUMNS))
