"""GMIA direct inference (docs/algorithm.md step 3): query the target with the record itself."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gmia.attacks.base import Attack, AttackSettings
from gmia.attacks.inputs import AttackInputs
from gmia.base.errors import GmiaError, check_choice
from gmia.stats.ecdf import TAIL_RULES, ecdf_pvalues


@dataclass
class GmiaDirect(Attack):
    """Left-tailed test of the target's log loss L(M, r) against the k reference models' L_1..L_k.

    On the comparison's inputs: ``fit(inputs)`` takes ``inputs.reference_loss`` ``[k, n]``,
    ``pvalues(inputs)`` returns p ``[T, n]`` for ``inputs.target_loss``, and ``score(inputs)``
    returns −p (higher = member, like every attack). On plain arrays, for callers that have no
    inputs object (evaluation, audit, the indirect test):
    ``GmiaDirect(tail).fit_losses(reference_losses [k, n]).pvalues_of(target_losses [T, n])``.
    A (record, target) pair is called "member" iff p < cutoff.
    """

    tail: str = "gaussian"
    name: str = field(default="gmia-direct", init=False)
    reference_: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self):
        check_choice("tail rule", self.tail, TAIL_RULES)

    @classmethod
    def from_settings(cls, settings: AttackSettings, **fixed) -> "GmiaDirect":
        return cls(tail=settings.tail, **fixed)

    def fit_losses(self, reference_losses: np.ndarray) -> "GmiaDirect":
        """L_1..L_k of each record, ``[k, n]`` (reference models × records)."""
        reference_losses = np.asarray(reference_losses, dtype=np.float64)
        if reference_losses.ndim != 2 or reference_losses.shape[0] < 2:
            raise GmiaError(
                f"got {reference_losses.shape[0] if reference_losses.ndim == 2 else 'no'} reference models; "
                "expected k >= 2 reference losses per record"
            )
        self.reference_ = reference_losses
        return self

    def pvalues_of(self, target_losses: np.ndarray) -> np.ndarray:
        """p-values ``[T, n]`` of the targets' losses L(M, r) ``[T, n]`` (or ``[n]``)."""
        if self.reference_ is None:
            raise RuntimeError("call fit_losses() or fit() before computing p-values")
        target_losses = np.atleast_2d(np.asarray(target_losses, dtype=np.float64))
        return ecdf_pvalues(self.reference_, target_losses, self.tail)

    def fit(self, inputs: AttackInputs) -> "GmiaDirect":
        return self.fit_losses(inputs.reference_loss)

    def pvalues(self, inputs: AttackInputs) -> np.ndarray:
        return self.pvalues_of(inputs.target_loss)

    def score(self, inputs: AttackInputs) -> np.ndarray:
        # A smaller p is stronger evidence of membership; −p keeps the ranking and flips the order.
        return -self.pvalues(inputs)

