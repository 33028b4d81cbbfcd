"""Benchmark 4: prediction, seconds of MP3 audio classified per second."""


from pathlib import Path

import numpy as np

from ..config import FeatureParams
from .common import bench_log, other_load, report_row, time_calls


# ------------------------------------------------------------------------------------ 4. prediction
def _write_mp3s(clips: np.ndarray, sample_rate: int, folder: Path, rate_out: int = 44100) -> list[Path]:
    """MP3 files (64 kbit/s at ``rate_out`` Hz, like FMA's) of the clips."""
    import soxr

    # deferred: slow to import, loaded for this measurement only
    from ..audio import write_mp3

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, clip in enumerate(clips):
        path = folder / f"clip{i:03d}.mp3"
        write_mp3(path, soxr.resample(clip, sample_rate, rate_out), rate_out, 64)
        paths.append(path)
    return paths


def bench_prediction(clips: np.ndarray, params: FeatureParams, folder: Path, repeat: int = 2,
                     seed: int = 0) -> list[dict]:
    """Seconds of MP3 audio classified per second by :func:`genre_utils.evaluate.evaluate_files`.

    Parameters
    ----------
    clips : ndarray, shape (n_files, n_samples), float32
        Encoded to MP3 first (not timed).
    params : FeatureParams
    folder : Path
    repeat : int
    seed : int
        Seed of the freshly initialised CRNN.

    Returns
    -------
    rows : list of dict
        ``prediction`` (report only), with the decode-only time in the raw timings.
    """
    import torch

    # deferred: slow to import, loaded for this measurement only
    from ..audio import load_audio
    from ..evaluate import evaluate_files
    from ..models import build_model
    from ..train import set_threads

    set_threads()
    paths = _write_mp3s(clips, params.sample_rate, folder / "mp3")
    model = build_model("crnn", input_shape=params.shape, seed=seed).to(memory_format=torch.channels_last).eval()
    audio_seconds = len(paths) * clips.shape[1] / params.sample_rate
    bench_log(f"prediction: evaluate_files on {len(paths)} mp3 files ({audio_seconds:.0f} s of audio)")
    evaluate_files(model, paths[:1], params, progress=False)  # warm-up: numba, torch, decoder
    timings, table = time_calls(lambda: evaluate_files(model, paths, params, progress=False), repeat, warmup=0)
    decode, _ = time_calls(lambda: [load_audio(p, params.sample_rate) for p in paths], repeat, warmup=0)
    errors = int((table["error"] != "").sum())
    rate = audio_seconds / timings["best"]
    return [report_row("prediction", "prediction: seconds of mp3 audio classified per second (evaluate_files)", rate,
                       "audio s/s", detail=f"{len(paths)} files, {audio_seconds:.0f} s in {timings['best']:.2f} s "
                       f"(decode alone {decode['best']:.2f} s); files with errors: {errors}",
                       raw={"n_files": len(paths), "audio_seconds": audio_seconds, "evaluate_files_s": timings,
                      "decode_only_s": decode, "files_with_errors": int(errors)},
                 status="report" if errors == 0 else "fail", other_cores=other_load(timings))]
