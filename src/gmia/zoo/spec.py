"""Training specification: everything that decides how one model of a stack is trained.

The adversary mirrors the target's training algorithm (GMIA's threat model), so the same
`TrainSpec` trains targets and reference models alike.
"""

from __future__ import annotations

import json
import numbers
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gmia.base.errors import GmiaError

Activation = Literal["tanh", "relu", "sigmoid"]
Optimizer = Literal["sgd", "adam"]


class TrainSpec(BaseModel):
    """How each model in a stack is trained.

    Parameters
    ----------
    hidden : sizes of the hidden layers; ``()`` is softmax regression (the paper's Cancer model).
    conv : output channels of each convolution block (``kernel``×``kernel`` convolution with
        'same' padding, the activation, then 2×2 max pooling), run before the hidden layers;
        ``()`` for none. The paper's MNIST model is ``conv=(32, 64), hidden=(1024,)``.
    kernel : the convolutions' kernel size (odd).
    image : ``(channels, height, width)`` the flat features fold into; required with ``conv``.
    activation : non-linearity after each hidden layer.
    optimizer, lr, momentum : the optimiser (momentum is used by SGD only).
    steps : number of SGD steps (the paper's "epochs" read as steps, docs/algorithm.md CHOICE).
    batch_size : records per step and per model.
    l2 : L2 penalty λ on the weights (not biases), added to each model's mean loss as λ‖W‖².
    dropout : drop probability after each hidden activation, during training only.
    dp_clip : DP-SGD's clipping norm C on each record's gradient; None trains without DP.
    dp_noise : DP-SGD's noise multiplier σ: Gaussian noise of std σ·C is added to each step's
        sum of clipped gradients (ε comes from `gmia.defenses.privacy`, not from here).
    dp_sampling : ``poisson`` (each record joins each batch with probability q = batch/n, the
        sampling the accountant assumes; ``batch_size`` is then the expected batch size) or
        ``shuffle`` (the plain trainer's fixed-size batches, for the equivalence tests).
    dp_sample_rate : Poisson sampling's q fixed in advance, whatever the training set's size (None:
        q = batch/n). An add/remove audit needs it: with q = batch/n, adding a canary would change
        every record's q and the noise solved for it, so the two worlds would differ by more than
        the canary (`gmia.canaries.run`). The sum is still divided by ``batch_size``, a constant.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    hidden: tuple[int, ...] = ()
    conv: tuple[int, ...] = ()
    kernel: int = Field(5, ge=1)
    image: tuple[int, int, int] | None = None
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
    dp_sample_rate: float | None = Field(None, gt=0, le=1)

    @field_validator("hidden", "conv")
    @classmethod
    def _positive_layers(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if any(h < 1 for h in v):
            raise ValueError("every layer size must be at least 1")
        return v

    @model_validator(mode="after")
    def _convolution_fits(self) -> "TrainSpec":
        if not self.conv:
            return self
        if self.image is None:
            raise ValueError("convolution layers need the image shape (channels, height, width)")
        if min(self.image) < 1 or self.kernel % 2 == 0:
            raise ValueError(f"image {self.image} and kernel {self.kernel} are invalid; expected positive sizes and an odd kernel")
        if min(self.image[1:]) >> len(self.conv) < 1:
            raise ValueError(f"{len(self.conv)} 2x2 poolings leave nothing of a {self.image[1]}x{self.image[2]} image")
        if self.dp_clip is not None:
            # Per-record clipping here relies on the rank-1 gradient of linear layers (gmia.zoo.dp).
            raise ValueError("DP-SGD is implemented for fully connected models only, not with convolution layers")
        return self

    @property
    def family(self) -> str:
        return "cnn" if self.conv else "mlp" if self.hidden else "logreg"

    @property
    def private(self) -> bool:
        return self.dp_clip is not None

    @property
    def compiles(self) -> bool:
        """Whether the compiled trainer (`gmia.zoo.compiled`) trains these models on a CPU: fully
        connected, without dropout or DP-SGD. The rest, and every model on a GPU, train through torch."""
        return not self.conv and not self.private and self.dropout == 0

    def canonical_json(self) -> str:
        """Stable JSON used in content hashes: same spec, same string. Fields a spec does not use
        are left out (DP without DP, convolution without it), so stacks stored before those
        fields existed keep their keys."""
        data = self.model_dump(mode="json")
        if not self.private:
            for name in ("dp_clip", "dp_noise", "dp_sampling"):
                data.pop(name)
        if self.dp_sample_rate is None:  # added after DP: stacks stored before it keep their keys
            data.pop("dp_sample_rate")
        if not self.conv:  # likewise for the convolution fields, added after DP
            for name in ("conv", "kernel", "image"):
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


def cap_batch(spec: TrainSpec, n_train: int) -> tuple[TrainSpec, str | None]:
    """``spec`` with ``batch_size = min(batch_size, n_train)``, and a one-line note when it changed.

    Why: a preset's batch (Adult's 100, the generic 100) is meant for thousands of records; a model
    that trains on fewer (a 60-record CSV pool gives N = 30) cannot fill one batch, and the trainer
    refuses (`gmia.zoo.trainer.iter_batches`). One full-data batch per step is what such a batch
    size can only mean there. Targets and references train on N records each, so capping both with
    the same N keeps them trained alike (GMIA's threat model); the capped spec is another
    spec, so its models are stored under their own key. Under DP-SGD the sampling rate q = batch/N
    becomes 1, which the note says, since the privacy accounting depends on it.
    """
    if isinstance(n_train, bool) or not isinstance(n_train, numbers.Integral) or n_train < 1:
        raise GmiaError(f"training-set size {n_train!r} is invalid; expected a whole number >= 1 to cap the batch size at")
    n_train = int(n_train)
    if spec.batch_size <= n_train:
        return spec, None
    capped = spec.model_copy(update={"batch_size": n_train})
    note = (f"batch size {spec.batch_size} capped at {n_train}, the records each model trains on "
            "(one full-data batch per step)" + ("; DP-SGD's sampling rate is then 1" if spec.private else ""))
    return capped, note
