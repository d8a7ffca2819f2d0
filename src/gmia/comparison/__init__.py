"""GMIA beside the attacks users know (shadow models, loss threshold, LiRA, RMIA) on the same models.

Names load on first use, so `gmia.comparison.config` is checked before the engine loads."""

from gmia.base.extras import lazy_exports

_EXPORTS = {
    "RocSummary": "gmia.stats.roc",
    "SortedPairs": "gmia.comparison.metrics",
    "fpr_threshold": "gmia.comparison.metrics",
    "roc_with_ci": "gmia.comparison.metrics",
    "COMPARE_ATTACKS": "gmia.comparison.run",
    "AttackResult": "gmia.comparison.run",
    "CompareResult": "gmia.comparison.run",
    "compare_defaults": "gmia.comparison.run",
    "run_compare": "gmia.comparison.run",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
