"""A trained stack of K models with its membership matrix."""

from __future__ import annotations

from contextlib import contextmanager
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
    device: str = "cpu"  # where logits are computed; the parameters themselves stay on the CPU

    @property
    def n_models(self) -> int:
        return int(self.index_sets.shape[0])

    def counts(self) -> np.ndarray:
        """``[K, N]`` int: how many times each record occurs in each model's training set."""
        return membership_counts(self.index_sets, self.n_records)

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
            device=self.device,
        )

    @torch.no_grad()
    def logits(self, x: np.ndarray, block: int | None = None) -> np.ndarray:
        """``[K, len(x), C]`` float32 logits of every model on every row of ``x``.

        In float32 on every device (no mixed precision): these logits are the selection's
        features and the losses the p-values are computed from. ``block`` rows at a time; by
        default as many as keep the largest activation near 256 MB (4 GB on a GPU), which
        for 100 CNNs is a few dozen records.
        """
        device = torch.device(self.device)
        if block is None:
            budget = (1 << 30) if device.type == "cuda" else (1 << 26)
            block = int(min(8192, max(1, budget // stacked.activation_floats(self.spec, self.n_models))))
        params = {name: p.to(device) for name, p in self.params.items()}
        xt = torch.as_tensor(np.asarray(x), dtype=torch.float32)
        out = np.empty((self.n_models, xt.shape[0], self.n_classes), dtype=np.float32)
        with _full_float32(device):
            for s in range(0, xt.shape[0], block):
                part = stacked.forward(params, xt[s : s + block].to(device), self.spec.activation, image=self.spec.image)
                out[:, s : s + block] = part.cpu().numpy()
        return out


def membership_counts(index_sets: np.ndarray, n_records: int) -> np.ndarray:
    """``[K, N]`` int32: how many times each record occurs in each of K index sets."""
    out = np.zeros((index_sets.shape[0], n_records), dtype=np.int32)
    rows = np.repeat(np.arange(index_sets.shape[0]), index_sets.shape[1])
    np.add.at(out, (rows, index_sets.ravel()), 1)
    return out


@contextmanager
def _full_float32(device: torch.device):
    """No TF32 on a GPU: cuDNN runs float32 convolutions in TF32 by default (10-bit mantissas),
    which moved CNN logits by up to 3e-3 from the CPU's (benchmarks/gpu_check.sh)."""
    if device.type != "cuda":
        yield
        return
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before
