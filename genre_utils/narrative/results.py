"""Sentences about test results: accuracies, confusions, margins, calibration and the paper's comparisons."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..stats import Accuracy, overlaps
from .common import NUMBER_WORDS, counted, join_names, percent

__all__ = ["extremes_sentence", "confusion_sentence", "pair_sentence", "margin_sentence", "largest_confusion",
           "explorer_opening_sentence", "vote_mean_disagreements", "collapse_sentence", "accuracy_sentence",
           "versus_paper_sentence", "precision_sentence", "weakest_sentence", "focus_genre_sentence",
           "neighbours_sentence", "sample_lines", "sample_sentence", "misclassified_sentence", "fdr_sentence",
           "web_tests_sentence", "newdata_sentence", "protocol_sentence", "auroc_sentence", "ece_sentence",
           "margin_reading_sentence"]


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


def margin_sentence(comparison: dict, a: str, b: str, unit: str = "test tracks", small: float = 0.02) -> str:
    """A paired comparison of two models, in words that follow the sign and the interval.

    A margin whose interval excludes zero is called "small" and "only just beyond the test set's noise" when
    the interval's nearer end lies within ``small`` (a fraction; 2 points) of zero. Such a margin also says
    that every run is trained once: the interval covers the test items, not the training seed.

    Parameters
    ----------
    comparison : dict
        :func:`genre_utils.experiments.paired_comparison` output (``difference``, ``low``, ``high``,
        ``level``, ``n_tracks``, ``p_value``).
    a, b : str
        Names of the two models (A minus B).
    """
    return _sentence_case(_margin(comparison, _running(a), _running(b), unit, small))


def _running(name: str) -> str:
    """A name as it stands inside a sentence: a leading article in lower case ('The CRNN' -> 'the CRNN')."""
    for article in ("The ", "A ", "An "):
        if name.startswith(article):
            return article.lower() + name[len(article):]
    return name


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:]


def _margin(comparison: dict, a: str, b: str, unit: str, small: float) -> str:
    d, lo, hi = comparison["difference"], comparison["low"], comparison["high"]
    level = f"{100 * comparison.get('level', 0.95):.0f} %"
    pts = f"{100 * d:+.1f} points ({level} interval {100 * lo:+.1f} to {100 * hi:+.1f})"
    n = comparison.get("n_tracks")
    on = f" on the same {n:,} {unit}" if n else ""
    once = (" Each model was trained once, with one seed; how far another seed would move the margin was not "
            "measured.")
    if lo > 0 or hi < 0:
        edge = lo if lo > 0 else -hi
        size = "a small" if edge < small else "an"
        beyond = "only just beyond" if edge < small else "beyond"
        if lo > 0:
            return f"{a} is more accurate than {b}{on}: {pts}, {size} advantage {beyond} the test set's noise.{once}"
        size = "a small" if edge < small else "a"
        return f"{a} is less accurate than {b}{on}: {pts}, {size} shortfall {beyond} the test set's noise.{once}"
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


def versus_paper_sentence(acc: Accuracy, paper_value: float | None, paper_name: str = "the paper's",
                          unit: str = "item", caveat: bool = False, synthetic: bool = True) -> str:
    """Where the paper's value lies relative to this build's 95 % interval: inside, above or below it.

    The paper's number comes from other data (its own recordings and split), so where it falls says nothing
    about the paper's model. With ``caveat`` the sentence says so, naming the data (``synthetic``: this
    build's synthetic corpus, else other recordings or another split of them).
    """
    if paper_value is None:
        return "The paper reports no value to set beside it."
    if not acc.n:
        return f"With no test items here, {paper_name} {percent(paper_value)} cannot be compared."
    low, high = acc.interval
    level = f"{100 * acc.level:.0f} %"
    note = ""
    if caveat:
        data = ("synthetic music here, the paper's recordings there" if synthetic
                else "a different test set here than in the paper")
        note = (f" The data differ ({data}), so this sets two numbers side by side; it is no test of the paper's "
                "model.")
    if low <= paper_value <= high:
        return (f"{paper_name.capitalize()} {percent(paper_value)} lies inside this build's {level} interval, so on "
                f"{counted(acc.n, unit)} the two numbers cannot be told apart.{note}")
    side = "above" if paper_value > high else "below"
    return f"{paper_name.capitalize()} {percent(paper_value)} lies {side} this build's {level} interval.{note}"


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
        :func:`genre_utils.tracks.error_table` rows (``track_id``, ``true_genre``, ``pred_genre``, ``line``).
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
        The genre's row of :func:`genre_utils.report.per_genre_frame` (``n_predicted``, ``correct``,
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


def web_tests_sentence(model: Accuracy, listeners: Accuracy) -> str:
    """The paper's web tests pooled: model and listeners with intervals, and whether they can be told apart."""
    text = (f"Pooled over the three tests, the paper's model is right on {model.text('songs')}, its listeners on "
            f"{listeners.text('judgements')}.")

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

    if overlaps(new, test):
        return text + " The two intervals overlap: on so few items the difference may be noise."
    direction = "lower" if new.value < test.value else "higher"
    return text + f" The intervals do not overlap: the new-data accuracy is clearly {direction}."


def protocol_sentence(table: pd.DataFrame, protocol: str = "split protocol", value: str = "accuracy (%)",
                      model: str = "model") -> str:
    """What a table of cited accuracies under two split protocols can show: do the protocols' ranges overlap?

    Rows whose protocol starts with ``fault-filtered`` are one group, rows whose protocol mentions ``random``
    the other. A difference is attributed to the split only through a model reported under both protocols
    (same ``model`` entry); otherwise the sentence says the table cannot show the split's cost.
    """
    proto = table[protocol].astype(str).str.lower()
    is_ff = proto.str.startswith("fault-filtered")
    is_rnd = proto.str.contains("random") & ~is_ff
    ff, rnd = table.loc[is_ff, value].astype(float), table.loc[is_rnd, value].astype(float)
    if ff.empty or rnd.empty:
        return "The table does not hold both protocols, so it cannot set them side by side."

    def span(x):
        return f"{x.min():.1f} %" if x.min() == x.max() else f"{x.min():.1f} to {x.max():.1f} %"

    both = (sorted(set(table.loc[is_ff, model].astype(str)) & set(table.loc[is_rnd, model].astype(str)))
            if model in table else [])
    if both:
        limit = (f"Only {join_names(both)} {'is' if len(both) == 1 else 'are'} reported under both protocols, so "
                 "only those rows speak to what the split itself costs; the others differ in model and features "
                 "as well.")
    else:
        limit = ("No model in the table is reported under both protocols, and the rows differ in model and features "
                 "as well, so the table cannot show what the split itself costs.")
    head = f"The random-split rows reach {span(rnd)}, the fault-filtered rows {span(ff)}. "
    if ff.max() < rnd.min():
        return head + "Every fault-filtered row lies below every random-split row. " + limit
    above = int((ff.to_numpy()[:, None] > rnd.to_numpy()[None, :]).any(axis=1).sum())
    return head + (f"The two ranges overlap: {above} of the {len(ff)} fault-filtered rows "
                   f"{'lies' if above == 1 else 'lie'} above at least one random-split row. ") + limit


def auroc_sentence(open_set: dict, synthetic: bool = True, in_genre_layout: tuple[int, int] | None = None) -> str:
    """The open-set AUROC in words chosen by its interval (above, around or below 0.5) and by the data.

    On the synthetic corpus the open-set tracks are composed from the ten genres' style sheets, so a
    separation is never read as the detection of unfamiliar music.

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
                    f"coin would ({span}). This is not the detection of unfamiliar music: the open-set tracks are "
                    f"composed from the same ten style sheets, so the separation comes from other differences "
                    f"between the two groups{layout or ''}.")
        return (f"The unknown score ranks the open-set tracks above the in-genre test tracks more often than "
                f"chance ({span}).")
    if hi is not None and hi < 0.5:
        tail = (" On this corpus they are composed from the same ten style sheets, so this says nothing about "
                "unfamiliar music." if synthetic else "")
        return (f"The unknown score ranks the open-set tracks *below* the in-genre test tracks more often than "
                f"chance ({span}): the model is more confident about these tracks than about the in-genre ones."
                + tail)
    tail = (" That is what this corpus leads one to expect, since its open-set tracks are composed from the ten "
            "genres' style sheets." if synthetic else "")
    return (f"The unknown score does not separate the open-set tracks from the in-genre test tracks better than "
            f"chance can explain ({span}; the interval includes 0.5).{tail}")


def ece_sentence(before: float | None, after: float | None, n: int, unit: str, reliability_after=None,
                 track_means: bool = False) -> str:
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
    track_means : bool
        The items' probabilities are means of window probabilities (tracks): an ECE that rose with the items
        now under-confident is then explained by that averaging.
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
        text += f" After scaling they are under-confident ({gap})"
        if track_means:
            text += (": a track's probabilities are the mean of its windows', which tends to make them less sure "
                     "than single windows, and the temperature fitted on single windows softens them further. A "
                     "temperature fitted on validation tracks might suit track probabilities better.")
        else:
            text += "."
    elif round(100 * conf, 1) > round(100 * acc, 1):
        text += f" After scaling they are still over-confident ({gap})."
    return text


def margin_reading_sentence(comparison: dict, large: float = 0.10) -> str:
    """How to read the CRNN's margin over a regression on track means, chosen by its sign and size.

    Parameters
    ----------
    comparison : dict
        :func:`genre_utils.experiments.paired_comparison` output (``difference``, ``low``, ``high``), the
        CRNN minus the regression.
    large : float
        A margin whose interval's lower end reaches this (a fraction: 10 points) counts as large.
    """
    lo, hi = comparison["low"], comparison["high"]
    if hi < 0:
        return ("Here the regression beats the CRNN, and the paper's design is the first suspect when training "
                "data are scarce:")
    if lo <= 0:
        return ("Here the CRNN does not clearly beat the regression, and the paper's design is the first suspect "
                "when training data are scarce:")
    if lo < large:
        return ("Here the CRNN's lead is real but not large, and with scarce training data the paper's design is a "
                "suspect:")
    return (f"Here the CRNN's lead is large (at least {100 * lo:.0f} points at the low end of the interval), so on "
            "this data the design does not hold it back. Where the margin is small or negative, as it may be on "
            "real data with few training tracks, the design is the first suspect:")
