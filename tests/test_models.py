"""Shapes and structure of the paper's CRNN (section 5) and the baseline (section 6)."""

import numpy as np
import pytest
import torch

from genre_utils.config import FeatureParams
from genre_utils.models import (
    CRNN,
    BaselineMLP,
    Standardize,
    build_model,
    conv_output_shape,
    count_paper_layers,
    count_parameters,
    describe,
    feature_stats,
    window_feature_stats,
)

SHAPE = FeatureParams().shape   # (64, 235)


def test_default_features_give_the_papers_conv_output():
    assert SHAPE == (64, 235)
    assert conv_output_shape(SHAPE) == (256, 1, 12)


@pytest.mark.parametrize("variant, gru_input, seq_len", [("paper", 3072, 1), ("temporal", 256, 12)])
def test_crnn_maps_features_to_ten_logits(variant, gru_input, seq_len):
    torch.manual_seed(0)
    model = CRNN(variant=variant).eval()
    assert model.gru_input_size == gru_input
    assert model.seq_len == seq_len
    assert model.gru.input_size == gru_input and model.gru.hidden_size == 512 and model.gru.bidirectional
    x = torch.randn(3, *SHAPE)
    logits = model(x)
    assert logits.shape == (3, 10)
    assert torch.isfinite(logits).all()
    # a (B, 1, H, W) batch and float16 input give the same result (both are converted to the same float32
    # tensor before the first layer, so the same kernels run on the same numbers)
    assert torch.allclose(model(x.unsqueeze(1)), logits)
    assert torch.allclose(model(x.half()), model(x.half().float()))


def test_crnn_forward_is_the_papers_conv_relu_pool_order():
    """The model applies ReLU after each pool (cheaper); the result must equal conv -> ReLU -> pool."""
    torch.manual_seed(1)
    model = CRNN().eval()
    x = torch.randn(4, *SHAPE)
    h = model.standardize(x.unsqueeze(1))
    for conv, pool in ((model.conv1, model.pool1), (model.conv2, model.pool2),
                       (model.conv3, model.pool3), (model.conv4, model.pool4)):
        h = pool(torch.relu(conv(h)))
    _, h_n = model.gru(model.to_sequence(h))
    z = torch.cat([h_n[0], h_n[1]], dim=1)
    reference = model.fc3(torch.relu(model.fc2(torch.relu(model.fc1(z)))))
    # exact on any CPU: ReLU and max-pool commute exactly, and every other operation is the same call on the
    # same tensor shapes in this process, so the same kernels run on the same numbers
    assert torch.equal(model(x), reference)


def test_crnn_has_the_papers_twelve_layers():
    model = build_model("crnn")
    assert count_paper_layers(model) == 12
    kinds = [type(m).__name__ for m in model.modules() if type(m).__name__ in ("Conv2d", "MaxPool2d", "GRU", "Linear")]
    assert kinds.count("Conv2d") == 4 and kinds.count("MaxPool2d") == 4
    assert kinds.count("GRU") == 1 and kinds.count("Linear") == 3
    assert [m.out_channels for m in (model.conv1, model.conv2, model.conv3, model.conv4)] == [32, 64, 128, 256]
    convs = (model.conv1, model.conv2, model.conv3, model.conv4)
    assert [m.kernel_size for m in convs] == [(5, 5), (5, 5), (3, 3), (3, 3)]  # the paper's section 5.1
    assert model.fc1.in_features == 1024 and model.fc3.out_features == 10


def test_describe_lists_shapes_and_parameters():
    model = build_model("crnn")
    table = describe(model)
    by_layer = table.set_index("layer")
    assert by_layer.loc["conv1", "output_shape"] == (32, 60, 231)
    assert by_layer.loc["pool4", "output_shape"] == (256, 1, 12)
    assert by_layer.loc["gru", "output_shape"] == (1, 1024)
    assert by_layer.loc["fc3", "output_shape"] == (10,)
    assert table["paper_layer"].sum() == 12 and table["paper_index"].max() == 12
    assert table["parameters"].sum() == count_parameters(model)
    # conv1: 32 filters of 5x5 over one channel plus biases
    assert by_layer.loc["conv1", "parameters"] == 32 * 25 + 32
    assert describe(build_model("crnn-temporal")).set_index("layer").loc["gru", "output_shape"] == (12, 1024)


def test_too_small_input_gives_a_clear_error():
    with pytest.raises(ValueError, match="too small"):
        CRNN(input_shape=(40, 235))
    with pytest.raises(ValueError, match="too small"):
        build_model("crnn-temporal", input_shape=(64, 51))
    # the smallest input that still fits
    assert conv_output_shape((52, 52)) == (256, 1, 1)


def test_wrong_input_shape_is_rejected():
    model = CRNN(input_shape=(64, 60))
    with pytest.raises(ValueError, match="expected input"):
        model(torch.zeros(2, 64, 61))


def test_temporal_variant_sees_the_time_axis():
    # at (64, 235) the temporal GRU reads 12 steps: permuting the conv output's time axis must matter
    torch.manual_seed(0)
    model = CRNN(variant="temporal", input_shape=(64, 235)).eval()
    conv = torch.randn(2, 256, 1, 12)
    seq = model.to_sequence(conv)
    assert seq.shape == (2, 12, 256)
    assert torch.equal(seq[:, 5], conv[:, :, 0, 5])
    paper = CRNN(variant="paper").to_sequence(conv)
    assert paper.shape == (2, 1, 3072)


@pytest.mark.parametrize("condense, n_inputs", [("flatten", 64 * 235), ("stats", 128)])
def test_baseline_shapes(condense, n_inputs):
    model = BaselineMLP(condense=condense).eval()
    assert model.n_inputs == n_inputs
    assert model(torch.randn(4, *SHAPE)).shape == (4, 10)
    assert count_paper_layers(model) == 3


def test_build_model_names_and_spec_round_trip():
    for name in ("crnn", "crnn-temporal", "baseline"):
        model = build_model(name, input_shape=(64, 60), n_classes=4, dropout=0.1, seed=3)
        assert model.spec["name"] == name
        twin = build_model(model.spec["name"], **model.spec["kwargs"], seed=3)
        # same seed, same process: the same random numbers (another CPU may draw them in other last bits)
        for a, b in zip(model.state_dict().values(), twin.state_dict().values()):
            assert torch.equal(a, b)
    with pytest.raises(ValueError, match="unknown model"):
        build_model("resnet")


def test_feature_stats_match_numpy_and_stream_over_chunks():
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(37, 6, 9)) * np.arange(1, 7)[None, :, None] + 100).astype(np.float16)
    mean, std = feature_stats(X, chunk_size=5)
    ref = X.astype(np.float64)
    np.testing.assert_allclose(mean, ref.mean(axis=(0, 2)), rtol=1e-12)
    np.testing.assert_allclose(std, ref.std(axis=(0, 2)), rtol=1e-9)


def test_standardize_uses_stored_statistics_and_survives_state_dict():
    mean = np.linspace(-5, 5, 64)
    std = np.linspace(1, 3, 64)
    std[3] = 0.0                       # constant row: divided by 1, not by 0
    layer = Standardize(mean, std, height=64)
    x = torch.randn(2, 1, 64, 7)
    out = layer(x)
    expected = (x - torch.tensor(mean, dtype=torch.float32)[:, None]) / torch.tensor(std, dtype=torch.float32)[:, None]
    assert torch.allclose(out[:, :, [0, 10, 63]], expected[:, :, [0, 10, 63]])
    assert torch.allclose(out[:, :, 3], x[:, :, 3] - float(mean[3]))
    model = build_model("crnn", mean=mean, std=std)
    fresh = build_model("crnn")
    fresh.load_state_dict(model.state_dict())
    assert torch.equal(fresh.standardize.mean, model.standardize.mean)
    assert "standardize.std" in model.state_dict()


def test_crnn_initialisation_keeps_the_gru_input_at_unit_scale():
    """Neither vanishing (PyTorch's default) nor saturating the GRU gates (He normal through max-pools)."""
    model = build_model("crnn", seed=0)
    x = torch.randn(64, 1, *SHAPE)
    with torch.no_grad():
        h = x
        for conv, pool in ((model.conv1, model.pool1), (model.conv2, model.pool2),
                           (model.conv3, model.pool3), (model.conv4, model.pool4)):
            h = torch.relu(pool(conv(h)))
        seq = model.to_sequence(h)
        gates = seq @ model.gru.weight_ih_l0.T
    rms = seq.pow(2).mean().sqrt().item()
    assert 0.4 < rms < 1.6
    assert gates.std().item() < 2.0


def test_per_window_standardize_ignores_a_window_offset_and_uses_within_window_spread():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(20, 6, 30)) * np.arange(1, 7)[None, :, None] + rng.normal(size=(20, 6, 1)) * 50
    mean, std = window_feature_stats(X.astype(np.float32), chunk_size=7)
    assert np.all(mean == 0)
    # the within-window spread is the rows' scale (1..6), not the large offsets between windows
    np.testing.assert_allclose(std, np.sqrt(X.var(axis=2).mean(axis=0)), rtol=1e-6)
    assert np.all(std < np.arange(1, 7) * 1.3) and np.all(feature_stats(X)[1] > 10)
    layer = Standardize(mean, std, height=6, per_window=True)
    x = torch.tensor(X[:4, None], dtype=torch.float32)
    shifted = x + torch.tensor(rng.normal(size=(4, 1, 6, 1)) * 100, dtype=torch.float32)
    # the offset cancels up to float32 rounding of the inputs (|x| up to ~400, std ~1): a few ulp of the
    # largest input; the global layer below is off by ~100
    tol = 8 * torch.finfo(torch.float32).eps * float(shifted.abs().max())          # ~4e-4
    assert torch.allclose(layer(x), layer(shifted), rtol=0, atol=tol)
    assert torch.allclose(layer(x).mean(dim=-1), torch.zeros(4, 1, 6), atol=tol)
    # the global layer does see the offset
    plain = Standardize(*feature_stats(X), height=6)
    assert not torch.allclose(plain(x), plain(shifted), atol=1e-2)


def test_batchnorm_crnn_keeps_the_papers_layers_and_round_trips():
    model = build_model("crnn", input_shape=(64, 60), batchnorm=True, per_window=True, seed=2)
    assert count_paper_layers(model) == 12
    table = describe(model)
    assert (table["type"] == "BatchNorm2d").sum() == 4 and table["paper_layer"].sum() == 12
    # without the option there are no batch-norm (or placeholder) rows in the layer table
    assert set(describe(build_model("crnn", input_shape=(64, 60)))["type"]) == {
        "Standardize", "Conv2d", "MaxPool2d", "GRU", "Linear", "Dropout"}
    # a training step moves the running statistics; the spec rebuilds the same model
    x = torch.randn(6, 64, 60) * 3 + 1
    model.train()
    model(x)
    assert not torch.equal(model.bn1.running_mean, torch.zeros(32))
    twin = build_model(model.spec["name"], **model.spec["kwargs"])
    twin.load_state_dict(model.state_dict())
    model.eval(), twin.eval()
    assert torch.equal(model(x), twin(x))      # same weights, same input, same process: the same kernels
    assert twin.standardize.per_window and isinstance(twin.bn4, torch.nn.BatchNorm2d)
