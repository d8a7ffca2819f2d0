"""A trained stack of K models with its membership matrix."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from gmia.zoo import stacked
from gmia.zoo.membership import TrainedModels, membership_counts  # noqa: F401  (membership_counts re-exported)
from gmia.zoo.spec import TrainSpec


@dataclass(frozen=True, eq=False)
class Zoo(TrainedModels):
    """K trained models of one spec, as one stack of parameters; which records each trained on
    (``membership``, ``counts``) is `gmia.zoo.membership.TrainedModels`'."""

    spec: TrainSpec
    params: dict[str, torch.Tensor]
    index_sets: np.ndarray  # [K, n] int64 indices into the data set
    n_records: int
    n_classes: int
    key: str = ""
    device: str = "cpu"  # where logits are computed; the parameters themselves stay on the CPU

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
        x = np.asarray(x, dtype=np.float32)
        xt = torch.from_numpy(x if x.flags.writeable else x.copy())  # torch warns on read-only arrays
        out = np.empty((self.n_models, xt.shape[0], self.n_classes), dtype=np.float32)
        with _full_float32(device):
            for s in range(0, xt.shape[0], block):
                part = stacked.forward(params, xt[s : s + block].to(device), self.spec.activation, image=self.spec.image)
                out[:, s : s + block] = part.cpu().numpy()
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
