"""Track-level splits and the balanced window plan."""

import numpy as np
import pandas as pd
import pytest

from genre_utils.genres import GENRES
from genre_utils.splits import (
    SPLIT_HELP,
    SPLIT_METHODS,
    balanced_windows,
    consecutive_windows,
    leak_summary,
    plan_windows,
    split_tracks,
)

SEG = 110_250


def make_tracks(per_genre=20, unbalanced=False, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for g, genre in enumerate(GENRES):
        n = per_genre if not unbalanced else 4 + 3 * g
        for i in range(n):
            rows.append({"track_id": f"{genre}.{i:05d}", "label": genre, "artist": f"{genre}-artist{i % 3}",
                         "official_split": ["train", "valid", "test", None][i % 4],
                         "n_samples": int(rng.integers(SEG, 30 * 22050))})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("method", ["random", "artist"])
def test_split_is_track_level_stratified_and_seeded(method):
    tracks = make_tracks()
    split = split_tracks(tracks, method, seed=3)
    assert split.notna().all()
    assert set(split) == {"train", "valid", "test"}
    for genre, group in tracks.assign(split=split).groupby("label"):
        counts = group["split"].value_counts()
        assert counts["train"] >= counts["valid"] and counts["train"] >= counts["test"], genre
        assert counts["valid"] >= 1 and counts["test"] >= 1
    assert split.equals(split_tracks(tracks, method, seed=3))
    assert not split.equals(split_tracks(tracks, method, seed=4))


def test_random_split_proportions():
    tracks = make_tracks(per_genre=100)
    counts = split_tracks(tracks, "random").value_counts()
    assert (counts["train"], counts["valid"], counts["test"]) == (700, 150, 150)


def test_artist_split_keeps_artists_together():
    tracks = make_tracks()
    split = split_tracks(tracks, "artist", seed=1)
    per_artist = tracks.assign(split=split).groupby("artist")["split"].nunique()
    assert (per_artist == 1).all()


def test_official_split_uses_the_lists():
    tracks = make_tracks()
    split = split_tracks(tracks, "official")
    assert split.isna().sum() == (tracks["official_split"].isna()).sum()
    assert (split.dropna() == tracks["official_split"].dropna()).all()


def test_balanced_windows_equal_per_genre_even_when_tracks_are_unbalanced():
    tracks = make_tracks(unbalanced=True)
    windows, short = balanced_windows(tracks, 1000, SEG, seed=0, split="train")
    assert short == {}
    labels = windows["track_id"].str.split(".").str[0]
    assert (labels.value_counts() == 100).all()
    n = tracks.set_index("track_id")["n_samples"]
    assert (windows["start"] >= 0).all()
    assert (windows["start"].to_numpy() + SEG <= n[windows["track_id"]].to_numpy()).all()
    # the minority genre (4 tracks) is oversampled evenly over its tracks
    blues = windows[labels == "blues"]["track_id"].value_counts()
    assert blues.max() - blues.min() <= 1


def test_balanced_windows_report_missing_genres():
    tracks = make_tracks()
    tracks = tracks[tracks["label"] != "pop"]
    windows, short = balanced_windows(tracks, 100, SEG, seed=0, split="valid")
    assert short == {"pop": 10}
    assert len(windows) == 90


def test_test_windows_are_consecutive_and_capped():
    tracks = pd.DataFrame({"track_id": ["a", "b", "c"], "label": ["pop"] * 3,
                           "n_samples": [30 * 22050 - 300, 12 * 22050, 3 * 22050]})
    w = consecutive_windows(tracks, SEG, max_segments=6)
    assert list(w[w.track_id == "a"]["start"]) == [k * SEG for k in range(6)]  # 29.99 s still gives six
    assert list(w[w.track_id == "b"]["start"]) == [0, SEG]
    assert (w.track_id == "c").sum() == 0


def test_plan_has_no_track_in_two_splits_and_contiguous_blocks():
    tracks = make_tracks()
    tracks["split"] = split_tracks(tracks, "random", seed=0)
    windows, short = plan_windows(tracks, n_train=500, n_valid=100, test_segments=6, segment_samples=SEG, seed=0)
    assert short == {}
    assert (windows.groupby("track_id")["split"].nunique() == 1).all()
    order = windows["split"].map({"train": 0, "valid": 1, "test": 2}).to_numpy()
    assert (np.diff(order) >= 0).all()
    assert (windows["split"] == "train").sum() == 500 and (windows["split"] == "valid").sum() == 100
    again, _ = plan_windows(tracks, n_train=500, n_valid=100, test_segments=6, segment_samples=SEG, seed=0)
    pd.testing.assert_frame_equal(windows, again)


def test_artist_spanning_genres_stays_in_one_split():
    tracks = make_tracks()
    tracks.loc[tracks.index % 7 == 0, "artist"] = "prolific"  # one artist in every genre
    split = split_tracks(tracks, "artist", seed=2)
    assert split[tracks["artist"] == "prolific"].nunique() == 1
    assert set(split) == {"train", "valid", "test"}


# ------------------------------------------------------------------ the leaky segment split and test-only tracks
def _plan(tracks, method, seed=0):
    planned = tracks.assign(split=split_tracks(tracks, method, seed=seed))
    windows, _ = plan_windows(planned, n_train=400, n_valid=100, test_segments=6, segment_samples=SEG, seed=seed,
                              split_method=method)
    return planned, windows


def test_segment_split_tests_on_tracks_it_also_trains_on_and_track_splits_never_do():
    assert "segment" in SPLIT_METHODS and "segment" in SPLIT_HELP
    tracks = make_tracks(per_genre=8)
    for method in ("random", "artist"):
        _, windows = _plan(tracks, method)
        test_ids = set(windows.loc[windows["split"] == "test", "track_id"])
        assert test_ids.isdisjoint(windows.loc[windows["split"] != "test", "track_id"]), method
        leak = leak_summary(windows, SEG)
        assert leak["test_windows"] > 0
        assert leak["test_windows_from_training_tracks"] == leak["test_windows_overlapping_training"] == 0, method
    planned, windows = _plan(tracks, "segment")
    train_ids = set(windows.loc[windows["split"] == "train", "track_id"])
    test = windows[windows["split"] == "test"]
    assert test["track_id"].isin(train_ids).all()  # every test recording is also trained on
    leak = leak_summary(windows, SEG)
    assert leak["test_windows_from_training_tracks"] == leak["test_windows"] == len(test)
    assert leak["test_tracks_with_training_windows"] == leak["test_tracks"]
    assert leak["test_windows_overlapping_training"] > 0
    # comparable: the same test tracks and the same test windows as the random split
    random_planned, random_windows = _plan(tracks, "random")
    assert planned["split"].equals(random_planned["split"])
    pd.testing.assert_frame_equal(test[["track_id", "start"]].reset_index(drop=True),
                                  random_windows.loc[random_windows["split"] == "test",
                                                     ["track_id", "start"]].reset_index(drop=True))
    # same sizes as the track splits: the leak costs no training time
    assert (windows["split"] == "train").sum() == (random_windows["split"] == "train").sum() == 400


@pytest.mark.parametrize("method", ["random", "artist", "segment"])
def test_test_only_tracks_go_to_test_and_leave_the_other_tracks_where_they_were(method):
    base = make_tracks(per_genre=10)
    extra = make_tracks(per_genre=3, seed=1)
    extra["track_id"] = extra["track_id"].str.replace(".", ".9", regex=False)  # new ids, e.g. blues.900000
    extra["artist"] = None
    both = pd.concat([base.assign(test_only=False), extra.assign(test_only=True)], ignore_index=True)
    split = split_tracks(both, method, seed=2)
    assert (split[both["test_only"]] == "test").all()
    pd.testing.assert_series_equal(split[~both["test_only"]].reset_index(drop=True),
                                   split_tracks(base, method, seed=2).reset_index(drop=True))
    # a test-only track takes the unit it belongs to (here: a duplicate group) along to test
    both["dup_group"] = ""
    buddy = base.index[split[: len(base)] == "train"][0]
    both.loc[[buddy, len(base)], "dup_group"] = "g1"
    split = split_tracks(both, method, seed=2)
    assert split[buddy] == split[len(base)] == "test"


def test_official_split_ignores_test_only_marks():
    tracks = make_tracks().assign(test_only=True)
    split = split_tracks(tracks, "official")
    assert split.equals(tracks["official_split"].where(tracks["official_split"].notna(), None).astype(object))
