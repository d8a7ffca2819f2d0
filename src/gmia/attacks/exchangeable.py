"""GMIA's direct test against references drawn like the target (docs/algorithm.md, "Exchangeable
references"), as an attack of the comparison.

The comparison's in/out shadow models are trained like its targets, on random halves of the
pool: for a record r the shadows that did not train on it are drawn exactly like a target that
did not, so the target's loss on r is tested against theirs (the Student-t predictive test on
the logit-scaled confidence, `gmia.stats.exchangeable`), each model's overall shift removed on
the population records, which no target or shadow trained on (when there are any). Selection (which records the
verdict rows are about) still uses the paper's adversary-trained references, other models.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gmia.attacks.base import Attack, AttackSettings
from gmia.attacks.inputs import AttackInputs
from gmia.base.errors import check_choice
from gmia.stats.exchangeable import DEFAULT_TEST, TESTS, model_shifts


@dataclass
class GmiaExchangeable(Attack):
    """Score −p, p the exchangeable test's p-value of each (target, pool record) pair against
    the shadows that left the record out (1 where fewer than 3 did: no evidence)."""

    test: str = DEFAULT_TEST
    name: str = field(default="gmia-exchangeable", init=False)
    shifts_: tuple | None = field(default=None, init=False, repr=False)
    fitted_: bool = field(default=False, init=False, repr=False)

    def __post_init__(self):
        check_choice("exchangeable test", self.test, tuple(TESTS))

    @classmethod
    def from_settings(cls, settings: AttackSettings, **fixed) -> "GmiaExchangeable":
        return cls(**fixed)

    def fit(self, inputs: AttackInputs) -> "GmiaExchangeable":
        self.fitted_ = True
        if inputs.target_loss_pop.shape[1] == 0:  # no population answers (a spent budget): no shift to remove
            self.shifts_ = None
            return self
        n_targets = inputs.target_loss_pop.shape[0]
        b = model_shifts(np.vstack([inputs.target_loss_pop, inputs.shadow_loss_pop]))
        self.shifts_ = (b[:n_targets], b[n_targets:])
        return self

    def pvalues(self, inputs: AttackInputs) -> np.ndarray:
        if not self.fitted_:
            raise RuntimeError("call fit() before computing p-values")
        p = TESTS[self.test](inputs.target_loss, inputs.shadow_loss, ~inputs.shadow_membership, shift=self.shifts_)
        return np.where(np.isnan(p), 1.0, p)

    def score(self, inputs: AttackInputs) -> np.ndarray:
        return -self.pvalues(inputs)
