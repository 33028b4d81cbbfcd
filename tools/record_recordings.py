"""Keep the main run's answers on the ten real recordings as a snapshot of the corpus it was trained on.

``python tools/record_recordings.py BUILD_DIR LABEL [--profile quick]`` classifies the recordings with the
main run of ``BUILD_DIR`` (``make book`` must have built it) and appends a snapshot to
``genre_utils/data/measured/real_recordings.json``, with the commit, corpus fingerprint and run key it came
from. Run it before a change of the corpus: the real-recordings page then shows the earlier answers beside
the new ones.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from genre_utils import recordings  # noqa: E402
from genre_utils.context import main_run_dir  # noqa: E402
from genre_utils.provenance import atomic_write_bytes  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build_dir", type=Path)
    parser.add_argument("label")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--commit", default=None, help="the commit the build was made at (default: unknown)")
    parser.add_argument("--replace", action="store_true", help="replace a kept snapshot of the same label")
    args = parser.parse_args(argv)
    run = main_run_dir(args.profile, args.build_dir)
    corpus_json = args.build_dir / "data" / f"synth-{args.profile}" / "corpus.json"
    for needed in (run / "results.json", run / "best.pt", corpus_json):
        if not needed.is_file():
            print(f"error: {needed} is missing: build the book on the synthetic corpus first "
                  f"(make book PROFILE={args.profile} BUILD={args.build_dir})", file=sys.stderr)
            return 2
    target = ROOT / "genre_utils" / "data" / "measured" / recordings.HISTORY_FILE
    history = recordings.load_history(target)
    if any(s["label"] == args.label for s in history) and not args.replace:
        print(f"error: {target.relative_to(ROOT)} already keeps a snapshot labelled {args.label!r}; choose another "
              "label, or pass --replace to overwrite it", file=sys.stderr)
        return 2
    results = json.loads((run / "results.json").read_text())
    corpus = json.loads(corpus_json.read_text())
    table = recordings.classify_recordings(run)
    snap = recordings.snapshot(table, args.label, {
        "commit": args.commit, "profile": args.profile, "corpus_fingerprint": corpus.get("fingerprint"),
        "data_fingerprint": results["dataset"]["data_fingerprint"], "run_key": results["key"],
        "soundfont": corpus.get("libraries", {}).get("soundfont"),
    })
    history = [s for s in history if s["label"] != snap["label"]] + [snap]
    atomic_write_bytes(target, (json.dumps({"snapshots": history}, indent=1) + "\n").encode())
    print(f"{target.relative_to(ROOT)}: {len(history)} snapshot(s); {snap['label']}:")
    print(recordings.history_table(table, []).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
