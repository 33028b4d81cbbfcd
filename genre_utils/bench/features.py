"""Benchmark 1: feature extraction, the project's extractor against the paper's per-window loop."""


from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from ..config import FeatureParams, num_threads
from ..paper_method import extract_paper
from ..paper_method import window_starts as _starts
from .clips import write_wavs
from .common import bench_log, other_load, report_row, time_calls


def extract_project(clips: np.ndarray, params: FeatureParams = FeatureParams()) -> np.ndarray:
    """The project's extractor as the store runs it: one batched :func:`~genre_utils.features.extract` per clip.

    Returns
    -------
    features : ndarray, shape (n_clips * windows_per_clip, height, n_frames), float32
    """
    # deferred: slow to import, loaded for this measurement only
    from ..audio import cut_segments
    from ..features import extract

    return np.concatenate([extract(cut_segments(clip, _starts(clip.size, params), params.segment_samples), params)
                           for clip in clips])


def _extract_store_path(paths, n_samples: int, params: FeatureParams, workers: int) -> np.ndarray:
    """The store's parallel path: decode each WAV and extract its windows in a pool of ``workers`` processes.

    Returns
    -------
    features : ndarray, shape (n_files * windows_per_clip, height, n_frames), float16 (the store's dtype)
    """
    # deferred: slow to import, loaded for this measurement only
    from ..store import extract_tracks

    return np.concatenate(list(extract_tracks(paths, _starts(n_samples, params), params, workers)))


def _single_threaded(func):
    """``func`` wrapped to run with torch, BLAS and OpenMP limited to one thread (restored afterwards)."""
    def call():
        # deferred: slow to import, loaded for this measurement only
        from ..features import one_torch_thread

        with one_torch_thread(), threadpool_limits(1):
            return func()
    return call


def compare_features(a: np.ndarray, b: np.ndarray, rtol: float, atol: float) -> dict:
    """Whether two stacks of feature matrices agree, and how many matrices (windows) do not."""
    if a.shape != b.shape:
        return {"allclose": False, "max_abs_diff": float("nan"), "windows_differing": len(a), "n_windows": len(a),
                "rtol": rtol, "atol": atol, "shapes": [list(a.shape), list(b.shape)]}
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    close = np.isclose(a64, b64, rtol=rtol, atol=atol).reshape(len(a), -1).all(axis=1)
    return {"allclose": bool(close.all()), "max_abs_diff": float(np.abs(a64 - b64).max()) if a.size else 0.0,
            "windows_differing": int((~close).sum()), "n_windows": len(a), "rtol": rtol, "atol": atol}


def bench_features(clips: np.ndarray, params: FeatureParams, folder: Path, repeat: int = 3,
                   workers: int | None = None, files_per_pool: int = 100) -> tuple[list[dict], np.ndarray]:
    """Clips/s of the project's extractor vs the paper's per-window loop on the same clips.

    Parameters
    ----------
    clips : ndarray, shape (n_clips, n_samples), float32
        Audio at ``params.sample_rate``; written to WAV files (and read back) for the store's path.
    params : FeatureParams
    folder : Path
        Scratch folder for the WAV files.
    repeat : int
    workers : int, optional
        Processes of the store's path (default: :func:`~genre_utils.config.num_threads`).
    files_per_pool : int
        The store's path is timed on the clips' files listed over and over until at least this many, as a
        store build hands hundreds of tracks to one pool of workers (starting the pool and each worker's
        first call cost a few tenths of a second once per build). It is also timed on the clips once.

    Returns
    -------
    rows : list of dict
        Report rows ``features_batched``, ``features_store_parallel`` and ``features_equal``.
    features : ndarray, shape (n_windows, height, n_frames), float32
        The project's features of every window (reused by the storage and training benchmarks).
    """
    # deferred: slow to import, loaded for this measurement only
    from ..audio import load_audio

    workers = num_threads() if workers is None else workers
    paths = write_wavs(clips, params.sample_rate, folder / "clips")
    clips = np.stack([load_audio(p, params.sample_rate) for p in paths])  # what the files hold, exactly
    n = len(clips)

    bench_log(f"features: paper loop (one librosa.feature.mfcc per window) on {n} clips")
    paper_t, paper = time_calls(lambda: extract_paper(clips, params), repeat)
    bench_log("features: project extractor (batched, 1 process)")
    batched_t, ours = time_calls(lambda: extract_project(clips, params), repeat)
    bench_log("features: both again with torch, BLAS and OpenMP held to one thread")
    paper1_t, _ = time_calls(_single_threaded(lambda: extract_paper(clips, params)), repeat)
    batched1_t, _ = time_calls(_single_threaded(lambda: extract_project(clips, params)), repeat)
    bench_log(f"features: store path (decode + extract, {workers} processes)")
    try:
        store_t, stored = time_calls(lambda: _extract_store_path(paths, clips.shape[1], params, workers), repeat)
        passes = max(1, -(-files_per_pool // n))
        bench_log(f"features: store path on {passes * n} files ({passes} passes over the clips) per pool")
        many_t, many = time_calls(lambda: _extract_store_path(paths * passes, clips.shape[1], params, workers),
                                  repeat)
        same_passes = np.array_equal(many, np.concatenate([stored] * passes))
        store_error = "" if same_passes else "the passes over the same files gave different features"
    except Exception as err:  # report a broken store path instead of losing the other benchmarks
        store_t, stored, store_error = None, None, f"{type(err).__name__}: {err}"

    same = compare_features(ours, paper, rtol=1e-4, atol=1e-3)
    paper_rate = n / paper_t["best"]
    batched_rate = n / batched_t["best"]
    paper1_rate, batched1_rate = n / paper1_t["best"], n / batched1_t["best"]
    raw = {"n_clips": n, "clip_seconds": clips.shape[1] / params.sample_rate, "windows": int(len(ours)),
           "paper_loop_s": paper_t, "project_batched_s": batched_t, "paper_clips_per_s": paper_rate,
           "project_clips_per_s": batched_rate, "one_thread": {
               "paper_loop_s": paper1_t, "project_batched_s": batched1_t, "paper_clips_per_s": paper1_rate,
               "project_clips_per_s": batched1_rate, "ratio": batched1_rate / paper1_rate}}
    rows = [report_row("features_batched", "feature extraction, 1 process: project (batched) vs paper (loop)",
                       batched_rate / paper_rate, "x", ">=", 3.0,
                       f"{batched_rate:.2f} vs {paper_rate:.2f} clips/s; both with one thread: {batched1_rate:.2f} "
                       f"vs {paper1_rate:.2f} clips/s ({batched1_rate / paper1_rate:.1f}x)", raw,
                       other_cores=other_load(paper_t, batched_t))]
    if stored is None or store_error:
        rows.append(report_row("features_store_parallel", "feature extraction, store path vs paper (loop)", None, "x",
                               status="not measured", detail=store_error))
    else:
        store_rate, many_rate = n / store_t["best"], passes * n / many_t["best"]
        same16 = compare_features(stored, ours, rtol=2e-3, atol=1e-4)
        rows.append(report_row(
            "features_store_parallel",
            f"feature extraction, store path (WAV decode + extract, {workers} processes) vs paper (loop)",
            many_rate / paper_rate, "x", ">=", 3.0,
            f"{many_rate:.2f} vs {paper_rate:.2f} clips/s with {passes * n} files per pool of workers; "
            f"{store_rate:.2f} clips/s ({store_rate / paper_rate:.1f}x) with {n} (pool start-up weighs "
            f"more); float16 output equals the batched extractor's: {same16['allclose']}",
            {"workers": workers, "files_per_pool": passes * n, "store_path_s": many_t,
             "store_clips_per_s": many_rate, "clips_once": {"files_per_pool": n, "store_path_s": store_t,
                                                            "store_clips_per_s": store_rate},
             "paper_clips_per_s": paper_rate, "equal_to_project_float16": same16},
            status=None if same16["allclose"] else "fail", other_cores=other_load(many_t)))
    diagnosis = "" if same["allclose"] else _diagnose_difference(clips, params, paper, same)
    rows.append(report_row(
        "features_equal", "feature extraction: project output equals the paper loop's (allclose)",
        100.0 * (1 - same["windows_differing"] / max(1, same["n_windows"])), "% of windows", ">=", 100.0,
        f"{same['windows_differing']} of {same['n_windows']} windows differ (max |diff| "
        f"{same['max_abs_diff']:.2g}, rtol {same['rtol']:g}, atol {same['atol']:g}){diagnosis}",
        {"equal_to_paper": same, "diagnosis": diagnosis.strip("; ")}))
    return rows, ours


def _diagnose_difference(clips: np.ndarray, params: FeatureParams, paper: np.ndarray, same: dict) -> str:
    """Explain a mismatch: do the differing windows match the paper when extracted one at a time?"""
    # deferred: slow to import, loaded for this measurement only
    from ..features import extract

    windows = np.concatenate([clip[None, s:s + params.segment_samples] for clip in clips
                              for s in _starts(clip.size, params)])
    alone = np.stack([extract(w, params) for w in windows])
    single = compare_features(alone, paper, rtol=same["rtol"], atol=same["atol"])
    if single["allclose"]:
        return ("; each window extracted alone matches: the batch changes the result (librosa's "
                "power_to_db top_db=80 floor is taken from the maximum of the whole batch, not per window)")
    return f"; extracted one at a time, {single['windows_differing']} windows still differ"
