"""Sentences that weigh one result against another, chosen by the numbers: a margin between two models and how
to read it, a build against the paper, the new data against the test tracks, the listening tests. Split from
:mod:`genre_utils.narrative.results` (which keeps the sentences about one run's confusions and genres)."""

from __future__ import annotations

import pandas as pd

from ..stats import Accuracy, overlaps, wilson_interval
from .common import counted, join_names, percent

__all__ = ["margin_sentence", "versus_paper_sentence", "web_tests_sentence", "newdata_sentence", "protocol_sentence",
           "margin_reading_sentence", "seed_margin_sentence", "seeds_note", "artist_gap_sentence",
           "paper_size_probe_sentence", "probe_gap_reading"]


def margin_sentence(comparison: dict, a: str, b: str, unit: str = "test tracks", small: float = 0.02) -> str:
    """A paired comparison of two models, in words that follow the sign and the interval.

    A margin whose interval excludes zero is called "small" and "only just beyond the test set's noise" when
    the interval's nearer end lies within ``small`` (a fraction; 2 points) of zero. Such a margin also says
    that it compares one training run of each model: the interval covers the test items, not the training seed.

    Parameters
    ----------
    comparison : dict
        :func:`genre_utils.stats.paired_comparison` output (``difference``, ``low``, ``high``,
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
    once = (" This compares one training run of each model (one seed each); how far another seed would move the "
            "margin is not measured here.")
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
    lo, hi = (lo, hi) if d > 0 else (-hi, -lo)   # the interval of the leader's lead, so its sign matches
    return (f"{lead} is ahead of {trail}{on} by {abs(100 * d):.1f} points, but the {level} interval "
            f"({100 * lo:+.1f} to {100 * hi:+.1f}) includes zero: within the noise of this test set.")


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


def margin_reading_sentence(comparison: dict, large: float = 0.10) -> str:
    """How to read the CRNN's margin over a regression on track means, chosen by its sign and size.

    Parameters
    ----------
    comparison : dict
        :func:`genre_utils.stats.paired_comparison` output (``difference``, ``low``, ``high``), the
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


def seed_margin_sentence(comparison: dict, a: str, b: str) -> str:
    """Model A against model B over their training seeds (:func:`genre_utils.stats.seed_comparison`), in words
    chosen by the two tests: beyond the test interval and the seed spread, beyond the interval only, or within
    the noise; a tie at the shown precision is called one. The interval is given for the leader's lead (B
    minus A when B is ahead), so its sign matches the sentence.

    Parameters
    ----------
    comparison : dict
        ``difference``, ``low``, ``high``, ``level``, ``n_tracks``, ``seeds_a``, ``seeds_b``, ``spread_a``,
        ``spread_b``, ``beyond_interval``, ``beyond_seeds``.
    a, b : str
        Names of the two models (A minus B), e.g. "the CRNN with the GRU over time", "the main CRNN".
    """
    d, lo, hi = (100 * comparison[k] for k in ("difference", "low", "high"))
    level = f"{100 * comparison.get('level', 0.95):.0f} %"
    n_a, n_b = comparison["seeds_a"], comparison["seeds_b"]
    seeds = (f"{n_a} seeds each" if n_a == n_b and n_a > 1 else "one seed each" if n_a == n_b
             else f"{counted(n_a, 'seed')} of {a} and {n_b} of {b}")
    spread = max(comparison["spread_a"], comparison["spread_b"]) * 100
    if d < 0:   # the interval of the leader's lead: B minus A
        lo, hi = -hi, -lo
    where = (f"({level} interval {lo:+.1f} to {hi:+.1f} points over the {comparison['n_tracks']:,} test tracks; "
             f"the seeds of either model spread over up to {spread:.1f} points)")
    if round(d, 1) == 0:
        return f"Over {seeds}, {a} and {b} score the same on average {where}."
    lead, trail = (a, b) if d > 0 else (b, a)
    head = f"Over {seeds}, {lead} is ahead of {trail} by {abs(d):.1f} points on average {where}"
    if comparison["beyond_interval"] and comparison["beyond_seeds"]:
        return head + ": a difference beyond both the test set's noise and the spread between seeds."
    if comparison["beyond_interval"]:
        return head + (": beyond the test set's interval, but no larger than the spread between seeds, so "
                       "another seed could close it.")
    return head + ": within the noise of this test set."


def probe_gap_reading(comparisons: dict, probe: str) -> str:
    """What the models' margins over one bag-of-frames probe say together, chosen by each margin's two tests
    (:func:`genre_utils.stats.seed_comparison`): ahead beyond the noise, behind beyond it, or not told apart.

    Parameters
    ----------
    comparisons : dict
        ``{model name: comparison}``, each the model minus the probe over the model's seeds.
    probe : str
        The probe's name in the sentence (:data:`genre_utils.probe.SUMMARY_NAMES`).
    """
    if not comparisons:
        return "No model was compared with the bag of frames in this build."
    ahead = [m for m, c in comparisons.items() if c["beyond_noise"] and c["difference"] > 0]
    behind = [m for m, c in comparisons.items() if c["beyond_noise"] and c["difference"] < 0]
    level = [m for m in comparisons if m not in ahead and m not in behind]
    parts = []
    if ahead:
        parts.append(f"{join_names(ahead)} {'is' if len(ahead) == 1 else 'are'} ahead of {probe} beyond the noise")
    if behind:
        parts.append(f"{join_names(behind)} {'is' if len(behind) == 1 else 'are'} behind it beyond the noise"
                     if ahead else f"{join_names(behind)} {'is' if len(behind) == 1 else 'are'} behind {probe} "
                     "beyond the noise")
    if level:
        whom = "it" if parts else probe
        parts.append(f"the test set and the seeds cannot tell {join_names(level)} from {whom}")
    head = "; ".join(parts)
    head = head[0].upper() + head[1:] + ". "
    if ahead:
        return head + (f"So on this build {join_names(ahead)} {'turns' if len(ahead) == 1 else 'turn'} something "
                       "that this regression does not use into accuracy (the order of events, or a non-linear use of "
                       "the same texture).")
    return head + ("So on this build no model shows, beyond the noise, that it gains accuracy from anything this "
                   "regression does not use, the order of events in the window included.")


def seeds_note(n_seeds: dict) -> str:
    """Which runs of a table were trained with several seeds, from ``{label: number of seeds}``; says so when all
    have one, or all have the same number. A label with a comma in it is quoted, so the list reads as a list."""
    several = {k: v for k, v in n_seeds.items() if v > 1}
    counts = sorted(set(n_seeds.values()))
    if not several:
        return ("Every row is a single training run with one seed: the interval covers the test set only, not "
                "what another seed would give.")
    if len(counts) == 1:
        return (f"Every row is the mean of {counts[0]} training runs with different seeds on the same data; "
                "the interval covers the test set, the range the seeds.")
    names = join_names([f"“{k}”" if "," in k else k for k in n_seeds if k in several])   # labels with commas
    n = sorted(set(several.values()))
    times = f"{n[0]}" if len(n) == 1 else "several"
    return (f"{names[0].upper() + names[1:]} {'is' if len(several) == 1 else 'are'} trained with {times} seeds "
            f"on the same data: {'its' if len(several) == 1 else 'their'} cell gives the mean over the seeds, the "
            "test set's interval and the seeds' range. The other rows are one seed each, so for them the interval "
            "covers the test set only, not what another seed would give.")



def artist_gap_sentence(gap: dict | None) -> str:
    """The random split against the artist split on their shared test tracks
    (:func:`genre_utils.results.artist_gap`), in words chosen by the sign, the interval and the seeds' spread."""
    if gap is None:
        return ("The random and the artist split test no track in common here, so their gap cannot be measured "
                "on the same tracks.")
    d, lo, hi = 100 * gap["difference"], 100 * gap["low"], 100 * gap["high"]
    level = f"{100 * gap.get('level', 0.95):.0f} %"
    seeds = (f"{counted(gap['seeds_random'], 'seed')} of the random split, "
             f"{counted(gap['seeds_artist'], 'seed')} of the artist split")
    text = (f"Both splits test the same {counted(gap['n_tracks'], 'track')} by {counted(gap['n_clusters'], 'artist')}; "
            f"under the random split, {gap['n_seen']:,} of them had another track by their artist in training. "
            f"On them the random split's model is right on {percent(gap['accuracy_random'])}, the artist split's on "
            f"{percent(gap['accuracy_artist'])} ({seeds}): a gap of {d:+.1f} points ({level} interval, "
            f"resampling artists, {lo:+.1f} to {hi:+.1f}).")
    spread = f"{100 * gap['spread']:.1f}"
    if lo > 0 and gap["beyond_noise"]:
        return text + (" The gap is beyond both the test set's noise and the seeds' spread: on these tracks, part of "
                       "what the random split scores is recognising the artist, the effect that makes "
                       "artist-filtered accuracies on real data lower.")
    if hi < 0 and gap["beyond_noise"]:
        return text + (" The artist split does better, beyond both the test set's noise and the seeds' spread: "
                       "training on an artist's other tracks did not help here.")
    if lo > 0 or hi < 0:
        return text + (f" The interval excludes zero, but the gap is no larger than the seeds' spread ({spread} "
                       "points): another training run could close it.")
    return text + (" The interval includes zero: on these tracks the test cannot show an artist effect, nor rule "
                   "out one of the interval's size.")


def paper_size_probe_sentence(record: dict | None, source: str = "") -> str:
    """The bag-of-frames margin at the paper's size, from a measured paper-recipe record (the CRNN trained with
    the paper's recipe, :func:`genre_utils.bench.paper_recipe.evaluate_checkpoint`), in words chosen by it.

    Parameters
    ----------
    record : dict or None
        :func:`genre_utils.bench.paper_recipe.paper_recipe_record`'s record.
    source : str
        Where the record comes from, as that function says it.
    """
    ev = (record or {}).get("evaluation") or {}
    probes = ev.get("bag_of_frames") or {}
    if "dynamics" not in probes:
        return ("No measured run at the paper's size holds this comparison yet: `make data PROFILE=paper` and "
                "`make bench BENCH_ARGS=\"--skip-micro --paper-recipe STORE\"` measure it.")
    epochs = (record.get("step_log") or [{}])[-1].get("epoch")
    trained = f"{epochs:.1f} of its {record['train_config']['epochs']} epochs" if epochs else "part of its epochs"
    windows = record.get("store", {}).get("n_windows", {}).get("train")
    size = f"{windows:,} training windows" if windows else "the paper's size"
    crnn = Accuracy(ev["test_tracks"]["k"], ev["test_tracks"]["n"])
    rows = []
    for summary, what in (("mean", "track means"), ("dynamics", "means, spread and change")):
        if summary in probes:
            rows.append(f"{'the one' if rows else 'the regression'} on {what} gets {probes[summary]['k']}")
    where = f" ({source}, commit {record.get('commit') or 'unknown'})" if source else ""
    return (f"At the paper's size ({size}), the CRNN trained with the paper's recipe for {trained} gets {crnn.k} of "
            f"{crnn.n} test tracks right; of the same tracks, {join_names(rows)}"
            f"{where}. "
            + margin_sentence(probes["dynamics"]["paired"], "the CRNN", "the regression on means, spread and change"))


def published_bag_sentence(bag: float, cnn: float, n_test: int) -> str:
    """What published single runs on the real GTZAN say about a bag of frames against a CNN trained from
    scratch, in words chosen by the numbers.

    Parameters
    ----------
    bag, cnn : float
        Accuracies (fractions) of an MFCC-statistics classifier and of a CNN trained from scratch, both on the
        fault-filtered split's ``n_test`` test clips (different studies, one run each).
    n_test : int

    Returns
    -------
    str
        The two accuracies and their gap: "level" when the gap lies inside the wider of the two 95 % Wilson
        half-widths (what one run on ``n_test`` clips can resolve), otherwise which one is ahead.
    """
    half = max((hi - lo) / 2 for lo, hi in (wilson_interval(round(a * n_test), n_test) for a in (bag, cnn)))
    gap = cnn - bag
    head = (f"On the real GTZAN, with the artist- and fault-filtered split ({n_test} test clips), published single "
            f"runs put a support-vector machine on MFCC statistics, a bag of frames, at {percent(bag)} and a 2-D CNN "
            f"trained from scratch on mel spectrograms at {percent(cnn)}")
    if abs(gap) <= half:
        return (f"{head}: {abs(gap) * 100:.1f} points apart, inside the {half * 100:.0f}-point half-width of "
                f"either accuracy's interval. With a few hundred training clips, a bag of frames that keeps up "
                f"with a network trained from scratch is what real music shows as well, not a quirk of a "
                f"synthetic corpus (two studies, one run each: a loose comparison).")
    ahead = "the CNN" if gap > 0 else "the bag of frames"
    return (f"{head}: {ahead} is {abs(gap) * 100:.1f} points ahead, beyond the {half * 100:.0f}-point half-width "
            f"of either accuracy's interval (two studies, one run each: a loose comparison).")
