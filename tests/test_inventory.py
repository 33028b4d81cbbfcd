"""The data page's counts of a store's entries, and the quantitative page's near-duplicate pairs across splits,
computed by the package from the store's files (the notebooks only glue them)."""

import pandas as pd

from genre_utils.inventory import cross_split_pairs, skip_counts
from genre_utils.report import paper_pop_predictions


def test_skipped_entries_are_counted_by_kind_of_reason():
    skipped = pd.DataFrame({"reason": [
        "unusable: shorter than 5 s", "unusable: silent",
        "eliminated: no genre among the ten", "eliminated: ambiguous: maps to blues and jazz",
        "system file", "empty file", "eliminated: no FMA genre listed"]})
    info = {"n_tracks_found": 40, "n_tracks_used": 38, "n_skipped": 7}
    n = skip_counts(info, skipped)
    assert (n.unusable, n.ambiguous, n.no_genre, n.before_audio, n.other_files) == (2, 1, 2, 5, 2)
    assert n.unaccounted == 0 and n.found == 40
    # nothing skipped at all: zeros, not an error
    none = skip_counts({"n_tracks_found": 3, "n_tracks_used": 2, "n_skipped": 0}, pd.DataFrame({"reason": []}))
    assert (none.unusable, none.before_audio, none.other_files, none.unaccounted) == (0, 0, 0, 1)


def test_near_duplicate_pairs_across_splits():
    split_of = pd.Series({"a": "train", "b": "test", "c": "train", "d": "valid", "e": None, "f": ""})
    near = pd.DataFrame({"track_a": ["a", "a", "c", "d", "f"], "track_b": ["b", "c", "d", "e", "a"]})
    assert cross_split_pairs(near, split_of) == (2, 1)     # a/b and c/d (e and f are in no split); a/b train/test
    assert cross_split_pairs(pd.DataFrame(), split_of) == (0, 0)


def test_the_papers_pop_counts_follow_from_its_percentages():
    pop = paper_pop_predictions()
    assert (pop["right"], pop["predicted"], pop["false"]) == (5, 14, 9)   # 31.2 % of 16; 64.3 % = 9 / 14
    assert abs(pop["textbook_fpr"] - 9 / 144) < 1e-12
