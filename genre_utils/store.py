"""The feature store: build once, stream to disk, reopen instantly.

The paper kept its MFCCs as stringified arrays inside one CSV. Here a dataset folder holds

``features.npy``
    float16 array of shape (n_windows, 64, 235), memory-mapped on read. Rows are ordered train, valid,
    test, so each split is one contiguous block (a view, not a copy).
``manifest.csv``
    One row per window: ``row, segment_id, track_id, source, genre, label, split, kind, start, offset, path,
    artist``.
``tracks.csv``
    One row per track found: its label, split, ``test_only`` mark, decoded length, file and audio hashes,
    duplicate group, note (:mod:`genre_utils.checks`) and status.
``skipped.csv``
    ``path, source, reason`` for every file or track left out, whatever the stage that left it out.
``duplicates.csv``, ``near_duplicates.csv``
    Groups of usable tracks with identical decoded audio (split as one unit), and candidate pairs sharing
    a stretch of audio (reported only); see :mod:`genre_utils.duplicates`.
``stats.npz``
    Per-row mean and standard deviation of the training windows (float64, shape (64,)).
``dataset.json``
    Profile, feature parameters, counts, fingerprints, package versions and timings. Written last: its
    presence marks a complete dataset, and its ``cache_key`` lets a rebuild with unchanged inputs return at once.
    It also records the SHA-256 of the small files and the shape, size, modification time and SHA-256 of
    ``features.npy``: a reused store is checked against them first (:func:`reuse_problem`), so a truncated,
    replaced or hand-edited file is rebuilt, never trusted.

The cache key is made of the inputs (path, size and modification time of every audio file; ``verify=True``
adds their content hashes), the profile and settings, the code of this module and everything it imports
(:func:`genre_utils.provenance.code_fingerprint`) and the versions of the libraries it depends on
(:func:`genre_utils.provenance.library_key`). One process at a time builds in a folder (``.lock``).

Building streams track by track into a ``features.npy.part`` memory map; progress is checkpointed every few
tracks, so an interrupted build resumes where it stopped and a crash never leaves a half-written file under
a final name.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from . import checks, sources
from .config import ARTISTS_LIST, TEST_ONLY_LIST, Profile, fingerprint, get_profile, num_threads
from .dataset import Dataset, open_dataset, track_windows
from .duplicates import pack_fingerprints, unpack_fingerprints
from .errors import UserError
from .extraction import FEATURE_DTYPE, extract_tracks, init_worker, probe_track, warm_up
from .fma import scan_fma
from .genres import GENRES
from .locks import folder_lock
from .parallel import ordered_map
from .provenance import (
    atomic_write_csv,
    atomic_write_text,
    code_fingerprint,
    file_sha256,
    library_key,
    read_csv,
    versions,
)
from .sources import find_gtzan_genre_dir
from .splits import leak_summary, plan_windows, split_tracks

__all__ = ["Dataset", "build_dataset", "open_dataset", "scan_sources", "extract_tracks", "reuse_problem",
           "track_windows"]

CHUNK_TRACKS = 16  # tracks between two progress checkpoints


# --------------------------------------------------------------------------------------------- helpers
def _write_csv(frame: pd.DataFrame, path) -> None:
    atomic_write_csv(path, frame)  # formula-like cells (FMA metadata, file names) neutralised; read_csv undoes it


# ------------------------------------------------------------------------------------------ scanning
def scan_sources(gtzan=None, fma=None, fma_subset: str = "medium", folders=(), progress: bool = True):
    """Scan every requested source.

    Parameters
    ----------
    gtzan, fma : path-like, optional
        Roots of a GTZAN copy (either layout) and of an FMA copy.
    fma_subset : str
        FMA subset to read (small, medium, large).
    folders : iterable of path-like
        Extra labelled folders ``<dir>/<genre>/<file>``.

    Returns
    -------
    tracks : DataFrame
        One row per track (columns of :class:`genre_utils.sources.Track`).
    skipped : DataFrame
        ``path, source, reason`` for everything the scanners left out.
    """
    if gtzan is None and fma is None and not folders:
        raise UserError("no data source given: pass a GTZAN root, an FMA root or a labelled folder "
                         "(genre-utils synth writes a synthetic corpus in both layouts)")
    found, skipped = [], []
    if gtzan is not None:
        t, s = sources.scan_gtzan(gtzan, progress=progress)
        found += t
        skipped += s
    if fma is not None:
        t, s = scan_fma(fma, subset=fma_subset, progress=progress)
        found += t
        skipped += s
    for folder in folders:
        t, s = sources.scan_folder(folder, progress=progress)
        found += t
        skipped += s
    unreadable = [s for s in skipped if s.reason.startswith(sources.UNREADABLE_FOLDER)]
    if unreadable:  # a whole genre (or more) would silently be missing from the store and every model on it
        first = unreadable[0]
        why = first.reason[len(sources.UNREADABLE_FOLDER):].split(";")[0].strip()
        more = f" (and {len(unreadable) - 1} more)" if len(unreadable) > 1 else ""
        raise UserError(f"cannot read the folder {first.path} {why}{more}: its files would be left out of the "
                        "store; make it readable (or move it out of the source folder) and run again")
    tracks = sources.tracks_frame(found)
    # the same id may come from two sources (GTZAN 'blues.00001' never clashes with FMA '000001')
    tracks["track_id"] = tracks["source"] + ":" + tracks["track_id"].astype(str)
    return tracks.sort_values("track_id").reset_index(drop=True), sources.skipped_frame(skipped)


def _gtzan_side_file(gtzan, name: str) -> Path | None:
    """The file ``name`` in a GTZAN root's genre folder or the nearest folder above it up to ``gtzan``."""
    if gtzan is None:
        return None
    root = Path(gtzan).resolve()
    folder = find_gtzan_genre_dir(root).resolve()
    while True:
        if (folder / name).is_file():
            return folder / name
        if folder == root or folder == folder.parent:
            return None
        folder = folder.parent


def test_only_list(gtzan) -> Path | None:
    """The :data:`~genre_utils.config.TEST_ONLY_LIST` of a GTZAN root, or None.

    Looked for in the genre folder and each folder above it up to ``gtzan`` (the synthetic corpus writes it
    at ``gtzan/test_only.txt``, next to ``genres_original/``).
    """
    return _gtzan_side_file(gtzan, TEST_ONLY_LIST)


def artists_list(gtzan) -> Path | None:
    """The :data:`~genre_utils.config.ARTISTS_LIST` of a GTZAN root, or None (looked for as
    :func:`test_only_list`; the synthetic corpus writes ``gtzan/artists.csv``)."""
    return _gtzan_side_file(gtzan, ARTISTS_LIST)


def read_artists(path) -> dict[str, str]:
    """Track id (``blues.00021``) -> artist name, from an artists list: a CSV with the header
    ``track_id,artist``; rows with an empty artist are left out.

    Raises
    ------
    genre_utils.errors.UserError
        The file cannot be read, lacks the two columns, or names one track twice with two artists.
    """
    path = Path(path)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read the artists list {path}: {exc}") from None
    if not {"track_id", "artist"} <= set(table.columns):
        raise UserError(f"the artists list {path} needs the columns track_id and artist (it has "
                        f"{', '.join(map(str, table.columns)) or 'none'})")
    table = table[table["artist"].str.strip() != ""]
    clash = table.groupby("track_id")["artist"].nunique()
    if (clash > 1).any():
        raise UserError(f"the artists list {path} gives {clash[clash > 1].index[0]} two different artists")
    return dict(zip(table["track_id"].str.strip(), table["artist"].str.strip()))


def _attach_artists(tracks: pd.DataFrame, gtzan) -> Path | None:
    """Fill the ``artist`` of GTZAN tracks named in the root's artists list; the list's path (or None)."""
    path = artists_list(gtzan)
    if path is None:
        return None
    names = {f"gtzan:{k}": v for k, v in read_artists(path).items()}
    found = tracks["track_id"].map(names)
    mine = (tracks["source"] == "gtzan") & found.notna()
    tracks["artist"] = tracks["artist"].astype(object).where(~mine, found)
    return path


def read_test_only(path) -> set[str]:
    """The track ids (``blues.00021``) of a test-only list: one per line, blank lines and ``#`` comments skipped."""
    lines = (line.split("#", 1)[0].strip() for line in Path(path).read_text().splitlines())
    return {line for line in lines if line}


def _mark_test_only(tracks: pd.DataFrame, gtzan) -> Path | None:
    """Add the bool column ``test_only`` (GTZAN tracks named in the root's test-only list); the list's path."""
    path = test_only_list(gtzan)
    ids = {f"gtzan:{i}" for i in read_test_only(path)} if path is not None else set()
    tracks["test_only"] = tracks["track_id"].isin(ids) & (tracks["source"] == "gtzan")
    return path






def _cache_key(tracks: pd.DataFrame, profile: Profile, split_method: str, fma_subset: str,
               *side_files) -> str:
    files = []
    for path in [*tracks["path"], *(str(f) for f in side_files if f is not None)]:
        st = os.stat(path)
        files.append((path, st.st_size, st.st_mtime_ns))
    # the profile without its training settings: a changed learning rate retrains, it does not re-extract
    return fingerprint(profile.data_dict(), split_method, fma_subset, files, code_fingerprint("store"),
                       library_key("store"))


#: The small files of a store, checksummed in ``dataset.json`` and checked whenever the store is reused.
CHECKSUMMED = ("manifest.csv", "tracks.csv", "skipped.csv", "stats.npz")


def _sha1_file(path) -> str:
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def _features_record(path: Path) -> dict:
    st = path.stat()
    arr = np.load(path, mmap_mode="r")
    shape, dtype = list(arr.shape), arr.dtype.name
    del arr
    return {"shape": shape, "dtype": dtype, "bytes": st.st_size, "mtime_ns": st.st_mtime_ns,
            "sha256": file_sha256(path)}


def reuse_problem(out, key: str, verify: bool = False) -> str | None:
    """Why the store in ``out`` cannot be reused for cache key ``key`` (one line), or None when it can.

    Checked every time (cheap): ``dataset.json`` parses and holds ``key``; the small files match the SHA-256
    recorded in it; ``features.npy`` has the recorded shape, dtype, size and modification time (so a
    truncated file, or one another build wrote, is not trusted). With ``verify``, also the SHA-256 of
    ``features.npy`` and the content hash of every input file (against ``tracks.csv``).
    """
    out = Path(out)
    done = out / "dataset.json"
    if not done.is_file():
        return "no complete store (dataset.json missing)"
    try:
        info = json.loads(done.read_text())
    except (OSError, ValueError) as err:
        return f"dataset.json is unreadable ({type(err).__name__})"
    if not isinstance(info, dict) or info.get("cache_key") != key:
        return "inputs or settings changed since it was built"
    files = info.get("files")
    if not isinstance(files, dict) or set(files) != set(CHECKSUMMED) or "features_file" not in info:
        return "dataset.json records no checksums (written by an older version)"
    for name, digest in files.items():
        if not (out / name).is_file():
            return f"{name} is missing"
        if file_sha256(out / name) != digest:
            return f"{name} does not match its checksum in dataset.json"
    rec = info.get("features_file") or {}
    path = out / "features.npy"
    if not path.is_file():
        return "features.npy is missing"
    st = path.stat()
    if st.st_size != rec.get("bytes"):
        return f"features.npy has {st.st_size} bytes, dataset.json records {rec.get('bytes')} (truncated?)"
    try:
        arr = np.load(path, mmap_mode="r")
    except (OSError, ValueError) as err:
        return f"features.npy is unreadable ({err})"
    if list(arr.shape) != rec.get("shape") or arr.dtype.name != rec.get("dtype"):
        return (f"features.npy has shape {arr.shape} {arr.dtype}, dataset.json records {rec.get('shape')} "
                f"{rec.get('dtype')}")
    del arr
    if st.st_mtime_ns != rec.get("mtime_ns"):
        return "features.npy was rewritten after dataset.json (another build?)"
    if verify:
        if file_sha256(path) != rec.get("sha256"):
            return "features.npy does not match its SHA-256 in dataset.json"
        tracks = read_csv(out / "tracks.csv", keep_default_na=False)
        for path_, sha1 in zip(tracks["path"], tracks["sha1"]):
            if sha1 and (not Path(path_).is_file() or _sha1_file(path_) != sha1):
                return f"input {path_} changed content since the store was built (--verify)"
    return None


def _row_stats(features: np.ndarray, lo: int, hi: int, chunk: int = 2048):
    """Per-row mean and std over rows ``lo:hi`` of a (n, height, frames) array, in float64 chunks."""
    height = features.shape[1]
    total, total_sq, count = np.zeros(height), np.zeros(height), 0
    for start in range(lo, hi, chunk):
        block = np.asarray(features[start:min(hi, start + chunk)], dtype=np.float64)
        total += block.sum(axis=(0, 2))
        total_sq += (block ** 2).sum(axis=(0, 2))
        count += block.shape[0] * block.shape[2]
    if count == 0:
        return np.zeros(height), np.ones(height)
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean ** 2, 1e-12))
    return mean, std


def build_dataset(out, *, gtzan=None, fma=None, fma_subset: str = "medium", folders=(),
                  profile: str | Profile = "quick", split_method: str = "random", feature_kind: str | None = None,
                  workers: int | None = None, progress: bool = True, verify: bool = False) -> Dataset:
    """Scan sources, split by track, plan balanced windows, extract features and write the store.

    Parameters
    ----------
    out : path-like
        Dataset folder (created).
    gtzan, fma, fma_subset, folders
        Sources, as in :func:`scan_sources`.
    profile : str or Profile
        Sizes and feature parameters (``tiny``, ``quick``, ``paper``).
    split_method : {'random', 'artist', 'official', 'segment'}
        See :mod:`genre_utils.splits` (``segment`` is the leaky ablation).
    feature_kind : {'mfcc', 'logmel'}, optional
        Override the profile's feature kind.
    workers : int, optional
        Processes for decoding and extraction (default: the available cores).
    progress : bool
        Show progress bars.
    verify : bool
        Also compare the content hash of every input file with the one recorded when the store was built
        (input files are otherwise recognised by path, size and modification time), and check
        ``features.npy`` against its recorded SHA-256. For data copied with preserved modification times.

    Returns
    -------
    Dataset
        The opened store. With unchanged inputs and settings the existing store is returned without work.

    Raises
    ------
    genre_utils.sources.LayoutError
        A source root that does not exist or has no recognisable layout.
    ValueError
        No usable track at all.
    genre_utils.locks.FolderLocked
        Another process is building a store in ``out``.
    """
    out = Path(out)
    with folder_lock(out, "feature-store build"):
        return _build_dataset(out, gtzan=gtzan, fma=fma, fma_subset=fma_subset, folders=folders, profile=profile,
                              split_method=split_method, feature_kind=feature_kind, workers=workers,
                              progress=progress, verify=verify)


#: Test hook: stop (as if interrupted, with a KeyboardInterrupt) after extracting this many tracks; tests set it
#: with ``monkeypatch.setattr(store, "_stop_after_tracks", n)`` to test resumption. None in normal use.
_stop_after_tracks: int | None = None


def _build_dataset(out, *, gtzan, fma, fma_subset, folders, profile, split_method, feature_kind, workers, progress,
                   verify) -> Dataset:
    """The body of :func:`build_dataset`, run under the store's lock: the reuse check, then its five phases
    (:func:`_probe_phase`, :func:`_split_and_plan`, :func:`_extract_phase`, :func:`_write_store`)."""
    t0 = time.perf_counter()
    profile = get_profile(profile)
    if feature_kind is not None:
        profile = profile.replace(features={"kind": feature_kind})
    params = profile.features
    workers = num_threads() if workers is None else max(1, int(workers))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    work = out / ".work"

    tracks, skipped = scan_sources(gtzan, fma, fma_subset, folders, progress)
    test_only = _mark_test_only(tracks, gtzan)
    artists = _attach_artists(tracks, gtzan)
    key = _cache_key(tracks, profile, split_method, fma_subset, test_only, artists)
    done = out / "dataset.json"
    problem = reuse_problem(out, key, verify=verify)
    if problem is None:
        return open_dataset(out)
    if done.is_file() or (out / "features.npy").is_file():
        print(f"store {out}: {problem}; rebuilding", file=sys.stderr, flush=True)
        done.unlink(missing_ok=True)  # the old store is stale (or broken) from here on
    if verify and work.is_dir():
        shutil.rmtree(work)  # --verify trusts nothing half-done: probe results and progress start over
    work.mkdir(exist_ok=True)
    timings = {"scan": time.perf_counter() - t0}

    t = time.perf_counter()
    tracks, fps = _probe_phase(tracks, work, key, params, workers, progress)
    timings["probe"] = time.perf_counter() - t
    tracks, checked, manifest, meta, shortfall = _split_and_plan(out, tracks, skipped, fps, profile, split_method,
                                                                 params)
    t = time.perf_counter()
    feats = _extract_phase(out, work, key, manifest, meta, params, workers, progress)
    timings["extract"] = time.perf_counter() - t
    # 5. statistics (the memory map is closed before features.npy.part is renamed), then the files
    stats = _row_stats(feats, 0, int((manifest["split"] == "train").sum()))
    del feats
    return _write_store(out, work, key, stats, manifest, tracks, skipped, checked, shortfall, profile, params,
                        split_method, (gtzan, fma, fma_subset, folders), workers, timings, t0)


def _probe_phase(tracks, work, key, params, workers, progress):
    """1. decode every track once: exact length, content hash, unusable files (cached in ``.work``).

    Returns the annotated tracks table and the audio fingerprints."""
    probe_path, fp_path = work / f"probe-{key}.csv", work / f"fingerprints-{key}.npz"
    if probe_path.is_file() and fp_path.is_file():
        probe = read_csv(probe_path, keep_default_na=False, dtype={"sha1": str, "audio_sha1": str})
        with np.load(fp_path) as packed:
            fps = unpack_fingerprints(packed)
    else:
        warm_up(params)
        jobs = [(p, params.sample_rate, params.segment_samples) for p in tracks["path"]]
        results = list(ordered_map(probe_track, jobs, workers, initializer=init_worker, desc="checking audio",
                                   unit="track", progress=progress, min_jobs=4))
        probe = pd.DataFrame([r[:4] for r in results], columns=["n_samples", "sha1", "audio_sha1", "problem"])
        fps = [r[4] for r in results]
        with open(work / "fingerprints.npz.part", "wb") as fh:
            np.savez(fh, **pack_fingerprints(fps))
        os.replace(work / "fingerprints.npz.part", fp_path)
        _write_csv(probe, probe_path)
    tracks = checks.annotate(pd.concat([tracks.reset_index(drop=True), probe], axis=1), params.sample_rate)
    return tracks, fps


def _split_and_plan(out, tracks, skipped, fps, profile, split_method, params):
    """2. split by track (identical recordings as one unit), 3. plan the windows.

    Returns ``(tracks, checked, manifest, meta, shortfall)``; a UserError (after writing
    ``skipped.csv``) when no track is usable."""
    usable = tracks[tracks["problem"] == ""].copy()
    if usable.empty:  # write the promised skipped.csv, and name the first reasons in the message
        unusable = pd.DataFrame({"path": tracks["path"], "source": tracks["source"],
                                 "reason": "unusable: " + tracks["problem"]})
        reasons = pd.concat([skipped, unusable], ignore_index=True)
        _write_csv(reasons, out / "skipped.csv")
        first = "; ".join(f"{Path(str(r.path)).name}: {r.reason}" for r in reasons.head(3).itertuples())
        raise UserError(f"no usable track in the given sources ({len(tracks)} found, {len(reasons)} files or "
                         f"rows skipped{', e.g. ' + first if first else ''}); every reason is in "
                         f"{out / 'skipped.csv'}")
    usable["split"] = split_tracks(usable, split_method, profile.split_fractions, profile.seed)
    tracks["split"] = usable["split"].reindex(tracks.index)
    checked = checks.record(out, tracks, fps, split_method)
    tracks["status"] = np.where(tracks["problem"] != "", "unusable: " + tracks["problem"],
                                np.where(tracks["split"].isna(), "not in the official split", "used"))
    windows, shortfall = plan_windows(usable[usable["split"].notna()], n_train=profile.n_train,
                                      n_valid=profile.n_valid, test_segments=profile.test_segments_per_track,
                                      segment_samples=params.segment_samples, seed=profile.seed,
                                      split_method=split_method)
    planned = usable[usable["split"].notna()]
    checked = {
        **checked,
        "tracks_per_split_genre": {s: {g: int(((planned["split"] == s) & (planned["label"] == g)).sum())
                                       for g in GENRES} for s in ("train", "valid", "test")},
        "test_only_tracks": int(planned["test_only"].sum()) if "test_only" in planned else 0,
        # test windows whose recording is also trained on: 0 under a track-level split, ~all under 'segment'
        "leak": leak_summary(windows, params.segment_samples),
    }
    meta = usable.set_index("track_id")
    windows["row"] = np.arange(len(windows))
    windows = windows.join(meta[["source", "label", "path", "artist"]], on="track_id")
    windows = windows.rename(columns={"label": "genre"})
    windows["label"] = windows["genre"].map({g: i for i, g in enumerate(GENRES)}).astype(np.int64)
    windows["offset"] = windows["start"] / params.sample_rate
    windows["segment_id"] = windows["track_id"] + "@" + windows["start"].astype(str)
    manifest = windows[["row", "segment_id", "track_id", "source", "genre", "label", "split", "kind",
                        "start", "offset", "path", "artist"]]
    return tracks, checked, manifest, meta, shortfall


def _extract_phase(out, work, key, manifest, meta, params, workers, progress):
    """4. extract, streaming into a memory map (``features.npy.part``), resumable; returns the memory map."""
    part = out / "features.npy.part"
    state_path = work / "progress.json"
    state = json.loads(state_path.read_text()) if state_path.is_file() else {}
    shape = (len(manifest), *params.shape)
    if state.get("key") == key and part.is_file():
        feats = np.lib.format.open_memmap(part, mode="r+")
        done_tracks = int(state["tracks_done"])
    else:
        feats = np.lib.format.open_memmap(part, mode="w+", dtype=FEATURE_DTYPE, shape=shape)
        done_tracks = 0
    _allocate(part)
    groups = [(tid, g["row"].to_numpy(), g["start"].to_numpy()) for tid, g in
              manifest.groupby("track_id", sort=False)]
    paths = meta["path"]
    todo = groups[done_tracks:]
    blocks = extract_tracks([paths[tid] for tid, _, _ in todo], [starts for _, _, starts in todo], params,
                            workers, progress)
    for i, block in enumerate(blocks):
        rows = groups[done_tracks + i][1]
        if rows[-1] - rows[0] + 1 == len(rows):
            feats[rows[0]:rows[-1] + 1] = block
        else:  # a track with windows in several splits (the segment split): one decode, scattered rows
            feats[rows] = block
        finished = done_tracks + i + 1
        if finished % CHUNK_TRACKS == 0 or finished == len(groups):
            feats.flush()
            atomic_write_text(state_path, json.dumps({"key": key, "tracks_done": finished}))
        if _stop_after_tracks is not None and finished >= _stop_after_tracks and finished < len(groups):
            feats.flush()
            atomic_write_text(state_path, json.dumps({"key": key, "tracks_done": finished}))
            raise KeyboardInterrupt(f"stopped after {finished} tracks (_stop_after_tracks)")
    feats.flush()
    return feats


def _allocate(path: Path) -> None:
    """Reserve the disk blocks of the (sparse) memory-mapped ``path`` now: a store write into a hole on a full
    disk is a SIGBUS ("Bus error", no message, workers left behind); a refused reservation is one line."""
    size = path.stat().st_size
    fd = os.open(path, os.O_RDWR)
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as err:
        if err.errno not in (errno.ENOSPC, errno.EDQUOT):
            if err.errno in (errno.EOPNOTSUPP, errno.EINVAL):  # no reservation on this file system: as before
                return
            raise
        free = shutil.disk_usage(path.parent).free
        os.close(fd)
        fd = None
        path.unlink(missing_ok=True)
        raise UserError(f"no space left on the device for the features of {path.parent}: {path.name} needs "
                        f"{size / 1e6:,.1f} MB, {free / 1e6:,.1f} MB are free; free some space (or choose another "
                        "--out) and run again") from None
    finally:
        if fd is not None:
            os.close(fd)


def _write_store(out, work, key, stats, manifest, tracks, skipped, checked, shortfall, profile, params,
                 split_method, sources, workers, timings, t0) -> Dataset:
    """5. the final rename, the statistics and the small tables, and dataset.json last."""
    gtzan, fma, fma_subset, folders = sources
    (mean, std), part = stats, out / "features.npy.part"
    state_path, done = work / "progress.json", out / "dataset.json"
    os.replace(part, out / "features.npy")
    with open(work / "stats.npz.part", "wb") as fh:
        np.savez(fh, mean=mean, std=std)
    os.replace(work / "stats.npz.part", out / "stats.npz")
    _write_csv(manifest, out / "manifest.csv")
    _write_csv(tracks, out / "tracks.csv")
    problems = tracks[tracks["status"] != "used"]
    all_skipped = pd.concat([skipped, pd.DataFrame({"path": problems["path"], "source": problems["source"],
                                                    "reason": problems["status"]})], ignore_index=True)
    _write_csv(all_skipped, out / "skipped.csv")
    used = tracks[tracks["status"] == "used"]
    data_fp = hashlib.sha256("".join(sorted(used["sha1"])).encode()).hexdigest()[:16]
    counts = manifest.groupby(["split", "genre"]).size().unstack(fill_value=0)
    timings["total"] = time.perf_counter() - t0
    info = {
        "cache_key": key,
        "profile": profile.name,
        "profile_config": profile.to_dict(),
        "features": dataclasses.asdict(params),
        "split_method": split_method,
        "sources": {"gtzan": str(gtzan) if gtzan else None, "fma": str(fma) if fma else None,
                    "fma_subset": fma_subset if fma else None, "folders": [str(f) for f in folders]},
        "data_fingerprint": data_fp,
        "code_fingerprint": code_fingerprint("store"),
        "n_tracks_found": int(len(tracks)),
        "n_tracks_used": int(len(used)),
        "n_skipped": int(len(all_skipped)),
        "n_windows": {s: int((manifest["split"] == s).sum()) for s in ("train", "valid", "test")},
        "tracks_per_split": {s: int((used["split"] == s).sum()) for s in ("train", "valid", "test")},
        "windows_per_split_genre": {s: {g: int(v) for g, v in row.items()} for s, row in counts.iterrows()},
        "shortfall": shortfall,
        "feature_dtype": np.dtype(FEATURE_DTYPE).name,
        "versions": versions(),
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
        "workers": workers,
        **checked,  # duplicates, artist_split, notes (genre_utils.checks)
        # what reuse_problem checks before the store is trusted again
        "files": {name: file_sha256(out / name) for name in CHECKSUMMED},
        "features_file": _features_record(out / "features.npy"),
    }
    atomic_write_text(done, json.dumps(info, indent=2))
    state_path.unlink(missing_ok=True)
    return open_dataset(out)
