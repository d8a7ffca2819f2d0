"""The models of a zoo as black-box targets. (The query log they are read through is
`gmia.data.queries.QueryLog`, below the attacks that use it.)"""

from __future__ import annotations

import numpy as np
from scipy.special import softmax

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
