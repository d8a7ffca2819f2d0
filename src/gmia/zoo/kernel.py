"""The compiled trainer's numba kernel (`gmia.zoo.compiled` prepares its arrays and calls it).

`train_models` runs an epoch of steps for a range of models: for each model and step, gather the
batch's records, the forward pass, the loss gradient, the backward pass and the optimiser step,
in the notation and order of operations of `gmia.zoo.compiled`'s docstring. Row products go
through `gmia.zoo.lanes`; the elementwise loops here are over slices from index 0, which LLVM
vectorises on its own.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from gmia.zoo.lanes import copy_rows, dense_rows, prefetch, sparse_rows, sparse_scatter

ACTIVATIONS = {"tanh": 0, "sigmoid": 1, "relu": 2}
BETAS = (0.9, 0.999)
EPS = 1e-8
_ONE = np.ones(1, dtype=np.float32)  # the coefficient of a bias gradient's sum (dense_rows, stride 0)


ALIGN = 64  # bytes: one cache line


@njit(cache=True)
def aligned_zeros(n):
    """``n`` float32 zeros whose first float starts a cache line, so that 16-lane rows at offsets
    of 16 floats are one line each, not two: a micro-benchmark of the first layer's products ran
    0.98 or 2.35 us a step depending on where numpy had placed its arrays. Called from the kernel
    for its buffers and from `gmia.zoo.compiled` for the arrays it hands the kernel."""
    raw = np.zeros(n + ALIGN // 4, np.float32)
    start = (-raw.ctypes.data % ALIGN) // 4
    return raw[start : start + n]


@njit(inline="always", cache=True, error_model="numpy")
def _tanh(a):
    """Eigen's float32 tanh: clamp to +-7.9053 (where tanh rounds to +-1), then ``a·p(a²)/q(a²)``."""
    # Comparisons written as selects: numba's min and max branch on NaN, which stops LLVM from
    # vectorising the loops that call this.
    top = np.float32(7.90531110763549805)
    a = a if a < top else top
    a = a if a > -top else -top
    a2 = a * a
    p = np.float32(-2.76076847742355e-16)
    p = p * a2 + np.float32(2.00018790482477e-13)
    p = p * a2 + np.float32(-8.60467152213735e-11)
    p = p * a2 + np.float32(5.12229709037114e-08)
    p = p * a2 + np.float32(1.48572235717979e-05)
    p = p * a2 + np.float32(6.37261928875436e-04)
    p = p * a2 + np.float32(4.89352455891786e-03)
    q = np.float32(1.19825839466702e-06)
    q = q * a2 + np.float32(1.18534705686654e-04)
    q = q * a2 + np.float32(2.26843463243900e-03)
    q = q * a2 + np.float32(4.89352518554385e-03)
    return a * p / q


@njit(cache=True, error_model="numpy")
def _activate(h, n, act):
    half = np.float32(0.5)
    if act == 0:
        for i in range(n):
            h[i] = _tanh(h[i])
    elif act == 1:
        for i in range(n):
            h[i] = half * _tanh(half * h[i]) + half
    else:
        for i in range(n):
            h[i] = h[i] if h[i] > 0 else np.float32(0.0)


@njit(cache=True, error_model="numpy")
def _derivative(d, h, n, act):
    """``d *= act'(a)``, written with the activation's output ``h = act(a)``."""
    one = np.float32(1.0)
    if act == 0:
        for i in range(n):
            d[i] *= one - h[i] * h[i]
    elif act == 1:
        for i in range(n):
            d[i] *= h[i] * (one - h[i])
    else:
        for i in range(n):
            if h[i] <= 0:
                d[i] = 0


@njit(cache=True, error_model="numpy")
def _add_scaled(out, src, a):
    """``out += a * src``. A loop over a slice from 0, not over ``range(start, stop)`` of the
    whole array: numba wraps negative indices, and an index it cannot prove non-negative turns
    LLVM's vector loop into scatter instructions, which made a step 20% slower."""
    for i in range(out.shape[0]):
        out[i] += a * src[i]


@njit(cache=True, error_model="numpy")
def _loss_gradient(z, d, labels, batch, width, n_classes):
    """``d = (softmax(z) - onehot(y)) / B`` on the first ``n_classes`` columns, zero on the padding."""
    scale = np.float32(1.0 / batch)
    half = np.float32(0.5)
    for i in range(batch * width):
        d[i] = 0
    for b in range(batch):
        row = b * width
        if n_classes == 2:
            p1 = half * _tanh(half * (z[row + 1] - z[row])) + half  # sigmoid(z_1 - z_0)
            g = (p1 - np.float32(labels[b])) * scale
            d[row + 1] = g
            d[row] = -g
            continue
        top = z[row]
        for c in range(1, n_classes):
            top = max(top, z[row + c])
        total = np.float32(0.0)
        for c in range(n_classes):
            e = np.exp(z[row + c] - top)
            d[row + c] = e
            total += e
        for c in range(n_classes):
            d[row + c] = d[row + c] / total * scale
        d[row + labels[b]] -= scale


@njit(nogil=True, cache=True, error_model="numpy")
def train_models(theta, first, second, lo, hi, sets, order, steps, batch, t0, table, is_sparse, nnz, label_at,
                  sizes, widths, w_at, b_at, act, adam, lr, momentum, l2, n_classes):
    """Steps ``t0+1 .. t0+steps`` for models ``lo..hi``: model m's batch at step s is records
    ``sets[m, order[m, s·batch : (s+1)·batch]]`` (rows of `Records.table`)."""
    layers = sizes.shape[0] - 1
    # Activations h_i and deltas d_i of every layer, rows of width widths[i+1], side by side.
    h_at = np.zeros(layers + 1, np.int64)
    for i in range(layers):
        h_at[i + 1] = h_at[i] + batch * widths[i + 1]
    h = aligned_zeros(h_at[layers])
    d = aligned_zeros(h_at[layers])
    wide = 1
    for i in range(1, layers + 1):
        wide = max(wide, widths[i])
    transposed = aligned_zeros(wide * wide)  # W_i^T, padded, for d_{i-1}
    zeros = aligned_zeros(wide)
    grad = aligned_zeros(theta.shape[1])
    row = table.shape[1]
    records = table.reshape(-1)
    gathered = aligned_zeros(batch * row)
    bits = gathered.view(np.uint32)
    labels = np.zeros(batch, np.int32)
    upcoming = np.zeros(batch, np.int64)  # this step's records until they are copied, then the next step's
    for m in range(lo, hi):
        for b in range(batch):
            upcoming[b] = sets[m, order[m, b]]
        for s in range(steps):
            copy_rows(gathered, records, upcoming, row)
            for b in range(batch):
                labels[b] = bits[b * row + label_at]
            # The next step's records are asked for now, to arrive while this step computes:
            # they are scattered over the data set, and waiting for them cost a third of a step.
            if s + 1 < steps:
                for b in range(batch):
                    upcoming[b] = sets[m, order[m, (s + 1) * batch + b]]
                    for line in range(0, row, 16):
                        prefetch(records, upcoming[b] * row + line)
            _forward(theta[m], h, h_at, gathered, bits, row, is_sparse, nnz, batch, sizes, widths, w_at, b_at, act)
            last = h_at[layers - 1]
            _loss_gradient(h[last:], d[last:], labels, batch, widths[layers], n_classes)
            _backward(theta[m], grad, h, d, h_at, transposed, zeros, gathered, bits, row, is_sparse, nnz, batch,
                      sizes, widths, w_at, b_at, act, l2)
            _update(theta[m], grad, first[m], second[m], t0 + s + 1, adam, lr, momentum)


@njit(cache=True, error_model="numpy")
def _forward(th, h, h_at, gathered, bits, row, is_sparse, nnz, batch, sizes, widths, w_at, b_at, act):
    """``h_{i+1} = act(h_i W_i + b_i)``, the last layer's logits left without the activation."""
    layers = sizes.shape[0] - 1
    for i in range(layers):
        width = widths[i + 1]
        if i > 0:
            dense_rows(h, h_at[i], width, th, b_at[i], 0, h, h_at[i - 1], widths[i], 1, th, w_at[i], width, sizes[i],
                       width, batch)
        elif is_sparse:
            sparse_rows(h, 0, th, b_at[0], bits, gathered, 0, row, nnz, th, w_at[0], width, width, batch)
        else:
            dense_rows(h, 0, width, th, b_at[0], 0, gathered, 0, row, 1, th, w_at[0], width, sizes[0], width, batch)
        if i < layers - 1:
            _activate(h[h_at[i]:h_at[i + 1]], batch * width, act)


@njit(cache=True, error_model="numpy")
def _backward(th, grad, h, d, h_at, transposed, zeros, gathered, bits, row, is_sparse, nnz, batch,
              sizes, widths, w_at, b_at, act, l2):
    """``grad`` = the gradients of every layer, from the last layer's deltas in ``d``."""
    layers = sizes.shape[0] - 1
    decay = np.float32(2.0 * l2)
    grad[:] = 0
    for i in range(layers - 1, -1, -1):
        width = widths[i + 1]
        dense_rows(grad, b_at[i], 0, grad, b_at[i], 0, _ONE, 0, 0, 0, d, h_at[i], width, batch, width, 1)
        if i > 0:  # row k of dW_i: sum over the batch of h_i[b, k] · d_i[b]
            dense_rows(grad, w_at[i], width, grad, w_at[i], width, h, h_at[i - 1], 1, widths[i], d, h_at[i], width,
                       batch, width, sizes[i])
        elif is_sparse:
            sparse_scatter(grad, w_at[0], width, bits, gathered, 0, row, nnz, d, 0, width, batch)
        else:
            dense_rows(grad, w_at[0], width, grad, w_at[0], width, gathered, 0, 1, row, d, 0, width, batch, width, sizes[0])
        if decay > 0:
            _add_scaled(grad[w_at[i]:b_at[i]], th[w_at[i]:b_at[i]], decay)
        if i > 0:  # d_{i-1} = (d_i W_i^T) * act'(h_i)
            below = widths[i]
            transposed[: sizes[i + 1] * below] = 0
            for k in range(sizes[i]):
                for j in range(sizes[i + 1]):
                    transposed[j * below + k] = th[w_at[i] + k * width + j]
            dense_rows(d, h_at[i - 1], below, zeros, 0, 0, d, h_at[i], width, 1, transposed, 0, below, sizes[i + 1],
                       below, batch)
            _derivative(d[h_at[i - 1]:h_at[i]], h[h_at[i - 1]:h_at[i]], batch * below, act)


@njit(cache=True, error_model="numpy")
def _update(th, grad, m1, m2, t, adam, lr, momentum):
    """One optimiser step at step ``t`` (from 1), in torch's order of operations (module docstring)."""
    n = th.shape[0]
    if adam:
        beta1, beta2 = BETAS
        step = np.float32(lr / (1.0 - beta1**t))
        root = np.float32(math.sqrt(1.0 - beta2**t))
        b1, b2, c2 = np.float32(1.0 - beta1), np.float32(beta2), np.float32(1.0 - beta2)
        for j in range(n):
            g = grad[j]
            m1[j] += (g - m1[j]) * b1
            m2[j] = m2[j] * b2 + c2 * g * g
            th[j] -= step * m1[j] / (np.sqrt(m2[j]) / root + np.float32(EPS))
    elif momentum > 0:
        mom, rate = np.float32(momentum), np.float32(lr)
        for j in range(n):
            m1[j] = grad[j] if t == 1 else m1[j] * mom + grad[j]
            th[j] -= rate * m1[j]
    else:
        rate = np.float32(lr)
        for j in range(n):
            th[j] -= rate * grad[j]
