"""Where target outputs come from. Attacks see only a function from query records to
probability vectors, so a zoo member, a local model or a remote API are alike to them.

Names load on first use (as in `gmia`): the output policy or the budget check do not bring
torch or the HTTP client with them."""

from gmia.base.extras import lazy_exports

_EXPORTS = {
    "CountingTarget": "gmia.targets.base", "Target": "gmia.targets.base", "as_target": "gmia.targets.wrap",
    "LocalTarget": "gmia.targets.local", "HttpTarget": "gmia.targets.http", "QueryBudgetExhausted": "gmia.targets.base",
    "ResponseCache": "gmia.targets.http", "TargetUnreachable": "gmia.targets.http", "QueryLog": "gmia.data.queries",
    "ZooTargets": "gmia.targets.logged", "SklearnTarget": "gmia.targets.sklearn", "TorchTarget": "gmia.targets.torch",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
