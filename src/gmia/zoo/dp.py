"""DP-SGD inside the stacked trainer: K private models trained at once (Abadi et al. 2016).

Each step, every model m gets a Poisson sample of its own training set (each record with
probability q), each record's gradient is clipped to norm C, the clipped gradients are summed,
Gaussian noise N(0, σ²C²) is added to every coordinate, and the sum is divided by the expected
batch size q·n: Opacus' mechanics (``loss_reduction="mean"``), vectorised over the K models.

Per-record gradient norms come without materialising per-record gradients: for a linear layer
z = a·W + b applied once per record, record i's gradient is the outer product a_i ⊗ δ_i
(δ_i = ∂ℓ_i/∂z_i), so its squared norm is (‖a_i‖² + 1)·‖δ_i‖² (weight and bias), and the
clipped sum is aᵀ·diag(c)·δ, one batched matmul per layer.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from gmia.zoo import stacked


def poisson_positions(k: int, n: int, q: float, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Poisson samples of positions ``0..n-1`` for each of k models, padded to one width.

    Gaps between selected positions of a Bernoulli(q) sequence are Geometric(q); drawing the
    gaps costs O(k · q·n), not O(k · n). Returns (positions ``[k, W]`` int64, valid ``[k, W]``
    bool); padded slots have position 0 and valid False.
    """
    width = int(q * n + 4 * math.sqrt(n * q * (1 - q)) + 8)
    last = torch.full((k, 1), -1.0, dtype=torch.float64)
    parts = []
    while True:
        u = torch.rand(k, width, generator=generator, dtype=torch.float64)
        gaps = torch.floor(torch.log1p(-u) / math.log1p(-q)) + 1 if q < 1 else torch.ones_like(u)
        pos = last + torch.cumsum(gaps, dim=1)
        parts.append(pos)
        last = pos[:, -1:]
        if bool((last >= n).all()):  # every model's sequence has run past the end
            break
    pos = torch.cat(parts, dim=1)
    valid = pos < n
    w = max(1, int(valid.sum(dim=1).max()))
    pos, valid = pos[:, :w], valid[:, :w]
    return torch.where(valid, pos, torch.zeros_like(pos)).to(torch.int64), valid


def clipped_gradient_sum(
    params: dict[str, torch.Tensor], xb: torch.Tensor, yb: torch.Tensor, weight: torch.Tensor, activation: str,
    clip: float, dropout: float = 0.0, generator: torch.Generator | None = None,
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Σ_i min(1, C/‖g_i‖)·g_i for each model, and the per-record norms ‖g_i‖.

    ``xb [K, W, D]``, ``yb [K, W]``; ``weight [K, W]`` is 1 for real records and 0 for padding
    (a padded record has zero gradient). Clip factor C / (‖g‖ + 1e-6), capped at 1, as Opacus.
    """
    act = stacked._ACTIVATIONS[activation]
    layers = stacked.n_layers(params)
    inputs, outputs = [], []
    h = xb
    with torch.enable_grad():
        for i in range(layers):
            w, b = params[f"w{i}"].detach(), params[f"b{i}"].detach()
            inputs.append(h.detach())
            z = torch.baddbmm(b.unsqueeze(1), h, w)
            if i == 0:
                z.requires_grad_(True)
            outputs.append(z)
            if i < layers - 1:
                h = act(z)
                if dropout > 0:  # the masks stacked.forward would draw, in the same order
                    keep = torch.rand(h.shape, generator=generator).to(h.device) >= dropout
                    h = h * keep / (1.0 - dropout)
        k, width, c = outputs[-1].shape
        losses = F.cross_entropy(outputs[-1].reshape(-1, c), yb.reshape(-1), reduction="none").view(k, width)
        deltas = torch.autograd.grad((losses * weight).sum(), outputs)
    sq = sum((a.pow(2).sum(-1) + 1.0) * d.pow(2).sum(-1) for a, d in zip(inputs, deltas))
    norms = sq.sqrt()
    factor = (clip / (norms + 1e-6)).clamp(max=1.0)
    grads = {}
    for i, (a, d) in enumerate(zip(inputs, deltas)):
        scaled = d * factor.unsqueeze(-1)
        grads[f"w{i}"] = torch.bmm(a.transpose(1, 2), scaled)
        grads[f"b{i}"] = scaled.sum(dim=1)
    return grads, norms


def privatise(grads: dict[str, torch.Tensor], clip: float, noise: float, expected_batch: float,
              generator: torch.Generator) -> dict[str, torch.Tensor]:
    """(Σ clipped + N(0, σ²C²)) / expected batch size, per coordinate."""
    out = {}
    for name, g in grads.items():
        if noise > 0:
            # Drawn on the CPU generator whatever the device, so a seed fixes the noise everywhere.
            g = g + torch.randn(g.shape, generator=generator).to(g.device) * (noise * clip)
        out[name] = g / expected_batch
    return out
