"""SGD and Adam steps for the fused trainer, as torch's multi-tensor optimisers compute them.

`gmia.zoo.fused` computes gradients without autograd; stepping them through ``torch.optim``
costs more than the arithmetic at these sizes. Constructing the first ``torch.optim`` optimiser
of a process imports ``torch._dynamo`` (its methods are wrapped to disable compilation), 1.0 to
1.6 s measured here, more than Cancer's whole training; and each ``step()`` adds a profiler
record and parameter-group bookkeeping, about 0.1 ms. These are the same updates as
``torch.optim.SGD`` (dampening 0, no Nesterov, no weight decay) and ``torch.optim.Adam``
(betas 0.9 and 0.999, eps 1e-8, no weight decay, no AMSGrad), the settings
`gmia.zoo.trainer.make_optimizer` uses, in the order of torch's ``foreach`` implementations;
tests/zoo/test_trainer.py checks the trained models against plain torch.optim trainings.
"""

from __future__ import annotations

import torch

from gmia.zoo.spec import TrainSpec

BETAS = (0.9, 0.999)
EPS = 1e-8


class Sgd:
    """``buf = momentum · buf + g`` (``buf = g`` at the first step), then ``p -= lr · buf``."""

    def __init__(self, params: list[torch.Tensor], lr: float, momentum: float):
        self.params, self.lr, self.momentum = params, lr, momentum
        self.buffers: list[torch.Tensor] | None = None

    @torch.no_grad()
    def step(self) -> None:
        grads = [p.grad for p in self.params]
        if self.momentum == 0:
            torch._foreach_add_(self.params, grads, alpha=-self.lr)
            return
        if self.buffers is None:
            self.buffers = [g.detach().clone() for g in grads]
        else:
            torch._foreach_mul_(self.buffers, self.momentum)
            torch._foreach_add_(self.buffers, grads)
        torch._foreach_add_(self.params, self.buffers, alpha=-self.lr)


class Adam:
    """``m = β1 m + (1 − β1) g``, ``v = β2 v + (1 − β2) g²``,
    ``p -= lr / (1 − β1^t) · m / (sqrt(v) / sqrt(1 − β2^t) + eps)``."""

    def __init__(self, params: list[torch.Tensor], lr: float):
        self.params, self.lr, self.t = params, lr, 0
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]

    @torch.no_grad()
    def step(self) -> None:
        grads = [p.grad for p in self.params]
        beta1, beta2 = BETAS
        self.t += 1
        torch._foreach_lerp_(self.m, grads, 1 - beta1)
        torch._foreach_mul_(self.v, beta2)
        torch._foreach_addcmul_(self.v, grads, grads, 1 - beta2)
        step_size = self.lr / (1 - beta1**self.t)
        denom = torch._foreach_sqrt(self.v)
        torch._foreach_div_(denom, (1 - beta2**self.t) ** 0.5)
        torch._foreach_add_(denom, EPS)
        torch._foreach_addcdiv_(self.params, self.m, denom, -step_size)


def make_update(params: list[torch.Tensor], spec: TrainSpec) -> Sgd | Adam:
    return Adam(params, spec.lr) if spec.optimizer == "adam" else Sgd(params, spec.lr, spec.momentum)
