"""Black-box targets and a wrapper that logs every query sent to them."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import softmax

from gmia.queries import same_record
from gmia.zoo import Zoo


class ZooTargets:
    """The models of a zoo as black boxes: ``predict_proba(x) -> [T, n, C]`` probabilities.

    Querying all T targets with the same rows at once is how the paper's protocol attacks each
    record against every target; a query still reveals only probability vectors.
    """

    def __init__(self, zoo: Zoo):
        self._zoo = zoo

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return softmax(self._zoo.logits(np.atleast_2d(x)).astype(np.float64), axis=-1)


class QueryLog:
    """Wraps a target's ``predict_proba`` and keeps every query row it forwards.

    The indirect attack reaches targets only through this wrapper, so a test (and an auditor)
    can check that the record under attack, or an exact duplicate of it, was never sent.
    """

    def __init__(self, predict_proba: Callable[[np.ndarray], np.ndarray]):
        self._predict = predict_proba
        self._batches: list[np.ndarray] = []

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(np.asarray(x, dtype=np.float32))
        self._batches.append(x.copy())
        return self._predict(x)

    @property
    def queries(self) -> np.ndarray:
        if not self._batches:
            return np.empty((0, 0), dtype=np.float32)
        return np.concatenate(self._batches)

    @property
    def n_queries(self) -> int:
        return int(sum(len(b) for b in self._batches))

    def sent(self, record: np.ndarray) -> bool:
        """Whether ``record`` or an exact duplicate of it was ever queried."""
        q = self.queries
        return bool(q.size and same_record(q, record).any())
