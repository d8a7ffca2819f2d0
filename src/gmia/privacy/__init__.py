"""Empirical privacy: what an attack's scores prove about a model's (ε, δ)-DP.

`gmia.privacy.bounds`: member and non-member scores in (any attack's, higher = member), a
Clopper-Pearson ε lower bound out, beside estimates that are not bounds (Gaussian DP, the point
value). `gmia.privacy.clustered`: the same from the protocol's (target, record) pairs with the
repeat as the unit, and exact per-record bounds. `gmia.privacy.one_run`: the one-run bound of
Steinke, Nasr and Jagielski (2023), beside Mahloujifar, Melis and Chaudhuri's (2024) f-DP
estimate, from m canaries each included with probability 1/2. Every bound names its
neighbouring relation. Pure numpy and scipy (docs/privacy.md).
"""

from gmia.base.extras import lazy_exports

_EXPORTS = {
    **{n: "gmia.privacy.relations" for n in ("ADD_REMOVE", "RELATIONS", "REPLACE_ONE")},
    **{n: "gmia.privacy.bounds" for n in ("EpsilonBounds", "epsilon_bounds", "pair_bounds")},
    **{n: "gmia.privacy.clustered" for n in ("RecordBounds", "record_bounds", "repeat_bounds", "repeats_of")},
    **{n: "gmia.privacy.one_run" for n in ("OneRunBound", "one_run_bound")},
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
