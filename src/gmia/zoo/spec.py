"""Training specification: everything that decides how one model of a stack is trained.

The adversary mirrors the target's training algorithm (GMIA's threat model), so the same
`TrainSpec` trains targets and reference models alike.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gmia.errors import GmiaError

Activation = Literal["tanh", "relu", "sigmoid"]
Optimizer = Literal["sgd", "adam"]


class TrainSpec(BaseModel):
    """How each model in a stack is trained.

    Parameters
    ----------
    hidden : sizes of the hidden layers; ``()`` is softmax regression (the paper's Cancer model).
    activation : non-linearity after each hidden layer.
    optimizer, lr, momentum : the optimiser (momentum is used by SGD only).
    steps : number of SGD steps (the paper's "epochs" read as steps, GMIA.md CHOICE).
    batch_size : records per step and per model.
    l2 : L2 penalty λ on the weights (not biases), added to each model's mean loss as λ‖W‖².
    dropout : drop probability after each hidden activation, during training only.
    dp_clip : DP-SGD's clipping norm C on each record's gradient; None trains without DP.
    dp_noise : DP-SGD's noise multiplier σ: Gaussian noise of std σ·C is added to each step's
        sum of clipped gradients (ε comes from :mod:`gmia.defenses.privacy`, not from here).
    dp_sampling : ``poisson`` (each record joins each batch with probability q = batch/n, the
        sampling the accountant assumes; ``batch_size`` is then the expected batch size) or
        ``shuffle`` (the plain trainer's fixed-size batches, for the equivalence tests).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    hidden: tuple[int, ...] = ()
    activation: Activation = "tanh"
    optimizer: Optimizer = "adam"
    lr: float = Field(1e-3, gt=0)
    momentum: float = Field(0.0, ge=0, lt=1)
    steps: int = Field(1000, ge=1)
    batch_size: int = Field(100, ge=1)
    l2: float = Field(0.0, ge=0)
    dropout: float = Field(0.0, ge=0, lt=1)
    dp_clip: float | None = Field(None, gt=0)
    dp_noise: float = Field(0.0, ge=0)
    dp_sampling: Literal["poisson", "shuffle"] = "poisson"

    @field_validator("hidden")
    @classmethod
    def _positive_layers(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if any(h < 1 for h in v):
            raise ValueError("every hidden layer size must be at least 1")
        return v

    @property
    def family(self) -> str:
        return "mlp" if self.hidden else "logreg"

    @property
    def private(self) -> bool:
        return self.dp_clip is not None

    def canonical_json(self) -> str:
        """Stable JSON used in content hashes: same spec, same string. Without DP the DP fields
        are left out, so stacks stored before DP existed keep their keys."""
        data = self.model_dump(mode="json")
        if not self.private:
            for name in ("dp_clip", "dp_noise", "dp_sampling"):
                data.pop(name)
        return json.dumps(data, sort_keys=True)

    @classmethod
    def build(cls, **kwargs) -> "TrainSpec":
        """Construct from user values, turning validation errors into one GmiaError sentence."""
        try:
            return cls(**kwargs)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "training spec"
            value = err.get("input")
            raise GmiaError(f"invalid training setting {field}={value!r}: {err['msg']}") from None
