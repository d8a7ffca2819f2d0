"""Forward and backward passes of K fully connected models, written out by hand for the CPU.

The stacked trainer's work per step is a few dozen tiny tensor operations; with autograd each
also records a graph node, allocates its output and its gradient, and the batched matmuls go
through MKL, whose small-matrix path on these AMD cores runs at about a quarter of OpenBLAS's
speed (benchmarks/README.md, "profile_step.py"). Here the gradients of
``sum_m mean_b CE(f_m(x_b), y_b) + l2 * sum ||W||^2`` (the loss `gmia.zoo.trainer` minimises)
are computed directly into preallocated buffers:

    h_0 = x,  a_i = h_i W_i + b_i,  h_{i+1} = act(a_i),  z = a_{L-1}
    d_{L-1} = (softmax(z) - onehot(y)) / B
    dW_i = h_i^T d_i + 2 l2 W_i,  db_i = sum_b d_i,  d_{i-1} = (d_i W_i^T) * act'(h_i)

with the batched products in numpy (OpenBLAS) on zero-copy views of the torch tensors; the
optimiser's update (`gmia.zoo.updates`) then steps on them. When the records are sparse
(`gmia.zoo.sparse`: one-hot groups), the dense batch is never built: the first layer's forward
product is an embedding-bag sum of each record's non-zero rows of W_0, and its weight gradient
a scatter of each non-zero's ``value · d_0`` row (scipy's transposed CSR product, as fast as
the dense product and without its gather; torch's scatter-adds measured 4-10 times slower).

Results equal the autograd path's to float rounding (tests/zoo/test_fused.py). Used on the CPU for
stacks without convolutions, dropout or DP-SGD; everything else trains through autograd.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.sparse import csr_matrix

from gmia.zoo import sparse
from gmia.zoo.spec import TrainSpec


def applies(spec: TrainSpec, device: torch.device) -> bool:
    """Whether `FusedStack` can train ``spec`` on ``device``."""
    return device.type == "cpu" and not spec.conv and not spec.private and spec.dropout == 0


def _matmul(a: torch.Tensor, b: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """``out = a @ b`` (batched) through numpy's BLAS; transposed views need no copy."""
    np.matmul(a.numpy(), b.numpy(), out=out.numpy())
    return out


class FusedStack:
    """Writes each step's gradients into ``p.grad`` for the stacked ``params`` (``w{i}``, ``b{i}``).

    Parameters
    ----------
    params : the K models' parameters, ``w{i} [K, in, out]`` and ``b{i} [K, out]``, updated in
        place by the caller's optimiser update.
    x, y : all records ``[N, D]`` float32 and labels ``[N]`` int64.
    batch_size : B, records per model and step.
    """

    def __init__(self, params: dict[str, torch.Tensor], spec: TrainSpec, x: torch.Tensor, y: torch.Tensor,
                 n_classes: int, batch_size: int):
        self.layers = sum(1 for name in params if name.startswith("w"))
        self.w = [params[f"w{i}"] for i in range(self.layers)]
        self.b = [params[f"b{i}"] for i in range(self.layers)]
        self.k, self.batch, self.n_classes = self.w[0].shape[0], batch_size, n_classes
        self.activation, self.l2 = spec.activation, spec.l2
        self.x, self.y = x.contiguous(), y.contiguous()
        self.rows = sparse.detect(self.x)
        for p in (*self.w, *self.b):
            p.grad = torch.zeros_like(p)
        shape = (self.k, batch_size)
        # Activations h_1..h_{L-1}, logits and the back-propagated d_i, allocated once.
        self.h = [torch.empty(*shape, w.shape[2]) for w in self.w]
        self.d = [torch.empty(*shape, w.shape[2]) for w in self.w]
        if self.rows is not None:
            # One gather per step fetches a record's columns, values and label together: the
            # gathers are random reads, and three tables cost three cache misses per record.
            self.packed = torch.cat([self.rows.cols, self.rows.vals.view(torch.int32), self.y.to(torch.int32)[:, None]], 1)
            self.offsets = (torch.arange(self.k, dtype=torch.int32) * self.rows.n_features).view(self.k, 1, 1)
            self.indptr = np.arange(0, self.k * batch_size * self.rows.width + 1, self.rows.width, dtype=np.int32)

    @torch.no_grad()
    def gradients(self, flat: torch.Tensor) -> None:
        """Gradients for one step; ``flat [K·B]`` holds model m's batch at ``m·B .. (m+1)·B``."""
        if self.rows is None:
            x0 = torch.index_select(self.x, 0, flat).view(self.k, self.batch, -1)
            _matmul(x0, self.w[0], self.h[0])
            labels = torch.index_select(self.y, 0, flat)
        else:
            cols, vals, labels = self._sparse_first_layer(flat)
        for i in range(self.layers):
            if i > 0:
                _matmul(self.h[i - 1], self.w[i], self.h[i])
            self.h[i] += self.b[i].unsqueeze(1)
            if i < self.layers - 1:
                self._activate(self.h[i])
        self._loss_gradient(self.h[-1], labels, self.d[-1])
        for i in range(self.layers - 1, -1, -1):
            if i > 0:
                _matmul(self.h[i - 1].transpose(1, 2), self.d[i], self.w[i].grad)
            elif self.rows is None:
                _matmul(x0.transpose(1, 2), self.d[0], self.w[0].grad)
            else:
                self._sparse_first_gradient(cols, vals, self.d[0])
            torch.sum(self.d[i], dim=1, out=self.b[i].grad)
            if self.l2 > 0:
                self.w[i].grad.add_(self.w[i], alpha=2.0 * self.l2)
            if i > 0:
                _matmul(self.d[i], self.w[i].transpose(1, 2), self.d[i - 1])
                self._derivative(self.d[i - 1], self.h[i - 1])

    def _sparse_first_layer(self, flat: torch.Tensor):
        """``h[0] = h_0 W_0`` (bias not added) as an embedding-bag sum of each record's non-zero
        rows of W_0; returns the batch's (columns, values, labels) for the backward pass."""
        k, b, m, w0 = self.k, self.batch, self.rows.width, self.w[0]
        batch = torch.index_select(self.packed, 0, flat)
        # Model j's rows of W_0 are rows j·D .. (j+1)·D of the flattened [K·D, H] weight.
        cols = (batch[:, :m].view(k, b, m) + self.offsets).view(k * b, m)
        vals = batch[:, m : 2 * m].contiguous().view(torch.float32)
        self.h[0] = F.embedding_bag(cols, w0.detach().view(-1, w0.shape[2]), per_sample_weights=vals, mode="sum").view(k, b, -1)
        return cols, vals, batch[:, 2 * m]

    def _sparse_first_gradient(self, cols: torch.Tensor, vals: torch.Tensor, d: torch.Tensor) -> None:
        """``dW_0 = h_0^T d_0`` for sparse rows: the batch as a [K·B, K·D] CSR matrix (model j's
        records in columns j·D ..), whose transposed product scipy computes as a scatter of
        each non-zero's ``value · d`` row, without the dense batch ever being built."""
        rows = cols.shape[0]
        batch = csr_matrix((vals.numpy().ravel(), cols.numpy().ravel(), self.indptr),
                           shape=(rows, self.k * self.rows.n_features))
        grad = self.w[0].grad
        grad.view(-1, grad.shape[2]).numpy()[:] = batch.T @ d.view(rows, -1).numpy()

    def _loss_gradient(self, z: torch.Tensor, labels: torch.Tensor, out: torch.Tensor) -> None:
        """``out = (softmax(z) - onehot(y)) / B``, the mean cross-entropy's gradient at the logits.
        torch.softmax over a last axis of a few classes runs several times slower than these
        whole-tensor operations."""
        scale = 1.0 / self.batch
        if self.n_classes == 2:
            # p_1 = sigmoid(z_1 - z_0), and the two classes' gradients are opposite.
            one = out[..., 1]
            torch.sub(z[..., 1], z[..., 0], out=one).sigmoid_().sub_(labels.view(one.shape)).mul_(scale)
            torch.neg(one, out=out[..., 0])
            return
        torch.sub(z, z.amax(2, keepdim=True), out=out).exp_()
        out.div_(out.sum(2, keepdim=True))
        out.view(-1, self.n_classes).scatter_add_(1, labels.view(-1, 1).long(), torch.full((labels.numel(), 1), -1.0))
        out.mul_(scale)

    def _activate(self, h: torch.Tensor) -> None:
        if self.activation == "tanh":
            # tanh(a) = 2 sigmoid(2a) - 1: torch's tanh kernel is about twice as slow as its
            # sigmoid here; the results differ by float rounding.
            h.mul_(2.0).sigmoid_().mul_(2.0).sub_(1.0)
        elif self.activation == "sigmoid":
            h.sigmoid_()
        else:
            h.relu_()

    def _derivative(self, d: torch.Tensor, h: torch.Tensor) -> None:
        """``d *= act'(a)``, written with the activation's output h = act(a)."""
        if self.activation == "tanh":
            d.addcmul_(d * h, h, value=-1.0)  # d (1 - h²) in two operations, not three
        elif self.activation == "sigmoid":
            d.mul_(h * (1.0 - h))
        else:
            d.mul_(h > 0)
