"""Settings of a benchmark run, CPU meters, timing helpers and report rows, shared by every benchmark."""


import dataclasses
import importlib.metadata as md
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass

import numpy as np

from ..config import FeatureParams, get_profile, num_threads

E2E_TARGETS_MINUTES = {"tiny": 4.0, "quick": 15.0, "paper-data": None}
E2E_RSS_TARGET_GB = 4.0
#: What each ``--end-to-end`` choice builds (make target, profile) and its memory target (GB): the two books,
#: and the paper profile's data (corpus and feature store at the paper's sizes), which must fit the 24 GB of
#: the project's machines.
E2E_RUNS = {"tiny": ("book", "tiny", E2E_RSS_TARGET_GB), "quick": ("book", "quick", E2E_RSS_TARGET_GB),
            "paper-data": ("data", "paper", 24.0)}


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


def bench_log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------ helpers
class CpuMeter:
    """CPU time used by this process, and by the other processes of the machine, while a measurement ran.

    ``read()`` after ``start()`` gives ``cpu_s``, the CPU seconds of this process and its reaped children
    (``os.times``, all threads), and ``other_cores``, the CPU time of the whole machine (``psutil``)
    minus ``cpu_s``, divided by the wall time: how many cores other processes kept busy (``None`` where
    the machine's counters cannot be read). On a shared machine wall-clock speeds drop while ``cpu_s`` stays
    closer to the work done (not equal to it: a descheduled thread stalls the others), so both are kept.
    """

    def __init__(self):
        self._start = None

    @staticmethod
    def _counters():
        t = os.times()
        own = t.user + t.system + t.children_user + t.children_system
        try:
            import psutil

            c = psutil.cpu_times()
            # busy = everything but idle and I/O wait (guest time is already counted in user time on Linux)
            busy = sum(c) - c.idle - sum(getattr(c, f, 0.0) for f in ("iowait", "guest", "guest_nice"))
        except (ImportError, OSError):
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


def check_cpu_meter(spin_seconds: float = 0.5) -> dict:
    """The report row that checks :class:`CpuMeter` on this machine: does it see another process's work?

    A child process spins for ``spin_seconds + 1`` s while this one spins for ``spin_seconds`` of the same
    wall time; the meter should count about ``spin_seconds`` of own CPU time and at least one other busy
    core's share. Scheduling decides the exact numbers, so this lives in ``make bench`` (a row with a
    target), not in a timed test.
    """
    child = subprocess.Popen([sys.executable, "-c", "import time\nt = time.perf_counter() + %r\n"
                              "while time.perf_counter() < t: pass" % (spin_seconds + 1.0)])
    try:
        time.sleep(0.3)   # let it start
        meter = CpuMeter().start()
        t_end = time.perf_counter() + spin_seconds
        while time.perf_counter() < t_end:
            pass
        reading = meter.read()
    finally:
        child.wait()
    other = reading["other_cores"]
    return report_row("cpu_meter", "CPU meter: cores it saw busy in another process (one was spinning)", other,
                "cores", ">=", 0.3, detail=f"own CPU {reading['cpu_s']:.2f} s of {spin_seconds:g} s spun",
                raw=reading, status=None if other is not None else "not measured")


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
        bench_log(f"waiting for a quiet machine: other processes use {other:.1f} cores")
    return time.perf_counter() - t0


def timing_summary(seconds, meters=None) -> dict:
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
    return timing_summary(runs, meters), result


def other_load(*timings) -> float | None:
    """Median of the cores other processes used over the runs of some :func:`timing_summary` dicts."""
    values = [o for t in timings if t for o in t.get("other_cores", []) if o is not None]
    return float(np.median(values)) if values else None


def _judge(value, op: str | None, threshold: float | None) -> str:
    if op is None or value is None or not np.isfinite(value):
        return "report" if op is None else "fail"
    return "pass" if (value >= threshold if op == ">=" else value <= threshold) else "fail"


def report_row(row_id: str, what: str, value, unit: str, op: str | None = None, threshold: float | None = None,
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
        import psutil

        return round(psutil.virtual_memory().total / 2 ** 30, 1)
    except (ImportError, OSError):
        return None


def load_average():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def machine_info() -> dict:
    """Cores, CPU model, memory, library versions and torch's thread count of this machine."""
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
            "load_average": load_average(), "versions": libs}
