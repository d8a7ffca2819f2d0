"""Where target outputs come from. Attacks see only a function from query records to
probability vectors, so a zoo member, a local model or a remote API are alike to them."""

from gmia.targets.base import CountingTarget, Target, as_target
from gmia.targets.local import LocalTarget
from gmia.targets.http import HttpTarget, QueryBudgetExhausted, ResponseCache, TargetUnreachable
from gmia.queries import QueryLog  # lives below the attacks, which use it; re-exported for callers of targets
from gmia.targets.logged import ZooTargets

__all__ = ["CountingTarget", "HttpTarget", "LocalTarget", "QueryBudgetExhausted", "QueryLog", "ResponseCache", "Target", "TargetUnreachable", "ZooTargets", "as_target"]
