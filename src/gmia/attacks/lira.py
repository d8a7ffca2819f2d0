"""Likelihood-ratio attack, LiRA (Carlini, Chien, Nasr, Song, Terzis, Tramèr, S&P 2022).

The statistic is the logit-scaled confidence of the true label,
φ(M, r) = log(p_y / (1 − p_y)), which is close to Gaussian over models trained on random data
sets. From shadow models with a membership matrix (each record in about half of them):

- online: fit N(μ_in, σ_in²) to φ of the models trained on r and N(μ_out, σ_out²) to the others;
  score = log N(φ(M, r); μ_in, σ_in) − log N(φ(M, r); μ_out, σ_out).
- offline: only the OUT models; score = −log Pr[Z ≥ φ(M, r)], Z ~ N(μ_out, σ_out²), the
  one-sided test's log p-value (members have higher φ, so they score higher).

``variance="per-record"`` estimates σ for each record; ``"fixed"`` pools the within-record
variance over all records (the paper's choice with few shadow models): one σ_in and one σ_out.
Everything is numpy over ``[models, records]``; no loop over records.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import log_ndtr, logsumexp

from gmia.attacks.base import Attack
from gmia.attacks.inputs import AttackInputs
from gmia.base.errors import GmiaError, check_choice

VARIANCES = ("per-record", "fixed")
MIN_STD = 1e-6  # φ of a saturated model can repeat exactly; keep the Gaussians proper


def logit_confidence(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    """φ = log p_y − log(1 − p_y) = z_y − logsumexp_{c ≠ y} z_c, from logits ``[..., N, C]``.

    Written in logits so a confident model gives a large finite φ instead of log(1 − 1.0).
    """
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    true = np.arange(z.shape[-1]) == y[:, None]  # [N, C]
    z_y = np.where(true, z, 0.0).sum(axis=-1)
    z_other = logsumexp(np.where(true, -np.inf, z), axis=-1)
    return z_y - z_other


def gaussian_fit(phi: np.ndarray, mask: np.ndarray, variance: str, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation ``[n]`` of ``phi[k, j]`` over the models ``k`` with ``mask[k, j]``.

    Per record, the unbiased variance; ``"fixed"``: the pooled within-record variance
    Σ_j Σ_k (φ_kj − μ_j)² / Σ_j (n_j − 1), the same for every record.
    """
    counts = mask.sum(axis=0)
    if counts.min(initial=2) < 2:
        j = int(np.argmin(counts))
        raise GmiaError(f"record at position {j} has {int(counts[j])} {what} shadow models; "
                        f"expected at least 2 per record to fit a Gaussian")
    mu = np.where(mask, phi, 0.0).sum(axis=0) / counts
    dev2 = np.where(mask, (phi - mu) ** 2, 0.0).sum(axis=0)
    var = dev2 / (counts - 1) if variance == "per-record" else np.full(mu.shape, dev2.sum() / (counts - 1).sum())
    return mu, np.maximum(np.sqrt(var), MIN_STD)


@dataclass
class Lira(Attack):
    """LiRA on logit-scaled confidences; ``score`` returns ``[T, n]``, higher = member.

    ``fit(inputs)`` / ``score(inputs)`` take φ of the in/out shadow models and of the targets
    from their logits; ``fit_phi(shadow_phi, shadow_membership)`` / ``score_phi(target_phi)``
    are the same on φ arrays.

    Parameters
    ----------
    online : fit IN and OUT Gaussians (True) or the OUT Gaussian only (False).
    variance : ``"per-record"`` or ``"fixed"`` (see module docstring).
    """

    online: bool = True
    variance: str = "per-record"
    name: str = field(default="", init=False)
    mu_in_: np.ndarray | None = field(default=None, init=False, repr=False)
    sd_in_: np.ndarray | None = field(default=None, init=False, repr=False)
    mu_out_: np.ndarray | None = field(default=None, init=False, repr=False)
    sd_out_: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self):
        check_choice("LiRA variance", self.variance, VARIANCES)
        self.name = ("lira-online" if self.online else "lira-offline") + ("-fixed" if self.variance == "fixed" else "")

    def fit_phi(self, shadow_phi: np.ndarray, shadow_membership: np.ndarray) -> "Lira":
        """``shadow_phi [K, n]``: φ of K shadow models; ``shadow_membership [K, n]``: trained on r."""
        phi = np.asarray(shadow_phi, dtype=np.float64)
        member = np.asarray(shadow_membership, dtype=bool)
        if phi.ndim != 2 or member.shape != phi.shape:
            raise GmiaError(f"shadow confidences of shape {phi.shape} and membership of shape {member.shape} "
                            "do not match; expected both [models, records]")
        self.mu_out_, self.sd_out_ = gaussian_fit(phi, ~member, self.variance, "OUT")
        if self.online:
            self.mu_in_, self.sd_in_ = gaussian_fit(phi, member, self.variance, "IN")
        return self

    def score_phi(self, target_phi: np.ndarray) -> np.ndarray:
        """``target_phi [T, n]`` → scores ``[T, n]``."""
        if self.mu_out_ is None:
            raise RuntimeError("call fit() before score()")
        phi = np.atleast_2d(np.asarray(target_phi, dtype=np.float64))
        z_out = (phi - self.mu_out_) / self.sd_out_
        if not self.online:
            # −log of the upper-tail p-value, via log Φ(−z) so far tails stay finite.
            return -log_ndtr(-z_out)
        z_in = (phi - self.mu_in_) / self.sd_in_
        # log N(φ; μ_in, σ_in) − log N(φ; μ_out, σ_out); the 1/√(2π) factors cancel.
        return 0.5 * (z_out**2 - z_in**2) + np.log(self.sd_out_) - np.log(self.sd_in_)

    def fit(self, inputs: AttackInputs) -> "Lira":
        return self.fit_phi(logit_confidence(inputs.shadow_logits, inputs.y_pool), inputs.shadow_membership)

    def score(self, inputs: AttackInputs) -> np.ndarray:
        return self.score_phi(logit_confidence(inputs.target_logits, inputs.y_pool))
