"""The whole benchmark run, its Markdown report and the ``python -m genre_utils.bench`` command."""
import argparse
import dataclasses
import datetime
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ..errors import UserError, one_line
from ..provenance import atomic_write_bytes
from .clips import make_clips
from .common import (
    E2E_TARGETS_MINUTES,
    BenchConfig,
    bench_log,
    check_cpu_meter,
    load_average,
    machine_info,
    wait_until_quiet,
)
from .end_to_end import bench_end_to_end, notebook_timings
from .features import bench_features
from .paper_recipe import bench_paper_recipe, gpu_rows
from .prediction import bench_prediction
from .storage import bench_storage
from .training import bench_training


# ------------------------------------------------------------------------------------------ the run
def run(build_dir, config: BenchConfig = BenchConfig(), end_to_end=(), paper_recipe: dict | None = None,
        micro: bool = True) -> dict:
    """Run every benchmark and return the report (not written; see :func:`write_report`).

    Parameters
    ----------
    build_dir : path-like
        Build folder; scratch files go to a temporary folder under ``<build>/bench`` and are deleted.
    config : BenchConfig
    end_to_end : iterable of str
        Profiles whose full ``make book`` is timed (slow; none by default).
    paper_recipe : dict, optional
        Keyword arguments of :func:`~genre_utils.bench.paper_recipe.bench_paper_recipe` (``store_dir``,
        ``time_limit``, ``eval_every``, ...): train the paper's recipe on a paper-size store (slow).
    micro : bool
        Run the feature, storage, training-step and prediction benchmarks (minutes).

    Returns
    -------
    report : dict
        ``created``, ``machine`` (also ``load_average_end``), ``config``, ``rows`` (list of report rows),
        ``training_profile``, ``last_book`` and ``seconds`` (the benchmark's own run time).
    """
    # deferred: slow to import, loaded for this measurement only
    from ..devices import reuse_freed_memory
    from ..train import set_threads

    t_start = time.perf_counter()
    build_dir = Path(build_dir)
    bench_dir = build_dir / "bench"
    bench_dir.mkdir(parents=True, exist_ok=True)
    set_threads()
    reuse_freed_memory()   # what fit() does: the training rows measure the loop as it runs
    machine = machine_info()
    params = config.params
    rows: list[dict] = []
    waited: dict[str, float] = {}

    def quiet(section: str) -> None:
        if config.wait_quiet > 0:
            waited[section] = round(wait_until_quiet(config.wait_quiet), 1)

    source, training_profile = None, {}
    if micro:
        rows.append(check_cpu_meter())
        with tempfile.TemporaryDirectory(prefix="scratch-", dir=bench_dir) as tmp:
            tmp = Path(tmp)
            bench_log(f"clips: {config.n_clips} x {config.clip_seconds:g} s ({config.clip_source})")
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
    if paper_recipe:
        quiet("paper_recipe")
        rows += bench_paper_recipe(bench_dir=bench_dir, **paper_recipe)[0]
    else:
        rows += gpu_rows(None)
    machine["load_average_end"] = load_average()
    machine["waited_for_quiet_s"] = waited
    return {"created": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "machine": machine, "config": {**dataclasses.asdict(config), "clip_source_used": source,
                                           "features": dataclasses.asdict(params)},
            "rows": rows, "training_profile": training_profile, "last_book": notebook_timings(build_dir),
            "seconds": time.perf_counter() - t_start}


def _fmt(value, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "x":
        return f"{value:.1f}x"
    if unit == "%":
        return f"{value:.1f} %"
    return f"{value:.3g} {unit}" if abs(value) < 100 else f"{value:.0f} {unit}"


def rows_table(report: dict):
    """The report's rows as a DataFrame for the book: measure, value (with its unit), target, status, detail.

    A row without a value (``not measured``) shows "-" and its status; nothing is estimated.
    """
    import pandas as pd

    return pd.DataFrame([{"measure": row["what"], "value": _fmt(row["value"], row["unit"]),
                          "target": row["target"]["text"] if row["target"] else "-", "status": row["status"],
                          "detail": row["detail"]} for row in report["rows"]]).set_index("measure")


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
    if not cfg.get("clip_source_used"):   # --skip-micro
        return "\n".join(lines + ["", f"Benchmark time {report['seconds']:.0f} s. Raw values: report.json."]) + "\n"
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
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "report.json", out_dir / "report.md"
    atomic_write_bytes(json_path, json.dumps(report, indent=2, default=_json_default).encode())
    atomic_write_bytes(md_path, to_markdown(report).encode())
    return json_path, md_path


def main(argv=None) -> int:
    """``python -m genre_utils.bench``: run the benchmarks, write and print the report."""
    from ..cli import duration, positive_number  # the train command's argument types: one home

    parser = argparse.ArgumentParser(prog="python -m genre_utils.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", default="_build", type=Path, help="report goes to <build-dir>/bench")
    parser.add_argument("--profile", default="quick", choices=["tiny", "quick"],
                        help="feature parameters and training-set size (n_train windows) for the storage test")
    parser.add_argument("--quick", action="store_true", help="fewer clips, windows, steps and files")
    parser.add_argument("--end-to-end", action="append", default=[], choices=sorted(E2E_TARGETS_MINUTES),
                        metavar="RUN", help="also time a whole build in a fresh folder: tiny or quick (make book), "
                        "paper-data (make data at the paper's sizes, tens of minutes); slow; repeatable")
    parser.add_argument("--paper-recipe", type=Path, metavar="STORE",
                        help="also train the paper's recipe on STORE (built by `make data PROFILE=paper`) for "
                             "--time-limit and record its curve in <build-dir>/bench/paper_recipe.json; slow")
    parser.add_argument("--time-limit", type=duration, default="30m", metavar="TIME",
                        help="training time of --paper-recipe, e.g. 1800, 30m, 2h (default 30m)")
    parser.add_argument("--eval-every", type=positive_number(int), default=150, metavar="N",
                        help="--paper-recipe: validation every N optimiser steps (default 150)")
    parser.add_argument("--device", help="--paper-recipe: cuda, mps or cpu (default: the first available)")
    parser.add_argument("--newdata", type=Path, metavar="DIR",
                        help="--paper-recipe: labelled <DIR>/<genre>/<file> folder the best checkpoint is also "
                             "tested on (default: the synthetic corpus's newdata/, when STORE was built from it)")
    parser.add_argument("--skip-micro", action="store_true",
                        help="skip the feature, storage, training-step and prediction benchmarks")
    parser.add_argument("--profile-training", action="store_true", help="always profile one training step")
    parser.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                        help="before each benchmark wait up to SECONDS for other processes to leave the cores idle")
    args = parser.parse_args(argv)
    config = BenchConfig.default(args.profile, args.quick)
    config = dataclasses.replace(config, wait_quiet=max(0.0, args.wait_quiet),
                                 profile_training=True if args.profile_training else config.profile_training)
    recipe = None
    if args.newdata is not None and not args.newdata.is_dir():
        print(f"python -m genre_utils.bench: --newdata {args.newdata} is not a folder", file=sys.stderr)
        return 2
    if args.paper_recipe:
        recipe = {"store_dir": args.paper_recipe, "time_limit": args.time_limit, "eval_every": args.eval_every,
                  "device": args.device, "newdata": args.newdata, "command": "python -m genre_utils.bench " + " ".join(
                      "STORE" if Path(a) == args.paper_recipe else "BUILD" if Path(a) == args.build_dir else
                      "DIR" if args.newdata is not None and Path(a) == args.newdata else a
                      for a in (argv or sys.argv[1:]))}   # no machine paths in the record
    try:
        report = run(args.build_dir, config, end_to_end=args.end_to_end, paper_recipe=recipe,
                     micro=not args.skip_micro)
    except UserError as err:
        print(f"python -m genre_utils.bench: {one_line(err)}", file=sys.stderr)
        return 2
    json_path, md_path = write_report(report, args.build_dir / "bench")
    print(to_markdown(report))
    bench_log(f"wrote {json_path} and {md_path}")
    failed = [r["id"] for r in report["rows"] if r["status"] == "fail"]
    if failed:
        bench_log("targets not met: " + ", ".join(failed))
    return 0
