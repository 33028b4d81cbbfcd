"""The feature store: end-to-end build on fixture trees, bad input, determinism, cache and resume."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from fixtures_audio import make_fma_tree, make_gtzan_tree, write_audio, write_bytes

from genre_utils.config import get_profile
from genre_utils.genres import GENRES
from genre_utils.sources import LayoutError
from genre_utils.store import build_dataset, extract_tracks, open_dataset

PROFILE = get_profile("tiny").replace(n_train=40, n_valid=20, test_segments_per_track=2)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Kaggle-layout GTZAN (10 genres x 5 clips of 10.5 s) with bad files, and a small FMA tree."""
    root = tmp_path_factory.mktemp("corpus")
    genre_dir, _ = make_gtzan_tree(root / "gtzan", "kaggle", GENRES, range(5), seconds=10.5)
    write_bytes(genre_dir / "jazz" / "jazz.00054.wav", b"this is not a RIFF file" * 50)   # Kaggle's broken clip
    write_bytes(genre_dir / "rock" / "rock.00099.wav")                                      # empty
    write_audio(genre_dir / "pop" / "pop.00098.wav", seconds=2.0)                           # too short
    write_audio(genre_dir / "pop" / "pop.00097.wav", seconds=8.0)
    import soundfile as sf
    sf.write(genre_dir / "pop" / "pop.00097.wav", np.zeros(8 * 22050, np.float32), 22050)  # silent
    write_bytes(genre_dir / ".DS_Store", b"\0\0\0\1Bud1")
    rows = [
        {"track_id": 2, "genres": [31], "artist": "A", "split": "training"},     # metal
        {"track_id": 3, "genres": [11], "artist": "B", "split": "training"},     # disco
        {"track_id": 5, "genres": [15], "artist": "C", "split": "test"},         # Electronic: eliminated
        {"track_id": 7, "genres": [79], "artist": "D", "split": "validation"},   # reggae
    ]
    make_fma_tree(root / "fma", rows, seconds=10.5)
    return root


def build(corpus, out, **kw):
    kw.setdefault("profile", PROFILE)
    return build_dataset(out, gtzan=corpus / "gtzan", fma=corpus / "fma", workers=1, progress=False, **kw)


@pytest.fixture(scope="module")
def built(corpus, tmp_path_factory):
    return build(corpus, tmp_path_factory.mktemp("ds") / "store")


def test_store_shapes_and_balance(built):
    ds = built
    assert ds.features.shape == (len(ds.manifest), 64, 235)
    assert ds.features.dtype == np.float16
    assert np.isfinite(np.asarray(ds.features, np.float32)).all()
    X, y, rows = ds.split("train")
    assert X.shape == (40, 64, 235) and len(y) == 40
    assert (rows["genre"].value_counts() == 4).all() and rows["genre"].nunique() == 10
    Xv, yv, _ = ds.split("valid")
    assert len(yv) == 20
    Xt, yt, test_rows = ds.split("test")
    assert (test_rows.groupby("track_id").size() == 2).all()
    assert ds.mean.shape == (64,) and (ds.std > 0).all()
    assert [GENRES[i] for i in y] == list(rows["genre"])


def test_no_track_in_two_splits(built):
    assert (built.manifest.groupby("track_id")["split"].nunique() == 1).all()
    used = built.tracks[built.tracks["status"] == "used"]
    assert set(built.manifest["track_id"]) <= set(used["track_id"])


def test_bad_inputs_are_recorded_not_lost(built, corpus):
    skipped = built.skipped
    reasons = dict(zip(skipped["path"].map(lambda p: p.rsplit("/", 1)[-1]), skipped["reason"]))
    assert "unreadable" in reasons["jazz.00054.wav"]
    assert "empty" in reasons["rock.00099.wav"]
    assert "too short" in reasons["pop.00098.wav"]
    assert "silent" in reasons["pop.00097.wav"]
    assert ".DS_Store" in reasons
    assert reasons["000005.mp3"].startswith("eliminated")
    # every audio file on disk is either used or in skipped.csv
    on_disk = {str(p) for p in corpus.rglob("*") if p.is_file() and p.suffix in (".wav", ".mp3")}
    used = set(built.tracks.loc[built.tracks["status"] == "used", "path"])
    assert on_disk <= used | set(skipped["path"])
    assert built.info["n_tracks_used"] == 50 + 3


def test_fma_labels_come_through(built):
    fma = built.manifest[built.manifest["source"] == "fma"].drop_duplicates("track_id")
    assert dict(zip(fma["track_id"], fma["genre"])) == {"fma:000002": "metal", "fma:000003": "disco",
                                                         "fma:000007": "reggae"}


def test_same_inputs_same_store(built, corpus, tmp_path):
    # byte-identical is the promise on one machine (same CPU, same code, same versions); on another CPU the
    # float16 features agree to about one float16 step, not bitwise (README: "Same results on every machine?")
    again = build(corpus, tmp_path / "again")
    assert np.array_equal(np.asarray(again.features), np.asarray(built.features))
    cols = ["segment_id", "split", "start", "label"]
    pd.testing.assert_frame_equal(again.manifest[cols], built.manifest[cols])
    assert again.info["data_fingerprint"] == built.info["data_fingerprint"]


def test_rebuild_is_a_cache_hit(built, corpus):
    before = (built.root / "features.npy").stat().st_mtime_ns
    again = build(corpus, built.root)
    assert (again.root / "features.npy").stat().st_mtime_ns == before


def test_the_store_keeps_its_profile_whole_and_training_settings_do_not_rebuild_it(built, corpus):
    # PROFILE is tiny with three overrides: looked up again by its name, they would be lost
    assert built.profile == PROFILE and built.profile != get_profile("tiny")
    before = (built.root / "features.npy").stat().st_mtime_ns
    retrained = build(corpus, built.root, profile=PROFILE.replace(lr=5e-4, epochs=7))
    assert (retrained.root / "features.npy").stat().st_mtime_ns == before   # another lr is not another store
    assert retrained.info["cache_key"] == built.info["cache_key"]
    assert build(corpus, built.root.parent / "other", profile=PROFILE.replace(n_valid=10)).info["cache_key"] \
        != built.info["cache_key"]                                          # another data size is


def test_interrupted_build_resumes_to_the_same_result(built, corpus, tmp_path, monkeypatch):
    from genre_utils import store

    out = tmp_path / "resumed"
    with monkeypatch.context() as patch:  # the test hook: interrupted after 7 tracks
        patch.setattr(store, "_stop_after_tracks", 7)
        with pytest.raises(KeyboardInterrupt):
            build(corpus, out)
    assert not (out / "dataset.json").exists() and not (out / "features.npy").exists()
    resumed = build(corpus, out)
    progress = json.loads((out / "dataset.json").read_text())
    assert progress["n_windows"] == built.info["n_windows"]
    assert np.array_equal(np.asarray(resumed.features), np.asarray(built.features))


def test_logmel_store_and_official_split(corpus, tmp_path):
    ds = build(corpus, tmp_path / "lm", feature_kind="logmel", split_method="official")
    assert ds.params.kind == "logmel"
    # fixture GTZAN ids blues.00000-00004 are in no fault-filtered list except where they are; FMA uses set.split
    status = ds.tracks.set_index("track_id")["status"]
    assert status["fma:000002"] == "used"
    assert (ds.tracks["status"] == "not in the official split").any()
    assert (ds.manifest.groupby("track_id")["split"].nunique() == 1).all()


def test_wrong_root_gives_one_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(LayoutError, match="genres_original"):
        build_dataset(tmp_path / "out", gtzan=tmp_path / "empty", profile=PROFILE, progress=False)
    with pytest.raises(ValueError, match="no data source"):
        build_dataset(tmp_path / "out", profile=PROFILE, progress=False)


def test_open_dataset_names_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="genre-utils dataset"):
        open_dataset(tmp_path)


def tone_files(folder, n, seconds=6.0):
    """``n`` WAV tones of different pitches."""
    return [write_audio(folder / f"t{i}.wav", seconds=seconds, freq=220.0 * (i + 1)) for i in range(n)]


def test_extract_tracks_in_process_keeps_order_and_starts(tmp_path):
    from genre_utils.audio import cut_segments, load_audio
    from genre_utils.features import extract

    params = PROFILE.features
    paths = tone_files(tmp_path, 3)
    starts = [[0], [0, 20_000], [5_000]]
    blocks = list(extract_tracks(paths, starts, params, workers=1))
    assert [b.shape for b in blocks] == [(1, 64, 235), (2, 64, 235), (1, 64, 235)]
    for path, s, block in zip(paths, starts, blocks):
        expected = extract(cut_segments(load_audio(path, params.sample_rate), s, params.segment_samples), params)
        # the worker runs the same extract call on the same windows in this process: bitwise
        assert block.dtype == np.float16 and np.array_equal(block, expected.astype(np.float16))
    same_starts = list(extract_tracks(paths, np.array([0, 20_000]), params, workers=1))
    assert np.array_equal(same_starts[1], blocks[1])
    with pytest.raises(ValueError, match="3 files but 2"):
        extract_tracks(paths, starts[:2], params, workers=1)


WORKERS_AFTER_THREADED_PARENT = """
import sys
import numpy as np
import torch
from genre_utils.audio import cut_segments, load_audio
from genre_utils.config import FeatureParams
from genre_utils.features import extract
from genre_utils.store import extract_tracks

paths = sys.argv[1:]
params = FeatureParams()
starts = np.array([0, 11_025])
torch.set_num_threads(2)            # the parent uses torch multi-threaded (its OpenMP pool starts) ...
a = torch.randn(1000, 1000)
assert torch.isfinite(torch.exp(a) @ a).all()
expected = [extract(cut_segments(load_audio(p), starts, params.segment_samples), params) for p in paths]
assert torch.get_num_threads() == 2
blocks = list(extract_tracks(paths, starts, params, workers=2))     # ... then forks workers
assert len(blocks) == len(paths)
for got, want in zip(blocks, expected):
    np.testing.assert_allclose(got.astype(np.float32), want, rtol=2e-3, atol=1e-2)
print("ok")
"""


def test_workers_forked_after_threaded_torch_do_not_hang(tmp_path):
    """GNU OpenMP cannot be used in a child forked after the parent used it; the workers must stay off it.

    Workers left at the parent's two torch threads hang here; the subprocess is killed after two minutes.
    """
    paths = tone_files(tmp_path, 4)
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(WORKERS_AFTER_THREADED_PARENT),
                             *map(str, paths)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)        # the forked workers too
        proc.communicate()
        pytest.fail("feature workers hung after the parent ran torch with two threads")
    assert proc.returncode == 0 and out.strip() == "ok", err[-2000:]


def test_track_splits_give_every_found_track_its_split(built):
    splits = built.track_splits
    assert splits.index.is_unique and set(splits) <= {"train", "valid", "test", ""}
    used = built.manifest.drop_duplicates("track_id").set_index("track_id")["split"]
    assert (splits.loc[used.index] == used).all()        # a used track's split is its windows' split
