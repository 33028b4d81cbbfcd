"""A verdict for each claim of the paper: its number, this build's evidence with n and interval, and whether the
evidence supports the claim, does not, or cannot test it here (and why).

The claims are the paper's own (sections 6-10); :data:`CLAIMS` words them. Each verdict is decided by the
numbers with a rule stated in its row, never by hand:

* **supported** - the build's evidence points the claim's way beyond the test set's noise (an interval that
  excludes the opposite);
* **not supported** - it does not (the opposite holds, or the difference is within the noise, which the row
  says);
* **cannot be tested here** - the build has no such measurement (no listener answers), or, on the synthetic
  corpus, the claim is built into the corpus's style sheet (:data:`DESIGNED_FINDINGS`, from the corpus card):
  a result the corpus was built to produce is not a finding.
"""

from __future__ import annotations

import pandas as pd

from . import paper
from .corpus_card import designed_findings
from .narrative import join_names
from .probe import compare_runs
from .report import pct
from .results import RunResults, compare_seeds
from .stats import Accuracy, group_bootstrap_difference, unpaired_comparison

__all__ = ["CLAIMS", "DESIGNED_FINDINGS", "SUPPORTED", "NOT_SUPPORTED", "UNTESTABLE", "SAME_ACCURACY",
           "verdict_rows", "verdict_table", "verdict_sentence"]

SUPPORTED, NOT_SUPPORTED, UNTESTABLE = "supported", "not supported", "cannot be tested here"

#: "About the same accuracy": a difference whose whole interval lies within this many points (as a fraction).
SAME_ACCURACY = 0.10

#: The paper's claims, in its order: key -> (claim in our words, where the paper makes it).
CLAIMS: dict[str, tuple[str, str]] = {
    "crnn_beats_baseline": ("The CRNN is more accurate than the fully connected baseline", "6, 7"),
    "vote_helps": ("Voting over a 30-s piece's six segments is more accurate than one 5-s segment", "7, 10"),
    "classical_metal_best": ("Classical and metal are the genres recognised best", "7, 10"),
    "pop_hardest": ("Pop is the genre recognised worst", "7, 8, 10"),
    "pop_attracts": ("Many pieces called pop are not pop (its 'false positive rate')", "8"),
    "jazz_blues_apart": ("Jazz and blues are told apart, although they share much", "8, 10"),
    "new_music": ("On music from outside the data set the model keeps about the same accuracy", "9"),
    "human_level": ("The model classifies about as well as people do", "9, 10"),
}


#: Claims that the synthetic corpus's style sheet produces by construction (claim key -> why), read off the
#: sheet by :func:`genre_utils.corpus_card.designed_findings`: on that corpus such a result is not a finding,
#: and the verdict says so instead of comparing it with the paper.
DESIGNED_FINDINGS: dict[str, str] = designed_findings()


def _row(key, paper_value, evidence, verdict, reason) -> dict:
    claim, section = CLAIMS[key]
    return {"key": key, "claim": claim, "section": section, "paper": paper_value, "this build": evidence,
            "verdict": verdict, "reason": reason}


def _judged(key, paper_value, evidence, holds: bool, because: str, otherwise: str, synthetic: bool) -> dict:
    """The row of a claim the corpus may have been written to produce: *cannot be tested here* when it was
    (on the synthetic corpus, :data:`DESIGNED_FINDINGS`), else *supported* or *not supported* by ``holds``."""
    designed = DESIGNED_FINDINGS.get(key) if synthetic else None
    if designed:
        return _row(key, paper_value, evidence, UNTESTABLE, f"designed into the synthetic corpus: {designed}")
    return _row(key, paper_value, evidence, SUPPORTED if holds else NOT_SUPPORTED, because if holds else otherwise)


def _web_percents(key: str) -> str:
    """The paper's three web tests for ``'model'`` or ``'listeners'``: ``'60 %, 70 %, 60 %'``."""
    return ", ".join(pct(t[key], 0) for t in paper.WEB_TESTS)


def _beyond(lo: float, hi: float) -> int:
    """+1 when an interval of a difference lies above 0, -1 below, 0 when it holds 0."""
    return 1 if lo > 0 else (-1 if hi < 0 else 0)


def _others(accs: dict[str, Accuracy], exclude) -> Accuracy:
    rest = [a for g, a in accs.items() if g not in exclude]
    return Accuracy(sum(a.k for a in rest), sum(a.n for a in rest))


def verdict_rows(main: RunResults, baseline: RunResults | None = None, *, synthetic: bool = True,
                 main_seeds=None, baseline_seeds=None) -> list[dict]:
    """One row per claim of :data:`CLAIMS`.

    Parameters
    ----------
    main : RunResults
        The main CRNN run's results (track split, the profile's seed).
    baseline : RunResults, optional
        The baseline's results on the same test tracks.
    synthetic : bool
        The build's data is the project's synthetic corpus: claims written into its style sheets are then
        not tested.
    main_seeds, baseline_seeds : list of RunResults, optional
        The two runs under every training seed they have (``ctx.seed_runs``). When given, the CRNN and the
        baseline are compared over their seeds (:func:`genre_utils.stats.seed_comparison`): a difference is
        one only when it is beyond the test set's interval *and* larger than the spread between seeds.

    Returns
    -------
    rows : list of dict
        ``key``, ``claim``, ``section``, ``paper`` (its number, as text), ``this build`` (the evidence with n
        and interval), ``verdict`` (:data:`SUPPORTED`, :data:`NOT_SUPPORTED` or :data:`UNTESTABLE`),
        ``reason`` (the rule that decided it, in words).
    """
    rows = []
    track, seg = main.accuracy("track"), main.accuracy("segment")

    # 1. CRNN against the baseline, paired on the same test tracks (and over their seeds, when there are some)
    paper_base = (f"baseline {pct(paper.reported('baseline_valid_accuracy'), 0)} validation, CRNN "
                  f"{pct(paper.reported('track_accuracy'), 0)} (30-s)")
    if baseline is None:
        rows.append(_row("crnn_beats_baseline", f"baseline: {pct(paper.reported('baseline_train_accuracy'), 0)} "
                         f"training, {pct(paper.reported('baseline_valid_accuracy'), 0)} validation accuracy",
                         "no baseline run", UNTESTABLE, "the build has no baseline run to compare"))
    elif main_seeds and baseline_seeds:
        rows.append(_seeded_baseline_row(paper_base, main_seeds, baseline_seeds))
    else:
        cmp, paired = compare_runs(main, baseline)
        way = _beyond(cmp["low"], cmp["high"])
        evidence = (f"CRNN {track.short()} vs baseline {baseline.accuracy('track').short()}; "
                    f"difference {100 * cmp['difference']:+.1f} points "
                    f"[{100 * cmp['low']:+.1f}, {100 * cmp['high']:+.1f}]{' (paired)' if paired else ''}")
        rows.append(_row("crnn_beats_baseline", paper_base, evidence,
                         SUPPORTED if way > 0 else NOT_SUPPORTED,
                         "the interval of the difference lies above zero" if way > 0 else
                         ("the baseline is ahead beyond the noise" if way < 0 else
                          "the interval of the difference includes zero: within the noise")))

    # 2. the 30-s vote against single segments, resampling tracks (each with all its segments)
    tracks, segs = main.tracks, main.segments
    if len(tracks) and len(segs):
        lo, hi = group_bootstrap_difference(tracks["correct"].astype(bool).to_numpy(), tracks["track_id"].to_numpy(),
                                            segs["correct"].astype(bool).to_numpy(), segs["track_id"].to_numpy())
        way = _beyond(lo, hi)
        evidence = (f"30-s {track.short()} vs 5-s {seg.short()}; difference {100 * (track.value - seg.value):+.1f} "
                    f"points [{100 * lo:+.1f}, {100 * hi:+.1f}], resampling tracks")
        rows.append(_row("vote_helps", f"{pct(paper.reported('segment_accuracy'))} (5-s) -> "
                         f"{pct(paper.reported('track_accuracy'), 0)} (30-s)", evidence,
                         SUPPORTED if way > 0 else NOT_SUPPORTED,
                         "the vote's gain lies above zero" if way > 0 else
                         ("single segments are ahead beyond the noise" if way < 0 else
                          "the gain's interval includes zero: within the noise")))

    accs = main.genre_accuracies("track")
    counts = main.confusion("track")

    # 3. classical and metal best: each above the pooled other eight genres, beyond the noise
    rest = _others(accs, ("classical", "metal"))
    best = {g: accs[g] for g in ("classical", "metal")}
    above = [g for g, a in best.items() if a.n and a.interval[0] > rest.value]
    evidence = f"classical {best['classical'].short()}, metal {best['metal'].short()}; other genres {rest.short()}"
    rows.append(_judged("classical_metal_best", pct(paper.reported("classical_accuracy")) + " each", evidence,
                        len(above) == 2, "both intervals lie above the other genres' accuracy",
                        f"{join_names([g for g in best if g not in above])} not clearly above the other genres",
                        synthetic))

    # 4. pop worst: below the pooled other nine, beyond the noise
    rest = _others(accs, ("pop",))
    pop = accs["pop"]
    below = pop.n and pop.interval[1] < rest.value
    rows.append(_judged("pop_hardest", pct(paper.reported("pop_accuracy")),
                        f"pop {pop.short()}; other genres {rest.short()}", bool(below),
                        "pop's interval lies below the other genres' accuracy",
                        "pop is not clearly below the other genres", synthetic))

    # 5. pieces called pop that are not pop: pop's false discovery rate against the other genres'
    frame = main.per_genre("track")
    n_pred, right = int(frame.loc["pop", "n_predicted"]), int(frame.loc["pop", "correct"])
    fdr = Accuracy(n_pred - right, n_pred)
    other_pred = int(frame["n_predicted"].sum()) - n_pred
    other_wrong = other_pred - (int(frame["correct"].sum()) - right)
    other_fdr = Accuracy(other_wrong, other_pred)
    higher = fdr.n and fdr.interval[0] > other_fdr.value
    rows.append(_judged("pop_attracts", f"{pct(paper.reported('pop_false_positive_rate'))} of pieces called pop",
                        (f"{fdr.short()} of pieces called pop are not pop; other genres {other_fdr.short()}" if fdr.n
                         else f"no piece was called pop; other genres' rate {other_fdr.short()}"), bool(higher),
                        "its interval lies above the other genres' rate",
                        "not clearly above the other genres' rate" if fdr.n else "no piece was called pop", synthetic))

    # 6. jazz and blues apart: neither is the other's most frequent confusion
    mixed = int(counts.loc["jazz", "blues"] + counts.loc["blues", "jazz"])
    n_jb = int(counts.loc["jazz"].sum() + counts.loc["blues"].sum())
    top_jazz = _top_confusion(counts, "jazz")
    top_blues = _top_confusion(counts, "blues")
    apart = "blues" not in top_jazz and "jazz" not in top_blues
    rows.append(_judged("jazz_blues_apart", "rarely confused with each other (confusion matrix)",
                        f"{mixed} of {n_jb} jazz and blues tracks taken for the other; most frequent confusion of "
                        f"jazz: {join_names(top_jazz) or 'none'}, of blues: {join_names(top_blues) or 'none'}", apart,
                        "neither is the other's most frequent confusion", "one is the other's most frequent confusion",
                        synthetic))

    # 7. new music: the new-data accuracy against the test tracks', unpaired (other items)
    web = f"{_web_percents('model')} (three tests of {paper.WEB_TESTS[0]['songs']} songs)"
    new = main.newdata_accuracy()
    if new.n == 0:
        rows.append(_row("new_music", web, "no new-data files",
                         UNTESTABLE, "the build has no new-data folder"))
    else:
        cmp = unpaired_comparison(new, track)
        lo, hi = cmp["low"], cmp["high"]
        if hi < 0:
            verdict, reason = NOT_SUPPORTED, "the new data's accuracy is lower beyond the noise"
        elif -SAME_ACCURACY <= lo and hi <= SAME_ACCURACY:
            verdict, reason = SUPPORTED, f"the difference's interval lies within ±{100 * SAME_ACCURACY:.0f} points"
        elif lo > 0:
            verdict, reason = SUPPORTED, "the new data's accuracy is higher beyond the noise: nothing is lost"
        else:
            verdict, reason = UNTESTABLE, (f"too few files to tell: the difference's interval is wider than "
                                           f"±{100 * SAME_ACCURACY:.0f} points and includes no drop beyond the "
                                           "noise")
        rows.append(_row("new_music", f"{web} vs {pct(paper.reported('track_accuracy'), 0)} on its test set",
                         f"new data {new.short()} vs test tracks {track.short()}; difference "
                         f"{100 * cmp['difference']:+.1f} points [{100 * lo:+.1f}, {100 * hi:+.1f}]", verdict, reason))

    # 8. human level: no listener answers are recorded in a build
    rows.append(_row("human_level", f"listeners {_web_percents('listeners')} vs model {_web_percents('model')}",
                     "no listener answers recorded (the listening page does not store them)", UNTESTABLE,
                     "needs people's answers on the same clips"))
    return rows


def _seeded_baseline_row(paper_value: str, main_seeds, baseline_seeds) -> dict:
    """Claim 1 over the seeds: the mean-over-seeds difference, its paired interval over the tracks and the seeds'
    spread, decided by the two tests of :func:`genre_utils.stats.seed_comparison`
    (:func:`~genre_utils.results.compare_seeds`)."""
    cmp = compare_seeds(main_seeds, baseline_seeds)
    d, lo, hi = (100 * cmp[k] for k in ("difference", "low", "high"))
    evidence = (f"CRNN {cmp['accuracy_a'].short()} vs baseline {cmp['accuracy_b'].short()}; difference {d:+.1f} "
                f"points [{lo:+.1f}, {hi:+.1f}] (paired over the tracks); seed spread "
                f"{100 * cmp['spread_a']:.1f} and {100 * cmp['spread_b']:.1f} points")
    if cmp["beyond_noise"]:
        return _row("crnn_beats_baseline", paper_value, evidence, SUPPORTED if d > 0 else NOT_SUPPORTED,
                    "the difference's interval excludes zero and the gap exceeds the spread between seeds"
                    if d > 0 else "the baseline is ahead beyond the test interval and the seed spread")
    reason = ("the interval of the difference includes zero: within the test set's noise" if not cmp["beyond_interval"]
              else "the gap is no larger than the spread between seeds: another seed could close it")
    return _row("crnn_beats_baseline", paper_value, evidence, NOT_SUPPORTED, reason)


def _top_confusion(counts: pd.DataFrame, genre: str) -> list[str]:
    """The genre(s) ``genre``'s tracks are most often taken for (ties all listed; none without an error)."""
    row = counts.loc[genre].drop(genre)
    top = int(row.max()) if len(row) else 0
    return [] if top == 0 else [g for g, v in row.items() if v == top]


def verdict_table(rows: list[dict]) -> pd.DataFrame:
    """The rows as a table for the page: claim (with the paper's section), paper, this build, verdict, why."""
    frame = pd.DataFrame(rows)
    frame["claim"] = [f"{c} (§{s})" for c, s in zip(frame["claim"], frame["section"])]
    return frame.set_index("claim")[["paper", "this build", "verdict", "reason"]]


def verdict_sentence(rows: list[dict]) -> str:
    """A summary sentence chosen by the verdicts: how many claims were supported, not supported, untestable."""
    n = {v: sum(r["verdict"] == v for r in rows) for v in (SUPPORTED, NOT_SUPPORTED, UNTESTABLE)}
    total = len(rows)
    parts = []
    for verdict, word in ((SUPPORTED, "supports"), (NOT_SUPPORTED, "does not support")):
        if n[verdict]:
            parts.append(f"{word} {n[verdict]}")
    claims = "claim" if total == 1 else "claims"
    lead = (f"Of the paper's {total} {claims} listed here, this build " + " and ".join(parts)) if parts else \
        f"This build can test none of the paper's {total} {claims} listed here"
    tail = (f"; {n[UNTESTABLE]} cannot be tested here" if parts and n[UNTESTABLE] else "")
    return lead + tail + "."
