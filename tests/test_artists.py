"""Artists of the synthetic corpus, the production chain, the artists list and the random-vs-artist gap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genre_utils import narrative, splits, synth
from genre_utils.audio import MP3_DELAY, mp3_round_trip
from genre_utils.config import get_profile
from genre_utils.errors import UserError
from genre_utils.genres import GENRES
from genre_utils.results import RunResults, artist_gap
from genre_utils.stats import cluster_difference
from genre_utils.store import read_artists
from genre_utils.synth.artists import ARTIST_SIZES, artist_sheet, gtzan_artists
from genre_utils.synth.plan import make_plan
from genre_utils.synth.render import draw_chain, post_process
from genre_utils.synth.seeding import seeded_rng


def test_artist_sheet_is_a_function_of_style_and_seed():
    assert artist_sheet("jazz", 7) == artist_sheet("jazz", 7)
    assert artist_sheet("jazz", 7) != artist_sheet("jazz", 8)
    assert artist_sheet("jazz", 7) != artist_sheet("metal", 7)


def test_an_artists_tracks_share_its_choices_and_lone_tracks_do_not():
    sheet = artist_sheet("reggae", 11)
    plans = [make_plan("reggae", seed, 10.0, artist=sheet) for seed in range(40)]
    lone = [make_plan("reggae", seed, 10.0) for seed in range(40)]
    assert all(p.groove in sheet.grooves and p.progression in sheet.progressions for p in plans)
    assert all((p.key - sheet.key) % 12 in (0, 5, 7) for p in plans)
    bass = dict(sheet.programs)["bass"]
    assert sum(p.programs["bass"] == bass for p in plans) >= 28          # 80 % keep the kit (+ chance repeats)
    assert len({p.key for p in plans}) <= 3 < len({p.key for p in lone})
    assert np.ptp([p.tempo for p in plans]) < np.ptp([p.tempo for p in lone])
    assert make_plan("reggae", 3, 10.0, artist=sheet) == make_plan("reggae", 3, 10.0, artist=sheet)


@pytest.mark.parametrize("n_main, n_test_only", [(30, 12), (4, 1), (10, 0), (3, 9)])
def test_gtzan_artists_sizes_and_test_only_artists(n_main, n_test_only):
    main, test_only, n_artists = gtzan_artists("blues", n_main, n_test_only, seed=5)
    assert len(main) == n_main and len(test_only) == n_test_only and set(main) == set(range(n_artists))
    sizes = np.bincount(main, minlength=n_artists)
    shared = set(test_only)
    assert all(sizes[a] == 1 for a in shared)                 # a test-only artist has one balanced clip
    others = [sizes[a] for a in range(n_artists) if a not in shared]
    assert all(s <= ARTIST_SIZES[1] for s in others)
    assert sum(s < ARTIST_SIZES[0] for s in others) <= 1       # only the last may come up short
    assert gtzan_artists("blues", n_main, n_test_only, seed=5) == (main, test_only, n_artists)


def _corpus_tracks(profile) -> pd.DataFrame:
    """The store's view of the planned GTZAN-layout tracks: id, label, artist, test-only mark."""
    jobs, _, broken = synth.plan_corpus(profile, profile.seed)
    bad = {b["path"] for b in broken}
    rows = [{"track_id": "gtzan:" + j.relpath.rsplit("/", 1)[-1][:-4], "label": j.genre, "artist": j.artist,
             "test_only": j.test_only} for j in jobs if j.relpath.startswith("gtzan/") and j.relpath not in bad
            and j.seconds == profile.clip_seconds]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("name", ["tiny", "quick"])
def test_every_gtzan_track_has_an_artist_and_no_artist_spans_two_splits(name):
    profile = get_profile(name)
    tracks = _corpus_tracks(profile)
    assert (tracks["artist"] != "").all() and len(tracks) == 10 * (profile.synth_tracks_per_genre
                                                                   + profile.test_only_per_genre)
    assert tracks.groupby("artist")["label"].nunique().max() == 1      # an artist plays one genre
    split = splits.split_tracks(tracks, "artist", profile.split_fractions, seed=profile.seed)
    assert split.notna().all()
    assert tracks.assign(split=split).groupby("artist")["split"].nunique().max() == 1
    assert set(split[tracks["test_only"]]) == {"test"}
    random = splits.split_tracks(tracks, "random", profile.split_fractions, seed=profile.seed)
    assert set(random[tracks["test_only"]]) == {"test"}
    if name == "quick":   # every split still trains and validates on every genre
        for s in ("train", "valid"):
            assert set(tracks.loc[split == s, "label"]) == set(GENRES)


def test_chain_is_deterministic_and_each_effect_changes_the_sound():
    y = np.sin(2 * np.pi * 220 * np.arange(22050) / 22050) * np.linspace(0.1, 0.5, 22050)
    chain = draw_chain(seeded_rng("t", 1))
    assert chain == draw_chain(seeded_rng("t", 1))
    a = post_process(y.copy(), 22050, seeded_rng("x", 2), chain=chain)
    b = post_process(y.copy(), 22050, seeded_rng("x", 2), chain=chain)
    assert np.array_equal(a, b) and a.shape == y.shape
    plain = chain.__class__(**{**chain.__dict__, "drive": 0.0, "ratio": 1.0, "rt60": 0.0, "mp3_kbps": 0})
    base = post_process(y.copy(), 22050, seeded_rng("x", 2), chain=plain)
    for change in ({"drive": 3.0}, {"ratio": 4.0, "threshold_db": -3.0}, {"rt60": 0.8}, {"mp3_kbps": 64}):
        other = post_process(y.copy(), 22050, seeded_rng("x", 2), chain=plain.__class__(**{**plain.__dict__,
                                                                                              **change}))
        assert np.max(np.abs(other - base)) > 1e-3, change
    assert np.max(np.abs(base)) <= 0.98


def test_mp3_round_trip_keeps_length_and_timing():
    rng = np.random.default_rng(0)
    y = np.convolve(rng.standard_normal(44100), np.ones(8) / 8, "same") * 0.2     # band-limited noise
    out = mp3_round_trip(y, 22050, 128)
    assert out.shape == y.shape
    lags = range(-50, 51)
    corr = [np.dot(y[1000:40000], out[1000 + k:40000 + k]) for k in lags]
    assert lags[int(np.argmax(corr))] == 0, f"the decoded audio is off by {lags[int(np.argmax(corr))]} samples"
    assert MP3_DELAY == 1105


def test_read_artists_reads_and_refuses_with_one_line(tmp_path):
    good = tmp_path / "artists.csv"
    good.write_text("track_id,artist\nblues.00000,The Velvet Owls\nblues.00001,\njazz.00003, Ada Marsh \n")
    assert read_artists(good) == {"blues.00000": "The Velvet Owls", "jazz.00003": "Ada Marsh"}
    bad = tmp_path / "bad.csv"
    bad.write_text("id;name\nblues.00000;x\n")
    with pytest.raises(UserError, match="needs the columns track_id and artist"):
        read_artists(bad)
    clash = tmp_path / "clash.csv"
    clash.write_text("track_id,artist\nblues.00000,A\nblues.00000,B\n")
    with pytest.raises(UserError, match="two different artists"):
        read_artists(clash)


def test_cluster_difference_resamples_clusters():
    a, b = np.array([1.0, 1, 1, 0, 0, 0]), np.array([0.0, 0, 0, 0, 0, 0])
    one = cluster_difference(a, b, ["x", "x", "x", "y", "y", "y"], n_boot=2000)
    each = cluster_difference(a, b, list("abcdef"), n_boot=2000)
    assert one["difference"] == each["difference"] == 0.5 and one["n_clusters"] == 2
    assert one["high"] - one["low"] > each["high"] - each["low"]     # two clusters: a wider interval


def _run(right: dict) -> RunResults:
    return RunResults.from_dict({"test": {"tracks": [
        {"track_id": t, "true_genre": "jazz", "pred_genre": "jazz" if ok else "pop"} for t, ok in right.items()]}})


def test_artist_gap_pairs_the_shared_tracks_and_reads_true():
    shared = [f"gtzan:s{k}" for k in range(40)]
    tracks = pd.DataFrame({"track_id": shared + ["gtzan:r0", "gtzan:r1"],
                           "artist": [f"A{k // 4}" for k in range(40)] + ["A0", "B"],
                           "split": ["test"] * 40 + ["train", "test"]})
    rand = [_run({**{t: k % 4 != 0 for k, t in enumerate(shared)}, "gtzan:r1": True})] * 3
    art = [_run({**{t: k % 2 == 0 for k, t in enumerate(shared)}, "gtzan:a9": False})]
    gap = artist_gap(rand, art, tracks)
    assert gap["n_tracks"] == 40 and gap["n_clusters"] == 10 and gap["n_seen"] == 4     # A0 trained on r0
    assert gap["difference"] == pytest.approx(0.25) and gap["spread"] == 0
    assert gap["low"] > 0 and gap["beyond_noise"]
    text = narrative.artist_gap_sentence(gap)
    assert text.startswith("Both splits test the same 40 tracks by 10 artists") and "beyond both" in text
    same = artist_gap(rand, rand[:1], tracks)
    assert same["difference"] == 0 and "includes zero" in narrative.artist_gap_sentence(same)
    assert artist_gap(rand, [_run({"gtzan:zz": True})], tracks) is None
    assert "no track in common" in narrative.artist_gap_sentence(None)
