"""The plan of one synthetic clip: harmony (chords from Roman numerals, their voicings), every per-track choice
drawn up front (:func:`make_plan`: key, tempo, groove, instruments, arrangement, mix) and the :class:`Clock`
that applies the groove's feel and the clip's swing. :mod:`genre_utils.synth.parts` writes the parts from it,
:func:`genre_utils.synth.compose.compose` puts them together.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from ..styles import ALL_STYLES, GROOVES, PROGRESSIONS, GenreStyle, Groove
from .artists import ArtistSheet, draw_kit, track_choices
from .controls import apply_control
from .seeding import pick, seeded_rng

__all__ = ["SCALES", "Chord", "parse_chord", "place_pitch", "voice_chord", "power_chord", "Segment", "Section", "Plan",
           "make_plan", "bar_segments", "Clock", "subdivision", "TAIL_SECONDS"]

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


def place_pitch(pc: int, low: int, high: int) -> int:
    """The MIDI pitch of pitch class ``pc`` in ``[low, low + 11]`` (clipped below ``high``)."""
    p = low + (pc - low) % 12
    return p - 12 if p > high else p


def voice_chord(chord: Chord, center: int, rootless: bool = False) -> list[int]:
    """Close-position voicing: every chord tone in the octave nearest ``center`` (so chords lead smoothly)."""
    tones = chord.intervals[1:] if rootless and len(chord.intervals) > 3 else chord.intervals
    pcs = sorted({(chord.root + i) % 12 for i in tones})
    return sorted(place_pitch(pc, center - 6, center + 6) for pc in pcs)


def power_chord(chord: Chord, low: int = 40) -> list[int]:
    root = place_pitch(chord.root, low, low + 11)
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


def _draw_tempo(style: GenreStyle, groove: Groove, rng, shift: bool) -> float:
    lo, hi = style.tempo
    if shift and rng.random() < 0.6:  # unseen tempi: just outside the training range
        tempo = rng.uniform(lo * 0.88, lo) if rng.random() < 0.5 else rng.uniform(hi, hi * 1.12)
    else:
        tempo = rng.uniform(lo, hi)
    return round(float(tempo * groove.tempo_scale), 2)


def make_plan(genre: str, seed: int, seconds: float, shift: bool = False, control: str | None = None,
              artist: ArtistSheet | None = None) -> Plan:
    """Draw all per-track choices of one clip (key, tempo, groove, instruments, arrangement, mix).

    ``control``: a key of :data:`genre_utils.synth.controls.CONTROLS`: its factor (or factors) is then replaced
    by a common value (:func:`~genre_utils.synth.controls.apply_control`), every other choice kept; a clip that
    now needs more bars repeats its last section.

    ``artist``: the sheet of the clip's artist (:func:`genre_utils.synth.artists.artist_sheet`): key, tempo,
    groove, progression, instruments, mix, dynamics and reverb send then come from it, with the track's own
    small deviations (:func:`~genre_utils.synth.artists.track_choices`); everything else is drawn as for a
    lone track.
    """
    style = ALL_STYLES[genre]
    rng = seeded_rng("compose", int(seed), genre, bool(shift))
    groove_name = pick(rng, style.grooves)
    tempo = _draw_tempo(style, GROOVES[groove_name], rng, shift)
    swing = float(rng.uniform(*style.swing))
    if shift:
        swing = float(np.clip(swing + rng.uniform(-0.04, 0.04), 0.0, 1 / 6))
    progression = pick(rng, style.progressions)
    scale_name = pick(rng, style.scales)
    programs, levels = draw_kit(style, rng, shift)
    lo_v, hi_v = style.velocity
    velocity = int(rng.integers(lo_v, hi_v + 1))
    if shift:
        velocity = int(np.clip(velocity * rng.uniform(0.75, 1.15), 30, 127))
    key, reverb = int(rng.integers(12)), int(rng.integers(*style.reverb))
    if artist is not None:
        own = track_choices(artist, style, seed, programs)
        groove_name, tempo, progression, key = own["groove"], own["tempo"], own["progression"], own["key"]
        programs, levels, velocity, reverb = own["programs"], own["levels"], own["velocity"], own["reverb"]
    if PROGRESSIONS[progression][0].lstrip("b#")[0].islower():  # a minor progression
        scale_name = _MINOR_OF.get(scale_name, scale_name)
    lead = pick(rng, style.lead)
    plan = Plan(
        genre=genre, tempo=tempo, groove=groove_name, swing=swing, swing_unit=style.swing_unit,
        key=key, progression=progression, voicing=pick(rng, style.voicing),
        scale=SCALES[scale_name], bass=pick(rng, style.bass), comp=pick(rng, style.comp), lead=lead,
        programs=programs, levels=levels, velocity=velocity, reverb=reverb,
        bends=style.bends, lead_density=style.lead_density * rng.uniform(0.8, 1.2),
        comp_center=int(rng.integers(55, 66)),
        lead_center=int(rng.integers(55, 61)) if lead == "rap" else int(rng.integers(64, 76)),
        start_bar=int(rng.integers(len(PROGRESSIONS[progression]))),
    )
    groove = GROOVES[groove_name]
    n_bars = _bars_needed(plan, groove, seconds)
    plan.sections = _arrange(plan, style, n_bars, rng)
    if control is not None:
        plan = apply_control(plan, control, seed)
        needed = -(-_bars_needed(plan, GROOVES[plan.groove], seconds) // plan.section_bars)
        plan.sections = plan.sections + [plan.sections[-1]] * max(0, needed - len(plan.sections))
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


def bar_segments(plan: Plan, bar: int) -> list[Segment]:
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


def subdivision(groove: Groove) -> int:
    """Eighth notes per beat for the accompaniment: 3 in compound meters, else 2."""
    return 3 if groove.feel == "compound" else 2
