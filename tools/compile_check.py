"""Is ``torch.compile`` worth it for the CRNN's training step here? ``python tools/compile_check.py [--device cuda]``

Times one paper-recipe training step (the paper's CRNN, batch 200, Adam) eagerly and under
``torch.compile``: the first step (for the compiled model, including compilation) and the best of four
further steps. The training loop uses eager mode; this script is how that choice was measured.
"""

import argparse
import time

import torch

from genre_utils.devices import reuse_freed_memory, select_device
from genre_utils.models import build_model


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_steps(model, device, steps: int = 4, batch: int = 200) -> tuple[float, float]:
    """Seconds of the first step and the best of ``steps`` further steps."""
    opt = torch.optim.Adam(model.parameters(), lr=2e-5, weight_decay=0.005)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 1, 64, 235, generator=gen).to(device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,), generator=gen).to(device)

    def step():
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        _sync(device)

    t0 = time.perf_counter()
    step()
    first = time.perf_counter() - t0
    best = float("inf")
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - t0)
    return first, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", help="cuda, mps or cpu (default: the first available)")
    device = select_device(parser.parse_args().device)
    reuse_freed_memory()

    def fresh():
        return build_model("crnn", input_shape=(64, 235), seed=0).to(device, memory_format=torch.channels_last)

    first, eager = time_steps(fresh(), device)
    print(f"{device.type} eager: first step {first:.2f} s, step {eager:.3f} s")
    first, compiled = time_steps(torch.compile(fresh()), device)
    print(f"{device.type} compiled: first step (with compilation) {first:.1f} s, step {compiled:.3f} s, "
          f"{eager / compiled:.2f}x")


if __name__ == "__main__":
    main()
