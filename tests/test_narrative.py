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
    assert N.confusion_sentence(cm, "pop") == "Pop's only wrong answer is rock: 3 of 4 tracks (75.0 %)."
    spread = counts([[1, 2, 1, 0], [0, 4, 0, 0], [0, 0, 4, 0], [0, 0, 0, 4]])
    assert N.confusion_sentence(spread, "blues") == ("Blues is most often taken for jazz: 2 of 4 tracks (50.0 %); "
                                                     "3 of 4 are wrong in all.")
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


# ------------------------------------------------------------------------------ comparisons with the paper
def test_versus_paper_inside_above_below_and_empty():
    acc = Accuracy(7, 10)  # 95 % interval about 39.7-89.2 %
    assert N.versus_paper_sentence(acc, 0.70, unit="track").startswith(
        "The paper's 70.0 % lies inside this build's 95 % interval, so on 10 tracks")
    assert N.versus_paper_sentence(Accuracy(2, 10), 0.70) == "The paper's 70.0 % lies above this build's 95 % interval."
    assert N.versus_paper_sentence(Accuracy(10, 10), 0.2) == "The paper's 20.0 % lies below this build's 95 % interval."
    assert "cannot be compared" in N.versus_paper_sentence(Accuracy(0, 0), 0.7)
    assert "on 1 pop track the two" in N.versus_paper_sentence(Accuracy(0, 1), 0.312, unit="pop track")
    assert Accuracy(0, 1).text() == "0.0 % (0 of 1 track; 95 % interval 0.0-79.3 %)"


def per_genre_full(correct, support, n_predicted):
    frame = per_genre(correct, support)
    frame["n_predicted"] = n_predicted
    return frame


def test_precision_sentence_ties_and_never_predicted():
    one = N.precision_sentence(per_genre_full([4, 3, 2, 0], [4, 4, 4, 4], [5, 3, 4, 0]))
    assert one.startswith("The least reliable answer is pop: of the 4 tracks called pop, 2 are pop (precision 50.0 %).")
    assert one.endswith("The model never answers rock.")
    tied = N.precision_sentence(per_genre_full([0, 0, 2, 1], [1, 1, 2, 1], [2, 3, 2, 1]))
    assert tied.startswith("2 genres share the lowest precision, 0.0 %") and "blues (0 of 2) and jazz (0 of 3)" in tied
    same = N.precision_sentence(per_genre_full([1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1]))
    assert "equally often" in same and "least" not in same
    assert "no prediction" in N.precision_sentence(per_genre_full([0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]))


def test_weakest_sentence_ties_and_no_weakest():
    cm = counts([[4, 0, 0, 0], [0, 2, 2, 0], [0, 0, 4, 0], [0, 0, 2, 2]])
    frame = per_genre_full([4, 2, 4, 2], [4, 4, 4, 4], [4, 2, 8, 2])
    text = N.weakest_sentence(cm, frame)
    assert "Jazz's only wrong answer is pop: 2 of 4 tracks" in text and "Rock's only wrong answer is pop" in text
    assert N.weakest_sentence(counts(np.eye(4, dtype=int)), per_genre_full([1] * 4, [1] * 4, [1] * 4)) == ""
    many = N.weakest_sentence(counts(np.ones((4, 4), dtype=int)), per_genre_full([1, 1, 1, 4], [4, 4, 4, 4], [4] * 4),
                              most=2)
    assert many.startswith("3 genres share the lowest accuracy")


def test_focus_genre_and_fdr_sentences():
    cm = counts([[4, 0, 0, 0], [0, 4, 0, 0], [0, 0, 1, 3], [0, 0, 0, 4]])
    text = N.focus_genre_sentence(cm, Accuracy(1, 4), "pop", "rock")
    assert text.startswith("Pop is recognised 25.0 % (1 of 4 tracks;") and text.endswith(
        "3 of 4 pop tracks (75.0 %) are called rock.")
    assert N.focus_genre_sentence(cm, Accuracy(0, 0), "pop", "rock") == ("There is no pop track in this build's "
                                                                         "test set.")
    never = {"n_predicted": 0, "correct": 0, "false_positive_rate": 0.0}
    assert N.fdr_sentence(never, "pop").startswith("Here the model never answers pop, so pop has no false discovery")
    some = {"n_predicted": 14, "correct": 5, "false_positive_rate": 9 / 144}
    assert N.fdr_sentence(some, "pop") == ("Here 9 of the 14 tracks called pop are something else, a false discovery "
                                          "rate of 64.3 %; the false positive rate is 6.2 %.")


def test_neighbours_sentence_zero_within_and_outside():
    zero = N.neighbours_sentence(counts(np.eye(4, dtype=int) * 2), "jazz", "blues", ("pop",))
    assert "No jazz track is called blues" in zero and "never mistaken" in zero and "style sheets" not in zero
    within = N.neighbours_sentence(counts([[2, 1, 0, 0], [0, 1, 1, 0], [0, 0, 2, 0], [0, 0, 0, 2]]), "jazz", "blues",
                                   ("pop",))
    assert "1 of 3 blues tracks (33.3 %) is called jazz." in within
    assert "All of these 2 errors stay among jazz, blues and pop" in within
    one_of = N.neighbours_sentence(counts([[2, 1, 0, 0], [0, 1, 0, 1], [0, 0, 2, 0], [0, 0, 0, 2]]), "jazz", "blues",
                                   ("pop",))
    assert "1 of these 2 errors stays among" in one_of
    outside = N.neighbours_sentence(counts([[1, 0, 0, 1], [0, 2, 0, 0], [0, 0, 2, 0], [0, 0, 0, 2]]), "jazz", "blues",
                                    ("pop",))
    assert "This error falls outside jazz, blues and pop, although" in outside
    real = N.neighbours_sentence(counts([[1, 0, 0, 1], [0, 2, 0, 0], [0, 0, 2, 0], [0, 0, 0, 2]]), "jazz", "blues",
                                 ("pop",), synthetic=False)
    assert "style sheets" not in real


def test_sample_lines_and_sentence():
    tracks = pd.DataFrame({"track_id": ["b2", "b1", "j1"], "true_genre": ["blues", "blues", "jazz"],
                           "pred_genre": ["blues", "country", "jazz"],
                           "line": ["blues: blues:0.9", "blues: jazz:0.5 country:0.4", "jazz: jazz:0.8"]})
    samples = N.sample_lines(tracks, ("jazz", "blues", "pop"))
    assert samples["blues"]["track_id"] == "b1" and samples["pop"] is None
    text = N.sample_sentence(samples)
    assert text.startswith("In this build the jazz track is classified correctly; the blues track is taken for "
                           "country (the vote of its windows; its line starts with jazz")
    assert text.endswith("there is no pop track in this build's test set.")


def test_misclassified_and_failed_sentences():
    assert N.misclassified_sentence(0, 10, 0) == ("None of the 10 test tracks is misclassified, so there is no "
                                                  "mistake to listen to.")
    assert N.misclassified_sentence(3, 10, 3) == "3 of 10 test tracks are misclassified; all 3 are listed below."
    assert N.misclassified_sentence(1, 10, 1) == "1 of 10 test tracks is misclassified; it is listed below."
    assert N.misclassified_sentence(12, 40, 8).endswith("the first 8 (by true genre and track) are listed below.")
    assert N.failed_files_sentence(0, 40) == "All 40 files could be read."
    assert N.failed_files_sentence(1, 11).startswith("1 of 11 files was unreadable and is left out")
    assert N.failed_files_sentence(2, 11).startswith("2 of 11 files were unreadable and are left out")


def test_newdata_and_web_tests_sentences():
    apart = N.newdata_sentence(Accuracy(5, 40), Accuracy(35, 40))
    assert apart.startswith("On its new data the model is right 12.5 % (5 of 40 files;")
    assert apart.endswith("the new-data accuracy is clearly lower.")
    assert "may be noise" in N.newdata_sentence(Accuracy(1, 10), Accuracy(2, 10))
    assert "no new-data result" in N.newdata_sentence(Accuracy(0, 0), Accuracy(2, 10))
    web = N.web_tests_sentence(Accuracy(19, 30), Accuracy(40, 60))
    assert "19 of 30 songs" in web and "40 of 60 judgements" in web and "cannot show a difference" in web


def test_collapse_sentence_says_none_when_asked():
    true = ["blues", "jazz", "pop", "rock"] * 5
    assert N.collapse_sentence(true, true, say_none=True).startswith("No file is misclassified")
    some = N.collapse_sentence(true, ["jazz"] + true[1:], say_none=True)
    assert some.startswith("No genre collects many other genres' files: the most any one receives by mistake is "
                           "1 of 20 (jazz)")
    one = N.collapse_sentence(["pop"] + ["rock"] * 9, ["pop"] * 10)
    assert "although only 1 is:" in one
