"""K models of one family held as one stacked model.

Each layer's weight has shape ``[K, in, out]`` and its bias ``[K, out]``: a batched matmul
(``torch.baddbmm``) runs all K models in one call, which is what makes training 100 reference
models cost little more than training one (benchmarks/train_throughput.py).
"""

from __future__ import annotations

import math

import torch

from gmia.zoo.spec import TrainSpec

_ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}


def layer_sizes(spec: TrainSpec, n_features: int, n_classes: int) -> list[int]:
    return [n_features, *spec.hidden, n_classes]


def init_params(
    spec: TrainSpec, k: int, n_features: int, n_classes: int, generator: torch.Generator
) -> dict[str, torch.Tensor]:
    """Initialise K models as torch.nn.Linear does: W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    sizes = layer_sizes(spec, n_features, n_classes)
    params: dict[str, torch.Tensor] = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        bound = 1.0 / math.sqrt(fan_in)
        w = torch.rand(k, fan_in, fan_out, generator=generator) * (2 * bound) - bound
        b = torch.rand(k, fan_out, generator=generator) * (2 * bound) - bound
        params[f"w{i}"] = w
        params[f"b{i}"] = b
    return params


def n_layers(params: dict[str, torch.Tensor]) -> int:
    return sum(1 for name in params if name.startswith("w"))


def forward(
    params: dict[str, torch.Tensor],
    x: torch.Tensor,
    activation: str,
    dropout: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Logits of every model on its own inputs.

    Parameters
    ----------
    x : ``[K, B, D]`` (each model its own batch) or ``[B, D]`` (one batch shared by all models).
    dropout : applied after each hidden activation when > 0 (training only); masks drawn from
        ``generator`` so a seed fixes them.

    Returns
    -------
    ``[K, B, C]`` logits (pre-softmax outputs, the features GMIA's selection uses).
    """
    act = _ACTIVATIONS[activation]
    layers = n_layers(params)
    h = x
    for i in range(layers):
        w, b = params[f"w{i}"], params[f"b{i}"]
        if h.dim() == 2:
            h = torch.matmul(h, w) + b.unsqueeze(1)
        else:
            h = torch.baddbmm(b.unsqueeze(1), h, w)
        if i < layers - 1:
            h = act(h)
            if dropout > 0:
                keep = torch.rand(h.shape, generator=generator) >= dropout
                h = h * keep / (1.0 - dropout)
    return h


def weight_penalty(params: dict[str, torch.Tensor]) -> torch.Tensor:
    """Σ over models of ‖W‖² (biases excluded): summing keeps each model's gradient its own."""
    return sum(p.pow(2).sum() for name, p in params.items() if name.startswith("w"))
