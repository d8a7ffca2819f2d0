"""A model file queried in this process: the same answers as `gmia serve` gives for it."""

from __future__ import annotations

import numpy as np

from gmia.model import Model
from gmia.outputs import OutputPolicy, model_id


class LocalTarget:
    """``predict_proba`` of a :class:`~gmia.model.Model` through an output policy, counting queries."""

    def __init__(self, model: Model, policy: OutputPolicy = OutputPolicy()):
        self.model, self.policy, self.schema = model, policy, model.schema
        self.model_id = model_id(model, policy)
        self.sent = 0
        self.cache_hits = 0
        self.server_queries: dict = {}

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        self.sent += len(np.atleast_2d(x))
        return self.answered(x)

    def answered(self, x: np.ndarray) -> np.ndarray:
        """What the model answers, without counting a query (a local model has no cache to read)."""
        return self.policy.apply(self.model.predict_proba(np.atleast_2d(x)))

    def close(self) -> None:
        pass
