"""Known-bad real files and bad input are skipped or noted with a reason, never decoded as noise or lost."""

from __future__ import annotations

import os
import struct

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from conftest import STORE_PROFILE
from fixtures_audio import make_fma_tree, make_gtzan_tree, write_audio, write_bytes

from genre_utils.audio import MAX_DECODE_SAMPLES, AudioError, container_problem, load_audio
from genre_utils.fma import scan_fma
from genre_utils.sources import probe_audio, scan_gtzan
from genre_utils.store import build_dataset

PROFILE = STORE_PROFILE
HTML = b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head><body>Not Found</body></html>\n" * 50


def riff_header(data_bytes: int, with_data_chunk: bool = True) -> bytes:
    """A 16-bit mono 22,050-Hz WAV header declaring ``data_bytes`` of audio (no audio follows)."""
    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, 22050, 44100, 2, 16)
    data = b"data" + struct.pack("<I", data_bytes) if with_data_chunk else b""
    return b"RIFF" + struct.pack("<I", 4 + len(fmt) + len(data) + data_bytes) + b"WAVE" + fmt + data


@pytest.mark.parametrize("name, content", [
    ("noise.au", os.urandom(30_000)),
    ("page.au", HTML),
    ("noise.wav", os.urandom(30_000)),
    ("page.mp3", HTML),
    ("noise.flac", os.urandom(30_000)),
])
def test_content_that_is_no_audio_container_is_rejected_before_decoding(tmp_path, name, content):
    path = write_bytes(tmp_path / name, content)
    with pytest.raises(AudioError, match="not an audio container"):
        load_audio(path)          # before: a headerless .au "decoded" as 8-kHz mu-law noise
    duration, reason = probe_audio(path)
    assert duration is None and "not an audio container" in reason
    if content is HTML:
        assert "HTML" in reason


def test_real_audio_in_any_container_passes_the_check(tmp_path):
    for ext in (".wav", ".au", ".mp3", ".flac", ".ogg"):
        assert container_problem(write_audio(tmp_path / f"ok{ext}", 1.0)) == ""
    flac_named_wav = tmp_path / "flac.wav"
    os.replace(write_audio(tmp_path / "x.flac", 1.0), flac_named_wav)
    assert container_problem(flac_named_wav) == ""    # decoders go by content: a misnamed file is fine
    assert container_problem(write_bytes(tmp_path / "notes.txt", b"hello")) == ""  # not judged


def test_a_small_file_declaring_hours_of_audio_is_refused_before_decoding(tmp_path):
    path = tmp_path / "big.flac"
    sf.write(path, np.zeros((4096, 8), np.int16), 96000, format="FLAC")
    raw = bytearray(path.read_bytes())          # STREAMINFO: total samples in the low 36 bits at byte 18
    bits = int.from_bytes(raw[18:26], "big")
    raw[18:26] = ((bits & ~((1 << 36) - 1)) | (20 * 60 * 96000)).to_bytes(8, "big")
    path.write_bytes(bytes(raw))
    assert path.stat().st_size < 1_000_000 and 20 * 60 * 96000 * 8 > MAX_DECODE_SAMPLES
    with pytest.raises(AudioError, match=r"too large to decode: .* 20.0 min of 8-channel 96000 Hz .* 3.4 GiB"):
        load_audio(path)
    assert probe_audio(path)[1].startswith("too large to decode")


def test_every_known_form_of_gtzan_jazz_00054_is_skipped_with_its_reason(tmp_path):
    genre_dir, _ = make_gtzan_tree(tmp_path, "kaggle", ("jazz", "blues"), (0, 1), seconds=2.0)
    whole = (genre_dir / "jazz" / "jazz.00000.wav").read_bytes()
    forms = {
        "jazz.00054.wav": b"",                                          # 0 bytes
        "jazz.00055.wav": b"\x00\x01\x02 this is not a RIFF file" * 40,   # non-RIFF bytes
        "jazz.00056.wav": riff_header(0),                                # RIFF header, empty data chunk
        "jazz.00057.wav": riff_header(0, with_data_chunk=False),         # RIFF header, no data chunk
        "jazz.00058.wav": riff_header(1_323_000),                         # header of 30 s, nothing after it
        "jazz.00059.wav": whole[: len(whole) // 3],                       # truncated download
        "jazz.00060.au": HTML,                                           # an HTML page saved as .au
    }
    for name, content in forms.items():
        write_bytes(genre_dir / "jazz" / name, content)
    tracks, skipped = scan_gtzan(tmp_path)
    reasons = {os.path.basename(s.path): s.reason for s in skipped}
    assert set(reasons) == set(forms)
    assert reasons["jazz.00054.wav"] == "empty file (0 bytes)"
    assert "not an audio container" in reasons["jazz.00055.wav"]
    assert reasons["jazz.00056.wav"].startswith("no audio data")
    assert reasons["jazz.00057.wav"] == "no audio data: a RIFF/WAVE header without a 'data' chunk"
    assert reasons["jazz.00058.wav"].startswith("no audio data: the WAV header declares 1,323,000 bytes")
    assert reasons["jazz.00059.wav"].startswith("truncated WAV file") and "(33%)" in reasons["jazz.00059.wav"]
    assert "HTML" in reasons["jazz.00060.au"]
    assert len(tracks) == 4


def test_an_unreadable_genre_folder_gets_a_skipped_row(tmp_path, monkeypatch):
    # tests run as root, which reads a chmod-000 folder anyway, so the refusal is simulated: os.walk lists
    # folders through os.scandir, which raises PermissionError for the jazz folder here
    genre_dir, _ = make_gtzan_tree(tmp_path, "tarball", ("jazz", "blues"), (0, 1))
    real = os.scandir
    jazz = str(genre_dir / "jazz")

    def scandir(path="."):
        if os.fspath(path) == jazz:
            raise PermissionError(13, "Permission denied", jazz)
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    tracks, skipped = scan_gtzan(tmp_path)
    assert [t.track_id for t in tracks] == ["blues.00000", "blues.00001"]
    assert [(s.path, s.reason) for s in skipped] == [
        (jazz, "cannot read folder (Permission denied); the files in it are not listed")]


def test_fma_known_bad_tracks_invalid_ids_and_genre_cells_each_get_a_reason(tmp_path):
    id3_only = b"ID3\x03\x00\x00\x00\x00\x00\x10" + b"\x00" * 16
    rows = [
        dict(track_id=2, genres=[21], duration=1.0),
        dict(track_id=99134, genres=[21], audio="empty"),                  # fma_full: no audio at all
        dict(track_id=108925, genres=[21], audio=id3_only),                # a tag and no MPEG frame
        dict(track_id=133297, genres=[21], audio=b"\x00" * 2000),          # corrupt
        dict(track_id=5, genres=[21], duration=600.0),                     # listed duration is wrong
        dict(track_id=6, genres="[1e400]", genres_all="[1e400]", genre_top=""),  # inf: a traceback before
        dict(track_id=7, genres="[2.5]", genres_all="[]", genre_top=""),
        dict(track_id=8, genres=[21], audio=False),                        # id replaced by 1e23 below
        dict(track_id=9, genres=[21], audio=False),                        # id replaced by -4 below
    ]
    audio = make_fma_tree(tmp_path, rows)
    meta = tmp_path / "fma_metadata" / "tracks.csv"
    table = pd.read_csv(meta, index_col=0, header=[0, 1], dtype=str, keep_default_na=False)
    table.index = pd.Index([str(i) for i in table.index[:-2]] + ["1e23", "-4"], name="track_id")
    table.to_csv(meta)   # the last two rows now carry ids that are not FMA ids (1e23 wrapped negative before)
    tracks, skipped = scan_fma(tmp_path)
    reasons = {(os.path.basename(s.path), s.reason) for s in skipped}
    by_file = {os.path.basename(s.path): s.reason for s in skipped if s.path != str(meta)}
    assert by_file["099134.mp3"] == "empty file (0 bytes)"
    assert by_file["108925.mp3"].startswith("unreadable audio")
    assert by_file["133297.mp3"].startswith("unreadable audio (not an audio container")
    invalid = sorted(r for f, r in reasons if f == "tracks.csv")
    assert len(invalid) == 2 and all(r.endswith("(expected an integer 0-999999); row ignored") for r in invalid)
    assert invalid[0].startswith("row with invalid track_id '-4") and "'1e+23'" in invalid[1]
    assert sorted(by_file) == ["000006.mp3", "000007.mp3", "099134.mp3", "108925.mp3", "133297.mp3"]
    assert by_file["000006.mp3"].startswith("unparsable genre list (track.genres='[1e400]'")
    assert by_file["000007.mp3"].startswith("unparsable genre list (track.genres='[2.5]'")
    by_id = {t.track_id: t for t in tracks}
    assert set(by_id) == {"000002", "000005"}
    assert by_id["000005"].note.startswith("metadata lists 600.0 s, the file holds 1.")  # mp3 padding: ~1.1 s
    assert by_id["000005"].note.endswith("(the file's length is used)")
    assert by_id["000002"].note == ""
    assert len(audio) == 7


def test_a_malformed_tracks_csv_leaves_the_promised_skipped_csv(tmp_path):
    make_fma_tree(tmp_path / "fma", [dict(track_id=2, genres=[21])])
    (tmp_path / "fma" / "fma_metadata" / "tracks.csv").write_text("track_id,genre\n2,Hip-Hop\n")
    out = tmp_path / "store"
    with pytest.raises(ValueError, match="malformed tracks.csv") as err:
        build_dataset(out, fma=tmp_path / "fma", profile=PROFILE, workers=1, progress=False)
    assert str(out / "skipped.csv") in str(err.value)
    skipped = pd.read_csv(out / "skipped.csv")
    assert skipped["reason"].str.startswith("malformed tracks.csv").any()


def test_a_far_too_short_clip_is_used_and_noted(tmp_path):
    genre_dir, _ = make_gtzan_tree(tmp_path / "gtzan", "kaggle", ("blues", "jazz"), range(4), seconds=30.0)
    write_audio(genre_dir / "jazz" / "jazz.00005.wav", seconds=12.0)
    ds = build_dataset(tmp_path / "store", gtzan=tmp_path / "gtzan", profile=PROFILE, workers=1, progress=False)
    row = ds.tracks.set_index("track_id").loc["gtzan:jazz.00005"]
    assert row["status"] == "used"
    assert row["note"].startswith("short clip: 12.0 s, far shorter than this source's typical 30.0 s")
    assert ds.info["notes"]["n_short_clips"] == 1
    from genre_utils.checks import notes_table
    assert notes_table(ds)["track_id"].tolist() == ["gtzan:jazz.00005"]
