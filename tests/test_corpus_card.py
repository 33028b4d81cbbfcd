"""The corpus card: read off the style sheet, with the paper's findings it builds in decided by rules."""

import dataclasses
import json

from genre_utils import corpus_card as C
from genre_utils.styles import STYLES


def _sheet(**changes):
    """The style sheet with some genres' fields replaced: ``pop={'grooves': (...)}``."""
    return {g: dataclasses.replace(s, **changes.get(g, {})) for g, s in STYLES.items()}


def test_overlaps_are_symmetric_counts_of_shared_items():
    m = C.overlap_matrix()
    assert (m.values == m.values.T).all() and (m.values.diagonal() == 0).all()
    shared = C.shared_components("jazz", "blues")
    assert m.loc["jazz", "blues"] == sum(len(v) for v in shared.values())
    assert "walking" in shared["bass lines"]


def test_instruments_are_shared_only_in_the_same_role():
    sheet = _sheet(blues={"bass_programs": (0,), "comp_programs": (1,), "pad_programs": (), "lead_programs": (2,)},
                   jazz={"bass_programs": (5,), "comp_programs": (0,), "pad_programs": (), "lead_programs": (2,)})
    shared = C.shared_components("blues", "jazz", sheet)["instruments"]
    assert len(shared) == 1 and shared[0].endswith("(lead)")   # piano is bass in one and chords in the other


def test_signatures_hold_only_items_no_other_genre_uses():
    sig = C.signatures()
    for genre, parts in sig.items():
        for name, items in parts.items():
            for other in STYLES:
                if other != genre:
                    assert not set(items) & set(C.shared_components(genre, other)[name])


def test_designed_findings_follow_the_sheet_not_the_paper():
    found = C.designed_findings()
    assert set(found) <= {"classical_metal_best", "pop_hardest", "pop_attracts", "jazz_blues_apart"}
    # a second drumless genre: classical is no longer singled out
    assert "classical_metal_best" not in C.designed_findings(_sheet(reggae={"drum_level": 0.0}))
    # pop that shares nothing: its place is no longer built in
    loner = _sheet(pop={"grooves": ("none_4",), "progressions": ("reggae_2",), "bass": ("pedal",),
                        "comp": ("sustain",), "bass_programs": (127,), "comp_programs": (126,),
                        "pad_programs": (), "lead_programs": (125,)})
    assert not {"pop_hardest", "pop_attracts"} & set(C.designed_findings(loner))
    # jazz and blues without a shared bass line: their confusion is the model's
    apart = _sheet(blues={"bass": ("boogie",)}, jazz={"bass": ("pedal",)})
    assert "jazz_blues_apart" not in C.designed_findings(apart)


def test_card_is_json_and_covers_every_genre():
    card = json.loads(json.dumps(C.card()))
    assert card["format"] == C.CARD_FORMAT and set(card["genres"]) == set(STYLES)
    assert card["genres"]["classical"]["drum_level"] == 0
    assert card["shared"]["instrument_exchange"] == STYLES["pop"].substitution
    assert card["overlaps"]["pop"]["rock"] == card["overlaps"]["rock"]["pop"]
    assert card["not_modelled"]
