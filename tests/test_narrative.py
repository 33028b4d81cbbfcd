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
    assert "moves its accuracy by about 25 points" in text


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
    assert N.confusion_sentence(spread, "blues") == ("Blues's most frequent wrong answer is jazz (2 of 4 tracks, "
                                                     "50.0 %); 3 of its 4 tracks are wrong in all.")
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
        assert text.startswith("Probe is ahead of CRNN on the same 40 test tracks by 5.0 points")
        assert "(-7.5 to +20.0) includes zero" in text     # probe minus CRNN, the lead's own sign


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
    assert "All of these 2 errors (jazz → pop, blues → jazz) stay within jazz, blues and pop" in within
    assert "says nothing about how the real genres relate" in within and "reflect" not in within
    one_of = N.neighbours_sentence(counts([[2, 1, 0, 0], [0, 1, 0, 1], [0, 0, 2, 0], [0, 0, 0, 2]]), "jazz", "blues",
                                   ("pop",))
    assert "1 of these 2 errors (blues → jazz) stays within" in one_of
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


def recipe_record(accs, steps=None, rate=100.0):
    steps = steps if steps is not None else [150 * i for i in range(len(accs))]
    log = [{"step": s, "epoch": s / 500, "train_loss": None if s == 0 else 2.3, "train_acc": None,
            "valid_loss": 2.3, "valid_acc": a, "seconds": 2.0 * s, "windows_per_s": None} for s, a in zip(steps, accs)]
    return {"step_log": log, "store": {"n_windows": {"valid": 10_000}},
            "train_config": {"epochs": 15, "batch_size": 200}, "windows_per_s": rate,
            "projected_full_run_h": None if rate is None else 1_500_000 / rate / 3600, "full_run_windows": 1_500_000}


def test_paper_recipe_sentence_is_chosen_by_the_curve():
    from genre_utils.narrative import paper_recipe_sentence

    rose = paper_recipe_sentence(recipe_record([0.10, 0.12, 0.31]))
    assert "validation accuracy rose from 10.0 % before the first step to 31.0 %" in rose
    assert "above chance (10 %)" in rose and "300 optimiser steps (0.60 of the 15 epochs) in 10 minutes" in rose
    assert "about 4.2 hours on this machine: a projection from the rate, not a measured run" in rose
    assert "Wilson's over the 10,000 validation windows" in rose and "the real uncertainty is wider" in rose
    # within noise: 10,000 windows give intervals about +-0.6 points wide at 10 %
    flat = paper_recipe_sentence(recipe_record([0.100, 0.104]))
    assert "did not change beyond noise: 10.0 % before the first step" in flat
    assert "not distinguishable from chance (10 %)" in flat
    fell = paper_recipe_sentence(recipe_record([0.30, 0.05], steps=[150, 300], rate=None))
    assert "fell from 30.0 % at step 150" in fell and "below chance (10 %)" in fell and "projection" not in fell
    single = paper_recipe_sentence(recipe_record([0.11]))
    assert single.startswith("In 0 optimiser steps") and "validation accuracy was 11.0 %" in single


def test_paper_recipe_test_sentence_follows_what_the_record_holds():
    from genre_utils.narrative import paper_recipe_sentence, paper_recipe_test_sentence

    old = recipe_record([0.10, 0.31])
    assert "keeps no test of the run's checkpoint" in paper_recipe_sentence(old)
    none = dict(old, evaluation=None)
    assert paper_recipe_test_sentence(none) == ("The run stopped before it finished an epoch, so there is no "
                                                "checkpoint to test.")
    tested = dict(old, evaluation={"checkpoint": "best.pt", "best_epoch": 2, "test_tracks": {"k": 120, "n": 170},
                                   "newdata_files": {"k": 70, "n": 100}})
    text = paper_recipe_test_sentence(tested)
    assert text.startswith("Its best checkpoint (epoch 2) classifies 70.6 % (120 of 170 test tracks")
    assert "70.0 % (70 of 100 new-data files" in text and text.endswith("of the new data.")
    assert "new data" not in paper_recipe_test_sentence(dict(tested, evaluation={**tested["evaluation"],
                                                                                  "newdata_files": None}))


def test_paper_cost_sentence_says_projection_and_where():
    from genre_utils.narrative import paper_cost_sentence

    assert paper_cost_sentence(None) == "Its training time has not been measured here."
    record = recipe_record([0.1, 0.2])
    record.update(device="cpu", machine={"cores": 2}, created="2026-11-30T03:00:00+00:00")
    text = paper_cost_sentence(record)
    assert text.startswith("The project measured 5 minutes of one such run on 2 CPU cores (2026-11-30)")
    assert "about 4.2 hours there, a projection" in text and text.endswith("No GPU run has been measured.")
    record["device"] = "cuda:0"
    assert "on cuda:0" in paper_cost_sentence(record) and "No GPU" not in paper_cost_sentence(record)


# ------------------------------------------------------------------------------ added for the review
def test_margin_sentence_says_small_and_one_seed():
    small = N.margin_sentence({"difference": 0.088, "low": 0.012, "high": 0.165, "n_tracks": 170}, "CRNN", "probe")
    assert "a small advantage only just beyond the test set's noise" in small and "one seed" in small
    big = N.margin_sentence({"difference": 0.25, "low": 0.18, "high": 0.32, "n_tracks": 170}, "CRNN", "probe")
    assert "an advantage beyond the test set's noise" in big and "small" not in big
    short = N.margin_sentence({"difference": -0.1, "low": -0.15, "high": -0.01, "n_tracks": 170}, "CRNN", "probe")
    assert "a small shortfall only just beyond" in short
    noise = N.margin_sentence({"difference": 0.02, "low": -0.03, "high": 0.07, "n_tracks": 170}, "CRNN", "probe")
    assert "within the noise" in noise and "seed" not in noise


@pytest.mark.parametrize("lo,hi,expect", [
    (-0.20, -0.05, "Here the regression beats the CRNN"),           # negative
    (-0.05, 0.10, "does not clearly beat"),                          # interval crosses zero
    (0.0, 0.10, "does not clearly beat"),                            # touches zero
    (0.01, 0.15, "real but not large"),                              # small positive
    (0.18, 0.32, "lead is large (at least 18 points"),               # large
])
def test_margin_reading_sentence_follows_sign_and_size(lo, hi, expect):
    text = N.margin_reading_sentence({"difference": (lo + hi) / 2, "low": lo, "high": hi})
    assert text.startswith("Here") and expect in text and text.endswith(":")


def test_versus_paper_caveat_names_the_data():
    text = N.versus_paper_sentence(Accuracy(10, 10), 0.2, caveat=True)
    assert text.startswith("The paper's 20.0 % lies below this build's 95 % interval.")
    assert "synthetic music here" in text and "no test of the paper's model" in text
    inside = N.versus_paper_sentence(Accuracy(7, 10), 0.7, caveat=True, synthetic=False)
    assert "cannot be told apart" in inside and "a different test set" in inside


def test_sample_sentence_all_correct_and_grouped():
    rows = pd.DataFrame({"track_id": ["j", "b", "p"], "true_genre": ["jazz", "blues", "pop"],
                         "pred_genre": ["jazz", "blues", "pop"],
                         "line": ["jazz: jazz:0.9", "blues: blues:0.6 jazz:0.3", "pop: pop:0.5"]})
    samples = N.sample_lines(rows, ("jazz", "blues", "pop"))
    assert N.sample_sentence(samples) == "All three tracks are classified correctly."
    rows.loc[1, "pred_genre"] = "country"
    text = N.sample_sentence(N.sample_lines(rows, ("jazz", "blues", "pop")))
    assert text.startswith("In this build the jazz and pop tracks are classified correctly; the blues track is "
                           "taken for country (the vote of its windows; its line starts with blues")
    one = N.sample_sentence({"jazz": rows.iloc[0]})
    assert one == "The jazz track is classified correctly."


def test_failed_files_sentence_counts_files_the_scan_left_out():
    assert N.failed_files_sentence(0, 40, 0) == "All 40 files could be read."
    one = N.failed_files_sentence(0, 40, 1)
    assert one == ("The scan of the folder left out 1 of its 41 files before decoding (listed below with its "
                   "reason); the other 40 could all be read.")
    both = N.failed_files_sentence(2, 40, 3)
    assert both.startswith("The scan of the folder left out 3 of its 43 files before decoding (listed below with "
                           "their reasons); of the other 40, 2 were unreadable and are left out")
    assert N.failed_files_sentence(0, 0, 2).endswith("all 2 of its files before decoding (listed below with their "
                                                     "reasons), so no file was classified.")
    assert N.failed_files_sentence(0, 0, 0) == "There are no new-data files."


def test_counted_and_windows_per_genre():
    assert N.counted(1, "ambiguous one") == "1 ambiguous one" and N.counted(3, "ambiguous one") == "3 ambiguous ones"
    assert N.counted(0, "entry", "entries") == "0 entries" and N.counted(1_000, "file") == "1,000 files"
    assert N.windows_per_genre_phrase({"a": 200, "b": 200}) == "200 per genre (400 in all)"
    assert N.windows_per_genre_phrase(pd.Series({"a": 201, "b": 200})) == "200 to 201 per genre (401 in all)"


def test_split_sentence_with_and_without_test_only_clips():
    text = N.split_sentence((0.7, 0.15, 0.15), {"train": 189, "valid": 40, "test": 170}, 20, 13, 16)
    assert "split 70/15/15 by track, as the paper splits its clips" in text
    assert "adds 13 test-only clips per genre" in text and "meant to give every genre at least 16 test tracks" in text
    assert "(here each genre has 14 to 20)" in N.split_sentence((0.7, 0.15, 0.15), {"train": 1, "valid": 1, "test": 1},
                                                                20, 13, 16, test_range=(14, 20))
    assert "(here every genre has 16)" in N.split_sentence((0.7, 0.15, 0.15), {"train": 1, "valid": 1, "test": 1},
                                                           20, 13, 16, test_range=(16, 16))
    assert "holds 33 clips per genre" in text and "189 training, 40 validation and 170 test tracks (399 in all)" in text
    assert "47/10/43 % rather than 70/15/15" in text
    one = N.split_sentence((0.7, 0.15, 0.15), {"train": 14, "valid": 3, "test": 4}, 20, 1, 4)
    assert "adds 1 test-only clip per genre" in one
    plain = N.split_sentence((0.7, 0.15, 0.15), {"train": 14, "valid": 3, "test": 3}, 20, 0, 0)
    assert plain == ("The tracks are split 70/15/15 by track, as the paper splits its clips: 14 training, 3 "
                     "validation and 3 test tracks (20 in all).")
    real = N.split_sentence((0.7, 0.15, 0.15), {"train": 14, "valid": 3, "test": 3}, 20, 13, 16, synthetic=False)
    assert "test-only" not in real


def test_protocol_sentence_overlap_and_separation():
    def table(rows):
        return pd.DataFrame(rows, columns=["split protocol", "accuracy (%)"])

    overlap = N.protocol_sentence(table([("random split", 61.0), ("random split", 89.3),
                                         ("fault-filtered (KSL 2015)", 53.4), ("fault-filtered (KSL 2015)", 77.6)]))
    assert overlap.startswith("The random-split rows reach 61.0 to 89.3 %, the fault-filtered rows 53.4 to 77.6 %.")
    assert "1 of the 2 fault-filtered rows lies above at least one random-split row" in overlap
    assert "cannot show what the split itself costs" in overlap
    apart = N.protocol_sentence(table([("random split", 80.0), ("fault-filtered", 50.0), ("fault-filtered", 60.0)]))
    assert "Every fault-filtered row lies below every random-split row" in apart and "cannot show" in apart
    shared = pd.DataFrame({"split protocol": ["random split", "fault-filtered", "fault-filtered"],
                           "accuracy (%)": [80.0, 50.0, 60.0], "model": ["SVM", "SVM", "CNN"]})
    both = N.protocol_sentence(shared)
    assert "Only SVM is reported under both protocols" in both and "cannot show" not in both
    assert "does not hold both protocols" in N.protocol_sentence(table([("random split", 80.0)]))


def test_auroc_sentence_by_interval_and_data():
    sep = {"auroc": 0.66, "low": 0.57, "high": 0.74, "n_positive": 50, "n_negative": 170}
    above = N.auroc_sentence(sep, synthetic=True, in_genre_layout=(157, 170))
    assert "more often than a coin would (AUROC 0.66, 95 % bootstrap interval 0.57-0.74" in above
    assert "styles the model was not trained on look less familiar" in above and "157 of the 170 in-genre" in above
    assert "other differences" not in N.auroc_sentence(sep, synthetic=False)
    around = N.auroc_sentence(dict(sep, low=0.45), synthetic=True)
    assert "does not separate" in around and "includes 0.5" in around and "looks as familiar" in around
    assert "looks as familiar" not in N.auroc_sentence(dict(sep, low=0.45), synthetic=False)
    below = N.auroc_sentence(dict(sep, auroc=0.3, low=0.2, high=0.4), synthetic=True)
    assert "*below*" in below and "more confident about music of styles it was never trained on" in below
    assert "not measured" in N.auroc_sentence({"auroc": None, "n_positive": 0})


def test_ece_sentence_direction_n_and_under_confidence():
    rel = pd.DataFrame({"count": [10, 30, 0], "confidence": [0.45, 0.6, float("nan")], "accuracy": [0.7, 0.9, None]})
    raised = N.ece_sentence(0.102, 0.150, 170, "test tracks", rel, "the 40 validation tracks' mean probabilities")
    assert raised.startswith("On the 170 test tracks, temperature scaling raised the ECE from 10.2 % to 15.0 %.")
    assert "under-confident (mean confidence 56.2 % against an accuracy of 85.0 %)." in raised
    assert raised.endswith("fitted on the 40 validation tracks' mean probabilities; one number fitted on so few "
                           "items need not carry over to these.")
    assert "fitted on" not in N.ece_sentence(0.102, 0.150, 170, "test tracks", rel)
    # a lowered ECE needs no excuse, whatever it was fitted on
    assert "fitted on" not in N.ece_sentence(0.15, 0.10, 170, "test tracks", rel, "the 40 validation tracks")
    over = N.ece_sentence(0.1, 0.2, 40, "tracks", pd.DataFrame({"count": [4], "confidence": [0.9],
                                                                 "accuracy": [0.5]}))
    assert "still over-confident" in over
    assert N.ece_sentence(0.066, 0.038, 1_020, "5-s test windows") == (
        "On the 1,020 5-s test windows, temperature scaling lowered the ECE from 6.6 % to 3.8 %.")
    assert "left the ECE at 5.0 %" in N.ece_sentence(0.0501, 0.0499, 10, "tracks")
    assert "could not be measured" in N.ece_sentence(None, 0.1, 10, "tracks")


def test_temperature_sentence_direction_and_the_window_temperature_beside_it():
    assert "T = 1.32 > 1" in N.temperature_sentence(1.3219) and "over-confident" in N.temperature_sentence(1.3219)
    assert "under-confident" in N.temperature_sentence(0.8) and "close to 1" in N.temperature_sentence(1.0449)
    assert "close to 1" in N.temperature_sentence(1.05)        # shown as 1.05: not "> 1.05"
    assert "would be 1.80, higher: single windows need more softening" in N.temperature_sentence(1.3, 1.8)
    assert "would be 0.90, lower" in N.temperature_sentence(1.3, 0.9)
    assert "would be 1.30, the same" in N.temperature_sentence(1.301, 1.299)   # equal as shown


def test_newdata_flag_sentence_follows_the_counts_and_the_interval():
    base = {"threshold": 0.3, "newdata": {"n_files": 40, "flagged_wrong": {"k": 3, "n": 10},
                                          "flagged_right": {"k": 2, "n": 30}, "auroc": 0.7, "low": 0.55,
                                          "high": 0.85}}
    s = N.newdata_flag_sentence(base)
    assert s.startswith("On the 40 new-data files") and "catches 30.0 % (3 of 10 files the model gets wrong" in s
    assert "costs 6.7 % (2 of 30 files it gets right" in s and "more often than chance (AUROC 0.70" in s
    around = N.newdata_flag_sentence({**base, "newdata": {**base["newdata"], "low": 0.4}})
    assert "does not tell the wrong files from the right ones" in around and "includes 0.5" in around
    below = N.newdata_flag_sentence({**base, "newdata": {**base["newdata"], "auroc": 0.3, "low": 0.1,
                                                            "high": 0.45}})
    assert "*less* unknown" in below and "surest where it is wrong" in below
    none_wrong = N.newdata_flag_sentence({**base, "newdata": {**base["newdata"], "flagged_wrong": {"k": 0, "n": 0}}})
    assert "right every time" in none_wrong and "AUROC" not in none_wrong
    none_right = N.newdata_flag_sentence({**base, "newdata": {**base["newdata"], "flagged_right": {"k": 0, "n": 0},
                                                                 "auroc": None}})
    assert "gets none right" in none_right and "AUROC" not in none_right
    assert "no new-data files" in N.newdata_flag_sentence({"threshold": 0.3, "newdata": {"n_files": 0}})
    assert "no new-data files" in N.newdata_flag_sentence({"threshold": 0.3})


def test_best_epoch_sentence_last_earlier_ties_and_single():
    last = N.best_epoch_sentence({"epoch": [1, 2, 3, 4, 5], "valid_acc": [0.3, 0.5, 0.6, 0.628, 0.762]}, 5, 400)
    assert last.startswith("Epoch 5 is the last epoch: validation accuracy had not yet stopped rising")
    assert "(on 400 validation windows, 62.8 % in epoch 4, 76.2 % in epoch 5)" in last
    assert "longer training might do better" in last
    # the same last step, but within the noise of 400 windows (half-width about 4 points): flattened
    flat = N.best_epoch_sentence({"valid_acc": [0.3, 0.6, 0.745, 0.762]}, 4, 400)
    assert flat.startswith("Epoch 4 is the last epoch and the best, but the curve has flattened")
    assert "(+1.7 points, on 400 validation windows, 74.5 % then 76.2 %)" in flat and "rising" not in flat
    assert "rising" in N.best_epoch_sentence({"valid_acc": [0.3, 0.6, 0.745, 0.762]}, 4)   # no n: no noise test
    earlier = N.best_epoch_sentence({"valid_acc": [0.3, 0.7, 0.6, 0.65]}, 2)
    assert earlier.startswith("Epoch 2 is not the last of the 4 epochs: the 2 later epochs did not improve on it")
    assert "epoch 4 reached 65.0 %, against 70.0 %" in earlier and "not the last one's" in earlier
    tied = N.best_epoch_sentence({"valid_acc": [0.3, 0.7, 0.6, 0.7]})   # ties go to the earliest epoch
    assert tied.startswith("Epoch 2 is not the last of the 4 epochs; epoch 4 matched it, and the earliest is kept")
    one_later = N.best_epoch_sentence({"valid_acc": [0.7, 0.6]})
    assert "the 1 later epoch did not improve" in one_later
    single = N.best_epoch_sentence({"valid_acc": [0.4]}, 1)
    assert single.startswith("Training ran a single epoch") and "rising" not in single
    assert "No epoch was validated" in N.best_epoch_sentence({"valid_acc": []})


def test_near_duplicates_sentence_pairs_and_splits():
    assert N.near_duplicates_sentence(0, 0).endswith("finds no candidate pair.")
    assert N.near_duplicates_sentence(1, 0).endswith("the 1 near-duplicate candidate pair listed on the data page is "
                                                    "not grouped, but it lies within one split.")
    assert "are not grouped, but each lies within one split" in N.near_duplicates_sentence(3, 0)
    cross = N.near_duplicates_sentence(10, 4, 3)
    assert cross.endswith("the 10 near-duplicate candidate pairs listed on the data page are not grouped, and 4 of "
                          "them span two splits, 3 of them with one track in training and the other in test.")
    assert "none of them between training and test" in N.near_duplicates_sentence(10, 1, 0)


def test_artist_share_sentence():
    assert N.artist_share_sentence(330, 399) == ("Those 330 tracks (83 %) are each their own unit, as under the "
                                                 "track split, so this ablation tests little here.")
    assert "only the grouping of the other 90 differs" in N.artist_share_sentence(10, 100)
    assert "tests nothing" in N.artist_share_sentence(5, 5)
    assert "Every track has an artist" in N.artist_share_sentence(0, 5) and N.artist_share_sentence(0, 0) == ""


def test_segment_interval_resamples_tracks_and_equals_the_track_interval_when_segments_agree():
    from genre_utils.stats import clustered_accuracy, group_bootstrap

    rng = np.random.default_rng(3)
    track_right = rng.random(40) < 0.7                      # 40 tracks, about 70 % right
    tracks = np.repeat(np.arange(40), 6)                    # six segments each, all agreeing with their track
    seg = clustered_accuracy(np.repeat(track_right, 6), tracks)
    track = group_bootstrap(track_right, np.arange(40))
    assert seg.interval == pytest.approx(track, abs=1e-12) and seg.n == 240 and seg.n_groups == 40
    # the same segments as if independent (Wilson over 240) give a far narrower interval
    wilson = Accuracy(seg.k, seg.n).interval
    assert (wilson[1] - wilson[0]) < 0.6 * (seg.interval[1] - seg.interval[0])
    # segments that disagree within tracks: an interval around the point value, narrower than the tracks'
    mixed = clustered_accuracy(rng.random(240) < 0.7, tracks)
    assert mixed.interval[0] < mixed.value < mixed.interval[1]
    assert clustered_accuracy([], []).n == 0 and np.isnan(clustered_accuracy([], []).interval[0])
    with pytest.raises(ValueError):
        group_bootstrap([True, False], [1])
    # the text says what was resampled
    assert "resampling 40 tracks" in seg.text("segments") and seg.short().endswith("n = 240 (40 tracks)")
    assert "resampling" not in Accuracy(5, 9).text() and Accuracy(5, 9).short().endswith("n = 9")


def test_margin_sentences_capitalise_their_start_only():
    behind = {"difference": -0.006, "low": -0.06, "high": 0.05, "n_tracks": 170}
    text = N.margin_sentence(behind, "The CRNN", "the regression on means, spread and change")
    assert text.startswith("The regression on means, spread and change is ahead of the CRNN on the same 170")
    assert "The CRNN" not in text
    ahead = N.margin_sentence({"difference": 0.2, "low": 0.1, "high": 0.3, "n_tracks": 9}, "the CRNN", "a probe")
    assert ahead.startswith("The CRNN is more accurate than a probe")


def test_seed_margin_sentence_follows_both_tests():
    cmp = {"difference": 0.05, "low": 0.01, "high": 0.09, "level": 0.95, "n_tracks": 170, "seeds_a": 3, "seeds_b": 3,
           "spread_a": 0.02, "spread_b": 0.03, "beyond_interval": True, "beyond_seeds": True}
    s = N.seed_margin_sentence(cmp, "the variant", "the main CRNN")
    assert s.startswith("Over 3 seeds each, the variant is ahead of the main CRNN by 5.0 points on average")
    assert "up to 3.0 points" in s and s.endswith("beyond both the test set's noise and the spread between seeds.")
    seeds_only = N.seed_margin_sentence({**cmp, "beyond_seeds": False}, "the variant", "the main CRNN")
    assert "another seed could close it" in seeds_only
    noise = N.seed_margin_sentence({**cmp, "difference": -0.02, "low": -0.06, "high": 0.02, "beyond_interval": False,
                                    "seeds_b": 1}, "the variant", "the main CRNN")
    assert noise.startswith("Over 3 seeds of the variant and 1 of the main CRNN, the main CRNN is ahead of the "
                            "variant by 2.0 points")
    assert "(95 % interval -2.0 to +6.0 points" in noise          # the lead's interval: B - A, not A - B
    one = N.seed_margin_sentence({**cmp, "seeds_a": 1, "seeds_b": 1}, "the variant", "the main CRNN")
    assert one.startswith("Over one seed each, the variant")
    assert noise.endswith("within the noise of this test set.")
    tie = N.seed_margin_sentence({**cmp, "difference": 0.0004}, "the variant", "the main CRNN")
    assert "score the same on average" in tie


def test_seeds_note_names_the_seeded_rows():
    assert "single training run with one seed" in N.seeds_note({"a": 1, "b": 1})
    assert N.seeds_note({"a": 3, "b": 3}).startswith("Every row is the mean of 3 training runs")
    mixed = N.seeds_note({"main run": 3, "baseline": 3, "log-mel": 1})
    assert mixed.startswith("Main run and baseline are trained with 3 seeds") and "one seed each" in mixed
    assert N.seeds_note({"main run": 3, "x": 1}).startswith("Main run is trained with 3 seeds on the same data: its")
    labelled = N.seeds_note({"CRNN, MFCC (main run)": 3, "baseline, MFCC": 3, "log-mel": 1})
    assert labelled.startswith("“CRNN, MFCC (main run)” and “baseline, MFCC” are trained with 3 seeds")


@pytest.mark.parametrize("low, high, words", [(0.03, 0.12, "is more accurate than"), (-0.12, -0.03, "is less accurate"),
                                              (-0.03, 0.06, "includes zero")])
def test_paper_size_probe_sentence_follows_the_record(low, high, words):
    paired = {"difference": (low + high) / 2, "low": low, "high": high, "level": 0.95, "n_tracks": 227}
    record = {"evaluation": {"test_tracks": {"k": 167, "n": 227},
                             "bag_of_frames": {"mean": {"k": 120, "n": 227}, "dynamics": {"k": 150, "n": 227,
                                                                                           "paired": paired}}},
              "step_log": [{"epoch": 4.33}], "train_config": {"epochs": 15}, "store": {"n_windows": {"train": 100000}},
              "commit": "abc1234"}
    text = N.paper_size_probe_sentence(record, "the shipped record")
    assert words in text and "167 of 227" in text and "gets 120" in text and "gets 150" in text
    assert "4.3 of its 15 epochs" in text and "100,000 training windows" in text and "abc1234" in text
    no_probe = {**record, "evaluation": {"test_tracks": {"k": 167, "n": 227}}}
    for missing in (None, no_probe):
        assert N.paper_size_probe_sentence(missing).startswith("No measured run at the paper's size")


def test_probe_gap_reading_names_who_is_ahead_behind_or_level():
    def cmp(d, noise):
        return {"difference": d, "beyond_noise": noise}

    both = N.probe_gap_reading({"the CRNN": cmp(0.12, True), "the GRU variant": cmp(0.10, True)}, "the bag")
    assert both.startswith("The CRNN and the GRU variant are ahead of the bag beyond the noise.")
    assert "turn something that this regression does not use into accuracy" in both
    mixed = N.probe_gap_reading({"the CRNN": cmp(-0.09, True), "the GRU variant": cmp(0.10, True),
                                 "the MLP": cmp(0.01, False)}, "the bag")
    assert mixed.startswith("The GRU variant is ahead of the bag beyond the noise; the CRNN is behind it beyond "
                            "the noise; the test set and the seeds cannot tell the MLP from it.")
    assert "So on this build the GRU variant turns something" in mixed
    # a lead within the noise is never a win, and a loss beyond it is said as one
    level = N.probe_gap_reading({"the CRNN": cmp(0.05, False)}, "the bag")
    assert level.startswith("The test set and the seeds cannot tell the CRNN from the bag.")
    assert "no model shows, beyond the noise" in level
    behind = N.probe_gap_reading({"the CRNN": cmp(-0.09, True)}, "the bag")
    assert behind.startswith("The CRNN is behind the bag beyond the noise.") and "no model shows" in behind
    assert "No model was compared" in N.probe_gap_reading({}, "the bag")


def test_published_bag_sentence_follows_the_numbers():
    level = N.published_bag_sentence(0.534, 0.541, 290)
    assert "0.7 points apart" in level and "inside" in level and "keeps up" in level
    cnn = N.published_bag_sentence(0.50, 0.70, 290)
    assert "the CNN is 20.0 points ahead" in cnn and "beyond" in cnn and "keeps up" not in cnn
    bag = N.published_bag_sentence(0.70, 0.55, 290)
    assert "the bag of frames is 15.0 points ahead" in bag
    # the half-width is what one run on n clips resolves: the same 5-point gap is level on 100 clips, not on 5,000
    assert "inside" in N.published_bag_sentence(0.50, 0.55, 100)
    assert "beyond" in N.published_bag_sentence(0.50, 0.55, 5000)


def _seed_table(counts, n=17):
    """A genre_seed_table-shaped frame from right-counts per genre and seed."""
    n_seeds = len(next(iter(counts.values())))
    t = pd.DataFrame({f"seed {i}": [f"{c[i]} of {n}" for c in counts.values()] for i in range(n_seeds)},
                     index=pd.Index(list(counts), name="genre"))
    t["test items"] = n
    t["lowest"] = [min(c) / n for c in counts.values()]
    t["highest"] = [max(c) / n for c in counts.values()]
    t["range (points)"] = (t["highest"] - t["lowest"]) * 100
    return t


def test_genre_seed_sentence_names_the_widest_spread_and_its_ties():
    wide = N.genre_seed_sentence(_seed_table({"classical": [1, 16, 15], "metal": [16, 16, 17]}))
    assert "classical, from 6 % to 94 % (seed 0: 1 of 17, seed 1: 16 of 17, seed 2: 15 of 17)" in wide
    assert "88 points" in wide
    tie = N.genre_seed_sentence(_seed_table({"jazz": [2, 10, 6], "pop": [12, 4, 8]}))
    assert "jazz, from" in tie and "and pop, from" in tie
    calm = N.genre_seed_sentence(_seed_table({"jazz": [8, 9, 9], "pop": [3, 3, 2]}))
    assert calm.startswith("Across the 3 training seeds no genre's accuracy moves by more than one track")
    assert N.genre_seed_sentence(_seed_table({"jazz": [8]})).startswith("Only one training run")
