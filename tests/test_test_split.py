"""Test-only clips (Profile.test_tracks_per_genre) and the leaky segment split, from the profile to the store."""

import dataclasses
import json

import pytest

from genre_utils import synth
from genre_utils.config import PROFILES, TEST_ONLY_LIST, get_profile, split_counts
from genre_utils.genres import GENRES
from genre_utils.store import build_dataset, read_test_only

MINI = get_profile("tiny").replace(synth_tracks_per_genre=3, synth_fma_tracks=2, synth_newdata_per_genre=0,
                                   clip_seconds=5.5, test_tracks_per_genre=2, n_train=20, n_valid=10,
                                   test_segments_per_track=1)


def test_profiles_add_test_tracks_only():
    quick, tiny = PROFILES["quick"], PROFILES["tiny"]
    assert quick.test_tracks_per_genre >= 16  # the paper's 30-s test: 16 tracks per genre
    # quick keeps its 14 training and 3 validation clips per genre; 13 test-only clips join the 3 test ones
    assert split_counts(quick.synth_tracks_per_genre, quick.split_fractions) == (14, 3, 3)
    assert quick.test_only_per_genre == quick.test_tracks_per_genre - 3
    assert tiny.test_tracks_per_genre <= 3 and tiny.test_only_per_genre <= 2  # the test suite stays fast
    assert get_profile("quick").replace(test_tracks_per_genre=0).test_only_per_genre == 0


def test_test_only_clips_add_to_the_corpus_and_change_no_other_composition():
    """The balanced clips keep their files and seeds; only who plays them changes, since the test-only clips are
    further tracks by artists with one balanced clip each (genre_utils.synth.artists.gtzan_artists)."""
    with_extra = get_profile("quick").replace(synth_tracks_per_genre=53)
    jobs, _, broken = synth.plan_corpus(with_extra, 0)
    plain, _, broken0 = synth.plan_corpus(with_extra.replace(test_tracks_per_genre=0), 0)

    def composition(j):   # the bank goes with the artist (balanced per genre over the artists' tracks)
        return dataclasses.replace(j, artist="", artist_seed=-1, bank="") if j.relpath.startswith("gtzan/") else j

    assert [composition(j) for j in jobs if not j.test_only] == [composition(j) for j in plain]
    assert broken == broken0
    extra = [j for j in jobs if j.test_only]
    assert len(extra) == 10 * with_extra.test_only_per_genre
    taken = {j.relpath for j in plain} | {b["path"] for b in broken}
    assert not taken & {j.relpath for j in extra}
    jazz = sorted(int(j.relpath[-9:-4]) for j in extra if j.genre == "jazz")
    assert 54 not in jazz and jazz[0] == 55 and len(jazz) == with_extra.test_only_per_genre


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    summary = synth.render_corpus(out, MINI, progress=False, workers=1)
    return out, summary


def test_corpus_lists_its_test_only_clips(corpus):
    out, summary = corpus
    listed = read_test_only(out / "gtzan" / TEST_ONLY_LIST)
    assert len(listed) == 10 * MINI.test_only_per_genre == sum(summary["counts"]["gtzan_test_only"].values())
    assert summary["counts"]["gtzan"] == dict.fromkeys(GENRES, MINI.synth_tracks_per_genre)
    assert all((out / "gtzan/genres_original" / i.split(".")[0] / f"{i}.wav").is_file() for i in listed)
    assert TEST_ONLY_LIST in {p.rsplit("/", 1)[-1] for p in summary["files"]}  # checked like every file


@pytest.mark.parametrize("method", ["random", "artist", "segment"])
def test_store_sends_test_only_tracks_to_test_and_records_the_leak(corpus, tmp_path, method):
    out, _ = corpus
    ds = build_dataset(tmp_path / method, gtzan=out / "gtzan", fma=out / "fma", profile=MINI, split_method=method,
                       workers=1, progress=False)
    tracks = ds.tracks[ds.tracks["status"] == "used"]
    marked = tracks["test_only"].astype(str) == "True"
    assert marked.sum() == 10 * MINI.test_only_per_genre == ds.info["test_only_tracks"]
    assert (tracks.loc[marked, "split"] == "test").all()
    per_genre = ds.info["tracks_per_split_genre"]["test"]
    assert all(per_genre[g] >= MINI.test_tracks_per_genre for g in GENRES)
    leak = json.loads((ds.root / "dataset.json").read_text())["leak"]
    test = ds.manifest[ds.manifest["split"] == "test"]
    assert leak["test_windows"] == len(test)
    train_tracks = set(ds.manifest.loc[ds.manifest["split"] == "train", "track_id"])
    if method == "segment":
        assert leak["test_windows_from_training_tracks"] == test["track_id"].isin(train_tracks).sum() > 0
    else:
        assert leak["test_windows_from_training_tracks"] == 0 and not test["track_id"].isin(train_tracks).any()
