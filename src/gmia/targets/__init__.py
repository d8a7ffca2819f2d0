"""Where target outputs come from. Attacks see only a function from query records to
probability vectors, so a zoo member, a local model or a remote API are alike to them."""

from gmia.base.extras import lazy_exports
from gmia.targets.base import CountingTarget, Target
from gmia.targets.wrap import as_target
from gmia.targets.local import LocalTarget
from gmia.targets.http import HttpTarget, QueryBudgetExhausted, ResponseCache, TargetUnreachable
from gmia.data.queries import QueryLog  # re-exported for callers of targets
from gmia.targets.logged import ZooTargets

_LAZY = {"SklearnTarget": "gmia.targets.sklearn", "TorchTarget": "gmia.targets.torch"}

__all__ = ["CountingTarget", "HttpTarget", "LocalTarget", "QueryBudgetExhausted", "QueryLog", "ResponseCache",
           "SklearnTarget", "Target", "TargetUnreachable", "TorchTarget", "ZooTargets", "as_target"]


# SklearnTarget and TorchTarget load on first use: scikit-learn and torch are not needed to audit
# a model file or an API.
__getattr__, _ = lazy_exports(__name__, _LAZY)
