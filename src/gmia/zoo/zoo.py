"""A trained stack of K models with its membership matrix."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from gmia.zoo import stacked
from gmia.zoo.spec import TrainSpec


@dataclass(frozen=True, eq=False)
class Zoo:
    """K trained models of one spec, each with the index set it was trained on.

    ``membership[m, r]`` is True iff record r was in model m's training set: LiRA's ``keep``
    matrix. Any model can serve as a target while the others are references.
    """

    spec: TrainSpec
    params: dict[str, torch.Tensor]
    index_sets: np.ndarray  # [K, n] int64 indices into the data set
    n_records: int
    n_classes: int
    key: str = ""

    @property
    def n_models(self) -> int:
        return int(self.index_sets.shape[0])

    def counts(self) -> np.ndarray:
        """``[K, N]`` int: how many times each record occurs in each model's training set."""
        out = np.zeros((self.n_models, self.n_records), dtype=np.int32)
        rows = np.repeat(np.arange(self.n_models), self.index_sets.shape[1])
        np.add.at(out, (rows, self.index_sets.ravel()), 1)
        return out

    @cached_property
    def membership(self) -> np.ndarray:
        return self.counts() > 0

    def subset(self, models) -> "Zoo":
        models = np.asarray(models)
        return Zoo(
            spec=self.spec,
            params={n: p[torch.as_tensor(models)] for n, p in self.params.items()},
            index_sets=self.index_sets[models],
            n_records=self.n_records,
            n_classes=self.n_classes,
            key=f"{self.key}[subset]",
        )

    @torch.no_grad()
    def logits(self, x: np.ndarray, block: int = 8192) -> np.ndarray:
        """``[K, len(x), C]`` float32 logits of every model on every row of ``x``."""
        xt = torch.as_tensor(np.asarray(x), dtype=torch.float32)
        out = np.empty((self.n_models, xt.shape[0], self.n_classes), dtype=np.float32)
        for s in range(0, xt.shape[0], block):
            out[:, s : s + block] = stacked.forward(self.params, xt[s : s + block], self.spec.activation).numpy()
        return out
