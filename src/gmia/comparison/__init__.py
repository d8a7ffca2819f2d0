"""GMIA beside the attacks users know (shadow models, loss threshold, LiRA, RMIA) on the same models."""

from gmia.comparison.metrics import RocSummary, SortedPairs, fpr_threshold, roc_with_ci
from gmia.comparison.run import COMPARE_ATTACKS, AttackResult, CompareResult, compare_defaults, run_compare

__all__ = ["COMPARE_ATTACKS", "AttackResult", "CompareResult", "RocSummary", "SortedPairs", "compare_defaults", "fpr_threshold",
           "roc_with_ci", "run_compare"]
