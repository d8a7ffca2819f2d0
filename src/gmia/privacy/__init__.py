"""Empirical privacy: what an attack's scores prove about a model's (ε, δ)-DP.

`gmia.privacy.bounds`: member and non-member scores in (any attack's, higher = member), a
Clopper-Pearson ε lower bound out, beside estimates that are not bounds (Gaussian DP, the point
value). `gmia.privacy.clustered`: the same from the protocol's (target, record) pairs with the
repeat as the unit, and exact per-record bounds. `gmia.privacy.one_run`: the one-run bound of
Steinke, Nasr and Jagielski (2023), beside Mahloujifar, Melis and Chaudhuri's (2024) f-DP
estimate, from m canaries each included with probability 1/2. Every bound names its
neighbouring relation. Pure numpy and scipy (docs/privacy.md).
"""

from gmia.privacy.bounds import ADD_REMOVE, RELATIONS, REPLACE_ONE, EpsilonBounds, epsilon_bounds, pair_bounds
from gmia.privacy.clustered import RecordBounds, record_bounds, repeat_bounds, repeats_of
from gmia.privacy.one_run import OneRunBound, one_run_bound

__all__ = ["ADD_REMOVE", "EpsilonBounds", "OneRunBound", "RELATIONS", "REPLACE_ONE", "RecordBounds", "epsilon_bounds",
           "one_run_bound", "pair_bounds", "record_bounds", "repeat_bounds", "repeats_of"]
