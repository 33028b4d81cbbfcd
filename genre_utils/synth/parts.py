"""The parts of a synthetic clip, written bar by bar from its :class:`~genre_utils.synth.plan.Plan`: drums
(:func:`drum_bar`), bass (:func:`bass_segment`), chords and pads (:func:`comp_segment`) and the lead
(:func:`lead_bar`). Each returns ``(start, end, pitch, velocity)`` notes in beats for the clock to place.
"""

from __future__ import annotations

import numpy as np

from ..styles import TOMS, Groove
from .plan import Plan, Segment, place_pitch, power_chord, subdivision, voice_chord
from .seeding import pick

__all__ = ["drum_bar", "bass_segment", "comp_segment", "lead_bar"]


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
    return place_pitch(pc, 33, 44)


def bass_segment(kind: str, seg: Segment, groove: Groove, rng, memory: dict) -> list[tuple]:
    """Bass notes of one chord span as ``(position, duration, pitch, accent)`` in beats from the span start."""
    L, sub = seg.length, subdivision(groove)
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
    L, sub = seg.length, subdivision(groove)
    chord = voice_chord(seg.chord, center, rootless)
    power = power_chord(seg.chord)
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
        root = place_pitch(seg.chord.root, 40, 51)
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
            tones = [place_pitch((seg.chord.root + i) % 12, pitch - 6, pitch + 6) for i in seg.chord.intervals]
            pitch = min(tones, key=lambda t: abs(t - pitch))
            idx = int(np.argmin(np.abs(pool - pitch)))
        notes.append((pos, max(dur, 0.08), pitch, 1.0 if pos == int(pos) else 0.85))
    memory["pitch"] = notes[-1][2] if notes else plan.lead_center
    return notes
