"""The compiled stacked trainer: forward, backward and optimiser step of K fully connected models
in one numba loop, float32, on the CPU.

A step of the torch trainer is a few dozen operations on tensors of a few thousand floats, each
paying dispatch and allocation overhead that exceeds its arithmetic (Adult's 108-10-5-2 network:
about 25 us per model and step on one core through the hand-written torch passes this module
replaced, for about 460 multiply-adds per record). Here one compiled call runs a whole epoch of
steps for a range of models: model by model, its parameters and optimiser state stay in the
core's cache across the epoch, and every row operation is a 16-lane vector loop
(`gmia.zoo.lanes`). The models of a stack are split between threads (the kernel releases the
GIL), each model on one thread only, so results do not depend on the thread count, and the same
seed gives the same bits run to run.

Each model minimises its mean batch cross-entropy plus ``l2 ‖W‖²`` (weights, not biases):

    h_0 = x,  a_i = h_i W_i + b_i,  h_{i+1} = act(a_i),  z = a_{L-1}
    d_{L-1} = (softmax(z) - onehot(y)) / B
    dW_i = h_i^T d_i + 2 l2 W_i,  db_i = sum_b d_i,  d_{i-1} = (d_i W_i^T) * act'(h_i)

then takes torch's SGD step (with momentum: ``buf = momentum · buf + g``, ``buf = g`` at the
first step) or Adam step (betas 0.9 and 0.999, eps 1e-8, no AMSGrad, bias-corrected as
``torch.optim.Adam`` does). With sparse records (`gmia.zoo.sparse`, one-hot groups) the first
layer sums each record's non-zero rows of W_0 and scatters its gradient back to them, without
the dense record ever being built. Initialisation and batch order come from the same torch
generator as the torch trainer's (`gmia.zoo.trainer.iter_orders`), so the two train the same
models up to float rounding: tests/zoo/test_compiled.py shows it step by step, and as
distributions of trained accuracy and loss.

Layout. A model's parameters are one float32 row: per layer ``W_i`` as ``[in_i, out_i']`` then
``b_i`` as ``[out_i']``, where ``out_i'`` is the width rounded up to a multiple of `lanes.STEP`
(8 floats: a row is one 16-lane operation per 16 floats, then an 8-lane one). The padding
columns start at zero and stay zero: every sum over a layer's inputs runs over the true width
only, and the loss gradient of a padding class is zero.

tanh. numba calls the C library's scalar ``tanhf``, which no compiler vectorises; the kernel's
(`gmia.zoo.kernel`) is the rational approximation Eigen (and so TensorFlow and XLA) uses for
float32, within 6 ulp of the true value (tests/zoo/test_compiled.py), pure arithmetic, so the
activation loops run 16 lanes wide. The sigmoid is ``(1 + tanh(a/2)) / 2``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from gmia.zoo import kernel, sparse, stacked
from gmia.zoo.kernel import ACTIVATIONS, train_models
from gmia.zoo.lanes import STEP
from gmia.zoo.spec import TrainSpec


def padded(width: int) -> int:
    """``width`` rounded up to a whole number of row operations (`lanes.STEP` floats)."""
    return -(-int(width) // STEP) * STEP


def aligned_zeros(shape: tuple[int, ...]) -> np.ndarray:
    """float32 zeros of ``shape`` whose first element starts a cache line (`gmia.zoo.kernel.aligned_zeros`)."""
    return kernel.aligned_zeros(int(np.prod(shape))).reshape(shape)


class Layout:
    """Where each layer's parameters sit in a model's row (see the module docstring)."""

    def __init__(self, sizes: list[int]):
        self.sizes = np.asarray(sizes, dtype=np.int64)  # true widths, inputs to classes
        self.widths = np.asarray([sizes[0], *(padded(s) for s in sizes[1:])], dtype=np.int64)
        self.w_at, self.b_at = np.zeros(len(sizes) - 1, np.int64), np.zeros(len(sizes) - 1, np.int64)
        at = 0
        for i in range(len(sizes) - 1):
            self.w_at[i] = at
            at += int(sizes[i] * self.widths[i + 1])
            self.b_at[i] = at
            at += int(self.widths[i + 1])
        self.size = at

    def pack(self, params: dict[str, torch.Tensor]) -> np.ndarray:
        k = params["w0"].shape[0]
        theta = aligned_zeros((k, self.size))
        for i in range(len(self.sizes) - 1):
            n_in, n_out, width = int(self.sizes[i]), int(self.sizes[i + 1]), int(self.widths[i + 1])
            w = theta[:, self.w_at[i] : self.w_at[i] + n_in * width].reshape(k, n_in, width)
            w[:, :, :n_out] = params[f"w{i}"].detach().numpy()
            theta[:, self.b_at[i] : self.b_at[i] + n_out] = params[f"b{i}"].detach().numpy()
        return theta

    def unpack(self, theta: np.ndarray, params: dict[str, torch.Tensor]) -> None:
        """Write the rows back into the stacked ``params`` (``w{i} [K, in, out]``, ``b{i} [K, out]``)."""
        k = theta.shape[0]
        with torch.no_grad():
            for i in range(len(self.sizes) - 1):
                n_in, n_out, width = int(self.sizes[i]), int(self.sizes[i + 1]), int(self.widths[i + 1])
                w = theta[:, self.w_at[i] : self.w_at[i] + n_in * width].reshape(k, n_in, width)[:, :, :n_out]
                params[f"w{i}"].copy_(torch.from_numpy(np.ascontiguousarray(w)))
                params[f"b{i}"].copy_(torch.from_numpy(np.ascontiguousarray(theta[:, self.b_at[i] : self.b_at[i] + n_out])))


class Records:
    """The training records as the kernel reads them: one row of ``width`` floats per record
    (a multiple of `lanes.STEP`, so a batch is gathered 16 lanes at a time), holding

    - sparse data (`gmia.zoo.sparse`, when the records are one-hot enough): the ``nnz`` non-zero
      columns (as uint32 bits), then their ``nnz`` values;
    - dense data: the ``n_features`` values;

    then the label (as int32 bits) at ``label_at``, then zeros. ``table`` is the float32 view,
    ``bits`` the uint32 view of the same memory."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        rows = sparse.detect(x)
        self.sparse = rows is not None
        self.nnz = rows.width if self.sparse else 0
        self.label_at = 2 * self.nnz if self.sparse else x.shape[1]
        self.width = padded(self.label_at + 1)
        self.table = aligned_zeros((x.shape[0], self.width))
        self.bits = self.table.view(np.uint32)
        if self.sparse:
            self.bits[:, : self.nnz] = rows.cols.numpy()
            self.table[:, self.nnz : self.label_at] = rows.vals.numpy()
        else:
            self.table[:, : self.label_at] = x.numpy()
        self.bits[:, self.label_at] = y.numpy()


def train(x: torch.Tensor, y: torch.Tensor, index_sets: torch.Tensor, orders: Iterator[tuple[torch.Tensor, int]],
          spec: TrainSpec, params: dict[str, torch.Tensor], n_classes: int, on_step: Callable[[int], None]) -> None:
    """Train ``params`` in place: model m on records ``index_sets[m]``, visited epoch by epoch in
    the ``orders`` of `gmia.zoo.trainer.iter_orders`; ``on_step(step)`` after each step, from 1.

    Models are split into as many ranges as torch has threads (one when stacks train side by
    side, `gmia.zoo.concurrent`); the next epoch's order is drawn while the kernel runs.
    """
    k = params["w0"].shape[0]
    layout = Layout([x.shape[1], *(params[f"b{i}"].shape[1] for i in range(stacked.n_layers(params)))])
    records = Records(x, y)
    theta = layout.pack(params)
    first = aligned_zeros(theta.shape) if spec.optimizer == "adam" or spec.momentum > 0 else np.zeros((k, 1), np.float32)
    second = aligned_zeros(theta.shape) if spec.optimizer == "adam" else np.zeros((k, 1), np.float32)
    sets = np.ascontiguousarray(index_sets.numpy() if isinstance(index_sets, torch.Tensor) else index_sets, dtype=np.int64)
    threads = max(1, min(torch.get_num_threads(), k))
    bounds = np.linspace(0, k, threads + 1).astype(np.int64)
    settings = (ACTIVATIONS[spec.activation], spec.optimizer == "adam", spec.lr, spec.momentum, spec.l2, n_classes)
    done = 0
    with ThreadPoolExecutor(threads, thread_name_prefix="gmia-compiled") as pool:
        epoch = next(orders, None)
        while epoch is not None:
            order, count = epoch[0].numpy(), epoch[1]
            futures = [pool.submit(train_models, theta, first, second, int(lo), int(hi), sets, order, count,
                                   spec.batch_size, done, records.table, records.sparse, records.nnz, records.label_at,
                                   layout.sizes, layout.widths, layout.w_at, layout.b_at, *settings)
                       for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]
            upcoming = next(orders, None)  # drawn while the models train
            for future in futures:
                future.result()
            for step in range(done + 1, done + count + 1):
                on_step(step)
            done += count
            epoch = upcoming
    layout.unpack(theta, params)
