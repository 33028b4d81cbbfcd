"""Sentences about a run's calibration and its "unknown" flag, chosen by the numbers: the fitted temperature,
the ECE before and after scaling, the open-set AUROC, what the threshold flags, and what the open-set tracks of
this build are. They read the summary :func:`genre_utils.confidence.calibrate_run` returns."""

from __future__ import annotations

import pandas as pd

from ..stats import Accuracy
from .common import percent

__all__ = ["temperature_sentence", "ece_sentence", "auroc_sentence", "rejection_sentence", "newdata_flag_sentence",
           "open_set_note"]


def temperature_sentence(temperature: float, window_temperature: float | None = None) -> str:
    """What the fitted temperatures say about the model.

    ``temperature`` was fitted on validation track means (what ``predict`` applies): over-confident when it
    shows above 1.05, under-confident below 0.95, about right otherwise. ``window_temperature`` (fitted on
    single windows), when given, is compared with it at the shown precision.
    """
    T = round(float(temperature), 2)
    if T > 1.05:
        text = (f"Fitted on the validation tracks' mean probabilities, T = {T:.2f} > 1: there the model was "
                "over-confident, and dividing its logits by T softens its probabilities.")
    elif T < 0.95:
        text = (f"Fitted on the validation tracks' mean probabilities, T = {T:.2f} < 1: there the model was "
                "under-confident, and dividing its logits by T sharpens its probabilities.")
    else:
        text = (f"Fitted on the validation tracks' mean probabilities, T = {T:.2f}, close to 1: there the model's "
                "probabilities were already about as sharp as they should be.")
    if window_temperature is None:
        return text
    Tw = round(float(window_temperature), 2)
    if Tw > T:
        how = "higher: single windows need more softening than the means of several"
    elif Tw < T:
        how = "lower: single windows need less softening than the means of several"
    else:
        how = "the same"
    return text + f" Fitted on single validation windows instead, the temperature would be {Tw:.2f}, {how}."


def auroc_sentence(open_set: dict, synthetic: bool = True, in_genre_layout: tuple[int, int] | None = None) -> str:
    """The open-set AUROC in words chosen by its interval (above, around or below 0.5) and by the data.

    On the synthetic corpus the open-set tracks are composed from style sheets of their own
    (:data:`genre_utils.styles.FOREIGN_STYLES`); a separation is read as such, with the one difference between
    the groups that is not musical (file layout) named beside it.

    Parameters
    ----------
    open_set : dict
        ``auroc``, ``low``, ``high`` (bootstrap interval), ``n_positive`` (open-set tracks), ``n_negative``
        (in-genre test tracks), as :func:`genre_utils.confidence.calibrate_run` stores them.
    synthetic : bool
        Whether the tracks come from the synthetic corpus.
    in_genre_layout : (k, n), optional
        How many of the ``n`` in-genre test tracks are GTZAN-layout files (all open-set tracks are FMA-layout
        files); named as one difference between the groups.
    """
    a, lo, hi = open_set.get("auroc"), open_set.get("low"), open_set.get("high")
    n_open, n_in = int(open_set.get("n_positive") or 0), int(open_set.get("n_negative") or 0)
    if not n_open or a is None:
        return ("This corpus has no usable tracks of genres outside the ten, so open-set detection was not "
                "measured.")
    span = (f"AUROC {a:.2f}, 95 % bootstrap interval {lo:.2f}-{hi:.2f}, {n_open:,} open-set and {n_in:,} in-genre "
            "test tracks")
    layout = ""
    if in_genre_layout is not None and in_genre_layout[1]:
        k, n = in_genre_layout
        layout = (f", possibly how their files were made (every open-set track is an FMA-layout MP3, while {k:,} "
                  f"of the {n:,} in-genre test tracks are GTZAN-layout files)")
    if lo is not None and lo > 0.5:
        if synthetic:
            return (f"The unknown score ranks the open-set tracks above the in-genre test tracks more often than a "
                    f"coin would ({span}): tracks of styles the model was not trained on look less familiar to it. "
                    f"Part of the separation may come from other differences between the two groups{layout or ''}.")
        return (f"The unknown score ranks the open-set tracks above the in-genre test tracks more often than "
                f"chance ({span}).")
    if hi is not None and hi < 0.5:
        return (f"The unknown score ranks the open-set tracks *below* the in-genre test tracks more often than "
                f"chance ({span}): the model is more confident about music of styles it was never trained on "
                "than about its own genres' test tracks.")
    tail = (" Music of the foreign styles looks as familiar to the model as its own genres' test tracks: its "
            "confidence says little about whether a piece belongs to the ten." if synthetic else "")
    return (f"The unknown score does not separate the open-set tracks from the in-genre test tracks better than "
            f"chance can explain ({span}; the interval includes 0.5).{tail}")


def ece_sentence(before: float | None, after: float | None, n: int, unit: str, reliability_after=None,
                 fitted_on: str | None = None) -> str:
    """Whether temperature scaling lowered, raised or kept the ECE of ``n`` test items, and which way they err.

    Parameters
    ----------
    before, after : float or None
        Expected calibration error (fractions) before and after scaling; compared at the shown precision.
    n : int
        Test items behind the ECE.
    unit : str
        Plural name of the items ("5-s test windows", "test tracks").
    reliability_after : DataFrame or records, optional
        The reliability table after scaling (``count``, ``confidence``, ``accuracy`` per bin); when given
        and the ECE rose, the sentence says whether the items are now under- or over-confident on average.
    fitted_on : str, optional
        What the temperature was fitted on (e.g. "the 40 validation tracks' mean probabilities"); when the ECE
        rose, the sentence adds that a temperature fitted on those need not carry over to the test items.
    """
    where = f"On the {n:,} {unit}"
    if before is None or after is None or not n:
        return f"The ECE of the {unit} could not be measured (no items)."
    b, a = round(100 * before, 1), round(100 * after, 1)
    if a < b:
        return f"{where}, temperature scaling lowered the ECE from {percent(before)} to {percent(after)}."
    if a == b:
        return f"{where}, temperature scaling left the ECE at {percent(after)}."
    text = f"{where}, temperature scaling raised the ECE from {percent(before)} to {percent(after)}."
    if reliability_after is None:
        return text
    t = pd.DataFrame(reliability_after)
    t = t[t["count"] > 0]
    total = float(t["count"].sum())
    if not total:
        return text
    conf = float((t["count"] * t["confidence"]).sum() / total)
    acc = float((t["count"] * t["accuracy"]).sum() / total)
    gap = f"mean confidence {percent(conf)} against an accuracy of {percent(acc)}"
    if round(100 * conf, 1) < round(100 * acc, 1):
        text += f" After scaling they are under-confident ({gap})."
    elif round(100 * conf, 1) > round(100 * acc, 1):
        text += f" After scaling they are still over-confident ({gap})."
    if fitted_on:
        text += (f" The temperature was fitted on {fitted_on}; one number fitted on so few items need not carry "
                 "over to these.")
    return text


def rejection_sentence(summary: dict) -> str:
    """What the unknown threshold flags in each group (open-set and in-genre test tracks), with counts and
    intervals; says so when there is no threshold or no open-set track."""
    sep = summary["open_set"]
    thr = summary.get("threshold")
    if thr is None or not sep.get("n_positive"):
        return "Without open-set tracks (or validation tracks to set it on) no rejection rate is reported."
    return (f"Flagging every track whose calibrated confidence is below {thr:.2f} (set to accept at least "
            f"{percent(summary['recall'], 0)} of the validation tracks) flags "
            f"{Accuracy(**sep['rejected_open']).text('open-set tracks')} and "
            f"{Accuracy(**sep['rejected_test']).text('in-genre test tracks')}.")


def newdata_flag_sentence(summary: dict) -> str:
    """What the unknown flag does on the run's new-data files: how many of the files the model gets wrong it
    flags (what it is for), how many of the right ones it costs, and whether its score tells the two apart
    (AUROC with its interval: above, around or below 0.5). Chosen by the counts: no new data, no wrong file,
    no right file."""
    new = summary.get("newdata") or {}
    thr = summary.get("threshold")
    n = int(new.get("n_files") or 0)
    if not n or thr is None:
        return ("This build has no new-data files to try the flag on." if not n else
                "Without a threshold the flag was not tried on the new-data files.")
    wrong, right = new["flagged_wrong"], new["flagged_right"]
    head = f"On the {n:,} new-data files (the ten genres, made differently from the training tracks), "
    if not wrong["n"]:
        return head + (f"the model is right every time, so there is no error for the flag to catch; it flags "
                       f"{Accuracy(**right).text('files')} anyway.")
    caught = (f"the flag catches {Accuracy(**wrong).text('files the model gets wrong')}"
              + (f" and costs {Accuracy(**right).text('files it gets right')}." if right["n"] else
                 "; the model gets none right."))
    a, lo, hi = new.get("auroc"), new.get("low"), new.get("high")
    if not right["n"] or a is None or lo is None or hi is None:
        return head + caught
    span = f"AUROC {a:.2f}, 95 % bootstrap interval {lo:.2f}-{hi:.2f}"
    if lo > 0.5:
        how = (f"Its score ranks the wrong files as more unknown than the right ones more often than chance "
               f"({span}).")
    elif hi < 0.5:
        how = (f"Its score ranks the wrong files as *less* unknown than the right ones more often than chance "
               f"({span}): the model is surest where it is wrong.")
    else:
        how = (f"Its score does not tell the wrong files from the right ones better than chance can explain "
               f"({span}; the interval includes 0.5).")
    return head + caught + " " + how


def open_set_note(synthetic: bool) -> str:
    """What the open-set tracks of this build are, and what their result can mean (synthetic or real data)."""
    if synthetic:
        return ("On the synthetic corpus the open-set tracks are the FMA-layout tracks whose genres (electronic, "
                "experimental, folk, international, old-time, soul-rnb, spoken, easy listening, instrumental) are "
                "none of the ten. Each group is composed from a style sheet of its own "
                "(`genre_utils.styles.FOREIGN_STYLES`, listed on the corpus card): grooves, progressions, parts "
                "and instruments that none of the ten sheets combine this way, though they borrow some, as real "
                "genres do. So the open set is music the model never heard; how foreign it sounds was still "
                "decided by the project's sheets, and on the real FMA the same test is the one that counts.")
    return ("The open-set tracks are the FMA tracks whose genres are none of the ten (the store's skipped "
            "tracks with reason 'no project genre'): real music the model has never been trained to name.")
