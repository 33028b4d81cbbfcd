"""The ``genre-utils`` console script: the same steps the notebooks run, from a shell.

::

    genre-utils synth    --profile quick --out data/synth
    genre-utils dataset  --gtzan data/synth/gtzan --fma data/synth/fma --profile quick --out data/quick
    genre-utils train    --data data/quick --out runs/crnn
    genre-utils evaluate --data data/quick --checkpoint runs/crnn/best.pt --out runs/crnn/results.json
    genre-utils predict  song.mp3 other.wav --checkpoint runs/crnn/best.pt

Each subcommand is a thin wrapper over one package function; errors in the user's input (a wrong path, an
unrecognised layout) end with one line on stderr and exit status 2, not a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .config import PROFILES

__all__ = ["main", "build_parser"]


def _cmd_synth(args) -> int:
    from .synth import render_corpus

    summary = render_corpus(args.out, profile=args.profile, seed=args.seed, progress=not args.quiet)
    print(json.dumps({k: summary[k] for k in summary if k in ("cached", "seconds", "counts", "fingerprint")},
                     indent=2, default=str))
    return 0


def _cmd_dataset(args) -> int:
    from .store import build_dataset

    ds = build_dataset(args.out, gtzan=args.gtzan, fma=args.fma, fma_subset=args.fma_subset,
                       folders=args.folder or (), profile=args.profile, split_method=args.split,
                       feature_kind=args.features, workers=args.workers, progress=not args.quiet)
    info = ds.info
    print(f"{ds.root}: {info['n_tracks_used']} tracks used of {info['n_tracks_found']} found, "
          f"windows {info['n_windows']}, {info['n_skipped']} skipped (see {ds.root / 'skipped.csv'}), "
          f"data fingerprint {info['data_fingerprint']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``genre-utils`` (one subparser per step)."""
    parser = argparse.ArgumentParser(prog="genre-utils", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("synth", help="render the synthetic corpus in the GTZAN and FMA layouts")
    p.add_argument("--profile", default="quick", choices=sorted(PROFILES))
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--seed", type=int, default=None, help="default: the profile's seed")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_synth)

    p = sub.add_parser("dataset", help="scan sources, split by track, extract features into a store")
    p.add_argument("--gtzan", type=Path, help="GTZAN root (genres/ tarball layout or Kaggle genres_original/)")
    p.add_argument("--fma", type=Path, help="FMA root holding fma_metadata/ and fma_<subset>/")
    p.add_argument("--fma-subset", default="medium", choices=["small", "medium", "large", "full"])
    p.add_argument("--folder", type=Path, action="append", help="extra labelled folder <dir>/<genre>/<file>")
    p.add_argument("--profile", default="quick", choices=sorted(PROFILES))
    p.add_argument("--split", default="random", choices=["random", "artist", "official"])
    p.add_argument("--features", choices=["mfcc", "logmel"], help="default: the profile's (mfcc)")
    p.add_argument("--workers", type=int, default=None, help="default: the available cores")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_dataset)
    return parser


def main(argv=None) -> int:
    """Entry point of the ``genre-utils`` script; returns the exit status."""
    from .audio import AudioError

    args = build_parser().parse_args(argv)
    try:
        from .sources import LayoutError
    except ImportError:  # pragma: no cover - sources is part of the package
        LayoutError = ValueError
    try:
        return args.func(args)
    except (LayoutError, FileNotFoundError, AudioError, ValueError) as err:
        print(f"genre-utils {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"genre-utils {args.command}: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
