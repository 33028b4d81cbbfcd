"""The paper's models: the 12-layer CRNN of section 5 and the fully connected baseline of section 6.

Both models take one window's feature matrix, shape ``(64, 235)`` with the default
:class:`~genre_utils.config.FeatureParams` (MFCC rows x frames), batched as ``(B, 64, 235)`` or
``(B, 1, 64, 235)``, and return raw class scores (logits) of shape ``(B, 10)``; the class index is the
position in :data:`genre_utils.genres.GENRES`. ``CrossEntropyLoss`` applies the softmax during training and
:func:`genre_utils.evaluate.predict_proba` applies it at prediction time.

Both start with a :class:`Standardize` layer holding the per-row mean and standard deviation of the
training windows. The paper does not mention any normalisation; it is added here because MFCC rows differ
in scale by two orders of magnitude (the 0th coefficient is in the hundreds, the others in units to tens),
which slows Adam at the paper's small learning rate. Keeping the statistics as buffers inside the model
means a checkpoint predicts on raw features with no side files. With ``per_window=True`` the layer first
removes each window's own mean from every row (cepstral mean normalisation), so what the model sees is
how the features move within the window, not the window's average colour; the profiles that train on a
small budget use it (see :class:`genre_utils.config.Profile`).

Every model carries a ``spec`` dict (``{"name": ..., "kwargs": {...}}``, plain JSON) from which
:func:`build_model` rebuilds it; training stores it in each checkpoint.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "Standardize",
    "CRNN",
    "BaselineMLP",
    "MODEL_NAMES",
    "build_model",
    "init_weights",
    "count_parameters",
    "count_paper_layers",
    "describe",
    "feature_stats",
    "window_feature_stats",
    "conv_output_shape",
]

#: Names accepted by :func:`build_model`.
MODEL_NAMES = ("crnn", "crnn-temporal", "baseline")

#: (kernel size, output channels) of the CRNN's four conv blocks (paper section 5.1).
CONV_BLOCKS = ((5, 32), (5, 64), (3, 128), (3, 256))


# ----------------------------------------------------------------------------------------------------
# normalisation


def feature_stats(X, chunk_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Per-row mean and standard deviation of a stack of feature matrices, streamed over chunks.

    Every row (MFCC coefficient or mel band) gets its own statistics, pooled over all windows and all
    frames. Chunks are merged with Chan et al.'s pairwise update of (count, mean, sum of squared
    deviations) in float64, so a float16 memmap of 100,000 windows is read once, a chunk at a time,
    without loss of precision.

    Parameters
    ----------
    X : array-like, shape (n_windows, height, n_frames)
        Features, e.g. the store's float16 memmap of the training windows.
    chunk_size : int
        Windows read per step.

    Returns
    -------
    mean, std : ndarray, shape (height,), float64
        Population standard deviation (``ddof=0``).
    """
    if X.ndim != 3 or len(X) == 0:
        raise ValueError(f"feature_stats needs a non-empty (n, height, frames) array, got shape {X.shape}")
    height = X.shape[1]
    count = 0
    mean = np.zeros(height)
    m2 = np.zeros(height)
    for start in range(0, len(X), chunk_size):
        block = np.asarray(X[start:start + chunk_size], dtype=np.float64)
        n_b = block.shape[0] * block.shape[2]
        mean_b = block.mean(axis=(0, 2))
        m2_b = ((block - mean_b[None, :, None]) ** 2).sum(axis=(0, 2))
        delta = mean_b - mean
        total = count + n_b
        mean = mean + delta * n_b / total
        m2 = m2 + m2_b + delta ** 2 * count * n_b / total
        count = total
    return mean, np.sqrt(m2 / count)


def window_feature_stats(X, chunk_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Statistics for :class:`Standardize` with ``per_window=True``: zero means and the within-window spread.

    Parameters
    ----------
    X : array-like, shape (n_windows, height, n_frames)
    chunk_size : int
        Windows read per step.

    Returns
    -------
    mean : ndarray, shape (height,)
        Zeros (the layer removes each window's own mean instead).
    std : ndarray, shape (height,), float64
        Root-mean-square over all windows and frames of each row after its window mean is removed, i.e.
        the square root of the average within-window variance.
    """
    if X.ndim != 3 or len(X) == 0:
        raise ValueError(f"window_feature_stats needs a non-empty (n, height, frames) array, got shape {X.shape}")
    sq = np.zeros(X.shape[1])
    for start in range(0, len(X), chunk_size):
        block = np.asarray(X[start:start + chunk_size], dtype=np.float64)
        sq += block.var(axis=2).sum(axis=0)
    return np.zeros(X.shape[1]), np.sqrt(sq / len(X))


class Standardize(nn.Module):
    """First layer of every model: ``(x - mean) / std`` per feature row.

    Parameters
    ----------
    mean, std : array-like, shape (height,), optional
        Per-row statistics of the training windows (:func:`feature_stats`); default 0 and 1 (identity).
        Rows whose std is below ``1e-6`` (constant rows) are divided by 1 instead.
    height : int
        Number of rows; used when ``mean``/``std`` are not given.
    per_window : bool
        First subtract each window's own mean over frames from every row (cepstral mean normalisation);
        pair it with the statistics of :func:`window_feature_stats`. A constant offset added to a row of a
        window then leaves the output unchanged.

    Notes
    -----
    ``mean`` and ``std`` are registered buffers: they are saved in the ``state_dict`` and restored with
    it, and they do not train.
    """

    def __init__(self, mean=None, std=None, height: int = 64, per_window: bool = False):
        super().__init__()
        self.per_window = bool(per_window)
        mean = torch.zeros(height) if mean is None else torch.as_tensor(np.asarray(mean), dtype=torch.float32)
        std = torch.ones(height) if std is None else torch.as_tensor(np.asarray(std), dtype=torch.float32)
        if mean.shape != (height,) or std.shape != (height,):
            raise ValueError(f"mean and std must have shape ({height},), "
                             f"got {tuple(mean.shape)} and {tuple(std.shape)}")
        std = torch.where(std < 1e-6, torch.ones_like(std), std)
        self.register_buffer("mean", mean.clone())
        self.register_buffer("std", std.clone())

    def forward(self, x):
        """x: (B, 1, height, frames) -> same shape, standardised per row."""
        if self.per_window:
            x = x - x.mean(dim=-1, keepdim=True)
        return (x - self.mean[:, None]) / self.std[:, None]


def _as_image_batch(x: torch.Tensor, input_shape) -> torch.Tensor:
    """(B, H, W) or (B, 1, H, W) -> (B, 1, H, W) float32, checking H and W."""
    if x.dim() == 3:
        x = x.unsqueeze(1)
    if x.dim() != 4 or x.shape[1] != 1 or tuple(x.shape[2:]) != tuple(input_shape):
        raise ValueError(f"expected input of shape (B, {input_shape[0]}, {input_shape[1]}) or "
                         f"(B, 1, {input_shape[0]}, {input_shape[1]}), got {tuple(x.shape)}")
    return x.float()


# ----------------------------------------------------------------------------------------------------
# the CRNN (paper section 5)


def conv_output_shape(input_shape) -> tuple[int, int, int]:
    """Shape ``(channels, height, width)`` after the CRNN's four [conv (no padding) -> 2x2 max-pool] blocks.

    Parameters
    ----------
    input_shape : (int, int)
        ``(height, n_frames)`` of one feature matrix.

    Returns
    -------
    shape : (int, int, int)
        ``(256, 1, 12)`` for the default ``(64, 235)``.

    Raises
    ------
    ValueError
        If the input is too small for four blocks (each side needs at least 52 after the first conv
        shrinks it by 4, the pools halve it, and so on: 52 -> 48 -> 24 -> 20 -> 10 -> 8 -> 4 -> 2 -> 1).
    """
    height, width = (int(s) for s in input_shape)
    trail_h, trail_w = [height], [width]
    for kernel, _ in CONV_BLOCKS:
        height = (height - kernel + 1) // 2
        width = (width - kernel + 1) // 2
        trail_h.append(height)
        trail_w.append(width)
    if min(trail_h + trail_w) < 1:
        raise ValueError(
            f"input_shape {tuple(input_shape)} is too small for the CRNN's four conv/pool blocks "
            f"(height {' -> '.join(map(str, trail_h))}, width {' -> '.join(map(str, trail_w))}); "
            "both sides must be at least 52")
    return CONV_BLOCKS[-1][1], height, width


def init_weights(model: nn.Module) -> None:
    """Scale-preserving initialisation of the CRNN's convolutions and linear layers, zero biases.

    The paper does not state an initialisation; what the GRU receives decides whether the CRNN trains.
    Measured on 200 standardised MFCC windows of the quick synthetic store (root-mean-square of the
    3072-vector the ``'paper'`` GRU reads, and the spread of its gate pre-activations):

    ==========================================  ===============  ==========================
    conv initialisation                         GRU input RMS    gate pre-activation std
    ==========================================  ===============  ==========================
    PyTorch default (uniform, gain 1/sqrt(3))   0.08             0.11: logits barely differ
    He normal (std sqrt(2 / fan_in))            2.5              3.6: gates saturated
    LeCun normal (std sqrt(1 / fan_in)), used   0.75             1.1
    ==========================================  ===============  ==========================

    With He, ReLU halves the second moment and the gain of 2 restores it, but each 2x2 max-pool then picks
    the largest of four values and the scale grows block after block; the saturated GRU gates pass little
    gradient and training crawls. With gain 1 the ReLU's halving and the max-pool's growth roughly cancel.
    The linear layers after the GRU (inputs in [-1, 1]) get He normal, for the ReLUs that follow them.
    The GRU keeps PyTorch's initialisation.
    """
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, nonlinearity="linear")
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            nn.init.zeros_(module.bias)


class CRNN(nn.Module):
    """The paper's 12-layer CRNN: 4 conv + 4 max-pool + 1 bidirectional GRU + 3 linear layers.

    Layers (shapes for one ``(64, 235)`` MFCC window; ReLU follows every conv and hidden linear layer)::

        standardize                          (1, 64, 235)     per-row (x - mean) / std, not counted
         1 conv1   32 filters 5x5            (32, 60, 231)
         2 pool1   max 2x2                   (32, 30, 115)
         3 conv2   64 filters 5x5            (64, 26, 111)
         4 pool2   max 2x2                   (64, 13, 55)
         5 conv3  128 filters 3x3            (128, 11, 53)
         6 pool3   max 2x2                   (128, 5, 26)
         7 conv4  256 filters 3x3            (256, 3, 24)
         8 pool4   max 2x2                   (256, 1, 12)
         9 gru     bidirectional, hidden 512 -> 1024 (last forward state ++ last backward state)
        10 fc1     1024 -> 256, ReLU, dropout
        11 fc2      256 -> 64,  ReLU, dropout
        12 fc3       64 -> 10   (logits)

    Convolutions have no padding, as the paper's ``256 x 1 x 12`` GRU input requires. With
    ``batchnorm=True`` each block gets a ``BatchNorm2d`` after its pool (conv -> pool -> batch norm -> ReLU).

    Parameters
    ----------
    n_classes : int
        Output classes (10).
    input_shape : (int, int)
        ``(height, n_frames)`` of one window; both sides at least 52.
    variant : {'paper', 'temporal'}
        How the GRU reads the ``(256, 1, 12)`` conv output.
        ``'paper'``: flattened to one 3072-vector, a sequence of length 1 - what the paper's stated GRU
        input size of ``256 x 1 x 12 = 3072`` implies (the GRU then acts as one gated dense layer).
        ``'temporal'``: a sequence of 12 time steps of ``256 x 1 = 256`` features each, the usual CRNN.
    dropout : float
        Dropout probability after the two hidden linear layers. The paper applies dropout "after every
        linear layer"; here it is not applied to the logits of the last one, where it would randomly
        zero class scores and only add noise to the loss.
    mean, std : array-like, shape (height,), optional
        Statistics for the :class:`Standardize` layer.
    per_window : bool
        Standardise each window around its own mean (:class:`Standardize`); not in the paper.
    batchnorm : bool
        Batch normalisation in each conv block, after the pool and before the ReLU; not in the paper. The
        paper counts 12 layers; these are not counted, like the ReLUs.

    Attributes
    ----------
    gru_input_size : int
        Features per GRU time step: 3072 (``'paper'``) or 256 (``'temporal'``) at ``(64, 235)``.
    seq_len : int
        GRU time steps: 1 (``'paper'``) or 12 (``'temporal'``) at ``(64, 235)``.
    spec : dict
        Plain-JSON recipe for :func:`build_model`.
    """

    hidden_sizes = (256, 64)   # the two hidden linear layers between 1024 and n_classes

    def __init__(self, n_classes: int = 10, input_shape=(64, 235), variant: str = "paper",
                 dropout: float = 0.3, mean=None, std=None, per_window: bool = False, batchnorm: bool = False):
        super().__init__()
        if variant not in ("paper", "temporal"):
            raise ValueError(f"variant must be 'paper' or 'temporal', not {variant!r}")
        self.input_shape = tuple(int(s) for s in input_shape)
        self.variant = variant
        channels, height, width = conv_output_shape(self.input_shape)
        if variant == "paper":
            self.gru_input_size, self.seq_len = channels * height * width, 1
        else:
            self.gru_input_size, self.seq_len = channels * height, width
        self.spec = {"name": "crnn" if variant == "paper" else "crnn-temporal",
                     "kwargs": {"n_classes": int(n_classes), "input_shape": list(self.input_shape),
                                "dropout": float(dropout), "per_window": bool(per_window),
                                "batchnorm": bool(batchnorm)}}

        self.standardize = Standardize(mean, std, height=self.input_shape[0], per_window=per_window)
        # conv{i}, bn{i}, pool{i} from CONV_BLOCKS, registered in this order (the state_dict keys and the
        # order in which the random initialisation is drawn depend on it)
        in_channels = 1
        for i, (kernel, out_channels) in enumerate(CONV_BLOCKS, start=1):
            setattr(self, f"conv{i}", nn.Conv2d(in_channels, out_channels, kernel_size=kernel))
            setattr(self, f"bn{i}", nn.BatchNorm2d(out_channels) if batchnorm else nn.Identity())
            setattr(self, f"pool{i}", nn.MaxPool2d(2))
            in_channels = out_channels
        self.gru = nn.GRU(self.gru_input_size, 512, num_layers=1, batch_first=True, bidirectional=True)
        self.fc1 = nn.Linear(2 * 512, self.hidden_sizes[0])
        self.drop1 = nn.Dropout(dropout)
        self.fc2 = nn.Linear(self.hidden_sizes[0], self.hidden_sizes[1])
        self.drop2 = nn.Dropout(dropout)
        self.fc3 = nn.Linear(self.hidden_sizes[1], n_classes)
        init_weights(self)

    def to_sequence(self, x: torch.Tensor) -> torch.Tensor:
        """Conv output (B, C, H, W) -> GRU input (B, seq_len, gru_input_size)."""
        if self.variant == "paper":
            return x.reshape(x.shape[0], 1, -1)                       # (B, 1, C*H*W)
        return x.permute(0, 3, 1, 2).reshape(x.shape[0], x.shape[3], -1)  # (B, W, C*H)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, height, frames) or (B, 1, height, frames) -> logits (B, n_classes)."""
        x = _as_image_batch(x, self.input_shape)
        x = self.standardize(x)
        # ReLU after the max-pool: relu(max(a, b)) == max(relu(a), relu(b)) exactly (ReLU is monotonic),
        # so this is the paper's conv -> ReLU -> pool, with the ReLU and its backward on 4x fewer values.
        # The optional batch norm sits after the pool too: it then normalises 4x fewer values, which makes
        # it nearly free (before the pool it added 12-25 % to a CPU training step).
        x = F.relu(self.bn1(self.pool1(self.conv1(x))))
        x = F.relu(self.bn2(self.pool2(self.conv2(x))))
        x = F.relu(self.bn3(self.pool3(self.conv3(x))))
        x = F.relu(self.bn4(self.pool4(self.conv4(x))))  # (B, 256, 1, 12)
        _, h_n = self.gru(self.to_sequence(x))           # h_n: (2 directions, B, 512)
        x = torch.cat([h_n[0], h_n[1]], dim=1)           # (B, 1024)
        x = self.drop1(F.relu(self.fc1(x)))
        x = self.drop2(F.relu(self.fc2(x)))
        return self.fc3(x)


# ----------------------------------------------------------------------------------------------------
# the baseline (paper section 6)


class BaselineMLP(nn.Module):
    """The paper's baseline: the spectrogram condensed into one vector, then three fully connected layers.

    The paper says only that the spectrogram data "was condensed into singular vectors" before a
    three-layer fully connected network. The default reads that literally - the matrix is flattened
    into one vector (``64 x 235 = 15,040`` values) - which also fits the large train/valid gap the paper
    reports (77 % vs 50 %): a wide first layer memorises. ``condense='stats'`` is the other reading: each
    row summarised by its mean and standard deviation over time (a 128-vector), which ignores when things
    happen in the window.

    Layers: standardize -> condense -> fc1 -> ReLU -> dropout -> fc2 -> ReLU -> dropout -> fc3 (logits).

    Parameters
    ----------
    input_shape : (int, int)
        ``(height, n_frames)`` of one window.
    n_classes : int
    hidden : (int, int)
        Widths of the two hidden layers.
    dropout : float
        Dropout after each hidden layer (not on the logits).
    condense : {'flatten', 'stats'}
    mean, std : array-like, shape (height,), optional
        Statistics for the :class:`Standardize` layer.
    """

    def __init__(self, input_shape=(64, 235), n_classes: int = 10, hidden=(256, 64), dropout: float = 0.3,
                 condense: str = "flatten", mean=None, std=None):
        super().__init__()
        if condense not in ("flatten", "stats"):
            raise ValueError(f"condense must be 'flatten' or 'stats', not {condense!r}")
        if len(hidden) != 2:
            raise ValueError("hidden must give the widths of exactly two hidden layers")
        self.input_shape = tuple(int(s) for s in input_shape)
        self.condense = condense
        height, width = self.input_shape
        self.n_inputs = height * width if condense == "flatten" else 2 * height
        self.spec = {"name": "baseline",
                     "kwargs": {"input_shape": list(self.input_shape), "n_classes": int(n_classes),
                                "hidden": [int(h) for h in hidden], "dropout": float(dropout),
                                "condense": condense}}

        self.standardize = Standardize(mean, std, height=height)
        self.fc1 = nn.Linear(self.n_inputs, hidden[0])
        self.drop1 = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden[0], hidden[1])
        self.drop2 = nn.Dropout(dropout)
        self.fc3 = nn.Linear(hidden[1], n_classes)

    def to_vector(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) -> (B, n_inputs): flattened matrix, or per-row [means, stds] over time."""
        if self.condense == "flatten":
            return x.reshape(x.shape[0], -1)
        x = x[:, 0]
        return torch.cat([x.mean(dim=2), x.std(dim=2, unbiased=False)], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, height, frames) or (B, 1, height, frames) -> logits (B, n_classes)."""
        x = _as_image_batch(x, self.input_shape)
        x = self.to_vector(self.standardize(x))
        x = self.drop1(F.relu(self.fc1(x)))
        x = self.drop2(F.relu(self.fc2(x)))
        return self.fc3(x)


# ----------------------------------------------------------------------------------------------------
# helpers


def build_model(name: str, **kwargs) -> nn.Module:
    """Build a model by name.

    Parameters
    ----------
    name : {'crnn', 'crnn-temporal', 'baseline'}
        ``'crnn'`` is :class:`CRNN` with ``variant='paper'``, ``'crnn-temporal'`` with
        ``variant='temporal'``, ``'baseline'`` is :class:`BaselineMLP`.
    **kwargs
        Passed to the class (``input_shape``, ``n_classes``, ``dropout``, ``mean``, ``std``, ...).
        ``seed`` (int), if given, seeds torch before the weights are initialised.
    """
    seed = kwargs.pop("seed", None)
    if seed is not None:
        torch.manual_seed(int(seed))
    if name == "crnn":
        return CRNN(variant="paper", **kwargs)
    if name == "crnn-temporal":
        return CRNN(variant="temporal", **kwargs)
    if name == "baseline":
        return BaselineMLP(**kwargs)
    raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters; buffers such as the standardisation statistics are not counted."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


#: Module types the paper counts as layers (ReLU, dropout and standardisation are not counted).
PAPER_LAYER_TYPES = (nn.Conv2d, nn.MaxPool2d, nn.RNNBase, nn.Linear)


def count_paper_layers(model: nn.Module) -> int:
    """Layers as the paper counts them: conv, pooling, recurrent and linear modules (12 for the CRNN)."""
    return sum(isinstance(m, PAPER_LAYER_TYPES) for m in model.modules())


def describe(model: nn.Module, input_shape=None) -> pd.DataFrame:
    """Layer table of a model from one dummy forward pass (for the book's architecture table).

    Parameters
    ----------
    model : nn.Module
        A :class:`CRNN` or :class:`BaselineMLP` (anything with ``input_shape``, or pass it).
    input_shape : (int, int), optional
        ``(height, n_frames)``; defaults to ``model.input_shape``.

    Returns
    -------
    table : DataFrame
        One row per leaf module in the order the forward pass calls them, with columns ``layer``
        (attribute name), ``type``, ``output_shape`` (without the batch dimension; for the GRU the
        per-step output, ``(seq_len, 1024)``), ``parameters`` and ``paper_layer`` (True for the layers the
        paper counts; their running number in ``paper_index``).
    """
    shape = tuple(input_shape or model.input_shape)
    names = {m: n for n, m in model.named_modules()}
    rows, hooks = [], []

    def record(module, _inputs, output):
        out = output[0] if isinstance(output, tuple) else output
        rows.append({"layer": names[module], "type": type(module).__name__,
                     "output_shape": tuple(out.shape[1:]),
                     "parameters": sum(p.numel() for p in module.parameters()),
                     "paper_layer": isinstance(module, PAPER_LAYER_TYPES)})

    for module in model.modules():
        if not list(module.children()) and not isinstance(module, nn.Identity):  # an absent optional layer
            hooks.append(module.register_forward_hook(record))
    was_training = model.training
    try:
        model.eval()
        device = next(model.parameters()).device
        with torch.no_grad():
            model(torch.zeros((1, *shape), device=device))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    table = pd.DataFrame(rows)
    table["paper_index"] = table["paper_layer"].cumsum().where(table["paper_layer"]).astype("Int64")
    return table
