"""Sentences about results, chosen by the results.

The book glues numbers into prose. A fixed sentence with a number in it can come out false ("the
best-recognised genre is blues (100 %)" while six genres tie at 100 %; "jazz's most frequent wrong answer is
blues (0.0 %)" when jazz has no wrong answer at all). Each function here looks at the result first - ties,
zeros, signs, empty cells - and returns the sentence that is true for it. They are unit-tested on fixtures
with ties, zero confusions and negative margins (``tests/test_narrative.py``).

All functions return plain Markdown strings; the notebooks glue them.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .stats import Accuracy

__all__ = ["join_names", "extremes_sentence", "confusion_sentence", "pair_sentence", "margin_sentence",
           "largest_confusion", "explorer_opening_sentence", "vote_mean_disagreements", "collapse_sentence",
           "accuracy_sentence"]


def join_names(names) -> str:
    """``['a'] -> 'a'``, ``['a', 'b'] -> 'a and b'``, ``['a', 'b', 'c'] -> 'a, b and c'``."""
    names = [str(n) for n in names]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _pct(x: float, digits: int = 1) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.{digits}f} %"


def _tracks(n: int, unit: str = "track") -> str:
    return f"{n:,} {unit}" + ("" if n == 1 else "s")


def extremes_sentence(per_genre: pd.DataFrame, unit: str = "track") -> str:
    """Which genres are recognised best and worst, naming every genre of a tie.

    Parameters
    ----------
    per_genre : DataFrame
        Index genre; columns ``accuracy`` (fraction), ``correct`` and ``support`` (counts), as
        :func:`genre_utils.report.per_genre_frame` gives. Genres without test items are left out.
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
            return f"{g}, {_pct(value)} ({k} of {_tracks(n, unit)})"
        return f"{join_names(rows.index)} (each {_pct(value)})"

    if top == bottom:
        return (f"Every genre is recognised equally well: {_pct(top)} of its test {unit}s "
                f"({len(table)} genres), so no genre stands out as best or worst.")
    best, worst = who(top), who(bottom)
    n_top = int((acc == top).sum())
    n_bottom = int((acc == bottom).sum())
    first = (f"The best-recognised genre is {best}" if n_top == 1
             else f"{n_top} genres share the highest accuracy: {best}")
    second = (f"the lowest accuracy is {worst}" if n_bottom == 1
              else f"{n_bottom} genres share the lowest: {worst}")
    small = int(table["support"].min())
    note = (f" With as few as {_tracks(small, unit)} of a genre, one {unit} moves its accuracy by "
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
        return f"No {genre} {unit} is mistaken for another genre (all {_tracks(n, unit)} right)."
    top = int(wrong.max())
    leaders = list(wrong[wrong == top].index)
    if len(leaders) == 1:
        return (f"{genre.capitalize()} is most often taken for {leaders[0]}: {top} of {_tracks(n, unit)} "
                f"({_pct(top / n)}); {n_wrong} of {n} are wrong in all.")
    return (f"{genre.capitalize()}'s {n_wrong} wrong answers have no single favourite: {join_names(leaders)} "
            f"get {top} each (of {_tracks(n, unit)}).")


def pair_sentence(counts: pd.DataFrame, true: str, predicted: str, unit: str = "track") -> str:
    """How many items of ``true`` are called ``predicted``: "2 of 16 jazz tracks (12.5 %) are called blues"."""
    n = int(counts.loc[true].sum())
    k = int(counts.loc[true, predicted])
    if n == 0:
        return f"There is no {true} {unit} in the test set."
    if k == 0:
        return f"No {true} {unit} is called {predicted} (of {_tracks(n, unit)})."
    return f"{k} of {n} {true} {unit}s ({_pct(k / n)}) are called {predicted}."


def margin_sentence(comparison: dict, a: str, b: str, unit: str = "test tracks") -> str:
    """A paired comparison of two models, in words that follow the sign and the interval.

    Parameters
    ----------
    comparison : dict
        :func:`genre_utils.experiments.paired_comparison` output (``difference``, ``low``, ``high``,
        ``level``, ``n_tracks``, ``p_value``).
    a, b : str
        Names of the two models (A minus B).
    """
    d, lo, hi = comparison["difference"], comparison["low"], comparison["high"]
    level = f"{100 * comparison.get('level', 0.95):.0f} %"
    pts = f"{100 * d:+.1f} points ({level} interval {100 * lo:+.1f} to {100 * hi:+.1f})"
    n = comparison.get("n_tracks")
    on = f" on the same {n:,} {unit}" if n else ""
    if lo > 0:
        return f"{a} is more accurate than {b}{on}: {pts}, an advantage larger than the test set's noise."
    if hi < 0:
        return f"{a} is less accurate than {b}{on}: {pts}, a shortfall larger than the test set's noise."
    if d == 0:
        return f"{a} and {b} are equally accurate{on} ({pts}); the test cannot separate them."
    lead, trail = (a, b) if d > 0 else (b, a)
    return (f"{lead} is ahead of {trail}{on} by {abs(100 * d):.1f} points, but the {level} interval "
            f"({100 * lo:+.1f} to {100 * hi:+.1f}) includes zero: within the noise of this test set.")


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
                f"({_tracks(big['count'], unit)}).")
    return (f"No confusion stands out: {len(big['cells'])} cells hold {_tracks(big['count'], unit)} each; the "
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


def collapse_sentence(true_genres, predicted, threshold: float = 0.2) -> str:
    """Notice when one genre absorbs many files of other genres.

    Returns a sentence when the files wrongly called one genre are more than ``threshold`` of all files,
    else an empty string (a genre that is simply common in the data is not a collapse).
    """
    t = pd.Series(list(true_genres), dtype=str)
    p = pd.Series(list(predicted), dtype=str)
    if p.empty:
        return ""
    absorbed = p[p != t].value_counts()
    if absorbed.empty or absorbed.iloc[0] / len(p) <= threshold:
        return ""
    genre, wrong = absorbed.index[0], int(absorbed.iloc[0])
    k, truly = int((p == genre).sum()), int((t == genre).sum())
    others = t[(p == genre) & (t != genre)].nunique()
    return (f"{k} of {len(p)} files ({_pct(k / len(p))}) are called {genre}, although only {truly} are: "
            f"{wrong} files of {others} other genre{'s' if others != 1 else ''} end up there. When a model sends "
            "unfamiliar input to one class like this, that class is acting as its default answer, a sign "
            "that the new data lies outside what it learned.")


def accuracy_sentence(acc: Accuracy, what: str, unit: str = "tracks") -> str:
    """``'<what>: 87.5 % (35 of 40 tracks; 95 % interval 73.9-94.5 %)'``."""
    return f"{what}: {acc.text(unit)}"
