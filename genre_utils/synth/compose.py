"""Composition: a style sheet turned into one clip of General MIDI (:func:`compose`).

Every per-track choice (key, tempo, groove, instruments, arrangement, mix) is drawn up front into a
:class:`Plan` (:func:`make_plan`); the parts (drums, bass, chords, pad, lead) are then written bar by bar,
with the groove's feel and the clip's swing applied by a :class:`Clock`.
"""

from __future__ import annotations

import numpy as np

from ..genres import GENRES
from ..styles import ALL_STYLES, FOREIGN_STYLES, GROOVES
from .parts import bass_segment, comp_segment, drum_bar, lead_bar
from .plan import SCALES, TAIL_SECONDS, Chord, Clock, Plan, bar_segments, make_plan, parse_chord, voice_chord
from .seeding import seeded_rng

__all__ = ["TAIL_SECONDS", "SCALES", "Chord", "parse_chord", "Plan", "make_plan", "compose"]



# ---------------------------------------------------------------------------------------------- compose

def compose(genre: str, seed: int, seconds: float, shift: bool = False, control: str | None = None,
            artist=None):
    """Compose one clip of ``genre`` as General MIDI.

    Parameters
    ----------
    genre : str
        One of :data:`genre_utils.genres.GENRES`, or a key of :data:`genre_utils.styles.FOREIGN_STYLES` (FMA's
        groups outside the ten).
    seed : int
        Seed of every choice (key, tempo, groove, instruments, arrangement, notes, timing jitter).
    seconds : float
        Clip length; the music runs :data:`TAIL_SECONDS` past it so the cut falls mid-note.
    shift : bool
        The "new data" variant: tempi just outside the style's range, instruments no style uses for that
        role, other dynamics and swing.
    control : str, optional
        A laboratory control (:data:`genre_utils.synth.controls.CONTROLS`): a factor (or several) made the same
        for every genre, the rest of the clip as without it (:func:`make_plan`).
    artist : genre_utils.synth.artists.ArtistSheet, optional
        The clip's artist: key, tempo, groove, progression, instruments and mix come from the artist's sheet,
        with the track's own small deviations (:func:`make_plan`).

    Returns
    -------
    pretty_midi.PrettyMIDI
        Drums on channel 10 (``is_drum=True``), up to four pitched parts (bass, chords, pad, lead) with
        channel volume (CC 7) and reverb send (CC 91) set from the clip's mix.
    """
    import pretty_midi

    if genre not in ALL_STYLES:
        raise ValueError(f"unknown genre {genre!r}; choose one of {', '.join(GENRES)} (or a style of "
                         f"FOREIGN_STYLES: {', '.join(FOREIGN_STYLES)})")
    plan = make_plan(genre, seed, seconds, shift, control, artist)
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
        segs = bar_segments(plan, bar)
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
                for pitch in voice_chord(seg.chord, plan.comp_center + 5):
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
