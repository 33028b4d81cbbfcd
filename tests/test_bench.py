"""The benchmark module runs end to end at tiny sizes and writes a well-formed report.

Benchmarks are not timed tests: nothing here asserts a speed or a target. The checks are that every
measurement runs, the equality checks between the project's and the paper's ways hold, the ratios are
positive numbers and the report files are complete.
"""

import json
import os
import time

import numpy as np
import pytest

from genre_utils import bench
from genre_utils.bench import clips as bench_clips
from genre_utils.bench import end_to_end as bench_end_to_end
from genre_utils.bench import features as bench_features
from genre_utils.config import FeatureParams
from genre_utils.models import build_model

TINY = bench.BenchConfig(profile="tiny", n_clips=2, clip_seconds=10.0, clip_source="tones", n_windows=50,
                         repeat=1, batch_size=8, train_steps=1, warmup_steps=0, matmul_size=128, n_files=2,
                         profile_training=True)
ROW_IDS = ["cpu_meter", "features_batched", "features_store_parallel", "features_equal",
           "storage_load", "storage_size", "matmul", "training_channels_last", "training_channels_last_cpu",
           "training_nchw", "prediction", "gpu_paper_training", "gpu_paper_flops"]
GPU_ROWS = ("gpu_paper_training", "gpu_paper_flops")


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory):
    """One tiny run through the command line (``main``), with the sizes above."""
    build = tmp_path_factory.mktemp("build")
    mp = pytest.MonkeyPatch()
    mp.setattr(bench.BenchConfig, "default", classmethod(lambda cls, profile="quick", quick=False: TINY))
    try:
        assert bench.main(["--build-dir", str(build)]) == 0
    finally:
        mp.undo()
    return build


def rows_by_id(report):
    return {row["id"]: row for row in report["rows"]}


def test_report_files_are_written_and_complete(bench_run, capsys):
    report = json.loads((bench_run / "bench" / "report.json").read_text())
    rows = rows_by_id(report)
    assert list(rows) == ROW_IDS
    for row_id in GPU_ROWS:   # never estimated: without a GPU measurement the row holds no value
        assert rows[row_id]["status"] == "not measured" and rows[row_id]["value"] is None
        assert "not run" in rows[row_id]["detail"]
    for row in report["rows"]:
        assert set(row) >= {"id", "what", "value", "unit", "target", "status", "detail", "other_cores", "raw"}
        if row["id"] in GPU_ROWS:
            continue
        assert row["status"] in ("pass", "fail", "report"), row["id"]
        if row["id"] == "cpu_meter":   # a count of busy cores, which scheduling decides: only its form is tested
            assert row["value"] is not None and row["value"] >= 0 and row["raw"]["cpu_s"] > 0
            continue
        assert row["value"] is not None and row["value"] > 0, row["id"]
        assert (row["target"] is None) == (row["status"] == "report"), row["id"]
    assert rows["features_batched"]["target"]["value"] == 3.0
    assert rows["storage_load"]["target"]["value"] == 50.0
    assert rows["training_channels_last"]["target"] == {"op": ">=", "value": 50.0, "text": ">= 50 %"}
    machine = report["machine"]
    assert machine["cores"] >= 1 and machine["torch_threads"] >= 1
    assert machine["versions"]["torch"] and machine["versions"]["librosa"]
    # the scratch files are gone; only the report stays
    assert sorted(p.name for p in (bench_run / "bench").iterdir()) == ["report.json", "report.md"]
    table = bench.report.rows_table(report)
    assert list(table.index) == [row["what"] for row in report["rows"]]
    assert table.loc[rows["gpu_paper_training"]["what"], "value"] == "-"   # not measured: no value shown
    markdown = (bench_run / "bench" / "report.md").read_text()
    assert "| measure | value | target | status | busy | detail |" in markdown
    for row in report["rows"]:
        assert row["what"] in markdown


def test_feature_outputs_agree_with_the_papers_loop(bench_run):
    rows = rows_by_id(json.loads((bench_run / "bench" / "report.json").read_text()))
    raw = rows["features_batched"]["raw"]
    assert raw["n_clips"] == 2 and raw["windows"] == 4          # 10-s clips: two 5-s windows each
    assert raw["paper_clips_per_s"] > 0 and raw["project_clips_per_s"] > 0
    equal = rows["features_equal"]
    assert equal["raw"]["equal_to_paper"]["allclose"] and equal["raw"]["equal_to_paper"]["windows_differing"] == 0
    assert equal["value"] == 100.0 and equal["status"] == "pass"
    store = rows["features_store_parallel"]["raw"]
    assert store["equal_to_project_float16"]["allclose"]
    storage = rows["storage_load"]["raw"]
    assert storage["project_equal"]["allclose"] and storage["paper_equal"]["allclose"]
    assert storage["paper_bytes"] > storage["project_bytes"] > 50 * 64 * 235 * 2   # float16 payload at least


def test_training_rows_count_flops_and_profile(bench_run):
    report = json.loads((bench_run / "bench" / "report.json").read_text())
    rows = rows_by_id(report)
    raw = rows["training_channels_last"]["raw"]
    assert raw["batch_size"] == 8 and len(raw["step_s"]["runs"]) == 1
    # measured, not 3x: the first convolution computes no input gradient
    assert 2.5 * raw["forward_flops_per_sample"] < raw["train_flops_per_sample"] < 3 * raw["forward_flops_per_sample"]
    assert raw["train_to_forward"] == pytest.approx(raw["train_flops_per_sample"] / raw["forward_flops_per_sample"])
    assert raw["fraction_of_matmul_cpu_time"] > 0 and len(raw["step_s"]["cpu_s"]) == 1
    expected = raw["samples_per_s"] * raw["train_flops_per_sample"] / 1e9 / raw["matmul_gflops"] * 100
    assert rows["training_channels_last"]["value"] == pytest.approx(expected)
    profile = report["training_profile"]
    assert profile["summary"] and set(profile["conv_layers"]) == {"conv1", "conv2", "conv3", "conv4"}
    assert sum(g["share"] for g in profile["groups"].values()) == pytest.approx(1.0)
    assert rows["prediction"]["raw"]["files_with_errors"] == 0
    assert rows["prediction"]["raw"]["audio_seconds"] == pytest.approx(20.0)


def test_flop_counts_follow_the_layer_shapes():
    model = build_model("crnn", input_shape=(64, 235))
    flops = bench.count_flops(model, (64, 235))
    fwd = flops["forward"]
    assert list(fwd)[:4] == ["conv1", "conv2", "conv3", "conv4"]
    # 2 FLOPs per multiply-accumulate; MACs of a conv: C_out * H_out * W_out * (C_in * k_h * k_w)
    assert fwd["conv1"] == 2 * 32 * 60 * 231 * (1 * 5 * 5)
    assert fwd["conv2"] == 2 * 64 * 26 * 111 * (32 * 5 * 5)
    assert fwd["conv4"] == 2 * 256 * 3 * 24 * (128 * 3 * 3)
    assert fwd["gru"] == 2 * 2 * 3 * 512 * (3072 + 512)          # one step, two directions, three gates
    assert fwd["fc1"] == 2 * 1024 * 256 and fwd["fc3"] == 2 * 64 * 10
    assert flops["forward_total"] == sum(fwd.values())
    # backward: input and weight gradients of every layer, except the gradients with respect to the
    # window (first convolution) and to the GRU's zero initial state (its hidden-to-hidden product, 2 x 3 gates)
    no_input_grad = fwd["conv1"] + 2 * 2 * 3 * 512 * 512
    assert flops["train_total"] == pytest.approx(3 * flops["forward_total"] - no_input_grad, rel=1e-9)
    assert all(p.grad is None for p in model.parameters())      # counting leaves no gradients behind


def test_stringified_matrix_parses_back():
    rng = np.random.default_rng(1)
    m = (rng.standard_normal((7, 33)) * [[1e-3], [1], [10], [100], [500], [-3], [0]]).astype(np.float32)
    text = bench.stringify_matrix(m)
    assert "..." not in text                                   # the infinite threshold keeps every value
    back = bench.parse_matrix(text)
    assert back.shape == m.shape and np.allclose(back, m, rtol=1e-6, atol=0)
    assert bench.parse_matrix(bench.stringify_matrix(m[:1])).shape == (1, 33)


def test_compare_counts_differing_windows():
    a = np.zeros((5, 4, 3), np.float32)
    b = a.copy()
    b[3, 2, 1] = 0.5
    result = bench_features.compare_features(a, b, rtol=1e-4, atol=1e-3)
    assert not result["allclose"] and result["windows_differing"] == 1 and result["max_abs_diff"] == 0.5
    assert bench_features.compare_features(a, a[:4], 1e-4, 1e-3)["allclose"] is False


def test_clips_are_deterministic_and_fall_back_to_tones(monkeypatch):
    a, source = bench.make_clips(2, seconds=1.0, source="tones", seed=3)
    b, _ = bench.make_clips(2, seconds=1.0, source="tones", seed=3)
    assert source == "tones" and a.shape == (2, 22050) and a.dtype == np.float32
    assert np.array_equal(a, b) and not np.array_equal(a[0], a[1])

    def broken(*args, **kwargs):
        raise RuntimeError("no soundfont")

    monkeypatch.setattr(bench_clips, "_synth_clip", broken)
    c, source = bench.make_clips(2, seconds=1.0, source="synth", seed=3)
    assert source == "tones" and np.array_equal(c, a)


def test_tree_rss_counts_this_process_and_its_children():
    import subprocess
    import sys

    import psutil

    own = psutil.Process().memory_info().rss
    child = subprocess.Popen([sys.executable, "-c", "import sys, time; b = bytearray(300 * 2**20); b[::4096] = "
                              "b'x' * len(b[::4096]); print('ready', flush=True); time.sleep(30)"],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"  # the 300 MiB are touched, so resident
        time.sleep(0.1)
        assert bench_end_to_end._tree_rss_bytes(os.getpid()) > own + 250 * 2 ** 20
    finally:
        child.kill()
        child.wait()
    assert bench_end_to_end._tree_rss_bytes(2 ** 22 + 12345) == 0  # no such process


def test_default_sizes():
    full, quick = bench.BenchConfig.default("quick"), bench.BenchConfig.default("quick", quick=True)
    assert full.n_windows == 2000 and full.batch_size == 200 and full.n_clips == 20
    assert quick.n_clips < full.n_clips and quick.n_windows < full.n_windows
    assert full.params == FeatureParams()


def test_difference_diagnosis_points_at_batching():
    p = FeatureParams()
    clips, _ = bench.make_clips(1, seconds=10.0, source="tones", seed=5)
    paper = bench.extract_paper(clips, p)
    same = {"rtol": 1e-4, "atol": 1e-3}
    assert "batch" in bench_features._diagnose_difference(clips, p, paper, same)
    assert "still differ" in bench_features._diagnose_difference(clips, p, paper + 1.0, same)


def test_cpu_meter_subtracts_its_own_time_from_the_machines(monkeypatch):
    """The meter's arithmetic on scripted counters (the live check, which scheduling decides, is the
    ``cpu_meter`` row of ``make bench``): other cores = (machine busy - own) / wall, never negative, None
    where the machine's counters cannot be read."""
    readings = iter([(100.0, 10.0, 50.0), (103.0, 10.5, 52.0),     # 3 s busy, 0.5 s own, 2 s wall
                     (100.0, 10.0, 50.0), (100.2, 10.5, 51.0),     # own time above the machine's: clamped
                     (None, 10.0, 50.0), (None, 11.0, 51.0)])
    monkeypatch.setattr(bench.CpuMeter, "_counters", staticmethod(lambda: next(readings)))
    assert bench.CpuMeter().start().read() == {"cpu_s": 0.5, "other_cores": pytest.approx(1.25)}
    assert bench.CpuMeter().start().read() == {"cpu_s": 0.5, "other_cores": 0.0}
    assert bench.CpuMeter().start().read() == {"cpu_s": 1.0, "other_cores": None}


@pytest.mark.slow
def test_paper_recipe_records_its_curve_and_refuses_a_small_store(tmp_path, capsys):
    """The paper recipe's benchmark on a tiny store (any profile allowed here): one step, its curve, its rows."""
    from fixtures_audio import make_gtzan_tree

    from genre_utils.bench.paper_recipe import bench_paper_recipe
    from genre_utils.cli import main as cli_main
    from genre_utils.genres import GENRES

    make_gtzan_tree(tmp_path / "gtzan", "tarball", GENRES, range(4), seconds=10.5)
    assert cli_main(["dataset", "--gtzan", str(tmp_path / "gtzan"), "--profile", "tiny", "--out",
                     str(tmp_path / "ds"), "--workers", "1", "--quiet"]) == 0
    capsys.readouterr()
    build = tmp_path / "build"
    assert bench.main(["--build-dir", str(build), "--skip-micro", "--paper-recipe", str(tmp_path / "ds"),
                       "--time-limit", "1s"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"python -m genre_utils.bench: {tmp_path / 'ds'} was built with the 'tiny' profile; the paper "
                       "recipe is measured on the paper's sizes: build one with `make data PROFILE=paper`")
    rows, record = bench_paper_recipe(tmp_path / "ds", build / "bench", time_limit=1e-9, eval_every=1, device="cpu",
                                      require_profile=None, command="test")
    assert json.loads((build / "bench" / "paper_recipe.json").read_text()) == json.loads(json.dumps(record))
    assert [r["step"] for r in record["step_log"]] == [0, 1]   # before training, and at the stop
    assert record["stopped"]["reason"] == "time_limit" and record["train_config"]["lr"] == 2e-5
    assert record["train_config"]["batchnorm"] is False and record["store"]["synthetic"] is False
    by_id = {r["id"]: r for r in rows}
    first_batch = min(200, record["store"]["n_windows"]["train"])
    assert by_id["paper_recipe_rate"]["value"] == pytest.approx(first_batch / record["step_log"][-1]["seconds"])
    assert by_id["paper_recipe_projection"]["value"] == pytest.approx(
        15 * record["store"]["n_windows"]["train"] / by_id["paper_recipe_rate"]["value"] / 3600)
    assert "projection" in by_id["paper_recipe_projection"]["detail"]
    assert "n = " in by_id["paper_recipe_valid_acc"]["detail"]
    assert by_id["gpu_paper_training"]["status"] == "not measured" and by_id["gpu_paper_training"]["value"] is None
    # the checkpoint is tested only when an epoch finished (here an epoch is one step of 200 windows)
    finished = record["epochs_finished"] > 0
    assert (record["evaluation"] is not None) == finished and ("paper_recipe_test_acc" in by_id) == finished
    # a run that finishes its epochs: the best checkpoint is tested on the store's test tracks
    rows, record = bench_paper_recipe(tmp_path / "ds", build / "bench2", time_limit=600, eval_every=1000,
                                      device="cpu", require_profile=None, command="test")
    assert record["epochs_finished"] == record["train_config"]["epochs"]
    ev = record["evaluation"]
    assert ev["checkpoint"] == "best.pt" and ev["newdata_files"] is None      # a real-layout store: no new data
    assert ev["test_tracks"]["n"] > 0 and 0 <= ev["test_tracks"]["k"] <= ev["test_tracks"]["n"]
    test_row = {r["id"]: r for r in rows}["paper_recipe_test_acc"]
    assert test_row["value"] == pytest.approx(100 * ev["test_tracks"]["k"] / ev["test_tracks"]["n"])
    # the bag-of-frames probes on the same test tracks, paired with the CRNN track by track
    for summary in ("mean", "dynamics"):
        probe = ev["bag_of_frames"][summary]
        assert probe["n"] == ev["test_tracks"]["n"] == probe["paired"]["n_tracks"] and 0 <= probe["k"] <= probe["n"]
        assert probe["paired"]["difference"] == pytest.approx((ev["test_tracks"]["k"] - probe["k"]) / probe["n"])
