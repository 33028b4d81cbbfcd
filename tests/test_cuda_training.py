"""The CUDA-only paths of training: bf16 by default where supported, fp16 with a loss scaler, the training set
on the device when it fits (pinned host batches when it does not), cudnn.benchmark restored. Skipped without
CUDA."""

import numpy as np
import pytest
import torch

from genre_utils.models import build_model
from genre_utils.train import Batches, default_precision, fit, load_checkpoint

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

SHAPE = (64, 60)


def data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    X = rng.normal(size=(n, *SHAPE)).astype(np.float32)
    for i, c in enumerate(y):
        X[i, c * 16:(c + 1) * 16] += 1.0
    return X.astype(np.float16), y.astype(np.int64)


def test_default_precision_is_bf16_where_supported():
    assert default_precision("cuda") == ("bf16" if torch.cuda.is_bf16_supported() else "fp32")


def test_batches_live_on_the_device_when_they_fit_and_are_pinned_otherwise():
    X, _ = data()
    idx = np.array([3, 1, 2])
    on = Batches(X, None, torch.device("cuda"))
    assert on.on_device and on(idx).device.type == "cuda"
    off = Batches(X, False, torch.device("cuda"))
    batch = off(idx)
    assert not off.on_device and batch.device.type == "cpu" and batch.is_pinned()
    assert torch.equal(on(idx).cpu(), batch)


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_training_runs_and_resumes_in_every_precision(tmp_path, precision):
    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip("this CUDA device has no bfloat16")
    X, y = data()
    Xv, yv = data(20, seed=1)
    before = torch.backends.cudnn.benchmark
    settings = dict(n_classes=4, batch_size=10, lr=1e-3, weight_decay=0.0, seed=0, device="cuda",
                    progress=False, precision=precision)
    fit(build_model("crnn", input_shape=SHAPE, n_classes=4, seed=0), X, y, Xv, yv, epochs=1,
        out_dir=tmp_path, **settings)
    history = fit(build_model("crnn", input_shape=SHAPE, n_classes=4, seed=0), X, y, Xv, yv, epochs=2,
                  out_dir=tmp_path, **settings)
    assert history["epoch"] == [1, 2] and np.isfinite(history["train_loss"]).all()
    assert torch.backends.cudnn.benchmark == before
    model, ckpt = load_checkpoint(tmp_path / "last.pt", device="cuda")
    assert ckpt["train_config"]["precision"] == precision
    assert all(p.dtype == torch.float32 for p in model.parameters())   # autocast: the weights stay float32
    assert ("scaler_state" in ckpt) == (precision == "fp16")


def test_fp16_is_refused_on_the_cpu(tmp_path):
    from genre_utils.errors import UserError

    X, y = data(20)
    with pytest.raises(UserError, match="fp16 needs a CUDA device"):
        fit(build_model("baseline", input_shape=SHAPE, n_classes=4), X, y, X, y, epochs=1, batch_size=5,
            out_dir=tmp_path, device="cpu", progress=False, precision="fp16")
