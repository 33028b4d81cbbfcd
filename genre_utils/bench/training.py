"""Benchmark 3: training throughput, converted to FLOP/s and set against the machine's matmul rate."""


import time

import numpy as np

from ..config import FeatureParams, get_profile
from .common import BenchConfig, CpuMeter, bench_log, other_load, report_row, time_calls, timing_summary
from .storage import tile_windows


# -------------------------------------------------------------------------------------- 3. training
def count_flops(model, input_shape) -> dict:
    """FLOPs of one sample through ``model``, forward and forward + backward, counted by torch itself.

    :class:`torch.utils.flop_counter.FlopCounterMode` records the FLOPs of every matrix product and
    convolution the dispatcher runs (2 per multiply-accumulate, the usual convention), the GRU's included;
    element-wise work (ReLU, pooling, batch norm, gate non-linearities) is not counted. The forward pass is
    attributed to modules reliably; the backward pass only as a total (the counter's module attribution in
    backward is not reliable: it credits gradients of a convolution to the module after it).

    Parameters
    ----------
    model : nn.Module
    input_shape : (int, int)
        ``(height, n_frames)`` of one window.

    Returns
    -------
    flops : dict
        ``forward`` (leaf module name -> forward FLOPs, in the order the model defines them),
        ``forward_total`` and ``train_total`` (forward + backward with gradients for every parameter).
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.train()
    x = torch.zeros(1, 1, *input_shape)
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as forward:
            model(x)
        with FlopCounterMode(display=False) as train:
            model(x).sum().backward()
    finally:
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    counts = {name.split(".", 1)[1]: sum(ops.values()) for name, ops in forward.get_flop_counts().items()
              if "." in name}
    order = [name for name, _ in model.named_modules() if name in counts]
    return {"forward": {name: int(counts[name]) for name in order},
            "forward_total": float(forward.get_total_flops()), "train_total": float(train.get_total_flops())}


def matmul_gflops(n: int = 2048, repeat: int = 5) -> dict:
    """fp32 ``torch.mm`` of two n x n matrices: the machine's practical peak, best of ``repeat``.

    Returns
    -------
    result : dict
        ``gflops`` (2 n^3 / best time / 1e9), ``gflops_per_cpu_s`` (the same per CPU second, which a
        shared machine does not lower), ``n``, ``seconds`` (raw timings).
    """
    import torch

    gen = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=gen)
    b = torch.randn(n, n, generator=gen)
    timings, _ = time_calls(lambda: torch.mm(a, b), repeat)
    return {"gflops": 2 * n ** 3 / timings["best"] / 1e9, "n": n, "seconds": timings,
            "gflops_per_cpu_s": 2 * n ** 3 / max(min(timings["cpu_s"]), 1e-9) / 1e9}


def _training_batch(features: np.ndarray, batch_size: int, seed: int):
    rng = np.random.default_rng(seed)
    X = tile_windows(features, batch_size).astype(np.float32)
    y = rng.integers(0, 10, batch_size)
    return X, y


def _new_crnn(features: np.ndarray, input_shape, seed: int, channels_last: bool):
    import torch

    # deferred: slow to import, loaded for this measurement only
    from ..models import build_model, feature_stats

    mean, std = feature_stats(features)
    model = build_model("crnn", input_shape=tuple(input_shape), mean=mean, std=std, seed=seed)
    return model.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)


def time_training_steps(model, X: np.ndarray, y: np.ndarray, steps: int, warmup: int = 1,
                        channels_last: bool = True, profile: bool = False) -> dict:
    """Time optimiser steps of ``model`` on one batch, as :func:`genre_utils.train.fit` runs them.

    Adam (the paper profile's lr and weight decay), cross-entropy, training mode, deterministic algorithms
    requested with ``warn_only`` (fit's default), the batch built from a float32 tensor per step.

    Parameters
    ----------
    model : nn.Module
    X : ndarray, shape (batch, height, n_frames), float32
    y : ndarray of int, shape (batch,)
    steps, warmup : int
        Timed and untimed steps (``steps=0`` with ``profile=True``: only the profiled step after warm-up).
    channels_last : bool
        Input memory format (the model should already be in the same format).
    profile : bool
        Run one more step under ``torch.profiler`` and return it as ``profiler``.

    Returns
    -------
    result : dict
        ``batch_size``; with timed steps ``step_s`` (raw, best, median, CPU seconds, other processes' cores),
        ``forward_s``, ``backward_s``,
        ``optimizer_s`` (per timed step) and ``samples_per_s`` (batch / best step); ``profiler`` when asked.
    """
    import torch
    from torch import nn

    # deferred: slow to import, loaded for this measurement only
    from ..train import make_optimizer

    profile_cfg = get_profile("paper")
    optimizer = make_optimizer(model, profile_cfg.lr, profile_cfg.weight_decay)
    criterion = nn.CrossEntropyLoss()
    data = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
    labels = torch.from_numpy(np.asarray(y, dtype=np.int64))
    idx = torch.arange(len(labels))
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model.train()

    def step():
        t0 = time.perf_counter()
        xb = data[idx].unsqueeze(1).contiguous(memory_format=fmt)
        loss = criterion(model(xb), labels[idx])
        t1 = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        t2 = time.perf_counter()
        optimizer.step()
        t3 = time.perf_counter()
        return t1 - t0, t2 - t1, t3 - t2

    previous = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        for _ in range(warmup):
            step()
        phases, meters = [], []
        for _ in range(steps):
            meter = CpuMeter().start()
            phases.append(step())
            meters.append(meter.read())
        phases = np.array(phases).reshape(-1, 3)
        prof = None
        if profile:
            from torch.profiler import ProfilerActivity
            from torch.profiler import profile as torch_profile

            with torch_profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
                step()
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])
    out = {"batch_size": len(labels)}
    if len(phases):
        totals = timing_summary(phases.sum(axis=1), meters)
        out.update({"step_s": totals, "forward_s": phases[:, 0].tolist(), "backward_s": phases[:, 1].tolist(),
                    "optimizer_s": phases[:, 2].tolist(), "samples_per_s": len(labels) / totals["best"]})
    if prof is not None:
        out["profiler"] = prof
    return out


def _op_group(name: str) -> str:
    """Coarse group of a profiler op name (self time is summed per group)."""
    n = name.lower()
    if "conv" in n:
        return "conv backward" if "backward" in n else "conv forward"
    if n in ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul") or "gru" in n or "rnn" in n:
        return "matmul (GRU, linear)"
    if any(k in n for k in ("relu", "clamp", "threshold", "pool")):
        return "ReLU and max-pool (fwd + bwd)"
    if any(k in n for k in ("fill_", "zero_", "copy_", "cat", "clone", "empty", "stack")):
        return "memory (fill, copy, cat)"
    if any(k in n for k in ("lerp", "addcmul", "addcdiv", "sqrt", "foreach")):
        return "Adam update"
    return "other"


def analyse_profile(prof, model, flops: dict, batch_size: int) -> dict:
    """What bounds a profiled training step: time per op group and GFLOP/s of every conv layer.

    Parameters
    ----------
    prof : torch.profiler.profile
        One training step, recorded with ``record_shapes=True``.
    model : nn.Module
    flops : dict
        :func:`count_flops` of the model.
    batch_size : int

    Returns
    -------
    analysis : dict
        ``total_self_s``; ``groups`` (group -> seconds and share); ``conv_layers`` (per layer: forward
        and backward seconds and GFLOP/s); ``top_ops`` (name, input shapes, self seconds, calls).
    """
    from torch import nn

    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events) / 1e6
    groups: dict[str, float] = {}
    for e in events:
        groups[_op_group(e.key)] = groups.get(_op_group(e.key), 0.0) + e.self_cpu_time_total / 1e6
    groups = {k: {"seconds": v, "share": v / total} for k, v in sorted(groups.items(), key=lambda kv: -kv[1])}

    shaped = prof.key_averages(group_by_input_shape=True)
    convs = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    layers = {}
    for i, (name, conv) in enumerate(convs):
        weight = list(conv.weight.shape)
        fwd = sum(e.self_cpu_time_total for e in shaped if "conv" in e.key.lower()
                  and "backward" not in e.key.lower() and weight in [list(s) for s in e.input_shapes]) / 1e6
        bwd = sum(e.self_cpu_time_total for e in shaped if "convolution_backward" in e.key.lower()
                  and weight in [list(s) for s in e.input_shapes]) / 1e6
        fwd_flops = float(flops["forward"].get(name, 0)) * batch_size
        # a convolution's backward is two convolutions of the forward's size (input and weight gradients),
        # one for the first layer, whose input needs no gradient
        bwd_flops = fwd_flops * (1 if i == 0 else 2)
        layers[name] = {"forward_s": fwd, "backward_s": bwd,
                        "forward_gflops": fwd_flops / fwd / 1e9 if fwd else None,
                        "backward_gflops": bwd_flops / bwd / 1e9 if bwd else None,
                        "share_of_step": (fwd + bwd) / total}
    top = sorted(shaped, key=lambda e: -e.self_cpu_time_total)[:15]
    top_ops = [{"name": e.key, "input_shapes": [list(s) for s in e.input_shapes if s][:2],
                "self_s": e.self_cpu_time_total / 1e6, "share": e.self_cpu_time_total / 1e6 / total,
                "calls": e.count} for e in top]
    return {"total_self_s": total, "groups": groups, "conv_layers": layers, "top_ops": top_ops}


def _bounds_text(analysis: dict, matmul: float) -> str:
    """A few sentences naming what takes the step's time, from :func:`analyse_profile`."""
    parts = [f"{g} {v['seconds']:.2f} s ({100 * v['share']:.0f} %)" for g, v in list(analysis["groups"].items())[:5]]
    text = f"profiled step ({analysis['total_self_s']:.2f} s of op self time): " + ", ".join(parts) + "."
    layer_bits = []
    for name, v in analysis["conv_layers"].items():
        f, b = v["forward_gflops"], v["backward_gflops"]
        layer_bits.append(f"{name} fwd {f or 0:.0f} / bwd {b or 0:.0f} GFLOP/s "
                          f"({100 * v['share_of_step']:.0f} % of step)")
    if layer_bits:
        text += f" Conv layers vs matmul {matmul:.0f} GFLOP/s: " + "; ".join(layer_bits) + "."
    flop_free = sum(v["share"] for g, v in analysis["groups"].items()
                    if g not in ("conv forward", "conv backward", "matmul (GRU, linear)"))
    text += f" Ops without counted FLOPs take {100 * flop_free:.0f} % of the step."
    return text


def bench_training(features: np.ndarray, params: FeatureParams, config: BenchConfig) -> tuple[list[dict], dict]:
    """CRNN training throughput as a fraction of the fp32 matmul rate, channels_last and NCHW.

    Parameters
    ----------
    features : ndarray, shape (n, height, n_frames), float32
        Windows the batch is made of (repeated to ``config.batch_size``).
    params : FeatureParams
    config : BenchConfig

    Returns
    -------
    rows : list of dict
        ``matmul``, ``training_channels_last`` and ``training_channels_last_cpu`` (target: wall-clock and
        CPU-time ratios), ``training_nchw`` (report).
    profile : dict
        :func:`analyse_profile` result and its summary text (empty when not profiled).
    """
    import torch

    # deferred: slow to import, loaded for this measurement only
    from ..train import set_threads

    threads = set_threads()
    X, y = _training_batch(features, config.batch_size, config.seed)
    probe = _new_crnn(features, params.shape, config.seed, channels_last=False)
    flops = count_flops(probe, params.shape)
    forward_flops, train_flops = flops["forward_total"], flops["train_total"]
    flop_raw = {"forward_flops_by_layer": flops["forward"], "forward_flops_per_sample": forward_flops,
                "train_flops_per_sample": train_flops, "train_to_forward": train_flops / forward_flops,
                "formula": "train = 3 x forward; forward = 2 x MACs of conv, GRU and linear layers"}

    bench_log(f"training: fp32 matmul {config.matmul_size}x{config.matmul_size} ({threads} threads)")
    mm_repeat = max(3, config.repeat + 2)
    mm_before = matmul_gflops(config.matmul_size, repeat=mm_repeat)
    results, profile = {}, {}
    for channels_last in (True, False):
        label = "channels_last" if channels_last else "NCHW"
        bench_log(f"training: CRNN batch {config.batch_size}, {label}, {config.warmup_steps} warm-up + "
                  f"{config.train_steps} timed steps")
        model = _new_crnn(features, params.shape, config.seed, channels_last)
        results[label] = time_training_steps(model, X, y, config.train_steps, config.warmup_steps, channels_last)
    bench_log("training: fp32 matmul again (the reference is the better of before and after)")
    mm_after = matmul_gflops(config.matmul_size, repeat=mm_repeat)
    peak = max(mm_before["gflops"], mm_after["gflops"])
    rows = [report_row(
        "matmul", f"fp32 torch.mm {config.matmul_size}x{config.matmul_size} (reference peak)", peak,
        "GFLOP/s", detail=f"{threads} torch threads; best of before ({mm_before['gflops']:.1f}) and "
        f"after ({mm_after['gflops']:.1f}) the training runs", raw={"before": mm_before, "after": mm_after},
        other_cores=other_load(mm_before["seconds"], mm_after["seconds"]))]
    peak_cpu = max(mm_before["gflops_per_cpu_s"], mm_after["gflops_per_cpu_s"])
    for label, res in results.items():
        gflops = res["samples_per_s"] * train_flops / 1e9
        res["gflops"] = gflops
        res["fraction_of_matmul"] = gflops / peak
        res["gflops_per_cpu_s"] = res["batch_size"] * train_flops / max(min(res["step_s"]["cpu_s"]), 1e-9) / 1e9
        res["fraction_of_matmul_cpu_time"] = res["gflops_per_cpu_s"] / peak_cpu
    main = results["channels_last"]
    wanted = config.profile_training
    if wanted or (wanted is None and main["fraction_of_matmul"] < 0.5):
        bench_log("training: profiling one channels_last step with torch.profiler")
        model = _new_crnn(features, params.shape, config.seed, True)
        res = time_training_steps(model, X, y, 0, config.warmup_steps, True, profile=True)
        analysis = analyse_profile(res.pop("profiler"), model, flops, config.batch_size)
        profile = {**analysis, "summary": _bounds_text(analysis, peak)}
    torch.set_num_threads(threads)

    for label, status_target in (("channels_last", True), ("NCHW", False)):
        res = results[label]
        detail = (f"{res['samples_per_s']:.1f} samples/s = {res['gflops']:.1f} GFLOP/s of {peak:.1f}; "
                  f"step {res['step_s']['best']:.2f} s (fwd {min(res['forward_s']):.2f}, "
                  f"bwd {min(res['backward_s']):.2f}, Adam {min(res['optimizer_s']):.2f})")
        raw = {**res, **flop_raw, "matmul_gflops": peak, "matmul_gflops_per_cpu_s": peak_cpu, "threads": threads}
        busy = other_load(res["step_s"])
        what = f"training CRNN (paper variant), batch {config.batch_size}, {label}: GFLOP/s / matmul GFLOP/s"
        if status_target:
            rows.append(report_row("training_channels_last", what, 100 * res["fraction_of_matmul"], "%", ">=", 50.0,
                                   detail, raw, other_cores=busy))
            rows.append(report_row(
                "training_channels_last_cpu",
                f"training CRNN, batch {config.batch_size}, {label}: GFLOP per CPU second / matmul's "
                "(less sensitive to other processes)", 100 * res["fraction_of_matmul_cpu_time"], "%",
                ">=", 50.0, f"{res['gflops_per_cpu_s']:.1f} vs {peak_cpu:.1f} GFLOP per CPU second "
                f"(best step {min(res['step_s']['cpu_s']):.2f} CPU s)",
                {"gflops_per_cpu_s": res["gflops_per_cpu_s"], "matmul_gflops_per_cpu_s": peak_cpu,
           "step_cpu_s": res["step_s"]["cpu_s"], "threads": threads}, other_cores=busy))
        else:
            rows.append(report_row("training_nchw", what, 100 * res["fraction_of_matmul"], "%", detail=detail, raw=raw,
                                   other_cores=busy))
    return rows, profile
