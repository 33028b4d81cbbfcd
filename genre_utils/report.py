"""Small helpers the book's pages share: the data banner, number formatting, glue and tables.

Every number that appears in the book's prose is glued from a run through :func:`glue_all`, formatted by
:func:`pct` or :func:`num`; nothing is typed by hand.
"""

from __future__ import annotations

import html
import inspect
import math

import pandas as pd

from . import paper
from .context import profile_runs, run_label
from .genres import GENRES
from .results import RunResults, seeds_accuracy
from .stats import Accuracy
from .stats import percent as pct  # the book's tables and glue call it pct

__all__ = ["pct", "num", "glue_sentences", "setup_page", "glue_all", "glue_figure", "text_figure", "data_banner",
           "compare_table", "build_column", "paper_accuracy", "acc_cell",
           "web_tests_table", "genre_table", "newdata_files_table",
           "paper_web_accuracies", "newdata_skipped_table", "seconds_or_minutes", "related_work_table",
           "headline_rows", "ablation_results", "ablation_table", "paper_pop_predictions", "p_phrase", "source_block",
           "genre_seed_table"]


def num(value, digits: int = 0) -> str:
    """A number with thousands separators: ``100000 -> '100,000'``."""
    if value is None:
        return "n/a"
    return f"{float(value):,.{digits}f}"


def glue_all(**values) -> None:
    """``myst_nb.glue`` every keyword as a hidden text value (strings are glued as they are)."""
    from myst_nb import glue

    for name, value in values.items():
        glue(name, value if isinstance(value, str) else str(value), display=False)


def glue_sentences(**sentences) -> None:
    """``myst_nb.glue`` each keyword as hidden Markdown, for a ``{glue:md}`key``` role in the prose.

    Whole sentences chosen by :mod:`genre_utils.narrative` are pasted as ordinary text this way;
    ``{glue:text}`` (for single numbers) would set them in bold like a number. An empty sentence is glued
    as a single space, so the role never pastes nothing.
    """
    from IPython.display import Markdown
    from myst_nb import glue

    for name, text in sentences.items():
        glue(name, Markdown(str(text) if str(text).strip() else " "), display=False)


def glue_figure(name: str, obj) -> None:
    """Glue a figure (matplotlib, plotly, or :func:`text_figure`) for a ``{glue:figure}`` directive.

    Every figure of the paper that the book regenerates is shown through a Markdown cell::

        ```{glue:figure} fig7
        :name: fig-7

        Figure 7 (regenerated): ...
        ```

    so it gets a numbered caption under the image; the code cell only computes and glues it.
    """
    from myst_nb import glue

    glue(name, obj, display=False)


def text_figure(lines):
    """Lines of text (e.g. the paper's ``genre: genre:prob ...`` outputs) as a displayable block for a figure."""
    from IPython.display import HTML

    body = "\n".join(html.escape(str(line)) for line in lines)
    return HTML(f'<pre class="text-figure">{body}</pre>')


def setup_page() -> None:
    """Display settings every page shares; called by each notebook's first cell (and by :func:`data_banner`).

    pandas shows every character of a cell (``max_colwidth=None``: no cell is cut with "..."), up to 200 rows
    and every column; the book's style sheet (``_static/genre-book.css``) wraps long cells inside the text
    column.
    """
    pd.set_option("display.max_colwidth", None)
    pd.set_option("display.max_rows", 200)
    pd.set_option("display.min_rows", 200)
    pd.set_option("display.max_columns", None)
    pd.set_option("display.width", None)
    pd.set_option("display.precision", 3)


def data_banner(ctx):
    """A Markdown note naming the data and profile behind the numbers of a page (after :func:`setup_page`)."""
    from IPython.display import Markdown

    setup_page()

    kind = "synthetic data" if ctx.synthetic else "real data"
    return Markdown(f"```{{note}}\nThe results on this page were computed on **{kind}**: {ctx.data_description}; "
                    f"profile `{ctx.profile.name}`.\n```")


def build_column(ctx) -> str:
    """The heading of a table column holding this build's numbers, naming its data.

    ``'this build, synthetic data'`` on the project's synthetic corpus, ``'this build, real data'`` otherwise;
    every page that sets the paper beside this build uses it, so the column says what it measures.
    """
    return "this build, " + ("synthetic data" if getattr(ctx, "synthetic", True) else "real data")


def paper_accuracy(value: float, n: int, digits: int = 3) -> Accuracy | None:
    """The paper's accuracy ``value`` on ``n`` items as an :class:`Accuracy`, when its count is certain.

    The paper gives percentages, not counts. When exactly one whole number ``k`` of ``n`` rounds to
    ``value`` (e.g. 31.2 % of 16 = 5 pieces) that count is returned; when several do (66.5 % of 7,428
    segments), None, so no interval is made up from a rounded number.
    """
    if not n:  # the paper does not say on how many items (e.g. the baseline's accuracies)
        return None
    ks = [k for k in range(n + 1) if round(k / n, digits) == round(value, digits)]
    return Accuracy(ks[0], n) if len(ks) == 1 else None


def acc_cell(acc: Accuracy | None, paper_value: float | None = None, n: int | None = None) -> str:
    """A table cell: ``'87.5 % [73.9, 94.5], n = 40'``; a paper value without a certain count: ``'66.5 %, n = 7,428'``.
    """
    if acc is not None:
        return acc.short()
    if paper_value is None:
        return "not reported"
    return pct(paper_value) + (f", n = {n:,}" if n else "")


def compare_table(rows, column: str = "this build") -> pd.DataFrame:
    """A paper-vs-this-build table from ``(quantity, paper value, build value, kind)`` tuples.

    ``kind`` is ``'pct'`` (fractions shown as percentages), ``'num'``, or ``'acc'``: then the paper value is
    ``(fraction, n)`` (or None) and the build value an :class:`~genre_utils.stats.Accuracy`, and both cells show
    ``n`` and, where the count is known, the 95 % Wilson interval in brackets. ``column`` heads this build's
    column (use :func:`build_column`). Missing values show as ``n/a`` or ``not reported``.
    """
    fmt = {"pct": pct, "num": num}
    out = []
    for q, p, b, k in rows:
        if k == "acc":
            paper_cell = "not reported" if p is None else acc_cell(paper_accuracy(*p), *p)
            build_cell = acc_cell(b) if b is not None else "n/a"
        else:
            paper_cell = fmt[k](p) if p is not None else "not reported"
            build_cell = fmt[k](b)
        out.append({"quantity": q, "paper": paper_cell, column: build_cell})
    return pd.DataFrame(out).set_index("quantity")


def web_tests_table(build: Accuracy | None = None, column: str = "this build") -> pd.DataFrame:
    """The paper's three web tests (model and listeners per test) with n and 95 % intervals, pooled, and this build.

    Each test's counts follow from its percentages (:func:`paper_web_accuracies`): the model on 10 songs, the
    two listeners on 20 judgements; the pooled row adds them up.

    Parameters
    ----------
    build : Accuracy, optional
        This build's accuracy on its new-data folder; adds a last row.
    """
    listeners = paper.WEB_TEST_LISTENERS
    rows = []
    for t in paper.WEB_TESTS:
        model = Accuracy(round(t["model"] * t["songs"]), t["songs"])
        people = Accuracy(round(t["listeners"] * listeners * t["songs"]), listeners * t["songs"])
        rows.append({"test": f"paper, web test {t['test']}", "songs": t["songs"], "model": model.short(),
                     "two group members": people.short()})
    model, people = paper_web_accuracies()
    rows.append({"test": "paper, three tests pooled", "songs": sum(t["songs"] for t in paper.WEB_TESTS),
                 "model": model.short(), "two group members": people.short()})
    if build is not None:
        rows.append({"test": f"{column}: new-data folder", "songs": build.n,
                     "model": build.short(), "two group members": "not recorded (the listening page)"})
    return pd.DataFrame(rows).set_index("test")


def genre_table(results: RunResults, level: str = "track") -> pd.DataFrame:
    """The per-genre table for display: counts, accuracy with its 95 % interval, precision and the two rates."""
    frame = results.per_genre(level)
    accs = results.genre_accuracies(level, list(frame.index))
    rate = lambda col: [pct(v) if v is not None and not (isinstance(v, float) and math.isnan(v)) else "n/a"  # noqa: E731
                        for v in frame[col]]
    unit = {"track": "tracks", "segment": "segments"}[level]
    return pd.DataFrame({
        f"test {unit}": frame["support"].astype(int),
        "right": [accs[g].k for g in frame.index],
        "accuracy [95 % interval]": [accs[g].short().rsplit(",", 1)[0] if accs[g].n else "n/a" for g in frame.index],
        "predicted as the genre": frame["n_predicted"].astype(int),
        "precision": rate("precision"),
        "false discovery rate": rate("false_discovery_rate"),
        "false positive rate": rate("false_positive_rate"),
    }, index=frame.index)


def genre_seed_table(runs: list[RunResults], level: str = "track") -> pd.DataFrame:
    """Per-genre accuracy of one model under each of its training seeds, side by side.

    Parameters
    ----------
    runs : list of RunResults
        The same model trained with different seeds (:meth:`genre_utils.context.BookContext.seed_runs`), tested
        on the same tracks.
    level : str
        ``'track'`` (the 30-s vote) or ``'segment'``.

    Returns
    -------
    DataFrame
        Index ``genre`` (those with test items); one column per run, named ``seed <s>`` from its training
        configuration, with ``'k of n'``; ``test items`` (n, the same for every run); ``lowest`` and ``highest``
        (accuracy, fractions) and ``range (points)``.
    """
    cols, rows = [], {}
    for run in runs:
        seed = (run.config.get("train") or {}).get("seed")
        cols.append(f"seed {seed}" if seed is not None else f"run {len(cols) + 1}")
        for genre, acc in run.genre_accuracies(level).items():
            rows.setdefault(genre, []).append(acc)
    rows = {g: accs for g, accs in rows.items() if all(a.n for a in accs)}   # genres the test holds
    table = pd.DataFrame({c: [f"{accs[i].k} of {accs[i].n}" for accs in rows.values()] for i, c in enumerate(cols)},
                         index=pd.Index(list(rows), name="genre"))
    values = [[a.value for a in accs] for accs in rows.values()]
    table["test items"] = [accs[0].n for accs in rows.values()]
    table["lowest"] = [min(v) for v in values]
    table["highest"] = [max(v) for v in values]
    table["range (points)"] = (table["highest"] - table["lowest"]) * 100
    return table


def newdata_files_table(results: RunResults) -> pd.DataFrame:
    """One row per new-data file for display: file, label, the vote, the printed line and a note.

    The note marks lines whose first genre (highest mean probability) is not the vote, and failed files.
    """
    files = results.newdata_files
    first = files["top3"].fillna("").astype(str).str.split().str[0].fillna("").str.split(":").str[0]
    note = ["unreadable: " + e if e else ("line's first genre is not the vote" if f and f != v else "")
            for e, f, v in zip(files["error"], first, files["pred_genre"].astype(str))]
    return pd.DataFrame({
        "file": files["path"].map(lambda p: "/".join(str(p).split("/")[-2:])),
        "label": files["label"],
        "vote": files["pred_genre"].where(files["error"] == "", ""),
        "right": [("yes" if lbl == v else "no") if not e else "" for lbl, v, e in
                  zip(files["label"].astype(str), files["pred_genre"].astype(str), files["error"])],
        "windows": files["n_segments"],
        "line (mean probabilities)": files["line"],
        "note": note,
    })


def newdata_skipped_table(results: RunResults) -> pd.DataFrame:
    """The new-data files the folder scan left out before decoding, with the reason (``file``, ``reason``).

    Read from the run's new-data summary (``skipped``, written by
    :func:`genre_utils.experiments.evaluate_run`); empty for a run without a new-data folder or one
    evaluated before the skipped files were recorded.
    """
    return pd.DataFrame.from_records(results.newdata_summary.get("skipped") or [], columns=["file", "reason"])


def p_phrase(p) -> str:
    """A p-value as a phrase for prose: ``'p = 0.84'``, ``'p = 0.04'``, ``'p = 0.003'``, ``'p > 0.99'`` (an
    exact test's p of 1 or nearly), ``'p < 0.001'``; ``'p n/a'`` without one. Never a bare ``'1'``."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "p n/a"
    p = float(p)
    if p > 0.99:
        return "p > 0.99"
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.2f}" if p >= 0.01 else f"p = {p:.3f}"


def seconds_or_minutes(seconds) -> str:
    """A training time for a table: ``'2.4 s'`` under a minute, else minutes with one decimal (``'2.0 min'``)."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "n/a"
    seconds = float(seconds)
    return f"{seconds:.1f} s" if seconds < 60 else f"{seconds / 60:.1f} min"


def paper_web_accuracies() -> tuple[Accuracy, Accuracy]:
    """The paper's three web tests pooled: the model on 30 songs, the two listeners on 60 judgements.

    The counts follow from the percentages as given: 60 % of 10 songs is 6, and 65 % for two listeners on
    10 songs is 13 of 20 judgements.
    """
    model = sum(round(t["model"] * t["songs"]) for t in paper.WEB_TESTS)
    listeners = sum(round(t["listeners"] * 2 * t["songs"]) for t in paper.WEB_TESTS)
    songs = sum(t["songs"] for t in paper.WEB_TESTS)
    return Accuracy(model, songs), Accuracy(listeners, 2 * songs)

def paper_pop_predictions() -> dict:
    """The paper's pop counts behind its 'false positive rate', inferred from its numbers.

    31.2 % of its 16 pop pieces were right (5); reading its 64.3 % 'false positive rate' as one minus
    precision, 5 right are 35.7 % of the pieces predicted as pop, so 14 were predicted as pop and 9 of them
    wrongly. The textbook false positive rate divides those 9 by the 144 pieces of the other nine genres.

    Returns
    -------
    dict
        ``right``, ``predicted``, ``false`` (pieces) and ``textbook_fpr`` (fraction); empty when the pop
        accuracy does not give one whole number of pieces.
    """
    n = int(paper.reported("n_tracks_per_genre"))
    pop = paper_accuracy(paper.reported("pop_accuracy"), n)
    if pop is None:
        return {}
    predicted = round(pop.k / (1 - paper.reported("pop_false_positive_rate")))
    false = predicted - pop.k
    return {"right": pop.k, "predicted": predicted, "false": false,
            "textbook_fpr": false / (n * (len(GENRES) - 1))}


def source_block(obj) -> str:
    """The package source of a function or class as a Markdown code block, for a page that shows how the
    package does something (the code is read from the installed package, so the page shows what ran)."""
    return "```python\n" + inspect.getsource(obj).rstrip() + "\n```"

def related_work_table() -> pd.DataFrame:
    """:func:`genre_utils.paper.related_work` for display: the accuracy as text, with n and a 95 % interval for
    the paper's row.

    The cited works' accuracies are shown as published (their test sizes are not in the table); the paper's
    own row gets its 30-s test, :data:`~genre_utils.paper.PAPER_COUNTS` ``track_accuracy`` pieces, and the
    Wilson interval of the one count that rounds to its percentage (:func:`paper_accuracy`).
    """
    table = paper.related_work()
    cells = []
    for work, value in zip(table["work"].astype(str), table["accuracy (%)"].astype(float)):
        if work.startswith("Hsiang"):
            n = paper.PAPER_COUNTS["track_accuracy"]
            cells.append(acc_cell(paper_accuracy(value / 100, n), value / 100, n))
        else:
            cells.append(f"{value:.1f} %")
    return table.drop(columns=["accuracy (%)"]).assign(accuracy=cells).set_index("work")


def headline_rows(results: RunResults, baseline: RunResults | None = None, include=None,
                  paper_recipe: dict | None = None) -> list[tuple]:
    """The paper's headline numbers beside a run's, as rows for :func:`compare_table`.

    Every accuracy is a ``'acc'`` row: the paper's value with the number of items it was measured on (from
    :data:`~genre_utils.paper.PAPER_COUNTS`, when the paper says) and this build's :class:`~genre_utils.stats.Accuracy`
    (``k`` of ``n`` test items, 95 % Wilson interval), counted from the run's per-item tables.

    Parameters
    ----------
    results : RunResults
        The main run's results (:func:`genre_utils.results.load_results`).
    baseline : RunResults, optional
        The baseline's results; adds its training and validation accuracy at its best epoch.
    paper_recipe : dict, optional
        A measured paper-recipe record (:func:`genre_utils.bench.paper_recipe.paper_recipe_record`); when it
        tested its best checkpoint, adds that checkpoint's 30-s accuracy as ``paper_recipe_track_accuracy``
        beside the paper's, the epochs it trained in the label.
    include : iterable of str, optional
        Keys of the rows to return, in this order (default: all that apply): ``segment_accuracy``,
        ``track_accuracy``, ``paper_recipe_track_accuracy``, ``classical_accuracy``, ``metal_accuracy``,
        ``pop_accuracy``, ``pop_as_rock``, ``pop_false_positive_rate``, ``baseline_train_accuracy``,
        ``baseline_valid_accuracy``, ``newdata_accuracy``, ``human_accuracy``, ``n_clips``,
        ``n_train_windows``, ``n_test_segments``.

    Returns
    -------
    rows : list of (quantity, paper, this build, kind)
    """
    def paper_acc(key):
        return (paper.reported(key), paper.PAPER_COUNTS.get(key))

    rows: dict[str, tuple] = {}
    rows["segment_accuracy"] = ("CRNN 5-s segment accuracy", paper_acc("segment_accuracy"),
                                results.accuracy("segment"), "acc")
    rows["track_accuracy"] = ("CRNN 30-s accuracy (majority vote)", paper_acc("track_accuracy"),
                              results.accuracy("track"), "acc")
    evaluation = (paper_recipe or {}).get("evaluation")
    if evaluation:
        epochs = (paper_recipe.get("step_log") or [{}])[-1].get("epoch")
        trained = f"{epochs:.1f} of {paper.reported('epochs'):.0f} epochs" if epochs else "part of its epochs"
        rows["paper_recipe_track_accuracy"] = (
            f"the paper's recipe at the paper's size, 30-s accuracy (a measured run of {trained}, best epoch "
            f"{evaluation['best_epoch']}, on its own test tracks)", paper_acc("track_accuracy"),
            Accuracy(evaluation["test_tracks"]["k"], evaluation["test_tracks"]["n"]), "acc")
    per = results.genre_accuracies("track")
    for g in ("classical", "metal", "pop"):
        rows[f"{g}_accuracy"] = (f"{g} accuracy (30-s)", paper_acc(f"{g}_accuracy"), per[g], "acc")
    counts = results.confusion("track")
    n_pop = int(counts.loc["pop"].sum())
    rows["pop_as_rock"] = ("pop pieces taken for rock", paper_acc("pop_as_rock"),
                           Accuracy(int(counts.loc["pop", "rock"]), n_pop), "acc")
    genre = results.per_genre("track")
    # n = pieces predicted as pop: the paper's follows from its numbers (5 pop pieces right of 16, and
    # 64.3 % = 9 / 14 of those predicted as pop wrong), this build's from its per-genre table
    paper_pred = paper_pop_predictions().get("predicted")
    n_pred, right = int(genre.loc["pop", "n_predicted"]), int(genre.loc["pop", "correct"])
    rows["pop_false_positive_rate"] = ("pop false discovery rate (the paper's 'false positive rate'; n = pieces "
                                       "predicted as pop, the paper's inferred)",
                                       (paper.reported("pop_false_positive_rate"), paper_pred),
                                       Accuracy(n_pred - right, n_pred), "acc")
    if baseline is not None:
        for key, split, label in (("baseline_train_accuracy", "train", "training"),
                                  ("baseline_valid_accuracy", "valid", "validation")):
            rows[key] = (f"baseline {label} accuracy (5-s windows)", paper_acc(key),
                         baseline.best_epoch_accuracy(split), "acc")
    if results.has_newdata:
        rows["newdata_accuracy"] = ("accuracy on new data (songs)", paper_acc("newdata_accuracy"),
                                    results.newdata_accuracy(), "acc")
    rows["human_accuracy"] = ("human listeners on new data (two group members)", paper_acc("human_accuracy"),
                              None, "acc")
    rows["n_clips"] = ("clips used (30-s in the paper)", paper.reported("n_clips"), results.n_clips(), "num")
    rows["n_train_windows"] = ("training windows", paper.reported("n_train_windows"), results.n_windows("train"),
                               "num")
    rows["n_test_segments"] = ("test segments", paper.reported("n_test_segments"),
                               results.headline.n_test_segments, "num")
    keys = list(include) if include is not None else list(rows)
    missing = [k for k in keys if k not in rows and not k.startswith(("baseline_", "newdata", "paper_recipe"))]
    if missing:
        raise KeyError(f"unknown headline rows {missing}")
    return [rows[k] for k in keys if k in rows]


# ------------------------------------------------------------------------------------------ ablations
def ablation_results(ctx, runs=None) -> list[dict]:
    """Every run of the book (default: those the profile trains, :func:`genre_utils.context.profile_runs`) with its
    accuracies.

    A run of :data:`genre_utils.context.SEEDED_RUNS` is read under each of its training seeds
    (``ctx.seed_runs``); the segment and new-data accuracies are its first seed's (the profile's).

    Returns
    -------
    list of dict
        ``run`` (the key ``(model, kind, split)``), ``label``, ``segment``, ``track`` and ``newdata``
        (:class:`~genre_utils.stats.Accuracy`, the profile's seed), ``seeds``
        (:class:`~genre_utils.stats.SeedAccuracy` of the whole tracks over every seed the run has),
        ``train_minutes`` (the profile's seed), ``results`` (the profile's seed) and ``seed_results`` (all).
    """
    out = []
    for model, kind, split in (runs if runs is not None else profile_runs(ctx.profile)):
        seed_results = ctx.seed_runs(model, kind, split)
        res = seed_results[0]
        out.append({"run": (model, kind, split), "label": run_label(model, kind, split),
                    "segment": res.accuracy("segment"), "track": res.accuracy("track"),
                    "newdata": res.newdata_accuracy(), "seeds": seeds_accuracy(seed_results),
                    "train_minutes": res.headline.train_seconds / 60, "results": res,
                    "seed_results": seed_results})
    return out


def ablation_table(ctx, runs=None, numeric: bool = False) -> pd.DataFrame:
    """The discussion's ablation table: one row per run of the book, each accuracy with n and its interval.

    Parameters
    ----------
    ctx : genre_utils.context.Context
    runs : iterable of (model, kind, split), optional
        Default: every run the profile trains (:func:`genre_utils.context.profile_runs`; a run added to
        :data:`genre_utils.context.BOOK_RUNS` appears here).
    numeric : bool
        Return fractions (columns ``segment_accuracy``, ``track_accuracy`` (mean over seeds),
        ``track_low``/``track_high`` (its interval), ``seed_low``/``seed_high`` (the seeds' range),
        ``newdata_accuracy``) for a plot instead of the formatted cells.

    Returns
    -------
    table : DataFrame
        Index ``run`` (the label of :func:`genre_utils.context.run_label`); columns "seeds", "whole tracks
        (vote)" (mean over the seeds with the test set's interval and the seeds' range:
        :meth:`~genre_utils.stats.SeedAccuracy.short`), "5-s segments" and "new data" (the profile's seed,
        ``'87.5 % [73.9, 94.5], n = 40'``) and "training time" (one seed; ``'2.4 s'`` under a minute, else
        ``'2.0 min'``).
    """
    rows = []
    for r in ablation_results(ctx, runs):
        seeds = r["seeds"]
        if numeric:
            rows.append({"run": r["label"], "segment_accuracy": r["segment"].value, "track_accuracy": seeds.value,
                         "track_low": seeds.low, "track_high": seeds.high, "seed_low": seeds.spread[0],
                         "seed_high": seeds.spread[1], "seeds": seeds.n_seeds,
                         "newdata_accuracy": r["newdata"].value})
        else:
            rows.append({"run": r["label"], "seeds": seeds.n_seeds, "whole tracks (vote)": seeds.short(),
                         "5-s segments (first seed)": r["segment"].short(),
                         "new data (first seed)": r["newdata"].short(),
                         "training time (one seed)": seconds_or_minutes(60 * r["train_minutes"])})
    return pd.DataFrame(rows).set_index("run")
