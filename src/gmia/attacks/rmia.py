"""Robust membership inference, RMIA (Zarifzadeh, Liu, Mahloujifar, Shokri, ICML 2024).

For a target model θ and candidate x, with Pr(x | θ) the probability θ gives x's true label:

    ratio_x = Pr(x | θ) / Pr(x),   Pr(x) = the marginal over reference models θ'.

- online: Pr(x) = ½ (mean over the models trained on x + mean over the others), the marginal
  when x is in half of the reference training sets.
- offline (OUT models only): Pr(x) = ((1 + a)/2) · mean_out + (1 − a)/2, the paper's linear
  approximation of the missing IN half. ``a`` is tuned the paper's way (and ML Privacy Meter's)
  unless given: each of a few reference models in turn plays the target, the others its
  references, and the ``a`` of the grid 0, 0.1, .., 1 with the highest mean AUC on its own
  membership is kept (``a_``; the comparison prints it). A fixed 0.3 understated RMIA: tuned
  values were 0.9-1.0 on Adult and Cancer.

A record and a population record with the same content (an exact twin) get the same marginal:
where a record is IN exactly half of the reference models, ½ (mean_in + mean_out) equals the
mean over all of them, and it is computed as that mean, as Pr(z) is, so equal ratios tie
exactly instead of rounding either way.

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
from gmia.stats.roc import roc_summary

TINY = 1e-300  # a marginal of exactly 0 (all references certain of another class) stays finite
A_GRID = tuple(np.round(np.linspace(0.0, 1.0, 11), 10))  # the offline a's tried
TUNING_MODELS = 4  # reference models that play the target while a is tuned


@dataclass
class Rmia(Attack):
    """RMIA scores in [0, 1], ``[T, n]``; higher = more likely member.

    ``fit(inputs)`` / ``score(inputs)`` take Pr(x | θ) = p_y = exp(−L) of the in/out shadow
    models (the reference models θ') and of the targets, on pool and population records;
    ``fit_probs`` / ``score_probs`` are the same on probability arrays.

    Parameters
    ----------
    online : use IN and OUT reference models (True) or OUT models only (False).
    a : offline approximation parameter, in [0, 1]; None (default): tuned on the reference
        models at fit (``a_``).
    gamma : γ > 0, the pairwise likelihood-ratio threshold.
    """

    online: bool = True
    a: float | None = None
    gamma: float = 1.0
    name: str = field(default="", init=False)
    a_: float | None = field(default=None, init=False)  # the a used (given or tuned); offline only
    marginal_x_: np.ndarray | None = field(default=None, init=False, repr=False)
    marginal_z_: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self):
        if self.a is not None and not 0.0 <= self.a <= 1.0:
            raise GmiaError(f"RMIA offline parameter a={self.a} is out of range; expected a value in [0, 1]")
        if not self.gamma > 0.0:
            raise GmiaError(f"RMIA threshold gamma={self.gamma} is out of range; expected gamma > 0")
        self.name = "rmia-online" if self.online else "rmia-offline"

    @staticmethod
    def _offline(mean_out: np.ndarray, a: float) -> np.ndarray:
        return 0.5 * (1.0 + a) * mean_out + 0.5 * (1.0 - a)

    def parameters(self) -> dict:
        """The constructor's, with ``a`` the one used once fitted (tuned unless given)."""
        out = super().parameters()
        if not self.online:
            out["a"] = self.a_ if self.a_ is not None else self.a
            out["a_tuned"] = self.a is None
        return out

    def tune_a(self, reference_prob_x: np.ndarray, reference_membership: np.ndarray,
               reference_prob_z: np.ndarray) -> float:
        """The paper's choice of ``a``: each of the first `TUNING_MODELS` reference models plays the
        target, the others (their OUT models per record) its references; the grid value with the
        highest mean ROC AUC on the played target's own membership (the smallest on a tie)."""
        k = reference_prob_x.shape[0]
        played = [j for j in range(min(k, TUNING_MODELS))
                  if (~reference_membership[np.arange(k) != j]).sum(axis=0).min() >= 1
                  and reference_membership[j].any() and not reference_membership[j].all()]
        if not played:
            return 0.3  # too few models to play a target: the paper's fixed value
        aucs = np.zeros(len(A_GRID))
        for j in played:
            others = np.arange(k) != j
            trial = Rmia(online=False, gamma=self.gamma)
            for i, a in enumerate(A_GRID):
                trial.a = float(a)
                trial.fit_probs(reference_prob_x[others], reference_membership[others], reference_prob_z[others])
                scores = trial.score_probs(reference_prob_x[j][None], reference_prob_z[j][None])
                aucs[i] += roc_summary(scores, reference_membership[j][None]).auc
        return float(A_GRID[int(np.argmax(aucs))])

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
            # IN exactly half: ½ (mean_in + mean_out) is the mean over all, computed as Pr(z)'s is (twins tie exactly).
            self.marginal_x_ = np.where(n_in == n_out, px.mean(axis=0), 0.5 * (mean_in + mean_out))
            self.marginal_z_ = pz.mean(axis=0)
        else:
            a = self.a if self.a is not None else self.tune_a(px, member, pz)
            self.a_ = a
            self.marginal_x_ = self._offline(mean_out, a)
            self.marginal_z_ = self._offline(pz.mean(axis=0), a)
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
