"""The signal matrices every registered attack is fitted and scored on (built by gmia.comparison).

Each attack takes what it needs: GMIA direct the k reference models' losses L_1..L_k and the
targets' L(M, r); LiRA, RMIA, Shokri and the loss threshold the in/out shadow models (each pool
record IN half of them) and, for RMIA, the population records z. Losses are derived from the
logits once, on first use, with the same stable ``log_loss`` for everyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from gmia.stats.signals import log_loss


@dataclass(eq=False)
class AttackInputs:
    """Signals of targets ``[T, ...]``, in/out shadows ``[K, ...]`` and GMIA's references ``[k, ...]``
    on the pool records (P) and the population records (Z)."""

    y_pool: np.ndarray  # [P]
    y_pop: np.ndarray  # [Z]
    target_logits: np.ndarray  # [T, P, C]
    target_logits_pop: np.ndarray  # [T, Z, C]
    shadow_logits: np.ndarray  # [K, P, C]
    shadow_logits_pop: np.ndarray  # [K, Z, C]
    shadow_membership: np.ndarray  # [K, P] bool
    reference_loss: np.ndarray  # [k, P] GMIA's reference models
    target_loss: np.ndarray  # [T, P]

    @cached_property
    def shadow_loss(self) -> np.ndarray:
        return log_loss(self.shadow_logits, self.y_pool)

    @cached_property
    def shadow_loss_pop(self) -> np.ndarray:
        return log_loss(self.shadow_logits_pop, self.y_pop)

    @cached_property
    def target_loss_pop(self) -> np.ndarray:
        return log_loss(self.target_logits_pop, self.y_pop)

    @property
    def shape(self) -> tuple[int, int]:
        """``(T, P)``: the shape every attack's scores have."""
        return self.target_loss.shape
