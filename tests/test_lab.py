"""The laboratory: controls change one factor and hold the rest; its tables and sentences follow the answers."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from genre_utils import lab
from genre_utils.genres import GENRES
from genre_utils.styles import GROOVES, STYLES
from genre_utils.synth import make_plan
from genre_utils.synth.controls import COMMON_GROOVE, COMMON_TEMPO, CONTROLS

OWN_FIELDS = {"timbre": {"programs", "levels", "velocity", "bends"}, "tempo": {"tempo"},
              "groove": {"groove", "swing"}, "harmony": {"progression", "voicing", "scale", "start_bar"}}
OWN_FIELDS["timbre-tempo-harmony"] = OWN_FIELDS["timbre"] | OWN_FIELDS["tempo"] | OWN_FIELDS["harmony"]


@pytest.mark.parametrize("genre", ["blues", "classical", "jazz", "metal", "reggae"])
@pytest.mark.parametrize("control", sorted(CONTROLS))
def test_a_control_changes_its_own_factor_and_holds_the_rest(genre, control):
    base = make_plan(genre, 11, 10.0)
    held = make_plan(genre, 11, 10.0, control=control)
    assert held == make_plan(genre, 11, 10.0, control=control)            # deterministic
    changed = {f.name for f in dataclasses.fields(base) if getattr(base, f.name) != getattr(held, f.name)}
    assert changed - {"sections"} <= OWN_FIELDS[control]
    assert held.sections[: len(base.sections)] == base.sections[: len(held.sections)]
    if "tempo" in control.split("-"):
        scale = GROOVES[held.groove].tempo_scale
        assert COMMON_TEMPO[0] * scale - 0.01 <= held.tempo <= COMMON_TEMPO[1] * scale + 0.01
    if control == "groove":
        assert held.groove == (base.groove if STYLES[genre].drum_level == 0 else COMMON_GROOVE)
    if control == "timbre":
        assert [p is None for p in held.programs.values()] == [p is None for p in base.programs.values()]


@pytest.mark.parametrize("genre", ["blues", "classical", "metal"])
def test_a_combined_control_is_its_parts_in_force_together(genre):
    """'timbre-tempo-harmony' gives each factor exactly the value its single control gives, all at once."""
    from genre_utils.synth.controls import COMBINED

    for combined, parts in COMBINED.items():
        assert combined == "-".join(parts) and set(parts) <= set(CONTROLS)   # control_words reads the name
        held = make_plan(genre, 7, 10.0, control=combined)
        for part in parts:
            alone = make_plan(genre, 7, 10.0, control=part)
            for field in OWN_FIELDS[part]:
                assert getattr(held, field) == getattr(alone, field), (part, field)


def test_control_words():
    assert lab.control_words("timbre") == "timbre"
    assert lab.control_words("timbre-tempo-harmony") == "timbre, tempo and harmony"
    assert lab.controls_words(["timbre"]) == "timbre"
    assert lab.controls_words(["timbre", "tempo"]) == "timbre and tempo"
    assert lab.controls_words(["timbre-tempo-harmony"]) == "timbre, tempo and harmony"
    assert lab.controls_words(["timbre", "tempo", "timbre-tempo-harmony"]) == \
        "timbre; tempo; and timbre, tempo and harmony together"
    assert lab.controls_words(["timbre-tempo-harmony", "tempo"]) == "timbre, tempo and harmony together and tempo"


def test_an_unknown_control_is_refused():
    with pytest.raises(ValueError, match="unknown control"):
        make_plan("rock", 1, 5.0, control="loudness")


def test_render_lab_writes_every_version_once_and_reuses_it(tmp_path):
    from genre_utils.synth import GTZAN_SAMPLE_RATE, Job

    clips = [lab.LabClip(f"gtzan:{genre}.0000{i}", Job(f"gtzan/{genre}/{genre}.0000{i}.wav", genre, seed, 30.0,
                                                        False, "wav", GTZAN_SAMPLE_RATE))
             for i, genre, seed in ((1, "jazz", 5), (2, "metal", 6))]
    first = lab.render_lab(tmp_path, clips, ["tempo"], "tiny", seconds=5.0, workers=1)
    assert not first["cached"] and first["controls"] == ["none", "tempo"]
    assert sorted(p.name for p in (tmp_path / "tempo").iterdir()) == ["jazz.00001.wav", "metal.00002.wav"]
    again = lab.render_lab(tmp_path, clips, ["tempo"], "tiny", seconds=5.0, workers=1)
    assert again["cached"] and again["fingerprint"] == first["fingerprint"]
    from genre_utils.config import FeatureParams

    feats, labels, ids = lab.lab_features(tmp_path, first, FeatureParams())
    assert set(feats) == {"none", "tempo"} and feats["none"].shape == (2, *FeatureParams().shape)
    assert not np.allclose(feats["none"], feats["tempo"])                  # the tempo changed the audio
    assert ids == ["gtzan:jazz.00001", "gtzan:metal.00002"] and labels.tolist() == [5, 6]


def _answers(effect_by_control, n=200, seeds=3, base_rate=0.6, seed=0):
    """Fabricated answers: each control moves the accuracy by the given amount (all seeds alike)."""
    rng = np.random.default_rng(seed)
    base = rng.random(n) < base_rate
    out = {"none": np.tile(base, (seeds, 1))}
    for control, delta in effect_by_control.items():
        flip = rng.random(n) < abs(delta) / (base_rate if delta < 0 else 1 - base_rate)
        changed = np.where(base & flip, False, base) if delta < 0 else np.where(~base & flip, True, base)
        out[control] = np.tile(changed, (seeds, 1))
    return out


def test_tables_and_sentences_follow_the_answers():
    answers = lab.lab_answers({"CRNN": _answers({"timbre": -0.3, "tempo": 0.0, "groove": 0.25}),
                               "steady model": _answers({"timbre": 0.0, "tempo": 0.0})})
    table = lab.lab_table(answers)
    base = answers["CRNN"]["none"][0].mean()
    assert list(table.columns[:1]) == ["as composed"]
    assert table.loc["CRNN", "as composed"].startswith(f"{100 * base:.0f} % [")
    assert table.loc["CRNN", "as composed"].endswith("; 3 seeds, each " + f"{100 * base:.0f}")
    effects = lab.lab_effects(answers)
    crnn = effects[effects["model"] == "CRNN"].set_index("control")
    assert crnn.loc["timbre", "beyond_noise"] and crnn.loc["timbre", "difference"] < -0.2
    assert not crnn.loc["tempo", "beyond_noise"] and crnn.loc["groove", "difference"] > 0.2
    said = lab.lab_sentences(effects)
    assert said["CRNN"].startswith("The CRNN loses accuracy beyond the noise when this factor is made common")
    assert "gains accuracy beyond the noise under groove" in said["CRNN"]
    assert "the remaining control stays within the noise (tempo 0 points [0, 0])" in said["CRNN"]
    assert said["steady model"].startswith("No control changes the accuracy of the steady model")
    one = lab.lab_sentences(effects[effects["control"] == "tempo"])    # one control: said as that control
    assert one["steady model"].startswith("Making tempo common does not change the accuracy of the steady model")
    assert "instruments and the mix" in lab.lab_prediction(effects, "CRNN")
    assert lab.lab_prediction(effects, "steady model").startswith("No single factor")
    # a control of several factors is said in words, and names no single factor to the prediction
    both = lab.lab_effects(lab.lab_answers({"CRNN": _answers({"timbre-tempo-harmony": -0.5, "tempo": -0.25})}))
    said = lab.lab_sentences(both)["CRNN"]
    assert "when each of these is made common to all genres: timbre, tempo and harmony -" in said
    assert "the tempo" in lab.lab_prediction(both, "CRNN")
    alone = lab.lab_effects(lab.lab_answers({"CRNN": _answers({"timbre-tempo-harmony": -0.5})}))
    assert "when these factors are made common" in lab.lab_sentences(alone)["CRNN"]
    assert lab.lab_prediction(alone, "CRNN").startswith("No single factor")


def test_the_probe_summarises_a_window_as_the_store_does():
    from genre_utils.probe import window_summary

    X = np.random.default_rng(0).normal(size=(4, 3, 7)).astype(np.float32)
    summary = window_summary(X, "dynamics")
    assert summary.shape == (4, 9)
    np.testing.assert_allclose(summary[:, :3], X.mean(axis=2), rtol=1e-6)
    np.testing.assert_allclose(summary[:, 6:], np.abs(np.diff(X, axis=2)).mean(axis=2), rtol=1e-6)
    with pytest.raises(ValueError):
        window_summary(X, "median")


def test_effects_need_the_same_clips():
    bad = {"m": {"none": np.ones((1, 5), bool), "tempo": np.ones((1, 4), bool)}}
    with pytest.raises(ValueError):
        lab.lab_effects(bad)
    assert isinstance(lab.lab_effects({"m": {"none": np.ones((1, 5), bool)}}), pd.DataFrame)


def test_a_change_no_larger_than_the_seeds_spread_is_said_as_such():
    rng = np.random.default_rng(1)
    n = 400
    base = np.stack([rng.random(n) < p for p in (0.45, 0.60, 0.75)])      # seeds 15 points apart
    held = base.copy()
    held[:, :40] = False                                                   # about -6 points, every seed
    effects = lab.lab_effects({"CRNN": {"none": base, "tempo": held}})
    row = effects.iloc[0]
    assert row["beyond_interval"] and not row["beyond_noise"]
    said = lab.lab_sentences(effects)["CRNN"]
    assert said.startswith("For the CRNN, tempo -") and "by no more than its training seeds differ" in said
    assert lab.lab_prediction(effects, "CRNN").startswith("No single factor")


# ---------------------------------------------------------------------------- the order test

def test_shuffled_blocks_keep_every_frame_and_move_whole_blocks():
    from genre_utils.config import FeatureParams
    from genre_utils.probe import window_summary

    assert lab.order_block(FeatureParams(), 1.0) == 47 and FeatureParams().n_frames == 5 * 47
    X = np.random.default_rng(0).normal(size=(30, 4, 23)).astype(np.float32)
    out = lab.shuffle_blocks(X, 5)                       # blocks of 5, 5, 5, 5 and 3 frames
    assert out.shape == X.shape and out.dtype == np.float32
    assert np.array_equal(out, lab.shuffle_blocks(X, 5)) and not np.array_equal(out, lab.shuffle_blocks(X, 5, 1))
    for x, y in zip(X, out):
        pieces = [x[:, a:a + 5] for a in range(0, 23, 5)]
        used, at = [], 0
        while at < 23:                                   # the output is the input's blocks laid end to end
            k = next(k for k, p in enumerate(pieces) if k not in used and np.array_equal(y[:, at:at + p.shape[1]], p))
            used.append(k)
            at += pieces[k].shape[1]
        assert sorted(used) == list(range(5)) and used != list(range(5))   # each block once, never in place
    # a bag of frames' means and spreads cannot tell the two apart
    np.testing.assert_allclose(window_summary(out, "dynamics")[:, :8], window_summary(X, "dynamics")[:, :8],
                               rtol=1e-5, atol=1e-6)
    assert np.array_equal(lab.shuffle_blocks(X, 23), X)  # one block: nothing to move
    with pytest.raises(ValueError):
        lab.shuffle_blocks(X, 0)


def test_order_names_and_block_lengths():
    from genre_utils.config import FeatureParams

    assert [lab.order_block(FeatureParams(), s) for s in lab.ORDER_BLOCKS_SECONDS] == [47, 23, 12]
    assert lab.order_name(0.5) == "order 0.5 s" and lab.order_seconds("order 0.5 s") == 0.5
    assert lab.order_seconds("tempo") is None and lab.order_seconds("order x s") is None
    assert lab.seconds_list([1.0, 0.5, 0.25]) == "1, 0.5 and 0.25 s" and lab.seconds_list([1.0]) == "1 s"


ONE, HALF, QUARTER = (lab.order_name(s) for s in (1.0, 0.5, 0.25))


def test_the_order_answers_are_split_from_the_controls_and_read_per_model():
    feats = lab.with_order({"none": np.zeros((2, 3, 10), np.float32), "tempo": np.ones((2, 3, 10), np.float32)},
                           type("P", (), {"sample_rate": 20, "hop_length": 4})(), blocks=(0.5, 0.25))  # 3 and 1 frames
    assert list(feats) == ["none", "tempo", "order 0.5 s", "order 0.25 s"]
    assert feats["order 0.5 s"].shape == (2, 3, 10)
    hears = _answers({"tempo": 0.0, ONE: -0.3, HALF: -0.3})
    deaf = _answers({"tempo": 0.0, ONE: 0.0, HALF: 0.0}, seeds=1)
    controls, order = lab.split_order(lab.lab_answers({"CRNN": hears}, {c: a[0] for c, a in deaf.items()}))
    assert set(controls["CRNN"]) == {"none", "tempo"} and set(order) == {"CRNN", lab.PROBE}
    assert all(list(per) == ["none", ONE, HALF] for per in order.values())
    table = lab.order_table(order)
    assert list(table.columns) == ["as composed", "blocks of 1 s shuffled", "blocks of 0.5 s shuffled"]
    said = lab.order_sentence(lab.lab_effects(order))
    assert said.startswith("The CRNN (1 s -") and "loses accuracy beyond the noise with blocks of 1 and 0.5 s." in said
    assert said.endswith(f"The {lab.PROBE} (1 s 0 points [0, 0], 0.5 s 0 points [0, 0]) stays within the noise at "
                         "every block length.")
    assert lab.order_sentence(lab.lab_effects(controls)) == ""
    reading = lab.order_reading(order, ["CRNN"])
    assert reading.startswith("Reordering costs accuracy beyond the noise to the CRNN with blocks of 1 and 0.5 s.")
    assert "loses nothing beyond the noise, so the seams, as far as a bag of frames registers them, do not" in reading
    assert reading.endswith("So the CRNN uses the order of events over stretches of 1 s, or reacts to the seams in a "
                            "way a bag of frames does not.")


def test_the_order_reading_finds_the_time_scale_and_blames_seams_on_a_losing_probe():
    short = {"CRNN": _answers({ONE: 0.0, HALF: 0.0, QUARTER: -0.3}),
             "GRU": _answers({ONE: 0.0, HALF: -0.3, QUARTER: -0.3}, seed=1)}
    seams = _answers({ONE: -0.3, HALF: 0.0, QUARTER: -0.3}, seeds=1, seed=2)
    order = lab.split_order(lab.lab_answers(short, {c: a[0] for c, a in seams.items()}))[1]
    reading = lab.order_reading(order, ["CRNN", "GRU"])
    assert reading.startswith("Reordering costs accuracy beyond the noise to the CRNN with blocks of 0.25 s but not "
                              "with 1 or 0.5 s; and to the GRU with blocks of 0.5 and 0.25 s but not with 1 s.")
    assert "With blocks of 0.5 s the bag of frames loses nothing beyond the noise" in reading
    assert "With blocks of 0.25 s the bag of frames loses too, so the seams may explain some of the loss" in reading
    assert reading.endswith("So whatever order these models use lies within stretches shorter than 1 s: the order "
                            "of longer stretches is worth no accuracy to them on this corpus, at this budget.")
    said = lab.order_sentence(lab.lab_effects(order))
    assert f"The {lab.PROBE} (1 s -" in said and "can only be the seams' new frame-to-frame changes" in said
    # models that keep their accuracy at every length; a model at chance is left out
    deaf = {"CRNN": _answers({ONE: 0.0, QUARTER: 0.0}), "GRU": _answers({ONE: 0.0, QUARTER: 0.0}, seed=3)}
    assert lab.order_reading(deaf, ["CRNN", "GRU"]).startswith(
        "So neither model needs the order of the blocks, down to blocks of 0.25 s.")
    assert lab.order_reading(deaf, ["CRNN"]).startswith("So the CRNN does not need the order")
    guess = _answers({ONE: 0.0}, base_rate=0.1)
    assert lab.order_reading({"CRNN": guess}, ["CRNN"]) == ("The order test cannot say anything of the CRNN: as "
                                                            "composed, its accuracy cannot be told from chance.")
    both = lab.order_reading({"CRNN": guess, "GRU": deaf["GRU"]}, ["CRNN", "GRU"])
    assert both.startswith("So the GRU does not need the order") and both.endswith(
        " The CRNN is left out: at chance as composed.")
    better = lab.order_sentence(lab.lab_effects({"CRNN": _answers({ONE: 0.3, HALF: -0.3})}))
    assert better.endswith("loses accuracy beyond the noise with blocks of 0.5 s; it does better beyond the noise "
                           "with blocks of 1 s out of order.")
    assert lab.order_sentence(lab.lab_effects({})) == "" and lab.seconds_list([]) == ""


def test_the_order_reading_gives_no_time_scale_when_losses_skip_a_shorter_block():
    # a loss with 1-s blocks but none with 0.5-s blocks, which break the same order: noise or seams, no time scale
    odd = {"CRNN": _answers({ONE: -0.3, HALF: 0.0, QUARTER: -0.3}), "GRU": _answers({ONE: 0.0, HALF: 0.0}, seed=4)}
    reading = lab.order_reading(odd, ["CRNN", "GRU"])
    assert reading.startswith("Reordering costs accuracy beyond the noise to the CRNN with blocks of 1 and 0.25 s "
                              "but not with 0.5 s. The GRU loses nothing beyond the noise at any block length.")
    assert "cannot serve as a gauge of the seams here (not asked" in reading        # no probe in the answers
    assert reading.endswith("For the CRNN the losses do not follow the block length (a shorter block, which breaks "
                            "the same order, costs nothing beyond the noise), so this test fixes no time scale for "
                            "it: the loss may be noise or the seams.")
    # one model read: singular words; a probe at chance is no gauge
    alone = {"CRNN": _answers({ONE: 0.0, HALF: -0.3}), lab.PROBE: _answers({ONE: 0.0, HALF: 0.0}, seeds=1,
                                                                            base_rate=0.08)}
    one = lab.order_reading(alone, ["CRNN"])
    assert "at chance as composed" in one and "loses nothing beyond the noise, so" not in one
    assert one.endswith("So whatever order this model uses lies within stretches shorter than 1 s: the order of "
                        "longer stretches is worth no accuracy to it on this corpus, at this budget.")
    # a change beyond the clips' interval but within the seeds' spread is said as such
    rng = np.random.default_rng(1)
    base = np.stack([rng.random(400) < p for p in (0.45, 0.60, 0.75)])
    held = base.copy()
    held[:, :40] = False
    said = lab.order_sentence(lab.lab_effects({"CRNN": {"none": base, ONE: held}}))
    assert said.endswith("moves beyond the clips' interval with blocks of 1 s, but by no more than its training seeds "
                         "differ from each other.")


# ---------------------------------------------------------------------------- trained under a control

def test_a_controlled_corpus_is_the_same_corpus_with_one_factor_common(tmp_path):
    """render_corpus(control=): the same files but the new data and FMA's other groups; the ten genres' clips
    changed; a key of its own; and it is reused."""
    from conftest import MINI_CORPUS

    from genre_utils.synth import render_corpus

    plain = render_corpus(tmp_path / "plain", MINI_CORPUS, progress=False)
    timbre = render_corpus(tmp_path / "timbre", MINI_CORPUS, progress=False, control="timbre")
    assert timbre["fingerprint"] != plain["fingerprint"] and timbre["control"] == "timbre"
    foreign = {f for f, style in _fma_styles().items() if style not in GENRES}
    assert set(timbre["files"]) == {f for f in plain["files"] if not f.startswith("newdata/") and f not in foreign}
    broken = {b["path"] for b in plain["broken"]}
    gtzan_good = {f for f in plain["files"] if f.startswith("gtzan/genres_original/") and f.endswith(".wav")
                  and f not in broken and plain["files"][f][0] > 200_000}      # 5 s of 16-bit audio
    assert gtzan_good and all(timbre["files"][f] != plain["files"][f] for f in gtzan_good)
    assert (tmp_path / "timbre" / "gtzan" / "artists.csv").read_bytes() == \
        (tmp_path / "plain" / "gtzan" / "artists.csv").read_bytes()
    assert render_corpus(tmp_path / "timbre", MINI_CORPUS, progress=False, control="timbre")["cached"]
    with pytest.raises(ValueError, match="unknown control"):
        render_corpus(tmp_path / "other", MINI_CORPUS, progress=False, control="loudness")


def _fma_styles() -> dict:
    """Relative path of every planned FMA-layout track -> the style it is composed in."""
    from conftest import MINI_CORPUS

    from genre_utils.synth import plan_fma

    return {t.relpath: t.style for t in plan_fma(MINI_CORPUS.synth_fma_tracks, MINI_CORPUS.clip_seconds,
                                                 MINI_CORPUS.seed)[0]}


def test_a_controlled_context_has_folders_and_keys_of_its_own(tmp_path):
    from genre_utils import context

    ctx = context.context("tiny", tmp_path / "build")
    lab_ctx = ctx.controlled("timbre")
    assert lab_ctx is ctx.controlled("timbre") and lab_ctx.control == "timbre" and lab_ctx.newdata is None
    assert lab_ctx.gtzan == tmp_path / "build" / "data" / "synth-tiny-timbre" / "gtzan"
    assert "rendered again with timbre made common to all genres" in lab_ctx.data_description
    assert "with timbre, tempo and harmony made common" in ctx.controlled("timbre-tempo-harmony").data_description
    assert context._run_name(tmp_path / "runs" / "tiny" / "lab-timbre" / "crnn-mfcc-random") == \
        "lab-timbre/crnn-mfcc-random"
    assert lab_ctx._tagged(["mfcc", "random"]) == ["lab:timbre", "mfcc", "random"]
    assert ctx._tagged(["mfcc", "random"]) == ["mfcc", "random"]
    with pytest.raises(ValueError):
        lab_ctx.controlled("tempo")
    real = context.context("tiny", tmp_path / "b2", gtzan=tmp_path / "gtzan")
    with pytest.raises(ValueError):
        real.controlled("timbre")
    assert context.lab_runs("quick") == [("crnn", "mfcc", "random", None, "timbre-tempo-harmony"),
                                          ("crnn-temporal", "mfcc", "random", None, "timbre-tempo-harmony")]
    assert [r[-1] for r in context.lab_runs("paper")][::2] == ["timbre", "tempo", "timbre-tempo-harmony"]
    assert context.lab_runs("no-such-profile") == []


@pytest.mark.parametrize("diffs, words", [
    ({"CRNN": (0.10, 0.03, 0.17), "CRNN with the GRU over time": (0.15, 0.08, 0.22)},
     ["the CRNN beats the bag of frames (+10 [+3, +17])", "the CRNN with the GRU over time beats"]),
    ({"CRNN": (-0.10, -0.17, -0.03), "CRNN with the GRU over time": (0.02, -0.05, 0.09)},
     ["the CRNN falls short of the bag of frames (-10 [-17, -3])", "cannot tell the CRNN with the GRU over time"]),
    ({"CRNN": (0.0, -0.06, 0.06)}, ["the test cannot tell the CRNN from the bag of frames (0 [-6, +6])"]),
])
def test_trained_sentence_follows_the_comparisons(diffs, words):
    comparisons = {name: {"difference": d, "low": lo, "high": hi, "level": 0.95, "beyond_interval": lo > 0 or hi < 0}
                   for name, (d, lo, hi) in diffs.items()}
    text = lab.trained_sentence(comparisons, "timbre")
    assert text.startswith("Trained and tested with timbre made common to all genres")
    for w in words:
        assert w in text
    assert lab.trained_sentence({}, "timbre") == "No model was trained on the timbre corpus."
    means = lab.trained_sentence(comparisons, "timbre-tempo-harmony", lab.PROBE_MEANS)
    assert means.startswith("Trained and tested with timbre, tempo and harmony made common to all genres (each model "
                            "minus the regression on track means")
    assert "bag of frames" not in means


def test_trained_comparisons_pair_each_model_with_the_probe():
    rng = np.random.default_rng(0)
    probe = rng.random(60) < 0.5
    answers = {"CRNN": {"none": np.ones((3, 60), bool), "timbre": np.ones((1, 60), bool)},
               lab.PROBE: {"none": probe[None, :], "timbre": probe[None, :]}}
    cmp = lab.trained_comparisons(answers, "timbre")
    assert list(cmp) == ["CRNN"] and cmp["CRNN"]["difference"] == pytest.approx(1 - probe.mean())
    assert cmp["CRNN"]["n_tracks"] == 60 and cmp["CRNN"]["beyond_interval"]
    answers[lab.PROBE_MEANS] = {"none": ~probe[None, :], "timbre": ~probe[None, :]}
    assert list(lab.trained_comparisons(answers, "timbre")) == ["CRNN"]              # a probe is never a model
    means = lab.trained_comparisons(answers, "timbre", lab.PROBE_MEANS)
    assert means["CRNN"]["difference"] == pytest.approx(probe.mean())


def _trained(n, rates, seed=0):
    """Answers of the trained laboratory on ``n`` tracks under 'timbre-tempo-harmony': name -> rate right."""
    rng = np.random.default_rng(seed)
    u = rng.random(n)
    return {name: {"none": (u < 0.6)[None, :], "timbre-tempo-harmony": (u < rate)[None, :]}
            for name, rate in rates.items()}


@pytest.mark.parametrize("rates, words, absent", [
    # spread and change worth much over the means; both models level with the richer probe
    ({lab.PROBE: 0.55, lab.PROBE_MEANS: 0.30, "CRNN": 0.55, "GRU CRNN": 0.55},
     ["is worth +", "how much and how fast the sound changes", "regressions here is the one on spread and change:",
      "the CRNN and the GRU CRNN cannot be told from it beyond the noise.",
      "Nothing here shows a model using the order"],
     ["gets more", "falls short"]),
    # one model ahead of the better probe, one level
    ({lab.PROBE: 0.45, lab.PROBE_MEANS: 0.30, "CRNN": 0.45, "GRU CRNN": 0.75},
     ["the GRU CRNN gets more of the genre out of the music than a linear regression on those statistics does",
      "the CRNN cannot be told from it beyond the noise"], ["Nothing here shows"]),
    # the probes tied: the richer one is the yardstick; both models short of it
    ({lab.PROBE: 0.60, lab.PROBE_MEANS: 0.60, "CRNN": 0.30, "GRU CRNN": 0.25},
     ["cannot tell the regression with each feature's spread and change from the one on means alone",
      "regressions here is the one on spread and change:", "the CRNN and the GRU CRNN fall short of it"],
     ["gets more"]),
    # the means probe better: a model above the richer probe but below the means one is not said to beat anything
    ({lab.PROBE: 0.30, lab.PROBE_MEANS: 0.60, "CRNN": 0.45, "GRU CRNN": 0.60},
     ["does worse than the one on means alone", "cost the regression more than they add",
      "regressions here is the one on track means:",
      "the GRU CRNN cannot be told from it beyond the noise", "the CRNN falls short of it"], ["gets more"]),
    # one ahead, one behind: both said
    ({lab.PROBE: 0.50, lab.PROBE_MEANS: 0.30, "CRNN": 0.70, "GRU CRNN": 0.30},
     ["the CRNN gets more of the genre", "the GRU CRNN falls short of it"], ["Nothing here shows", "cannot be told"]),
])
def test_trained_reading_is_chosen_by_the_results(rates, words, absent):
    answers = _trained(400, rates)
    text = lab.trained_reading(answers, "timbre-tempo-harmony")
    assert text.startswith("On the corpus with timbre, tempo and harmony made common")
    for w in words:
        assert w in text, text
    for w in absent:
        assert w not in text, text
    assert lab.trained_reading({"CRNN": answers["CRNN"]}, "timbre-tempo-harmony") == ""   # no probes, no reading


def test_a_controlled_run_borrows_the_seed_spread_of_its_runs_as_composed():
    """One seed under the control: a gap beyond the tracks' interval but within the spread of the model's seeds as
    composed is not called a difference (another training run can move a controlled CRNN by 11 points)."""
    answers = _trained(400, {lab.PROBE: 0.50, lab.PROBE_MEANS: 0.30, "CRNN": 0.45})
    u = np.random.default_rng(1).random(400)
    answers["CRNN"]["none"] = np.array([u < 0.40, u < 0.50, u < 0.60])        # seeds 20 points apart as composed
    c = lab.trained_comparisons(answers, "timbre-tempo-harmony")["CRNN"]
    assert c["beyond_interval"] and not c["beyond_noise"] and c["spread_stand_in"]
    assert c["spread_a"] == pytest.approx(0.2, abs=0.03)
    said = lab.trained_sentence({"CRNN": c}, "timbre-tempo-harmony")
    assert "the CRNN is below the bag of frames beyond the test tracks' interval" in said
    assert "by no more than the training seeds of the models trained as composed differ (up to " in said
    assert "falls short" not in said
    assert "the CRNN cannot be told from it beyond the noise" in lab.trained_reading(answers, "timbre-tempo-harmony")
    answers["CRNN"]["none"] = np.array([u < 0.59, u < 0.60, u < 0.61])        # seeds close: now a difference
    c = lab.trained_comparisons(answers, "timbre-tempo-harmony")["CRNN"]
    assert c["beyond_noise"]
    assert "the CRNN falls short of the bag of frames" in lab.trained_sentence({"CRNN": c}, "timbre-tempo-harmony")
    answers["GRU CRNN"] = {"none": np.array([u < 0.40, u < 0.60]), "timbre-tempo-harmony": (u < 0.5)[None, :]}
    c = lab.trained_comparisons(answers, "timbre-tempo-harmony")["CRNN"]
    assert not c["beyond_noise"] and c["spread_a"] == pytest.approx(0.2, abs=0.03)   # the widest spread of any model


def test_trained_reading_of_one_model():
    answers = _trained(400, {lab.PROBE: 0.60, lab.PROBE_MEANS: 0.30, "CRNN": 0.30})
    text = lab.trained_reading(answers, "timbre-tempo-harmony")
    assert "the CRNN falls short of it." in text and "fall short" not in text
    only_probes = {k: v for k, v in answers.items() if k != "CRNN"}
    probes_only = lab.trained_reading(only_probes, "timbre-tempo-harmony")   # no model trained: the probes alone
    assert "is worth +30 points" in probes_only and "The better of the two" not in probes_only


def test_split_sentence_counts_the_tracks_that_move():
    a = pd.Series({"t1": "train", "t2": "test", "t3": "valid"})
    same = lab.split_sentence(a, a.copy(), "timbre")
    assert same.startswith("Both corpora hold the same 3 tracks in the same splits")
    moved = lab.split_sentence(a, pd.Series({"t1": "test", "t2": "test", "t4": "train"}), "timbre")
    assert "Of the 2 tracks both corpora hold, 1 falls in another split" in moved
    assert "2 are in one corpus only" in moved
