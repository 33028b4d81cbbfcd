"""The verdict table: each claim of the paper decided by the numbers with its stated rule, on fixtures that put
each rule on both sides of its line (and the synthetic corpus's designed results never called findings)."""

import pandas as pd
import pytest

from genre_utils import verdicts as V
from genre_utils.genres import GENRES
from genre_utils.metrics import confusion, per_genre_table
from genre_utils.results import RunResults


def results(pairs, segments_right=None, new=None):
    """A results dict from (true, predicted) genre pairs per test track; each track gets six segments, of
    which ``segments_right(i, right)`` are right (default: all six agree with the track's vote)."""
    tracks, segments = [], []
    for i, (t, p) in enumerate(pairs):
        tracks.append({"track_id": f"t{i}", "true_genre": t, "pred_genre": p, "correct": t == p})
        k = 6 * (t == p) if segments_right is None else segments_right(i, t == p)
        for j in range(6):
            segments.append({"track_id": f"t{i}", "segment_id": f"t{i}@{j}", "true_genre": t,
                             "pred_genre": t if j < k else ("rock" if t != "rock" else "pop"), "correct": j < k})
    y_true = [GENRES.index(t) for t, _ in pairs]
    y_pred = [GENRES.index(p) for _, p in pairs]
    files = [{"label": t, "pred_genre": p, "error": "", "top3": f"{p}:0.9"} for t, p in (new or [])]
    return RunResults.from_dict({
        "test": {"tracks": tracks, "segments": segments,
                 "track_confusion": confusion(y_true, y_pred).tolist(),
                 "track_per_genre": per_genre_table(y_true, y_pred).reset_index().to_dict("records")},
        "newdata": {"summary": {"n_files": len(files)}, "files": files} if new else None})


def balanced(right_per_genre: dict, n: int = 20, wrong_as=lambda g: "rock" if g != "rock" else "pop"):
    pairs = []
    for g in GENRES:
        k = right_per_genre.get(g, n // 2)
        pairs += [(g, g)] * k + [(g, wrong_as(g))] * (n - k)
    return pairs


def by_key(rows):
    return {r["key"]: r for r in rows}


def test_every_claim_gets_one_row_with_its_evidence():
    rows = V.verdict_rows(results(balanced({})), results(balanced({})), synthetic=False)
    assert [r["key"] for r in rows] == list(V.CLAIMS)
    assert all(r["verdict"] in (V.SUPPORTED, V.NOT_SUPPORTED, V.UNTESTABLE) and r["reason"] for r in rows)
    assert "n = 200" in by_key(rows)["crnn_beats_baseline"]["this build"]
    assert by_key(rows)["human_level"]["verdict"] == V.UNTESTABLE


def test_crnn_against_baseline_follows_the_paired_interval():
    good, bad = results(balanced({g: 18 for g in GENRES})), results(balanced({g: 6 for g in GENRES}))
    assert by_key(V.verdict_rows(good, bad, synthetic=False))["crnn_beats_baseline"]["verdict"] == V.SUPPORTED
    assert by_key(V.verdict_rows(bad, good, synthetic=False))["crnn_beats_baseline"]["verdict"] == V.NOT_SUPPORTED
    same = by_key(V.verdict_rows(good, good, synthetic=False))["crnn_beats_baseline"]
    assert same["verdict"] == V.NOT_SUPPORTED and "within the noise" in same["reason"]
    assert by_key(V.verdict_rows(good, None, synthetic=False))["crnn_beats_baseline"]["verdict"] == V.UNTESTABLE


def test_crnn_against_baseline_over_seeds_needs_the_interval_and_the_seed_spread():
    base = [results(balanced({g: 6 for g in GENRES}))] * 3
    steady = [results(balanced({g: 18 for g in GENRES}))] * 3                      # far ahead, seeds agree
    row = by_key(V.verdict_rows(steady[0], base[0], synthetic=False, main_seeds=steady,
                                baseline_seeds=base))["crnn_beats_baseline"]
    assert row["verdict"] == V.SUPPORTED and "3 seeds" in row["this build"] and "seed spread 0.0" in row["this build"]
    # seeds at 9, 12 and 15 right of 20 per genre (45-75 %) against a baseline at 11 (55 %): the mean gap
    # (+5 points) lies inside the CRNN's 30-point seed spread, so no difference is called
    shaky = [results(balanced({g: k for g in GENRES})) for k in (9, 12, 15)]
    mid = [results(balanced({g: 11 for g in GENRES}))] * 3
    row = by_key(V.verdict_rows(shaky[0], mid[0], synthetic=False, main_seeds=shaky,
                                baseline_seeds=mid))["crnn_beats_baseline"]
    assert row["verdict"] == V.NOT_SUPPORTED and "spread between seeds" in row["reason"]


def test_the_vote_helps_only_when_tracks_beat_their_segments_beyond_the_noise():
    pairs = balanced({g: 16 for g in GENRES})
    # every right track has only 4 of its 6 segments right, every wrong one 2: the vote gains
    helped = results(pairs, segments_right=lambda i, right: 4 if right else 2)
    assert by_key(V.verdict_rows(helped, synthetic=False))["vote_helps"]["verdict"] == V.SUPPORTED
    agree = results(pairs)                                   # segments agree with their track: no gain
    row = by_key(V.verdict_rows(agree, synthetic=False))["vote_helps"]
    assert row["verdict"] == V.NOT_SUPPORTED and "+0.0 points" in row["this build"]


def test_genre_rankings_are_called_only_beyond_the_noise_and_never_on_the_designed_corpus():
    clear = results(balanced({"classical": 20, "metal": 20, "pop": 1}))
    real = by_key(V.verdict_rows(clear, synthetic=False))
    assert real["classical_metal_best"]["verdict"] == V.SUPPORTED and real["pop_hardest"]["verdict"] == V.SUPPORTED
    synthetic = by_key(V.verdict_rows(clear, synthetic=True))
    for key in V.DESIGNED_FINDINGS:
        assert synthetic[key]["verdict"] == V.UNTESTABLE
        assert synthetic[key]["reason"].startswith("designed into the synthetic corpus")
    flat = by_key(V.verdict_rows(results(balanced({"classical": 12, "metal": 10, "pop": 9})), synthetic=False))
    assert flat["classical_metal_best"]["verdict"] == V.NOT_SUPPORTED
    assert "classical and metal not clearly above" in flat["classical_metal_best"]["reason"]
    assert flat["pop_hardest"]["verdict"] == V.NOT_SUPPORTED


def test_pop_attraction_and_jazz_blues_follow_the_confusions():
    to_pop = balanced({g: 14 for g in GENRES}, wrong_as=lambda g: "pop" if g != "pop" else "rock")
    rows = by_key(V.verdict_rows(results(to_pop), synthetic=False))
    assert rows["pop_attracts"]["verdict"] == V.SUPPORTED
    assert rows["jazz_blues_apart"]["verdict"] == V.SUPPORTED          # jazz's and blues's errors go to pop
    mixed = balanced({g: 14 for g in GENRES}, wrong_as=lambda g: {"jazz": "blues", "blues": "jazz"}.get(g, "pop"))
    row = by_key(V.verdict_rows(results(mixed), synthetic=False))["jazz_blues_apart"]
    assert row["verdict"] == V.NOT_SUPPORTED and "12 of 40" in row["this build"]
    nothing = by_key(V.verdict_rows(results([(g, g) for g in GENRES for _ in range(3)]), synthetic=False))
    assert "no piece was called pop" not in nothing["pop_attracts"]["this build"]  # pop is called pop here
    assert nothing["jazz_blues_apart"]["this build"].endswith("of jazz: none, of blues: none")


@pytest.mark.parametrize("new_right,n_new,expect", [(3, 40, V.NOT_SUPPORTED), (30, 40, V.UNTESTABLE),
                                                    (150, 200, V.SUPPORTED), (4, 10, V.NOT_SUPPORTED)])
def test_new_music_is_the_same_only_when_the_interval_is_narrow(new_right, n_new, expect):
    main = results(balanced({g: 15 for g in GENRES}),                       # 75 % on 200 test tracks
                   new=[("jazz", "jazz")] * new_right + [("jazz", "pop")] * (n_new - new_right))
    assert by_key(V.verdict_rows(main, synthetic=False))["new_music"]["verdict"] == expect


def test_the_summary_sentence_counts_the_verdicts():
    rows = [{"verdict": v} for v in (V.SUPPORTED, V.NOT_SUPPORTED, V.NOT_SUPPORTED, V.UNTESTABLE)]
    assert V.verdict_sentence(rows) == ("Of the paper's 4 claims listed here, this build supports 1 and does not "
                                        "support 2; 1 cannot be tested here.")
    assert V.verdict_sentence([{"verdict": V.UNTESTABLE}]) == \
        "This build can test none of the paper's 1 claim listed here."
    assert V.verdict_sentence([{"verdict": V.SUPPORTED}] * 2) == \
        "Of the paper's 2 claims listed here, this build supports 2."
    table = V.verdict_table(V.verdict_rows(results(balanced({})), synthetic=True))
    assert list(table.columns) == ["paper", "this build", "verdict", "reason"] and len(table) == len(V.CLAIMS)
    assert isinstance(table, pd.DataFrame)
