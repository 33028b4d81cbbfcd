"""Cache keys follow the floors: a code change re-keys exactly the stages that run that code.

In a scratch copy of the package one module per floor is touched (a comment appended), and the package's
own key functions are asked again: the corpus's (:func:`genre_utils.synth.corpus_fingerprint`), a store's
(``store._cache_key``, here for a store of real data, whose input files do not change), a run's
(:func:`genre_utils.experiments.run_key`, on that store's key) and every notebook's
(:func:`genre_utils.bookbuild.notebook_key`, each recorded as having read that store and run). Nothing is
built or trained; one subprocess imports the copy.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import genre_utils

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p.stem for p in (ROOT / "book").glob("*.ipynb"))

SCRIPT = r"""
import json, sys
from pathlib import Path

import pandas as pd

from genre_utils import bookbuild, experiments, store, synth
from genre_utils.config import get_profile

package, book, touched = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
assert Path(store.__file__).resolve().parent == package.resolve(), store.__file__  # the scratch copy
profile = get_profile("tiny")


class Store:
    info = None
    profile = None


def keys():
    out = {"corpus": synth.corpus_fingerprint(profile)}
    out["store"] = store._cache_key(pd.DataFrame({"path": []}), profile, "random", "medium")
    ds = Store()
    ds.info = {"cache_key": out["store"], "data_fingerprint": "the tracks' hashes", "profile": profile.name}
    ds.profile = profile
    out["run"] = experiments.run_key(ds, "crnn")
    read = {"store mfcc-random": out["store"], "run crnn-mfcc-random": out["run"]}
    for page in sorted(book.glob("*.ipynb")):
        out[f"notebook {page.stem}"] = bookbuild.notebook_key(page, {"profile": profile.name}, read)
    return out


before = keys()
changed = {}
for rel in touched:
    path = package / rel
    text = path.read_text()
    path.write_text(text + "\n# touched\n")
    after = keys()
    changed[rel] = sorted(k for k in before if after[k] != before[k])
    path.write_text(text)
assert keys() == before  # the same code, the same keys
print(json.dumps(changed))
"""


def notebooks(*names):
    assert set(names) <= set(NOTEBOOKS), set(names) - set(NOTEBOOKS)
    return [f"notebook {n}" for n in names]


ALL_NOTEBOOKS = notebooks(*NOTEBOOKS)

#: Touched module (one per floor, two for data) -> the keys that change.
EXPECTED = {
    # foundation: everything runs it
    "config.py": ["corpus", "run", "store", *ALL_NOTEBOOKS],
    # signal: stores extract features and evaluation extracts them from files; the corpus does not
    "features.py": ["run", "store", *ALL_NOTEBOOKS],
    # data, the synthetic corpus: a store of real data is not re-keyed (nor its runs); the pages that import
    # synth are: the corpus card and the laboratory, reproducibility, and the discussion (its verdicts read the
    # corpus card, which reads the production settings of synth.render)
    "synth/compose.py": ["corpus", *notebooks("corpus_card", "discussion", "laboratory", "reproducibility")],
    # data, the store: its runs follow through the store's key, and every page that read them
    "store.py": ["run", "store", *ALL_NOTEBOOKS],
    # model: training re-keys the runs, not the store or the corpus
    "train.py": ["run", *ALL_NOTEBOOKS],
    # runs: calibration is run by its page, not part of a run's key; the real recordings' page reads the
    # calibration's file (checkpoint_info), not the code that made it
    "confidence.py": notebooks("confidence"),
    # book: only the pages that import the figures (directly or through the widgets)
    "plots.py": notebooks(*(n for n in NOTEBOOKS if n not in ("confidence", "listening", "related_work",
                                                                "reproducibility"))),
    # tools: no stage runs the CLI
    "cli.py": [],
}


def test_touching_one_module_per_floor_rekeys_exactly_the_stages_that_run_it(tmp_path):
    package = tmp_path / "genre_utils"
    shutil.copytree(Path(genre_utils.__file__).parent, package,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path), "HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(package), str(ROOT / "book"), json.dumps(list(EXPECTED))],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    changed = json.loads(proc.stdout.strip().splitlines()[-1])
    assert changed == {k: sorted(v) for k, v in EXPECTED.items()}
