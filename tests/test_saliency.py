"""Saliency maps: shape of the model's input, and a toy model that only looks at one region is caught there."""

import matplotlib
import numpy as np
import pytest
import torch
from torch import nn

from genre_utils import saliency
from genre_utils.config import FeatureParams
from genre_utils.models import build_model

H, W = 64, 235
ROWS, COLS = slice(20, 30), slice(100, 140)  # the only region the toy model reads


class OneRegion(nn.Module):
    """Class 0's logit is the mean of one region of the image (times 3); the other classes are constant."""

    def forward(self, x):
        x = x.reshape(len(x), H, W)
        score = 3 * x[:, ROWS, COLS].mean(dim=(1, 2))
        return torch.stack([score] + [torch.zeros_like(score)] * 9, dim=1)


def _window(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (H, W)).astype(np.float32)
    x[ROWS, COLS] += 2.0  # the region holds evidence for class 0
    return x


@pytest.mark.parametrize("method", ["occlusion", "gradient"])
def test_toy_model_saliency_lies_in_its_region(method):
    x = _window()
    sal = saliency.saliency(OneRegion(), x, method, target=0)
    assert sal.shape == x.shape
    inside = np.zeros_like(x, dtype=bool)
    inside[ROWS, COLS] = True
    # far from the region (more than one patch away) nothing matters
    near = np.zeros_like(inside)
    near[max(0, ROWS.start - saliency.PATCH[0]):ROWS.stop + saliency.PATCH[0],
         max(0, COLS.start - saliency.PATCH[1]):COLS.stop + saliency.PATCH[1]] = True
    assert np.abs(sal[~near]).max() < 1e-6
    # inside the region it is far stronger than in the ring around it (occlusion patches overlapping the edge
    # blur it a little; gradient x input is exactly zero there)
    assert sal[inside].mean() > 2 * np.abs(sal[near & ~inside]).mean()
    r, c = np.unravel_index(np.argmax(sal), sal.shape)
    assert inside[r, c]
    assert sal[inside].mean() > 0  # hiding the evidence lowers the probability of class 0


def test_saliency_of_the_crnn_has_the_input_shape():
    torch.manual_seed(0)
    model = build_model("crnn", input_shape=(H, W)).eval()
    x = _window(1)
    for method in ("occlusion", "gradient"):
        assert saliency.saliency(model, x, method).shape == (H, W)
    clip = saliency.clip_saliency(model, np.stack([x, _window(2)]), "gradient")
    assert clip.shape == (H, 2 * W)
    # the batched gradient gives each window its own map, as one window at a time does
    windows, targets = np.stack([x, _window(2), _window(3)]), [0, 3, 7]
    batched = saliency.gradient_x_input_batch(model, windows, targets, batch_size=2)
    single = np.stack([saliency.gradient_x_input(model, w, t) for w, t in zip(windows, targets)])
    np.testing.assert_allclose(batched, single, rtol=1e-4, atol=1e-6 * np.abs(single).max())
    clip = saliency.clip_saliency(model, windows, "gradient", target=3)
    np.testing.assert_allclose(clip[:, W:2 * W], single[1], rtol=1e-4, atol=1e-6 * np.abs(single).max())
    with pytest.raises(ValueError):
        saliency.saliency(model, x[None, None], "occlusion")


def test_time_axis_matches_the_feature_images():
    params = FeatureParams()
    t = saliency.frame_seconds(params, W)
    assert t[0] == 0 and t[1] == pytest.approx(params.hop_length / params.sample_rate)
    # 235 frames at hop 470 / 22,050 Hz span the 5-s window
    assert W * params.hop_length / params.sample_rate == pytest.approx(params.segment_seconds, abs=0.02)
    matplotlib.use("Agg")
    png = saliency.saliency_png(np.zeros((H, 2 * W), np.float32), params, title="t")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
