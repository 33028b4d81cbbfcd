"""Tests of the synthetic corpus (genre_utils.synth, genre_utils.styles) on profiles smaller than tiny."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from conftest import MINI_CORPUS
from fixtures_audio import corpus_hashes

from genre_utils import synth
from genre_utils.config import get_profile
from genre_utils.genres import GENRES, load_fma_genres, map_fma_track
from genre_utils.styles import GROOVES, STYLES, style_table

#: 1 clip per genre, 24 FMA tracks (2 per label + 4 by weight, so some are outside the ten), 5-s clips.
SMALL = get_profile("tiny").replace(synth_tracks_per_genre=1, synth_fma_tracks=24, synth_newdata_per_genre=1,
                                    clip_seconds=5.0)
#: Even smaller, for the tests that render more than once.
MINI = MINI_CORPUS




@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    return out, synth.render_corpus(out, SMALL, progress=False)


@pytest.fixture(scope="module")
def tracks(corpus):
    out, _ = corpus
    return pd.read_csv(out / "fma/fma_metadata/tracks.csv", index_col=0, header=[0, 1])


# ------------------------------------------------------------------------------------------ composition

def test_style_sheet_covers_every_genre():
    assert list(STYLES) == list(GENRES)
    table = style_table()
    assert list(table.index) == list(GENRES)
    assert {"tempo", "grooves", "bass", "harmony", "instruments", "why"} <= set(table.columns)
    assert table["why"].str.len().min() > 40
    assert table.loc["classical", "drum level (0-1)"] == "none"
    # the book's table shows patterns in words and progressions as chords, never the internal names
    shown = " ".join(table[["grooves", "bass", "harmony", "accompaniment"]].to_numpy().ravel())
    assert "pop_4536" not in shown and "none_68" not in shown and "root_quarter" not in shown
    assert "IV - V - iii - vi" in table.loc["pop", "harmony"] and "no drums (6/8)" in table.loc["classical", "grooves"]
    assert table.loc["blues", "harmony"].startswith("I7 x4 - IV7 x2 - I7 x2 - V7 - IV7 - I7 - V7")


@pytest.mark.parametrize("genre", GENRES)
def test_compose_returns_notes_for_every_genre(genre):
    pm = synth.compose(genre, seed=3, seconds=30.0)
    plan = synth.make_plan(genre, 3, 30.0)
    pitched = [i for i in pm.instruments if not i.is_drum]
    drums = [i for i in pm.instruments if i.is_drum]
    assert sum(len(i.notes) for i in pitched) >= 50
    assert bool(drums) == any(s.drums for s in plan.sections) == (genre != "classical")
    assert all(0 <= n.start < 30.0 + synth.TAIL_SECONDS for i in pm.instruments for n in i.notes)
    assert max(n.end for i in pm.instruments for n in i.notes) > 29.0  # the music fills the clip
    lo, hi = STYLES[genre].tempo
    scale = GROOVES[plan.groove].tempo_scale
    assert lo * scale - 0.01 <= pm.get_tempo_changes()[1][0] <= hi * scale + 0.01


def test_compose_is_deterministic_and_depends_on_the_seed():
    def notes(seed):
        pm = synth.compose("jazz", seed, 5.0)
        return [(i.program, n.pitch, round(n.start, 6), n.velocity) for i in pm.instruments for n in i.notes]

    assert notes(7) == notes(7)
    assert notes(7) != notes(8)


def test_shift_leaves_the_training_tempo_range():
    lo, hi = STYLES["disco"].tempo
    tempi = [synth.make_plan("disco", s, 10.0, shift=True).tempo for s in range(12)]
    assert any(t < lo or t > hi for t in tempi)
    assert all(lo <= synth.make_plan("disco", s, 10.0).tempo <= hi for s in range(12))


def test_parse_chord():
    assert synth.parse_chord("V7", key=0) == synth.Chord(7, (0, 4, 7, 10))
    assert synth.parse_chord("ii7b5", key=0) == synth.Chord(2, (0, 3, 6, 10))
    assert synth.parse_chord("bVII", key=2).root == 0
    assert synth.parse_chord("vi", key=0, voicing="ninth").intervals == (0, 3, 7, 10, 14)
    assert synth.parse_chord("IV", key=0, voicing="power").intervals == (0, 7, 12)


# ------------------------------------------------------------------------------------------ rendering

def test_render_has_exact_length_sound_and_no_clipping():
    y = synth.render(synth.compose("rock", 1, 5.0), 5.0, sample_rate=22050, seed=1)
    assert y.dtype == np.float32 and y.shape == (5 * 22050,)
    assert np.all(np.isfinite(y)) and np.max(np.abs(y)) < 1.0
    per_second = np.sqrt(np.mean(y.reshape(5, 22050) ** 2, axis=1))
    assert per_second.min() > 1e-3  # music in every second, not a click followed by silence


def test_render_is_deterministic():
    midi = synth.compose("reggae", 5, 4.0)
    a = synth.render(midi, 4.0, seed=9)
    b = synth.render(synth.compose("reggae", 5, 4.0), 4.0, seed=9)
    assert a.tobytes() == b.tobytes()        # same process and machine; across machines see the README
    assert a.tobytes() != synth.render(midi, 4.0, seed=10).tobytes()


def test_a_stem_does_not_depend_on_what_the_process_rendered_before():
    """The synthesizer lives as long as the process; a part's tails must not open the next clip's stems."""
    jazz, metal = synth.compose("jazz", 1, 4.0), synth.compose("metal", 2, 4.0)
    first = synth.synthesize_stems(jazz, 4.0, "timgm6mb", 22050)
    synth.synthesize_stems(metal, 4.0, "timgm6mb", 22050)
    again = synth.synthesize_stems(jazz, 4.0, "timgm6mb", 22050)
    assert list(first) == list(again) == [inst.name for inst in jazz.instruments]
    assert all(first[k].tobytes() == again[k].tobytes() for k in first)
    assert all(v.shape == (4 * 22050,) and v.dtype == np.float32 and np.any(v) for v in first.values())


def test_two_parts_of_one_name_are_two_stems():
    import pretty_midi

    midi = pretty_midi.PrettyMIDI()
    for program, pitch in ((0, 60), (40, 72)):
        inst = pretty_midi.Instrument(program=program, name="piano")
        inst.notes.append(pretty_midi.Note(100, pitch, 0.1, 0.9))
        midi.instruments.append(inst)
    midi.instruments.append(pretty_midi.Instrument(program=0, name="silent"))     # no notes: no stem
    stems = synth.synthesize_stems(midi, 1.0, "timgm6mb", 22050)
    assert list(stems) == ["piano", "piano1"] and all(np.any(v) for v in stems.values())


def _tone(freq, seconds, sr=22050, amp=1.0):
    return (amp * np.sin(2 * np.pi * freq * np.arange(int(seconds * sr)) / sr)).astype(np.float32)


def test_mix_brings_every_stem_to_one_loudness_before_its_level():
    from genre_utils.audio import loudness
    from genre_utils.synth.render import STEM_LUFS

    sr = 22050
    quiet, loud = _tone(220, 3, amp=0.01), _tone(880, 3, amp=0.8)
    for stem in (quiet, loud):   # alone at full level, any stem ends at STEM_LUFS
        assert loudness(synth.mix_stems({"a": stem}, {"a": 127}, 0, sr), sr) == pytest.approx(STEM_LUFS, abs=0.05)
    # at channel volume 64 a part is General MIDI's 40*log10(64/127) = -11.9 dB down
    assert loudness(synth.mix_stems({"a": loud}, {"a": 64}, 0, sr), sr) == pytest.approx(
        STEM_LUFS + 40 * np.log10(64 / 127), abs=0.05)
    # two stems at equal levels share the mix equally, whatever their raw levels
    both = synth.mix_stems({"a": quiet, "b": loud}, {"a": 100, "b": 100}, 0, sr)
    a_only = synth.mix_stems({"a": quiet}, {"a": 100}, 0, sr)
    assert loudness(both - a_only, sr) == pytest.approx(loudness(a_only, sr), abs=0.05)
    # a silent stem is left out, not blown up; all silent gives silence
    assert np.array_equal(synth.mix_stems({"a": loud, "s": np.zeros_like(loud)}, {"a": 90, "s": 90}, 0, sr),
                          synth.mix_stems({"a": loud}, {"a": 90}, 0, sr))
    assert not np.any(synth.mix_stems({"s": np.zeros(sr * 2, np.float32)}, {"s": 90}, 40, sr))


def test_reverb_send_adds_a_tail_in_proportion_to_the_send():
    sr = 22050
    burst = np.zeros(3 * sr, np.float32)
    burst[: sr // 4] = _tone(440, 0.25)
    dry = synth.mix_stems({"a": burst}, {"a": 127}, 0, sr)
    tail = slice(sr // 2, sr)                         # after the burst: only the room is heard
    assert not np.any(dry[tail])
    half, full = (synth.mix_stems({"a": burst}, {"a": 127}, send, sr) for send in (63.5, 127))
    assert np.sqrt(np.mean(full[tail] ** 2)) == pytest.approx(2 * np.sqrt(np.mean(half[tail] ** 2)), rel=0.02)


def test_an_unreadable_bank_is_refused_with_one_line(monkeypatch):
    import importlib

    from genre_utils.synth import banks

    render = importlib.import_module("genre_utils.synth.render")   # the module, not synth.render the function
    monkeypatch.setattr(render, "bank_bytes", lambda name: b"RIFF" + bytes(range(256)) * 40)
    with pytest.raises(banks.BankDamaged, match="cannot be read") as err:
        render.load_bank("fluidr3mono", 8000)
    assert "\n" not in str(err.value) and "make banks" in str(err.value)


# ------------------------------------------------------------------------------------------ the corpus

def test_gtzan_and_newdata_layout(corpus):
    out, summary = corpus
    for genre in GENRES:
        clip = out / f"gtzan/genres_original/{genre}/{genre}.00000.wav"
        info = sf.info(clip)
        assert (info.samplerate, info.channels, info.subtype, info.frames) == (22050, 1, "PCM_16", 5 * 22050)
        assert (out / f"newdata/{genre}/{genre}-new-000.wav").is_file()
    assert summary["counts"]["gtzan"] == {g: 1 for g in GENRES}
    assert summary["counts"]["newdata"] == {g: 1 for g in GENRES}


def test_tracks_csv_has_the_real_format(corpus, tracks):
    out, _ = corpus
    lines = (out / "fma/fma_metadata/tracks.csv").read_text().splitlines()
    assert lines[0].startswith(",album,album,") and lines[1].startswith(",comments,date_created,")
    assert lines[2].startswith("track_id,,,")
    assert tracks.shape[1] == 52 and tracks.index.name == "track_id"
    groups = list(dict.fromkeys(tracks.columns.get_level_values(0)))
    assert groups == ["album", "artist", "set", "track"]
    assert [tracks[g].shape[1] for g in groups] == [13, 17, 2, 20]
    assert list(tracks["track"].columns[:8]) == ["bit_rate", "comments", "composer", "date_created",
                                                  "date_recorded", "duration", "favorites", "genre_top"]
    assert len(tracks) == SMALL.synth_fma_tracks + 3  # plus the empty, missing and short ones
    assert (out / "fma/fma_metadata/genres.csv").read_bytes() == (
        Path(synth.__file__).parents[1] / "data/fma_genres.csv").read_bytes()


def test_fma_genres_map_to_the_intended_labels(corpus, tracks):
    _, summary = corpus
    genres = load_fma_genres()
    labels = {}
    for tid, row in tracks.iterrows():
        ids = ast.literal_eval(row[("track", "genres")])
        every = ast.literal_eval(row[("track", "genres_all")])
        assert set(ids) <= set(every)
        assert all(genres.at[g, "parent"] in (0, *every) for g in every)  # ancestors included
        labels[tid] = map_fma_track(ids, genres)[0]
    assert {str(k): v for k, v in labels.items()} == summary["fma_expected"]
    broken = {b["path"] for b in summary["broken"]}
    good = [t for t in labels if synth.fma_relpath(t) not in broken]
    assert len(good) == SMALL.synth_fma_tracks
    assert all((corpus[0] / synth.fma_relpath(t)).stat().st_size > 10_000 for t in good)
    per_label = pd.Series([labels[t] or "eliminated" for t in good]).value_counts()
    assert all(per_label.get(g, 0) >= 2 for g in GENRES)
    assert per_label.get("eliminated", 0) >= 1  # some tracks lie outside the ten genres
    assert per_label.drop("eliminated").to_dict() == {g: n for g, n in summary["counts"]["fma_labels"].items()
                                                        if g != "eliminated" and n}
    ids_seen = {i for s in tracks[("track", "genres")] for i in ast.literal_eval(s)}
    assert {31, 11, 21} & ids_seen  # sub-genre labels are used


def test_fma_split_is_artist_filtered(tracks):
    assert set(tracks[("set", "split")]) <= {"training", "validation", "test"}
    assert set(tracks[("set", "subset")]) <= {"small", "medium"}
    per_artist = tracks[("set", "split")].groupby(tracks[("artist", "name")]).nunique()
    assert per_artist.max() == 1
    assert tracks[("artist", "name")].value_counts().max() >= 2  # several tracks per artist


def test_fma_audio_is_readable_mp3(corpus):
    out, _ = corpus
    mp3s = sorted((out / "fma/fma_medium").rglob("*.mp3"))
    sizes = [p.stat().st_size for p in mp3s]
    big = mp3s[int(np.argmax(sizes))]
    y, sr = sf.read(big)
    assert sr == synth.FMA_SAMPLE_RATE and y.ndim == 1 and abs(len(y) / sr - 5.0) < 0.2
    assert all(p.parent.name == p.stem[:3] and len(p.stem) == 6 for p in mp3s)


def test_broken_files_are_present(corpus, tracks):
    out, summary = corpus
    root = out / "gtzan/genres_original"
    assert not (root / "jazz/jazz.00054.wav").read_bytes().startswith(b"RIFF")
    silent, _ = sf.read(root / "blues/blues.00001.wav")
    assert silent.size == 5 * 22050 and not np.any(silent)
    assert sf.info(root / "rock/rock.00001.wav").duration < 4.0
    assert (root / ".DS_Store").is_file() and (root / "pop/.DS_Store").is_file()
    kinds = {b["kind"] for b in summary["broken"]}
    assert {"not_riff", "silent", "short", "ds_store", "empty", "missing", "truncated"} <= kinds
    fma = {b["kind"]: out / b["path"] for b in summary["broken"] if b["path"].startswith("fma/")}
    assert fma["empty"].stat().st_size == 0
    assert not fma["missing"].exists() and int(fma["missing"].stem) in tracks.index
    assert sf.info(fma["short"]).duration < 4.0
    assert all(b["reason"] for b in summary["broken"])


def test_rerun_is_a_cache_hit(corpus):
    out, first = corpus
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    again = synth.render_corpus(out, SMALL, progress=False)
    assert again["cached"] is True and again["fingerprint"] == first["fingerprint"]
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before
    assert json.loads((out / "corpus.json").read_text())["fingerprint"] == first["fingerprint"]


def test_same_seed_gives_identical_files_whatever_the_worker_count(tmp_path):
    a = synth.render_corpus(tmp_path / "a", MINI, progress=False, workers=1)
    b = synth.render_corpus(tmp_path / "b", MINI, progress=False, workers=2)
    assert a["fingerprint"] == b["fingerprint"] and not a["cached"] and not b["cached"]
    ha, hb = corpus_hashes(tmp_path / "a"), corpus_hashes(tmp_path / "b")
    assert ha == hb and len(ha) > 15

    # another seed is another corpus: re-rendered in place, old files gone
    c = synth.render_corpus(tmp_path / "b", MINI, seed=1, progress=False)
    assert c["fingerprint"] != a["fingerprint"] and not c["cached"]
    hc = corpus_hashes(tmp_path / "b")
    assert hc["gtzan/genres_original/pop/pop.00000.wav"] != ha["gtzan/genres_original/pop/pop.00000.wav"]
    mp3s = {p for p in hc if p.endswith(".mp3")}  # seed 0's FMA ids are gone, seed 1's are there
    missing = {b["path"] for b in c["broken"] if b["kind"] == "missing"}
    assert mp3s == {synth.fma_relpath(t) for t in c["fma_expected"]} - missing


def test_interrupted_render_resumes(tmp_path):
    out = tmp_path / "c"
    first = synth.render_corpus(out, MINI, progress=False)
    clip = out / "gtzan/genres_original/metal/metal.00000.wav"
    before = clip.read_bytes()
    # simulate an interruption: no corpus.json yet, one clip not written, progress marker present
    (out / "corpus.json").unlink()
    clip.unlink()
    (out / synth.PROGRESS_JSON).write_text(json.dumps({"fingerprint": first["fingerprint"]}))
    again = synth.render_corpus(out, MINI, progress=False)
    assert again["files_rendered"] == 1 and not again["cached"]
    assert clip.read_bytes() == before
    assert not (out / synth.PROGRESS_JSON).exists() and (out / "corpus.json").is_file()


def test_refuses_to_overwrite_foreign_data(tmp_path):
    foreign = tmp_path / "gtzan/genres_original/blues"
    foreign.mkdir(parents=True)
    (foreign / "blues.00000.wav").write_bytes(b"real data")
    with pytest.raises(FileExistsError, match="did not write"):
        synth.render_corpus(tmp_path, MINI, progress=False)
    assert (foreign / "blues.00000.wav").read_bytes() == b"real data"


def test_fma_counts_are_unbalanced_but_cover_every_label():
    for n in (24, 120, 900):
        counts = synth.fma_counts(n)
        assert sum(counts.values()) == n
        assert all(counts[g] >= 2 for g in GENRES)
    quick = synth.fma_counts(120)
    assert max(quick, key=quick.get) in ("rock", "electronic")
    assert quick["rock"] > 5 * quick["blues"]
    assert sum(synth.fma_counts(7).values()) == 7


# ------------------------------------------------------------------------------ through the real loaders
def test_corpus_reads_back_through_the_real_loaders(corpus, tmp_path):
    """The synthetic trees take exactly the path real data takes: scanners, probing, feature store."""
    from genre_utils.fma import scan_fma
    from genre_utils.sources import scan_folder, scan_gtzan
    from genre_utils.store import build_dataset

    out, summary = corpus
    gtzan, gtzan_skipped = scan_gtzan(out / "gtzan", progress=False)
    assert {t.label for t in gtzan} == set(GENRES)
    assert any("jazz.00054" in s.path and "unreadable" in s.reason for s in gtzan_skipped)
    fma, fma_skipped = scan_fma(out / "fma", progress=False)
    expected = {f"{int(k):06d}": v for k, v in summary["fma_expected"].items()}
    for track in fma:
        assert track.label == expected[track.track_id], track.track_id
    eliminated = {s.path.rsplit("/", 1)[-1][:6] for s in fma_skipped if s.reason.startswith("eliminated")}
    assert eliminated == {tid for tid, label in expected.items() if label is None}
    assert any("0 bytes" in s.reason for s in fma_skipped) and any("no audio file" in s.reason for s in fma_skipped)
    newdata, _ = scan_folder(out / "newdata", progress=False)
    assert {t.label for t in newdata} == set(GENRES)

    ds = build_dataset(tmp_path / "store", gtzan=out / "gtzan", fma=out / "fma",
                       profile=SMALL.replace(n_train=20, n_valid=10, test_segments_per_track=1),
                       workers=1, progress=False)
    reasons = " | ".join(ds.skipped["reason"])
    assert "silent" in reasons and "too short" in reasons  # the broken clips are caught when decoded
    assert ds.info["n_windows"]["train"] == 20


def test_fma_groups_outside_the_ten_play_sheets_of_their_own():
    from genre_utils.styles import FOREIGN_STYLES, STYLES
    from genre_utils.synth.fma_meta import FMA_MIX, plan_fma

    outside = {group for group, *_ in FMA_MIX if group not in STYLES and group != "ambiguous"}
    assert outside == set(FOREIGN_STYLES)
    tracks, _ = plan_fma(120, 30.0, 0)
    for t in tracks:
        if t.group in FOREIGN_STYLES:
            assert t.style == t.group and not t.shift
        elif t.group == "ambiguous":
            assert t.style in STYLES and t.shift
        else:
            assert t.style == t.group and not t.shift


@pytest.mark.parametrize("style", ["electronic", "experimental", "folk", "international", "old-time", "soul-rnb",
                                   "spoken", "easy-listening", "instrumental"])
def test_every_foreign_sheet_composes_and_is_its_own(style):
    from genre_utils.styles import FOREIGN_STYLES, STYLES

    midi = synth.compose(style, 3, 8.0)
    assert any(inst.notes for inst in midi.instruments)
    sheet = FOREIGN_STYLES[style]
    for genre in STYLES.values():   # never a copy of one of the ten genres' grooves and progressions together
        assert not (set(sheet.grooves) <= set(genre.grooves) and set(sheet.progressions) <= set(genre.progressions))


def test_progressions_and_grooves_are_all_distinct():
    """Two names for one progression or groove would make a sheet look more its own than it is."""
    from genre_utils.styles import PROGRESSIONS

    assert len(set(PROGRESSIONS.values())) == len(PROGRESSIONS)
    lanes = [(g.beats, g.steps, g.feel, g.lanes, g.meter) for name, g in GROOVES.items() if not name.startswith("none")]
    assert len(set(lanes)) == len(lanes)
