"""Controls of the laboratory: a musical factor made the same for every genre, everything else held.

A control changes a clip's :class:`~genre_utils.synth.plan.Plan` after it has been drawn, with random draws of
its own (:func:`apply_control`), so that the same seed gives the same composition - key, progression, groove,
arrangement, notes, production - except for the controlled factor. Rendering a test track under each control
and asking a trained model again shows which factors it relies on (the book's laboratory chapter).

``'timbre'``
    Instruments, dynamics and mix from one pool shared by all genres: every role's program is drawn from the
    union of the ten genres' pools for that role, the velocity from one range, the part levels and the drum
    level from one range each (a genre without drums stays without), pitch-bend scoops at one rate.
``'tempo'``
    Tempo from one range for all genres (:data:`COMMON_TEMPO`, scaled by the groove's own ``tempo_scale``
    as the style's range is).
``'groove'``
    Rhythm from one groove for all genres that have drums: a straight 4/4 back-beat (:data:`COMMON_GROOVE`)
    with no swing; genres without drums keep their meter and stay without.
``'harmony'``
    One chord progression for all genres (I-V-vi-IV as triads), melodies in the major scale.
``'timbre-tempo-harmony'``
    Timbre, tempo and harmony at once, each with the draws it makes alone (:data:`COMBINED`): what still tells
    the genres apart is rhythm - the drum groove, swing, meter, how the bass, the accompaniment and the melody are
    played -, form, and which parts play (the timbre control keeps a genre without drums without them, and each
    genre's chance of a pad and its kind and density of lead). The laboratory trains models on it to ask what
    they learn when timbre, tempo and harmony no longer name the genre.
"""

from __future__ import annotations

import dataclasses

from ..styles import GROOVES, PROGRESSIONS, STYLES
from .artists import ROLES
from .seeding import pick, seeded_rng

__all__ = ["CONTROLS", "COMBINED", "COMMON_TEMPO", "COMMON_GROOVE", "COMMON_PROGRESSION", "apply_control"]

#: The controls and what each makes the same for every genre (the book's words).
CONTROLS: dict[str, str] = {
    "timbre": "instruments, dynamics and mix drawn from one pool for all genres",
    "tempo": "tempo drawn from one range for all genres",
    "groove": "one straight back-beat groove for every genre with drums",
    "harmony": "one chord progression (I-V-vi-IV, triads) and the major scale for all genres",
    "timbre-tempo-harmony": "timbre, tempo and harmony at once: rhythm (groove, swing, meter, bass, accompaniment "
                            "and melody patterns), form and which parts play still differ",
}
#: Controls made of others, applied in turn (each with the draws it makes alone, so that the result is the clip
#: each single control gives, with all of them in force).
COMBINED: dict[str, tuple[str, ...]] = {"timbre-tempo-harmony": ("timbre", "tempo", "harmony")}
#: The tempo range of the ``'tempo'`` control, in beats per minute.
COMMON_TEMPO = (96.0, 128.0)
#: The groove of the ``'groove'`` control (a key of :data:`genre_utils.styles.GROOVES`).
COMMON_GROOVE = "rock"
#: The progression of the ``'harmony'`` control (a key of :data:`genre_utils.styles.PROGRESSIONS`).
COMMON_PROGRESSION = "pop_axis"

_MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)


def _pool(role: str) -> tuple[int, ...]:
    """Every program any genre's sheet lists for ``role``, once each, sorted."""
    return tuple(sorted({p for s in STYLES.values() for p in getattr(s, f"{role}_programs")}))


def apply_control(plan, control: str, seed: int):
    """The plan with the control's factor (or factors) replaced by a common value (a new Plan; ``plan`` is left as
    it is).

    Parameters
    ----------
    plan : genre_utils.synth.plan.Plan
        As :func:`~genre_utils.synth.plan.make_plan` drew it.
    control : str
        A key of :data:`CONTROLS`.
    seed : int
        The clip's seed; the control draws from a generator of its own, seeded by it, the genre and the control,
        so the rest of the clip keeps every value it had. (A slower tempo needs more bars:
        :func:`~genre_utils.synth.plan.make_plan` then repeats the arrangement's last section.)

    Raises
    ------
    ValueError
        An unknown control.
    """
    if control not in CONTROLS:
        raise ValueError(f"unknown control {control!r}; choose one of {', '.join(CONTROLS)}")
    if control in COMBINED:
        for part in COMBINED[control]:
            plan = apply_control(plan, part, seed)
        return plan
    rng = seeded_rng("control", int(seed), plan.genre, control)
    style = STYLES[plan.genre]
    changes: dict = {}
    if control == "timbre":
        programs = {role: (None if plan.programs[role] is None else int(pick(rng, _pool(role)))) for role in ROLES}
        drums = 0.0 if style.drum_level == 0 else 0.85 * float(rng.uniform(0.8, 1.0))
        levels = {"drums": drums, **{role: float(rng.uniform(0.6, 1.0)) for role in ROLES}}
        bends = sum(s.bends for s in STYLES.values()) / len(STYLES)
        changes = {"programs": programs, "levels": levels, "velocity": int(rng.integers(65, 111)), "bends": bends}
    elif control == "tempo":
        scale = GROOVES[plan.groove].tempo_scale
        changes = {"tempo": round(float(rng.uniform(*COMMON_TEMPO)) * scale, 2)}
    elif control == "groove":
        if style.drum_level > 0:
            changes = {"groove": COMMON_GROOVE, "swing": 0.0}
    elif control == "harmony":
        prog = PROGRESSIONS[COMMON_PROGRESSION]
        changes = {"progression": COMMON_PROGRESSION, "voicing": "triad", "scale": _MAJOR_SCALE,
                   "start_bar": plan.start_bar % len(prog)}
    return dataclasses.replace(plan, **changes)
