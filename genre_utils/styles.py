"""The style sheet of the synthetic corpus: how each of the ten genres is composed.

:mod:`genre_utils.synth` composes every clip from one :class:`GenreStyle` plus per-track randomness (key,
tempo, groove, instrument substitutions, arrangement, mix). The sheet is deliberately *not* a set of
disjoint recipes: real genres borrow from each other, and so does this corpus.

Where the overlaps are (by design)
----------------------------------
* **pop / rock / disco** share the drum kit and back-beat grooves (pop also uses four-on-the-floor, rock
  also uses the pop beat), the I-V-vi-IV progression, clean and steel-string guitars, piano and pads.
* **blues / jazz / country** share swing and shuffle, walking bass, piano, sax and harmonica; blues and
  rock share overdriven guitar and the rock shuffle.
* **metal / rock** share distorted guitar, power chords and root-note bass; metal differs mostly in
  *rhythm* (16th double kick, gallops, thrash and blast beats) and tempo.
* **reggae / disco** share four-on-the-floor kick (the steppers groove); **reggae / pop** share I-V-vi-IV
  and off-beat chords; **hiphop / jazz** share Rhodes, ii-V progressions and seventh chords;
  **classical / jazz** share piano and walking (continuo) bass; **classical / pop / disco** share strings.
* Instruments are shared: every role's instrument comes, with probability :attr:`GenreStyle.substitution`
  (one half, the same for every genre), from the pool of a genre drawn at random, so a clip's timbre is only
  loosely tied to its label; the reverb send is drawn from one range for all genres. What stays
  characteristic is the *musical structure* (tempo, groove, swing, bass line, accompaniment pattern,
  harmony, meter), which a CNN over time-frequency frames can see and a mean over frames mostly cannot.
* Nothing here is tuned to reproduce a result of the paper: which genres share what follows from the
  music, and the book's corpus card (:mod:`genre_utils.corpus_card`) lists what that builds in.

Rhythm is written on step grids: a groove is a bar of ``beats * steps`` steps per drum lane, with
``'X'`` accent, ``'x'`` hit, ``'o'`` ghost note and ``'.'`` rest. Its *feel* is ``'straight'`` (swing from
the style may delay off-beats), ``'shuffle'`` (4/4 on a triplet grid: off-beats land on the third triplet)
or ``'compound'`` (6/8 and 12/8: three equal subdivisions per beat). Classical grooves are silent.
Chords are Roman numerals relative to the key (``'bVII'``, ``'ii7'``, ``'Imaj7'``, ``'V7'``, ``'i5'``);
a bar holding two chords is written ``'ii7|V7'``. Programs are General MIDI numbers (0-based).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

__all__ = [
    "GenreStyle",
    "Groove",
    "GROOVES",
    "PROGRESSIONS",
    "STYLES",
    "FOREIGN_STYLES",
    "ALL_STYLES",
    "SHIFT_PROGRAMS",
    "SHIFT_PROGRAM_PROBABILITY",
    "PATTERN_WORDS",
    "pattern_words",
    "progression_words",
    "program_name",
    "style_table",
]

# General MIDI percussion keys (channel 10).
KICK, RIM, SNARE, CLAP, HAT, PEDAL_HAT, OPEN_HAT, CRASH, RIDE, TAMBOURINE = 36, 37, 38, 39, 42, 44, 46, 49, 51, 54
TOMS = (50, 48, 47, 45, 43, 41)  # high to low, for fills


@dataclass(frozen=True)
class Groove:
    """One bar of drums on a step grid.

    Attributes
    ----------
    beats : int
        Beats per bar (4 for 4/4 and 12/8, 3 for 3/4, 2 for 6/8).
    steps : int
        Grid steps per beat (4 = sixteenths, 3 = triplets / compound eighths, 2 = eighths).
    feel : {'straight', 'shuffle', 'compound'}
        How the other instruments place their off-beats (see the module docstring).
    lanes : tuple of (int, str)
        ``(GM percussion key, pattern)``; each pattern has ``beats * steps`` characters.
    tempo_scale : float
        Multiplier on the style's tempo range (6/8 counts dotted quarters, so its beat is slower).
    meter : tuple of int
        Time signature written into the MIDI file.
    """

    beats: int
    steps: int
    feel: str
    lanes: tuple
    tempo_scale: float = 1.0
    meter: tuple = (4, 4)

    def __post_init__(self):
        for key, pattern in self.lanes:
            if len(pattern) != self.beats * self.steps:
                raise ValueError(f"drum lane {key}: {len(pattern)} steps, expected {self.beats * self.steps}")


def _g(beats, steps, feel, meter=(4, 4), tempo_scale=1.0, **lanes):
    keys = {"kick": KICK, "rim": RIM, "snare": SNARE, "clap": CLAP, "hat": HAT, "pedal": PEDAL_HAT,
            "open": OPEN_HAT, "crash": CRASH, "ride": RIDE, "tamb": TAMBOURINE}
    return Groove(beats, steps, feel, tuple((keys[k], p) for k, p in lanes.items()), tempo_scale, meter)


#: Drum grooves by name. Straight 4/4 grooves use sixteenth steps (16 characters).
GROOVES: dict[str, Groove] = {
    # back-beat family: rock, pop, country and disco all draw from here
    "rock": _g(4, 4, "straight", kick="x.......x.x.....", snare="....X.......X...", hat="x.x.x.x.x.x.x.x."),
    "half_time": _g(4, 4, "straight", kick="x.....x...x.....", snare="........X.......", hat="x.x.x.x.x.x.x.x."),
    "pop": _g(4, 4, "straight", kick="x.....x.x.......", snare="....X.......X...", clap="....x.......x...",
              hat="x.x.x.x.x.x.x.x."),
    "pop_16": _g(4, 4, "straight", kick="x.......x.x.....", snare="....X.......X...", hat="xxxxxxxxxxxxxxxx",
                 tamb="....x.......x..."),
    "boom_chick": _g(4, 4, "straight", kick="x.......x.......", snare="....X.......X...", hat="x.x.x.x.x.x.x.x."),
    "ballad": _g(4, 4, "straight", kick="x.......x.......", rim="....x.......x...", hat="x.x.x.x.x.x.x.x."),
    "train": _g(4, 4, "straight", kick="x.......x.......", snare="o.o.X.o.o.o.X.o."),
    # dance family: disco, pop and reggae's steppers share the four-on-the-floor kick
    "four_floor": _g(4, 4, "straight", kick="X...X...X...X...", clap="....x.......x...",
                     open="..x...x...x...x.", hat="xx.xxx.xxx.xxx.x"),
    "disco_16": _g(4, 4, "straight", kick="X...X...X...X...", snare="....X.......X...",
                   open="..x...x...x...x.", tamb="xxxxxxxxxxxxxxxx"),
    "steppers": _g(4, 4, "straight", kick="x...x...x...x...", rim="........x.......", hat="..x...x...x...x."),
    # hip-hop: syncopated kick, hard back-beat, swung sixteenth hats
    "boom_bap": _g(4, 4, "straight", kick="X......x..x.....", snare="....X.......X...", hat="x.x.x.x.x.x.x.xo"),
    "boom_bap2": _g(4, 4, "straight", kick="x.x.......x..x..", snare="....X.......X..o", hat="x.x.x.x.x.x.x.x."),
    # reggae: the kick avoids beat one
    "one_drop": _g(4, 4, "straight", kick="........X.......", rim="........x.......", hat="x.x.x.x.x.x.x.x."),
    "rockers": _g(4, 4, "straight", kick="x.......x.......", rim="....x.......x...", hat="..x...x...x...x."),
    # metal: sixteenth kicks, gallops, blast and thrash beats
    "metal_double": _g(4, 4, "straight", kick="xxxxxxxxxxxxxxxx", snare="....X.......X...", ride="x.x.x.x.x.x.x.x."),
    "metal_gallop": _g(4, 4, "straight", kick="x.xxx.xxx.xxx.xx", snare="....X.......X...", hat="x.x.x.x.x.x.x.x."),
    "thrash": _g(4, 4, "straight", kick="x.x.x.x.x.x.x.x.", snare="..X...X...X...X.", crash="x...x...x...x..."),
    "blast": _g(4, 4, "straight", kick="x.x.x.x.x.x.x.x.", snare=".x.x.x.x.x.x.x.x", crash="x.......x......."),
    # swing family on a triplet grid: blues, jazz, country and rock share it
    "shuffle": _g(4, 3, "shuffle", kick="x.....x.....", snare="...X.....X..", hat="x.xx.xx.xx.x"),
    "rock_shuffle": _g(4, 3, "shuffle", kick="x.....x..x..", snare="...X.....X..", hat="x.xx.xx.xx.x"),
    "jazz_swing": _g(4, 3, "shuffle", ride="x..x.xx..x.x", pedal="...x.....x..", kick="o..o..o..o.."),
    "slow_blues": _g(4, 3, "compound", (12, 8), kick="x.....x.....", snare="...X.....X..", hat="xxxxxxxxxxxx"),
    # three-beat and compound meters
    "waltz": _g(3, 4, "straight", (3, 4), kick="x...........", snare="....x...x...", hat="x...x...x..."),
    "jazz_waltz": _g(3, 3, "shuffle", (3, 4), ride="x..x.xx..", pedal="...x..x..", kick="o........"),
    "six_eight": _g(2, 3, "compound", (6, 8), 0.62, kick="x.....", snare="...X..", hat="xxxxxx"),
    "bossa": _g(4, 4, "straight", kick="x..xx..xx..xx..x", rim="x..x..x...x..x..", hat="x.x.x.x.x.x.x.x."),
    # grooves of FMA's groups outside the ten genres (genre_utils.styles.FOREIGN_STYLES)
    "afrobeat": _g(4, 4, "straight", kick="x.....x...x.....", snare="....x..x.x..x..x", hat="x.xxx.xxx.xxx.xx",
                   open="..x.......x....."),
    "breakbeat": _g(4, 4, "straight", kick="x.x.......x..x..", snare="....X..o.x..X...", hat="xxxxxxxxxxxxxxxx"),
    "soul": _g(4, 4, "straight", kick="x......xx.......", snare="....X..o....X.o.", hat="x.xxx.xxx.xxx.xx"),
    "brushes": _g(4, 3, "shuffle", snare="x.xx.xx.xx.x", kick="x.....x....."),
    "clave_68": _g(2, 3, "compound", (6, 8), 0.62, kick="x.....", rim="x.x.x.", tamb="xxxxxx"),
    # no drums (classical)
    "none_4": _g(4, 2, "straight"),
    "none_3": _g(3, 2, "straight", (3, 4)),
    "none_68": _g(2, 3, "compound", (6, 8), 0.62),
}

#: Chord progressions by name: one token per bar, ``'|'`` splits a bar in two.
PROGRESSIONS: dict[str, tuple[str, ...]] = {
    "blues12": ("I7", "I7", "I7", "I7", "IV7", "IV7", "I7", "I7", "V7", "IV7", "I7", "V7"),
    "blues12_quick": ("I7", "IV7", "I7", "I7", "IV7", "IV7", "I7", "I7", "V7", "IV7", "I7", "V7"),
    "minor_blues": ("i7", "i7", "i7", "i7", "iv7", "iv7", "i7", "i7", "bVI7", "V7", "i7", "V7"),
    "ii_V_I": ("ii7", "V7", "Imaj7", "Imaj7"),
    "rhythm_changes": ("Imaj7|vi7", "ii7|V7", "iii7|VI7", "ii7|V7"),
    "jazz_minor": ("ii7b5", "V7", "i7", "i7"),
    "autumn": ("ii7", "V7", "Imaj7", "IVmaj7", "vii7b5", "III7", "vi7", "vi7"),
    "jazz_blues": ("I7", "IV7", "I7", "v7|I7", "IV7", "IV7", "I7", "iii7|VI7", "ii7", "V7", "I7|VI7", "ii7|V7"),
    "pop_axis": ("I", "V", "vi", "IV"),
    "pop_50s": ("I", "vi", "IV", "V"),
    "pop_minor": ("vi", "IV", "I", "V"),
    "pop_4536": ("IV", "V", "iii", "vi"),
    "rock_mixo": ("I", "bVII", "IV", "I"),
    "rock_145": ("I", "IV", "V", "IV"),
    "rock_minor": ("i", "bVI", "bIII", "bVII"),
    "metal_aeolian": ("i5", "bVI5", "bVII5", "i5"),
    "metal_phrygian": ("i5", "bII5", "i5", "bII5"),
    "metal_chromatic": ("i5", "bVII5", "bVI5", "V5"),
    "country_145": ("I", "I", "IV", "IV", "I", "I", "V", "V"),
    "country_1451": ("I", "IV", "I", "V"),
    "reggae_14": ("I", "IV", "I", "IV"),
    "reggae_minor": ("i", "bVII", "i", "bVII"),
    "reggae_2": ("ii", "V", "ii", "V"),
    "disco_vamp": ("i7", "iv7", "i7", "iv7"),
    "disco_251": ("ii7", "V7", "Imaj7", "vi7"),
    "disco_minor": ("i7", "bVII", "bVI", "V7"),
    "hiphop_minor": ("i7", "bVI7", "i7", "bVI7"),
    "hiphop_loop": ("i7", "iv7", "bVII7", "bIIImaj7"),
    "hiphop_dark": ("i", "i", "bII", "i"),
    "classical_cadence": ("I", "IV", "V7", "I", "vi", "ii", "V7", "I"),
    "classical_circle": ("I", "IV", "vii", "iii", "vi", "ii", "V7", "I"),
    "classical_minor": ("i", "iv", "V7", "i", "bVI", "iv", "V7", "i"),
    "pachelbel": ("I", "V", "vi", "iii", "IV", "I", "IV", "V"),
    # progressions of FMA's groups outside the ten genres
    "modal_vamp": ("i", "bVII", "bVI", "bVII"),
    "edm_minor": ("i", "bIII", "bVII", "iv"),
    "soul_vamp": ("i7", "IV7", "i7", "IV7"),
    "folk_145": ("I", "IV", "I", "V", "I", "IV", "V", "I"),
    "lydian_drift": ("I", "II", "I", "II"),
    "atonal_steps": ("i", "bii", "vii", "#iv"),
    "easy_maj7": ("Imaj7", "vi7", "ii7", "V7"),
    "drone": ("I", "I", "I", "I"),
}


@dataclass(frozen=True)
class GenreStyle:
    """How one genre is composed; a clip draws one value from every range or tuple here.

    A tuple may repeat an entry to weight it (uniform draw over the entries); the most frequent entry is
    the genre's signature, the rest are the variants that make it overlap with its neighbours.

    Attributes
    ----------
    genre : str
        One of :data:`genre_utils.genres.GENRES`.
    tempo : tuple of int
        Range of beats per minute (scaled by the groove's ``tempo_scale``).
    grooves : tuple of str
        Keys of :data:`GROOVES`; a name may repeat to weight it. The groove fixes meter and feel.
    swing : tuple of float
        Range of swing for straight grooves: delay of the off-beat, as a fraction of one beat
        (0 straight, 1/6 = triplet shuffle). Shuffle grooves always swing by 1/6.
    swing_unit : {8, 16}
        Whether the off-beat eighths (8) or sixteenths (16) are swung.
    progressions : tuple of str
        Keys of :data:`PROGRESSIONS`.
    voicing : tuple of str
        ``'triad'`` (as written), ``'seventh'`` (adds 7ths), ``'ninth'`` (adds 7ths and 9ths, rootless
        above the bass), ``'power'`` (root-fifth-octave).
    bass, comp : tuple of str
        Bass-line and accompaniment patterns (see :mod:`genre_utils.synth`).
    lead : tuple of str
        Melody kinds: ``'melody'``, ``'riff'`` (repeated one-bar motif), ``'rap'`` (speech-like, narrow
        range), ``'solo'`` (fast, wide).
    scales : tuple of str
        Melody scales (a major-type scale turns into its minor relative over a minor progression).
    bass_programs, comp_programs, pad_programs, lead_programs : tuple of int
        General MIDI programs for each role; empty ``pad_programs`` means no pad.
    pad_prob : float
        Probability that a clip has a sustained pad (strings, organ, synth pad).
    lead_density : float
        Mean melody notes per beat.
    velocity : tuple of int
        MIDI velocity range of the clip's base dynamics.
    drum_level : float
        MIDI channel volume of the drums relative to the other parts (0..1).
    reverb : tuple of int
        Range of the MIDI reverb send (CC 91); the same for every genre (production names no genre).
    bends : float
        Probability that a long melody note starts with a pitch-bend scoop (guitar, harmonica, steel).
    substitution : float
        Per-role probability of taking the instrument from a genre drawn at random (this one included)
        instead of this genre's pool; the same (one half) for every genre.
    why : str
        The reasoning behind the parameters (shown in :func:`style_table`).
    """

    genre: str
    tempo: tuple
    grooves: tuple
    swing: tuple
    progressions: tuple
    voicing: tuple
    bass: tuple
    comp: tuple
    lead: tuple
    scales: tuple
    bass_programs: tuple
    comp_programs: tuple
    pad_programs: tuple
    lead_programs: tuple
    pad_prob: float = 0.4
    lead_density: float = 1.5
    velocity: tuple = (70, 105)
    drum_level: float = 0.85
    reverb: tuple = (15, 80)
    bends: float = 0.05
    substitution: float = 0.5
    swing_unit: int = 8
    why: str = ""

    def __post_init__(self):
        unknown = ([g for g in self.grooves if g not in GROOVES]
                   + [p for p in self.progressions if p not in PROGRESSIONS])
        if unknown:
            raise ValueError(f"{self.genre}: unknown grooves/progressions {unknown}")


STYLES: dict[str, GenreStyle] = {
    "blues": GenreStyle(
        "blues", tempo=(66, 104), grooves=("shuffle", "shuffle", "shuffle", "shuffle", "slow_blues", "rock_shuffle"),
        swing=(0.10, 0.16), progressions=("blues12", "blues12_quick", "minor_blues"), voicing=("seventh",),
        bass=("walking", "boogie", "boogie", "root_fifth"),
        comp=("shuffle_riff", "shuffle_riff", "shuffle_riff", "comping", "strum"),
        lead=("melody", "riff"), scales=("blues", "pent_minor", "mixolydian"),
        bass_programs=(32, 33), comp_programs=(0, 0, 27, 27, 26, 16, 29), pad_programs=(16, 17),
        lead_programs=(22, 22, 29, 66, 27, 65), pad_prob=0.3, lead_density=1.4, velocity=(65, 105), bends=0.5,
        why="12-bar I7-IV7-V7 on a triplet shuffle, boogie/walking bass, blue-note melody with bends; "
            "swing, walking bass, piano and sax shared with jazz, harmonica and shuffle with country, "
            "overdriven guitar and the rock shuffle with rock"),
    "classical": GenreStyle(
        "classical", tempo=(56, 140), grooves=("none_4", "none_4", "none_3", "none_68"), swing=(0.0, 0.0),
        progressions=("classical_cadence", "classical_circle", "classical_minor", "pachelbel"), voicing=("triad",),
        bass=("pedal", "pedal", "continuo"), comp=("arpeggio", "alberti", "sustain", "block"),
        lead=("melody", "melody", "solo"), scales=("major", "harmonic_minor"),
        bass_programs=(42, 43, 0, 70), comp_programs=(0, 0, 0, 46, 6, 48, 45), pad_programs=(48, 48, 49, 52, 19, 60),
        lead_programs=(40, 40, 73, 68, 71, 0, 60), pad_prob=0.6, lead_density=1.6, velocity=(40, 95),
        drum_level=0.0,
        why="no drums; functional cadences and the circle of fifths, Alberti/arpeggiated piano, sustained "
            "strings, wide dynamics; piano shared with jazz/pop, strings with disco/pop, "
            "the walking continuo bass with jazz, Pachelbel's progression with pop"),
    "country": GenreStyle(
        "country", tempo=(106, 152),
        grooves=("train", "train", "train", "boom_chick", "boom_chick", "boom_chick", "waltz", "shuffle"),
        swing=(0.0, 0.08), progressions=("country_145", "country_1451", "pop_50s"), voicing=("triad",),
        bass=("root_fifth", "root_fifth", "root_fifth", "walking"),
        comp=("strum", "strum", "strum", "boom_chick", "roll"),
        lead=("melody", "melody", "riff"), scales=("major", "pent_major", "mixolydian"),
        bass_programs=(32, 33, 34), comp_programs=(25, 25, 25, 24, 0, 105), pad_programs=(48, 21),
        lead_programs=(110, 110, 25, 22, 105, 27), pad_prob=0.25, lead_density=1.8, velocity=(65, 100), bends=0.4,
        why="train and boom-chick beats, root-fifth bass, strummed steel guitar, banjo rolls, fiddle or "
            "steel-guitar slides (GM has no pedal steel: steel-string guitar with pitch-bend scoops); "
            "waltzes in 3/4; shuffle and harmonica shared with blues, strumming and I-vi-IV-V with pop/rock"),
    "disco": GenreStyle(
        "disco", tempo=(114, 128), grooves=("four_floor", "four_floor", "disco_16"), swing=(0.0, 0.04),
        progressions=("disco_vamp", "disco_251", "pop_minor", "disco_minor"), voicing=("seventh",),
        bass=("octave", "octave", "octave", "synco"), comp=("stabs", "stabs", "stabs", "offbeat", "block"),
        lead=("melody", "riff"), scales=("dorian", "minor", "major"),
        bass_programs=(33, 33, 38, 36), comp_programs=(28, 28, 27, 4, 61, 48), pad_programs=(48, 48, 49, 50, 89),
        lead_programs=(48, 61, 80, 73, 65), pad_prob=0.6, lead_density=1.4, velocity=(80, 112),
        why="four-on-the-floor kick with open hi-hat off-beats, octave-jumping bass, muted-guitar and brass "
            "stabs, string pads on minor-seventh vamps; kit, synth and strings shared with pop, the "
            "four-on-the-floor kick with reggae steppers"),
    "hiphop": GenreStyle(
        "hiphop", tempo=(84, 94), grooves=("boom_bap", "boom_bap", "boom_bap", "boom_bap2", "boom_bap2"),
        swing=(0.04, 0.12), swing_unit=16,
        progressions=("hiphop_minor", "hiphop_loop", "hiphop_dark", "ii_V_I"), voicing=("seventh", "ninth"),
        bass=("kick", "kick", "kick", "pedal"), comp=("block", "block", "block", "stabs", "arpeggio"),
        lead=("rap", "rap", "riff"), scales=("minor", "dorian", "pent_minor"),
        bass_programs=(38, 38, 39, 33, 32), comp_programs=(4, 4, 0, 11, 48, 26), pad_programs=(89, 50, 52),
        lead_programs=(85, 85, 54, 53, 80), pad_prob=0.35, lead_density=2.2, velocity=(85, 120), drum_level=1.0,
        why="boom-bap: syncopated kick, hard snare on 2 and 4, swung sixteenth hats, loud drums; bass follows "
            "the kick; a looped Rhodes/piano sample; a speech-like 'rap' line (GM voice lead, narrow pitch, "
            "sixteenth rhythm); Rhodes, seventh chords and ii-V shared with jazz"),
    "jazz": GenreStyle(
        "jazz", tempo=(126, 208), grooves=("jazz_swing",) * 5 + ("jazz_waltz", "bossa"),
        swing=(0.0, 0.04), progressions=("ii_V_I", "rhythm_changes", "jazz_minor", "autumn", "jazz_blues"),
        voicing=("ninth", "seventh"), bass=("walking", "walking", "walking", "root_fifth"),
        comp=("comping", "comping", "comping", "block"), lead=("melody", "solo"),
        scales=("major", "dorian", "mixolydian"),
        bass_programs=(32, 32, 33), comp_programs=(0, 0, 4, 26, 11), pad_programs=(61, 48, 16),
        lead_programs=(65, 66, 66, 56, 11, 73, 57), pad_prob=0.2, lead_density=2.4, velocity=(50, 95),
        drum_level=0.7, bends=0.1,
        why="ride-cymbal swing with hi-hat on 2 and 4, walking upright bass, irregular comping with rootless "
            "7th/9th voicings over ii-V-I and rhythm changes, sax/trumpet/vibes solos; jazz waltz and bossa "
            "variants; swing, sax and piano shared with blues, Rhodes and ii-V with hiphop"),
    "metal": GenreStyle(
        "metal", tempo=(136, 200),
        grooves=("metal_double", "metal_double", "metal_double", "metal_gallop", "thrash", "blast"),
        swing=(0.0, 0.0), progressions=("metal_aeolian", "metal_phrygian", "metal_chromatic", "rock_minor"),
        voicing=("power",), bass=("root16", "root16", "root8"),
        comp=("chug16", "chug16", "chug16", "power8", "power_sustain"),
        lead=("solo", "riff"), scales=("minor", "harmonic_minor", "phrygian"),
        bass_programs=(34, 33, 38), comp_programs=(30, 30, 29), pad_programs=(48, 19, 52),
        lead_programs=(30, 29, 81), pad_prob=0.25, lead_density=3.0, velocity=(95, 127), drum_level=0.9, bends=0.3,
        why="distorted palm-muted power chords in sixteenths, double-kick, gallop, thrash and blast beats, "
            "fast tempi, aeolian/phrygian riffs, shred solos; distortion, power chords and root-note "
            "bass shared with rock"),
    "pop": GenreStyle(
        "pop", tempo=(96, 122), grooves=("pop", "pop", "pop", "pop_16", "pop_16", "four_floor", "ballad"),
        swing=(0.0, 0.05), progressions=("pop_axis", "pop_50s", "pop_minor", "pop_4536"), voicing=("triad",),
        bass=("root8", "root8", "root8", "synco", "root_quarter", "octave"),
        comp=("strum_pop", "strum_pop", "strum_pop", "block", "arpeggio", "halves", "offbeat"),
        lead=("melody", "melody", "riff"), scales=("major", "pent_major"),
        bass_programs=(33, 38, 34), comp_programs=(0, 0, 1, 4, 25, 27, 24), pad_programs=(89, 89, 48, 50, 90),
        lead_programs=(80, 80, 73, 65, 0, 11, 81, 53), pad_prob=0.55, lead_density=1.6, velocity=(70, 110),
        why="back-beat with claps or four-on-the-floor, I-V-vi-IV and I-vi-IV-V, piano/guitar strums and "
            "arpeggios, synth pads and a singable lead ('voice oohs', synth, flute); its grooves, progressions "
            "and strums are shared with rock, disco and country"),
    "reggae": GenreStyle(
        "reggae", tempo=(66, 82), grooves=("one_drop", "one_drop", "one_drop", "rockers", "steppers"),
        swing=(0.0, 0.10),
        swing_unit=16, progressions=("reggae_14", "reggae_minor", "pop_axis", "reggae_2"), voicing=("triad",),
        bass=("reggae", "reggae", "reggae", "root_quarter"), comp=("skank", "skank", "skank", "offbeat", "bubble"),
        lead=("melody", "riff"), scales=("major", "pent_minor", "dorian"),
        bass_programs=(33, 33, 32, 38), comp_programs=(27, 27, 28, 16, 17, 0), pad_programs=(16, 16, 61),
        lead_programs=(22, 61, 56, 66, 80, 21), pad_prob=0.4, lead_density=1.2, velocity=(70, 105),
        why="one-drop (kick and rim on beat 3 only), rockers and steppers beats, short off-beat guitar skank "
            "and organ bubble, melodic bass that rests on beat one; four-on-the-floor shared with "
            "disco, I-V-vi-IV and off-beat chords with pop"),
    "rock": GenreStyle(
        "rock", tempo=(108, 152), grooves=("rock", "rock", "rock", "rock", "half_time", "pop", "rock_shuffle"),
        swing=(0.0, 0.04), progressions=("rock_mixo", "rock_145", "rock_minor", "pop_axis"),
        voicing=("power", "power", "triad"), bass=("root8", "root8", "root8", "root_quarter"),
        comp=("power8", "power8", "power8", "power8", "power_sustain", "strum", "strum_pop"),
        lead=("riff", "melody", "solo"),
        scales=("pent_minor", "mixolydian", "major", "blues"),
        bass_programs=(34, 33), comp_programs=(29, 29, 29, 30, 27, 25), pad_programs=(18, 16, 48),
        lead_programs=(29, 30, 27, 18), pad_prob=0.3, lead_density=1.8, velocity=(85, 120),
        bends=0.4,
        why="straight back-beat, eighth-note root bass, overdriven power chords and riffs in pentatonic/"
            "mixolydian; between pop (same beat, I-V-vi-IV, strums) and metal (distortion, half-time), "
            "with a shuffle variant shared with blues"),
}

#: Style sheets of FMA's top-level groups outside the ten genres: the open set of the FMA-layout corpus. Each is a
#: sheet of its own - its grooves, progressions, parts and instruments are not one of the ten genres' sheets,
#: though, as in real music, they borrow patterns and instruments from them - so a model trained on the ten meets
#: genuinely foreign music, and the unknown score's AUROC on these tracks measures something.
FOREIGN_STYLES: dict[str, GenreStyle] = {
    "electronic": GenreStyle(
        "electronic", tempo=(120, 140), grooves=("four_floor", "breakbeat", "breakbeat", "disco_16"),
        swing=(0.0, 0.02), swing_unit=16, progressions=("edm_minor", "modal_vamp", "drone"),
        voicing=("triad", "seventh"),
        bass=("root16", "octave", "kick"), comp=("arpeggio", "stabs", "sustain"), lead=("riff", "riff", "melody"),
        scales=("minor", "dorian", "pent_minor"),
        bass_programs=(38, 39, 87), comp_programs=(81, 80, 90, 98), pad_programs=(88, 89, 94, 95),
        lead_programs=(80, 81, 84, 87), pad_prob=0.8, lead_density=2.4, velocity=(90, 120), drum_level=1.0,
        why="synthesiser loops over a steady kick or a broken beat, sixteenth-note synth bass and arpeggios, "
            "one-chord drones and minor loops"),
    "experimental": GenreStyle(
        "experimental", tempo=(50, 190), grooves=("none_4", "none_68", "blast", "none_3"), swing=(0.0, 0.0),
        progressions=("atonal_steps", "drone", "lydian_drift"), voicing=("triad", "seventh"),
        bass=("pedal", "pedal", "root16"), comp=("sustain", "roll", "arpeggio"), lead=("solo", "melody"),
        scales=("phrygian", "harmonic_minor", "blues"),
        bass_programs=(43, 87, 39), comp_programs=(98, 99, 101, 14, 47), pad_programs=(94, 95, 97, 100),
        lead_programs=(120, 121, 123, 97, 103, 79), pad_prob=0.8, lead_density=1.2, velocity=(30, 120),
        drum_level=0.5,
        why="no steady pulse or a noise burst of blast beats, chromatic and whole-tone chord steps, drones, "
            "sound-effect and atmosphere patches, extreme dynamics"),
    "folk": GenreStyle(
        "folk", tempo=(80, 124), grooves=("none_3", "none_68", "none_4", "clave_68"), swing=(0.0, 0.06),
        progressions=("folk_145", "modal_vamp", "drone"), voicing=("triad",),
        bass=("pedal", "root_fifth"), comp=("roll", "strum", "arpeggio"), lead=("melody",),
        scales=("major", "mixolydian", "dorian"),
        bass_programs=(32, 42), comp_programs=(25, 24, 46, 105), pad_programs=(21, 22),
        lead_programs=(110, 73, 75, 21, 22), pad_prob=0.3, lead_density=1.6, velocity=(50, 95), drum_level=0.4,
        why="fingerpicked or strummed acoustic guitar, harp and banjo, fiddle, flute and accordion tunes in waltz "
            "and jig time, mostly without a drum kit"),
    "international": GenreStyle(
        "international", tempo=(90, 132), grooves=("afrobeat", "afrobeat", "clave_68", "bossa"), swing=(0.0, 0.05),
        swing_unit=16, progressions=("modal_vamp", "drone", "lydian_drift"), voicing=("triad",),
        bass=("synco", "reggae", "pedal"), comp=("offbeat", "arpeggio", "stabs"), lead=("melody", "riff"),
        scales=("phrygian", "harmonic_minor", "pent_major", "mixolydian"),
        bass_programs=(33, 32, 35), comp_programs=(104, 106, 107, 108, 114), pad_programs=(109, 111, 21),
        lead_programs=(104, 105, 107, 109, 111, 77), pad_prob=0.5, lead_density=2.0, velocity=(70, 110),
        drum_level=0.9,
        why="interlocking afrobeat and 6/8 bell patterns, one-chord modal vamps, sitar, koto, shamisen, kalimba, "
            "steel drums and shanai over a syncopated bass"),
    "old-time": GenreStyle(
        "old-time", tempo=(140, 184), grooves=("none_4", "none_4", "none_3"), swing=(0.0, 0.04),
        progressions=("folk_145", "drone"), voicing=("triad",), bass=("root_fifth", "root_quarter"),
        comp=("boom_chick", "roll", "roll"), lead=("melody", "riff"), scales=("mixolydian", "pent_major"),
        bass_programs=(32,), comp_programs=(105, 105, 25), pad_programs=(), lead_programs=(110, 110, 105, 22),
        pad_prob=0.0, lead_density=3.2, velocity=(70, 105), drum_level=0.0, bends=0.2,
        why="fast fiddle-and-banjo dance tunes on two chords, alternating bass, no drums"),
    "soul-rnb": GenreStyle(
        "soul-rnb", tempo=(68, 104), grooves=("soul", "soul", "soul", "half_time"), swing=(0.04, 0.12),
        swing_unit=16, progressions=("soul_vamp", "easy_maj7", "modal_vamp"), voicing=("ninth", "seventh"),
        bass=("synco", "synco", "octave"), comp=("comping", "stabs", "block"), lead=("melody", "melody", "riff"),
        scales=("dorian", "pent_minor", "blues"),
        bass_programs=(33, 36, 37), comp_programs=(4, 5, 16, 61, 62), pad_programs=(49, 50, 16),
        lead_programs=(52, 53, 54, 66, 61), pad_prob=0.5, lead_density=1.8, velocity=(70, 110), drum_level=0.9,
        why="a swung sixteenth-note back-beat with ghost notes, i7-IV7 vamps and ninth chords, Rhodes, organ and "
            "horn stabs, a voice-like lead"),
    "spoken": GenreStyle(
        "spoken", tempo=(70, 110), grooves=("none_4", "none_4", "none_3"), swing=(0.0, 0.0),
        progressions=("drone",), voicing=("triad",), bass=("pedal",), comp=("sustain",), lead=("rap",),
        scales=("pent_minor", "dorian"),
        bass_programs=(89,), comp_programs=(89, 92), pad_programs=(), lead_programs=(52, 53, 54, 85),
        pad_prob=0.0, lead_density=2.6, velocity=(60, 100), drum_level=0.0,
        why="a speech-like line over a quiet held drone: no beat, no chord changes"),
    "easy-listening": GenreStyle(
        "easy-listening", tempo=(72, 112), grooves=("bossa", "brushes", "ballad"), swing=(0.0, 0.06),
        progressions=("easy_maj7", "lydian_drift"), voicing=("seventh", "ninth"),
        bass=("root_fifth", "walking"), comp=("arpeggio", "halves", "block"), lead=("melody",),
        scales=("major", "pent_major"),
        bass_programs=(32, 33), comp_programs=(0, 46, 11, 24), pad_programs=(48, 49, 52),
        lead_programs=(73, 11, 71, 68, 48), pad_prob=0.8, lead_density=1.2, velocity=(45, 85), drum_level=0.5,
        why="bossa and brushed ballad grooves, major-seventh progressions, strings, vibraphone, flute and harp at "
            "low dynamics"),
    "instrumental": GenreStyle(
        "instrumental", tempo=(64, 120), grooves=("none_4", "none_68", "ballad", "half_time"), swing=(0.0, 0.04),
        progressions=("lydian_drift", "easy_maj7", "folk_145"), voicing=("seventh", "triad"),
        bass=("pedal", "root_quarter"), comp=("arpeggio", "roll", "halves"), lead=("melody", "solo"),
        scales=("major", "dorian", "mixolydian"),
        bass_programs=(32, 0), comp_programs=(0, 2, 24, 46), pad_programs=(48, 88, 89),
        lead_programs=(0, 24, 26, 71, 65), pad_prob=0.5, lead_density=1.8, velocity=(50, 100), drum_level=0.5,
        why="piano or guitar pieces without a voice, lydian and major-seventh colours, often without drums"),
}

#: Every sheet the corpus composes from: the ten genres and FMA's other groups.
ALL_STYLES: dict[str, GenreStyle] = {**STYLES, **FOREIGN_STYLES}

#: Probability, per role, that a "new data" clip takes its instrument from :data:`SHIFT_PROGRAMS`.
SHIFT_PROGRAM_PROBABILITY = 0.4
#: Instruments of the "new data" shift (paper section 9): programs no style uses for that role.
SHIFT_PROGRAMS: dict[str, tuple[int, ...]] = {
    "bass": (35, 36, 37, 39, 43),
    "comp": (2, 3, 5, 7, 19, 24, 28, 46),
    "pad": (49, 51, 91, 94, 95),
    "lead": (62, 68, 69, 71, 74, 75, 79, 84),
}


def program_name(program: int) -> str:
    """Short lower-case GM name: 'Electric Guitar (clean)' -> 'clean guitar', 'String Ensemble 1' -> 'strings'."""
    import pretty_midi

    name = pretty_midi.program_to_instrument_name(program).lower()
    name = re.sub(r"^(?:electric |acoustic )?(.*?) \((.*)\)$", lambda m: f"{m[2]} {m[1].split()[-1]}", name)
    name = re.sub(r" \d$", "", name).replace("acoustic grand piano", "piano").replace("string ensemble", "strings")
    return name


def _instruments(style: GenreStyle) -> str:
    roles = (("bass", style.bass_programs), ("chords", style.comp_programs), ("pad", style.pad_programs),
             ("lead", style.lead_programs))
    return "; ".join(f"{role}: {_unique(program_name(p) for p in progs)}" for role, progs in roles if progs)


def _unique(items) -> str:
    return ", ".join(dict.fromkeys(items))


#: Readable names of the bass, accompaniment and drum patterns, for the book's tables (a name missing here is
#: shown with its underscores as spaces).
PATTERN_WORDS = {
    "root8": "root in eighths", "root16": "root in sixteenths", "root_quarter": "root in quarters",
    "root_fifth": "root and fifth", "synco": "syncopated root", "octave": "octaves", "kick": "with the kick",
    "power8": "power chords in eighths", "power_sustain": "held power chords", "chug16": "palm-muted sixteenths",
    "strum_pop": "pop strum", "boom_chick": "boom-chick", "shuffle_riff": "shuffle riff", "halves": "half notes",
    "offbeat": "off-beat chords", "four_floor": "four on the floor", "disco_16": "disco with sixteenth hats",
    "pop_16": "pop with sixteenth hats", "clave_68": "6/8 bell pattern", "brushes": "brushed swing",
    "soul": "soul back-beat", "boom_bap": "boom-bap", "boom_bap2": "boom-bap (variant)",
    "half_time": "half time", "metal_double": "double kick", "metal_gallop": "gallop", "one_drop": "one drop",
    "jazz_swing": "swing ride", "jazz_waltz": "jazz waltz", "slow_blues": "slow blues", "rock_shuffle": "rock shuffle",
}


def pattern_words(name: str) -> str:
    """A pattern's readable name; drumless grooves by their metre (``none_68`` -> ``no drums (6/8)``)."""
    if name in GROOVES and name.startswith("none"):
        g = GROOVES[name]
        return f"no drums ({g.meter[0]}/{g.meter[1]})"
    return PATTERN_WORDS.get(name, name.replace("_", " "))


def progression_words(name: str) -> str:
    """A progression as its chords, bar by bar, repeats counted: ``I7 x4 - IV7 x2 - I7 x2 - V7 - IV7 - I7 - V7``."""
    out = []
    for chord in PROGRESSIONS[name]:
        if out and out[-1][0] == chord:
            out[-1][1] += 1
        else:
            out.append([chord, 1])
    return " - ".join(c if k == 1 else f"{c} x{k}" for c, k in out)


def style_table(styles: dict[str, GenreStyle] | None = None) -> pd.DataFrame:
    """The style sheet as a table, one row per genre (for the book).

    Returns
    -------
    DataFrame
        Index ``genre``; columns tempo (BPM range), meter / feel, swing, grooves (drum patterns), bass
        (bass-line patterns), harmony (each progression's chords in Roman numerals, one per bar, ``| `` two in
        a bar, ``xN`` a chord held N bars; then the voicing), accompaniment, lead (melody kinds), instruments
        (General MIDI, by role; the first is the most frequent), velocity (MIDI dynamics range, 1-127), drum
        level (the drums' MIDI channel volume relative to the other parts, 0-1, or none) and why (the
        reasoning and the overlaps). Pattern names are in words (:data:`PATTERN_WORDS`). ``styles``: another set
        of sheets (default the ten genres'; :data:`FOREIGN_STYLES` for FMA's other groups).
    """
    rows = []
    for name, s in (STYLES if styles is None else styles).items():
        meters = _unique(f"{GROOVES[g].meter[0]}/{GROOVES[g].meter[1]}" for g in s.grooves)
        feels = _unique(GROOVES[g].feel for g in s.grooves)
        rows.append({
            "genre": name,
            "tempo": f"{s.tempo[0]}-{s.tempo[1]}",
            "meter / feel": f"{meters}; {feels}",
            "swing": "-" if s.swing[1] == 0 else f"{s.swing[0]:.2f}-{s.swing[1]:.2f} ({s.swing_unit}ths)",
            "grooves": "; ".join(dict.fromkeys(pattern_words(g) for g in s.grooves)),
            "bass": "; ".join(dict.fromkeys(pattern_words(b) for b in s.bass)),
            "harmony": ("; ".join(dict.fromkeys(progression_words(p) for p in s.progressions))
                        + f" ({_unique(s.voicing)})"),
            "accompaniment": "; ".join(dict.fromkeys(pattern_words(c) for c in s.comp)),
            "lead": _unique(s.lead),
            "instruments": _instruments(s),
            "velocity": f"{s.velocity[0]}-{s.velocity[1]}",
            "drum level (0-1)": f"{s.drum_level:.2f}" if s.drum_level else "none",
            "why": s.why,
        })
    return pd.DataFrame(rows).set_index("genre")
