"""What a target must provide, and the wrapper that gives any model a query count and a budget.

GMIA's threat model is black-box query access (docs/algorithm.md, "Threat model"): a query of
encoded records returns probability vectors, and the number of queries may be limited. So the
one thing a target must have is ``predict_proba``; everything else an audit reports (which
model it was, what it reveals, how many queries it took) is optional and filled in here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np

from gmia.data import Schema
from gmia.base.errors import GmiaError, ResumableError
from gmia.targets.policy import OutputPolicy


@runtime_checkable
class Target(Protocol):
    """A model under audit: ``predict_proba(x)`` maps encoded rows ``x [n, D]`` to probabilities ``[n, C]``.

    ``D`` and the column order are the data set's encoding (``Dataset.schema``), ``C`` its
    classes in ``schema.classes`` order. A `gmia.Model`, `gmia.targets.HttpTarget` (a
    prediction API, with a persistent answer cache) and any object of your own with that method
    all qualify. `as_target` also takes models that speak otherwise: a fitted scikit-learn
    estimator or Pipeline (even one fitted on the original columns and class names), an
    `gmia.models.onnx_file.OnnxModel`, a ``torch.nn.Module``. Optional attributes an audit uses when
    present: ``schema`` (checked against the data set's), ``policy`` (an
    `gmia.targets.policy.OutputPolicy`: what the answers reveal), ``model_id`` (shown in the
    results) and ``close()``.
    """

    def predict_proba(self, x: np.ndarray) -> np.ndarray: ...


class QueryBudgetExhausted(ResumableError):
    """The audit's or the service's query budget is spent; the answers so far are kept."""


def check_budget(budget: int | None, minimum: int = 1, where: str = "a local target (it keeps no answers from earlier runs)") -> None:
    if budget is None:
        return
    if isinstance(budget, bool) or not isinstance(budget, int | np.integer) or budget < minimum:
        raise GmiaError(f"query budget {budget!r} is invalid for {where}; expected a whole number of records >= {minimum}")


class CountingTarget:
    """Any ``predict_proba`` as an audit target: counted queries, an optional budget, answers kept.

    Parameters
    ----------
    predict_proba : the model's function from encoded rows to probabilities.
    schema : the encoding the model reads (the audited data set's, unless the model says).
    policy : what the answers reveal (full vectors by default).
    model_id : a name for the results.
    budget : the most distinct records ever answered, or None for no limit. When a request
        would pass it, the records still within it are answered, then
        `QueryBudgetExhausted` is raised; `answered` returns every answer so far.
    on_batch : called with the number of records answered (progress).
    """

    def __init__(self, predict_proba: Callable[[np.ndarray], np.ndarray], schema: Schema, *,
                 policy: OutputPolicy | None = None, model_id: str = "local model", budget: int | None = None,
                 on_batch: Callable[[int], None] | None = None):
        check_budget(budget)
        self._predict = predict_proba
        self.schema, self.policy, self.model_id = schema, policy or OutputPolicy(), model_id
        self.budget, self.on_batch = budget, on_batch
        self.sent = 0
        self.cache_hits = 0
        self.server_queries: dict = {}
        self._answers: dict[bytes, np.ndarray] = {}

    @staticmethod
    def _key(row: np.ndarray) -> bytes:
        return np.ascontiguousarray(row, dtype=np.float32).tobytes()

    def answered(self, x: np.ndarray) -> np.ndarray:
        """The answers already received for the rows of ``x``; NaN rows were never answered. Sends nothing."""
        x = np.atleast_2d(x)
        out = np.full((len(x), len(self.schema.classes)), np.nan)
        for i, row in enumerate(x):
            got = self._answers.get(self._key(row))
            if got is not None:
                out[i] = got
        return out

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(np.asarray(x))
        keys = [self._key(row) for row in x]
        todo = {k: i for i, k in reversed(list(enumerate(keys))) if k not in self._answers}
        self.cache_hits += sum(k in self._answers for k in keys)
        order = sorted(todo.values())
        allowed = order if self.budget is None else order[: max(0, self.budget - len(self._answers))]
        if allowed:
            proba = self._ask(x[allowed])
            for i, p in zip(allowed, proba):
                self._answers[keys[i]] = p
            self.sent += len(allowed)
            if self.on_batch:
                self.on_batch(len(allowed))
        if len(allowed) < len(order):
            raise QueryBudgetExhausted(
                f"the query budget of {self.budget} records is spent with {len(order) - len(allowed)} records still to "
                f"ask; the {len(self._answers)} answers received are kept in the results (raise the budget)")
        return np.stack([self._answers[k] for k in keys]) if keys else np.empty((0, len(self.schema.classes)))

    def _ask(self, x: np.ndarray) -> np.ndarray:
        proba = np.asarray(self._predict(x), dtype=np.float64)
        n_classes = len(self.schema.classes)
        if proba.shape != (len(x), n_classes):
            raise GmiaError(f"the target's predict_proba answered shape {proba.shape} for {len(x)} records; "
                            f"expected ({len(x)}, {n_classes}): one probability per class {self.schema.classes}")
        if not np.isfinite(proba).all() or proba.min() < 0 or proba.max() > 1 + 1e-6:
            raise GmiaError("the target's predict_proba answered values outside [0, 1]; expected probabilities "
                            "(call the model's probability method, not its logits or decision function)")
        return proba

    def close(self) -> None:
        """Nothing to release: the wrapped model belongs to the caller, who closes it if it needs closing."""


def check_client(url: str, budget: int | None, batch_size: int, timeout: float, max_retries: int, backoff: float = 0.5) -> None:
    """The HTTP client's settings (`gmia.targets.HttpTarget`), each refused in one sentence;
    light, so that the command line checks them before any data or model loads."""
    if not url.startswith(("http://", "https://")):
        raise GmiaError(f"target URL {url!r} is not an http(s) URL; expected e.g. http://127.0.0.1:8000")
    check_budget(budget, 0, f"the prediction API at {url} (0 uses only its cached answers)")
    if batch_size < 1:
        raise GmiaError(f"batch size {batch_size} is not positive; expected at least 1 record per request")
    if max_retries < 0 or backoff < 0:
        raise GmiaError(f"retries {max_retries} and backoff {backoff} must not be negative; expected values >= 0")
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout < math.inf:
        raise GmiaError(f"timeout {timeout!r} is not a positive number of seconds; expected e.g. 30")
