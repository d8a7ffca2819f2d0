"""K models of one family held as one stacked model.

Each fully connected layer's weight has shape ``[K, in, out]`` and its bias ``[K, out]``: a
batched matmul (``torch.baddbmm``) runs all K models in one call, which is what makes training
100 reference models cost little more than training one (benchmarks/train_throughput.py).

Convolution layers (``cw{i}`` ``[K, out, in, k, k]``, ``cb{i}`` ``[K, out]``) run as one
grouped convolution: the K models' channels sit side by side in one ``[B, K·C, H, W]`` tensor
and ``groups=K`` keeps each model's channels apart, so K CNNs cost one kernel launch per layer
(benchmarks/cnn_throughput.py measures it against a per-model loop).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from gmia.base.errors import GmiaError
from gmia.zoo.spec import TrainSpec

_ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}


def conv_output(spec: TrainSpec) -> int:
    """Features per record after the convolution blocks (each halves height and width, floored)."""
    _, height, width = spec.image
    pools = len(spec.conv)
    return spec.conv[-1] * (height >> pools) * (width >> pools)


def layer_sizes(spec: TrainSpec, n_features: int, n_classes: int) -> list[int]:
    """Widths of the fully connected layers, from their input to the classes."""
    return [conv_output(spec) if spec.conv else n_features, *spec.hidden, n_classes]


def init_params(
    spec: TrainSpec, k: int, n_features: int, n_classes: int, generator: torch.Generator
) -> dict[str, torch.Tensor]:
    """Initialise K models as torch.nn.Conv2d and torch.nn.Linear do: weights and biases
    ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in·k·k for a convolution."""
    params: dict[str, torch.Tensor] = {}
    if spec.conv:
        if spec.image[0] * spec.image[1] * spec.image[2] != n_features:
            raise GmiaError(f"image shape {spec.image} does not fit records of {n_features} features; expected "
                            "(channels, height, width) whose product is the number of features")
        channels = [spec.image[0], *spec.conv]
        for i, (c_in, c_out) in enumerate(zip(channels[:-1], channels[1:])):
            bound = 1.0 / math.sqrt(c_in * spec.kernel * spec.kernel)
            params[f"cw{i}"] = torch.rand(k, c_out, c_in, spec.kernel, spec.kernel, generator=generator) * (2 * bound) - bound
            params[f"cb{i}"] = torch.rand(k, c_out, generator=generator) * (2 * bound) - bound
    sizes = layer_sizes(spec, n_features, n_classes)
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        bound = 1.0 / math.sqrt(fan_in)
        w = torch.rand(k, fan_in, fan_out, generator=generator) * (2 * bound) - bound
        b = torch.rand(k, fan_out, generator=generator) * (2 * bound) - bound
        params[f"w{i}"] = w
        params[f"b{i}"] = b
    return params


def n_layers(params: dict[str, torch.Tensor]) -> int:
    """Fully connected layers (convolutions excluded)."""
    return sum(1 for name in params if name.startswith("w"))


def n_conv(params: dict[str, torch.Tensor]) -> int:
    return sum(1 for name in params if name.startswith("cw"))


def conv_features(params: dict[str, torch.Tensor], x: torch.Tensor, act, image: tuple[int, int, int]) -> torch.Tensor:
    """The convolution blocks of K models: ``x [K, B, D]`` or ``[B, D]`` → ``[K, B, F]``.

    Model m's channels are the m-th slice of the channel axis throughout, and its flat output
    is in (channel, row, column) order, as ``torch.nn.Flatten`` gives a one-model CNN.
    """
    k = params["cw0"].shape[0]
    c, height, width = image
    if x.dim() == 2:
        # One batch shared by all models: the first layer is a plain convolution with K·out
        # filters, which spares copying the input K times.
        b = x.shape[0]
        h = x.reshape(b, c, height, width)
        first_groups = 1
    else:
        b = x.shape[1]
        h = x.reshape(k, b, c, height, width).transpose(0, 1).reshape(b, k * c, height, width)
        first_groups = k
    # Channels-last runs the grouped convolutions about twice as fast on CPU (oneDNN) and
    # suits tensor cores on a GPU.
    h = h.contiguous(memory_format=torch.channels_last)
    for i in range(n_conv(params)):
        w, bias = params[f"cw{i}"], params[f"cb{i}"]
        out, c_in, size = w.shape[1], w.shape[2], w.shape[3]
        h = F.conv2d(h, w.reshape(k * out, c_in, size, size), bias.reshape(k * out), padding=size // 2,
                     groups=first_groups if i == 0 else k)
        h = F.max_pool2d(act(h), 2)
    return h.reshape(b, k, -1).transpose(0, 1)


def forward(
    params: dict[str, torch.Tensor],
    x: torch.Tensor,
    activation: str,
    dropout: float = 0.0,
    generator: torch.Generator | None = None,
    image: tuple[int, int, int] | None = None,
) -> torch.Tensor:
    """Logits of every model on its own inputs.

    Parameters
    ----------
    x : ``[K, B, D]`` (each model its own batch) or ``[B, D]`` (one batch shared by all models).
    dropout : applied after each hidden activation when > 0 (training only); masks drawn from
        ``generator`` so a seed fixes them.
    image : ``(channels, height, width)`` of a record, for models with convolution layers.

    Returns
    -------
    ``[K, B, C]`` logits (pre-softmax outputs, the features GMIA's selection uses).
    """
    act = _ACTIVATIONS[activation]
    layers = n_layers(params)
    h = conv_features(params, x, act, image) if "cw0" in params else x
    for i in range(layers):
        w, b = params[f"w{i}"], params[f"b{i}"]
        if h.dim() == 2:
            h = torch.matmul(h, w) + b.unsqueeze(1)
        else:
            h = torch.baddbmm(b.unsqueeze(1), h, w)
        if i < layers - 1:
            h = act(h)
            if dropout > 0:
                keep = torch.rand(h.shape, generator=generator, device=h.device) >= dropout
                h = h * keep / (1.0 - dropout)
    return h


def weight_penalty(params: dict[str, torch.Tensor]) -> torch.Tensor:
    """Σ over models of ‖W‖², convolution kernels included (biases excluded): summing keeps
    each model's gradient its own."""
    return sum(p.pow(2).sum() for name, p in params.items() if name.startswith(("w", "cw")))


def activation_floats(spec: TrainSpec, k: int) -> int:
    """Floats of the largest activation one record makes in K models: sizes evaluation blocks."""
    if spec.conv:
        return k * spec.conv[0] * spec.image[1] * spec.image[2]
    return k * max([1, *spec.hidden])
