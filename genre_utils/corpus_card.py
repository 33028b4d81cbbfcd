"""The corpus card: what the synthetic corpus was designed to contain, genre by genre, and what that builds in.

A model trained on music the project composed can only find what the composition put there. The card says,
from the style sheet itself (:data:`genre_utils.styles.STYLES`) and the production ranges
(:data:`genre_utils.synth.render.PRODUCTION`), never from a result:

* per genre, what was designed: tempo range, meters and feel, drum grooves, bass lines, accompaniment,
  harmony, melody, instruments by role, dynamics, drum level (:func:`genre_design`);
* what every genre shares: the chance that an instrument comes from another genre's pool, the reverb send,
  the production chain (:func:`shared_design`);
* how much any two genres share (:func:`shared_components`, :func:`overlap_matrix`), and which grooves and
  progressions belong to one genre only (:func:`signatures`);
* the paper's findings this design produces by construction (:func:`designed_findings`): on the synthetic
  corpus the verdict table (:mod:`genre_utils.verdicts`) reports those as *designed into the corpus*,
  never as found;
* what an artist's tracks share (:func:`artist_design`);
* what the corpus does not model at all (:data:`NOT_MODELLED`).

:func:`card` gathers it as one JSON-ready dict; :func:`write_card` saves it as ``corpus_card.json`` beside a
synthetic corpus's ``corpus.json`` (the book's context and ``genre-utils synth`` call it after every render or
reuse, so the file always matches the code; its wording is not part of the corpus fingerprint, so editing the
card never renders the audio again), and the book's corpus-card page shows it.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd

from .genres import GENRES
from .provenance import atomic_write_bytes
from .styles import (
    FOREIGN_STYLES,
    GROOVES,
    SHIFT_PROGRAM_PROBABILITY,
    STYLES,
    GenreStyle,
    pattern_words,
    program_name,
    progression_words,
)
from .synth.artists import ARTIST_SIZES, KEY_MOVES, KIT_CHANGE, TEMPO_SPREAD
from .synth.render import PRODUCTION, STEM_LUFS

__all__ = ["CARD_FORMAT", "COMPONENTS", "NOT_MODELLED", "genre_design", "shared_design", "shared_table",
           "shared_components", "overlap_matrix", "overlap_sentence", "signatures", "signature_table",
           "designed_findings", "artist_design", "card", "CARD_JSON", "write_card"]

#: The card's file name, beside the corpus's ``corpus.json``.
CARD_JSON = "corpus_card.json"

#: Version of the card's layout (bumped when a key changes meaning).
CARD_FORMAT = "genre_utils.corpus_card/1"

#: The parts of a style sheet that two genres can share, in the card's words -> attribute(s) of GenreStyle.
COMPONENTS: dict[str, tuple[str, ...]] = {
    "grooves": ("grooves",),
    "progressions": ("progressions",),
    "bass lines": ("bass",),
    "accompaniment": ("comp",),
    "instruments": ("bass_programs", "comp_programs", "pad_programs", "lead_programs"),
}

#: What the synthetic corpus does not contain at all, whatever the genre (said on the card page).
NOT_MODELLED = (
    "recorded instruments: every note is a General MIDI sample from one of two SoundFonts (TimGM6mb, 6 MB, and "
    "FluidR3Mono, 124 MB decoded), one per artist, with half of every genre's tracks on each",
    "singing and lyrics: the 'voice' parts are sampled vowels without words",
    "mixing and mastering as a studio does it: one production chain (EQ, distortion, compression, room, noise, "
    "MP3) with random settings per artist, applied to the whole mix rather than to separate stems",
    "albums and eras: an artist's tracks share one sheet of choices, but no artist changes over time",
    "song form beyond four-bar sections in which parts enter and drop out: no verse/chorus contrast, no intro "
    "or bridge",
    "expressive timing and dynamics beyond a small random jitter and per-section intensity",
)


def _names(items) -> list[str]:
    return list(dict.fromkeys(items))


def genre_design(style: GenreStyle) -> dict:
    """What one genre's style sheet designs, in words (the card's ``genres`` entry).

    Returns
    -------
    dict
        ``tempo_bpm`` ([low, high]), ``meters`` and ``feels`` (lists), ``swing`` ([low, high], fraction of a
        beat, 0 = straight), ``grooves``, ``bass_lines``, ``accompaniment``, ``progressions`` (chords per bar),
        ``voicings``, ``melody``, ``scales``, ``instruments`` (role -> General MIDI names, most frequent
        first), ``pad_probability``, ``velocity`` ([low, high], MIDI 1-127), ``drum_level`` (0 = no drums),
        ``pitch_bends`` (probability) and ``why`` (the reasoning, as written in the sheet).
    """
    roles = {"bass": style.bass_programs, "chords": style.comp_programs, "pad": style.pad_programs,
             "lead": style.lead_programs}
    return {
        "tempo_bpm": list(style.tempo),
        "meters": _names(f"{GROOVES[g].meter[0]}/{GROOVES[g].meter[1]}" for g in style.grooves),
        "feels": _names(GROOVES[g].feel for g in style.grooves),
        "swing": list(style.swing),
        "grooves": _names(pattern_words(g) for g in style.grooves),
        "bass_lines": _names(pattern_words(b) for b in style.bass),
        "accompaniment": _names(pattern_words(c) for c in style.comp),
        "progressions": _names(progression_words(p) for p in style.progressions),
        "voicings": _names(style.voicing),
        "melody": _names(style.lead),
        "scales": _names(s.replace("_", " ") for s in style.scales),
        "instruments": {role: _names(program_name(p) for p in progs) for role, progs in roles.items() if progs},
        "pad_probability": style.pad_prob,
        "velocity": list(style.velocity),
        "drum_level": style.drum_level,
        "pitch_bends": style.bends,
        "why": style.why,
    }


def shared_design(styles: dict[str, GenreStyle] | None = None) -> dict:
    """What all genres share: instrument exchange, reverb send and the production chain (the card's ``shared``).

    Returns
    -------
    dict
        ``instrument_exchange`` (per role, the probability that the instrument comes from the pool of a genre
        drawn at random; a list when genres differ), ``reverb_send`` ([low, high] of MIDI CC 91, or one range per
        genre when they differ), ``stems`` (how the parts are rendered and mixed), ``production`` (the ranges
        of :class:`genre_utils.synth.render.Production` for
        the training corpus, the same for every genre) and ``new_data_production`` (the shifted ranges of the
        "new data").
    """
    styles = STYLES if styles is None else styles
    subs = sorted({s.substitution for s in styles.values()})
    reverbs = {g: list(s.reverb) for g, s in styles.items()}
    one_reverb = len({tuple(r) for r in reverbs.values()}) == 1
    return {
        "instrument_exchange": subs[0] if len(subs) == 1 else {g: s.substitution for g, s in styles.items()},
        "reverb_send": next(iter(reverbs.values())) if one_reverb else reverbs,
        "stems": {"rendered": "each part alone (drums, bass, chords, pad, lead)", "loudness_lufs": STEM_LUFS,
                  "loudness_standard": "ITU-R BS.1770-4 integrated loudness",
                  "mixed": "at the track's part levels (MIDI channel volume, General MIDI's curve)"},
        "production": {k: (list(v) if isinstance(v, tuple) else v)
                       for k, v in dataclasses.asdict(PRODUCTION[False]).items()},
        "new_data_production": {k: (list(v) if isinstance(v, tuple) else v)
                                for k, v in dataclasses.asdict(PRODUCTION[True]).items()},
    }


def _span(values, fmt: str = ",.0f") -> str:
    """A range as ``'6,000 to 10,500'`` (``' to '`` reads right with negative ends: ``'-21 to -16'``)."""
    lo, hi = values
    return f"{lo:{fmt}} to {hi:{fmt}}"


def shared_table(styles: dict[str, GenreStyle] | None = None) -> pd.DataFrame:
    """What every genre shares, in words: one row per setting, the corpus's range and the "new data"'s.

    Returns
    -------
    DataFrame
        Index ``setting``; columns ``corpus`` and ``new data`` (ranges as text) and ``what it does``.
    """
    shared = shared_design(styles)
    p, q = shared["production"], shared["new_data_production"]
    exchange = shared["instrument_exchange"]
    exchange_text = (f"{exchange:.0%}" if not isinstance(exchange, dict)
                     else ", ".join(f"{g} {v:.0%}" for g, v in exchange.items()))
    reverb = shared["reverb_send"]
    reverb_text = _span(reverb) if isinstance(reverb, list) else "differs by genre"
    shift = f"{SHIFT_PROGRAM_PROBABILITY:.0%} an instrument no genre uses for the role, else as the corpus"
    rows = [
        ("instrument from another genre's pool", exchange_text, shift,
         "per role, the instrument is drawn from a genre picked at random, so timbre names the genre only loosely"),
        ("stems (LUFS, before the part levels)", f"{STEM_LUFS:.0f}", f"{STEM_LUFS:.0f}",
         "each part is rendered alone and brought to this loudness (ITU-R BS.1770), then mixed at the track's "
         "part levels, as Slakh2100 mixes its stems"),
        ("MIDI reverb send (0-127)", reverb_text, reverb_text,
         "share of the mix sent to one room (RT60 1.4 s) common to every clip, as a synthesiser's reverb is"),
        ("high-pass (Hz)", _span(p["highpass"], ), _span(q["highpass"], ), "removes the low end"),
        ("low-pass (Hz)", _span(p["lowpass"], ), _span(q["lowpass"], ), "removes the top end"),
        ("treble tilt (gain above 1.5 kHz)", _span(p["tilt"], "+.1f"), _span(q["tilt"], "+.1f"),
         "darker or brighter mix"),
        ("distortion (probability; drive)", f"{p['saturation']:.0%}; {_span(p['drive'], '.1f')}",
         f"{q['saturation']:.0%}; {_span(q['drive'], '.1f')}",
         "tanh overdrive of the mix, then a guitar-cabinet band-pass (90 Hz to 2.5-6 kHz)"),
        ("compression (probability; ratio)", f"{p['compression']:.0%}; {_span(p['ratio'], '.1f')}",
         f"{q['compression']:.0%}; {_span(q['ratio'], '.1f')}",
         "a feed-forward compressor, threshold near the track's RMS level"),
        ("room reverb (probability; RT60 s; wet mix)",
         f"{p['reverb']:.0%}; {_span(p['rt60'], '.1f')}; {_span(p['reverb_mix'], '.2f')}",
         f"{q['reverb']:.0%}; {_span(q['rt60'], '.1f')}; {_span(q['reverb_mix'], '.2f')}",
         "convolution with a decaying noise burst"),
        ("loudness (dBFS RMS)", _span(p["loudness_db"], ), _span(q["loudness_db"], ),
         "the level the mix is set to"),
        ("background noise (SNR, dB)", _span(p["snr_db"], ), _span(q["snr_db"], ),
         "white, pink or brown noise, sometimes hum or crackle"),
        ("MP3 round trip (probability; kbit/s)", f"{p['mp3']:.0%}; {', '.join(map(str, p['mp3_kbps']))}",
         f"{q['mp3']:.0%}; {', '.join(map(str, q['mp3_kbps']))}",
         "encoded and decoded again, as many GTZAN clips were (GTZAN-layout WAV files; FMA files are MP3s anyway)"),
    ]
    return pd.DataFrame(rows, columns=["setting", "corpus", "new data", "what it does"]).set_index("setting")


def _component(style: GenreStyle, name: str) -> set:
    out = set()
    for attr in COMPONENTS[name]:
        values = getattr(style, attr)
        out |= {(attr if name == "instruments" else "", v) for v in values}
    return out


def _label(name: str, item) -> str:
    attr, value = item
    if name == "instruments":
        role = {"bass_programs": "bass", "comp_programs": "chords", "pad_programs": "pad",
                "lead_programs": "lead"}[attr]
        return f"{program_name(value)} ({role})"
    if name == "progressions":
        return progression_words(value)
    return pattern_words(value)


def shared_components(a: str, b: str, styles: dict[str, GenreStyle] | None = None) -> dict[str, list[str]]:
    """What the style sheets of genres ``a`` and ``b`` have in common, by component (:data:`COMPONENTS`).

    Instruments count per role (a piano that plays chords in one genre and leads in the other is not shared).

    Returns
    -------
    dict
        Component name -> the shared items in words, sorted; a component with nothing shared maps to [].
    """
    styles = STYLES if styles is None else styles
    return {name: sorted(_label(name, item) for item in _component(styles[a], name) & _component(styles[b], name))
            for name in COMPONENTS}


def overlap_matrix(styles: dict[str, GenreStyle] | None = None) -> pd.DataFrame:
    """How many style-sheet items (grooves, progressions, bass lines, accompaniments, instruments by role) each
    pair of genres shares.

    Returns
    -------
    DataFrame
        Genres x genres, integers; the diagonal is 0 (a genre's overlap with itself is not counted).
    """
    styles = STYLES if styles is None else styles
    genres = [g for g in GENRES if g in styles]
    m = pd.DataFrame(0, index=pd.Index(genres, name="genre"), columns=genres)
    for a in genres:
        for b in genres:
            if a != b:
                m.loc[a, b] = sum(len(v) for v in shared_components(a, b, styles).values())
    return m


def signatures(styles: dict[str, GenreStyle] | None = None) -> dict[str, dict[str, list[str]]]:
    """The grooves, progressions, bass lines and accompaniments that only one genre's sheet uses.

    Returns
    -------
    dict
        Genre -> component name -> its own items in words (components without one are left out).
    """
    styles = STYLES if styles is None else styles
    out: dict[str, dict[str, list[str]]] = {}
    for name in ("grooves", "progressions", "bass lines", "accompaniment"):
        for g, s in styles.items():
            others = set().union(*(_component(o, name) for h, o in styles.items() if h != g))
            own = sorted(_label(name, item) for item in _component(s, name) - others)
            if own:
                out.setdefault(g, {})[name] = own
    return out


def overlap_sentence(matrix: pd.DataFrame) -> str:
    """Which genre shares the most with the others, and which pair shares the most, chosen by the counts
    (ties named together; a matrix of zeros says that nothing is shared)."""
    totals = matrix.sum(axis=1)
    if totals.max() == 0:
        return "No two genres share a groove, progression, part or instrument."
    top = [g for g in matrix.index if totals[g] == totals.max()]
    pairs = [(a, b) for i, a in enumerate(matrix.index) for b in matrix.columns[i + 1:]]
    best = max(int(matrix.loc[a, b]) for a, b in pairs)
    top_pairs = [f"{a} and {b}" for a, b in pairs if int(matrix.loc[a, b]) == best]
    least = [g for g in matrix.index if totals[g] == totals.min()]
    who = (f"{top[0]} shares the most items with the other genres ({int(totals.max())})" if len(top) == 1 else
           f"{' and '.join(top)} share the most items with the other genres ({int(totals.max())} each)")
    pair = (f"the pair that shares the most is {top_pairs[0]} ({best})" if len(top_pairs) == 1 else
            f"the pairs that share the most are {'; '.join(top_pairs)} ({best} each)")
    alone = (f"{least[0]} shares the fewest ({int(totals.min())})" if len(least) == 1 else
             f"{' and '.join(least)} share the fewest ({int(totals.min())} each)")
    return f"{who[0].upper()}{who[1:]}; {pair}; {alone}."


def signature_table(styles: dict[str, GenreStyle] | None = None) -> pd.DataFrame:
    """:func:`signatures` as a table: one row per genre, one column per component, items joined by ``'; '``
    (empty where the genre has nothing of its own)."""
    sig = signatures(styles)
    genres = [g for g in GENRES if g in (STYLES if styles is None else styles)]
    cols = ["grooves", "progressions", "bass lines", "accompaniment"]
    return pd.DataFrame([[("; ".join(sig.get(g, {}).get(c, []))) for c in cols] for g in genres],
                        index=pd.Index(genres, name="genre"), columns=cols)


def designed_findings(styles: dict[str, GenreStyle] | None = None) -> dict[str, str]:
    """The paper's claims (keys of :data:`genre_utils.verdicts.CLAIMS`) that the style sheet produces by
    construction, each with the reason read off the sheet; a claim the sheet does not build in is absent.

    The rules, each checked on the sheet as it is now:

    * ``classical_metal_best``: classical is the only genre without drums, which makes it the easiest to tell
      apart by design (the claim's other half, metal, is not singled out: most genres have grooves of their own);
    * ``pop_hardest`` and ``pop_attracts``: pop shares more style-sheet items with the other genres than any
      other genre does (:func:`overlap_matrix`);
    * ``jazz_blues_apart``: jazz and blues share swing (a shuffle or swung feel) and at least one bass line,
      so how often they are confused measures the sheet, not the model.
    """
    styles = STYLES if styles is None else styles
    out: dict[str, str] = {}
    drumless = [g for g, s in styles.items() if s.drum_level == 0]
    if drumless == ["classical"]:
        out["classical_metal_best"] = ("classical is the only genre without drums, so its half of the claim is "
                                       "built in (metal's grooves are its own, as are most genres')")
    totals = overlap_matrix(styles).sum(axis=1)
    if "pop" in totals and totals.idxmax() == "pop" and (totals == totals.max()).sum() == 1:
        ranked = overlap_matrix(styles).loc["pop"].sort_values(ascending=False, kind="stable")
        out["pop_hardest"] = (f"pop's sheet shares {int(totals['pop'])} items with the other genres, more than any "
                              f"other genre's (most with {ranked.index[0]}, {ranked.index[1]} and {ranked.index[2]})")
        out["pop_attracts"] = ("pop shares the most grooves, progressions, bass lines, accompaniments and "
                               "instruments with the other genres, so their pieces resemble it by design")
    if "jazz" in styles and "blues" in styles:
        shared = shared_components("jazz", "blues", styles)
        swing = {"shuffle"} & (set(_feels(styles["jazz"])) & set(_feels(styles["blues"])))
        if swing and shared["bass lines"]:
            out["jazz_blues_apart"] = (
                f"jazz and blues share the swung feel, their bass lines ({'; '.join(shared['bass lines'])}) and "
                f"{len(shared['instruments'])} instruments by design, so how often they are confused measures "
                "the style sheets, not the model")
    return out


def _feels(style: GenreStyle) -> list[str]:
    return [GROOVES[g].feel for g in style.grooves]


def artist_design() -> dict:
    """What an artist's tracks share (the card's ``artists``), from :mod:`genre_utils.synth.artists`.

    Returns
    -------
    dict
        ``tracks_per_artist`` ([low, high] balanced GTZAN-layout clips), ``shared`` (what the tracks share, in
        words), ``per_track`` (how a track departs from its artist, in words).
    """
    moves = sorted(set(KEY_MOVES) - {0})
    home = KEY_MOVES.count(0) / len(KEY_MOVES)
    return {
        "tracks_per_artist": list(ARTIST_SIZES),
        "shared": ["home key", "tempo (a place in the genre's range)", "one or two of the genre's grooves",
                   "one or two of its progressions", "instruments of every part", "mix levels", "dynamics",
                   "reverb send", "the whole production chain (EQ, distortion, compression, room, noise, MP3)"],
        "per_track": [f"the home key in {home:.0%} of tracks, else {' or '.join(str(m) for m in moves)} semitones up",
                      f"tempo within {TEMPO_SPREAD:.0%} of the artist's",
                      f"per part, a {KIT_CHANGE:.0%} chance of another instrument",
                      "mix levels within 10%, velocity within 6 steps"],
    }


def card(styles: dict[str, GenreStyle] | None = None) -> dict:
    """The whole card as one JSON-ready dict.

    Returns
    -------
    dict
        ``format`` (:data:`CARD_FORMAT`), ``genres`` (genre -> :func:`genre_design`), ``shared``
        (:func:`shared_design`), ``overlaps`` (genre -> genre -> count, :func:`overlap_matrix`),
        ``signatures`` (:func:`signatures`), ``designed_findings`` (:func:`designed_findings`), ``foreign``
        (the sheets of FMA's groups outside the ten, :data:`genre_utils.styles.FOREIGN_STYLES`, as
        :func:`genre_design`), ``artists`` (:func:`artist_design`) and ``not_modelled`` (:data:`NOT_MODELLED`).
    """
    styles = STYLES if styles is None else styles
    m = overlap_matrix(styles)
    return {
        "format": CARD_FORMAT,
        "genres": {g: genre_design(s) for g, s in styles.items()},
        "shared": shared_design(styles),
        "overlaps": {a: {b: int(m.loc[a, b]) for b in m.columns if b != a} for a in m.index},
        "signatures": signatures(styles),
        "designed_findings": designed_findings(styles),
        "foreign": {g: genre_design(s) for g, s in FOREIGN_STYLES.items()},
        "artists": artist_design(),
        "not_modelled": list(NOT_MODELLED),
    }


def write_card(corpus_dir) -> Path:
    """Save :func:`card` as ``corpus_card.json`` in ``corpus_dir`` (atomically; replaces an older card).

    Returns
    -------
    Path
        The file written.
    """
    path = Path(corpus_dir) / CARD_JSON
    atomic_write_bytes(path, (json.dumps(card(), indent=1, sort_keys=True) + "\n").encode())
    return path
