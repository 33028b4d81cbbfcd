"""Result-chosen sentences and intervals: true for ties, zeros, negative margins and empty cells."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from genre_utils import narrative as N
from genre_utils.stats import Accuracy, accuracy_of, overlaps, wilson_interval

G = ["blues", "jazz", "pop", "rock"]


def counts(matrix):
    return pd.DataFrame(np.asarray(matrix), index=G, columns=G)


def per_genre(correct, support):
    correct, support = np.asarray(correct), np.asarray(support)
    with np.errstate(invalid="ignore"):
        acc = correct / support
    return pd.DataFrame({"accuracy": acc, "correct": correct, "support": support}, index=G)


# ------------------------------------------------------------------------------------------- intervals
@pytest.mark.parametrize("k,n", [(0, 4), (4, 4), (35, 40), (1, 16), (700, 1000), (5, 16)])
def test_wilson_matches_scipy(k, n):
    low, high = wilson_interval(k, n)
    ref = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert low == pytest.approx(ref.low, abs=1e-9) and high == pytest.approx(ref.high, abs=1e-9)
    assert low <= k / n <= high


def test_wilson_edges_and_errors():
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0
    assert all(math.isnan(x) for x in wilson_interval(0, 0))
    with pytest.raises(ValueError):
        wilson_interval(5, 4)
    narrow, wide = wilson_interval(80, 100), wilson_interval(8, 10)
    assert narrow[1] - narrow[0] < wide[1] - wide[0]  # more data, tighter interval


def test_accuracy_text_carries_n_and_interval():
    acc = accuracy_of([True] * 35 + [False] * 5)
    assert (acc.k, acc.n) == (35, 40)
    text = acc.text()
    assert text.startswith("87.5 % (35 of 40 tracks; 95 % interval ") and text.endswith(" %)")
    assert Accuracy(0, 0).text() == "n/a (no tracks)"
    assert overlaps(Accuracy(4, 4), Accuracy(3, 4)) and not overlaps(Accuracy(1000, 1000), Accuracy(0, 1000))


# ---------------------------------------------------------------------------------------- extremes
def test_extremes_names_every_tied_genre():
    text = N.extremes_sentence(per_genre([4, 4, 2, 4], [4, 4, 4, 4]))
    assert "3 genres share the highest accuracy: blues, jazz and rock (each 100.0 %)" in text
    assert "the lowest accuracy is pop, 50.0 % (2 of 4 tracks)" in text
    assert "best-recognised genre is" not in text
    assert "moves its accuracy by 25 points" in text


def test_extremes_single_best_and_all_equal():
    text = N.extremes_sentence(per_genre([20, 18, 10, 10], [20, 20, 20, 20]))
    assert text.startswith("The best-recognised genre is blues, 100.0 % (20 of 20 tracks)")
    assert "2 genres share the lowest: pop and rock (each 50.0 %)" in text and "fragile" not in text
    same = N.extremes_sentence(per_genre([3, 3, 3, 3], [4, 4, 4, 4]))
    assert "equally well" in same and "best" not in same.split(":")[0]


def test_extremes_skips_genres_without_tracks():
    text = N.extremes_sentence(per_genre([2, 0, 1, 1], [2, 0, 2, 2]))
    assert "jazz" not in text


# --------------------------------------------------------------------------------------- confusions
def test_confusion_sentence_zero_one_and_tied():
    cm = counts([[4, 0, 0, 0], [0, 2, 1, 1], [0, 0, 1, 3], [0, 0, 0, 0]])
    assert N.confusion_sentence(cm, "blues") == "No blues track is mistaken for another genre (all 4 tracks right)."
    assert "no single favourite: pop and rock get 1 each" in N.confusion_sentence(cm, "jazz")
    assert N.confusion_sentence(cm, "pop").startswith("Pop is most often taken for rock: 3 of 4 tracks (75.0 %)")
    assert N.confusion_sentence(cm, "rock") == "There is no rock track in the test set."
    assert N.pair_sentence(cm, "jazz", "blues") == "No jazz track is called blues (of 4 tracks)."
    assert N.pair_sentence(cm, "pop", "rock") == "3 of 4 pop tracks (75.0 %) are called rock."


def test_explorer_opening_sentence_ties_and_no_errors():
    assert "no error" in N.explorer_opening_sentence(np.eye(4, dtype=int) * 3, G)
    tied = N.explorer_opening_sentence(counts([[3, 1, 0, 0], [0, 3, 1, 0], [0, 0, 4, 0], [0, 0, 0, 4]]), G)
    assert tied.startswith("No confusion stands out: 2 cells hold 1 track each")
    one = N.explorer_opening_sentence(counts([[2, 2, 0, 0], [0, 3, 1, 0], [0, 0, 4, 0], [0, 0, 0, 4]]), G)
    assert "most frequent confusion: blues taken for jazz (2 tracks)" in one
    assert N.largest_confusion(np.eye(3)) == {"count": 0, "cells": []}


# ------------------------------------------------------------------------------------------ margins
@pytest.mark.parametrize("d,lo,hi,expect", [
    (0.325, 0.125, 0.5, "is more accurate than"),
    (-0.2, -0.35, -0.05, "is less accurate than"),
    (0.05, -0.075, 0.2, "within the noise"),
    (-0.05, -0.2, 0.075, "within the noise"),
    (0.0, -0.1, 0.1, "equally accurate"),
])
def test_margin_sentence_follows_sign_and_interval(d, lo, hi, expect):
    text = N.margin_sentence({"difference": d, "low": lo, "high": hi, "level": 0.95, "n_tracks": 40}, "CRNN", "probe")
    assert expect in text and "40 test tracks" in text
    if expect == "within the noise" and d < 0:
        assert text.startswith("probe is ahead of CRNN on the same 40 test tracks by 5.0 points")


# ------------------------------------------------------------------------------------------ new data
def test_vote_mean_disagreements_counts_and_explains():
    files = pd.DataFrame({"pred_genre": ["jazz", "pop", "rock", "x"],
                          "top3": ["jazz:0.6 pop:0.3", "rock:0.5 pop:0.4", "rock:0.9", ""]})
    n, text = N.vote_mean_disagreements(files)
    assert n == 1 and text.startswith("For 1 of 3 files") and "majority" in text
    n0, text0 = N.vote_mean_disagreements(files.iloc[[0, 2]])
    assert n0 == 0 and "same genre" in text0


def test_collapse_sentence_only_when_one_genre_absorbs_others():
    true = ["blues", "jazz", "pop", "rock"] * 5
    assert N.collapse_sentence(true, true) == ""
    text = N.collapse_sentence(true, ["classical"] * 8 + true[8:])
    assert text.startswith("8 of 20 files (40.0 %) are called classical, although only 0 are: 8 files of 4 other")
    assert N.collapse_sentence(["pop"] * 9 + ["rock"], ["pop"] * 10) == ""  # mostly pop really
    assert N.join_names(["a", "b", "c"]) == "a, b and c" and N.join_names(["a"]) == "a"
