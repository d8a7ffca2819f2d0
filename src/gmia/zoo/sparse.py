"""Sparse rows: one-hot encoded tabular data as (column, value) lists.

Adult's 108 encoded features are 6 numbers and 8 one-hot groups, so each record has at most
14 non-zeros. Stored as ``cols [N, m]`` and ``vals [N, m]`` (m the most non-zeros any row
has; shorter rows padded with column 0 and value 0), the first layer's product
``a = x W + b`` becomes a sum of m rows of W per record (an embedding-bag gather) instead of a
dense 108-wide product: `gmia.zoo.compiled` uses it when `detect` finds the rows sparse enough.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

# Rows are stored sparse when their non-zeros fill at most this share of the features. At Adult's
# 13% a whole compiled step takes 8.2 us per model sparse against 19.2 us dense (one thread,
# measured while writing gmia.zoo.compiled); a quarter is a margin below the crossover, which was
# not measured.
MAX_FILL = 0.25
MIN_FEATURES = 32  # narrower data is dense whatever its zeros: the product is already cheap
BLOCK = 8192  # rows converted at a time


@dataclass(frozen=True)
class SparseRows:
    """``x[r] == sum_j vals[r, j] * e_{cols[r, j]}`` for every record r."""

    cols: torch.Tensor  # [N, m] int32: half the bytes of int64 to gather each step
    vals: torch.Tensor  # [N, m] float32
    n_features: int

    @property
    def width(self) -> int:
        return int(self.cols.shape[1])


def detect(x: torch.Tensor, max_fill: float = MAX_FILL) -> SparseRows | None:
    """``x [N, D]`` as `SparseRows` when every row has at most ``max_fill * D`` non-zeros, else None."""
    n, d = x.shape
    if n == 0 or d < MIN_FEATURES:
        return None
    width = max(int(max((x[s : s + BLOCK] != 0).sum(1).max() for s in range(0, n, BLOCK))), 1)
    if width > max_fill * d:
        return None
    cols = torch.empty(n, width, dtype=torch.int32)
    vals = torch.empty(n, width, dtype=x.dtype)
    for s in range(0, n, BLOCK):  # blocks: the sort's int64 output is 8 bytes per feature
        part = x[s : s + BLOCK]
        # A stable sort of "is zero" puts each row's non-zero columns first, in column order.
        order = torch.argsort((part == 0).to(torch.int8), dim=1, stable=True)[:, :width]
        vals[s : s + BLOCK] = torch.gather(part, 1, order)
        cols[s : s + BLOCK] = torch.where(vals[s : s + BLOCK] != 0, order, 0).to(torch.int32)
    return SparseRows(cols=cols, vals=vals, n_features=d)
