"""Decoding audio and extracting the features of chosen windows, in worker processes, in order: how the feature
store is filled (:func:`extract_tracks`), and the per-track work of its probe (:func:`probe_track`).

Workers are forked once the extractor's matrices are built (:func:`warm_up`), each kept single-threaded and
deaf to Ctrl-C (:func:`init_worker`); :func:`genre_utils.parallel.ordered_map` hands the results back in order.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from .audio import AudioError, audio_digest, check_audio, cut_segments, load_audio
from .config import FeatureParams, num_threads
from .duplicates import FP_BANDS
from .duplicates import fingerprint as audio_fingerprint
from .features import extract
from .parallel import ignore_interrupts, ordered_map

__all__ = ["FEATURE_DTYPE", "init_worker", "probe_track", "features_of_track", "warm_up", "extract_tracks"]

#: The store's feature dtype (half the size of float32; its rounding is far below the features' spread).
FEATURE_DTYPE = np.float16


def init_worker():
    """Keep each worker single-threaded (the pool already uses every core) and deaf to Ctrl-C.

    A forked worker inherits the parent's thread settings (torch's intra-op threads, the BLAS and OpenMP
    pools), and setting OMP_NUM_THREADS there is too late: the libraries are loaded. So torch is set to one
    thread and the other pools are limited with threadpoolctl. With one thread torch never starts an OpenMP
    parallel region in the worker, so an OpenMP thread pool the parent started before the fork (which a
    forked child cannot use) is never waited on (``tests/test_store.py`` builds features in workers after
    the parent ran torch with two threads).
    """
    ignore_interrupts()  # Ctrl-C: the parent reports it once and ends the pool
    if "torch" in sys.modules:   # a worker that imports torch itself starts with no inherited pool
        sys.modules["torch"].set_num_threads(1)
    threadpool_limits(1)


def probe_track(args):
    """Decode one track.

    Returns
    -------
    n_samples : int
        Decoded length at ``sample_rate`` (0 when unusable).
    sha1, audio_sha1 : str
        SHA-1 of the file's bytes and of its decoded audio (:func:`genre_utils.audio.audio_digest`; ``''``
        when unusable).
    problem : str
        ``''`` or why the track cannot be used.
    fingerprint : ndarray, shape (n_frames, FP_BANDS), float16
        :func:`genre_utils.duplicates.fingerprint` (no rows when unusable).
    """
    path, sample_rate, min_samples = args
    none = np.zeros((0, FP_BANDS), np.float16)
    try:
        digest = hashlib.sha1(Path(path).read_bytes()).hexdigest()
    except OSError as err:
        return 0, "", "", f"unreadable file ({err.strerror})", none
    try:
        y = load_audio(path, sample_rate)
        check_audio(y, min_samples)
    except AudioError as err:
        return 0, digest, "", str(err), none
    return int(y.size), digest, audio_digest(y), "", audio_fingerprint(y, sample_rate)


def features_of_track(args):
    """Decode one track and return the float16 features of the windows starting at ``starts``."""
    path, starts, params = args
    y = load_audio(path, params.sample_rate)
    return extract(cut_segments(y, starts, params.segment_samples), params).astype(FEATURE_DTYPE)


def warm_up(params: FeatureParams) -> None:
    """Import torch and librosa and build the extractor's cached matrices once, so forked workers inherit them."""
    extract(np.zeros((1, params.segment_samples), np.float32), params)


def extract_tracks(paths, starts, params: FeatureParams = FeatureParams(), workers: int | None = None,
                   progress: bool = False, desc: str = "extracting features"):
    """Decode audio files and extract the features of chosen windows, in worker processes, in order.

    This is how :func:`build_dataset` fills the store. With more than one worker (and at least four files)
    the files are spread over a pool of forked processes, each running :func:`~genre_utils.features.extract`
    single-threaded; otherwise they are done one after the other in this process.

    Parameters
    ----------
    paths : sequence of path-like
        Audio files :func:`genre_utils.audio.load_audio` reads.
    starts : sequence of array_like of int, or one array_like of int
        Window starts in samples at ``params.sample_rate``, one array per file (or one array for every
        file). Windows running past a file's end are zero-padded.
    params : FeatureParams
    workers : int, optional
        Processes (default: :func:`~genre_utils.config.num_threads`).
    progress : bool
        Show a progress bar.
    desc : str
        Label of the progress bar.

    Returns
    -------
    blocks : iterator of ndarray, shape (len(starts of the file), params.height, params.n_frames), float16
        The features of each file, in the order of ``paths``, as soon as they are ready.

    Raises
    ------
    genre_utils.audio.AudioError
        A file that cannot be decoded (the store only extracts files that passed its probe).
    """
    paths = [str(p) for p in paths]
    if len(starts) and np.ndim(starts[0]) == 0:
        starts = [starts] * len(paths)
    if len(starts) != len(paths):
        raise ValueError(f"{len(paths)} files but {len(starts)} arrays of window starts")
    workers = num_threads() if workers is None else max(1, int(workers))
    jobs = [(path, np.asarray(s, dtype=np.int64), params) for path, s in zip(paths, starts)]
    warm_up(params)
    return ordered_map(features_of_track, jobs, workers, initializer=init_worker, desc=desc, unit="track",
                       progress=progress, min_jobs=4)
