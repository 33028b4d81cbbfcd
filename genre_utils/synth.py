"""The synthetic corpus: ten genres composed with pretty_midi, rendered with a General MIDI SoundFont.

GTZAN and FMA cannot be downloaded here, yet the book must run end to end, offline, through the code path
real data takes. So the default data is music this module composes (:func:`compose`, from the style sheet
in :mod:`genre_utils.styles`), renders (:func:`render`: the ``midirenderer`` wheel, a self-contained Rust
SoundFont synthesizer, with the ``TimGM6mb.sf2`` bank that ships inside ``pretty_midi``; no system
library, no download) and writes in the real datasets' layouts (:func:`render_corpus`).

Layout written by :func:`render_corpus` under ``out_dir``::

    gtzan/genres_original/<genre>/<genre>.NNNNN.wav     22,050 Hz mono 16-bit, balanced
    fma/fma_metadata/tracks.csv, genres.csv            the real 52-column, three-header-line format
    fma/fma_medium/NNN/NNNNNN.mp3                      44,100 Hz mono MP3, unbalanced like fma_medium
    newdata/<genre>/<genre>-new-NNN.wav                 "new data" (paper section 9): shifted style and mix
    corpus.json                                        summary + fingerprint, written last (cache marker)

The corpus is keyed (:func:`corpus_fingerprint`) on the profile's synth fields, the seed,
:data:`SYNTH_VERSION`, the code of this module and everything it imports
(:func:`genre_utils.provenance.code_fingerprint`) and the versions of the libraries it uses
(:func:`genre_utils.provenance.library_key`). ``corpus.json`` also records the size and SHA-256 of every file
written; a reused corpus is checked against the sizes every time (the hashes too with ``verify=True``), and a
missing, truncated or altered file is rendered again (only that file). Files are written atomically and an
interrupted render resumes, so an interrupted render finishes byte-identical to an uninterrupted one.

Deliberately broken files (the loaders must skip each with a reason):

* GTZAN ``jazz/jazz.00054.wav`` is not a RIFF file, as in the real Kaggle copy. Index 54 of jazz is never
  a good clip, so with more than 54 clips per genre jazz's good indices skip 54 and stay balanced.
* GTZAN ``blues.NNNNN.wav`` (silent, full length) and ``rock.NNNNN.wav`` (3 s long) use the first index
  past the balanced count, ``NNNNN = synth_tracks_per_genre``; ``genres_original/.DS_Store`` and
  ``genres_original/pop/.DS_Store`` are macOS litter.
* FMA: three rows beyond ``synth_fma_tracks`` good ones: a 0-byte mp3 (rock), an id with no audio file
  (hiphop) and a 2.5-s mp3 whose metadata still says 30 s (pop).
* newdata: ``reggae/reggae-new-cut.wav``, a WAV cut off after 1.5 s of audio (a truncated download).

Everything is seeded from ``(seed, tree, genre, index)`` through SHA-256, so files are byte-identical
across runs and independent of the number of worker processes.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from .audio import write_mp3, write_wav
from .config import Profile, fingerprint, get_profile, num_threads
from .genres import FMA_TRACKS_COLUMNS, GENRES, fma_genre_top, fma_genres_all, load_fma_genres, map_fma_track
from .provenance import atomic_write_bytes, code_fingerprint, library_key
from .styles import GROOVES, PROGRESSIONS, SHIFT_PROGRAMS, STYLES, TOMS, GenreStyle, Groove, style_table

__all__ = [
    "STYLES",
    "GenreStyle",
    "style_table",
    "compose",
    "render",
    "render_corpus",
    "corpus_fingerprint",
    "check_corpus",
    "SYNTH_VERSION",
    "GTZAN_SAMPLE_RATE",
    "FMA_SAMPLE_RATE",
]

#: Bump when a code change alters the rendered audio (it is part of the corpus fingerprint).
SYNTH_VERSION = "1"
#: Sampling rate of the GTZAN-layout and newdata WAV files (GTZAN's own rate).
GTZAN_SAMPLE_RATE = 22050
#: Sampling rate and bit rate of the FMA-layout MP3 files (FMA's clips are mostly 44.1 kHz).
FMA_SAMPLE_RATE = 44100
FMA_KBPS = 64
#: The profile fields the corpus depends on.
SYNTH_FIELDS = ("synth_tracks_per_genre", "synth_fma_tracks", "synth_newdata_per_genre", "clip_seconds")

CORPUS_JSON = "corpus.json"
PROGRESS_JSON = ".corpus-progress.json"
TREES = ("gtzan", "fma", "newdata")
GTZAN_BROKEN_JAZZ = 54
TAIL_SECONDS = 0.5  # composed past the clip end, so notes ring into the cut instead of stopping


# ---------------------------------------------------------------------------------------------- randomness

def _stable_int(*parts) -> int:
    """A 63-bit integer from any JSON-able parts (stable across processes, unlike ``hash``)."""
    digest = hashlib.sha256(json.dumps(parts, default=str).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def _rng(*parts) -> np.random.Generator:
    return np.random.default_rng(_stable_int(*parts))


def _pick(rng: np.random.Generator, options):
    """One element of a non-empty sequence (a plain Python value, not a numpy scalar)."""
    return options[int(rng.integers(len(options)))]


# ---------------------------------------------------------------------------------------------- harmony

_NUMERALS = {"i": 0, "ii": 2, "iii": 4, "iv": 5, "v": 7, "vi": 9, "vii": 11}
_CHORD_RE = re.compile(r"^(b|#)?(vii|iii|vi|iv|ii|v|i)(.*)$", re.IGNORECASE)

SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
    "blues": (0, 3, 5, 6, 7, 10),
    "pent_major": (0, 2, 4, 7, 9),
    "pent_minor": (0, 3, 5, 7, 10),
}
#: Major-type scales and the minor scale used instead over a minor progression.
_MINOR_OF = {"major": "minor", "mixolydian": "dorian", "pent_major": "pent_minor"}


@dataclass(frozen=True)
class Chord:
    """A chord as a root pitch class (0 = C) and intervals above the root in semitones."""

    root: int
    intervals: tuple[int, ...]


def parse_chord(token: str, key: int, voicing: str = "triad") -> Chord:
    """Turn a Roman-numeral token into a :class:`Chord` in ``key`` (tonic pitch class).

    Upper case is major, lower case minor; suffixes ``7``, ``maj7``, ``7b5`` (half-diminished), ``5``
    (power chord); a bare ``vii`` is diminished. ``voicing`` may enrich the chord: ``'seventh'`` adds
    sevenths, ``'ninth'`` sevenths and ninths, ``'power'`` reduces every chord to root-fifth-octave.
    """
    m = _CHORD_RE.match(token)
    if not m:
        raise ValueError(f"cannot parse chord {token!r}")
    accidental, numeral, suffix = m.groups()
    root = (key + _NUMERALS[numeral.lower()] + {"b": -1, "#": 1, None: 0}[accidental]) % 12
    major = numeral[0].isupper()
    if suffix == "5" or voicing == "power":
        return Chord(root, (0, 7, 12))
    if suffix == "7b5" or (numeral == "vii" and suffix == ""):
        iv = (0, 3, 6, 10) if suffix == "7b5" else (0, 3, 6)
    elif suffix == "maj7":
        iv = (0, 4, 7, 11)
    elif suffix == "7":
        iv = (0, 4, 7, 10) if major else (0, 3, 7, 10)
    else:
        iv = (0, 4, 7) if major else (0, 3, 7)
    if voicing in ("seventh", "ninth") and len(iv) == 3 and iv != (0, 3, 6):
        iv = iv + ((11,) if major and numeral.upper() in ("I", "IV") else (10,))
    if voicing == "ninth" and len(iv) == 4 and iv[2] == 7:
        iv = iv + (14,)
    return Chord(root, iv)


def _place(pc: int, low: int, high: int) -> int:
    """The MIDI pitch of pitch class ``pc`` in ``[low, low + 11]`` (clipped below ``high``)."""
    p = low + (pc - low) % 12
    return p - 12 if p > high else p


def _voice(chord: Chord, center: int, rootless: bool = False) -> list[int]:
    """Close-position voicing: every chord tone in the octave nearest ``center`` (so chords lead smoothly)."""
    tones = chord.intervals[1:] if rootless and len(chord.intervals) > 3 else chord.intervals
    pcs = sorted({(chord.root + i) % 12 for i in tones})
    return sorted(_place(pc, center - 6, center + 6) for pc in pcs)


def _power(chord: Chord, low: int = 40) -> list[int]:
    root = _place(chord.root, low, low + 11)
    return [root, root + 7, root + 12]


# ---------------------------------------------------------------------------------------------- the plan

@dataclass
class Segment:
    """One chord's span inside a bar (a bar holds one or two)."""

    start: float          # beats from the bar start
    length: float         # beats
    chord: Chord
    next_root: int        # pitch class of the following chord's root


@dataclass
class Section:
    """Which parts play in a run of bars, and how loud."""

    drums: bool
    bass: bool
    comp: bool
    pad: bool
    lead: bool
    intensity: float


@dataclass
class Plan:
    """Every random choice of one clip, drawn up front from the style."""

    genre: str
    tempo: float
    groove: str
    swing: float
    swing_unit: int
    key: int
    progression: str
    voicing: str
    scale: tuple[int, ...]
    bass: str
    comp: str
    lead: str
    programs: dict
    levels: dict
    velocity: int
    reverb: int
    bends: float
    lead_density: float
    comp_center: int
    lead_center: int
    start_bar: int
    section_bars: int = 4
    sections: list = field(default_factory=list)

    @property
    def seconds_per_beat(self) -> float:
        return 60.0 / self.tempo


def _draw_program(style: GenreStyle, role: str, rng, shift: bool):
    pool = getattr(style, f"{role}_programs")
    if shift and rng.random() < 0.4:
        return _pick(rng, SHIFT_PROGRAMS[role])
    if rng.random() < style.substitution:
        other = getattr(STYLES[_pick(rng, GENRES)], f"{role}_programs")
        if other:
            return _pick(rng, other)
    return _pick(rng, pool) if pool else None


def _draw_tempo(style: GenreStyle, groove: Groove, rng, shift: bool) -> float:
    lo, hi = style.tempo
    if shift and rng.random() < 0.6:  # unseen tempi: just outside the training range
        tempo = rng.uniform(lo * 0.88, lo) if rng.random() < 0.5 else rng.uniform(hi, hi * 1.12)
    else:
        tempo = rng.uniform(lo, hi)
    return round(float(tempo * groove.tempo_scale), 2)


def make_plan(genre: str, seed: int, seconds: float, shift: bool = False) -> Plan:
    """Draw all per-track choices of one clip (key, tempo, groove, instruments, arrangement, mix)."""
    style = STYLES[genre]
    rng = _rng("compose", int(seed), genre, bool(shift))
    groove_name = _pick(rng, style.grooves)
    groove = GROOVES[groove_name]
    tempo = _draw_tempo(style, groove, rng, shift)
    swing = float(rng.uniform(*style.swing))
    if shift:
        swing = float(np.clip(swing + rng.uniform(-0.04, 0.04), 0.0, 1 / 6))
    progression = _pick(rng, style.progressions)
    minor = PROGRESSIONS[progression][0].lstrip("b#")[0].islower()
    scale_name = _pick(rng, style.scales)
    if minor:
        scale_name = _MINOR_OF.get(scale_name, scale_name)
    programs = {role: _draw_program(style, role, rng, shift) for role in ("bass", "comp", "pad", "lead")}
    if rng.random() >= style.pad_prob:
        programs["pad"] = None
    drum_level = style.drum_level * rng.uniform(0.6 if shift else 0.8, 1.0)
    levels = {"drums": drum_level, **{role: float(rng.uniform(0.6, 1.0)) for role in ("bass", "comp", "pad", "lead")}}
    lo_v, hi_v = style.velocity
    velocity = int(rng.integers(lo_v, hi_v + 1))
    if shift:
        velocity = int(np.clip(velocity * rng.uniform(0.75, 1.15), 30, 127))
    lead = _pick(rng, style.lead)
    plan = Plan(
        genre=genre, tempo=tempo, groove=groove_name, swing=swing, swing_unit=style.swing_unit,
        key=int(rng.integers(12)), progression=progression, voicing=_pick(rng, style.voicing),
        scale=SCALES[scale_name], bass=_pick(rng, style.bass), comp=_pick(rng, style.comp), lead=lead,
        programs=programs, levels=levels, velocity=velocity, reverb=int(rng.integers(*style.reverb)),
        bends=style.bends, lead_density=style.lead_density * rng.uniform(0.8, 1.2),
        comp_center=int(rng.integers(55, 66)),
        lead_center=int(rng.integers(55, 61)) if lead == "rap" else int(rng.integers(64, 76)),
        start_bar=int(rng.integers(len(PROGRESSIONS[progression]))),
    )
    n_bars = _bars_needed(plan, groove, seconds)
    plan.sections = _arrange(plan, style, n_bars, rng)
    return plan


def _bars_needed(plan: Plan, groove: Groove, seconds: float) -> int:
    bar_seconds = groove.beats * plan.seconds_per_beat
    return int(math.ceil((seconds + TAIL_SECONDS) / bar_seconds))


def _arrange(plan: Plan, style: GenreStyle, n_bars: int, rng) -> list[Section]:
    """Sections of ``plan.section_bars`` bars, each with its own set of playing parts."""
    sections = []
    for i in range((n_bars + plan.section_bars - 1) // plan.section_bars):
        drums = style.drum_level > 0 and rng.random() < (0.85 if i == 0 else 0.97)
        parts = {
            "bass": rng.random() < 0.92,
            "comp": rng.random() < 0.92,
            "pad": plan.programs["pad"] is not None and rng.random() < 0.75,
            "lead": plan.programs["lead"] is not None and rng.random() < (0.45 if i == 0 else 0.7),
        }
        if sum(parts.values()) < 2:  # never leave a section nearly empty
            parts["comp"] = parts["bass"] = True
        intensity = float(rng.uniform(0.7, 1.15) if style.genre == "classical" else rng.uniform(0.85, 1.1))
        sections.append(Section(drums=drums, intensity=intensity, **parts))
    return sections


def _segments(plan: Plan, bar: int) -> list[Segment]:
    """The chord spans of ``bar`` (counted from the clip start)."""
    prog = PROGRESSIONS[plan.progression]
    beats = GROOVES[plan.groove].beats
    token = prog[(plan.start_bar + bar) % len(prog)]
    following = prog[(plan.start_bar + bar + 1) % len(prog)].split("|")[0]
    parts = token.split("|")
    chords = [parse_chord(t, plan.key, plan.voicing) for t in parts]
    next_roots = [c.root for c in chords[1:]] + [parse_chord(following, plan.key).root]
    length = beats / len(parts)
    return [Segment(i * length, length, c, nr) for i, (c, nr) in enumerate(zip(chords, next_roots))]


# ---------------------------------------------------------------------------------------------- timing

class Clock:
    """Maps (bar, beat position) to seconds, applying the groove's feel and the clip's swing."""

    def __init__(self, plan: Plan):
        groove = GROOVES[plan.groove]
        self.beats = groove.beats
        self.spb = plan.seconds_per_beat
        if groove.feel == "compound":
            self.swing, self.unit = 0.0, 8
        elif groove.feel == "shuffle":
            self.swing, self.unit = 1 / 6, 8
        else:
            self.swing, self.unit = plan.swing, plan.swing_unit

    def _warp(self, frac: float) -> float:
        s = self.swing
        if s == 0:
            return frac
        if self.unit == 16:  # swing inside each half beat
            half = math.floor(frac * 2) / 2
            return half + self._warp_unit((frac - half) * 2, s) / 2
        return self._warp_unit(frac, s)

    @staticmethod
    def _warp_unit(p: float, s: float) -> float:
        return p * (0.5 + s) / 0.5 if p <= 0.5 else 0.5 + s + (p - 0.5) * (0.5 - s) / 0.5

    def time(self, bar: int, pos: float) -> float:
        whole = math.floor(pos + 1e-9)
        return (bar * self.beats + whole + self._warp(pos - whole)) * self.spb


def _sub(groove: Groove) -> int:
    """Eighth notes per beat for the accompaniment: 3 in compound meters, else 2."""
    return 3 if groove.feel == "compound" else 2


# ---------------------------------------------------------------------------------------------- drums

_DRUM_ACCENT = {"X": 1.0, "x": 0.8, "o": 0.42}


def drum_bar(groove: Groove, first: bool, fill: bool, rng) -> list[tuple]:
    """Drum hits of one bar as ``(beat position, GM key, accent)``.

    ``first`` adds a crash on beat one (a new section); ``fill`` replaces the last beat with a tom run.
    """
    hits = []
    last_beat_from = (groove.beats - 1) * groove.steps
    for key, pattern in groove.lanes:
        for step, ch in enumerate(pattern):
            if ch == "." or (fill and step >= last_beat_from):
                continue
            if key in (42, 51, 46) and rng.random() < 0.06:  # a dropped cymbal hit now and then
                continue
            hits.append((step / groove.steps, key, _DRUM_ACCENT[ch]))
    if fill:
        n = groove.steps
        for k in range(n):  # high tom down to floor tom
            hits.append((groove.beats - 1 + k / n, TOMS[k * len(TOMS) // n], 0.85))
        hits.append((groove.beats - 1, 38, 0.6))
    if first:
        hits.append((0.0, 49, 0.9))
    return hits


# ---------------------------------------------------------------------------------------------- bass

def _bass_root(pc: int) -> int:
    return _place(pc, 33, 44)


def bass_segment(kind: str, seg: Segment, groove: Groove, rng, memory: dict) -> list[tuple]:
    """Bass notes of one chord span as ``(position, duration, pitch, accent)`` in beats from the span start."""
    L, sub = seg.length, _sub(groove)
    root = _bass_root(seg.chord.root)
    iv = seg.chord.intervals
    third = root + (iv[1] if len(iv) > 1 and iv[1] < 7 else 4)
    fifth = root + 7 if root + 7 <= 50 else root - 5
    nxt = _bass_root(seg.next_root)
    eighths = [e / sub for e in range(int(round(L * sub)))]
    if kind == "root8":
        return [(p, 0.9 / sub, root + (12 if i == len(eighths) - 1 and rng.random() < 0.2 else 0),
                 1.0 if i % sub == 0 else 0.8) for i, p in enumerate(eighths)]
    if kind == "root16":
        return [(k / 4, 0.22, root, 1.0 if k % 4 == 0 else 0.75) for k in range(int(L * 4))]
    if kind == "root_quarter":
        return [(b, 0.9, root, 0.9) for b in range(int(L))]
    if kind == "octave":
        return [(p, 0.8 / sub, root + (12 if i % 2 else 0), 0.95 if i % 2 == 0 else 0.8)
                for i, p in enumerate(eighths)]
    if kind == "boogie":
        walk = (0, third - root, 7, 9, 10, 9, 7, third - root)
        return [(p, 0.9 / sub, root + walk[i % len(walk)], 0.9 if i % sub == 0 else 0.75)
                for i, p in enumerate(eighths)]
    if kind == "root_fifth":
        notes = [(0.0, 0.9, root, 1.0)]
        if L >= 2:
            notes.append((L / 2 if L % 2 == 0 else 2.0, 0.9, fifth, 0.85))
        if L >= 4 and rng.random() < 0.3:  # walk up into the next chord
            notes[-1:] = [(2.0, 0.9, fifth, 0.85), (3.0, 0.9, nxt - 1 if nxt - 1 > root else nxt + 1, 0.8)]
        return notes
    if kind in ("walking", "continuo"):
        return _walk(L, root, nxt, iv, rng, chromatic=kind == "walking")
    if kind == "reggae":
        template = memory.setdefault("reggae", _pick(rng, _REGGAE_BASS))
        degree = {"r": root, "3": third, "5": fifth, "8": root + 12, "b7": root + 10}
        return [(p, d, degree[x], a) for p, d, x, a in template if p < L]
    if kind == "kick":
        kick = next((pat for key, pat in groove.lanes if key == 36), None)
        if kick is None:
            return [(b, 0.9, root, 0.9) for b in range(int(L))]
        starts = [s / groove.steps - seg.start for s, ch in enumerate(kick) if ch != "."]
        starts = [p for p in starts if 0 <= p < L] or [0.0]
        if starts[0] > 0:
            starts.insert(0, 0.0)
        ends = starts[1:] + [L]
        return [(p, (e - p) * 0.95, root + (7 if i == 2 and rng.random() < 0.3 else 0), 1.0)
                for i, (p, e) in enumerate(zip(starts, ends))]
    if kind == "synco":
        ps = [p for p in (0.0, 1.5, 3.0, 3.5) if p < L]
        return [(p, 0.8 if p < 3 else 0.4, root + (12 if p == 3.5 else 0), 0.9) for p in ps]
    if kind == "pedal":
        if L >= 2 and rng.random() < 0.5:
            return [(0.0, L / 2 * 0.97, root, 0.9), (L / 2, L / 2 * 0.97, fifth, 0.8)]
        return [(0.0, L * 0.98, root, 0.9)]
    raise ValueError(f"unknown bass pattern {kind!r}")


#: One-bar reggae bass figures: (position, duration, degree, accent); they leave beat one empty or short.
_REGGAE_BASS = (
    ((0.0, 0.4, "r", 0.9), (0.5, 0.5, "r", 0.8), (1.5, 0.5, "5", 0.85), (2.5, 0.75, "8", 0.9), (3.5, 0.4, "b7", 0.8)),
    ((1.0, 0.45, "r", 0.9), (1.5, 0.25, "r", 0.75), (2.0, 0.75, "3", 0.9), (3.0, 0.45, "5", 0.85), (3.5, 0.4, "3", 0.8)),
    ((0.5, 0.5, "r", 0.9), (1.0, 0.5, "5", 0.8), (2.0, 1.0, "r", 0.95), (3.25, 0.5, "3", 0.8)),
)


def _walk(L: float, root: int, nxt: int, intervals, rng, chromatic: bool) -> list[tuple]:
    """Quarter-note walking line: root first, chord/scale tones, then an approach to the next root."""
    n = max(1, int(L))
    pitches = [root]
    tones = [root + i for i in intervals if i < 12] + [root + 2, root + 5, root + 9, root - 5 + 12 * (root < 38)]
    for b in range(1, n):
        if b == n - 1 and chromatic:
            pitches.append(nxt + (1 if rng.random() < 0.5 else -1))
        elif b == n - 1:
            pitches.append(nxt + (2 if rng.random() < 0.5 else -1))
        else:
            prev = pitches[-1]
            near = sorted(tones, key=lambda t: abs(t - prev) + rng.random() * 4)
            pitches.append(near[1] if near[0] == prev else near[0])
    return [(float(b), 0.92, int(np.clip(p, 28, 52)), 0.9 if b == 0 else 0.8) for b, p in enumerate(pitches)]


# ---------------------------------------------------------------------------------------------- chords

def comp_segment(kind: str, seg: Segment, groove: Groove, center: int, rootless: bool, rng,
                 memory: dict) -> list[tuple]:
    """Accompaniment of one chord span as ``(position, duration, pitches, accent)``."""
    L, sub = seg.length, _sub(groove)
    chord = _voice(seg.chord, center, rootless)
    power = _power(seg.chord)
    eighths = [e / sub for e in range(int(round(L * sub)))]
    on_beat = [abs(p - round(p)) < 1e-9 for p in eighths]
    if kind in ("block", "sustain"):
        return [(0.0, L * 0.98, chord, 0.8 if kind == "block" else 0.65)]
    if kind == "halves":
        return [(float(p), min(2.0, L - p) * 0.95, chord, 0.75) for p in range(0, int(L), 2)]
    if kind == "strum":
        return [(p, 0.9 / sub, chord, 0.85 if b else 0.6) for p, b in zip(eighths, on_beat) if b or rng.random() > 0.15]
    if kind == "strum_pop":
        keep = (0, 2, 3, 5, 6, 7) if sub == 2 else range(len(eighths))
        return [(eighths[e], 0.9 / sub * (2 if e in (0, 3) else 1), chord, 0.85 if on_beat[e] else 0.65)
                for e in keep if e < len(eighths)]
    if kind == "power8":
        return [(p, 0.55 / sub, power, 1.0 if b else 0.8) for p, b in zip(eighths, on_beat)]
    if kind == "power_sustain":
        return [(0.0, L * 0.97, power, 0.95)]
    if kind == "chug16":
        riff = memory.setdefault("chug", [k % 4 == 0 or rng.random() < 0.6 for k in range(16)])
        return [(k / 4, 0.2, power[:2], 1.0 if k % 4 == 0 else 0.8) for k in range(int(L * 4)) if riff[k % 16]]
    if kind == "skank":
        beats = (1, 3) if int(L) >= 4 else tuple(range(1, int(L)))
        return [(float(b), 0.22, chord, 0.85) for b in beats]
    if kind == "offbeat":
        return [(p, 0.3, chord, 0.75) for p, b in zip(eighths, on_beat) if not b]
    if kind == "bubble":
        low = [p - 12 for p in chord]
        return [(b + f, 0.18, low if f == 0.5 else chord, 0.7) for b in range(int(L)) for f in (0.5, 0.75)]
    if kind == "stabs":
        riff = memory.setdefault("stabs", [rng.random() < (0.55 if k % 2 else 0.25) for k in range(16)])
        return [(k / 4, 0.2, chord, 0.9) for k in range(int(L * 4)) if riff[k % 16]]
    if kind == "comping":
        shapes = ((0.0, 1.5), (1.5, 3.5), (0.5, 2.0), (1.5, 3.0), (2.5,), (0.0, 2.5), (1.0, 3.5))
        return [(p, _pick(rng, (0.3, 0.6, 1.2)), chord, 0.75) for p in _pick(rng, shapes) if p < L]
    if kind == "boom_chick":
        beats = (1, 3) if int(L) == 4 else tuple(range(1, int(L)))
        return [(float(b), 0.45, chord, 0.75) for b in beats]
    if kind == "shuffle_riff":
        root = _place(seg.chord.root, 40, 51)
        sixth = (7, 7, 9, 9) if rng.random() < 0.8 else (7, 7, 10, 9)
        return [(p, 0.9 / sub, [root, root + sixth[i % 4]], 0.9 if on_beat[i] else 0.75) for i, p in enumerate(eighths)]
    if kind == "arpeggio":
        notes = chord + [p + 12 for p in chord]
        order = notes + notes[-2:0:-1]
        step = 0.5 if sub == 2 else 1 / 3
        n = int(round(L / step))
        return [(k * step, min(L - k * step, 1.5), [order[k % len(order)]], 0.7) for k in range(n)]
    if kind == "alberti":
        lo, mid, hi = (chord + chord)[:3] if len(chord) < 3 else (chord[0], chord[1], chord[-1])
        figure = (lo - 12, hi, mid, hi)
        step = 0.5 if sub == 2 else 1 / 3
        return [(k * step, step * 0.95, [figure[k % 4]], 0.7) for k in range(int(round(L / step)))]
    if kind == "roll":
        notes = chord + [chord[0] + 12]
        figure = (0, 1, 2, 0, 1, 2, 0, 3)
        step = 0.25 if sub == 2 else 1 / 3
        return [(k * step, step * 1.5, [notes[figure[k % 8] % len(notes)]], 0.75) for k in range(int(round(L / step)))]
    raise ValueError(f"unknown accompaniment pattern {kind!r}")


# ---------------------------------------------------------------------------------------------- melody

def _scale_pitches(plan: Plan, low: int, high: int) -> np.ndarray:
    pcs = {(plan.key + s) % 12 for s in plan.scale}
    return np.array([p for p in range(low, high + 1) if p % 12 in pcs])


def _motif(plan: Plan, groove: Groove, rng) -> list[tuple]:
    """A one-bar rhythm with a scale-step contour: ``(position, duration, step)``."""
    if plan.lead == "rap":
        grid, density = 4, 2.6
    elif plan.lead == "solo":
        grid, density = 4 if groove.feel == "straight" else 3, plan.lead_density * 1.3
    else:
        grid = 3 if groove.feel == "compound" else (4 if plan.lead_density > 2.2 else 2)
        density = plan.lead_density
    n = groove.beats * grid
    strong = np.array([1.5 if k % grid == 0 else 1.0 for k in range(n)])
    onsets = [k for k in range(n) if rng.random() < min(0.95, density / grid * strong[k])] or [0]
    if plan.lead == "riff" and 0 not in onsets:
        onsets.insert(0, 0)
    ends = onsets[1:] + [n]
    legato = 0.5 if plan.lead == "rap" else rng.uniform(0.6, 0.95)
    steps = rng.choice([-2, -1, -1, 0, 1, 1, 2, 3, -3], size=len(onsets))
    if plan.lead == "rap":
        steps = rng.choice([-1, 0, 0, 0, 1], size=len(onsets))
    return [(k / grid, (e - k) / grid * legato, int(s)) for k, e, s in zip(onsets, ends, steps)]


def lead_bar(plan: Plan, groove: Groove, segs: list[Segment], bar_in_section: int, rng, memory: dict) -> list[tuple]:
    """Melody of one bar as ``(position, duration, pitch, accent)``; motifs repeat within a section."""
    if bar_in_section == 0 or "motif" not in memory:
        memory["motif"] = _motif(plan, groove, rng)
        memory["pitch"] = plan.lead_center
    motif = memory["motif"]
    if plan.lead != "riff" and rng.random() < 0.35:  # vary the repeat
        motif = _motif(plan, groove, rng) if rng.random() < 0.3 else motif[: max(1, len(motif) - 1)]
    span = 3 if plan.lead == "rap" else (14 if plan.lead == "solo" else 9)
    pool = _scale_pitches(plan, plan.lead_center - span, plan.lead_center + span)
    idx = int(np.argmin(np.abs(pool - (memory["pitch"] if plan.lead != "riff" else plan.lead_center))))
    notes = []
    for pos, dur, step in motif:
        idx = int(np.clip(idx + step, 0, len(pool) - 1))
        pitch = int(pool[idx])
        seg = next(s for s in reversed(segs) if s.start <= pos + 1e-9)
        if abs(pos - round(pos)) < 1e-9 and plan.lead != "rap":  # strong beat: land on a chord tone
            tones = [_place((seg.chord.root + i) % 12, pitch - 6, pitch + 6) for i in seg.chord.intervals]
            pitch = min(tones, key=lambda t: abs(t - pitch))
            idx = int(np.argmin(np.abs(pool - pitch)))
        notes.append((pos, max(dur, 0.08), pitch, 1.0 if pos == int(pos) else 0.85))
    memory["pitch"] = notes[-1][2] if notes else plan.lead_center
    return notes


# ---------------------------------------------------------------------------------------------- compose

def compose(genre: str, seed: int, seconds: float, shift: bool = False):
    """Compose one clip of ``genre`` as General MIDI.

    Parameters
    ----------
    genre : str
        One of :data:`genre_utils.genres.GENRES`.
    seed : int
        Seed of every choice (key, tempo, groove, instruments, arrangement, notes, timing jitter).
    seconds : float
        Clip length; the music runs :data:`TAIL_SECONDS` past it so the cut falls mid-note.
    shift : bool
        The "new data" variant: tempi just outside the style's range, instruments no style uses for that
        role, other dynamics and swing.

    Returns
    -------
    pretty_midi.PrettyMIDI
        Drums on channel 10 (``is_drum=True``), up to four pitched parts (bass, chords, pad, lead) with
        channel volume (CC 7) and reverb send (CC 91) set from the clip's mix.
    """
    import pretty_midi

    if genre not in STYLES:
        raise ValueError(f"unknown genre {genre!r}; choose one of {', '.join(GENRES)}")
    plan = make_plan(genre, seed, seconds, shift)
    groove = GROOVES[plan.groove]
    clock = Clock(plan)
    rng = _rng("notes", int(seed), genre, bool(shift))
    end_time = seconds + TAIL_SECONDS
    jitter = 0.004 if genre in ("disco", "hiphop") else 0.010

    pm = pretty_midi.PrettyMIDI(initial_tempo=plan.tempo)
    pm.time_signature_changes.append(pretty_midi.TimeSignature(*groove.meter, 0.0))
    parts = {"drums": pretty_midi.Instrument(program=0, is_drum=True, name="drums")}
    for role in ("bass", "comp", "pad", "lead"):
        if plan.programs[role] is not None:
            parts[role] = pretty_midi.Instrument(program=int(plan.programs[role]), name=role)

    def add(role, bar, pos, dur, pitch, accent, section):
        start = clock.time(bar, pos) + rng.normal(0, jitter)
        stop = clock.time(bar, pos + dur)
        if start >= end_time or pitch < 0 or pitch > 127:
            return
        vel = plan.velocity * accent * section.intensity * rng.uniform(0.9, 1.08)
        start = max(0.0, start)
        parts[role].notes.append(pretty_midi.Note(int(np.clip(vel, 1, 127)), int(pitch), start, max(stop, start + 0.05)))

    memories = {role: {} for role in parts}
    n_bars = len(plan.sections) * plan.section_bars
    for bar in range(n_bars):
        if clock.time(bar, 0) >= end_time:
            break
        s_idx, in_sec = divmod(bar, plan.section_bars)
        section = plan.sections[s_idx]
        segs = _segments(plan, bar)
        if section.drums:
            last = in_sec == plan.section_bars - 1
            nxt = plan.sections[s_idx + 1] if s_idx + 1 < len(plan.sections) else None
            fill = last and nxt is not None and nxt.drums and rng.random() < 0.7
            for pos, key, accent in drum_bar(groove, in_sec == 0 and s_idx > 0, fill, rng):
                add("drums", bar, pos, 0.1, key, accent, section)
        for seg in segs:
            if section.bass and "bass" in parts:
                for pos, dur, pitch, accent in bass_segment(plan.bass, seg, groove, rng, memories["bass"]):
                    add("bass", bar, seg.start + pos, dur, pitch, accent, section)
            if section.comp and "comp" in parts:
                rootless = plan.voicing == "ninth"
                for pos, dur, pitches, accent in comp_segment(plan.comp, seg, groove, plan.comp_center, rootless,
                                                              rng, memories["comp"]):
                    for k, pitch in enumerate(pitches):  # a strum spreads the chord by a few ms
                        add("comp", bar, seg.start + pos + 0.012 * k * (plan.comp.startswith("strum")),
                            dur, pitch, accent * 0.85, section)
            if section.pad and "pad" in parts:
                for pitch in _voice(seg.chord, plan.comp_center + 5):
                    add("pad", bar, seg.start, seg.length * 0.98, pitch, 0.55, section)
        if section.lead and "lead" in parts:
            for pos, dur, pitch, accent in lead_bar(plan, groove, segs, in_sec, rng, memories["lead"]):
                add("lead", bar, pos, dur, pitch, accent, section)

    for role, inst in parts.items():
        level = plan.levels[role]
        inst.control_changes.append(pretty_midi.ControlChange(7, int(np.clip(level * 120, 0, 127)), 0.0))
        inst.control_changes.append(pretty_midi.ControlChange(91, plan.reverb, 0.0))
        inst.notes.sort(key=lambda n: (n.start, n.pitch))
    if "lead" in parts and plan.bends > 0:
        _add_bends(parts["lead"], plan.bends, rng)
    pm.instruments.extend(inst for inst in parts.values() if inst.notes)
    return pm


def _add_bends(inst, probability: float, rng) -> None:
    """Scoop into some long notes from a semitone below (guitar/harmonica/steel style)."""
    import pretty_midi

    for note in inst.notes:
        if note.end - note.start > 0.3 and rng.random() < probability:
            for k, value in enumerate((-4096, -2048, -1024, 0)):
                inst.pitch_bends.append(pretty_midi.PitchBend(value, note.start + 0.025 * k))
    inst.pitch_bends.sort(key=lambda b: b.time)


# ---------------------------------------------------------------------------------------------- render

@lru_cache(maxsize=1)
def _soundfont() -> bytes:
    import pretty_midi

    return (Path(pretty_midi.__file__).parent / "TimGM6mb.sf2").read_bytes()


def synthesize(midi) -> tuple[np.ndarray, int]:
    """Render General MIDI with ``midirenderer`` and the TimGM6mb bank.

    Returns
    -------
    y : ndarray, shape (n_samples,), float32
        Mono mix (mean of the renderer's two channels).
    sample_rate : int
        The renderer's rate (48,000 Hz).
    """
    import midirenderer
    import soundfile as sf

    buf = io.BytesIO()
    midi.write(buf)
    if not any(inst.notes for inst in midi.instruments):
        return np.zeros(0, dtype=np.float32), 48000
    data, sr = sf.read(io.BytesIO(midirenderer.render_wave_from(_soundfont(), buf.getvalue())),
                       dtype="float32", always_2d=True)
    return data.mean(axis=1), int(sr)


def render(midi, seconds: float, sample_rate: int = 22050, seed: int = 0, shift: bool = False) -> np.ndarray:
    """Synthesize, resample, cut and post-process one clip.

    Parameters
    ----------
    midi : pretty_midi.PrettyMIDI
    seconds : float
        Output length; the audio is cut or zero-padded to exactly ``round(seconds * sample_rate)`` samples.
    sample_rate : int
        Output rate in Hz (resampled from the renderer's 48 kHz with soxr, high quality).
    seed : int
        Seed of the post-processing (EQ, saturation, reverb, noise, loudness).
    shift : bool
        "New data" processing (:data:`PRODUCTION`): harsher band limits, more saturation and reverb,
        more background noise, a wider loudness range.

    Returns
    -------
    y : ndarray, shape (round(seconds * sample_rate),), float32
        Peak below 1 (soft-limited), loudness set to a random target RMS.
    """
    import soxr

    y, sr = synthesize(midi)
    if y.size and sr != sample_rate:
        y = soxr.resample(y, sr, sample_rate, quality="HQ")
    n = int(round(seconds * sample_rate))
    y = np.pad(y[:n], (0, max(0, n - y.size))).astype(np.float64)
    rng = _rng("render", int(seed), bool(shift))
    return post_process(y, sample_rate, rng, shift).astype(np.float32)


@dataclass(frozen=True)
class Production:
    """Ranges of the per-track post-processing ("production") drawn in :func:`post_process`.

    Genre-independent on purpose: it varies the spectral envelope (which a mean over frames sees) without
    touching rhythm (which it does not).
    """

    highpass: tuple = (25.0, 100.0)      # Hz, log-uniform
    lowpass: tuple = (6000.0, 10500.0)   # Hz, log-uniform (capped at 0.45 * sr)
    tilt: tuple = (-0.2, 0.3)            # gain of a >1.5 kHz copy added back (treble cut/boost)
    saturation: float = 0.1              # probability of tanh saturation
    reverb: float = 0.3                  # probability of convolution reverb
    reverb_mix: tuple = (0.05, 0.25)
    loudness_db: tuple = (-21.0, -16.0)  # target RMS in dBFS (a random gain per track)
    snr_db: tuple = (28.0, 45.0)         # signal-to-noise ratio of the added background noise


#: Production of the training corpus (GTZAN and FMA trees) and of the shifted "new data".
PRODUCTION = {
    False: Production(),
    True: Production(highpass=(50.0, 250.0), lowpass=(3500.0, 9000.0), tilt=(-0.4, 0.6), saturation=0.3,
                     reverb=0.5, reverb_mix=(0.1, 0.4), loudness_db=(-28.0, -12.0), snr_db=(15.0, 30.0)),
}


def post_process(y: np.ndarray, sr: int, rng: np.random.Generator, shift: bool = False) -> np.ndarray:
    """The per-track production: EQ, saturation, reverb, loudness, background noise, soft limiter.

    Parameters
    ----------
    y : ndarray, shape (n_samples,), float64
    sr : int
        Sampling rate in Hz.
    rng : numpy.random.Generator
    shift : bool
        Use the "new data" ranges of :data:`PRODUCTION`.

    Returns
    -------
    ndarray, shape (n_samples,), float64
        Peak at most 0.98; an all-zero input is returned unchanged.
    """
    if not np.any(y):
        return y
    prod = PRODUCTION[bool(shift)]
    y = _equalise(y, sr, rng, prod)
    if rng.random() < prod.saturation:
        y = _saturate(y, rng)
    if rng.random() < prod.reverb:
        y = _reverb(y, sr, rng, prod.reverb_mix)
    y = y * (10 ** (rng.uniform(*prod.loudness_db) / 20) / _rms(y))
    snr_db = rng.uniform(*prod.snr_db)
    y = y + _noise(y.size, sr, rng) * (_rms(y) / 10 ** (snr_db / 20))
    return _limit(y)


def _rms(y: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(y)))) + 1e-12


def _loguniform(rng, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _equalise(y, sr, rng, prod: Production):
    """Random band limits (a high-pass and a low-pass) and a spectral tilt around 1.5 kHz."""
    from scipy.signal import butter, sosfilt

    low = _loguniform(rng, *prod.highpass)
    high = min(_loguniform(rng, *prod.lowpass), 0.45 * sr)
    y = sosfilt(butter(2, [low, high], btype="bandpass", fs=sr, output="sos"), y)
    tilt = rng.uniform(*prod.tilt)
    return y + tilt * sosfilt(butter(1, 1500, btype="highpass", fs=sr, output="sos"), y)


def _saturate(y, rng):
    drive = rng.uniform(1.5, 4.0)
    peak = np.max(np.abs(y)) + 1e-12
    return np.tanh(drive * y / peak) / np.tanh(drive) * peak


def _reverb(y, sr, rng, mix):
    """Convolution with exponentially decaying noise (RT60 0.3-1.8 s, 10 ms pre-delay)."""
    from scipy.signal import fftconvolve

    rt60 = rng.uniform(0.3, 1.8)
    t = np.arange(int(min(rt60, 1.2) * sr)) / sr
    ir = rng.standard_normal(t.size) * np.exp(-6.91 * t / rt60)
    ir[: int(0.01 * sr)] = 0.0
    wet = fftconvolve(y, ir)[: y.size]
    return y + rng.uniform(*mix) * wet * (_rms(y) / _rms(wet))


def _noise(n: int, sr: int, rng) -> np.ndarray:
    """Unit-RMS background: white, pink or brown noise, sometimes with mains hum or crackle."""
    from scipy import fft

    colour = _pick(rng, (0.0, 1.0, 2.0))
    m = fft.next_fast_len(n, real=True)  # shape white noise in the frequency domain, on a fast FFT size
    f = np.fft.rfftfreq(m, 1 / sr)
    f[0] = f[1]
    x = fft.irfft(fft.rfft(rng.standard_normal(m)) * (f / 1000.0) ** (-colour / 2), m)[:n]
    if rng.random() < 0.15:
        mains = _pick(rng, (50.0, 60.0))
        t = np.arange(n) / sr
        x = x / _rms(x) + 2.0 * sum(np.sin(2 * np.pi * mains * h * t) / h for h in (1, 2, 3))
    if rng.random() < 0.1:
        clicks = np.zeros(n)
        where = rng.integers(0, n, size=int(n / sr * rng.uniform(2, 15)))
        clicks[where] = rng.standard_normal(where.size) * 30
        x = x / _rms(x) + clicks
    return x / _rms(x)


def _limit(y: np.ndarray, ceiling: float = 0.98) -> np.ndarray:
    peak = np.max(np.abs(y))
    if peak <= ceiling:
        return y
    knee = 0.8 * ceiling  # linear below the knee, tanh-compressed above it
    over = np.abs(y) > knee
    out = y.copy()
    out[over] = np.sign(y[over]) * (knee + (ceiling - knee) * np.tanh((np.abs(y[over]) - knee) / (ceiling - knee)))
    return out


# ---------------------------------------------------------------------------------------------- FMA metadata

#: The FMA side of the corpus: group, fma_medium track count (the weight), genre-id variants (a track's
#: ``track.genres``), and the styles its audio is composed in. Groups outside the ten labels (and the
#: ``ambiguous`` multi-genre tags) must be eliminated by the pipeline; Metal, Disco and Reggae - Dub are
#: sub-genres, so only ``track.genres``/``genres_all`` reveal them.
FMA_MIX: tuple[tuple, ...] = (
    ("rock", 6200, ((12,), (66,), (25,), (12, 66), (27,), (45,), (12, 15)), ("rock",)),
    ("electronic", 6314, ((15,), (181,), (182,), (296,), (286,), (15, 236)), ("disco", "hiphop", "pop")),
    ("experimental", 2251, ((38,), (1,), (250,), (38, 47), (32,)), GENRES),
    ("hiphop", 2201, ((21,), (21, 100), (539,), (811,), (21, 15)), ("hiphop",)),
    ("folk", 1519, ((17,), (103,), (17, 33)), ("country", "classical")),
    ("instrumental", 1350, ((1235,),), ("classical", "jazz", "pop")),
    ("pop", 1186, ((10,), (76,), (362,), (10, 76)), ("pop",)),
    ("metal", 900, ((31,), (101,), (31, 12), (167,), (31, 45)), ("metal",)),
    ("international", 768, ((2,),), ("reggae", "country", "pop")),
    ("classical", 619, ((5,), (322,), (442,), (659,)), ("classical",)),
    ("old-time", 510, ((8,),), ("jazz", "blues", "country")),
    ("jazz", 384, ((4,), (179,), (906,)), ("jazz",)),
    ("reggae", 250, ((79,), (602,), (79, 2)), ("reggae",)),
    ("ambiguous", 200, ((3, 4), (9, 10), (10, 12)), ("blues", "country", "pop")),
    ("country", 178, ((9,), (63,), (137,), (651,)), ("country",)),
    ("spoken", 118, ((20,),), ("classical",)),
    ("soul-rnb", 94, ((14,), (19,)), ("disco", "hiphop")),
    ("blues", 74, ((3,),), ("blues",)),
    ("disco", 60, ((11,), (11, 14)), ("disco",)),
    ("easy-listening", 21, ((13,),), ("jazz", "pop")),
)

#: fma_small holds 8 top genres; tracks of these may be marked subset 'small'.
_SMALL_TOPS = {"Electronic", "Experimental", "Folk", "Hip-Hop", "Instrumental", "International", "Pop", "Rock"}

_ADJ = ("Velvet", "Electric", "Silent", "Golden", "Broken", "Crimson", "Hollow", "Lucky", "Midnight", "Paper",
        "Neon", "Rusty", "Wild", "Quiet", "Northern", "Burning", "Blue", "Lonesome", "Cosmic", "Iron")
_NOUN = ("Owls", "Rivers", "Engines", "Lanterns", "Foxes", "Saints", "Wires", "Harbors", "Comets", "Ghosts",
         "Horses", "Pilots", "Echoes", "Tigers", "Gardens", "Radios", "Stones", "Sparrows", "Machines", "Drifters")
_FIRST = ("Ada", "Bruno", "Clara", "Dev", "Elif", "Femi", "Greta", "Hugo", "Ines", "Jonah", "Kaito", "Lena",
          "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tove")
_LAST = ("Marsh", "Okafor", "Lindqvist", "Moreau", "Tanaka", "Reyes", "Novak", "Brennan", "Haddad", "Kowalski",
         "Silva", "Fischer", "Abara", "Castillo", "Petrov", "Doyle", "Mensah", "Varga", "Holm", "Baptiste")


def fma_counts(n_tracks: int) -> dict[str, int]:
    """Tracks per :data:`FMA_MIX` group: two for each of the ten labels first, the rest by fma_medium weight.

    With fewer than 20 tracks the labels get one each, in order of weight, until tracks run out.
    """
    counts = {group: 0 for group, *_ in FMA_MIX}
    labelled = sorted((g for g, *_ in FMA_MIX if g in GENRES), key=lambda g: -dict((x[0], x[1]) for x in FMA_MIX)[g])
    left = int(n_tracks)
    for _ in range(2):
        for g in labelled:
            if left > 0:
                counts[g] += 1
                left -= 1
    weights = np.array([w for _, w, *_ in FMA_MIX], dtype=float)
    share = weights / weights.sum() * left
    extra = np.floor(share).astype(int)
    for i in np.argsort(-(share - extra), kind="stable")[: left - extra.sum()]:  # largest remainders
        extra[i] += 1
    for (group, *_), k in zip(FMA_MIX, extra):
        counts[group] += int(k)
    return counts


def _artist_names(n: int, rng) -> list[str]:
    templates = ("The {a} {n}", "{f} {l}", "{f} & the {n}", "DJ {a}", "{a} {n}", "MC {l}", "{l} Quartet")
    names: list[str] = []
    while len(names) < n:
        name = _pick(rng, templates).format(a=_pick(rng, _ADJ), n=_pick(rng, _NOUN), f=_pick(rng, _FIRST),
                                            l=_pick(rng, _LAST))
        if name in names:
            name = f"{name} {len(names)}"
        names.append(name)
    return names


def _date(rng, first="2008-11-25", last="2017-03-30") -> str:
    t0, t1 = pd.Timestamp(first).value // 10**9, pd.Timestamp(last).value // 10**9
    return str(pd.Timestamp(int(rng.integers(t0, t1)), unit="s"))


@dataclass(frozen=True)
class FmaTrack:
    track_id: int
    group: str
    genre_ids: tuple
    style: str          # the genre whose style the audio is composed in
    shift: bool
    artist: int         # index into the artist list
    split: str
    seconds: float      # length of the audio actually written (metadata always says clip_seconds)
    audio: str          # 'ok' | 'empty' | 'missing' | 'short'

    @property
    def relpath(self) -> str:
        return fma_relpath(self.track_id)


def fma_relpath(track_id: int) -> str:
    """Audio path of an FMA track relative to ``out_dir`` (``fma/fma_medium/NNN/NNNNNN.mp3``)."""
    tid = f"{int(track_id):06d}"
    return f"fma/fma_medium/{tid[:3]}/{tid}.mp3"


SPLIT_FRACTIONS = {"training": 0.8, "validation": 0.1, "test": 0.1}


def _artists_and_splits(groups: list[str], rng) -> tuple[list[int], list[str]]:
    """Artist of every track and split of every artist (so the split is artist-filtered, as in FMA).

    Each group's tracks are cut into artists of 1-5 tracks; artists are then dealt, in random order, to
    the split furthest below its target share (:data:`SPLIT_FRACTIONS`) within the group and overall.

    Returns
    -------
    artist_of : list of int
        Artist index of each track.
    split_of : list of str
        Split of each artist.
    """
    artist_of = [0] * len(groups)
    split_of: list[str] = []
    overall = dict.fromkeys(SPLIT_FRACTIONS, 0)
    for group in dict.fromkeys(groups):
        members = [i for i, g in enumerate(groups) if g == group]
        sizes = []
        while sum(sizes) < len(members):
            sizes.append(min(int(rng.integers(1, 6)), len(members) - sum(sizes)))
        first = len(split_of)
        for k, m in enumerate(members):
            artist_of[m] = first + int(np.searchsorted(np.cumsum(sizes), k, side="right"))
        here = dict.fromkeys(SPLIT_FRACTIONS, 0)
        split_of.extend([""] * len(sizes))
        for a in rng.permutation(len(sizes)):
            size = sizes[a]

            def deficit(split):
                return (SPLIT_FRACTIONS[split] * (sum(here.values()) + size) - here[split]
                        + SPLIT_FRACTIONS[split] * (sum(overall.values()) + size) - overall[split])

            split = max(SPLIT_FRACTIONS, key=deficit)
            split_of[first + int(a)] = split
            here[split] += size
            overall[split] += size
    return artist_of, split_of


def plan_fma(n_tracks: int, clip_seconds: float, seed: int) -> tuple[list[FmaTrack], list[str]]:
    """The FMA tracks (``n_tracks`` good ones plus three broken) and artist names, all from ``seed``."""
    rng = _rng("fma-plan", int(seed))
    counts = fma_counts(n_tracks)
    specs = []  # (group, genre ids, style, shift, audio)
    for group, _, variants, styles in FMA_MIX:
        for _ in range(counts[group]):
            specs.append((group, _pick(rng, variants), _pick(rng, styles), group not in GENRES, "ok"))
    specs += [("rock", (12,), "rock", False, "empty"), ("hiphop", (21,), "hiphop", False, "missing"),
              ("pop", (10,), "pop", False, "short")]
    ids = np.sort(rng.choice(np.arange(2, 155321), size=len(specs), replace=False))
    order = rng.permutation(len(specs))  # ids are not grouped by genre
    artist_of, split_of = _artists_and_splits([group for group, *_ in specs], rng)
    tracks = []
    for i, (group, gids, style, shift, audio) in enumerate(specs):
        seconds = 2.5 if audio == "short" else float(clip_seconds)
        tracks.append(FmaTrack(int(ids[order[i]]), group, tuple(gids), style, shift, artist_of[i],
                               split_of[artist_of[i]], seconds, audio))
    tracks.sort(key=lambda t: t.track_id)
    return tracks, _artist_names(len(split_of), rng)


def fma_tracks_table(tracks: list[FmaTrack], artist_names: list[str], clip_seconds: float, seed: int) -> pd.DataFrame:
    """``tracks.csv`` as the real FMA writes it: 52 columns under a two-level header, index ``track_id``."""
    genres = load_fma_genres()
    rng = _rng("fma-table", int(seed))
    artist_ids = np.sort(rng.choice(np.arange(1, 25000), size=len(artist_names), replace=False))
    artist_date = [_date(rng) for _ in artist_names]
    rows = {}
    for t in tracks:
        album_id = int(artist_ids[t.artist]) * 3 % 22000 + int(rng.integers(2))
        top = fma_genre_top(t.genre_ids, genres) or np.nan
        rows[t.track_id] = {
            ("album", "comments"): 0, ("album", "date_created"): artist_date[t.artist],
            ("album", "date_released"): _date(rng) if rng.random() < 0.6 else np.nan,
            ("album", "engineer"): np.nan, ("album", "favorites"): int(rng.integers(0, 8)),
            ("album", "id"): album_id, ("album", "information"): np.nan,
            ("album", "listens"): int(rng.integers(50, 50000)), ("album", "producer"): np.nan,
            ("album", "tags"): "[]", ("album", "title"): f"{_pick(rng, _ADJ)} {_pick(rng, _NOUN)}",
            ("album", "tracks"): int(rng.integers(1, 16)), ("album", "type"): "Album",
            ("artist", "active_year_begin"): np.nan, ("artist", "active_year_end"): np.nan,
            ("artist", "associated_labels"): np.nan, ("artist", "bio"): np.nan, ("artist", "comments"): 0,
            ("artist", "date_created"): artist_date[t.artist], ("artist", "favorites"): int(rng.integers(0, 30)),
            ("artist", "id"): int(artist_ids[t.artist]), ("artist", "latitude"): np.nan,
            ("artist", "location"): np.nan, ("artist", "longitude"): np.nan, ("artist", "members"): np.nan,
            ("artist", "name"): artist_names[t.artist], ("artist", "related_projects"): np.nan,
            ("artist", "tags"): "[]", ("artist", "website"): np.nan, ("artist", "wikipedia"): np.nan,
            ("set", "split"): t.split,
            ("set", "subset"): "small" if top in _SMALL_TOPS and rng.random() < 0.3 else "medium",
            ("track", "bit_rate"): FMA_KBPS * 1000, ("track", "comments"): 0, ("track", "composer"): np.nan,
            ("track", "date_created"): _date(rng), ("track", "date_recorded"): np.nan,
            ("track", "duration"): int(round(clip_seconds)), ("track", "favorites"): int(rng.integers(0, 10)),
            ("track", "genre_top"): top, ("track", "genres"): str(list(t.genre_ids)),
            ("track", "genres_all"): str(fma_genres_all(t.genre_ids, genres)), ("track", "information"): np.nan,
            ("track", "interest"): int(rng.integers(20, 20000)), ("track", "language_code"): "en" if rng.random() < 0.4 else np.nan,
            ("track", "license"): "Attribution-NonCommercial-ShareAlike 3.0 International",
            ("track", "listens"): int(rng.integers(10, 10000)), ("track", "lyricist"): np.nan,
            ("track", "number"): int(rng.integers(1, 12)), ("track", "publisher"): np.nan, ("track", "tags"): "[]",
            ("track", "title"): f"{_pick(rng, _ADJ)} {_pick(rng, _NOUN)}",
        }
    columns = pd.MultiIndex.from_tuples(FMA_TRACKS_COLUMNS)
    table = pd.DataFrame.from_dict(rows, orient="index")[columns]
    table.index.name = "track_id"
    return table


# ---------------------------------------------------------------------------------------------- the corpus

@dataclass(frozen=True)
class Job:
    """One audio file to render."""

    relpath: str
    genre: str
    seed: int
    seconds: float
    shift: bool
    fmt: str            # 'wav' or 'mp3'
    sample_rate: int


def _render_job(out_dir: str, job: Job) -> str:
    midi = compose(job.genre, job.seed, job.seconds, job.shift)
    y = render(midi, job.seconds, job.sample_rate, seed=job.seed, shift=job.shift)
    path = Path(out_dir) / job.relpath
    if job.fmt == "mp3":
        write_mp3(path, y, job.sample_rate, FMA_KBPS)
    else:
        write_wav(path, y, job.sample_rate)
    return job.relpath


def _render_job_args(args) -> str:
    return _render_job(*args)


def _gtzan_indices(genre: str, n: int) -> list[int]:
    """Good clip indices of one genre: ``0 .. n-1``, except that jazz skips the broken index 54."""
    indices = [i for i in range(n + 1) if not (genre == "jazz" and i == GTZAN_BROKEN_JAZZ)]
    return indices[:n]


def plan_corpus(profile: Profile, seed: int):
    """All render jobs, the FMA tracks and the broken files of one corpus (nothing is written).

    Returns
    -------
    jobs : list of Job
    fma : tuple (tracks, artist names)
    broken : list of dict
        ``path`` (relative to ``out_dir``), ``reason`` and ``kind`` of every deliberately broken file.
    """
    n, secs = profile.synth_tracks_per_genre, float(profile.clip_seconds)
    jobs = []
    for genre in GENRES:
        for i in _gtzan_indices(genre, n):
            rel = f"gtzan/genres_original/{genre}/{genre}.{i:05d}.wav"
            jobs.append(Job(rel, genre, _stable_int(seed, "gtzan", genre, i), secs, False, "wav", GTZAN_SAMPLE_RATE))
    for genre in GENRES:
        for i in range(profile.synth_newdata_per_genre):
            rel = f"newdata/{genre}/{genre}-new-{i:03d}.wav"
            jobs.append(Job(rel, genre, _stable_int(seed, "newdata", genre, i), secs, True, "wav", GTZAN_SAMPLE_RATE))
    tracks, artists = plan_fma(profile.synth_fma_tracks, secs, seed)
    for t in tracks:
        if t.audio in ("ok", "short"):
            jobs.append(Job(t.relpath, t.style, _stable_int(seed, "fma", t.track_id), t.seconds, t.shift, "mp3",
                            FMA_SAMPLE_RATE))
    short = f"gtzan/genres_original/rock/rock.{n:05d}.wav"
    jobs.append(Job(short, "rock", _stable_int(seed, "gtzan", "rock", n), 3.0, False, "wav", GTZAN_SAMPLE_RATE))
    broken = [
        {"path": f"gtzan/genres_original/jazz/jazz.{GTZAN_BROKEN_JAZZ:05d}.wav", "kind": "not_riff",
         "reason": "not a RIFF/WAV file (as jazz.00054 in the Kaggle copy of GTZAN)"},
        {"path": f"gtzan/genres_original/blues/blues.{n:05d}.wav", "kind": "silent",
         "reason": f"silent: {secs:g} s of digital zeros"},
        {"path": short, "kind": "short", "reason": "too short: 3 s, less than one 5-s window"},
        {"path": "gtzan/genres_original/.DS_Store", "kind": "ds_store", "reason": "macOS folder metadata, not audio"},
        {"path": "gtzan/genres_original/pop/.DS_Store", "kind": "ds_store", "reason": "macOS folder metadata, not audio"},
        {"path": "newdata/reggae/reggae-new-cut.wav", "kind": "truncated",
         "reason": "WAV cut off after 1.5 s of audio (header claims more): too short"},
    ]
    for t in tracks:
        if t.audio == "empty":
            broken.append({"path": t.relpath, "kind": "empty", "reason": "empty file (0 bytes)"})
        elif t.audio == "missing":
            broken.append({"path": t.relpath, "kind": "missing", "reason": f"track {t.track_id} in tracks.csv has no audio file"})
        elif t.audio == "short":
            broken.append({"path": t.relpath, "kind": "short",
                           "reason": f"too short: 2.5 s of audio although tracks.csv says {int(round(secs))} s"})
    return jobs, (tracks, artists), broken


def _write_broken(out: Path, broken: list[dict], profile: Profile, seed: int) -> None:
    """Write the broken files that are not render jobs (the too-short GTZAN and FMA clips are)."""
    import soundfile as sf

    rng = _rng("broken", int(seed))
    for item in broken:
        path = out / item["path"]
        kind = item["kind"]
        if kind == "not_riff":
            atomic_write_bytes(path, b"\x00\x00\x00\x18ftypM4A " + rng.bytes(4096))
        elif kind == "silent":
            write_wav(path, np.zeros(int(round(profile.clip_seconds * GTZAN_SAMPLE_RATE)), np.float32), GTZAN_SAMPLE_RATE)
        elif kind == "ds_store":
            atomic_write_bytes(path, b"\x00\x00\x00\x01Bud1" + bytes(2048))
        elif kind == "empty":
            atomic_write_bytes(path, b"")
        elif kind == "truncated":
            y = render(compose("reggae", _stable_int(seed, "newdata-cut"), 3.0, True), 3.0, GTZAN_SAMPLE_RATE, seed=1)
            buf = io.BytesIO()
            sf.write(buf, y, GTZAN_SAMPLE_RATE, format="WAV", subtype="PCM_16")
            atomic_write_bytes(path, buf.getvalue()[: 44 + int(1.5 * GTZAN_SAMPLE_RATE) * 2])


def corpus_fingerprint(profile: str | Profile = "quick", seed: int | None = None) -> str:
    """Fingerprint of a corpus: the profile's synth fields, the seed, :data:`SYNTH_VERSION`, the code of this
    module (and what it imports) and the library versions it depends on."""
    profile = get_profile(profile)
    seed = profile.seed if seed is None else int(seed)
    fields = {f: getattr(profile, f) for f in SYNTH_FIELDS}
    return fingerprint(fields, seed, SYNTH_VERSION, code_fingerprint("synth"), library_key("corpus"))


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _write_json(path: Path, data) -> None:
    atomic_write_bytes(path, json.dumps(data, indent=1, sort_keys=True).encode())


def _prepare(out: Path, fp: str, have_corpus: bool) -> bool:
    """Make ``out`` ready for a render with fingerprint ``fp``; True when an interrupted render resumes."""
    progress = _read_json(out / PROGRESS_JSON)
    if progress is not None and progress.get("fingerprint") == fp:
        return True
    ours = have_corpus or progress is not None
    trees = [out / t for t in TREES]
    if not ours and any(t.exists() and any(t.iterdir()) for t in trees):
        raise FileExistsError(
            f"{out} already holds gtzan/, fma/ or newdata/ that genre-utils synth did not write "
            f"(no {CORPUS_JSON}); refusing to overwrite it: choose an empty --out")
    out.mkdir(parents=True, exist_ok=True)
    _write_json(out / PROGRESS_JSON, {"fingerprint": None, "state": "clearing"})  # ours, not resumable
    (out / CORPUS_JSON).unlink(missing_ok=True)
    for t in trees:  # a stale corpus of another fingerprint: start over
        shutil.rmtree(t, ignore_errors=True)
    _write_json(out / PROGRESS_JSON, {"fingerprint": fp, "state": "rendering"})
    return False


def _corpus_files(out: Path) -> list[Path]:
    """Every file of the three trees (not the temporary ``*.part`` files of an interrupted write)."""
    files = []
    for tree in TREES:
        files += [p for p in (out / tree).rglob("*") if p.is_file() and not p.name.endswith(".part")]
    return sorted(files)


def _file_record(out: Path) -> dict:
    """``relpath -> [size, sha256]`` of every file of the corpus (stored in ``corpus.json``)."""
    return {p.relative_to(out).as_posix(): [p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest()]
            for p in _corpus_files(out)}


def check_corpus(out_dir, verify: bool = False) -> list[str]:
    """Files of a rendered corpus that are missing or differ from ``corpus.json`` (empty: all good).

    Sizes are always compared; with ``verify`` the SHA-256 of every file too.
    """
    out = Path(out_dir)
    stored = _read_json(out / CORPUS_JSON)
    files = stored.get("files") if isinstance(stored, dict) else None
    if not isinstance(files, dict) or not files:
        return [CORPUS_JSON]
    bad = []
    for rel, (size, digest) in sorted(files.items()):
        path = out / rel
        if not path.is_file() or path.stat().st_size != size:
            bad.append(rel)
        elif verify and hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            bad.append(rel)
    return bad


def _init_worker() -> None:
    """Worker start-up: ignore Ctrl-C (the parent reports it, once) and warm up."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _warm_up()


def _warm_up() -> None:
    """Import the renderer's libraries and read the SoundFont once, before worker processes fork."""
    import lameenc  # noqa: F401
    import midirenderer  # noqa: F401
    import pretty_midi  # noqa: F401
    import scipy.fft  # noqa: F401
    import scipy.signal  # noqa: F401
    import soundfile  # noqa: F401
    import soxr  # noqa: F401

    _soundfont()


def _run(out: Path, jobs: list[Job], workers: int | None, progress: bool) -> None:
    from tqdm.auto import tqdm

    _warm_up()

    workers = max(1, min(workers or num_threads(), len(jobs)))
    bar = tqdm(total=len(jobs), desc="synth corpus", unit="clip", disable=None if progress else True)
    try:
        if workers == 1 or len(jobs) < 2:
            for job in jobs:
                _render_job(str(out), job)
                bar.update()
        else:
            from concurrent.futures import ProcessPoolExecutor

            pool = ProcessPoolExecutor(max_workers=workers, initializer=_init_worker)
            try:
                for _ in pool.map(_render_job_args, [(str(out), j) for j in jobs], chunksize=1):
                    bar.update()
            except BaseException:
                # Ctrl-C or a failed job: drop the queued jobs and stop the workers now (they ignore SIGINT;
                # every file is written atomically, so a killed worker leaves no half file)
                procs = list((pool._processes or {}).values())
                pool.shutdown(wait=False, cancel_futures=True)
                for proc in procs:
                    proc.terminate()
                raise
            pool.shutdown()
    finally:
        bar.close()


def render_corpus(out_dir, profile: str | Profile = "quick", seed: int | None = None, progress: bool = True,
                  workers: int | None = None, verify: bool = False) -> dict:
    """Compose, render and write the synthetic corpus in the GTZAN and FMA layouts (see the module docstring).

    Parameters
    ----------
    out_dir : path-like
        Where the three trees and ``corpus.json`` go.
    profile : str or Profile
        Sizes: ``synth_tracks_per_genre``, ``synth_fma_tracks``, ``synth_newdata_per_genre``, ``clip_seconds``.
    seed : int, optional
        Defaults to ``profile.seed``.
    progress : bool
        Show a tqdm bar (hidden anyway when not on a terminal).
    workers : int, optional
        Processes; default :func:`genre_utils.config.num_threads`. The files do not depend on it.
    verify : bool
        Check the SHA-256 of every file of a reused corpus against ``corpus.json`` (the sizes are always
        checked); a file that differs is rendered again.

    Returns
    -------
    dict
        ``fingerprint``, ``cached`` (True when ``corpus.json`` already matched and nothing was done),
        ``counts`` (clips per genre in ``gtzan`` and ``newdata``; FMA tracks per group and per mapped
        label in ``fma`` / ``fma_labels``), ``fma_expected`` (track id -> label or None), ``broken`` (path,
        kind, reason), ``seconds`` (render time), ``paths`` (the three roots) and the parameters.

    Raises
    ------
    FileExistsError
        ``out_dir`` holds GTZAN/FMA-looking folders that this function did not write.
    """
    t0 = time.perf_counter()
    profile = get_profile(profile)
    seed = profile.seed if seed is None else int(seed)
    out = Path(out_dir)
    fp = corpus_fingerprint(profile, seed)
    stored = _read_json(out / CORPUS_JSON)
    if stored is not None and stored.get("fingerprint") == fp:
        bad = check_corpus(out, verify)
        if not bad:
            return {**stored, "cached": True}
        print(f"corpus {out}: {bad[0]}{f' and {len(bad) - 1} more files' if len(bad) > 1 else ''} missing, "
              "truncated or changed; rendering again", file=sys.stderr, flush=True)
        _write_json(out / PROGRESS_JSON, {"fingerprint": fp, "state": "repairing"})
        (out / CORPUS_JSON).unlink(missing_ok=True)
        for rel in bad:
            if rel != CORPUS_JSON:
                (out / rel).unlink(missing_ok=True)
    resume = _prepare(out, fp, stored is not None)
    if resume:  # temporary files of writes that were interrupted
        for tree in TREES:
            for tmp in (out / tree).rglob(".*.part"):
                tmp.unlink(missing_ok=True)

    jobs, (tracks, artists), broken = plan_corpus(profile, seed)
    todo = [j for j in jobs if not (resume and (out / j.relpath).is_file())]
    _run(out, todo, workers, progress)
    _write_broken(out, broken, profile, seed)
    table = fma_tracks_table(tracks, artists, profile.clip_seconds, seed)
    buf = io.StringIO()
    table.to_csv(buf)
    atomic_write_bytes(out / "fma/fma_metadata/tracks.csv", buf.getvalue().encode())
    genres_csv = resources.files("genre_utils").joinpath("data/fma_genres.csv").read_bytes()
    atomic_write_bytes(out / "fma/fma_metadata/genres.csv", genres_csv)

    summary = _summary(profile, seed, fp, jobs, tracks, broken, resumed=len(jobs) - len(todo))
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    summary["files"] = _file_record(out)
    _write_json(out / CORPUS_JSON, summary)
    (out / PROGRESS_JSON).unlink(missing_ok=True)
    return {**summary, "cached": False}


def _summary(profile: Profile, seed: int, fp: str, jobs, tracks, broken, resumed: int) -> dict:
    genres = load_fma_genres()
    gtzan = {g: sum(1 for j in jobs if j.relpath.startswith(f"gtzan/genres_original/{g}/")) for g in GENRES}
    gtzan["rock"] -= 1  # the too-short clip is a job but not a good clip
    newdata = {g: sum(1 for j in jobs if j.relpath.startswith(f"newdata/{g}/")) for g in GENRES}
    good = [t for t in tracks if t.audio == "ok"]
    expected = {t.track_id: map_fma_track(t.genre_ids, genres)[0] for t in tracks}
    labels = {g: sum(1 for t in good if expected[t.track_id] == g) for g in GENRES}
    labels["eliminated"] = sum(1 for t in good if expected[t.track_id] is None)
    groups = {}
    for t in good:
        groups[t.group] = groups.get(t.group, 0) + 1
    return {
        "fingerprint": fp,
        "version": SYNTH_VERSION,
        "profile": profile.name,
        "seed": seed,
        "synth": {f: getattr(profile, f) for f in SYNTH_FIELDS},
        "libraries": library_key("corpus"),
        "sample_rates": {"gtzan": GTZAN_SAMPLE_RATE, "fma": FMA_SAMPLE_RATE, "newdata": GTZAN_SAMPLE_RATE},
        "paths": {"gtzan": "gtzan/genres_original", "fma": "fma", "newdata": "newdata"},
        "counts": {"gtzan": gtzan, "fma": groups, "fma_labels": labels, "newdata": newdata},
        "fma_expected": {str(k): v for k, v in expected.items()},
        "broken": broken,
        "files_rendered": len(jobs) - resumed,
        "files_resumed": resumed,
    }
