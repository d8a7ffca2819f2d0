"""Empirical privacy: what an attack's scores prove about a model's (ε, δ)-DP.

`gmia.privacy.bounds`: member and non-member scores in (any attack's, higher = member), ε lower
bounds out: Clopper-Pearson, Gaussian DP, and a point estimate that is not a bound.
`gmia.privacy.one_run`: the one-run bounds of Steinke, Nasr and Jagielski (2023) and of
Mahloujifar, Melis and Chaudhuri (2024), from m canaries each included with probability 1/2.
Pure numpy and scipy (docs/privacy.md).
"""

from gmia.privacy.bounds import EpsilonBounds, epsilon_bounds, pair_bounds
from gmia.privacy.one_run import OneRunBound, one_run_bound

__all__ = ["EpsilonBounds", "OneRunBound", "epsilon_bounds", "one_run_bound", "pair_bounds"]
