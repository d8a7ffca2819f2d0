"""Robust membership inference, RMIA (Zarifzadeh, Liu, Mahloujifar, Shokri, ICML 2024).

For a target model θ and candidate x, with Pr(x | θ) the probability θ gives x's true label:

    ratio_x = Pr(x | θ) / Pr(x),   Pr(x) = the marginal over reference models θ'.

- online: Pr(x) = ½ (mean over the models trained on x + mean over the others), the marginal
  when x is in half of the reference training sets.
- offline (OUT models only): Pr(x) = ((1 + a)/2) · mean_out + (1 − a)/2, the paper's linear
  approximation of the missing IN half (``a`` = 0.3 by default).

The score compares x with population records z (never in any target's or reference model's
training set): score(x) = fraction of z with ratio_x / ratio_z > γ. For z every reference model
is an OUT model, so Pr(z) = mean over them (online) or the same linear approximation (offline).
Per target the z ratios are sorted once and all candidates are counted with ``np.searchsorted``:
O((n + Z) log Z) time and O(T (n + Z)) memory, never an n × Z matrix.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gmia.attacks.base import Attack
from gmia.attacks.inputs import AttackInputs
from gmia.base.errors import GmiaError

TINY = 1e-300  # a marginal of exactly 0 (all references certain of another class) stays finite


@dataclass
class Rmia(Attack):
    """RMIA scores in [0, 1], ``[T, n]``; higher = more likely member.

    ``fit(inputs)`` / ``score(inputs)`` take Pr(x | θ) = p_y = exp(−L) of the in/out shadow
    models (the reference models θ') and of the targets, on pool and population records;
    ``fit_probs`` / ``score_probs`` are the same on probability arrays.

    Parameters
    ----------
    online : use IN and OUT reference models (True) or OUT models only (False).
    a : offline approximation parameter, in [0, 1].
    gamma : γ > 0, the pairwise likelihood-ratio threshold.
    """

    online: bool = True
    a: float = 0.3
    gamma: float = 1.0
    name: str = field(default="", init=False)
    marginal_x_: np.ndarray | None = field(default=None, init=False, repr=False)
    marginal_z_: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self):
        if not 0.0 <= self.a <= 1.0:
            raise GmiaError(f"RMIA offline parameter a={self.a} is out of range; expected a value in [0, 1]")
        if not self.gamma > 0.0:
            raise GmiaError(f"RMIA threshold gamma={self.gamma} is out of range; expected gamma > 0")
        self.name = "rmia-online" if self.online else "rmia-offline"

    def _offline(self, mean_out: np.ndarray) -> np.ndarray:
        return 0.5 * (1.0 + self.a) * mean_out + 0.5 * (1.0 - self.a)

    def fit_probs(self, reference_prob_x: np.ndarray, reference_membership: np.ndarray, reference_prob_z: np.ndarray) -> "Rmia":
        """``reference_prob_x [K, n]``: Pr(x | θ'_k); ``reference_membership [K, n]``: θ'_k trained on x;
        ``reference_prob_z [K, Z]``: Pr(z | θ'_k) on the population records."""
        px = np.asarray(reference_prob_x, dtype=np.float64)
        member = np.asarray(reference_membership, dtype=bool)
        pz = np.asarray(reference_prob_z, dtype=np.float64)
        if px.ndim != 2 or member.shape != px.shape or pz.ndim != 2 or pz.shape[0] != px.shape[0]:
            raise GmiaError(f"reference probabilities of shape {px.shape}, membership {member.shape} and population "
                            f"{pz.shape} do not match; expected [K, n], [K, n] and [K, Z]")
        n_out = (~member).sum(axis=0)
        n_in = member.sum(axis=0)
        need_in = self.online
        if n_out.min(initial=1) < 1 or (need_in and n_in.min(initial=1) < 1):
            raise GmiaError(f"some record has {int(n_in.min())} IN and {int(n_out.min())} OUT reference models; "
                            f"expected at least one OUT{' and one IN' if need_in else ''} model per record")
        mean_out = np.where(member, 0.0, px).sum(axis=0) / n_out
        if self.online:
            mean_in = np.where(member, px, 0.0).sum(axis=0) / n_in
            self.marginal_x_ = 0.5 * (mean_in + mean_out)
            self.marginal_z_ = pz.mean(axis=0)
        else:
            self.marginal_x_ = self._offline(mean_out)
            self.marginal_z_ = self._offline(pz.mean(axis=0))
        return self

    def score_probs(self, target_prob_x: np.ndarray, target_prob_z: np.ndarray) -> np.ndarray:
        """``target_prob_x [T, n]``: Pr(x | θ_t); ``target_prob_z [T, Z]``: Pr(z | θ_t) → ``[T, n]``."""
        if self.marginal_x_ is None:
            raise RuntimeError("call fit() before score()")
        px = np.atleast_2d(np.asarray(target_prob_x, dtype=np.float64))
        pz = np.atleast_2d(np.asarray(target_prob_z, dtype=np.float64))
        if pz.shape[0] != px.shape[0] or pz.shape[1] != self.marginal_z_.size:
            raise GmiaError(f"target population probabilities of shape {pz.shape} do not match {px.shape[0]} targets "
                            f"and {self.marginal_z_.size} population records; expected [T, Z]")
        ratio_x = px / np.maximum(self.marginal_x_, TINY)
        ratio_z = np.sort(pz / np.maximum(self.marginal_z_, TINY), axis=1)
        out = np.empty(ratio_x.shape, dtype=np.float64)
        # ratio_x / ratio_z > γ  ⇔  ratio_z < ratio_x / γ: count strictly smaller z ratios.
        for t in range(ratio_x.shape[0]):  # per target model; records are vectorised
            out[t] = np.searchsorted(ratio_z[t], ratio_x[t] / self.gamma, side="left")
        return out / ratio_z.shape[1]

    def fit(self, inputs: AttackInputs) -> "Rmia":
        # exp(−L) rather than a softmax: the losses are already computed stably from logits.
        return self.fit_probs(np.exp(-inputs.shadow_loss), inputs.shadow_membership, np.exp(-inputs.shadow_loss_pop))

    def score(self, inputs: AttackInputs) -> np.ndarray:
        return self.score_probs(np.exp(-inputs.target_loss), np.exp(-inputs.target_loss_pop))
