"""The report's formatters: counts from the per-item tables, n and intervals in every comparison cell."""

import types

import pytest

from genre_utils import paper, report
from genre_utils.genres import GENRES
from genre_utils.results import RunResults
from genre_utils.stats import Accuracy


def results(pairs, newdata=None):
    """A minimal results dict: ``pairs`` of (true, predicted) genre per test track, two segments each."""
    tracks = [{"track_id": f"t{i}", "true_genre": t, "pred_genre": p, "line": f"{t}: {p}:0.60"}
              for i, (t, p) in enumerate(pairs)]
    segments = [dict(s, segment_id=f"{s['track_id']}@{j}") for s in tracks for j in range(2)]
    if segments:
        segments[0] = dict(segments[0], pred_genre="pop" if segments[0]["true_genre"] != "pop" else "rock")
    return RunResults.from_dict({"test": {"tracks": tracks, "segments": segments},
                                 "newdata": newdata or {"summary": None, "files": []}})


RES = results([("blues", "blues"), ("blues", "jazz"), ("jazz", "jazz"), ("pop", "rock")])


def test_build_column_names_the_data():
    assert report.build_column(types.SimpleNamespace(synthetic=True)) == "this build, synthetic data"
    assert report.build_column(types.SimpleNamespace(synthetic=False)) == "this build, real data"


def test_accuracies_are_counted_from_the_items():
    assert RES.accuracy("track") == Accuracy(2, 4)
    seg = RES.accuracy("segment")
    assert (seg.k, seg.n) == (3, 8)                                        # one blues segment flipped
    assert seg.resampled == "tracks" and seg.n_groups == 4                 # its interval resamples the 4 tracks
    accs = RES.genre_accuracies()
    assert accs["blues"] == Accuracy(1, 2) and accs["pop"] == Accuracy(0, 1) and accs["metal"] == Accuracy(0, 0)
    assert list(accs) == list(GENRES)
    empty = RunResults.from_dict({"test": {"tracks": []}}).accuracy()
    assert empty.n == 0 and empty.text() == "n/a (no tracks)"


def test_paper_accuracy_only_when_the_count_is_certain():
    assert report.paper_accuracy(0.938, 16) == Accuracy(15, 16)
    assert report.paper_accuracy(0.312, 16) == Accuracy(5, 16)
    assert report.paper_accuracy(0.70, 160) == Accuracy(112, 160)
    assert report.paper_accuracy(0.665, 7428) is None  # several counts round to 66.5 %


def test_compare_table_shows_n_and_interval_under_the_builds_column():
    table = report.compare_table([
        ("30-s accuracy", (0.70, 160), Accuracy(2, 4), "acc"),
        ("5-s accuracy", (0.665, 7428), Accuracy(3, 8), "acc"),
        ("not in the paper", None, Accuracy(1, 1), "acc"),
        ("segments", 7428, 8, "num"),
        ("share", 0.5, 0.25, "pct"),
    ], column="this build, synthetic data")
    assert list(table.columns) == ["paper", "this build, synthetic data"]
    assert table.loc["30-s accuracy", "paper"] == "70.0 % [62.5, 76.6], n = 160"
    assert table.loc["30-s accuracy", "this build, synthetic data"] == "50.0 % [15.0, 85.0], n = 4"
    assert table.loc["5-s accuracy", "paper"] == "66.5 %, n = 7,428"
    assert table.loc["not in the paper", "paper"] == "not reported"
    assert table.loc["segments", "paper"] == "7,428" and table.loc["share", "this build, synthetic data"] == "25.0 %"
    old = report.compare_table([("x", 0.5, 0.25, "pct")])  # the plain form other pages use still works
    assert list(old.columns) == ["paper", "this build"]


def test_web_tests_as_given_and_pooled():
    table = report.web_tests_table(Accuracy(1, 10), column="this build, synthetic data")
    assert [c.split(" [")[0] for c in table["model"][:3]] == ["60.0 %", "70.0 %", "60.0 %"]
    assert all(c.endswith("n = 10") for c in table["model"][:3])          # each test: ten songs
    assert [c.split(" [")[0] for c in table["two group members"][:3]] == ["65.0 %", "65.0 %", "70.0 %"]
    assert all(c.endswith("n = 20") for c in table["two group members"][:3])  # two listeners x ten songs
    assert table.loc["paper, web test 1", "model"] == Accuracy(6, 10).short()
    assert table.loc["paper, three tests pooled", "model"] == Accuracy(19, 30).short() == "63.3 % [45.5, 78.1], n = 30"
    assert table.loc["paper, three tests pooled", "two group members"] == "66.7 % [54.1, 77.3], n = 60"
    assert table.iloc[-1]["model"] == "10.0 % [1.8, 40.4], n = 10"
    assert report.paper_web_accuracies() == (Accuracy(19, 30), Accuracy(40, 60))
    assert paper.SAMPLE_LINES["blues"] == "blues: country:0.52 jazz:0.22 blues:0.22 pop:0.04"


def test_newdata_counts_and_notes():
    files = [
        {"path": "/x/jazz/a.wav", "label": "jazz", "pred_genre": "jazz", "n_segments": 3, "top3": "jazz:0.6 pop:0.3",
         "line": "jazz: jazz:0.6 pop:0.3", "error": ""},
        {"path": "/x/pop/b.wav", "label": "pop", "pred_genre": "pop", "n_segments": 3, "top3": "rock:0.5 pop:0.4",
         "line": "pop: rock:0.5 pop:0.4", "error": ""},
        {"path": "/x/rock/c.wav", "label": "rock", "pred_genre": None, "n_segments": 0, "top3": "", "line": "",
         "error": "too short"},
    ]
    res = results([("jazz", "jazz")], {"summary": {"n_files": 3, "n_failed": 1}, "files": files})
    assert res.newdata_accuracy() == Accuracy(2, 2)
    table = report.newdata_files_table(res)
    assert list(table["file"]) == ["jazz/a.wav", "pop/b.wav", "rock/c.wav"]
    assert list(table["note"]) == ["", "line's first genre is not the vote", "unreadable: too short"]
    assert list(table["right"]) == ["yes", "yes", ""]
    assert results([]).newdata_accuracy().n == 0


def test_genre_table_shows_interval_and_na():
    # RES: blues 2 tracks, 1 right; jazz 1 right of 1 but 2 predicted; pop never predicted; rock never true
    table = report.genre_table(RES)
    assert table.loc["blues", "accuracy [95 % interval]"] == "50.0 % [9.5, 90.5]"
    assert table.loc["pop", "precision"] == "n/a" and table.loc["rock", "accuracy [95 % interval]"] == "n/a"
    assert table.loc["jazz", "right"] == 1


@pytest.mark.parametrize("value,expect", [(None, "n/a"), (float("nan"), "n/a"), (0.665, "66.5 %")])
def test_pct(value, expect):
    assert report.pct(value) == expect


def test_newdata_skipped_table_reads_the_summary():
    res = RunResults.from_dict({"newdata": {"summary": {
        "n_files": 40, "n_failed": 0, "n_skipped_by_scan": 1,
        "skipped": [{"file": "reggae/reggae-new-cut.wav", "reason": "too short"}]}}})
    table = report.newdata_skipped_table(res)
    assert list(table.columns) == ["file", "reason"] and table.iloc[0]["file"] == "reggae/reggae-new-cut.wav"
    before = RunResults.from_dict({"newdata": {"summary": {"n_files": 1}}})  # a run from before the record
    assert report.newdata_skipped_table(before).empty
    assert report.newdata_skipped_table(RunResults.from_dict({})).empty


@pytest.mark.parametrize("p,expect", [(1.0, "p > 0.99"), (0.995, "p > 0.99"), (0.84, "p = 0.84"), (0.04, "p = 0.04"),
                                      (0.0031, "p = 0.003"), (6.2e-8, "p < 0.001"), (None, "p n/a"),
                                      (float("nan"), "p n/a")])
def test_p_values_are_phrases_for_prose(p, expect):
    assert report.p_phrase(p) == expect       # never a bare '1' (the discussion once printed 'p = 1 .')


def test_seconds_or_minutes():
    assert report.seconds_or_minutes(2.44) == "2.4 s" and report.seconds_or_minutes(120.6) == "2.0 min"
    assert report.seconds_or_minutes(None) == "n/a"


def test_paper_tables_say_what_the_paper_states():
    related = report.related_work_table()
    assert related.loc["Hsiang et al. (the paper)", "accuracy"] == "70.0 % [62.5, 76.6], n = 160"
    assert related.loc["Pons & Serra (2019)", "accuracy"] == "53.4 %"
    dev = paper.deviations("quick").set_index("aspect")
    assert "30-s clip, split at random" in dev.loc["split unit", "paper"]
    assert "`" not in " ".join(dev.to_numpy().ravel().astype(str))          # table cells show no Markdown
    assert "intended to keep the CRNN" in dev.loc["normalisation", "why"]
    assert dev.loc["arithmetic", "this build"].startswith("not known")   # no run given, no claim
    for precision, words, why in (("fp32", "float32 throughout", "faithful"), ("bf16", "bfloat16 autocast",
                                                                                "GENRE_UTILS_PRECISION=fp32")):
        row = paper.deviations("quick", precision=precision).set_index("aspect").loc["arithmetic"]
        assert row["this build"].startswith(words) and why in row["why"]
    text = paper.as_written("quick")
    assert "the 70/15/15 split of the clips (over the regular clips; the synthetic corpus adds 13 test-only" in text
    assert "a global standardisation, which the paper does not specify" in text
    assert "test-only" not in paper.as_written("quick", synthetic=False)


def test_book_runs_list_each_seeded_run_under_every_seed_with_its_own_folder():
    from genre_utils import context

    runs = context.book_runs("tiny")
    seeded = [r for r in runs if r[:3] == context.BOOK_RUNS[0]]
    assert [r[3] for r in seeded] == [None, 1, 2] and len(runs) == len(context.BOOK_RUNS) + 2 * len(
        context.SEEDED_RUNS)
    assert [r[3] for r in runs if r[:3] == ("crnn", "logmel", "random")] == [None]   # one seed only
    quick = context.book_runs("quick")   # the quick budget leaves its skipped runs out, seeds and all ...
    assert {r[:3] for r in quick} == set(context.BOOK_RUNS) - set(context.SKIPPED_RUNS["quick"])
    assert all([r[3] for r in quick if r[:3] == run] == [None, 1, 2] for run in {r[:3] for r in quick})
    assert len(quick) == 3 * len({r[:3] for r in quick})   # ... and seeds every run it trains
    folders = {context.run_dir("tiny", *r[:3], seed=r[3]).name for r in runs}
    assert len(folders) == len(runs) and "crnn-mfcc-random" in folders and "crnn-mfcc-random-seed2" in folders


def test_genre_seed_table_sets_each_seed_side_by_side():
    def run(seed, cells):
        tracks = [{"track_id": f"t{k}", "true_genre": t, "pred_genre": p, "correct": t == p}
                  for k, (t, p) in enumerate(cells)]
        return RunResults.from_dict({"genres": list(GENRES), "config": {"train": {"seed": seed}},
                                     "test": {"tracks": tracks}})

    a = run(0, [("jazz", "jazz"), ("jazz", "rock"), ("rock", "rock")])
    b = run(1, [("jazz", "jazz"), ("jazz", "jazz"), ("rock", "pop")])
    table = report.genre_seed_table([a, b])
    assert list(table.index) == ["jazz", "rock"]                       # genres without test tracks left out
    assert table.loc["jazz", "seed 0"] == "1 of 2" and table.loc["jazz", "seed 1"] == "2 of 2"
    assert table.loc["rock", "range (points)"] == pytest.approx(100.0)
    assert table["test items"].tolist() == [2, 1]
    assert table.loc["jazz", "lowest"] == pytest.approx(0.5) and table.loc["jazz", "highest"] == pytest.approx(1.0)
