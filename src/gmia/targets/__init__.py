"""Where target outputs come from. Attacks see only a function from query records to
probability vectors, so a zoo member, a local model or a remote API are alike to them."""

from gmia.targets.local import LocalTarget
from gmia.targets.http import HttpTarget, QueryBudgetExhausted, ResponseCache, TargetUnreachable
from gmia.targets.logged import QueryLog, ZooTargets

__all__ = ["HttpTarget", "LocalTarget", "QueryBudgetExhausted", "QueryLog", "ResponseCache", "TargetUnreachable", "ZooTargets"]
