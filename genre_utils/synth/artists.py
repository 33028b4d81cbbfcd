"""Artists of the synthetic corpus: tracks that share a sound, as an artist's records do.

On real data, the tracks of one artist share more than their genre: a band's instruments and mixing desk, a
singer's favourite keys, a drummer's tempo and groove, a studio's production. A model trained on some of an
artist's tracks and tested on others can score by recognising the artist, which is why an artist-filtered split
gives lower accuracies than a random one (Flexer 2007; Sturm 2013 for GTZAN). The corpus reproduces that cause:

* an artist is a seed; :func:`artist_sheet` draws from it, from the *same* distributions a lone track's choices
  come from (the style sheet's tempo range, grooves, progressions, instrument pools, and the genre-independent
  :data:`~genre_utils.synth.render.PRODUCTION` ranges), the artist's key, tempo, two grooves, two progressions,
  instruments, mix, dynamics and production chain (:class:`ArtistSheet`); its General MIDI bank is assigned
  when the corpus is planned (:func:`balanced_banks`: half of every genre's tracks on each bank);
* each of the artist's tracks then keeps those choices with small deviations of its own
  (:func:`genre_utils.synth.plan.make_plan` with ``artist=``): another key a fourth or fifth away now and
  then, a tempo a few per cent off, now and then another instrument for one part.

So what differs between the corpus with and without artists is only how the choices are shared among tracks,
not what they are: the artist effect, and nothing else, is what the random and the artist split can disagree on.

:func:`gtzan_artists` assigns every GTZAN-layout clip of a genre to an artist (several clips each); the corpus
writes the assignment as ``gtzan/artists.csv`` (what Sturm's published artist annotations give for the real
GTZAN), and the store reads it (:func:`genre_utils.store.read_artists`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..genres import GENRES
from ..styles import ALL_STYLES, GROOVES, SHIFT_PROGRAM_PROBABILITY, SHIFT_PROGRAMS, STYLES, GenreStyle
from .banks import BANK_NAMES
from .render import Chain, draw_chain
from .seeding import pick, seeded_rng

__all__ = ["ArtistSheet", "artist_sheet", "draw_program", "draw_kit", "ROLES", "track_choices", "artist_names",
           "invented_title", "gtzan_artists", "balanced_banks", "ARTIST_SIZES", "KEY_MOVES", "TEMPO_SPREAD",
           "KIT_CHANGE"]

#: Range of the number of clips an artist has among a genre's balanced GTZAN-layout clips.
ARTIST_SIZES = (2, 5)
#: Key of a track relative to its artist's key, in semitones, drawn uniformly: mostly the home key.
KEY_MOVES = (0, 0, 0, 5, 7)
#: A track's tempo deviates from its artist's by a factor drawn from 1 +- this.
TEMPO_SPREAD = 0.04
#: Per part, the probability that a track plays another instrument than its artist's (drawn as a lone track's).
KIT_CHANGE = 0.2

#: The pitched parts of a clip, each with its General MIDI program and mix level.
ROLES = ("bass", "comp", "pad", "lead")

_ADJ = ("Velvet", "Electric", "Silent", "Golden", "Broken", "Crimson", "Hollow", "Lucky", "Midnight", "Paper",
        "Neon", "Rusty", "Wild", "Quiet", "Northern", "Burning", "Blue", "Lonesome", "Cosmic", "Iron")
_NOUN = ("Owls", "Rivers", "Engines", "Lanterns", "Foxes", "Saints", "Wires", "Harbors", "Comets", "Ghosts",
         "Horses", "Pilots", "Echoes", "Tigers", "Gardens", "Radios", "Stones", "Sparrows", "Machines", "Drifters")
_FIRST = ("Ada", "Bruno", "Clara", "Dev", "Elif", "Femi", "Greta", "Hugo", "Ines", "Jonah", "Kaito", "Lena",
          "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tove")
_LAST = ("Marsh", "Okafor", "Lindqvist", "Moreau", "Tanaka", "Reyes", "Novak", "Brennan", "Haddad", "Kowalski",
         "Silva", "Fischer", "Abara", "Castillo", "Petrov", "Doyle", "Mensah", "Varga", "Holm", "Baptiste")


def draw_program(style: GenreStyle, role: str, rng, shift: bool):
    """A General MIDI program for one part: from the style's pool, or with probability ``style.substitution``
    from a genre drawn at random; for shifted ("new data") clips sometimes one no style uses for that part."""
    pool = getattr(style, f"{role}_programs")
    if shift and rng.random() < SHIFT_PROGRAM_PROBABILITY:
        return pick(rng, SHIFT_PROGRAMS[role])
    if rng.random() < style.substitution:
        other = getattr(STYLES[pick(rng, GENRES)], f"{role}_programs")
        if other:
            return pick(rng, other)
    return pick(rng, pool) if pool else None


def draw_kit(style: GenreStyle, rng, shift: bool) -> tuple[dict, dict]:
    """The instruments and mix levels of a clip (or of an artist, whose tracks share them).

    Returns
    -------
    programs : dict
        Part (:data:`ROLES`) -> program (:func:`draw_program`); the pad is None unless drawn with the style's
        ``pad_prob``.
    levels : dict
        ``'drums'`` (the style's drum level times 0.8-1, or 0.6-1 when ``shift``) and each part (0.6-1).
    """
    programs = {role: draw_program(style, role, rng, shift) for role in ROLES}
    if rng.random() >= style.pad_prob:
        programs["pad"] = None
    drums = float(style.drum_level * rng.uniform(0.6 if shift else 0.8, 1.0))
    return programs, {"drums": drums, **{role: float(rng.uniform(0.6, 1.0)) for role in ROLES}}


def artist_names(n: int, rng) -> list[str]:
    """``n`` distinct invented artist names ("The Velvet Owls", "Ada Marsh", "DJ Neon" ...)."""
    templates = ("The {a} {n}", "{f} {l}", "{f} & the {n}", "DJ {a}", "{a} {n}", "MC {l}", "{l} Quartet")
    names: list[str] = []
    while len(names) < n:
        name = pick(rng, templates).format(a=pick(rng, _ADJ), n=pick(rng, _NOUN), f=pick(rng, _FIRST),
                                            l=pick(rng, _LAST))
        if name in names:
            name = f"{name} {len(names)}"
        names.append(name)
    return names


def invented_title(rng) -> str:
    """An invented album or track title ("Golden Comets")."""
    return f"{pick(rng, _ADJ)} {pick(rng, _NOUN)}"


@dataclass(frozen=True)
class ArtistSheet:
    """What one artist's tracks share, drawn by :func:`artist_sheet` from a style and the artist's seed.

    Attributes
    ----------
    key : int
        Home key (pitch class of the tonic, 0 = C).
    tempo_position : float
        Where in the style's tempo range the artist plays (0 slowest, 1 fastest).
    grooves, progressions : tuple of str
        The one or two grooves and progressions of the style the artist uses.
    programs : tuple of (str, int or None)
        The General MIDI program of each part (bass, comp, pad, lead); None: the artist has no pad.
    levels : tuple of (str, float)
        Mix level of each part and of the drums.
    velocity : int
        Base dynamics.
    reverb : int
        MIDI reverb send (CC 91).
    chain : genre_utils.synth.render.Chain
        The production chain of every track (the MP3 round trip included).
    """

    key: int
    tempo_position: float
    grooves: tuple
    progressions: tuple
    programs: tuple
    levels: tuple
    velocity: int
    reverb: int
    chain: Chain


def balanced_banks(owners: dict, rng) -> dict:
    """Assign a General MIDI bank to each owner of a genre's tracks (an artist, or a lone track) so that each
    bank gets as near half of the genre's tracks as the owners' sizes allow.

    Drawing a bank per artist with even odds would leave a genre with ten artists at, say, 12 % on one bank and
    another at 64 % by chance, and the bank would then carry genre. Here the owners are taken in a random
    order (``rng``) and each goes to the bank that has fewer tracks so far, so no bank names a genre in the
    corpus itself, not only in expectation.

    Parameters
    ----------
    owners : dict
        Owner key -> number of tracks.
    rng : numpy.random.Generator

    Returns
    -------
    dict
        Owner key -> a key of :data:`genre_utils.synth.banks.BANKS`.
    """
    keys = sorted(owners, key=str)
    counts = dict.fromkeys(BANK_NAMES, 0)
    out = {}
    for i in rng.permutation(len(keys)):
        bank = min(BANK_NAMES, key=counts.get)   # ties: the first bank
        out[keys[i]] = bank
        counts[bank] += owners[keys[i]]
    return out


def artist_sheet(style_name: str, artist_seed: int) -> ArtistSheet:
    """Draw an artist's shared choices for tracks in one style (see the module docstring).

    Parameters
    ----------
    style_name : str
        A key of :data:`genre_utils.styles.ALL_STYLES`.
    artist_seed : int
        The artist's seed: the same seed and style, the same sheet.
    """
    style = ALL_STYLES[style_name]
    rng = seeded_rng("artist", int(artist_seed), style_name)
    grooves = tuple(sorted(set(pick(rng, style.grooves) for _ in range(2))))
    progressions = tuple(sorted(set(pick(rng, style.progressions) for _ in range(2))))
    programs, levels = draw_kit(style, rng, False)
    lo_v, hi_v = style.velocity
    return ArtistSheet(key=int(rng.integers(12)), tempo_position=float(rng.uniform(0, 1)), grooves=grooves,
                       progressions=progressions, programs=tuple(programs.items()), levels=tuple(levels.items()),
                       velocity=int(rng.integers(lo_v, hi_v + 1)), reverb=int(rng.integers(*style.reverb)),
                       chain=draw_chain(rng, False))


def track_choices(artist: ArtistSheet, style: GenreStyle, seed: int, own_programs: dict) -> dict:
    """One track's choices under its artist: the artist's, with the track's own small deviations.

    Parameters
    ----------
    artist : ArtistSheet
    style : genre_utils.styles.GenreStyle
        The track's style (the artist's tempo position is read in its range).
    seed : int
        The track's seed; the deviations come from a generator of their own.
    own_programs : dict
        The programs the track drew as a lone track: a part that changes instrument (:data:`KIT_CHANGE`)
        takes the track's own.

    Returns
    -------
    dict
        ``groove``, ``tempo`` (bpm, the groove's ``tempo_scale`` applied), ``progression``, ``key``,
        ``programs``, ``levels``, ``velocity``, ``reverb``.
    """
    rng = seeded_rng("artist-track", int(seed), style.genre)
    groove = pick(rng, artist.grooves)
    lo, hi = style.tempo
    tempo = (lo + artist.tempo_position * (hi - lo)) * rng.uniform(1 - TEMPO_SPREAD, 1 + TEMPO_SPREAD)
    programs = {role: (program if program is None or rng.random() >= KIT_CHANGE else own_programs[role])
                for role, program in artist.programs}
    if programs["pad"] is None and own_programs["pad"] is not None and rng.random() < KIT_CHANGE:
        programs["pad"] = own_programs["pad"]
    return {"groove": groove, "tempo": round(float(tempo * GROOVES[groove].tempo_scale), 2),
            "progression": pick(rng, artist.progressions), "key": (artist.key + pick(rng, KEY_MOVES)) % 12,
            "programs": programs,
            "levels": {part: float(level * rng.uniform(0.9, 1.1)) for part, level in artist.levels},
            "velocity": int(np.clip(artist.velocity + rng.integers(-6, 7), 1, 127)), "reverb": artist.reverb}


def gtzan_artists(genre: str, n_main: int, n_test_only: int, seed: int) -> tuple[list[int], list[int], int]:
    """Which artist each GTZAN-layout clip of one genre belongs to.

    The ``n_main`` balanced clips are cut into artists of :data:`ARTIST_SIZES` clips (the last artist may be
    smaller). The ``n_test_only`` clips rendered for the test split only (``Profile.test_only_per_genre``) are
    further tracks by a few artists who have exactly one balanced clip each (one such artist per four
    test-only clips): a random split may train on that one clip and test on the artist's others, an artist
    split never does, and both test on the test-only clips. That shared test set makes the two splits' gap a
    paired comparison (``genre_utils.results.artist_gap``) at the cost of a handful of balanced clips that the
    artist split must send to the test split with their artist.

    Returns
    -------
    main : list of int, length n_main
        Artist number (0-based, within the genre) of each balanced clip, in index order.
    test_only : list of int, length n_test_only
        Artist number of each test-only clip.
    n_artists : int
    """
    rng = seeded_rng("gtzan-artists", int(seed), genre)
    n_shared = min(-(-n_test_only // 4), n_main) if n_test_only else 0
    sizes = [1] * n_shared
    left = n_main - n_shared
    while left > 0:
        size = min(int(rng.integers(ARTIST_SIZES[0], ARTIST_SIZES[1] + 1)), left)
        sizes.append(size)
        left -= size
    owner = np.repeat(np.arange(len(sizes)), sizes)
    main = [int(a) for a in owner[rng.permutation(n_main)]]  # an artist's clips are not consecutive indices
    test_only = [i % n_shared for i in range(n_test_only)] if n_shared else []
    return main, test_only, len(sizes)
