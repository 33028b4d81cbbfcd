"""The synthetic corpus: ten genres composed with pretty_midi, rendered with a General MIDI SoundFont.

GTZAN and FMA cannot be downloaded here, yet the book must run end to end, offline, through the code path
real data takes. So the default data is music this module composes (:func:`compose`, from the style sheet
in :mod:`genre_utils.styles`), renders (:func:`render`: every part alone with the ``tinysoundfont`` wheel, a
self-contained C SoundFont synthesizer, its stems brought to one loudness and mixed; one of two General MIDI
banks per artist, :mod:`genre_utils.synth.banks`: the
``TimGM6mb.sf2`` inside ``pretty_midi`` and FluidR3Mono, fetched once at set-up; no system library, nothing
downloaded while rendering) and writes in the real datasets' layouts (:func:`render_corpus`).

Layout written by :func:`render_corpus` under ``out_dir``::

    gtzan/genres_original/<genre>/<genre>.NNNNN.wav     22,050 Hz mono 16-bit, balanced
    gtzan/test_only.txt                                 ids of the clips rendered for the test split only
    gtzan/artists.csv                                   track_id,artist of every GTZAN-layout clip
    fma/fma_metadata/tracks.csv, genres.csv            the real 52-column, three-header-line format
    fma/fma_medium/NNN/NNNNNN.mp3                      44,100 Hz mono MP3, unbalanced like fma_medium
    newdata/<genre>/<genre>-new-NNN.wav                 "new data" (paper section 9): shifted style and mix
    corpus.json                                        summary + fingerprint, written last (cache marker)

The corpus is keyed (:func:`corpus_fingerprint`) on the profile's synth fields, the seed,
:data:`SYNTH_VERSION`, the code of this module and everything it imports
(:func:`genre_utils.provenance.code_fingerprint`) and the versions of the libraries it uses
(:func:`genre_utils.provenance.library_key`) and the banks' SHA-256. ``corpus.json`` also records the size and
SHA-256 of every file written; a reused corpus is checked against the sizes every time (the hashes too with
``verify=True``), and a missing, truncated or altered file is rendered again (only that file). Files are written
atomically and an interrupted render resumes, so an interrupted render finishes byte-identical to an uninterrupted
one.

Deliberately broken files (the loaders must skip each with a reason):

* GTZAN ``jazz/jazz.00054.wav`` is not a RIFF file, as in the real Kaggle copy. Index 54 of jazz is never
  a good clip, so with more than 54 clips per genre jazz's good indices skip 54 and stay balanced.
* GTZAN ``blues.NNNNN.wav`` (silent, full length) and ``rock.NNNNN.wav`` (3 s long) use the first index
  past the balanced count, ``NNNNN = synth_tracks_per_genre``; ``genres_original/.DS_Store`` and
  ``genres_original/pop/.DS_Store`` are macOS litter.
* FMA: three rows beyond ``synth_fma_tracks`` good ones: a 0-byte mp3 (rock), an id with no audio file
  (hiphop) and a 2.5-s mp3 whose metadata still says 30 s (pop).
* newdata: ``reggae/reggae-new-cut.wav``, a WAV cut off after 1.5 s of audio (a truncated download).

Test-only clips: ``Profile.test_tracks_per_genre`` asks for that many GTZAN test tracks per genre; the clips the
track split would not give the test split (``Profile.test_only_per_genre`` of them per genre) are rendered with
the next indices after the broken ones (``NNNNN > synth_tracks_per_genre``) and listed in ``gtzan/test_only.txt``,
which the store reads to send them to the test split only (:func:`genre_utils.splits.split_tracks`).

Everything is seeded from ``(seed, tree, genre, index)`` through SHA-256, so files are byte-identical
across runs and independent of the number of worker processes.

The package is split by job; everything listed in ``__all__`` is importable from ``genre_utils.synth``:

:mod:`~genre_utils.synth.compose`
    Style sheet to General MIDI (:func:`compose`, :func:`make_plan`, :func:`parse_chord`).
:mod:`~genre_utils.synth.render`
    General MIDI to a mastered clip (:func:`render`, :func:`synthesize`, :func:`post_process`).
:mod:`~genre_utils.synth.artists`
    Artists: what their tracks share (:func:`artist_sheet`) and who plays which GTZAN-layout clip
    (:func:`gtzan_artists`).
:mod:`~genre_utils.synth.fma_meta`
    The FMA tracks, their artists and splits, and ``tracks.csv`` (:func:`plan_fma`, :func:`fma_tracks_table`).
:mod:`~genre_utils.synth.corpus`
    The resumable, cached corpus build (:func:`render_corpus`, :func:`plan_corpus`, :func:`check_corpus`).
:mod:`~genre_utils.synth.banks`
    The General MIDI banks, fetching the second one and decoding it (:func:`fetch_banks`, :func:`sf3_to_sf2`).
:mod:`~genre_utils.synth.seeding`
    The SHA-256-seeded random generators every part draws from.
"""

from __future__ import annotations

from ..styles import FOREIGN_STYLES, STYLES, GenreStyle, style_table
from .artists import ArtistSheet, artist_sheet, gtzan_artists
from .banks import BANK_NAMES, BANKS, BankDamaged, BankMissing, bank_dir, fetch_banks, sf3_to_sf2
from .compose import SCALES, TAIL_SECONDS, Chord, Plan, compose, make_plan, parse_chord
from .corpus import (
    CORPUS_JSON,
    FMA_SAMPLE_RATE,
    GTZAN_SAMPLE_RATE,
    PROGRESS_JSON,
    SYNTH_FIELDS,
    SYNTH_VERSION,
    Job,
    check_corpus,
    corpus_fingerprint,
    plan_corpus,
    render_corpus,
)
from .fma_meta import FMA_KBPS, FMA_MIX, FmaTrack, fma_counts, fma_relpath, fma_tracks_table, plan_fma
from .render import (
    PRODUCTION,
    Chain,
    Production,
    corpus_tools,
    draw_chain,
    mix_stems,
    post_process,
    render,
    soundfont_bytes,
    soundfont_name,
    synthesize,
    synthesize_stems,
)

__all__ = [
    "STYLES",
    "FOREIGN_STYLES",
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
    # also importable from here (they live in the submodules named in the docstring)
    "SCALES", "TAIL_SECONDS", "Chord", "Plan", "make_plan", "parse_chord",
    "CORPUS_JSON", "PROGRESS_JSON", "SYNTH_FIELDS", "Job", "plan_corpus",
    "FMA_KBPS", "FMA_MIX", "FmaTrack", "fma_counts", "fma_relpath", "fma_tracks_table", "plan_fma",
    "PRODUCTION", "Production", "post_process", "synthesize", "synthesize_stems", "mix_stems", "soundfont_bytes",
    "soundfont_name", "corpus_tools",
    "Chain", "draw_chain", "ArtistSheet", "artist_sheet", "gtzan_artists",
    "BANK_NAMES", "BANKS", "BankMissing", "BankDamaged", "bank_dir", "fetch_banks", "sf3_to_sf2",
]
