"""What a prediction API reveals: the provider's output post-processing (a defence at query time).

Top-k keeps the k largest probabilities and zeroes the rest (not renormalised, as APIs show
them); rounding keeps d decimals; label-only answers a one-hot vector of the predicted class.
An adversary who knows the API's format applies the same policy to its reference models' outputs
(GMIA's threat model: it mirrors everything it can observe).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import numpy as np
from scipy.special import softmax

from gmia.base.errors import GmiaError
from gmia.stats.signals import proba_loss


@dataclass(frozen=True)
class OutputPolicy:
    top_k: int | None = None
    decimals: int | None = None
    label_only: bool = False

    def __post_init__(self):
        if self.top_k is not None and self.top_k < 1:
            raise GmiaError(f"top-k {self.top_k} is not positive; expected k >= 1 classes to reveal")
        if self.decimals is not None and not 0 <= self.decimals <= 15:
            raise GmiaError(f"rounding to {self.decimals} decimals is out of range; expected 0 to 15")

    @property
    def is_identity(self) -> bool:
        return self.top_k is None and self.decimals is None and not self.label_only

    def apply(self, proba: np.ndarray) -> np.ndarray:
        """``[..., C]`` probabilities → what the API returns, same shape, float64."""
        p = np.asarray(proba, dtype=np.float64)
        if self.label_only:
            return (np.arange(p.shape[-1]) == np.argmax(p, axis=-1)[..., None]).astype(np.float64)
        if self.top_k is not None and self.top_k < p.shape[-1]:
            kth = -np.sort(-p, axis=-1)[..., self.top_k - 1 : self.top_k]
            p = np.where(p >= kth, p, 0.0)
        if self.decimals is not None:
            p = np.round(p, self.decimals)
        return p

    def losses(self, logits: np.ndarray, y: np.ndarray) -> np.ndarray:
        """L = −log p_y of logits ``[..., N, C]`` as seen through this policy: what an adversary
        mirroring the API computes for its own models (and for a target's answers)."""
        return proba_loss(self.apply(softmax(np.asarray(logits, dtype=np.float64), axis=-1)), y)

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        if self.is_identity:
            return "full probability vectors"
        if self.label_only:
            return "label only"
        parts = ([f"top-{self.top_k}"] if self.top_k else []) + ([f"rounded to {self.decimals} decimals"] if self.decimals is not None else [])
        return ", ".join(parts)


def model_id(model, policy: "OutputPolicy") -> str:
    """What the answers depend on: the model and the output policy. Clients key caches on it."""
    return hashlib.sha256((model.fingerprint() + json.dumps(policy.to_dict(), sort_keys=True)).encode()).hexdigest()[:32]
