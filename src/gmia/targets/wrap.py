"""Anything a user hands over as a target, wrapped as one (`as_target`).

Above the target classes, so that none of them imports it back; the torch and scikit-learn
wrappers load only when a target needs them.
"""

from __future__ import annotations

import sys

from gmia.base.errors import GmiaError
from gmia.data import Schema
from gmia.targets.base import CountingTarget, check_budget
from gmia.targets.http import HttpTarget
from gmia.targets.local import LocalTarget


def _instance(obj, module: str, name: str) -> bool:
    """``isinstance(obj, module.name)`` without importing ``module``: if it was never imported,
    nothing can be an instance of its classes (so ``gmia.audit`` never loads torch for a tree)."""
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(obj, getattr(loaded, name))


def as_target(target, schema: Schema, budget: int | None = None) -> CountingTarget:
    """``target`` as an audit target.

    An `gmia.targets.HttpTarget` or any `CountingTarget` as it is (its budget set to ``budget``
    if given); a `gmia.Model` or `gmia.models.onnx_file.OnnxModel` as a `gmia.targets.LocalTarget`
    (the answers and model id `gmia serve` gives for the same file); a ``torch.nn.Module`` as a
    `gmia.targets.TorchTarget` (logits); a fitted scikit-learn estimator or Pipeline (it has
    ``get_params`` and ``predict_proba``) as a `gmia.targets.SklearnTarget`; anything else with
    ``predict_proba`` wrapped in `CountingTarget`.
    """
    if isinstance(target, HttpTarget):
        if budget is not None:
            check_budget(budget, 0, f"the prediction API at {target.url} (0 uses only its cached answers)")
            target.budget = budget
        return target
    if isinstance(target, CountingTarget):
        if budget is not None:
            check_budget(budget)
            target.budget = budget
        return target
    if _instance(target, "gmia.models.file_format", "Model") or _instance(target, "gmia.models.onnx_file", "OnnxModel"):
        return LocalTarget(target, budget=budget)
    if _instance(target, "torch.nn", "Module"):
        from gmia.targets.torch import TorchTarget  # imports torch: only for a torch module

        return TorchTarget(target, schema, budget=budget)
    if not callable(getattr(target, "predict_proba", None)):
        raise GmiaError(f"target of type {type(target).__name__} has no predict_proba(x) method; expected a gmia Model, a "
                        "fitted scikit-learn classifier, a torch module, an HttpTarget, or any object whose predict_proba "
                        "maps encoded rows [n, D] to probabilities [n, classes]")
    if callable(getattr(target, "get_params", None)):
        from gmia.targets.sklearn import SklearnTarget

        return SklearnTarget(target, schema, budget=budget)
    kind = type(target)
    return CountingTarget(target.predict_proba, getattr(target, "schema", None) or schema,
                          policy=getattr(target, "policy", None), budget=budget,
                          model_id=str(getattr(target, "model_id", "") or f"{kind.__module__}.{kind.__qualname__}"))
