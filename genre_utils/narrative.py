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
           "accuracy_sentence", "versus_paper_sentence", "precision_sentence", "weakest_sentence",
           "focus_genre_sentence", "neighbours_sentence", "sample_lines", "sample_sentence", "misclassified_sentence",
           "newdata_sentence", "failed_files_sentence", "fdr_sentence", "web_tests_sentence"]


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
    if int((wrong > 0).sum()) == 1:
        return (f"{genre.capitalize()}'s only wrong answer is {leaders[0]}: {top} of {_tracks(n, unit)} "
                f"({_pct(top / n)}).")
    if len(leaders) == 1:
        return (f"{genre.capitalize()} is most often taken for {leaders[0]}: {top} of {_tracks(n, unit)} "
                f"({_pct(top / n)}); {n_wrong} of {n} {'is' if n_wrong == 1 else 'are'} wrong in all.")
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
    return (f"{k} of {_tracks(n, true + ' ' + unit)} ({_pct(k / n)}) {'is' if k == 1 else 'are'} called "
            f"{predicted}.")


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
    return (f"{k} of {len(p)} files ({_pct(k / len(p))}) are called {genre}, although only {truly} "
            f"{'is' if truly == 1 else 'are'}: "
            f"{wrong} files of {others} other genre{'s' if others != 1 else ''} end up there. When a model sends "
            "unfamiliar input to one class like this, that class is acting as its default answer, a sign "
            "that the new data lies outside what it learned.")


def accuracy_sentence(acc: Accuracy, what: str, unit: str = "tracks") -> str:
    """``'<what>: 87.5 % (35 of 40 tracks; 95 % interval 73.9-94.5 %)'``."""
    return f"{what}: {acc.text(unit)}"


def versus_paper_sentence(acc: Accuracy, paper_value: float | None, paper_name: str = "the paper's",
                          unit: str = "item") -> str:
    """Where the paper's value lies relative to this build's 95 % interval: inside, above or below it."""
    if paper_value is None:
        return "The paper reports no value to set beside it."
    if not acc.n:
        return f"With no test items here, {paper_name} {_pct(paper_value)} cannot be compared."
    low, high = acc.interval
    level = f"{100 * acc.level:.0f} %"
    if low <= paper_value <= high:
        return (f"{paper_name.capitalize()} {_pct(paper_value)} lies inside this build's {level} interval, so on "
                f"{_tracks(acc.n, unit)} the two cannot be told apart.")
    side = "above" if paper_value > high else "below"
    return f"{paper_name.capitalize()} {_pct(paper_value)} lies {side} this build's {level} interval."


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
        return (f"Every genre the model answers is right equally often when it is given: {_pct(low)} of the "
                f"time.{never_text}")
    if len(rows) == 1:
        g = rows.index[0]
        k, n = int(rows.loc[g, "correct"]), int(rows.loc[g, "n_predicted"])
        head = (f"The least reliable answer is {g}: of the {_tracks(n, unit)} called {g}, {k} "
                f"{'is' if k == 1 else 'are'} {g} (precision {_pct(low)}).")
    else:
        each = [f"{g} ({int(rows.loc[g, 'correct'])} of {int(rows.loc[g, 'n_predicted'])})" for g in rows.index]
        head = (f"{len(rows)} genres share the lowest precision, {_pct(low)}, counting how many of the {unit}s "
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
        share = ("This error stays" if wrong == 1 else
                 f"{'All' if within == wrong else within} of these {wrong} errors "
                 f"{'stays' if within == 1 else 'stay'}")
        parts.append(f"{share} among {join_names(family)}, which the synthetic "
                     "corpus's style sheets give shared shuffle rhythms and instruments by design; they reflect "
                     "the model's sense of rhythm and timbre, not the real genres' history.")
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
        :func:`genre_utils.tracks.error_table` rows (``track_id``, ``true_genre``, ``pred_genre``, ``line``).
    """
    out = {}
    for g in genres:
        rows = tracks[tracks["true_genre"].astype(str) == g]
        out[g] = rows.sort_values("track_id").iloc[0] if len(rows) else None
    return out


def sample_sentence(samples: dict, unit: str = "track") -> str:
    """What happened to each sample track, naming the vote (the decision), which the line's order may not show."""
    parts = []
    for g, row in samples.items():
        if row is None:
            parts.append(f"there is no {g} {unit} in this build's test set")
            continue
        vote = str(row["pred_genre"])
        first = str(row["line"]).split(": ", 1)[-1].split()[0].split(":")[0] if str(row["line"]) else vote
        said = (f"the {g} {unit} is classified correctly" if vote == g
                else f"the {g} {unit} is taken for {vote}")
        if first != vote:
            said += (f" (the vote of its windows; its line starts with {first}, the genre of highest mean "
                     "probability)")
        parts.append(said)
    text = "; ".join(parts)
    return f"In this build {text}." if text else ""


def misclassified_sentence(n_wrong: int, n: int, shown: int, unit: str = "track") -> str:
    """``'3 of 10 test tracks are misclassified; all 3 are listed below.'``, true for none, all shown or some."""
    if n == 0:
        return f"There are no test {unit}s."
    if n_wrong == 0:
        return f"None of the {_tracks(n, 'test ' + unit)} is misclassified, so there is no mistake to listen to."
    head = f"{n_wrong} of {_tracks(n, 'test ' + unit)} {'is' if n_wrong == 1 else 'are'} misclassified"
    if shown >= n_wrong:
        return head + ("; it is listed below." if n_wrong == 1 else f"; all {n_wrong} are listed below.")
    return head + f"; the first {shown} (by true genre and track) are listed below."


def failed_files_sentence(n_failed: int, n_files: int) -> str:
    """Whether every new-data file could be read, and how many were left out if not."""
    if not n_files:
        return "There are no new-data files."
    if not n_failed:
        return f"All {n_files:,} files could be read."
    return (f"{n_failed} of {n_files:,} files {'was' if n_failed == 1 else 'were'} unreadable and "
            f"{'is' if n_failed == 1 else 'are'} left out (the table below gives the reason).")


def fdr_sentence(row, genre: str, unit: str = "track") -> str:
    """A genre's false discovery rate (1 - precision) and textbook false positive rate, true when never predicted.

    Parameters
    ----------
    row : mapping
        The genre's row of :func:`genre_utils.report.per_genre_frame` (``n_predicted``, ``correct``,
        ``false_positive_rate``).
    """
    m, k = int(row["n_predicted"]), int(row["correct"])
    fpr = row["false_positive_rate"]
    fpr_text = "n/a" if fpr is None or (isinstance(fpr, float) and math.isnan(fpr)) else _pct(fpr)
    if m == 0:
        return (f"Here the model never answers {genre}, so {genre} has no false discovery rate; its false "
                f"positive rate is {fpr_text}.")
    return (f"Here {m - k} of the {_tracks(m, unit)} called {genre} are something else, a false discovery rate of "
            f"{_pct((m - k) / m)}; the false positive rate is {fpr_text}.")


def web_tests_sentence(model: Accuracy, listeners: Accuracy) -> str:
    """The paper's web tests pooled: model and listeners with intervals, and whether they can be told apart."""
    text = (f"Pooled over the three tests, the paper's model is right on {model.text('songs')}, its listeners on "
            f"{listeners.text('judgements')}.")
    from .stats import overlaps

    if overlaps(model, listeners):
        return text + (" The intervals overlap widely: thirty songs cannot show a difference between the model "
                       "and the listeners, nor establish that they are equal.")
    return text + " The intervals do not overlap."


def newdata_sentence(new: Accuracy, test: Accuracy, unit: str = "files") -> str:
    """New-data accuracy beside the regular test accuracy, with intervals, saying whether they differ."""
    if not new.n:
        return "No new file could be classified, so this build has no new-data result."
    text = f"On its new data the model is right {new.text(unit)}, against {test.text('test tracks')}."
    if not test.n:
        return text
    from .stats import overlaps

    if overlaps(new, test):
        return text + " The two intervals overlap: on so few items the difference may be noise."
    direction = "lower" if new.value < test.value else "higher"
    return text + f" The intervals do not overlap: the new-data accuracy is clearly {direction}."
