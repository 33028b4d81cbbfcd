"""Track-level splits and the balanced window plan."""

import numpy as np
import pandas as pd
import pytest

from genre_utils.genres import GENRES
from genre_utils.splits import balanced_windows, plan_windows, split_tracks, consecutive_windows

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
