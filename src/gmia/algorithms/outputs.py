"""Models known by their outputs: K models of any algorithm, as the attacks see a stack.

A stacked zoo (`gmia.zoo.Zoo`) can compute logits on any row. A scikit-learn model or a
user's network is kept only as what the attacks use: its centred log-probabilities on every
record of the data set, ``outputs [K, N, C]`` (`gmia.models.foreign.proba_logits`), with the index
sets it trained on. `OutputZoo` offers the same ``logits``, ``membership``, ``index_sets`` and
``subset`` as a `Zoo`, so selection, the direct attack, calibration and the metrics run on it
unchanged; rows that are not records of the data set (the indirect attack's enhancing queries)
are refused in one sentence.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gmia.base.errors import GmiaError
from gmia.zoo.membership import TrainedModels


@dataclass(frozen=True, eq=False)
class OutputZoo(TrainedModels):
    """K trained models given by ``outputs[m, r]``: model m's centred log-probabilities on record r."""

    outputs: np.ndarray  # [K, N, C] float32
    index_sets: np.ndarray  # [K, n] int64
    x: np.ndarray  # [N, D] the data set's encoded rows, to find the records ``logits`` is asked about
    algorithm: dict  # the algorithm's describe()
    key: str = ""
    spec: None = None  # not a stacked zoo: nothing can continue training it
    _rows: dict = field(default_factory=dict, repr=False)

    @property
    def n_records(self) -> int:
        return int(self.outputs.shape[1])

    @property
    def n_classes(self) -> int:
        return int(self.outputs.shape[2])

    def subset(self, models) -> "OutputZoo":
        models = np.asarray(models)
        return OutputZoo(self.outputs[models], self.index_sets[models], self.x, self.algorithm, f"{self.key}[subset]")

    def records_of(self, x: np.ndarray) -> np.ndarray:
        """The data set's record index of each row of ``x`` (rows equal as float32)."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x is self.x or (x.shape == self.x.shape and np.shares_memory(x, self.x) and np.array_equal(x, self.x)):
            return np.arange(self.n_records)
        if not self._rows:
            view = np.ascontiguousarray(self.x).view(np.dtype((np.void, self.x.dtype.itemsize * self.x.shape[1])))[:, 0]
            for i, row in enumerate(view.tolist()):
                self._rows.setdefault(row, i)
        view = x.reshape(len(x), -1).view(np.dtype((np.void, x.dtype.itemsize * self.x.shape[1])))[:, 0]
        found = np.fromiter((self._rows.get(row, -1) for row in view.tolist()), np.int64, len(x))
        if (found < 0).any():
            raise GmiaError(f"row {int(np.flatnonzero(found < 0)[0])} asked of the {self.algorithm.get('kind', '')} reference "
                            "models is not a record of the data set; expected records only: models that are not gmia "
                            "stacks are known by their outputs on the data set's records (the indirect attack, which "
                            "queries new records, needs gmia's stacked trainer)")
        return found

    def logits(self, x: np.ndarray, block: int | None = None) -> np.ndarray:
        """``[K, len(x), C]`` centred log-probabilities of every model on the records ``x``."""
        return self.outputs[:, self.records_of(x)]
