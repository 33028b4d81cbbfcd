"""Identical recordings are split as one unit; near duplicates are reported; the artist split says what it is."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from conftest import STORE_PROFILE
from fixtures_audio import make_gtzan_tree

from genre_utils import checks
from genre_utils.audio import audio_digest, load_audio, write_mp3
from genre_utils.duplicates import describe_duplicates, exact_groups, fingerprint, near_duplicates
from genre_utils.genres import GENRES
from genre_utils.splits import SPLIT_HELP, artist_coverage, artist_note, split_tracks, split_units
from genre_utils.store import build_dataset

SR = 22050
PROFILE = STORE_PROFILE


def melody(seed: int, seconds: float) -> np.ndarray:
    """Music-like test signal: random notes (0.15-0.5 s, 150-1500 Hz, decaying) plus a little noise, float32."""
    rng = np.random.default_rng(seed)
    out, n = [], int(seconds * SR)
    while sum(len(o) for o in out) < n:
        length = int(rng.uniform(0.15, 0.5) * SR)
        t = np.arange(length) / SR
        freq = rng.uniform(150, 1500)
        note = np.sin(2 * np.pi * freq * t) + 0.4 * np.sin(4 * np.pi * freq * t)
        out.append(note * np.exp(-t * rng.uniform(2, 8)) * rng.uniform(0.2, 0.6))
    y = np.concatenate(out)[:n] + 0.01 * rng.standard_normal(n)
    return (0.5 * y / np.max(np.abs(y))).astype(np.float32)


def write_as(path, y):
    """The same 16-bit samples as WAV, AU or FLAC (lossless), or an MP3 encoding of them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".mp3":
        write_mp3(path, y, SR, bitrate_kbps=128)
    else:
        pcm = (np.clip(y, -1, 1) * 32767).round().astype(np.int16)
        sf.write(path, pcm, SR, format=path.suffix[1:].upper(), subtype="PCM_16")
    return path


def test_audio_digest_matches_lossless_copies_whatever_name_or_format(tmp_path):
    y = melody(1, 3.0)
    wav = write_as(tmp_path / "a" / "x.wav", y)
    au = write_as(tmp_path / "b" / "other-name.au", y)
    flac = write_as(tmp_path / "c" / "y.flac", y)
    mp3 = write_as(tmp_path / "d" / "x.mp3", y)
    digests = {p.suffix: audio_digest(load_audio(p, SR)) for p in (wav, au, flac, mp3)}
    assert digests[".wav"] == digests[".au"] == digests[".flac"]
    assert digests[".mp3"] != digests[".wav"]  # MP3 is lossy: a near duplicate, not an exact one


def test_exact_groups_name_only_shared_digests():
    digests = pd.Series(["d1", "d2", "d1", "", "", "d3", "d3", "d3"],
                        index=["t5", "t1", "t2", "t3", "t4", "t0", "t9", "t7"])
    groups = exact_groups(digests)
    assert groups.to_dict() == {"t5": "dup-002", "t1": "", "t2": "dup-002", "t3": "", "t4": "",
                                "t0": "dup-001", "t9": "dup-001", "t7": "dup-001"}


def _tracks_with_duplicates(n=200, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tracks = pd.DataFrame({"track_id": [f"t{i:04d}" for i in range(n)], "label": rng.choice(GENRES, n),
                           "artist": [None if rng.random() < 0.5 else f"a{rng.integers(30)}" for _ in range(n)],
                           "official_split": None, "dup_group": ""})
    for g in range(25):  # groups of 2-4 copies, often in different genre folders
        members = rng.choice(n, size=rng.integers(2, 5), replace=False)
        tracks.loc[members, "dup_group"] = f"dup-{g:03d}"
    return tracks


@pytest.mark.parametrize("method", ["random", "artist"])
def test_duplicates_never_span_two_splits_for_any_seed(method):
    tracks = _tracks_with_duplicates()
    for seed in range(8):
        split = split_tracks(tracks, method, seed=seed)
        assert split.notna().all()
        per_group = split[tracks["dup_group"] != ""].groupby(tracks["dup_group"]).nunique()
        assert (per_group == 1).all(), (seed, per_group[per_group > 1])
        if method == "artist":
            named = tracks["artist"].notna()
            assert (split[named].groupby(tracks.loc[named, "artist"]).nunique() == 1).all()


def test_split_units_merge_artists_linked_by_a_duplicate():
    tracks = pd.DataFrame({"track_id": ["a", "b", "c", "d"], "artist": ["X", "Y", None, "Z"],
                           "dup_group": ["dup-001", "dup-001", "", ""]})
    assert split_units(tracks, "artist").tolist() == ["X", "X", "track:c", "Z"]
    assert split_units(tracks, "random").tolist() == ["a", "a", "c", "d"]
    assert split_units(tracks.drop(columns="dup_group"), "artist").tolist() == ["X", "Y", "track:c", "Z"]


def test_near_duplicates_find_a_shifted_excerpt_and_a_lossy_copy_only(tmp_path):
    song = melody(7, 24.0)
    y_mp3 = load_audio(write_as(tmp_path / "copy.mp3", song[: 15 * SR]), SR)
    start = int(6.37 * SR)  # not a multiple of the fingerprint hop
    fps = {"orig": fingerprint(song[: 15 * SR], SR), "excerpt": fingerprint(song[start:start + 15 * SR], SR),
           "mp3": fingerprint(y_mp3, SR)}
    fps.update({f"other{i}": fingerprint(melody(100 + i, 15.0), SR) for i in range(4)})
    labels = pd.Series("blues", index=list(fps))
    labels["other3"] = "jazz"
    pairs, unchecked = near_duplicates(fps, labels)
    assert unchecked == []
    assert set(zip(pairs["track_a"], pairs["track_b"])) == {("excerpt", "orig"), ("mp3", "orig"),
                                                            ("excerpt", "mp3")}
    row = pairs[(pairs["track_a"] == "excerpt") & (pairs["track_b"] == "orig")].iloc[0]
    assert row["offset_b"] - row["offset_a"] == pytest.approx(6.37, abs=0.2)
    # an exact group is not reported again; an oversized genre is left out and named
    pairs, _ = near_duplicates(fps, labels, pd.Series({"orig": "dup-001", "mp3": "dup-001"}))
    assert ("mp3", "orig") not in set(zip(pairs["track_a"], pairs["track_b"]))
    assert near_duplicates(fps, labels, max_tracks=2)[1] == ["blues"]


def test_artist_note_is_true_for_any_coverage():
    gtzan = pd.DataFrame({"artist": [None] * 3, "source": "gtzan"})
    mixed = pd.DataFrame({"artist": [None, "", "A", "B"], "source": ["gtzan", "gtzan", "fma", "fma"]})
    named = pd.DataFrame({"artist": ["A"], "source": ["fma"]})
    assert artist_coverage(mixed) == {"n_tracks": 4, "n_without_artist": 2, "without_artist_by_source": {"gtzan": 2}}
    assert "it is a track split" in artist_note(artist_coverage(gtzan), "artist")
    assert artist_note(artist_coverage(mixed)).startswith("2 of 4 tracks have no artist (gtzan: 2)")
    assert artist_note(artist_coverage(named)).startswith("All 1 tracks have an artist")
    assert "\n" not in SPLIT_HELP and "GTZAN" in SPLIT_HELP and "identical recordings" in SPLIT_HELP


@pytest.fixture(scope="module")
def dup_corpus(tmp_path_factory):
    """GTZAN (blues, jazz, rock x 4 clips of 11 s) plus one recording copied as .au, .wav and .flac into three
    genre folders, an MP3 copy and a shifted excerpt of it in its own folder, and a labelled folder holding
    one more lossless copy."""
    root = tmp_path_factory.mktemp("dups")
    genre_dir, _ = make_gtzan_tree(root / "gtzan", "kaggle", ("blues", "jazz", "rock"), range(4), seconds=11.0)
    song = melody(3, 20.0)
    clip = song[: 11 * SR]
    write_as(genre_dir / "blues" / "blues.00010.au", clip)
    write_as(genre_dir / "jazz" / "jazz.00011.wav", clip)
    write_as(genre_dir / "rock" / "rock.00012.flac", clip)
    write_as(genre_dir / "blues" / "blues.00013.mp3", clip)
    write_as(genre_dir / "blues" / "blues.00014.wav", song[int(1.7 * SR): int(1.7 * SR) + 11 * SR])
    write_as(root / "new" / "rock" / "copy.wav", clip)
    return root


def test_store_keeps_identical_recordings_in_one_split_and_records_them(dup_corpus, tmp_path, capsys):
    ds = build_dataset(tmp_path / "store", gtzan=dup_corpus / "gtzan", folders=[dup_corpus / "new"],
                       profile=PROFILE, split_method="artist", workers=1, progress=False)
    dups = pd.read_csv(ds.root / "duplicates.csv", keep_default_na=False)
    assert sorted(dups["track_id"]) == ["folder:rock/copy", "gtzan:blues.00010", "gtzan:jazz.00011",
                                        "gtzan:rock.00012"]
    assert dups["group"].nunique() == 1 and dups["split"].nunique() == 1
    assert set(dups.columns) == {"group", "track_id", "source", "label", "split", "path"}
    info = json.loads((ds.root / "dataset.json").read_text())
    assert info["duplicates"]["n_groups"] == 1 and info["duplicates"]["n_extra_copies"] == 3
    assert info["duplicates"]["groups_spanning_splits"] == 0
    near = pd.read_csv(ds.root / "near_duplicates.csv")
    pairs = set(zip(near["track_a"], near["track_b"]))
    assert ("gtzan:blues.00010", "gtzan:blues.00013") in pairs   # the lossy MP3 copy
    assert ("gtzan:blues.00010", "gtzan:blues.00014") in pairs   # the shifted excerpt
    assert info["duplicates"]["n_near_candidates"] == len(near)
    # GTZAN has no artists: the artist split says it is a track split for those tracks, and warns
    assert info["artist_split"]["n_without_artist"] == info["n_tracks_used"]
    assert "it is a track split" in info["artist_split"]["note"]
    assert "warning: " in capsys.readouterr().err
    # the data page's sentences come from package functions
    sentence, table, near_table = describe_duplicates(ds)
    assert "4 usable tracks fall into 1 group" in sentence and "no recording is in two splits" in sentence
    assert len(table) == 4 and len(near_table) == len(near)
    assert checks.artist_sentence(ds) == info["artist_split"]["note"]
    # and the split of every seed keeps the group together
    tracks = ds.tracks[ds.tracks["problem"] == ""]
    for seed in range(5):
        for method in ("random", "artist"):
            split = split_tracks(tracks, method, seed=seed)
            assert split[tracks["dup_group"] != ""].nunique() == 1
