"""Tests of genre_utils.sources on tiny GTZAN, FMA and genre-folder trees written into tmp_path."""

from __future__ import annotations

import os
import re

import pandas as pd
import pytest
from fixtures_audio import (
    FMA_COLUMNS,
    all_files,
    make_fma_tree,
    make_folder_tree,
    make_gtzan_tree,
    write_audio,
    write_bytes,
)

from genre_utils.fma import scan_fma
from genre_utils.genres import GENRES
from genre_utils.sources import (
    LayoutError,
    Skipped,
    Track,
    fault_filtered_split,
    scan_folder,
    scan_gtzan,
    skipped_frame,
    tracks_frame,
)


def reasons_by_name(skipped: list[Skipped]) -> dict[str, str]:
    """File name (relative to nothing, just the base name plus parent) -> reason."""
    return {f"{os.path.basename(os.path.dirname(s.path))}/{os.path.basename(s.path)}": s.reason for s in skipped}


def assert_accounts_for(files: set[str], tracks: list[Track], skipped: list[Skipped]) -> None:
    """Each file is exactly one track or one skipped row; nothing is lost, nothing counted twice."""
    kept = [t.path for t in tracks]
    dropped = [s.path for s in skipped if os.path.exists(s.path)]
    assert len(set(kept)) == len(kept)
    assert sorted(kept + dropped) == sorted(files)


# ---------------------------------------------------------------------------------------------------------
# GTZAN fault-filtered split
# ---------------------------------------------------------------------------------------------------------

def test_fault_filtered_split_has_443_197_290_distinct_ids():
    split = fault_filtered_split()
    counts = pd.Series(split).value_counts().to_dict()
    assert counts == {"train": 443, "test": 290, "valid": 197}
    assert all(re.fullmatch(r"[a-z]+\.\d{5}", tid) and tid.split(".")[0] in GENRES for tid in split)
    assert split["jazz.00054"] == "train"          # the clip the Kaggle copy cannot decode
    split["blues.00000"] = "changed"                # callers get a copy, the package data stays intact
    assert fault_filtered_split()["blues.00000"] != "changed"


# ---------------------------------------------------------------------------------------------------------
# GTZAN
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("layout, sub", [
    ("tarball", ""),                     # <root>/genres/...
    ("tarball", "genres"),               # root is the genres folder
    ("kaggle", ""),                      # <root>/Data/genres_original/...
    ("kaggle", "Data"),                  # <root>/genres_original/... (root = Data)
    ("kaggle", "Data/genres_original"),  # root is genres_original
    ("kaggle-flat", ""),                 # <root>/genres_original without Data/
])
def test_scan_gtzan_finds_every_layout(tmp_path, layout, sub):
    split = fault_filtered_split()
    outside = next(f"jazz.{i:05d}" for i in range(100) if f"jazz.{i:05d}" not in split)
    genre_dir, files = make_gtzan_tree(tmp_path, layout, genres=("blues", "jazz"),
                                       numbers=(0, 12, 29, int(outside[-5:])))
    tracks, skipped = scan_gtzan(tmp_path / sub)

    assert skipped == []
    assert [t.track_id for t in tracks] == sorted(t.track_id for t in tracks)
    assert {t.path for t in tracks} == {str(f) for f in files}
    for t in tracks:
        assert t.source == "gtzan"
        assert t.label == t.track_id.split(".")[0] == os.path.basename(os.path.dirname(t.path))
        assert os.path.isabs(t.path)
        assert t.artist is None
        assert t.duration == pytest.approx(1.0, abs=1e-3)
        assert t.official_split == split.get(t.track_id)
    by_id = {t.track_id: t for t in tracks}
    assert by_id[outside].official_split is None
    assert {t.official_split for t in tracks} >= {"train", "valid", "test", None}


def test_scan_gtzan_skips_every_bad_file_with_a_reason(tmp_path):
    genre_dir, good = make_gtzan_tree(tmp_path, "kaggle", genres=("blues", "jazz"), numbers=(0, 1))
    bad = {
        "jazz/jazz.00054.wav": write_bytes(genre_dir / "jazz" / "jazz.00054.wav", b"\x00\x01junk, not RIFF" * 64),
        "blues/blues.00002.wav": write_bytes(genre_dir / "blues" / "blues.00002.wav"),
        "blues/.DS_Store": write_bytes(genre_dir / "blues" / ".DS_Store", b"\x00\x00\x00\x01Bud1"),
        "genres_original/.DS_Store": write_bytes(genre_dir / ".DS_Store", b"Bud1"),
        "jazz/Thumbs.db": write_bytes(genre_dir / "jazz" / "Thumbs.db", b"thumbs"),
        "blues/notes.txt": write_bytes(genre_dir / "blues" / "notes.txt", b"a note"),
        "blues/._blues.00001.wav": write_bytes(genre_dir / "blues" / "._blues.00001.wav", b"\x00\x05\x16\x07"),
        "polka/polka.00001.wav": write_audio(genre_dir / "polka" / "polka.00001.wav"),
        "polka/polka.00002.wav": write_audio(genre_dir / "polka" / "polka.00002.wav"),
        "blues/blues_3.wav": write_audio(genre_dir / "blues" / "blues_3.wav"),
        "blues/rock.00004.wav": write_audio(genre_dir / "blues" / "rock.00004.wav"),
        "old/blues.00005.wav": write_audio(genre_dir / "blues" / "old" / "blues.00005.wav"),
        "genres_original/blues.00006.wav": write_audio(genre_dir / "blues.00006.wav"),
    }
    twin = write_audio(genre_dir / "blues" / "blues.00001.au")  # same id as blues.00001.wav
    tracks, skipped = scan_gtzan(tmp_path)

    assert [t.track_id for t in tracks] == ["blues.00000", "blues.00001", "jazz.00000", "jazz.00001"]
    assert tracks[1].path.endswith("blues.00001.au")  # of two files with one id, the first by path is kept
    reasons = reasons_by_name(skipped)
    assert set(reasons) == set(bad) | {"blues/blues.00001.wav"}
    assert reasons["jazz/jazz.00054.wav"].startswith("unreadable audio (")
    assert reasons["blues/blues.00002.wav"] == "empty file (0 bytes)"
    assert "system file" in reasons["blues/.DS_Store"] and "system file" in reasons["genres_original/.DS_Store"]
    assert "system file" in reasons["jazz/Thumbs.db"]
    assert reasons["blues/notes.txt"].startswith("not an audio file (extension .txt")
    assert "AppleDouble" in reasons["blues/._blues.00001.wav"]
    assert reasons["polka/polka.00001.wav"] == reasons["polka/polka.00002.wav"]
    assert reasons["polka/polka.00001.wav"].startswith("unknown genre folder 'polka'")
    assert "does not match <genre>.NNNNN.<ext>" in reasons["blues/blues_3.wav"]
    assert reasons["blues/rock.00004.wav"] == "genre prefix 'rock' disagrees with folder 'blues'"
    assert "subfolder" in reasons["old/blues.00005.wav"]
    assert reasons["genres_original/blues.00006.wav"] == "not inside a genre folder"
    assert reasons["blues/blues.00001.wav"].startswith("duplicate track id blues.00001")
    assert_accounts_for(all_files(genre_dir), tracks, skipped)
    assert len(tracks) + len(skipped) == len(good) + len(bad) + 1
    assert str(twin) in {t.path for t in tracks}


def test_scan_gtzan_is_deterministic(tmp_path):
    make_gtzan_tree(tmp_path, "tarball", genres=("rock", "blues", "metal"), numbers=(3, 1))
    write_bytes(tmp_path / "genres" / "rock" / "rock.00009.au")
    write_bytes(tmp_path / "genres" / "blues" / ".DS_Store", b"x")
    first, second = scan_gtzan(tmp_path), scan_gtzan(tmp_path)
    assert first == second
    assert [s.path for s in first[1]] == sorted(s.path for s in first[1])


def test_scan_gtzan_layout_errors_name_root_and_layouts(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(LayoutError) as err:
        scan_gtzan(missing)
    message = str(err.value)
    assert str(missing) in message and "no such directory" in message
    for layout in ("<root>/genres/<genre>/<genre>.NNNNN.au", "<root>/Data/genres_original/<genre>",
                   "<root>/genres_original/<genre>", "root is the genres or genres_original folder itself"):
        assert layout in message

    (tmp_path / "music" / "polka").mkdir(parents=True)
    write_audio(tmp_path / "music" / "polka" / "polka.00000.wav")
    with pytest.raises(LayoutError, match="no GTZAN genre folders found.*Data/genres_original"):
        scan_gtzan(tmp_path / "music")


# ---------------------------------------------------------------------------------------------------------
# FMA
# ---------------------------------------------------------------------------------------------------------

#: A small tracks.csv exercising the genre mapping and every per-row problem.
FMA_ROWS = [
    dict(track_id=2, genres=[21], split="training", artist="AWOL"),               # Hip-Hop
    dict(track_id=3, genres=[31], split="validation"),                            # Metal (under Rock)
    dict(track_id=5, genres=[101], split="test", subset="small"),                 # Death-Metal -> metal
    dict(track_id=10, genres=[12, 31]),                                           # Rock + Metal -> metal
    dict(track_id=20, genres=[11]),                                               # Disco (under Soul-RnB)
    dict(track_id=26, genres=[79]),                                               # Reggae - Dub
    dict(track_id=30, genres=[602], duration=29.5),                               # Dancehall, under 79
    dict(track_id=46, genres=[12, 25]),                                           # Rock + Punk -> rock
    dict(track_id=48, genres=[15]),                                               # Electronic: eliminated
    dict(track_id=134, genres=[3, 4]),                                            # Blues + Jazz: ambiguous
    dict(track_id=135, genres=[21], audio=False),                                 # no audio file
    dict(track_id=136, genres=[21], audio="empty"),                               # 0-byte mp3
    dict(track_id=137, genres=[21], audio=b"this is not an mp3 stream " * 40),    # unreadable
    dict(track_id=138, genres="[21", genres_all="[21]"),                          # genres unparsable
    dict(track_id=139, genres="[]", genres_all="[]", genre_top="Jazz"),           # only genre_top
    dict(track_id=140, genres="[oops", genres_all="??", genre_top=""),            # nothing usable
    dict(track_id=141, genres="[]", genres_all="[]", genre_top=""),               # no genre at all
    dict(track_id=1000, genres=[10], subset="large"),                             # outside medium, audio present
    dict(track_id=1001, genres=[10], subset="large", audio=False),                # outside medium, no audio
]


def test_fixture_tracks_csv_has_the_real_three_line_header(tmp_path):
    make_fma_tree(tmp_path, FMA_ROWS[:2])
    lines = (tmp_path / "fma_metadata" / "tracks.csv").read_text().splitlines()
    assert lines[0].startswith(",album,album,album,")
    assert lines[0].endswith(",track,track")
    assert lines[1].startswith(",comments,date_created,date_released,")
    assert lines[1].endswith(",tags,title")
    assert lines[2] == "track_id" + "," * 52
    assert lines[3].startswith("2,0,2008-11-26 01:44:45,")
    table = pd.read_csv(tmp_path / "fma_metadata" / "tracks.csv", index_col=0, header=[0, 1])
    assert list(table.columns) == FMA_COLUMNS and len(FMA_COLUMNS) == 52
    assert table.index.name == "track_id"
    assert table.loc[3, ("track", "genres_all")] == "[12, 31]"
    assert table.loc[3, ("track", "genre_top")] == "Rock"


def test_scan_fma_maps_genres_and_skips_every_problem(tmp_path):
    make_fma_tree(tmp_path, FMA_ROWS)
    audio_dir = tmp_path / "fma_medium"
    strays = {
        "999/999999.mp3": write_audio(audio_dir / "999" / "999999.mp3"),         # id not in tracks.csv
        "001/000002.mp3": write_audio(audio_dir / "001" / "000002.mp3"),         # wrong NNN folder
        # a macOS twin: libsndfile, given the path, reads it as a resource fork and fails on 000002.mp3
        "000/._000002.mp3": write_bytes(audio_dir / "000" / "._000002.mp3", b"\x00\x05\x16\x07"),
        "fma_medium/README.txt": write_bytes(audio_dir / "README.txt", b"readme"),
        "fma_medium/checksums": write_bytes(audio_dir / "checksums", b"sha1"),
        "000/000002.wav": write_audio(audio_dir / "000" / "000002.wav"),
        "000/track.mp3": write_audio(audio_dir / "000" / "track.mp3"),
    }
    tracks, skipped = scan_fma(tmp_path, "medium")

    labels = {t.track_id: t.label for t in tracks}
    assert labels == {"000002": "hiphop", "000003": "metal", "000005": "metal", "000010": "metal",
                      "000020": "disco", "000026": "reggae", "000030": "reggae", "000046": "rock",
                      "000138": "hiphop", "000139": "jazz"}
    assert list(labels) == sorted(labels)
    by_id = {t.track_id: t for t in tracks}
    assert by_id["000002"].artist == "AWOL" and by_id["000003"].artist == "Artist 3"
    assert [by_id[i].official_split for i in ("000002", "000003", "000005")] == ["train", "valid", "test"]
    assert by_id["000002"].path == str(audio_dir / "000" / "000002.mp3")
    for t in tracks:
        assert t.source == "fma"
        assert t.duration == pytest.approx(1.0, abs=0.1)  # the header, not the 30 s of the metadata

    reasons = reasons_by_name(skipped)
    assert reasons["000/000048.mp3"] == "eliminated: no project genre among its FMA genres"
    assert reasons["000/000134.mp3"] == "eliminated: ambiguous: maps to blues and jazz"
    assert reasons["000/000135.mp3"] == "no audio file for this id"
    assert reasons["000/000136.mp3"] == "empty file (0 bytes)"
    assert reasons["000/000137.mp3"].startswith("unreadable audio (")
    assert reasons["000/000140.mp3"].startswith("unparsable genre list (track.genres='[oops'")
    assert reasons["000/000141.mp3"] == "eliminated: no FMA genre listed"
    assert reasons["001/001000.mp3"] == "listed in tracks.csv with subset 'large', outside the 'medium' selection"
    assert "001/001001.mp3" not in reasons          # outside the subset and no file: nothing to report
    assert reasons["999/999999.mp3"] == "stray: id not in tracks.csv"
    assert reasons["001/000002.mp3"] == "misplaced: track 000002 belongs in 000/"
    assert "AppleDouble" in reasons["000/._000002.mp3"]
    assert reasons["fma_medium/README.txt"].startswith("not an mp3 file (extension .txt")
    assert reasons["fma_medium/checksums"].startswith("not an mp3 file (extension none")
    assert reasons["000/000002.wav"].startswith("not an mp3 file (extension .wav")
    assert reasons["000/track.mp3"] == "file name is not NNNNNN.mp3"
    assert len(skipped) == len(reasons)
    assert_accounts_for(all_files(audio_dir), tracks, skipped)
    assert len(tracks) + len(skipped) == len(FMA_ROWS) - 1 + len(strays)  # every selected row + every stray


def test_scan_fma_subset_small_selects_only_small_rows(tmp_path):
    rows = [dict(track_id=2, genres=[21], subset="small"), dict(track_id=3, genres=[31], subset="medium")]
    make_fma_tree(tmp_path, rows, subset="small")
    tracks, skipped = scan_fma(tmp_path, "small")
    assert [t.track_id for t in tracks] == ["000002"]
    assert skipped == [Skipped(str(tmp_path / "fma_small" / "000" / "000003.mp3"), "fma",
                               "listed in tracks.csv with subset 'medium', outside the 'small' selection")]

    (tmp_path / "fma_full").mkdir()  # 'large' accepts fma_full; both rows are in 'large', neither has a file
    tracks, skipped = scan_fma(tmp_path, "large")
    assert tracks == []
    assert [(os.path.relpath(s.path, tmp_path), s.reason) for s in skipped] == [
        ("fma_full/000/000002.mp3", "no audio file for this id"),
        ("fma_full/000/000003.mp3", "no audio file for this id")]


def test_scan_fma_falls_back_to_packaged_genres_csv(tmp_path):
    make_fma_tree(tmp_path, FMA_ROWS[:4])
    expected = scan_fma(tmp_path)
    genres_csv = tmp_path / "fma_metadata" / "genres.csv"
    genres_csv.unlink()
    assert scan_fma(tmp_path) == expected
    genres_csv.write_text("id,name\n1,x\n")
    tracks, skipped = scan_fma(tmp_path)
    assert tracks == expected[0]
    assert [s.reason for s in skipped] == [s.reason for s in skipped if "malformed genres.csv" in s.reason]
    assert skipped[0].path == str(genres_csv) and skipped[0].reason.endswith("used the packaged copy")


@pytest.mark.parametrize("content", [
    "track_id,genre\n2,Hip-Hop\n3,Rock\n",                       # one header line, no column groups
    "",                                                          # empty file
    "drop ('track', 'genres')",                                  # real header without a required column
    "bad ids",                                                   # real header, index is not integer ids
])
def test_scan_fma_malformed_tracks_csv_yields_one_skipped_row(tmp_path, content):
    make_fma_tree(tmp_path, FMA_ROWS[:3])
    path = tmp_path / "fma_metadata" / "tracks.csv"
    if content.startswith("drop"):
        table = pd.read_csv(path, index_col=0, header=[0, 1]).drop(columns=[("track", "genres")])
        table.to_csv(path)
    elif content == "bad ids":
        table = pd.read_csv(path, index_col=0, header=[0, 1])
        table.index = pd.Index(["a", "b", "c"], name="track_id")
        table.to_csv(path)
    else:
        path.write_text(content)
    tracks, skipped = scan_fma(tmp_path)
    assert tracks == []
    assert len(skipped) == 1
    assert skipped[0].path == str(path) and skipped[0].source == "fma"
    assert skipped[0].reason.startswith("malformed tracks.csv: ")
    if content.startswith("drop"):
        assert "track.genres" in skipped[0].reason


def test_scan_fma_duplicate_tracks_csv_rows_keep_the_first(tmp_path):
    make_fma_tree(tmp_path, [dict(track_id=2, genres=[21]), dict(track_id=2, genres=[12], audio=False)])
    tracks, skipped = scan_fma(tmp_path)
    assert [(t.track_id, t.label) for t in tracks] == [("000002", "hiphop")]
    assert skipped == [Skipped(str(tmp_path / "fma_metadata" / "tracks.csv"), "fma",
                               "duplicate row for track id 000002 in tracks.csv (first kept)")]


def test_scan_fma_layout_errors(tmp_path):
    with pytest.raises(LayoutError, match=r"no such directory.*fma_metadata/tracks\.csv"):
        scan_fma(tmp_path / "nowhere")
    (tmp_path / "fma_medium").mkdir()
    with pytest.raises(LayoutError, match=r"fma_metadata/tracks\.csv not found.*fma_medium/NNN/NNNNNN\.mp3"):
        scan_fma(tmp_path)
    make_fma_tree(tmp_path, FMA_ROWS[:2], subset="medium")
    with pytest.raises(LayoutError, match=r"audio folder fma_small not found"):
        scan_fma(tmp_path, "small")
    with pytest.raises(LayoutError, match=r"fma_large or fma_full"):
        scan_fma(tmp_path, "large")
    with pytest.raises(ValueError, match="unknown FMA subset 'tiny'"):
        scan_fma(tmp_path, "tiny")


# ---------------------------------------------------------------------------------------------------------
# Folder of genre folders (new data)
# ---------------------------------------------------------------------------------------------------------

def test_scan_folder_normalises_genre_names_and_skips_bad_files(tmp_path):
    good = make_folder_tree(tmp_path, {"Hip-Hop": 2, "JAZZ": 1}, ext=".wav")
    good += make_folder_tree(tmp_path, {"country": 1}, ext=".mp3")
    good.append(write_audio(tmp_path / "Reggae" / "live" / "set1.flac"))
    bad = {
        "polka/clip_0.wav": write_audio(tmp_path / "polka" / "clip_0.wav"),
        "JAZZ/empty.wav": write_bytes(tmp_path / "JAZZ" / "empty.wav"),
        "JAZZ/broken.mp3": write_bytes(tmp_path / "JAZZ" / "broken.mp3", b"no frames here " * 50),
        "JAZZ/cover.jpg": write_bytes(tmp_path / "JAZZ" / "cover.jpg", b"\xff\xd8\xff"),
        "JAZZ/._clip_0.wav": write_bytes(tmp_path / "JAZZ" / "._clip_0.wav", b"\x00\x05"),
        "JAZZ/clip_0.wav": write_audio(tmp_path / "JAZZ" / "clip_0.ogg"),  # same id; the .ogg sorts first
        f"{tmp_path.name}/loose.wav": write_audio(tmp_path / "loose.wav"),
    }
    tracks, skipped = scan_folder(tmp_path, source="newdata")

    assert [t.track_id for t in tracks] == ["country/clip_0", "hiphop/clip_0", "hiphop/clip_1",
                                            "jazz/clip_0", "reggae/live/set1"]
    assert all(t.source == "newdata" and t.label == t.track_id.split("/")[0] for t in tracks)
    assert all(t.duration == pytest.approx(1.0, abs=0.1) and t.official_split is None for t in tracks)
    reasons = reasons_by_name(skipped)
    assert set(reasons) == set(bad)
    assert reasons["polka/clip_0.wav"].startswith("unknown genre folder 'polka'")
    assert reasons["JAZZ/empty.wav"] == "empty file (0 bytes)"
    assert reasons["JAZZ/broken.mp3"].startswith("unreadable audio (")
    assert reasons["JAZZ/cover.jpg"].startswith("not an audio file (extension .jpg")
    assert "AppleDouble" in reasons["JAZZ/._clip_0.wav"]
    assert reasons["JAZZ/clip_0.wav"].startswith("duplicate track id jazz/clip_0 (kept ")
    assert reasons["JAZZ/clip_0.wav"].endswith("clip_0.ogg)")
    assert reasons[f"{tmp_path.name}/loose.wav"] == "not inside a genre folder"
    assert all(s.source == "newdata" for s in skipped)
    assert_accounts_for(all_files(tmp_path), tracks, skipped)
    assert len(tracks) + len(skipped) == len(good) + len(bad)


def test_scan_folder_layout_errors(tmp_path):
    with pytest.raises(LayoutError, match=r"no such directory; expected <root>/<genre>/<audio file>"):
        scan_folder(tmp_path / "nowhere")
    (tmp_path / "polka").mkdir()
    write_audio(tmp_path / "song.wav")
    with pytest.raises(LayoutError, match=r"no genre folder found \(subfolders: polka\).*blues, classical"):
        scan_folder(tmp_path)


# ---------------------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------------------

def test_frames_have_the_dataclass_columns_even_when_empty(tmp_path):
    empty_tracks, empty_skipped = tracks_frame([]), skipped_frame([])
    assert list(empty_tracks.columns) == ["track_id", "source", "label", "path", "artist", "duration",
                                          "official_split", "note"]
    assert list(empty_skipped.columns) == ["path", "source", "reason"] and len(empty_skipped) == 0

    make_gtzan_tree(tmp_path, "tarball", genres=("pop",), numbers=(0, 1))
    write_bytes(tmp_path / "genres" / "pop" / "pop.00002.au")
    tracks, skipped = scan_gtzan(tmp_path)
    frame = tracks_frame(tracks)
    assert frame["track_id"].tolist() == ["pop.00000", "pop.00001"]
    assert frame["duration"].dtype == "float64"
    assert frame["duration"].tolist() == pytest.approx([1.0, 1.0], abs=1e-3)
    assert skipped_frame(skipped).to_dict("records") == [
        {"path": str(tmp_path / "genres" / "pop" / "pop.00002.au"), "source": "gtzan",
         "reason": "empty file (0 bytes)"}]
