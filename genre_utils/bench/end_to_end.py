"""Benchmark 5: wall time and peak memory of a whole ``make book`` in a fresh build folder."""
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from .common import E2E_RUNS, E2E_TARGETS_MINUTES, CpuMeter, bench_log, report_row

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
    """Resident memory of ``root_pid`` and all its descendants (0 where unreadable)."""
    import psutil

    try:
        root = psutil.Process(root_pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.Error:  # ended between the listing and the read
            continue
    return total


def bench_end_to_end(profile: str, work_dir: Path, poll_seconds: float = 1.0) -> list[dict]:
    """Wall time and peak memory of ``python -m genre_utils.build book|data`` in a fresh build folder.

    ``profile`` is a key of :data:`~genre_utils.bench.common.E2E_RUNS`: ``tiny`` and ``quick`` time the whole
    book, ``paper-data`` the paper profile's corpus and feature store (100,000 training windows; tens of
    minutes on 2 cores).

    The build runs under a small wrapper process whose ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` after
    the wait is the peak RSS of the largest single process of the tree; a poller also sums the RSS of
    the whole tree every ``poll_seconds`` (the peak of that sum is the tree's peak, up to sampling).

    Parameters
    ----------
    profile : {'tiny', 'quick', 'paper-data'}
    work_dir : Path
        The temporary build folder goes here and is deleted afterwards; the build's log is kept as
        ``<work_dir>/e2e-<profile>.log``.

    Returns
    -------
    rows : list of dict
        ``e2e_<profile>_wall`` (minutes) and ``e2e_<profile>_rss`` (GB).
    """
    root = Path(__file__).resolve().parents[2]  # the repository (genre_utils/bench/ is two below)
    work_dir.mkdir(parents=True, exist_ok=True)
    build_dir = Path(tempfile.mkdtemp(prefix=f"e2e-{profile}-", dir=work_dir))
    log_path = work_dir / f"e2e-{profile}.log"
    usage_path = build_dir / "rusage.json"
    target_name, build_profile, rss_target = E2E_RUNS[profile]
    cmd = [sys.executable, "-c", _RUSAGE_WRAPPER, str(usage_path), sys.executable, "-m", "genre_utils.build",
           target_name, "--profile", build_profile, "--build-dir", str(build_dir / "build")]
    what = f"make {target_name} PROFILE={build_profile}"
    bench_log(f"end to end: {what} (log: {log_path})")
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
           "command": f"python -m genre_utils.build {target_name} --profile {build_profile}"}
    note = "" if ok else f"build FAILED (exit {code}), see {log_path}; "
    target = E2E_TARGETS_MINUTES.get(profile)
    return [
        report_row(f"e2e_{profile}_wall", f"end to end: {what}, wall time", wall / 60, "min",
                   None if target is None else "<=", target, note + f"{wall:.0f} s, fresh build folder", raw,
                   status=None if ok else "fail", other_cores=busy),
        report_row(f"e2e_{profile}_rss", f"end to end: {what}, peak RSS", max(max_single_gb, tree_gb),
                   "GB", "<=", rss_target, f"largest process {max_single_gb:.2f} GB (ru_maxrss), "
                   f"whole tree {tree_gb:.2f} GB (polled every {poll_seconds:g} s)", raw, status=None if ok else "fail",
                   other_cores=busy),
    ]


def notebook_timings(build_dir: Path) -> dict | None:
    """``notebook_seconds`` of ``<build>/results.json`` (the last ``make book``), if there is one."""
    path = build_dir / "results.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return {"profile": data.get("profile"), "notebook_seconds": data.get("notebook_seconds") or {}}
