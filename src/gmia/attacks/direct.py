"""GMIA direct inference (GMIA.md step 3): query the target with the record itself."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gmia.errors import GmiaError, check_choice
from gmia.stats import TAIL_RULES, ecdf_pvalues


def check_cutoff(cutoff: float) -> None:
    if not (0.0 < cutoff < 1.0):
        raise GmiaError(f"cutoff {cutoff} is out of range; expected a p-value threshold in (0, 1)")


def check_cutoffs(cutoffs) -> None:
    if not cutoffs:
        raise GmiaError("no cutoff given; expected at least one p-value threshold in (0, 1)")
    for c in cutoffs:
        check_cutoff(c)


@dataclass
class GmiaDirect:
    """Left-tailed test of the target's log loss against the k reference models' losses.

    ``fit(reference_losses)`` takes L_1..L_k, shape ``[k, n]`` (reference models × records);
    ``score(target_losses)`` takes L(M, r), shape ``[T, n]``, and returns p-values ``[T, n]``.
    A (record, target) pair is called "member" iff p < cutoff.
    """

    tail: str = "pchip"
    name: str = field(default="gmia-direct", init=False)
    reference_: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self):
        check_choice("tail rule", self.tail, TAIL_RULES)

    def fit(self, reference_losses: np.ndarray) -> "GmiaDirect":
        reference_losses = np.asarray(reference_losses, dtype=np.float64)
        if reference_losses.ndim != 2 or reference_losses.shape[0] < 2:
            raise GmiaError(
                f"got {reference_losses.shape[0] if reference_losses.ndim == 2 else 'no'} reference models; "
                "expected k >= 2 reference losses per record"
            )
        self.reference_ = reference_losses
        return self

    def score(self, target_losses: np.ndarray) -> np.ndarray:
        if self.reference_ is None:
            raise RuntimeError("call fit() before score()")
        target_losses = np.atleast_2d(np.asarray(target_losses, dtype=np.float64))
        return ecdf_pvalues(self.reference_, target_losses, self.tail)

    @staticmethod
    def decide(pvalues: np.ndarray, cutoff: float) -> np.ndarray:
        check_cutoff(cutoff)
        return np.asarray(pvalues) < cutoff
