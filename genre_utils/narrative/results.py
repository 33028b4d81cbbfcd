"""Sentences about test results: accuracies, confusions, margins, calibration and the paper's comparisons."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..stats import Accuracy
from .common import NUMBER_WORDS, counted, join_names, percent

__all__ = ["extremes_sentence", "confusion_sentence", "pair_sentence", "largest_confusion",
           "explorer_opening_sentence", "vote_mean_disagreements", "collapse_sentence", "accuracy_sentence",
           "precision_sentence", "weakest_sentence", "focus_genre_sentence", "neighbours_sentence", "sample_lines",
           "sample_sentence", "misclassified_sentence", "fdr_sentence"]


def extremes_sentence(per_genre: pd.DataFrame, unit: str = "track") -> str:
    """Which genres are recognised best and worst, naming every genre of a tie.

    Parameters
    ----------
    per_genre : DataFrame
        Index genre; columns ``accuracy`` (fraction), ``correct`` and ``support`` (counts), as
        :meth:`genre_utils.results.RunResults.per_genre` gives. Genres without test items are left out.
    unit : str
        What is counted ("track", "segment").

    Returns
    -------
    str
        One or two sentences, e.g. "Six genres are recognised perfectly (100.0 %): ...; the lowest accuracy
        is pop's, 50.0 % (2 of 4 tracks)."
    """
    table = per_genre[per_genre["support"] > 0]
    if table.empty:
        return f"No genre has a test {unit}, so no per-genre accuracy can be given."
    acc = table["accuracy"].round(12)
    top, bottom = acc.max(), acc.min()

    def who(value) -> str:
        rows = table[acc == value]
        if len(rows) == 1:
            g = rows.index[0]
            k, n = int(rows.loc[g, "correct"]), int(rows.loc[g, "support"])
            return f"{g}, {percent(value)} ({k} of {counted(n, unit)})"
        return f"{join_names(rows.index)} (each {percent(value)})"

    if top == bottom:
        return (f"Every genre is recognised equally well: {percent(top)} of its test {unit}s "
                f"({len(table)} genres), so no genre stands out as best or worst.")
    best, worst = who(top), who(bottom)
    n_top = int((acc == top).sum())
    n_bottom = int((acc == bottom).sum())
    first = (f"The best-recognised genre is {best}" if n_top == 1
             else f"{n_top} genres share the highest accuracy: {best}")
    second = (f"the lowest accuracy is {worst}" if n_bottom == 1
              else f"{n_bottom} genres share the lowest: {worst}")
    small = int(table["support"].min())
    note = (f" With as few as {counted(small, unit)} of a genre, one {unit} moves its accuracy by about "
            f"{100 / small:.0f} points, so these rankings are fragile." if small < 20 else "")
    return f"{first}; {second}.{note}"


def confusion_sentence(counts: pd.DataFrame, genre: str, unit: str = "track") -> str:
    """Where one genre's misclassified items went, true for zero, one or tied wrong answers.

    Parameters
    ----------
    counts : DataFrame
        Confusion counts, rows true genre, columns predicted genre (same labels).
    genre : str
        The row to describe.
    """
    row = counts.loc[genre]
    n = int(row.sum())
    if n == 0:
        return f"There is no {genre} {unit} in the test set."
    wrong = row.drop(genre)
    n_wrong = int(wrong.sum())
    if n_wrong == 0:
        return f"No {genre} {unit} is mistaken for another genre (all {counted(n, unit)} right)."
    top = int(wrong.max())
    leaders = list(wrong[wrong == top].index)
    if int((wrong > 0).sum()) == 1:
        return (f"{genre.capitalize()}'s only wrong answer is {leaders[0]}: {top} of {counted(n, unit)} "
                f"({percent(top / n)}).")
    if len(leaders) == 1:
        return (f"{genre.capitalize()}'s most frequent wrong answer is {leaders[0]} ({top} of {counted(n, unit)}, "
                f"{percent(top / n)}); {n_wrong} of its {n} {unit}s {'is' if n_wrong == 1 else 'are'} wrong in all.")
    return (f"{genre.capitalize()}'s {n_wrong} wrong answers have no single favourite: {join_names(leaders)} "
            f"get {top} each (of {counted(n, unit)}).")


def pair_sentence(counts: pd.DataFrame, true: str, predicted: str, unit: str = "track") -> str:
    """How many items of ``true`` are called ``predicted``: "2 of 16 jazz tracks (12.5 %) are called blues"."""
    n = int(counts.loc[true].sum())
    k = int(counts.loc[true, predicted])
    if n == 0:
        return f"There is no {true} {unit} in the test set."
    if k == 0:
        return f"No {true} {unit} is called {predicted} (of {counted(n, unit)})."
    return (f"{k} of {counted(n, true + ' ' + unit)} ({percent(k / n)}) {'is' if k == 1 else 'are'} called "
            f"{predicted}.")


def largest_confusion(counts) -> dict:
    """The largest off-diagonal cell(s) of a confusion-count matrix.

    Returns
    -------
    dict
        ``count`` (0 when there is no error), ``cells`` (every ``(row, column)`` holding that count, in
        row-major order; empty when there is no error).
    """
    m = np.asarray(counts)
    off = np.where(np.eye(len(m), dtype=bool), 0, m)
    top = int(off.max()) if off.size else 0
    if top == 0:
        return {"count": 0, "cells": []}
    rows, cols = np.nonzero(off == top)
    return {"count": top, "cells": list(zip(rows.tolist(), cols.tolist()))}


def explorer_opening_sentence(counts, genres, unit: str = "track") -> str:
    """What the error explorer opens on, said truthfully when errors tie or do not exist."""
    big = largest_confusion(counts)
    if big["count"] == 0:
        return f"The model makes no error on these test {unit}s; the explorer opens on the largest correct cell."
    t, p = big["cells"][0]
    if len(big["cells"]) == 1:
        return (f"The explorer opens on the most frequent confusion: {genres[t]} taken for {genres[p]} "
                f"({counted(big['count'], unit)}).")
    return (f"No confusion stands out: {len(big['cells'])} cells hold {counted(big['count'], unit)} each; the "
            f"explorer opens on the first of them ({genres[t]} taken for {genres[p]}).")


def vote_mean_disagreements(files: pd.DataFrame) -> tuple[int, str]:
    """Files whose majority vote differs from the genre of highest mean probability, and a sentence.

    The paper's lines (``genre:prob ...``) list mean probabilities over a file's windows, but the decision
    is the majority vote of the windows; the two can differ when many windows lean weakly one way and a few
    strongly another.

    Parameters
    ----------
    files : DataFrame
        Columns ``pred_genre`` (the vote) and ``top3`` (the ``genre:prob`` entries, highest first), one row
        per classified file; rows with an empty ``top3`` are ignored.
    """
    rows = files[files["top3"].astype(str).str.len() > 0]
    first = rows["top3"].astype(str).str.split().str[0].str.split(":").str[0]
    n = int((first != rows["pred_genre"].astype(str)).sum())
    total = len(rows)
    if n == 0:
        return 0, (f"For every one of the {total:,} files the vote and the highest mean probability name the "
                   "same genre.")
    return n, (f"For {n} of {total:,} files the line's first genre is not the vote: the line lists mean "
               "probabilities over the windows, while the decision is the majority of the windows' "
               "individual answers, and the two can differ when a few windows are very sure of another genre.")


def collapse_sentence(true_genres, predicted, threshold: float = 0.2, say_none: bool = False) -> str:
    """Notice when one genre absorbs many files of other genres.

    Returns a sentence when the files wrongly called one genre are more than ``threshold`` of all files,
    else an empty string (a genre that is simply common in the data is not a collapse) or, with
    ``say_none``, a sentence saying that no genre does.
    """
    t = pd.Series(list(true_genres), dtype=str)
    p = pd.Series(list(predicted), dtype=str)
    if p.empty:
        return ""
    absorbed = p[p != t].value_counts()
    if absorbed.empty or absorbed.iloc[0] / len(p) <= threshold:
        if not say_none:
            return ""
        if absorbed.empty:
            return "No file is misclassified, so no genre collects other genres' files."
        return (f"No genre collects many other genres' files: the most any one receives by mistake is "
                f"{int(absorbed.iloc[0])} of {len(p)} ({join_names(absorbed.index[absorbed == absorbed.iloc[0]])}).")
    genre, wrong = absorbed.index[0], int(absorbed.iloc[0])
    k, truly = int((p == genre).sum()), int((t == genre).sum())
    others = t[(p == genre) & (t != genre)].nunique()
    return (f"{k} of {len(p)} files ({percent(k / len(p))}) are called {genre}, although only {truly} "
            f"{'is' if truly == 1 else 'are'}: "
            f"{wrong} files of {others} other genre{'s' if others != 1 else ''} end up there. When a model sends "
            "unfamiliar input to one class like this, that class is acting as its default answer, a sign "
            "that the new data lies outside what it learned.")


def accuracy_sentence(acc: Accuracy, what: str, unit: str = "tracks") -> str:
    """``'<what>: 87.5 % (35 of 40 tracks; 95 % interval 73.9-94.5 %)'``."""
    return f"{what}: {acc.text(unit)}"


def precision_sentence(per_genre: pd.DataFrame, unit: str = "track") -> str:
    """The other side of the per-genre table: how often a prediction of each genre is right.

    Parameters
    ----------
    per_genre : DataFrame
        Index genre; columns ``correct`` and ``n_predicted`` (counts). Genres never predicted have no
        precision and are named separately.
    """
    predicted = per_genre[per_genre["n_predicted"] > 0]
    never = list(per_genre.index[per_genre["n_predicted"] == 0])
    never_text = (f" The model never answers {join_names(never)}." if never else "")
    if predicted.empty:
        return f"The model makes no prediction, so no precision can be given.{never_text}"
    prec = (predicted["correct"] / predicted["n_predicted"]).round(12)
    low = prec.min()
    rows = predicted[prec == low]
    if prec.max() == low:
        return (f"Every genre the model answers is right equally often when it is given: {percent(low)} of the "
                f"time.{never_text}")
    if len(rows) == 1:
        g = rows.index[0]
        k, n = int(rows.loc[g, "correct"]), int(rows.loc[g, "n_predicted"])
        head = (f"The least reliable answer is {g}: of the {counted(n, unit)} called {g}, {k} "
                f"{'is' if k == 1 else 'are'} {g} (precision {percent(low)}).")
    else:
        each = [f"{g} ({int(rows.loc[g, 'correct'])} of {int(rows.loc[g, 'n_predicted'])})" for g in rows.index]
        head = (f"{len(rows)} genres share the lowest precision, {percent(low)}, counting how many of the {unit}s "
                f"called each are really of it: {join_names(each)}.")
    return head + never_text


def weakest_sentence(counts: pd.DataFrame, per_genre: pd.DataFrame, unit: str = "track", most: int = 3) -> str:
    """Where the lowest-accuracy genre(s) go wrong: :func:`confusion_sentence` for each, ties included.

    Nothing is said when every genre has the same accuracy (there is no weakest), and a tie of more than
    ``most`` genres is summarised instead of listed.
    """
    table = per_genre[per_genre["support"] > 0]
    if table.empty:
        return ""
    acc = (table["correct"] / table["support"]).round(12)
    if acc.min() == acc.max():
        return ""
    weakest = list(table.index[acc == acc.min()])
    if len(weakest) > most:
        return (f"{len(weakest)} genres share the lowest accuracy; the confusion matrix above shows where "
                f"their {unit}s go.")
    return " ".join(confusion_sentence(counts, g, unit) for g in weakest)


def focus_genre_sentence(counts: pd.DataFrame, acc: Accuracy, genre: str, other: str, unit: str = "track") -> str:
    """One genre's accuracy and its share called ``other``, e.g. the paper's weak pop and its pop-as-rock."""
    if not acc.n:
        return f"There is no {genre} {unit} in this build's test set."
    return f"{genre.capitalize()} is recognised {acc.text(unit + 's')}. {pair_sentence(counts, genre, other, unit)}"


def neighbours_sentence(counts: pd.DataFrame, a: str, b: str, neighbours=(), synthetic: bool = True,
                        unit: str = "track") -> str:
    """How two related genres are confused, with each other and elsewhere, true for zero and tied errors.

    Parameters
    ----------
    counts : DataFrame
        Confusion counts (rows true, columns predicted).
    a, b : str
        The two genres (jazz and blues).
    neighbours : sequence of str
        Genres that the synthetic corpus makes close to ``a`` and ``b`` by design (country); the remark
        about the style sheets is made only when some of these confusions actually occur.
    synthetic : bool
        Whether the results come from the synthetic corpus.
    """
    parts = [pair_sentence(counts, a, b, unit), pair_sentence(counts, b, a, unit),
             confusion_sentence(counts, a, unit), confusion_sentence(counts, b, unit)]
    family = [a, b, *neighbours]
    within = sum(int(counts.loc[t, p]) for t in (a, b) for p in family if p != t and p in counts.columns)
    wrong = sum(int(counts.loc[t].sum() - counts.loc[t, t]) for t in (a, b))
    if wrong == 0:
        parts.append(f"So in this build {a} and {b} are never mistaken, for each other or anything else.")
    elif synthetic and within:
        cells = [(t, p, int(counts.loc[t, p])) for t in (a, b) for p in family
                 if p != t and p in counts.columns and int(counts.loc[t, p])]
        which = ", ".join(f"{t} → {p}" + (f" ×{k}" if k > 1 else "") for t, p, k in cells)
        share = (f"This error ({which}) stays" if wrong == 1 else
                 f"{'All' if within == wrong else within} of these {wrong} errors ({which}) "
                 f"{'stays' if within == 1 else 'stay'}")
        parts.append(f"{share} within {join_names(family)}, which share shuffles and instruments in the synthetic "
                     "corpus by design; that says nothing about how the real genres relate.")
    elif synthetic:
        these = "This error falls" if wrong == 1 else f"All {wrong} errors fall"
        parts.append(f"{these} outside {join_names(family)}, although the synthetic corpus's style sheets make "
                     "them alike by design.")
    return " ".join(parts)


def sample_lines(tracks: pd.DataFrame, genres=("jazz", "blues", "pop")) -> dict:
    """One test track per genre for the paper's Figures 9-11: the first by ``track_id``, or None when absent.

    Parameters
    ----------
    tracks : DataFrame
        :meth:`genre_utils.results.RunResults.error_table` rows (``track_id``, ``true_genre``, ``pred_genre``,
        ``line``).
    """
    out = {}
    for g in genres:
        rows = tracks[tracks["true_genre"].astype(str) == g]
        out[g] = rows.sort_values("track_id").iloc[0] if len(rows) else None
    return out


def sample_sentence(samples: dict, unit: str = "track") -> str:
    """What happened to each sample track, naming the vote (the decision), which the line's order may not show.

    Tracks classified correctly whose line starts with the vote are named together ("All three tracks are
    classified correctly." when that holds for every sample); the others get a clause each.
    """
    plain, other = [], []
    for g, row in samples.items():
        if row is None:
            other.append(f"there is no {g} {unit} in this build's test set")
            continue
        vote = str(row["pred_genre"])
        first = str(row["line"]).split(": ", 1)[-1].split()[0].split(":")[0] if str(row["line"]) else vote
        if vote == g and first == vote:
            plain.append(g)
            continue
        said = (f"the {g} {unit} is classified correctly" if vote == g
                else f"the {g} {unit} is taken for {vote}")
        if first != vote:
            said += (f" (the vote of its windows; its line starts with {first}, the genre of highest mean "
                     "probability)")
        other.append(said)
    if plain and not other:
        if len(plain) == 1:
            return f"The {plain[0]} {unit} is classified correctly."
        return f"All {NUMBER_WORDS.get(len(plain), str(len(plain)))} {unit}s are classified correctly."
    parts = ([f"the {join_names(plain)} {unit}{'s are' if len(plain) > 1 else ' is'} classified correctly"]
             if plain else []) + other
    text = "; ".join(parts)
    return f"In this build {text}." if text else ""


def misclassified_sentence(n_wrong: int, n: int, shown: int, unit: str = "track") -> str:
    """``'3 of 10 test tracks are misclassified; all 3 are listed below.'``, true for none, all shown or some."""
    if n == 0:
        return f"There are no test {unit}s."
    if n_wrong == 0:
        return f"None of the {counted(n, 'test ' + unit)} is misclassified, so there is no mistake to listen to."
    head = f"{n_wrong} of {counted(n, 'test ' + unit)} {'is' if n_wrong == 1 else 'are'} misclassified"
    if shown >= n_wrong:
        return head + ("; it is listed below." if n_wrong == 1 else f"; all {n_wrong} are listed below.")
    return head + f"; the first {shown} (by true genre and track) are listed below."


def fdr_sentence(row, genre: str, unit: str = "track") -> str:
    """A genre's false discovery rate (1 - precision) and textbook false positive rate, true when never predicted.

    Parameters
    ----------
    row : mapping
        The genre's row of :meth:`genre_utils.results.RunResults.per_genre` (``n_predicted``, ``correct``,
        ``false_positive_rate``).
    """
    m, k = int(row["n_predicted"]), int(row["correct"])
    fpr = row["false_positive_rate"]
    fpr_text = "n/a" if fpr is None or (isinstance(fpr, float) and math.isnan(fpr)) else percent(fpr)
    if m == 0:
        return (f"Here the model never answers {genre}, so {genre} has no false discovery rate; its false "
                f"positive rate is {fpr_text}.")
    return (f"Here {m - k} of the {counted(m, unit)} called {genre} are something else, a false discovery rate of "
            f"{percent((m - k) / m)}; the false positive rate is {fpr_text}.")


def genre_seed_sentence(table: pd.DataFrame, unit: str = "track") -> str:
    """Which genre's accuracy moves most from one training seed to another, from
    :func:`genre_utils.report.genre_seed_table`; chosen by the result (one run; no genre moving by more than one
    test item; ties for the widest range).
    """
    runs = [c for c in table.columns if c.startswith(("seed ", "run "))]
    if len(runs) < 2 or table.empty:
        return ("Only one training run of this model was made, so how per-genre accuracy moves with the seed is "
                "not measured.")
    one_item = 100 / table["test items"]     # points one test item is worth, per genre
    widest = table["range (points)"].max()
    if (table["range (points)"] <= one_item + 1e-9).all():
        return (f"Across the {len(runs)} training seeds no genre's accuracy moves by more than one {unit}: the "
                "per-genre numbers above hold for this model, not only for this run.")
    tops = list(table.index[table["range (points)"] >= widest - 1e-9])
    parts = [f"{g}, from {table.loc[g, 'lowest'] * 100:.0f} % to {table.loc[g, 'highest'] * 100:.0f} % "
             f"({', '.join(f'{run}: {table.loc[g, run]}' for run in runs)})" for g in tops]
    return (f"Per-genre accuracy moves with the training seed as well: the widest spread across the {len(runs)} "
            f"seeds is {join_names(parts)}, a range of {widest:.0f} points. The per-genre numbers above are one "
            "run's; a genre whose seeds disagree this much says more about that run than about the model.")
