"""Benchmarks: the pipeline against the paper's approach and against the machine's own limit.

``make bench`` (``python -m genre_utils.bench --build-dir _build``) measures, side by side in one run on
one machine:

1. **feature extraction** - 30-s clips per second of :func:`genre_utils.features.extract` (one batched
   torch call on a clip's six 5-s windows, as the store runs it; and the store's own parallel path,
   :func:`genre_utils.store.extract_tracks`, decoding WAV files in ``num_threads()`` single-threaded
   processes) against the paper's approach, a Python loop with one ``librosa.feature.mfcc`` call per 5-s
   window in one process, on the same clips. The outputs are checked equal. Both single-process ways are
   also timed with torch, BLAS and OpenMP held to one thread (the extractor always computes in one
   thread; the paper's loop then loses its two-thread BLAS, which a busy machine slows most).
2. **feature storage** - load time and disk size of the same windows in the project's store (float16
   ``.npy`` memory-mapped then materialised as float32, plus a manifest CSV) and in the paper's format (a
   pandas CSV with one row per window, the MFCC matrix stringified by ``np.array2string`` with an infinite
   threshold, parsed back after ``pd.read_csv``).
3. **training** - CRNN (``'crnn'``, the paper variant) training samples/s at batch 200 on (64, 235)
   inputs, converted to GFLOP/s with an analytic FLOP count and divided by the fp32 matmul GFLOP/s
   measured in the same run; channels_last (what :func:`genre_utils.train.fit` uses) and NCHW. Below the
   target, one step is profiled with ``torch.profiler`` to show what bounds it.
4. **prediction** - seconds of MP3 audio classified per second by
   :func:`genre_utils.evaluate.evaluate_files` (decode, features, a freshly initialised CRNN, vote).
5. **end to end** (only with ``--end-to-end PROFILE``, it takes minutes) - wall time and peak memory of
   ``python -m genre_utils.build book`` in a fresh build folder.

Results go to ``<build>/bench/report.json`` and ``<build>/bench/report.md`` (also printed). Every row has
a value, unit, target, status (``pass``, ``fail`` or ``report``), the raw timings (every run; the best is
the headline) and ``other_cores``, the number of cores other processes kept busy while the row was
measured (:class:`CpuMeter`). On a shared machine wall-clock speeds fall with that number, so the training
ratio is also given per CPU second, which other processes change much less (they still share caches and
memory bandwidth, and stall threads that wait for each other). ``--wait-quiet SECONDS`` waits for
idle cores before each benchmark. Benchmarks are not tests: the test suite only checks that this module
runs at tiny sizes.

FLOP count of the training benchmark
------------------------------------
Forward multiply-accumulates (MACs) per sample are counted from the layer shapes (found with forward
hooks on one sample): a ``Conv2d`` does ``C_out * H_out * W_out * (C_in * k_h * k_w)`` MACs, a ``Linear``
``in * out``, a GRU ``3 * hidden * (input + hidden)`` per time step and direction. Forward FLOPs are
``2 * MACs``; ReLU, pooling, bias additions and the GRU's gate non-linearities are not counted. A training
step is counted as ``3 x`` the forward FLOPs (forward, gradient w.r.t. the inputs, gradient w.r.t. the
weights). The exact count is slightly lower because the first convolution needs no input gradient; it is
reported as ``train_flops_exact``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import FeatureParams, get_profile, num_threads

__all__ = [
    "BenchConfig",
    "CpuMeter",
    "wait_until_quiet",
    "machine_info",
    "make_clips",
    "extract_paper",
    "extract_project",
    "bench_features",
    "stringify_matrix",
    "parse_matrix",
    "bench_storage",
    "forward_macs",
    "matmul_gflops",
    "time_training_steps",
    "bench_training",
    "bench_prediction",
    "bench_end_to_end",
    "run",
    "to_markdown",
    "write_report",
    "main",
]

E2E_TARGETS_MINUTES = {"tiny": 4.0, "quick": 15.0}
E2E_RSS_TARGET_GB = 4.0


# ------------------------------------------------------------------------------------------ settings
@dataclass(frozen=True)
class BenchConfig:
    """Sizes of one benchmark run.

    Attributes
    ----------
    profile : str
        Profile whose feature parameters and training-set size (``n_train`` windows) are used.
    n_clips : int
        Clips of the feature-extraction benchmark.
    clip_seconds : float
        Length of each clip (30 s, as GTZAN's and FMA's).
    clip_source : {'synth', 'tones'}
        ``'synth'``: composed and rendered by :mod:`genre_utils.synth` (falls back to ``'tones'`` if that
        fails); ``'tones'``: noise plus a few sine tones (fast, for tests).
    n_windows : int
        Windows written in both storage formats.
    repeat : int
        Timed repetitions of every measurement (the best is the headline; all are kept).
    batch_size, train_steps, warmup_steps : int
        Training benchmark: batch size, timed optimiser steps and untimed warm-up steps per memory format.
    matmul_size : int
        Side of the square fp32 matrices of the matmul reference.
    n_files : int
        MP3 files of the prediction benchmark.
    profile_training : bool or None
        Profile one training step: always (True), never (False) or only below the target (None).
    wait_quiet : float
        Before each benchmark, wait up to this many seconds for other processes to leave the cores idle
        (0: do not wait).
    seed : int
    """

    profile: str = "quick"
    n_clips: int = 20
    clip_seconds: float = 30.0
    clip_source: str = "synth"
    n_windows: int = 2000
    repeat: int = 3
    batch_size: int = 200
    train_steps: int = 3
    warmup_steps: int = 1
    matmul_size: int = 2048
    n_files: int = 10
    profile_training: bool | None = None
    wait_quiet: float = 0.0
    seed: int = 0

    @classmethod
    def default(cls, profile: str = "quick", quick: bool = False) -> "BenchConfig":
        """The settings of ``make bench`` (a few minutes), or smaller ones with ``quick``."""
        if quick:
            return cls(profile=profile, n_clips=4, n_windows=get_profile("tiny").n_train, repeat=2,
                       train_steps=1, n_files=3)
        return cls(profile=profile, n_windows=get_profile(profile).n_train)

    @property
    def params(self) -> FeatureParams:
        """The profile's feature parameters with MFCCs (what the paper computed)."""
        return dataclasses.replace(get_profile(self.profile).features, kind="mfcc")


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------ helpers
class CpuMeter:
    """CPU time used by this process, and by the other processes of the machine, while a measurement ran.

    ``read()`` after ``start()`` gives ``cpu_s``, the CPU seconds of this process and its reaped children
    (``os.times``, all threads), and ``other_cores``, the CPU time of the whole machine (``/proc/stat``)
    minus ``cpu_s``, divided by the wall time: how many cores other processes kept busy (``None`` where
    ``/proc/stat`` does not exist). On a shared machine wall-clock speeds drop while ``cpu_s`` stays
    closer to the work done (not equal to it: a descheduled thread stalls the others), so both are kept.
    """

    def __init__(self):
        self._start = None

    @staticmethod
    def _counters():
        t = os.times()
        own = t.user + t.system + t.children_user + t.children_system
        try:
            with open("/proc/stat") as fh:
                values = [int(v) for v in fh.readline().split()[1:]]
            # user nice system idle iowait irq softirq steal ...: busy = all but idle and iowait
            busy = (sum(values[:8]) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            busy = None
        return busy, own, time.perf_counter()

    def start(self) -> "CpuMeter":
        self._start = self._counters()
        return self

    def read(self) -> dict:
        """``{"cpu_s": own CPU seconds, "other_cores": cores used by other processes or None}`` since start."""
        busy1, own1, wall1 = self._counters()
        busy0, own0, wall0 = self._start
        own, wall = own1 - own0, wall1 - wall0
        other = None
        if busy0 is not None and busy1 is not None and wall > 0:
            other = max(0.0, (busy1 - busy0 - own) / wall)
        return {"cpu_s": own, "other_cores": other}

    def other_cores(self) -> float | None:
        return self.read()["other_cores"]


def wait_until_quiet(max_seconds: float, threshold: float = 0.25, window: float = 2.0) -> float:
    """Wait (up to ``max_seconds``) until other processes use fewer than ``threshold`` cores.

    Returns
    -------
    waited : float
        Seconds waited (``max_seconds`` or more if the machine never got quiet).
    """
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < max_seconds:
        meter = CpuMeter().start()
        time.sleep(window)
        other = meter.other_cores()
        if other is None or other < threshold:
            break
        _log(f"waiting for a quiet machine: other processes use {other:.1f} cores")
    return time.perf_counter() - t0


def _timings(seconds, meters=None) -> dict:
    """Raw run times with their best and median (seconds); with meter readings, CPU seconds and other load."""
    seconds = [float(s) for s in seconds]
    out = {"runs": seconds, "best": min(seconds), "median": float(np.median(seconds))}
    if meters is not None:
        out["cpu_s"] = [round(float(m["cpu_s"]), 4) for m in meters]
        out["other_cores"] = [None if m["other_cores"] is None else round(float(m["other_cores"]), 2)
                              for m in meters]
    return out


def time_calls(func, repeat: int, warmup: int = 1):
    """Call ``func()`` ``warmup`` times untimed, then ``repeat`` times timed.

    Returns
    -------
    timings : dict
        ``runs`` (seconds of each timed call), ``best``, ``median``, ``cpu_s`` (CPU seconds of this
        process and its children per call) and ``other_cores`` (cores other processes kept busy during
        each call, see :class:`CpuMeter`).
    result
        What the last call returned.
    """
    result = None
    for _ in range(warmup):
        result = func()
    runs, meters = [], []
    for _ in range(max(1, repeat)):
        meter = CpuMeter().start()
        t0 = time.perf_counter()
        result = func()
        runs.append(time.perf_counter() - t0)
        meters.append(meter.read())
    return _timings(runs, meters), result


def _other_load(*timings) -> float | None:
    """Median of the cores other processes used over the runs of some :func:`_timings` dicts."""
    values = [o for t in timings if t for o in t.get("other_cores", []) if o is not None]
    return float(np.median(values)) if values else None


def _judge(value, op: str | None, threshold: float | None) -> str:
    if op is None or value is None or not np.isfinite(value):
        return "report" if op is None else "fail"
    return "pass" if (value >= threshold if op == ">=" else value <= threshold) else "fail"


def _row(row_id: str, what: str, value, unit: str, op: str | None = None, threshold: float | None = None,
         detail: str = "", raw: dict | None = None, status: str | None = None, other_cores=None) -> dict:
    """One line of the report: the measured value, its target, whether it is met and how busy the machine was.

    ``other_cores`` is the median number of cores other processes kept busy during the row's timed runs.
    """
    target = None if op is None else {"op": op, "value": threshold, "text": f"{op} {threshold:g} {unit}".strip()}
    return {"id": row_id, "what": what, "value": None if value is None else float(value), "unit": unit,
            "target": target, "status": status or _judge(value, op, threshold), "detail": detail,
            "other_cores": None if other_cores is None else round(float(other_cores), 2), "raw": raw or {}}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> float | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2 ** 20, 1)
    except OSError:
        pass
    return None


def _load_average():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def machine_info() -> dict:
    """Cores, CPU model, memory, library versions and torch's thread count of this machine."""
    import importlib.metadata as md

    import torch

    libs = {}
    for name in ("numpy", "scipy", "pandas", "librosa", "soundfile", "soxr", "torch"):
        try:
            libs[name] = md.version(name)
        except md.PackageNotFoundError:
            libs[name] = None
    return {"cores": num_threads(), "cpu_count": os.cpu_count(), "cpu_model": _cpu_model(),
            "memory_gb": _memory_gb(), "python": platform.python_version(), "platform": platform.platform(),
            "torch_threads": torch.get_num_threads(), "mkldnn": bool(torch.backends.mkldnn.is_available()),
            "load_average": _load_average(), "versions": libs}


# ------------------------------------------------------------------------------------------ 1. clips
def _tone_clip(rng: np.random.Generator, n_samples: int, sample_rate: int) -> np.ndarray:
    """Pink-ish noise plus three sine tones with a slow tremolo, peak 0.5."""
    t = np.arange(n_samples) / sample_rate
    y = 0.05 * np.cumsum(rng.standard_normal(n_samples)) / np.sqrt(n_samples)
    y += 0.02 * rng.standard_normal(n_samples)
    for freq in rng.uniform(80, 2000, 3):
        y += 0.2 * np.sin(2 * np.pi * freq * t) * (0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.2, 3) * t))
    return (0.5 * y / np.max(np.abs(y))).astype(np.float32)


def _synth_clip(index: int, seed: int, seconds: float, sample_rate: int) -> np.ndarray:
    from . import synth
    from .genres import GENRES

    genre = GENRES[index % len(GENRES)]
    midi = synth.compose(genre, seed + index, seconds)
    return synth.render(midi, seconds, sample_rate=sample_rate, seed=seed + index)


def make_clips(n: int, seconds: float = 30.0, sample_rate: int = 22050, seed: int = 0,
               source: str = "synth") -> tuple[np.ndarray, str]:
    """Deterministic test clips.

    Parameters
    ----------
    n : int
        Number of clips.
    seconds : float
        Length of each clip.
    sample_rate : int
    seed : int
    source : {'synth', 'tones'}
        ``'synth'`` composes and renders music of the ten genres in turn with :mod:`genre_utils.synth`; if
        that fails (module missing or broken) the clips fall back to ``'tones'``.

    Returns
    -------
    clips : ndarray, shape (n, round(seconds * sample_rate)), float32
    source : str
        What produced the clips (``'synth'`` or ``'tones'``).
    """
    n_samples = int(round(seconds * sample_rate))
    if source == "synth":
        try:
            from tqdm.auto import tqdm

            clips = [_synth_clip(i, seed, seconds, sample_rate)[:n_samples]
                     for i in tqdm(range(n), desc="rendering clips", unit="clip", disable=None, leave=False)]
            return np.stack(clips), "synth"
        except Exception as err:  # the synthetic corpus is another module's job: fall back, say so
            _log(f"synth clips unavailable ({type(err).__name__}: {err}); using noise + tones")
    rng = np.random.default_rng(seed)
    return np.stack([_tone_clip(rng, n_samples, sample_rate) for _ in range(n)]), "tones"


def _write_wavs(clips: np.ndarray, sample_rate: int, folder: Path) -> list[Path]:
    from .audio import write_wav

    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"clip{i:03d}.wav" for i in range(len(clips))]
    for path, clip in zip(paths, clips):
        write_wav(path, clip, sample_rate)
    return paths


# ----------------------------------------------------------------------------- 1. feature extraction
def _starts(n_samples: int, params: FeatureParams) -> np.ndarray:
    from .audio import segment_starts

    return segment_starts(n_samples, params.segment_samples)


def extract_paper(clips: np.ndarray, params: FeatureParams = FeatureParams()) -> np.ndarray:
    """The paper's approach: a Python loop, one ``librosa.feature.mfcc`` call per 5-s window.

    Parameters
    ----------
    clips : ndarray, shape (n_clips, n_samples)
    params : FeatureParams

    Returns
    -------
    features : ndarray, shape (n_clips * windows_per_clip, height, n_frames), float32
    """
    import librosa

    out = []
    for clip in clips:
        for start in _starts(clip.size, params):
            window = clip[start:start + params.segment_samples]
            out.append(librosa.feature.mfcc(y=window, sr=params.sample_rate, n_mfcc=params.height,
                                            n_mels=params.n_mels, n_fft=params.n_fft, hop_length=params.hop_length))
    return np.stack(out).astype(np.float32, copy=False)


def extract_project(clips: np.ndarray, params: FeatureParams = FeatureParams()) -> np.ndarray:
    """The project's extractor as the store runs it: one batched :func:`~genre_utils.features.extract` per clip.

    Returns
    -------
    features : ndarray, shape (n_clips * windows_per_clip, height, n_frames), float32
    """
    from .audio import cut_segments
    from .features import extract

    return np.concatenate([extract(cut_segments(clip, _starts(clip.size, params), params.segment_samples), params)
                           for clip in clips])


def _extract_store_path(paths, n_samples: int, params: FeatureParams, workers: int) -> np.ndarray:
    """The store's parallel path: decode each WAV and extract its windows in a pool of ``workers`` processes.

    Returns
    -------
    features : ndarray, shape (n_files * windows_per_clip, height, n_frames), float16 (the store's dtype)
    """
    from .store import extract_tracks

    return np.concatenate(list(extract_tracks(paths, _starts(n_samples, params), params, workers)))


def _single_threaded(func):
    """``func`` wrapped to run with torch, BLAS and OpenMP limited to one thread (restored afterwards)."""
    def call():
        from threadpoolctl import threadpool_limits

        from .features import one_torch_thread

        with one_torch_thread(), threadpool_limits(1):
            return func()
    return call


def _compare(a: np.ndarray, b: np.ndarray, rtol: float, atol: float) -> dict:
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
    from .audio import load_audio

    workers = num_threads() if workers is None else workers
    paths = _write_wavs(clips, params.sample_rate, folder / "clips")
    clips = np.stack([load_audio(p, params.sample_rate) for p in paths])  # what the files hold, exactly
    n = len(clips)

    _log(f"features: paper loop (one librosa.feature.mfcc per window) on {n} clips")
    paper_t, paper = time_calls(lambda: extract_paper(clips, params), repeat)
    _log("features: project extractor (batched, 1 process)")
    batched_t, ours = time_calls(lambda: extract_project(clips, params), repeat)
    _log("features: both again with torch, BLAS and OpenMP held to one thread")
    paper1_t, _ = time_calls(_single_threaded(lambda: extract_paper(clips, params)), repeat)
    batched1_t, _ = time_calls(_single_threaded(lambda: extract_project(clips, params)), repeat)
    _log(f"features: store path (decode + extract, {workers} processes)")
    try:
        store_t, stored = time_calls(lambda: _extract_store_path(paths, clips.shape[1], params, workers), repeat)
        passes = max(1, -(-files_per_pool // n))
        _log(f"features: store path on {passes * n} files ({passes} passes over the clips) per pool")
        many_t, many = time_calls(lambda: _extract_store_path(paths * passes, clips.shape[1], params, workers),
                                  repeat)
        same_passes = np.array_equal(many, np.concatenate([stored] * passes))
        store_error = "" if same_passes else "the passes over the same files gave different features"
    except Exception as err:  # report a broken store path instead of losing the other benchmarks
        store_t, stored, store_error = None, None, f"{type(err).__name__}: {err}"

    same = _compare(ours, paper, rtol=1e-4, atol=1e-3)
    paper_rate = n / paper_t["best"]
    batched_rate = n / batched_t["best"]
    paper1_rate, batched1_rate = n / paper1_t["best"], n / batched1_t["best"]
    raw = {"n_clips": n, "clip_seconds": clips.shape[1] / params.sample_rate, "windows": int(len(ours)),
           "paper_loop_s": paper_t, "project_batched_s": batched_t, "paper_clips_per_s": paper_rate,
           "project_clips_per_s": batched_rate, "one_thread": {
               "paper_loop_s": paper1_t, "project_batched_s": batched1_t, "paper_clips_per_s": paper1_rate,
               "project_clips_per_s": batched1_rate, "ratio": batched1_rate / paper1_rate}}
    rows = [_row("features_batched", "feature extraction, 1 process: project (batched) vs paper (loop)",
                 batched_rate / paper_rate, "x", ">=", 3.0,
                 f"{batched_rate:.2f} vs {paper_rate:.2f} clips/s; both with one thread: {batched1_rate:.2f} "
                 f"vs {paper1_rate:.2f} clips/s ({batched1_rate / paper1_rate:.1f}x)", raw,
                 other_cores=_other_load(paper_t, batched_t))]
    if stored is None or store_error:
        rows.append(_row("features_store_parallel", "feature extraction, store path vs paper (loop)", None, "x",
                         status="not measured", detail=store_error))
    else:
        store_rate, many_rate = n / store_t["best"], passes * n / many_t["best"]
        same16 = _compare(stored, ours, rtol=2e-3, atol=1e-4)
        rows.append(_row("features_store_parallel",
                         f"feature extraction, store path (WAV decode + extract, {workers} processes) vs paper (loop)",
                         many_rate / paper_rate, "x", ">=", 3.0,
                         f"{many_rate:.2f} vs {paper_rate:.2f} clips/s with {passes * n} files per pool of workers; "
                         f"{store_rate:.2f} clips/s ({store_rate / paper_rate:.1f}x) with {n} (pool start-up weighs "
                         f"more); float16 output equals the batched extractor's: {same16['allclose']}",
                         {"workers": workers, "files_per_pool": passes * n, "store_path_s": many_t,
                          "store_clips_per_s": many_rate, "clips_once": {"files_per_pool": n, "store_path_s": store_t,
                                                                         "store_clips_per_s": store_rate},
                          "paper_clips_per_s": paper_rate, "equal_to_project_float16": same16},
                         status=None if same16["allclose"] else "fail", other_cores=_other_load(many_t)))
    diagnosis = "" if same["allclose"] else _diagnose_difference(clips, params, paper, same)
    rows.append(_row("features_equal", "feature extraction: project output equals the paper loop's (allclose)",
                     100.0 * (1 - same["windows_differing"] / max(1, same["n_windows"])), "% of windows", ">=", 100.0,
                     f"{same['windows_differing']} of {same['n_windows']} windows differ (max |diff| "
                     f"{same['max_abs_diff']:.2g}, rtol {same['rtol']:g}, atol {same['atol']:g}){diagnosis}",
                     {"equal_to_paper": same, "diagnosis": diagnosis.strip("; ")}))
    return rows, ours


def _diagnose_difference(clips: np.ndarray, params: FeatureParams, paper: np.ndarray, same: dict) -> str:
    """Explain a mismatch: do the differing windows match the paper when extracted one at a time?"""
    from .features import extract

    windows = np.concatenate([clip[None, s:s + params.segment_samples] for clip in clips
                              for s in _starts(clip.size, params)])
    alone = np.stack([extract(w, params) for w in windows])
    single = _compare(alone, paper, rtol=same["rtol"], atol=same["atol"])
    if single["allclose"]:
        return ("; each window extracted alone matches: the batch changes the result (librosa's "
                "power_to_db top_db=80 floor is taken from the maximum of the whole batch, not per window)")
    return f"; extracted one at a time, {single['windows_differing']} windows still differ"


# -------------------------------------------------------------------------------- 2. feature storage
def stringify_matrix(matrix: np.ndarray) -> str:
    """The paper's storage of one feature matrix: ``np.array2string`` with an infinite threshold."""
    return np.array2string(np.asarray(matrix), threshold=np.inf)


def parse_matrix(text: str, dtype=np.float32) -> np.ndarray:
    """Parse a :func:`stringify_matrix` string back to a 2-D array (rows = inner bracket pairs).

    Returns
    -------
    matrix : ndarray, shape (rows, columns)
    """
    n_rows = max(1, text.count("[") - 1)
    flat = text.replace("[", " ").replace("]", " ")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        values = np.fromstring(flat, dtype=dtype, sep=" ")
    return values.reshape(n_rows, -1)


def _tile(features: np.ndarray, n: int) -> np.ndarray:
    """The first ``n`` windows of ``features`` repeated as often as needed (index ``i % len(features)``)."""
    return features[np.arange(n) % len(features)]


def _window_table(n: int, windows_per_clip: int, n_unique: int):
    """Metadata columns both formats store: segment id, track id, genre and label of each window."""
    import pandas as pd

    from .genres import GENRES

    unique = np.arange(n) % n_unique
    track = unique // windows_per_clip
    return pd.DataFrame({"segment_id": [f"bench:{t:04d}@{k:06d}" for t, k in zip(track, np.arange(n))],
                         "track_id": [f"bench:{t:04d}" for t in track],
                         "genre": [GENRES[t % len(GENRES)] for t in track], "label": track % len(GENRES)})


def _write_project_store(folder: Path, features: np.ndarray, table) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "features.npy", features.astype(np.float16))
    table.assign(row=np.arange(len(table))).to_csv(folder / "manifest.csv", index=False)
    return [folder / "features.npy", folder / "manifest.csv"]


def _load_project_store(folder: Path):
    """Manifest plus the float16 memmap, materialised to float32 in RAM (what training does)."""
    import pandas as pd

    manifest = pd.read_csv(folder / "manifest.csv", keep_default_na=False)
    features = np.load(folder / "features.npy", mmap_mode="r")
    return manifest, np.asarray(features).astype(np.float32)


def _write_paper_csv(path: Path, strings: list[str], table) -> list[Path]:
    """One row per window with the stringified matrix; ``strings[i % len(strings)]`` is window ``i``'s."""
    frame = table.assign(mfcc=[strings[i % len(strings)] for i in range(len(table))])
    frame.to_csv(path, index=False)
    return [path]


def _load_paper_csv(path: Path):
    import pandas as pd

    frame = pd.read_csv(path, keep_default_na=False)
    features = np.stack([parse_matrix(text) for text in frame["mfcc"]])
    return frame.drop(columns="mfcc"), features


def bench_storage(features: np.ndarray, n_windows: int, folder: Path, repeat: int = 3,
                  windows_per_clip: int = 6) -> list[dict]:
    """Load time and disk size of the project's store vs the paper's CSV of stringified arrays.

    Both formats are written from the same ``n_windows`` windows (``features`` repeated as needed) with
    the same metadata columns, then loaded back to a float32 array in RAM.

    Parameters
    ----------
    features : ndarray, shape (n_unique, height, n_frames), float32
    n_windows : int
    folder : Path
        Scratch folder (the files are deleted by the caller).
    repeat : int
    windows_per_clip : int
        Only for the track ids of the metadata.

    Returns
    -------
    rows : list of dict
        ``storage_load`` (speed-up) and ``storage_size`` (size ratio).
    """
    data = _tile(features, n_windows)
    table = _window_table(n_windows, windows_per_clip, len(features))
    store_dir, csv_path = folder / "store", folder / "paper.csv"

    _log(f"storage: writing {n_windows} windows in both formats")
    t0 = time.perf_counter()
    store_files = _write_project_store(store_dir, data, table)
    store_write = time.perf_counter() - t0
    # identical windows give identical strings, so each distinct window is stringified once
    t0 = time.perf_counter()
    strings = [stringify_matrix(m) for m in features[:n_windows]]
    csv_files = _write_paper_csv(csv_path, strings, table)
    csv_write = time.perf_counter() - t0

    _log("storage: loading the project store")
    store_t, (manifest, loaded) = time_calls(lambda: _load_project_store(store_dir), repeat, warmup=0)
    _log("storage: loading the paper's CSV")
    csv_t, (frame, parsed) = time_calls(lambda: _load_paper_csv(csv_path), repeat, warmup=0)

    store_bytes = sum(p.stat().st_size for p in store_files)
    csv_bytes = sum(p.stat().st_size for p in csv_files)
    same_store = _compare(loaded, data, rtol=2e-3, atol=1e-4)
    same_csv = _compare(parsed, data, rtol=1e-5, atol=1e-4)
    ok = same_store["allclose"] and same_csv["allclose"] and len(manifest) == len(frame) == n_windows
    raw = {"n_windows": n_windows, "shape": list(data.shape[1:]), "project_load_s": store_t,
           "paper_load_s": csv_t, "project_write_s": store_write, "paper_write_s_distinct_strings": csv_write,
           "distinct_windows_stringified": len(strings), "project_bytes": store_bytes, "paper_bytes": csv_bytes,
           "project_equal": same_store, "paper_equal": same_csv, "page_cache": "warm (files just written)"}
    load_ratio = csv_t["best"] / store_t["best"]
    size_ratio = csv_bytes / store_bytes
    return [
        _row("storage_load", f"feature storage: load {n_windows} windows, store vs paper CSV", load_ratio, "x",
             ">=", 50.0, f"{store_t['best']:.3f} s vs {csv_t['best']:.2f} s; round trip equal: {ok}", raw,
             status=None if ok else "fail", other_cores=_other_load(store_t, csv_t)),
        _row("storage_size", "feature storage: disk size, paper CSV / store", size_ratio, "x", ">=", 4.0,
             f"{store_bytes / 1e6:.1f} MB vs {csv_bytes / 1e6:.1f} MB",
             {"project_bytes": store_bytes, "paper_bytes": csv_bytes, "n_windows": n_windows}),
    ]


# -------------------------------------------------------------------------------------- 3. training
def forward_macs(model, input_shape) -> dict:
    """Forward multiply-accumulates per sample of every Conv2d, Linear and GRU layer.

    Output shapes are found by running one zero sample through the model with forward hooks; the counts
    follow from the shapes (see the module docstring).

    Parameters
    ----------
    model : nn.Module
    input_shape : (int, int)
        ``(height, n_frames)`` of one window.

    Returns
    -------
    macs : dict
        Layer name -> MACs for one sample, in the order the layers run.
    """
    import torch
    from torch import nn

    macs, hooks = {}, []

    def hook(name, module):
        def count(_, inputs, output):
            if isinstance(module, nn.Conv2d):
                out = output[0]  # (C_out, H_out, W_out) for the single sample
                k_h, k_w = module.kernel_size
                macs[name] = int(out.numel() * (module.in_channels // module.groups) * k_h * k_w)
            elif isinstance(module, nn.Linear):
                macs[name] = int(module.in_features * module.out_features)
            elif isinstance(module, nn.GRU):
                seq_len = inputs[0].shape[1] if module.batch_first else inputs[0].shape[0]
                directions = 2 if module.bidirectional else 1
                total = 0
                for layer in range(module.num_layers):
                    in_size = module.input_size if layer == 0 else module.hidden_size * directions
                    total += 3 * module.hidden_size * (in_size + module.hidden_size) * seq_len * directions
                macs[name] = int(total)
        return count

    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.Linear, nn.GRU)):
            hooks.append(module.register_forward_hook(hook(name, module)))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, 1, *input_shape))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return macs


def matmul_gflops(n: int = 2048, repeat: int = 5) -> dict:
    """fp32 ``torch.mm`` of two n x n matrices: the machine's practical peak, best of ``repeat``.

    Returns
    -------
    result : dict
        ``gflops`` (2 n^3 / best time / 1e9), ``gflops_per_cpu_s`` (the same per CPU second, which a
        shared machine does not lower), ``n``, ``seconds`` (raw timings).
    """
    import torch

    gen = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=gen)
    b = torch.randn(n, n, generator=gen)
    timings, _ = time_calls(lambda: torch.mm(a, b), repeat)
    return {"gflops": 2 * n ** 3 / timings["best"] / 1e9, "n": n, "seconds": timings,
            "gflops_per_cpu_s": 2 * n ** 3 / max(min(timings["cpu_s"]), 1e-9) / 1e9}


def _training_batch(features: np.ndarray, batch_size: int, seed: int):
    rng = np.random.default_rng(seed)
    X = _tile(features, batch_size).astype(np.float32)
    y = rng.integers(0, 10, batch_size)
    return X, y


def _new_crnn(features: np.ndarray, input_shape, seed: int, channels_last: bool):
    import torch

    from .models import build_model, feature_stats

    mean, std = feature_stats(features)
    model = build_model("crnn", input_shape=tuple(input_shape), mean=mean, std=std, seed=seed)
    return model.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)


def time_training_steps(model, X: np.ndarray, y: np.ndarray, steps: int, warmup: int = 1,
                        channels_last: bool = True, profile: bool = False) -> dict:
    """Time optimiser steps of ``model`` on one batch, as :func:`genre_utils.train.fit` runs them.

    Adam (the paper profile's lr and weight decay), cross-entropy, training mode, deterministic algorithms
    requested with ``warn_only`` (fit's default), the batch built from a float32 tensor per step.

    Parameters
    ----------
    model : nn.Module
    X : ndarray, shape (batch, height, n_frames), float32
    y : ndarray of int, shape (batch,)
    steps, warmup : int
        Timed and untimed steps (``steps=0`` with ``profile=True``: only the profiled step after warm-up).
    channels_last : bool
        Input memory format (the model should already be in the same format).
    profile : bool
        Run one more step under ``torch.profiler`` and return it as ``profiler``.

    Returns
    -------
    result : dict
        ``batch_size``; with timed steps ``step_s`` (raw, best, median, CPU seconds, other processes' cores),
        ``forward_s``, ``backward_s``,
        ``optimizer_s`` (per timed step) and ``samples_per_s`` (batch / best step); ``profiler`` when asked.
    """
    import torch
    from torch import nn

    from .train import make_optimizer

    profile_cfg = get_profile("paper")
    optimizer = make_optimizer(model, profile_cfg.lr, profile_cfg.weight_decay)
    criterion = nn.CrossEntropyLoss()
    data = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
    labels = torch.from_numpy(np.asarray(y, dtype=np.int64))
    idx = torch.arange(len(labels))
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model.train()

    def step():
        t0 = time.perf_counter()
        xb = data[idx].unsqueeze(1).contiguous(memory_format=fmt)
        loss = criterion(model(xb), labels[idx])
        t1 = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        t2 = time.perf_counter()
        optimizer.step()
        t3 = time.perf_counter()
        return t1 - t0, t2 - t1, t3 - t2

    previous = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        for _ in range(warmup):
            step()
        phases, meters = [], []
        for _ in range(steps):
            meter = CpuMeter().start()
            phases.append(step())
            meters.append(meter.read())
        phases = np.array(phases).reshape(-1, 3)
        prof = None
        if profile:
            from torch.profiler import ProfilerActivity
            from torch.profiler import profile as torch_profile

            with torch_profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
                step()
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])
    out = {"batch_size": len(labels)}
    if len(phases):
        totals = _timings(phases.sum(axis=1), meters)
        out.update({"step_s": totals, "forward_s": phases[:, 0].tolist(), "backward_s": phases[:, 1].tolist(),
                    "optimizer_s": phases[:, 2].tolist(), "samples_per_s": len(labels) / totals["best"]})
    if prof is not None:
        out["profiler"] = prof
    return out


def _op_group(name: str) -> str:
    """Coarse group of a profiler op name (self time is summed per group)."""
    n = name.lower()
    if "conv" in n:
        return "conv backward" if "backward" in n else "conv forward"
    if n in ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul") or "gru" in n or "rnn" in n:
        return "matmul (GRU, linear)"
    if any(k in n for k in ("relu", "clamp", "threshold", "pool")):
        return "ReLU and max-pool (fwd + bwd)"
    if any(k in n for k in ("fill_", "zero_", "copy_", "cat", "clone", "empty", "stack")):
        return "memory (fill, copy, cat)"
    if any(k in n for k in ("lerp", "addcmul", "addcdiv", "sqrt", "foreach")):
        return "Adam update"
    return "other"


def analyse_profile(prof, model, macs: dict, batch_size: int) -> dict:
    """What bounds a profiled training step: time per op group and GFLOP/s of every conv layer.

    Parameters
    ----------
    prof : torch.profiler.profile
        One training step, recorded with ``record_shapes=True``.
    model : nn.Module
    macs : dict
        :func:`forward_macs` of the model.
    batch_size : int

    Returns
    -------
    analysis : dict
        ``total_self_s``; ``groups`` (group -> seconds and share); ``conv_layers`` (per layer: forward
        and backward seconds and GFLOP/s); ``top_ops`` (name, input shapes, self seconds, calls).
    """
    from torch import nn

    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events) / 1e6
    groups: dict[str, float] = {}
    for e in events:
        groups[_op_group(e.key)] = groups.get(_op_group(e.key), 0.0) + e.self_cpu_time_total / 1e6
    groups = {k: {"seconds": v, "share": v / total} for k, v in sorted(groups.items(), key=lambda kv: -kv[1])}

    shaped = prof.key_averages(group_by_input_shape=True)
    convs = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    layers = {}
    for i, (name, conv) in enumerate(convs):
        weight = list(conv.weight.shape)
        fwd = sum(e.self_cpu_time_total for e in shaped if "conv" in e.key.lower()
                  and "backward" not in e.key.lower() and weight in [list(s) for s in e.input_shapes]) / 1e6
        bwd = sum(e.self_cpu_time_total for e in shaped if "convolution_backward" in e.key.lower()
                  and weight in [list(s) for s in e.input_shapes]) / 1e6
        fwd_flops = 2.0 * macs.get(name, 0) * batch_size
        bwd_flops = fwd_flops * (1 if i == 0 else 2)  # the first layer computes no input gradient
        layers[name] = {"forward_s": fwd, "backward_s": bwd,
                        "forward_gflops": fwd_flops / fwd / 1e9 if fwd else None,
                        "backward_gflops": bwd_flops / bwd / 1e9 if bwd else None,
                        "share_of_step": (fwd + bwd) / total}
    top = sorted(shaped, key=lambda e: -e.self_cpu_time_total)[:15]
    top_ops = [{"name": e.key, "input_shapes": [list(s) for s in e.input_shapes if s][:2],
                "self_s": e.self_cpu_time_total / 1e6, "share": e.self_cpu_time_total / 1e6 / total,
                "calls": e.count} for e in top]
    return {"total_self_s": total, "groups": groups, "conv_layers": layers, "top_ops": top_ops}


def _bounds_text(analysis: dict, matmul: float) -> str:
    """A few sentences naming what takes the step's time, from :func:`analyse_profile`."""
    parts = [f"{g} {v['seconds']:.2f} s ({100 * v['share']:.0f} %)" for g, v in list(analysis["groups"].items())[:5]]
    text = f"profiled step ({analysis['total_self_s']:.2f} s of op self time): " + ", ".join(parts) + "."
    layer_bits = []
    for name, v in analysis["conv_layers"].items():
        f, b = v["forward_gflops"], v["backward_gflops"]
        layer_bits.append(f"{name} fwd {f or 0:.0f} / bwd {b or 0:.0f} GFLOP/s "
                          f"({100 * v['share_of_step']:.0f} % of step)")
    if layer_bits:
        text += f" Conv layers vs matmul {matmul:.0f} GFLOP/s: " + "; ".join(layer_bits) + "."
    flop_free = sum(v["share"] for g, v in analysis["groups"].items()
                    if g not in ("conv forward", "conv backward", "matmul (GRU, linear)"))
    text += f" Ops without counted FLOPs take {100 * flop_free:.0f} % of the step."
    return text


def bench_training(features: np.ndarray, params: FeatureParams, config: BenchConfig) -> tuple[list[dict], dict]:
    """CRNN training throughput as a fraction of the fp32 matmul rate, channels_last and NCHW.

    Parameters
    ----------
    features : ndarray, shape (n, height, n_frames), float32
        Windows the batch is made of (repeated to ``config.batch_size``).
    params : FeatureParams
    config : BenchConfig

    Returns
    -------
    rows : list of dict
        ``matmul``, ``training_channels_last`` and ``training_channels_last_cpu`` (target: wall-clock and
        CPU-time ratios), ``training_nchw`` (report).
    profile : dict
        :func:`analyse_profile` result and its summary text (empty when not profiled).
    """
    import torch

    from .train import set_threads

    threads = set_threads()
    X, y = _training_batch(features, config.batch_size, config.seed)
    probe = _new_crnn(features, params.shape, config.seed, channels_last=False)
    macs = forward_macs(probe, params.shape)
    forward_flops = 2.0 * sum(macs.values())
    train_flops = 3.0 * forward_flops
    first = next(iter(macs))
    exact_flops = forward_flops + 2.0 * sum(macs.values()) + 2.0 * (sum(macs.values()) - macs[first])
    flop_raw = {"forward_macs_per_sample": macs, "forward_flops_per_sample": forward_flops,
                "train_flops_per_sample": train_flops, "train_flops_exact": exact_flops,
                "formula": "train = 3 x forward; forward = 2 x MACs of conv, GRU and linear layers"}

    _log(f"training: fp32 matmul {config.matmul_size}x{config.matmul_size} ({threads} threads)")
    mm_repeat = max(3, config.repeat + 2)
    mm_before = matmul_gflops(config.matmul_size, repeat=mm_repeat)
    results, profile = {}, {}
    for channels_last in (True, False):
        label = "channels_last" if channels_last else "NCHW"
        _log(f"training: CRNN batch {config.batch_size}, {label}, {config.warmup_steps} warm-up + "
             f"{config.train_steps} timed steps")
        model = _new_crnn(features, params.shape, config.seed, channels_last)
        results[label] = time_training_steps(model, X, y, config.train_steps, config.warmup_steps, channels_last)
    _log("training: fp32 matmul again (the reference is the better of before and after)")
    mm_after = matmul_gflops(config.matmul_size, repeat=mm_repeat)
    peak = max(mm_before["gflops"], mm_after["gflops"])
    rows = [_row("matmul", f"fp32 torch.mm {config.matmul_size}x{config.matmul_size} (reference peak)", peak,
                 "GFLOP/s", detail=f"{threads} torch threads; best of before ({mm_before['gflops']:.1f}) and "
                 f"after ({mm_after['gflops']:.1f}) the training runs", raw={"before": mm_before, "after": mm_after},
                 other_cores=_other_load(mm_before["seconds"], mm_after["seconds"]))]
    peak_cpu = max(mm_before["gflops_per_cpu_s"], mm_after["gflops_per_cpu_s"])
    for label, res in results.items():
        gflops = res["samples_per_s"] * train_flops / 1e9
        res["gflops"] = gflops
        res["fraction_of_matmul"] = gflops / peak
        res["gflops_per_cpu_s"] = res["batch_size"] * train_flops / max(min(res["step_s"]["cpu_s"]), 1e-9) / 1e9
        res["fraction_of_matmul_cpu_time"] = res["gflops_per_cpu_s"] / peak_cpu
    main = results["channels_last"]
    wanted = config.profile_training
    if wanted or (wanted is None and main["fraction_of_matmul"] < 0.5):
        _log("training: profiling one channels_last step with torch.profiler")
        model = _new_crnn(features, params.shape, config.seed, True)
        res = time_training_steps(model, X, y, 0, config.warmup_steps, True, profile=True)
        analysis = analyse_profile(res.pop("profiler"), model, macs, config.batch_size)
        profile = {**analysis, "summary": _bounds_text(analysis, peak)}
    torch.set_num_threads(threads)

    for label, status_target in (("channels_last", True), ("NCHW", False)):
        res = results[label]
        detail = (f"{res['samples_per_s']:.1f} samples/s = {res['gflops']:.1f} GFLOP/s of {peak:.1f}; "
                  f"step {res['step_s']['best']:.2f} s (fwd {min(res['forward_s']):.2f}, "
                  f"bwd {min(res['backward_s']):.2f}, Adam {min(res['optimizer_s']):.2f})")
        raw = {**res, **flop_raw, "matmul_gflops": peak, "matmul_gflops_per_cpu_s": peak_cpu, "threads": threads}
        busy = _other_load(res["step_s"])
        what = f"training CRNN (paper variant), batch {config.batch_size}, {label}: GFLOP/s / matmul GFLOP/s"
        if status_target:
            rows.append(_row("training_channels_last", what, 100 * res["fraction_of_matmul"], "%", ">=", 50.0,
                             detail, raw, other_cores=busy))
            rows.append(_row("training_channels_last_cpu",
                             f"training CRNN, batch {config.batch_size}, {label}: GFLOP per CPU second / matmul's "
                             "(less sensitive to other processes)", 100 * res["fraction_of_matmul_cpu_time"], "%",
                             ">=", 50.0, f"{res['gflops_per_cpu_s']:.1f} vs {peak_cpu:.1f} GFLOP per CPU second "
                             f"(best step {min(res['step_s']['cpu_s']):.2f} CPU s)",
                             {"gflops_per_cpu_s": res["gflops_per_cpu_s"], "matmul_gflops_per_cpu_s": peak_cpu,
                              "step_cpu_s": res["step_s"]["cpu_s"], "threads": threads}, other_cores=busy))
        else:
            rows.append(_row("training_nchw", what, 100 * res["fraction_of_matmul"], "%", detail=detail, raw=raw,
                             other_cores=busy))
    return rows, profile


# ------------------------------------------------------------------------------------ 4. prediction
def _write_mp3s(clips: np.ndarray, sample_rate: int, folder: Path, rate_out: int = 44100) -> list[Path]:
    """MP3 files (64 kbit/s at ``rate_out`` Hz, like FMA's) of the clips."""
    import soxr

    from .audio import write_mp3

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, clip in enumerate(clips):
        path = folder / f"clip{i:03d}.mp3"
        write_mp3(path, soxr.resample(clip, sample_rate, rate_out), rate_out, 64)
        paths.append(path)
    return paths


def bench_prediction(clips: np.ndarray, params: FeatureParams, folder: Path, repeat: int = 2,
                     seed: int = 0) -> list[dict]:
    """Seconds of MP3 audio classified per second by :func:`genre_utils.evaluate.evaluate_files`.

    Parameters
    ----------
    clips : ndarray, shape (n_files, n_samples), float32
        Encoded to MP3 first (not timed).
    params : FeatureParams
    folder : Path
    repeat : int
    seed : int
        Seed of the freshly initialised CRNN.

    Returns
    -------
    rows : list of dict
        ``prediction`` (report only), with the decode-only time in the raw timings.
    """
    import torch

    from .audio import load_audio
    from .evaluate import evaluate_files
    from .models import build_model
    from .train import set_threads

    set_threads()
    paths = _write_mp3s(clips, params.sample_rate, folder / "mp3")
    model = build_model("crnn", input_shape=params.shape, seed=seed).to(memory_format=torch.channels_last).eval()
    audio_seconds = len(paths) * clips.shape[1] / params.sample_rate
    _log(f"prediction: evaluate_files on {len(paths)} mp3 files ({audio_seconds:.0f} s of audio)")
    evaluate_files(model, paths[:1], params, progress=False)  # warm-up: numba, torch, decoder
    timings, table = time_calls(lambda: evaluate_files(model, paths, params, progress=False), repeat, warmup=0)
    decode, _ = time_calls(lambda: [load_audio(p, params.sample_rate) for p in paths], repeat, warmup=0)
    errors = int((table["error"] != "").sum())
    rate = audio_seconds / timings["best"]
    return [_row("prediction", "prediction: seconds of mp3 audio classified per second (evaluate_files)", rate,
                 "audio s/s", detail=f"{len(paths)} files, {audio_seconds:.0f} s in {timings['best']:.2f} s "
                 f"(decode alone {decode['best']:.2f} s); files with errors: {errors}",
                 raw={"n_files": len(paths), "audio_seconds": audio_seconds, "evaluate_files_s": timings,
                      "decode_only_s": decode, "files_with_errors": int(errors)},
                 status="report" if errors == 0 else "fail", other_cores=_other_load(timings))]


# ------------------------------------------------------------------------------------ 5. end to end
_RUSAGE_WRAPPER = """
import json, resource, subprocess, sys
code = subprocess.call(sys.argv[2:])
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as fh:
    json.dump({"returncode": code, "maxrss_kb": usage.ru_maxrss}, fh)
sys.exit(code)
"""


def _tree_rss_bytes(root_pid: int) -> int:
    """Resident memory of ``root_pid`` and all its descendants, from /proc (0 where unreadable)."""
    parents, rss = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
            fields = stat[stat.rindex(")") + 2:].split()
            parents[int(entry)] = int(fields[1])
            rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            continue
    tree, frontier = {root_pid}, [root_pid]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in tree:
                tree.add(child)
                frontier.append(child)
    return sum(rss.get(pid, 0) for pid in tree)


def bench_end_to_end(profile: str, work_dir: Path, poll_seconds: float = 1.0) -> list[dict]:
    """Wall time and peak memory of ``python -m genre_utils.build book`` in a fresh build folder.

    The build runs under a small wrapper process whose ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` after
    the wait is the peak RSS of the largest single process of the tree; a poller also sums the RSS of
    the whole tree every ``poll_seconds`` (the peak of that sum is the tree's peak, up to sampling).

    Parameters
    ----------
    profile : {'tiny', 'quick'}
    work_dir : Path
        The temporary build folder goes here and is deleted afterwards; the build's log is kept as
        ``<work_dir>/e2e-<profile>.log``.

    Returns
    -------
    rows : list of dict
        ``e2e_<profile>_wall`` (minutes) and ``e2e_<profile>_rss`` (GB).
    """
    root = Path(__file__).resolve().parents[1]
    work_dir.mkdir(parents=True, exist_ok=True)
    build_dir = Path(tempfile.mkdtemp(prefix=f"e2e-{profile}-", dir=work_dir))
    log_path = work_dir / f"e2e-{profile}.log"
    usage_path = build_dir / "rusage.json"
    cmd = [sys.executable, "-c", _RUSAGE_WRAPPER, str(usage_path), sys.executable, "-m", "genre_utils.build",
           "book", "--profile", profile, "--build-dir", str(build_dir / "build")]
    _log(f"end to end: make book --profile {profile} (log: {log_path})")
    peak = [0]
    try:
        with open(log_path, "w") as log:
            meter = CpuMeter().start()
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, cwd=root, stdout=log, stderr=subprocess.STDOUT)
            done = threading.Event()

            def poll():
                while not done.is_set():
                    peak[0] = max(peak[0], _tree_rss_bytes(proc.pid))
                    done.wait(poll_seconds)

            poller = threading.Thread(target=poll, daemon=True)
            if Path("/proc").is_dir():
                poller.start()
            code = proc.wait()
            wall = time.perf_counter() - t0
            busy = meter.other_cores()
            done.set()
        usage = json.loads(usage_path.read_text()) if usage_path.is_file() else {"maxrss_kb": 0}
    finally:
        shutil.rmtree(build_dir, ignore_errors=True)
    ok = code == 0
    max_single_gb = usage["maxrss_kb"] * 1024 / 1e9
    tree_gb = peak[0] / 1e9
    raw = {"profile": profile, "returncode": code, "wall_s": wall, "max_single_process_rss_gb": max_single_gb,
           "tree_rss_peak_gb_polled": tree_gb, "poll_seconds": poll_seconds, "log": str(log_path),
           "command": "python -m genre_utils.build book --profile " + profile}
    note = "" if ok else f"build FAILED (exit {code}), see {log_path}; "
    target = E2E_TARGETS_MINUTES.get(profile)
    return [
        _row(f"e2e_{profile}_wall", f"end to end: make book PROFILE={profile}, wall time", wall / 60, "min",
             None if target is None else "<=", target, note + f"{wall:.0f} s, fresh build folder", raw,
             status=None if ok else "fail", other_cores=busy),
        _row(f"e2e_{profile}_rss", f"end to end: make book PROFILE={profile}, peak RSS", max(max_single_gb, tree_gb),
             "GB", "<=", E2E_RSS_TARGET_GB, f"largest process {max_single_gb:.2f} GB (ru_maxrss), "
             f"whole tree {tree_gb:.2f} GB (polled every {poll_seconds:g} s)", raw, status=None if ok else "fail",
             other_cores=busy),
    ]


def _notebook_timings(build_dir: Path) -> dict | None:
    """``notebook_seconds`` of ``<build>/results.json`` (the last ``make book``), if there is one."""
    path = build_dir / "results.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return {"profile": data.get("profile"), "notebook_seconds": data.get("notebook_seconds") or {}}


# ------------------------------------------------------------------------------------------ the run
def run(build_dir, config: BenchConfig = BenchConfig(), end_to_end=()) -> dict:
    """Run every benchmark and return the report (not written; see :func:`write_report`).

    Parameters
    ----------
    build_dir : path-like
        Build folder; scratch files go to a temporary folder under ``<build>/bench`` and are deleted.
    config : BenchConfig
    end_to_end : iterable of str
        Profiles whose full ``make book`` is timed (slow; none by default).

    Returns
    -------
    report : dict
        ``created``, ``machine`` (also ``load_average_end``), ``config``, ``rows`` (list of report rows),
        ``training_profile``, ``last_book`` and ``seconds`` (the benchmark's own run time).
    """
    from .train import set_threads

    t_start = time.perf_counter()
    build_dir = Path(build_dir)
    bench_dir = build_dir / "bench"
    bench_dir.mkdir(parents=True, exist_ok=True)
    set_threads()
    machine = machine_info()
    params = config.params
    rows: list[dict] = []
    waited: dict[str, float] = {}

    def quiet(section: str) -> None:
        if config.wait_quiet > 0:
            waited[section] = round(wait_until_quiet(config.wait_quiet), 1)

    with tempfile.TemporaryDirectory(prefix="scratch-", dir=bench_dir) as tmp:
        tmp = Path(tmp)
        _log(f"clips: {config.n_clips} x {config.clip_seconds:g} s ({config.clip_source})")
        clips, source = make_clips(config.n_clips, config.clip_seconds, params.sample_rate, config.seed,
                                   config.clip_source)
        quiet("features")
        feature_rows, features = bench_features(clips, params, tmp, config.repeat)
        rows += feature_rows
        quiet("storage")
        rows += bench_storage(features, config.n_windows, tmp / "storage", config.repeat)
        shutil.rmtree(tmp / "storage", ignore_errors=True)
        quiet("training")
        training_rows, training_profile = bench_training(features, params, config)
        rows += training_rows
        quiet("prediction")
        rows += bench_prediction(clips[:config.n_files], params, tmp, repeat=max(1, config.repeat - 1),
                                 seed=config.seed)
    for profile in end_to_end:
        quiet(f"end_to_end_{profile}")
        rows += bench_end_to_end(profile, bench_dir)
    machine["load_average_end"] = _load_average()
    machine["waited_for_quiet_s"] = waited
    return {"created": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "machine": machine, "config": {**dataclasses.asdict(config), "clip_source_used": source,
                                           "features": dataclasses.asdict(params)},
            "rows": rows, "training_profile": training_profile, "last_book": _notebook_timings(build_dir),
            "seconds": time.perf_counter() - t_start}


def _fmt(value, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "x":
        return f"{value:.1f}x"
    if unit == "%":
        return f"{value:.1f} %"
    return f"{value:.3g} {unit}" if abs(value) < 100 else f"{value:.0f} {unit}"


def to_markdown(report: dict) -> str:
    """The report as a Markdown table followed by the machine, the training profile and notes."""
    m = report["machine"]
    lines = ["# Benchmarks", "",
             f"{report['created']}; {m['cpu_model']}, {m['cores']} usable cores, {m['memory_gb']} GB; "
             f"torch {m['versions'].get('torch')} ({m['torch_threads']} threads), librosa "
             f"{m['versions'].get('librosa')}, numpy {m['versions'].get('numpy')}, pandas "
             f"{m['versions'].get('pandas')}; load average {m.get('load_average')} at start, "
             f"{m.get('load_average_end')} at end. *busy*: cores other processes kept busy during the "
             f"row's timed runs (median); above 0 the machine was shared and the row's speeds are low.", "",
             "| measure | value | target | status | busy | detail |", "| --- | --- | --- | --- | --- | --- |"]
    for row in report["rows"]:
        target = row["target"]["text"] if row["target"] else "report"
        busy = "-" if row.get("other_cores") is None else f"{row['other_cores']:.1f}"
        lines.append(f"| {row['what']} | {_fmt(row['value'], row['unit'])} | {target} | {row['status']} | {busy} | "
                     f"{row['detail']} |")
    prof = report.get("training_profile") or {}
    if prof.get("summary"):
        lines += ["", "**What bounds training** (torch.profiler, one channels_last step): " + prof["summary"]]
    book = report.get("last_book")
    if book and book.get("notebook_seconds"):
        secs = ", ".join(f"{k} {v:g} s" for k, v in book["notebook_seconds"].items())
        lines += ["", f"Last `make book` ({book.get('profile')}) notebook times: {secs}."]
    cfg = report["config"]
    lines += ["", f"Clips: {cfg['n_clips']} x {cfg['clip_seconds']:g} s ({cfg['clip_source_used']}); storage: "
                  f"{cfg['n_windows']} windows; best of {cfg['repeat']} runs; training {cfg['warmup_steps']} warm-up + "
                  f"{cfg['train_steps']} timed steps at batch {cfg['batch_size']}. Benchmark time "
                  f"{report['seconds']:.0f} s. Raw timings: report.json."]
    return "\n".join(lines) + "\n"


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    return str(obj)


def write_report(report: dict, out_dir) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.md`` into ``out_dir`` atomically; return both paths."""
    from .audio import atomic_write_bytes

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "report.json", out_dir / "report.md"
    atomic_write_bytes(json_path, json.dumps(report, indent=2, default=_json_default).encode())
    atomic_write_bytes(md_path, to_markdown(report).encode())
    return json_path, md_path


def main(argv=None) -> int:
    """``python -m genre_utils.bench``: run the benchmarks, write and print the report."""
    parser = argparse.ArgumentParser(prog="python -m genre_utils.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", default="_build", type=Path, help="report goes to <build-dir>/bench")
    parser.add_argument("--profile", default="quick", choices=["tiny", "quick"],
                        help="feature parameters and training-set size (n_train windows) for the storage test")
    parser.add_argument("--quick", action="store_true", help="fewer clips, windows, steps and files")
    parser.add_argument("--end-to-end", action="append", default=[], choices=sorted(E2E_TARGETS_MINUTES),
                        metavar="PROFILE", help="also time a full `make book` at this profile (slow; repeatable)")
    parser.add_argument("--profile-training", action="store_true", help="always profile one training step")
    parser.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                        help="before each benchmark wait up to SECONDS for other processes to leave the cores idle")
    args = parser.parse_args(argv)
    config = BenchConfig.default(args.profile, args.quick)
    config = dataclasses.replace(config, wait_quiet=max(0.0, args.wait_quiet),
                                 profile_training=True if args.profile_training else config.profile_training)
    report = run(args.build_dir, config, end_to_end=args.end_to_end)
    json_path, md_path = write_report(report, args.build_dir / "bench")
    print(to_markdown(report))
    _log(f"wrote {json_path} and {md_path}")
    failed = [r["id"] for r in report["rows"] if r["status"] == "fail"]
    if failed:
        _log("targets not met: " + ", ".join(failed))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
