"""Who trained on what: the membership of K models' training sets, shared by every kind of trained
models (a stacked `gmia.zoo.Zoo`, an `gmia.algorithms.OutputZoo` of estimators). Light: no torch."""

from __future__ import annotations

from functools import cached_property

import numpy as np


def membership_counts(index_sets: np.ndarray, n_records: int) -> np.ndarray:
    """``[K, N]`` int32: how many times each record occurs in each of K index sets."""
    out = np.zeros((index_sets.shape[0], n_records), dtype=np.int32)
    rows = np.repeat(np.arange(index_sets.shape[0]), index_sets.shape[1])
    np.add.at(out, (rows, index_sets.ravel()), 1)
    return out


class TrainedModels:
    """K models, each with the index set it was trained on (``index_sets [K, n]`` into the
    ``n_records`` records of the data set, which the class provides).

    ``membership[m, r]`` is True iff record r was in model m's training set: LiRA's ``keep``
    matrix. Any model can serve as a target while the others are references.
    """

    index_sets: np.ndarray
    n_records: int

    @property
    def n_models(self) -> int:
        return int(self.index_sets.shape[0])

    def counts(self) -> np.ndarray:
        """``[K, N]`` int: how many times each record occurs in each model's training set."""
        return membership_counts(self.index_sets, self.n_records)

    @cached_property
    def membership(self) -> np.ndarray:
        return self.counts() > 0
