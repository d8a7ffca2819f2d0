"""A model file queried in this process: the same answers as `gmia serve` gives for it."""

from __future__ import annotations

from gmia.model import Model
from gmia.outputs import OutputPolicy, model_id
from gmia.targets.base import CountingTarget


class LocalTarget(CountingTarget):
    """``predict_proba`` of a `gmia.model.Model` through an output policy, counting queries
    against an optional ``budget`` (see `gmia.targets.base.CountingTarget`)."""

    def __init__(self, model: Model, policy: OutputPolicy = OutputPolicy(), budget: int | None = None):
        self.model = model
        super().__init__(lambda x: policy.apply(model.predict_proba(x)), model.schema, policy=policy,
                         model_id=model_id(model, policy), budget=budget)
