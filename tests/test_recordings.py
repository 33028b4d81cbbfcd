"""The ten real recordings: shipped whole with their attributions, run through a model, and read in sentences
chosen by the result (every branch on a fixture table)."""

import pandas as pd
import pytest
import torch

from genre_utils import recordings as R
from genre_utils.checkpoints import checkpoint_dict, resume_record
from genre_utils.config import FeatureParams, TrainConfig
from genre_utils.genres import GENRES
from genre_utils.models import build_model


def test_every_recording_is_shipped_with_its_attribution_and_licence():
    table = R.recordings()
    assert len(table) == 10 and set(table["kind"]) == {"music", "speech", "animal"}
    assert (table["kind"] == "music").sum() == 5
    for row in table.itertuples():
        assert row.seconds > 2 and ("CC-BY" in row.attribution or "ublic" in row.attribution), row.file
    music = table[table["kind"] == "music"]
    assert all(set(p.split()) <= set(GENRES) and p for p in music["plausible"])
    assert (table.loc[table["kind"] != "music", "plausible"] == "").all()


@pytest.fixture(scope="module")
def untrained_run(tmp_path_factory):
    """A baseline model with random weights, saved as a run's best.pt (fast; its genres mean nothing)."""
    run = tmp_path_factory.mktemp("run")
    model = build_model("baseline", input_shape=FeatureParams().shape, seed=0)
    cfg = TrainConfig(model="baseline", epochs=1)
    record = resume_record(model.spec, cfg, 1, 1)
    history = {"epoch": [1], "train_loss": [1.0], "train_acc": [0.1], "valid_loss": [1.0], "valid_acc": [0.1],
               "train_seconds": [1.0], "epoch_seconds": [1.0]}
    optimizer = torch.optim.Adam(model.parameters())
    ckpt = checkpoint_dict(model, optimizer, cfg, record, 1, history,
                           {"features": FeatureParams().__dict__, "data_description": "the project's synthetic corpus"})
    torch.save(ckpt, run / "best.pt")
    return run


def test_classify_gives_every_recording_a_row_and_the_robin_its_reason(untrained_run):
    table = R.classify_recordings(untrained_run, device="cpu")
    assert len(table) == 10 and not table.attrs["calibrated"]
    robin = table[table["file"].str.contains("robin")].iloc[0]
    assert robin["error"].startswith("too short") and pd.isna(robin["pred_genre"])
    ok = table[table["error"] == ""]
    assert ok["pred_genre"].isin(GENRES).all() and ok["outside"].isna().all()   # no calibration: no flag
    assert ok.loc[ok["kind"] != "music", "plausible_hit"].isna().all()
    sentences = R.recordings_sentences(table)
    assert "has no calibration" in sentences["other"] and sentences["short"].startswith("Not classified: A robin")


def _table(kinds, hits, outside, errors, calibrated=True):
    t = pd.DataFrame({"title": [f"t{i}" for i in range(len(kinds))], "kind": kinds, "error": errors,
                      "pred_genre": [None if e else "rock" for e in errors],
                      "plausible_hit": pd.array(hits, dtype="boolean"), "outside": pd.array(outside, dtype="boolean")})
    t.attrs["calibrated"] = calibrated
    return t


@pytest.mark.parametrize("hits,outside,music,other", [
    ([True, False, None, None], [False, False, True, False], "1 of the 2 music pieces gets a genre",
     "1 of the 2 non-music files long enough to classify is flagged as outside what the model knows (t2); the "
     "other gets"),
    ([False, False, None, None], [False, False, False, False], "None of the 2 music pieces",
     "None of the 2 non-music files"),
    ([True, True, None, None], [False, False, True, True], "2 of the 2 music pieces get a genre",
     "All 2 non-music files"),
])
def test_sentences_follow_the_counts(hits, outside, music, other):
    s = R.recordings_sentences(_table(["music", "music", "speech", "animal"], hits, outside, [""] * 4))
    assert s["music"].startswith(music) and s["other"].startswith(other) and s["short"] == ""


def test_sentences_without_calibration_or_classifiable_files():
    none = R.recordings_sentences(_table(["music", "speech"], [None, None], [None, None], ["too short", "too short"]))
    assert none["music"] == "None of the 1 music pieces could be classified." or none["music"].startswith("None")
    assert none["other"].startswith("None of the non-music files is long enough")
    assert none["short"] == "Not classified: t0 (too short); t1 (too short)."
    uncal = R.recordings_sentences(_table(["music", "speech"], [True, None], [None, None], ["", ""],
                                          calibrated=False))
    assert uncal["other"].startswith("The run has no calibration")


def test_credits_link_every_address_by_its_host():
    text = R.credits_markdown(R.recordings())
    assert text.count("\n") == 9 and "[musopen.org](https://musopen.org/" in text
    assert "CC-BY" in text and " https://" not in text          # no bare address left to run off the page


def _answers(votes, outside, calibrated=True):
    """A classify_recordings-like table: two music pieces (plausible: jazz) and two non-music files."""
    import pandas as pd

    t = pd.DataFrame({"file": ["a.ogg", "b.ogg", "c.ogg", "d.ogg"], "title": ["A", "B", "C", "D"],
                      "kind": ["music", "music", "speech", "animal"], "plausible": ["jazz", "jazz", "", ""],
                      "pred_genre": votes, "confidence": [0.9, 0.5, 0.4, 0.3], "outside": outside,
                      "error": ["", "", "", ""]})
    t["plausible_hit"] = pd.array([v == "jazz" if k == "music" else pd.NA for v, k in zip(t["pred_genre"], t["kind"])],
                                  dtype="boolean")
    t.attrs["calibrated"] = calibrated
    return t


def test_history_sets_kept_corpora_beside_this_build_and_says_which_way_it_moved():
    from genre_utils import recordings as R

    before = R.snapshot(_answers(["jazz", "rock", "pop", "pop"], [False, False, False, False]), "corpus 1",
                        {"commit": "abc"})
    same = R.history_sentence(_answers(["jazz", "rock", "pop", "pop"], [False, False, False, False]), [before])
    assert same.startswith("This build answers as the last recorded corpus (corpus 1)")
    better = _answers(["jazz", "jazz", "pop", "pop"], [False, False, True, False])
    text = R.history_sentence(better, [before])
    assert "music pieces with a plausible vote: 2 of 2, against 1 of 2" in text
    assert "non-music files flagged: 1 of 2, against 0 of 2" in text and "anecdote" in text
    table = R.history_table(better, [before])
    assert list(table.columns) == ["corpus 1", "this build"]
    assert table.loc["B", "corpus 1"] == "rock 0.50" and table.loc["C", "this build"] == "pop 0.40, flagged"
    assert table.iloc[-1].tolist() == ["1/2 plausible, 0/2 flagged", "2/2 plausible, 1/2 flagged"]
    assert R.history_sentence(better, []).startswith("No earlier corpus was recorded")


def test_the_shipped_history_matches_the_shipped_recordings():
    from genre_utils import recordings as R

    files = set(R.recordings()["file"])
    history = R.load_history()
    assert history, "the package ships at least one kept corpus"
    assert R.load_history(profile="quick") and not R.load_history(profile="no-such-profile")
    last = history[-1]["provenance"]["run_key"]   # a build that is itself the last kept snapshot skips it
    assert [s["label"] for s in R.load_history(other_than=last)] == [s["label"] for s in history[:-1]]
    # the same audio under a new run key (a code change) skips it too, and every run kept on that audio
    data = history[-1]["provenance"]["data_fingerprint"]
    assert [s["label"] for s in R.load_history(other_than="another-key", other_data=data)] == [
        s["label"] for s in history if s["provenance"]["data_fingerprint"] != data]
    bf16_twin = [s for s in history if s["label"].startswith("corpus 2")]   # corpus 2 and its bfloat16 rerun
    assert len({s["provenance"]["data_fingerprint"] for s in bf16_twin}) == 1
    assert not [s for s in R.load_history(other_data=bf16_twin[0]["provenance"]["data_fingerprint"])
                if s["label"].startswith("corpus 2")]
    for snap in history:
        assert {r["file"] for r in snap["rows"]} == files
        assert snap["provenance"]["corpus_fingerprint"] and snap["provenance"]["run_key"]


def test_record_tool_refuses_a_missing_build_and_an_existing_label_in_one_line(tmp_path, capsys):
    import importlib.util
    from pathlib import Path

    from genre_utils import recordings as R

    tool = Path(__file__).resolve().parents[1] / "tools" / "record_recordings.py"
    spec = importlib.util.spec_from_file_location("record_recordings", tool)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main([str(tmp_path), "a label"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is missing: build the book" in err
    run = tmp_path / "runs" / "quick" / "crnn-mfcc-random"
    run.mkdir(parents=True)
    for f in (run / "results.json", run / "best.pt", tmp_path / "data" / "synth-quick" / "corpus.json"):
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("{}")
    kept = R.load_history()[0]["label"]
    assert mod.main([str(tmp_path), kept]) == 2                 # refused before anything is read or written
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--replace" in err


def test_votes_sentence_names_a_genre_that_takes_most_votes_only_then():
    def votes(genres, errors=None):
        t = pd.DataFrame({"pred_genre": genres, "error": errors or [""] * len(genres)})
        return R.votes_sentence(t)

    assert votes(["reggae"] * 7 + ["rock", "blues"]).startswith("7 of the 9 recordings classified get the same "
                                                                "vote, reggae")
    assert votes(["jazz", "jazz", "jazz"]).startswith("All 3 recordings classified get the same vote, jazz")
    spread = votes(["rock", "rock", "jazz", "jazz"])                 # half is not most
    assert spread.startswith("The 4 recordings classified spread their votes over 2 genres") and "no genre" in spread
    assert votes(["rock", None], ["", "too short"]) == ""            # one classified recording says nothing


def test_history_columns_get_short_names_and_a_legend():
    from genre_utils import recordings as R

    snaps = [{"label": "corpus 1 (one bank)", "provenance": {"commit": "a1"}, "rows": []},
             {"label": "corpus 2 again, trained in bfloat16", "provenance": {}, "rows": []}]
    assert R.short_labels(snaps) == {"corpus 1 (one bank)": "corpus 1",
                                     "corpus 2 again, trained in bfloat16": "corpus 2 again"}
    legend = R.history_legend(snaps).splitlines()
    assert legend == ["- **corpus 1**: one bank (kept at a1)",
                      "- **corpus 2 again**: trained in bfloat16 (kept at an unrecorded commit)"]
    clash = snaps + [{"label": "corpus 1 (again)", "provenance": {}, "rows": []}]
    assert list(R.short_labels(clash).values()) == [s["label"] for s in clash]     # two "corpus 1": full labels
    assert R.history_legend([]) == ""
