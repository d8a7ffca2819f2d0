"""Train K models at once: one optimiser step updates every model of the stack.

Each model draws its batches from its own index set (a bootstrap sample for reference models,
a half of the target pool for targets). Losses are summed over models, so the gradient each
model receives is that of its own mean batch loss: the stack is K independent trainings that
share Python and kernel-launch overhead (tests/zoo/test_trainer.py checks this against a plain
one-model torch loop).

Two trainers: fully connected models without dropout or DP-SGD train on the CPU through the
compiled trainer (`gmia.zoo.compiled`, numba); everything else (convolutions, dropout, DP-SGD,
any model on a GPU) through torch's autograd and ``torch.optim``. Both draw the same
initialisation and batches from the seed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from gmia.base.errors import GmiaError, option
from gmia.zoo import dp, stacked
from gmia.zoo.spec import TrainSpec

def iter_orders(
    index_sets: torch.Tensor, batch_size: int, steps: int, generator: torch.Generator
) -> Iterator[tuple[torch.Tensor, int]]:
    """Yield each epoch's visiting order and its number of steps: ``(order [K, n], count)``, model
    m's batch at the epoch's step j being ``index_sets[m, order[m, j·B : (j+1)·B]]``.

    Each model walks its own index set in epochs, reshuffled per epoch; the last incomplete
    batch of an epoch is dropped so every batch has the same size for all models.
    """
    k, n = index_sets.shape
    if batch_size > n:
        raise GmiaError(f"batch size {batch_size} is larger than the {n} records each model trains on; expected at most {n}")
    per_epoch = n // batch_size
    step = 0
    while step < steps:
        # One randperm per model is several times cheaper than argsort of a [K, n] random matrix.
        order = torch.stack([torch.randperm(n, generator=generator) for _ in range(k)])
        count = min(per_epoch, steps - step)
        yield order, count
        step += count


def iter_epochs(
    index_sets: torch.Tensor, batch_size: int, steps: int, generator: torch.Generator
) -> Iterator[torch.Tensor]:
    """Yield the batches of ``steps`` steps an epoch at a time (`iter_orders`): blocks of record
    indices of shape ``[steps in the epoch, K, batch_size]``."""
    k = index_sets.shape[0]
    for order, count in iter_orders(index_sets, batch_size, steps, generator):
        epoch = torch.gather(index_sets, 1, order[:, : count * batch_size])
        # Each step's [K, batch] block laid out contiguously once per epoch: a step then
        # flattens its batch without a copy.
        yield epoch.reshape(k, count, batch_size).transpose(0, 1).contiguous()


def iter_batches(
    index_sets: torch.Tensor, batch_size: int, steps: int, generator: torch.Generator
) -> Iterator[torch.Tensor]:
    """Yield ``steps`` batches of record indices, shape ``[K, batch_size]`` (`iter_epochs` a step at a time)."""
    for blocks in iter_epochs(index_sets, batch_size, steps, generator):
        yield from blocks


def make_optimizer(params: list[torch.Tensor], spec: TrainSpec) -> torch.optim.Optimizer:
    if spec.optimizer == "adam":
        return torch.optim.Adam(params, lr=spec.lr, fused=True)  # fused exists on CPU and CUDA
    return torch.optim.SGD(params, lr=spec.lr, momentum=spec.momentum)


DEVICES = ("cpu", "cuda")


def resolve_device(name: str) -> torch.device:
    """``cpu`` or ``cuda`` (``cuda:N`` for one GPU of several), checked before any work starts."""
    text = str(name).strip().lower()
    if text.split(":")[0] not in DEVICES:
        raise GmiaError(f"unknown device {name!r}; expected one of: {', '.join(DEVICES)}")
    if text.startswith("cuda") and not torch.cuda.is_available():
        raise GmiaError(f"device {name!r} was asked for but this torch build sees no CUDA GPU "
                        f"(torch {torch.__version__}); expected {option('device', 'cpu')} here, or a CUDA build of torch on a GPU machine")
    try:
        device = torch.device(text)
    except RuntimeError:
        raise GmiaError(f"device {name!r} is not a valid torch device; expected cpu, cuda or cuda:N") from None
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise GmiaError(f"device {name!r} does not exist; expected an index below {torch.cuda.device_count()}")
    return device


def train_stack(
    x: torch.Tensor,
    y: torch.Tensor,
    index_sets: np.ndarray | torch.Tensor,
    spec: TrainSpec,
    seed: int,
    n_classes: int,
    init: dict[str, torch.Tensor] | None = None,
    on_step: Callable[[int], None] | None = None,
    device: str | torch.device = "cpu",
) -> dict[str, torch.Tensor]:
    """Train ``len(index_sets)`` models of ``spec`` at once and return their stacked parameters.

    Parameters
    ----------
    x, y : all records (``[N, D]`` float32) and labels (``[N]`` int64).
    index_sets : ``[K, n]`` indices into x; repeats allowed (bootstrap samples).
    seed : fixes initialisation, batch order and dropout masks.
    init : start from these parameters instead of a fresh initialisation (further training).
    on_step : called with the number of steps just done (for progress bars).
    device : where the models train. Initialisation and batch order come from a CPU generator
        on every device, so only the arithmetic differs. On CUDA the forward pass runs under
        bfloat16 autocast (mixed precision: losses, softmax and the optimiser stay float32);
        the parameters returned are float32 on the CPU either way.
    """
    device = torch.device(device)
    index_sets = torch.as_tensor(np.asarray(index_sets), dtype=torch.int64)
    k = index_sets.shape[0]
    generator = torch.Generator().manual_seed(int(seed))
    if init is None:
        params = stacked.init_params(spec, k, x.shape[1], n_classes, generator)
    else:
        params = {name: p.detach().clone() for name, p in init.items()}
    params = {name: p.to(device).requires_grad_(True) for name, p in params.items()}
    report_every = max(1, spec.steps // 100)
    x, y = x.to(device), y.to(device)
    if device.type == "cpu" and spec.compiles:
        from gmia.zoo import compiled  # numba loads only when a stack trains here

        compiled.train(x, y, index_sets, iter_orders(index_sets, spec.batch_size, spec.steps, generator), spec, params,
                       n_classes, lambda step: _report(on_step, step, spec.steps, report_every))
        return {name: p.detach() for name, p in params.items()}
    optimizer = make_optimizer(list(params.values()), spec)
    if spec.private:
        _train_private(x, y, index_sets, spec, params, optimizer, generator, n_classes, on_step, report_every)
        return {name: p.detach().cpu() for name, p in params.items()}
    # Dropout masks must come from a generator on the device; on the CPU it is the one above,
    # so CPU results are what they were before devices existed.
    masks = generator if device.type == "cpu" else torch.Generator(device).manual_seed(int(seed))
    for step, batch in enumerate(iter_batches(index_sets, spec.batch_size, spec.steps, generator), 1):
        flat = batch.reshape(-1).to(device, non_blocking=True)
        # index_select is several times faster than x[batch] for a 2-D index on CPU.
        xb = torch.index_select(x, 0, flat).view(k, spec.batch_size, -1)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            logits = stacked.forward(params, xb, spec.activation, spec.dropout, masks, spec.image)
        # Sum over models of each model's mean loss: gradients stay per model.
        loss = F.cross_entropy(logits.float().reshape(-1, n_classes), torch.index_select(y, 0, flat), reduction="sum")
        loss = loss / spec.batch_size
        if spec.l2 > 0:
            loss = loss + spec.l2 * stacked.weight_penalty(params)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        _report(on_step, step, spec.steps, report_every)
    return {name: p.detach().cpu() for name, p in params.items()}


def _report(on_step: Callable[[int], None] | None, step: int, steps: int, every: int) -> None:
    """Progress every ``every`` steps and at the last, so the callbacks add up to ``steps``."""
    if on_step is not None and (step % every == 0 or step == steps):
        on_step(every if step % every == 0 else step % every)


def _private_batches(index_sets: torch.Tensor, spec: TrainSpec, generator: torch.Generator):
    """(record indices ``[K, W]``, weights ``[K, W]``) per step: Poisson or shuffled batches."""
    k, n = index_sets.shape
    if spec.dp_sampling == "shuffle":
        ones = torch.ones(k, spec.batch_size)
        for batch in iter_batches(index_sets, spec.batch_size, spec.steps, generator):
            yield batch, ones
        return
    if spec.dp_sample_rate is None and spec.batch_size > n:
        raise GmiaError(f"expected batch size {spec.batch_size} is larger than the {n} records each model trains on; expected at most {n}")
    q = spec.batch_size / n if spec.dp_sample_rate is None else spec.dp_sample_rate
    for _ in range(spec.steps):
        pos, valid = dp.poisson_positions(k, n, q, generator)
        yield torch.gather(index_sets, 1, pos), valid.to(torch.float32)


def _train_private(x, y, index_sets, spec: TrainSpec, params, optimizer, generator, n_classes, on_step, report_every) -> None:
    """DP-SGD steps (gmia.zoo.dp): clipped per-record gradients, noise, then the optimiser."""
    k = index_sets.shape[0]
    for step, (batch, weight) in enumerate(_private_batches(index_sets, spec, generator), 1):
        flat = batch.reshape(-1).to(x.device)
        weight = weight.to(x.device)
        xb = torch.index_select(x, 0, flat).view(k, batch.shape[1], -1)
        yb = torch.index_select(y, 0, flat).view(k, batch.shape[1])
        summed, _ = dp.clipped_gradient_sum(params, xb, yb, weight, spec.activation, spec.dp_clip, spec.dropout, generator)
        grads = dp.privatise(summed, spec.dp_clip, spec.dp_noise, spec.batch_size, generator)
        for name, p in params.items():
            g = grads[name]
            if spec.l2 > 0 and name.startswith("w"):
                g = g + 2.0 * spec.l2 * p.detach()  # data-independent: no privacy cost
            p.grad = g
        optimizer.step()
        _report(on_step, step, spec.steps, report_every)
