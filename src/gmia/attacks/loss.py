"""Loss-threshold attack (Yeom, Giacomelli, Fredrikson, Jha, CSF 2018).

A record r is called a member of model M iff its loss L(M, r) = −log p_y(r) is below the
model's average training loss τ. No reference model is needed for the score; only the decision
threshold τ needs an estimate of the training loss, which we take from models trained like the
target (the shadow models' losses on their own training records).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gmia.attacks.base import Attack
from gmia.attacks.inputs import AttackInputs
from gmia.base.errors import GmiaError


@dataclass
class LossThreshold(Attack):
    """Membership score −L(M, r): a lower loss means more likely a member.

    ``fit(inputs)`` sets τ to the mean loss of the in/out shadow models on the records they
    trained on; ``score(inputs)`` returns −L of the targets ``[T, n]``. On plain arrays:
    ``fit_losses(train_losses)`` (any shape) and ``score_losses(target_losses [T, n])``.
    ``decide(target_losses)`` calls "member" iff L < τ. ROC metrics need only the score.
    """

    name: str = field(default="loss", init=False)
    threshold_: float | None = field(default=None, init=False, repr=False)

    def fit_losses(self, train_losses: np.ndarray | None = None) -> "LossThreshold":
        if train_losses is not None:
            losses = np.asarray(train_losses, dtype=np.float64)
            if losses.size == 0 or not np.isfinite(losses).all():
                raise GmiaError(f"training losses for the loss threshold have {losses.size} values, not all finite; "
                                "expected at least one finite loss")
            self.threshold_ = float(losses.mean())
        return self

    def score_losses(self, target_losses: np.ndarray) -> np.ndarray:
        return -np.atleast_2d(np.asarray(target_losses, dtype=np.float64))

    def fit(self, inputs: AttackInputs) -> "LossThreshold":
        return self.fit_losses(inputs.shadow_loss[inputs.shadow_membership])

    def score(self, inputs: AttackInputs) -> np.ndarray:
        return self.score_losses(inputs.target_loss)

    def threshold(self) -> float:
        """Member iff the loss is below the fitted threshold: the score is −loss."""
        if self.threshold_ is None:
            raise RuntimeError("call fit() before decide()")
        return -self.threshold_
