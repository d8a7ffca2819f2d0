"""Signals: what the attacks see of a model, as matrices over (models, records)."""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp


def log_loss(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    """L(M, r) = −log p_y(r) from logits ``[..., N, C]`` and labels ``[N]``; returns ``[..., N]`` float64.

    Computed as logsumexp(z) − z_y so a confident model gives small positive losses, not
    ``-log(1.0) = 0`` from a rounded softmax.
    """
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    picked = np.take_along_axis(z, np.broadcast_to(y[:, None], z.shape[:-1] + (1,)), axis=-1)[..., 0]
    return logsumexp(z, axis=-1) - picked


def proba_loss(proba: np.ndarray, y: np.ndarray) -> np.ndarray:
    """L = −log p_y from probability vectors ``[..., N, C]`` (all a black-box answer holds);
    a probability of 0 (rounded, or cut by top-k) gives a large finite loss, not inf."""
    p = np.asarray(proba, dtype=np.float64)
    picked = np.take_along_axis(p, np.broadcast_to(np.asarray(y)[:, None], p.shape[:-1] + (1,)), axis=-1)[..., 0]
    return -np.log(np.clip(picked, 1e-300, None))


def predictions(logits: np.ndarray) -> np.ndarray:
    return np.asarray(logits).argmax(axis=-1)


def accuracy(logits: np.ndarray, y: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Per-model accuracy ``[K]``; ``mask[K, N]`` restricts each model to its own records."""
    correct = predictions(logits) == np.asarray(y)[None, :]
    if mask is None:
        return correct.mean(axis=1)
    return (correct & mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1)
