"""Composition: a style sheet turned into one clip of General MIDI (:func:`compose`).

Every per-track choice (key, tempo, groove, instruments, arrangement, mix) is drawn up front into a
:class:`Plan` (:func:`make_plan`); the parts (drums, bass, chords, pad, lead) are then written bar by bar,
with the groove's feel and the clip's swing applied by a :class:`Clock`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from ..genres import GENRES
from ..styles import GROOVES, PROGRESSIONS, SHIFT_PROGRAMS, STYLES, TOMS, GenreStyle, Groove
from .seeding import pick, seeded_rng

__all__ = ["TAIL_SECONDS", "SCALES", "Chord", "parse_chord", "Plan", "make_plan", "compose"]

TAIL_SECONDS = 0.5  # composed past the clip end, so notes ring into the cut instead of stopping


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
        return pick(rng, SHIFT_PROGRAMS[role])
    if rng.random() < style.substitution:
        other = getattr(STYLES[pick(rng, GENRES)], f"{role}_programs")
        if other:
            return pick(rng, other)
    return pick(rng, pool) if pool else None


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
    rng = seeded_rng("compose", int(seed), genre, bool(shift))
    groove_name = pick(rng, style.grooves)
    groove = GROOVES[groove_name]
    tempo = _draw_tempo(style, groove, rng, shift)
    swing = float(rng.uniform(*style.swing))
    if shift:
        swing = float(np.clip(swing + rng.uniform(-0.04, 0.04), 0.0, 1 / 6))
    progression = pick(rng, style.progressions)
    minor = PROGRESSIONS[progression][0].lstrip("b#")[0].islower()
    scale_name = pick(rng, style.scales)
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
    lead = pick(rng, style.lead)
    plan = Plan(
        genre=genre, tempo=tempo, groove=groove_name, swing=swing, swing_unit=style.swing_unit,
        key=int(rng.integers(12)), progression=progression, voicing=pick(rng, style.voicing),
        scale=SCALES[scale_name], bass=pick(rng, style.bass), comp=pick(rng, style.comp), lead=lead,
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
        template = memory.setdefault("reggae", pick(rng, _REGGAE_BASS))
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
    ((1.0, 0.45, "r", 0.9), (1.5, 0.25, "r", 0.75), (2.0, 0.75, "3", 0.9), (3.0, 0.45, "5", 0.85),
     (3.5, 0.4, "3", 0.8)),
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
        return [(p, pick(rng, (0.3, 0.6, 1.2)), chord, 0.75) for p in pick(rng, shapes) if p < L]
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
    rng = seeded_rng("notes", int(seed), genre, bool(shift))
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
        parts[role].notes.append(pretty_midi.Note(int(np.clip(vel, 1, 127)), int(pitch), start,
                                                  max(stop, start + 0.05)))

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
