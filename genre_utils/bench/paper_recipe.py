"""The paper's training recipe at the paper's size: how fast it trains on this machine, and whether it learns.

``python -m genre_utils.bench --paper-recipe STORE --time-limit 45m`` trains the ``paper`` profile's CRNN
(no batch norm, global standardisation, Adam at a constant 2e-5, batch 200, fp32 on the CPU) on a feature
store built with ``make data PROFILE=paper`` (100,000 training and 10,000 validation windows), stops after
the time limit, and evaluates the 10,000 validation windows every ``--eval-every`` steps. It writes:

- report rows: the measured training rate (windows/s), the full run's time *projected* from it (labelled a
  projection; the 15 epochs are not run), the last validation accuracy with its interval, and the GPU rows
  (measured only on a CUDA device, otherwise "not measured");
- ``<build>/bench/paper_recipe.json``: the step log (the curve of the book's training page) with the machine,
  versions, commit, store fingerprint and command that produced it, and the best checkpoint's test accuracy
  (30-s vote over the test tracks, and the new data) under ``evaluation``.

The run folder ``<build>/bench/paper-recipe-run`` is kept, so the same command continues the run (the
curve grows; the rate is that of the last call).
"""

from __future__ import annotations

import datetime
import json
import subprocess
from pathlib import Path

from ..errors import UserError
from ..provenance import atomic_write_bytes, versions
from ..stats import wilson_interval
from .common import bench_log, machine_info, report_row

#: The GPU goal of the project (issue 15): the paper's 15 epochs over 100,000 windows in at most 5 minutes.
GPU_TARGET_MINUTES = 5.0
#: Name of the record the training page reads.
RECORD_NAME = "paper_recipe.json"


def _commit() -> str | None:
    """The repository's short HEAD, with ``+dirty`` when the working tree has uncommitted changes."""
    root = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (head + ("+dirty" if dirty else "")) or None


def bf16_matmul_tflops(device, n: int = 8192, repeat: int = 10) -> float:
    """bf16 ``torch.mm`` of two n x n matrices on a CUDA ``device``: its practical matrix rate (TFLOP/s)."""
    import torch

    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    best = float("inf")
    for _ in range(repeat + 2):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        torch.mm(a, b)
        end.record()
        torch.cuda.synchronize(device)
        best = min(best, start.elapsed_time(end) / 1e3)
    return 2 * n ** 3 / best / 1e12


def bench_paper_recipe(store_dir, bench_dir, time_limit: float, eval_every: int = 150, device=None,
                       precision: str | None = None, command: str = "",
                       require_profile: str | None = "paper", newdata=None) -> tuple[list[dict], dict]:
    """Train the paper's recipe on a paper-size store for ``time_limit`` seconds; rows and the curve's record.

    Parameters
    ----------
    store_dir : path-like
        A feature store built with the ``paper`` profile (refused otherwise: the recipe's sizes are the
        point of the measurement).
    bench_dir : Path
        ``<build>/bench``: the run folder and the record go here.
    time_limit : float
        Seconds of training of this call (``fit(time_limit=...)``).
    eval_every : int
        Optimiser steps between two evaluations of the validation set (each row of the curve).
    device, precision : optional
        As ``genre-utils train`` (default: the best device, fp32 on the CPU, bf16 on a CUDA device with bf16).
    command : str
        The command line, kept in the record.
    require_profile : str or None
        The profile the store must have been built with (None: any; for tests on small stores).
    newdata : path-like, optional
        A labelled ``<dir>/<genre>/<file>`` folder the best checkpoint is also tested on (paper section 9);
        default: the ``newdata`` folder of the synthetic corpus the store was built from, when there is one.

    After training, the run's best checkpoint (the epoch with the best validation accuracy among those
    finished) is tested on the store's test tracks (30-s vote) and the new data, as every run of the book is
    (:func:`genre_utils.experiments.evaluate_run`); the record keeps the counts under ``evaluation`` (None when
    no epoch finished, so there is no checkpoint to test).

    Returns
    -------
    rows : list of dict
    record : dict
        Written to ``<bench_dir>/paper_recipe.json`` as well.
    """
    # deferred: slow to import, loaded for this measurement only
    from ..dataset import built_from_synthetic, open_dataset
    from ..experiments import train_run
    from ..train import default_precision, select_device

    ds = open_dataset(store_dir)
    if require_profile is not None and ds.info.get("profile") != require_profile:
        raise UserError(f"{store_dir} was built with the {ds.info.get('profile')!r} profile; the paper recipe is "
                        "measured on the paper's sizes: build one with `make data PROFILE=paper`")
    dev = select_device(device)
    precision = precision or default_precision(dev)
    run_dir = Path(bench_dir) / "paper-recipe-run"
    bench_log(f"paper recipe: CRNN on {store_dir}, {dev.type} {precision}, {time_limit:g} s, validation every "
              f"{eval_every} steps (run folder {run_dir})")
    info = train_run(ds, "crnn", run_dir, "paper", device=device, precision=precision, time_limit=time_limit,
                     eval_every=eval_every, other_run="move")
    history, cfg = info["history"], info["config"]["train"]
    log = history["step_log"]
    n_train = ds.info["n_windows"]["train"]
    steps_per_epoch = -(-n_train // cfg["batch_size"])
    # the rate: windows trained per second of training in this call (evaluation excluded); an earlier call
    # may have run other code or on a busier machine
    earlier = history["step_log_from"]
    start = log[earlier - 1] if 0 < earlier <= len(log) else {"step": 0, "seconds": 0.0}
    seconds = (log[-1]["seconds"] - start["seconds"]) if log else 0.0
    windows = _windows(log[-1]["step"] if log else 0, steps_per_epoch, n_train, cfg["batch_size"]) - _windows(
        start["step"], steps_per_epoch, n_train, cfg["batch_size"])
    rate = windows / seconds if seconds else None
    full_windows = cfg["epochs"] * n_train
    projected_h = full_windows / rate / 3600 if rate else None
    last = log[-1] if log else None
    n_valid = ds.info["n_windows"]["valid"]
    machine = machine_info()
    where = f"{dev.type}{' ' + machine['cpu_model'] if dev.type == 'cpu' else ''}"
    record = {
        "created": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": command, "commit": _commit(), "device": str(dev), "precision": precision,
        "machine": machine, "versions": versions(),
        "store": {"profile": ds.info.get("profile"), "n_windows": ds.info["n_windows"],
                  "data_fingerprint": ds.info.get("data_fingerprint"), "synthetic": built_from_synthetic(ds.info)},
        "train_config": cfg, "steps_per_epoch": steps_per_epoch, "full_run_windows": full_windows,
        "step_log": log, "windows_per_s": rate, "projected_full_run_h": projected_h,
        "rate_from_step": int(start["step"]),
        "stopped": history.get("stopped"), "epochs_finished": len(history["epoch"]),
        "evaluation": None,
    }
    if (run_dir / "best.pt").is_file():
        folder = newdata if newdata is not None else _synthetic_newdata(ds.info, built_from_synthetic(ds.info))
        record["evaluation"] = evaluate_checkpoint(ds, run_dir, newdata=folder, device=device)
    Path(bench_dir).mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(Path(bench_dir) / RECORD_NAME, json.dumps(record, indent=1).encode())

    what = (f"paper recipe at paper size (CRNN, no batch norm, batch {cfg['batch_size']}, Adam {cfg['lr']:g}, "
            f"{precision}) on {where}")
    rows = [report_row("paper_recipe_rate", f"{what}: training windows per second", rate, "windows/s",
                       detail=f"{windows:,} windows in {seconds:.0f} s of training (evaluation excluded), steps "
                        f"{start['step']:,} to {log[-1]['step'] if log else 0:,} ({steps_per_epoch:,} per epoch)",
                 raw={"record": str(Path(bench_dir) / RECORD_NAME)}),
            report_row("paper_recipe_projection", f"{what}: the paper's {cfg['epochs']} epochs "
                       f"({full_windows:,} windows), projected", projected_h, "h",
                       detail="a projection from the measured rate, not a measured run")]
    if last is not None:
        low, high = wilson_interval(round(last["valid_acc"] * n_valid), n_valid)
        rows.append(report_row("paper_recipe_valid_acc", f"{what}: validation accuracy after {last['step']:,} steps "
                               f"(epoch {last['epoch']:.2f} of {cfg['epochs']})", 100 * last["valid_acc"], "%",
                               detail=f"n = {n_valid:,} windows, 95 % Wilson [{100 * low:.1f}, {100 * high:.1f}] %; "
                                f"chance 10 %{'; synthetic corpus' if record['store']['synthetic'] else ''}"))
    ev = record["evaluation"]
    if ev is not None:
        k, n = ev["test_tracks"]["k"], ev["test_tracks"]["n"]
        low, high = wilson_interval(k, n)
        rows.append(report_row("paper_recipe_test_acc", f"{what}: test accuracy (30-s vote) of the best checkpoint "
                               f"(epoch {ev['best_epoch']})", 100 * k / n if n else None, "%",
                               detail=f"{k} of {n} test tracks, 95 % Wilson [{100 * low:.1f}, {100 * high:.1f}] %"))
    rows += gpu_rows(dev, record)
    return rows, record


def evaluate_checkpoint(ds, run_dir, newdata=None, device=None) -> dict:
    """The record's ``evaluation``: the run's best checkpoint on the store's test tracks (30-s vote) and the new
    data, and the bag-of-frames probes on the same test tracks, paired track by track.

    Returns
    -------
    dict
        ``checkpoint``, ``best_epoch``, ``test_tracks`` and ``newdata_files`` (``{'k', 'n'}``; the latter None
        without new data), and ``bag_of_frames``: per probe summary (``'mean'``, ``'dynamics'``,
        :func:`genre_utils.probe.linear_probe`) its test tracks right (``k``, ``n``) and ``paired``, the
        :func:`genre_utils.stats.paired_comparison` of the CRNN (A) against it (B).
    """
    from ..experiments import evaluate_run  # deferred: slow to import, loaded for this measurement only
    from ..probe import compare_with_probe

    res = evaluate_run(ds, run_dir, newdata=newdata, device=device, progress=False)
    track = res.accuracy("track")
    nd = res.newdata_accuracy() if res.has_newdata else None
    probes = {}
    for summary in ("mean", "dynamics"):
        probe, paired = compare_with_probe(res, ds, summary=summary)
        probes[summary] = {"k": sum(t["correct"] for t in probe["test_tracks"]), "n": len(probe["test_tracks"]),
                           "paired": paired}
    return {"checkpoint": "best.pt", "best_epoch": res.headline.best_epoch, "test_tracks": {"k": track.k, "n": track.n},
            "newdata_files": {"k": nd.k, "n": nd.n} if nd is not None else None, "bag_of_frames": probes}


def _synthetic_newdata(info: dict, synthetic: bool):
    """The synthetic corpus's ``newdata`` folder beside the GTZAN tree a store was built from (None otherwise)."""
    gtzan = (info.get("sources") or {}).get("gtzan")
    if not synthetic or not gtzan:
        return None
    folder = Path(gtzan).parent / "newdata"   # <corpus>/gtzan -> <corpus>/newdata
    return folder if folder.is_dir() else None


def _windows(step: int, steps_per_epoch: int, n_train: int, batch_size: int) -> int:
    """Training windows seen after ``step`` optimiser steps (the last batch of an epoch may be smaller)."""
    epochs, steps = divmod(int(step), steps_per_epoch)
    return epochs * n_train + min(steps * batch_size, n_train)


def gpu_rows(dev, record: dict | None = None) -> list[dict]:
    """The GPU rows of the report: measured on a CUDA device by :func:`bench_paper_recipe`, else "not measured".

    The wall time of the full run is a measurement only when the run finished its epochs in the call;
    otherwise the row says so and shows nothing.
    """
    what = (f"the paper's full training (15 epochs x 100,000 windows) on one GPU, wall time "
            f"(goal <= {GPU_TARGET_MINUTES:g} min)")
    if dev is None or getattr(dev, "type", None) != "cuda" or record is None:
        why = ("not run: `--paper-recipe STORE` on a CUDA device measures it" if dev is None
               else "no CUDA device in this run")
        return [report_row("gpu_paper_training", what, None, "min", status="not measured",
                           detail=f"{why}; never estimated"),
                report_row("gpu_paper_flops", "the same run: achieved FLOP/s / bf16 matmul FLOP/s", None, "%",
                           status="not measured", detail=why)]
    import torch

    # deferred: slow to import, loaded for this measurement only
    from ..models import build_model
    from .training import count_flops

    name = torch.cuda.get_device_name(dev)
    finished = record["stopped"] is None and record["epochs_finished"] == record["train_config"]["epochs"]
    seconds = record["step_log"][-1]["seconds"] if record["step_log"] else None
    flops = count_flops(build_model("crnn", input_shape=(64, 235)), (64, 235))["train_total"]
    achieved = record["windows_per_s"] * flops / 1e12 if record["windows_per_s"] else None
    peak = bf16_matmul_tflops(dev)
    return [report_row("gpu_paper_training", f"{what}, {name}", seconds / 60 if finished and seconds else None, "min",
                       "<=", GPU_TARGET_MINUTES, status=None if finished else "not measured",
                       detail=(f"{record['windows_per_s']:.0f} windows/s, {record['precision']}" if finished else
                         f"stopped at epoch {record['step_log'][-1]['epoch']:.2f}: no full run measured")),
            report_row(
                "gpu_paper_flops", f"the same run on {name}: achieved FLOP/s / bf16 matmul FLOP/s",
                100 * achieved / peak if achieved else None, "%",
                detail=f"{achieved or 0:.1f} TFLOP/s of training vs {peak:.0f} TFLOP/s bf16 torch.mm (same run)")]


#: The record shipped with the package: the paper recipe as measured by the project on its own machine.
SHIPPED_RECORD = Path(__file__).resolve().parents[1] / "data" / "measured" / RECORD_NAME


def paper_recipe_record(build_dir=None) -> tuple[dict | None, str]:
    """The measured paper-recipe curve the book shows, and where it comes from.

    ``<build_dir>/bench/paper_recipe.json`` (this machine's own measurement, if ``make bench`` ran it) is
    preferred; otherwise the record shipped in the package (measured by the project; its ``created``,
    ``machine``, ``commit`` and ``command`` say when, where and how). ``(None, '')`` when neither is readable.
    """
    candidates = ([(Path(build_dir) / "bench" / RECORD_NAME, "this build folder's benchmark")]
                  if build_dir is not None else []) + [(SHIPPED_RECORD, "the record shipped with genre_utils")]
    for path, source in candidates:
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and record.get("step_log"):
            return record, source
    return None, ""
