"""Any ``torch.nn.Module`` as an audit target, whatever its layers.

`gmia.models.file_format.from_torch` converts only plain ``Sequential`` stacks of Linear layers into a model
file; a module with BatchNorm, GELU, residual blocks or anything else is audited as it is, in
this process, through its own forward pass.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import numpy as np
import torch

from gmia.data import Schema
from gmia.base.errors import GmiaError, check_choice
from gmia.models.estimators import public_name
from gmia.models.foreign import module_proba
from gmia.targets.policy import OutputPolicy
from gmia.targets.base import CountingTarget

OUTPUTS = ("logits", "probabilities")


class TorchTarget(CountingTarget):
    """A ``torch.nn.Module`` mapping float rows ``[n, D]`` to ``[n, C]`` as a target.

    Parameters
    ----------
    module : the trained module. It runs in eval mode (BatchNorm uses its running statistics,
        dropout is off) without gradients; the modes it had are restored after each query.
    schema : the audited data set's encoding.
    outputs : ``"logits"`` (softmax is applied) or ``"probabilities"`` (the module ends in a softmax).
    block : records per forward pass, so a large query does not need all its activations at once.
    policy, budget, on_batch : as for `gmia.targets.CountingTarget`.
    """

    def __init__(self, module: torch.nn.Module, schema: Schema, *, outputs: str = "logits",
                 policy: OutputPolicy | None = None, budget: int | None = None,
                 on_batch: Callable[[int], None] | None = None, block: int = 4096):
        if not isinstance(module, torch.nn.Module):
            raise GmiaError(f"target of type {type(module).__name__} is not a torch.nn.Module; expected a trained module")
        check_choice("torch output kind", outputs, OUTPUTS)
        if isinstance(block, bool) or not isinstance(block, int) or block < 1:
            raise GmiaError(f"block {block!r} is invalid; expected a whole number of records >= 1")
        self.module, self.outputs, self.block = module, outputs, block
        h = hashlib.sha256(json.dumps(self.describe(), sort_keys=True).encode())
        for name, tensor in sorted(module.state_dict().items()):  # the weights: same architecture, another model
            h.update(name.encode() + b"\0" + tensor.detach().cpu().contiguous().numpy().tobytes())
        super().__init__(self._answer, schema, policy=policy, model_id=f"{type(module).__name__}-{h.hexdigest()[:12]}",
                         budget=budget, on_batch=on_batch)

    def describe(self) -> dict:
        """What the model is, as JSON: kind, module class, number of parameters, output kind."""
        return {"kind": "torch", "module": public_name(type(self.module)),
                "parameters": int(sum(p.numel() for p in self.module.parameters())), "outputs": self.outputs}

    def _answer(self, x: np.ndarray) -> np.ndarray:
        return self.policy.apply(module_proba(self.module, x, self.schema.classes, self.outputs, self.block))
