"""Member calls over many records with the false-discovery rate controlled (docs/algorithm.md,
"Calls over all records").

Weighted Benjamini-Hochberg (Genovese, Roeder and Wasserman 2006): with weights w_i > 0 of mean
1 over the m hypotheses, reject H_i when p_i / w_i <= q k / m, k the largest index with
Q_(k) <= q k / m among the sorted Q_i = p_i / w_i. When the weights are fixed independently of
the p-values and the p-values are independent (or positively dependent, PRDS), the expected
share of false calls among all calls is at most q. Larger weights spend more of the error budget
on their hypotheses: GMIA's preference for isolated records stays, and a record with
overwhelming evidence is called whatever its weight.

`isolation_weights` turns GMIA's selection evidence into weights. They must not use the
p-values' own randomness: computed from the models selection used (the adversary's references),
not from the models the p-values rank against (sample splitting).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gmia.base.errors import GmiaError

DEFAULT_Q = 0.1  # the member calls' false-discovery level, unless asked otherwise


@dataclass(frozen=True)
class FdrCalls:
    """``called[i]``: H_i rejected (a member call); ``threshold``: the largest p_i / w_i called
    (0 when nothing is); ``q``: the level; ``m``: the hypotheses tested."""

    called: np.ndarray
    threshold: float
    q: float
    m: int


def check_q(q: float) -> None:
    if isinstance(q, bool) or not isinstance(q, int | float) or not 0.0 < q < 1.0:
        raise GmiaError(f"false-discovery level q={q!r} is out of range; expected a value in (0, 1), e.g. 0.1")


def normalised(weights: np.ndarray) -> np.ndarray:
    """``weights`` scaled to mean 1; all must be finite and >= 0, some > 0."""
    w = np.asarray(weights, dtype=np.float64)
    if w.size and (not np.isfinite(w).all() or (w < 0).any() or not (w > 0).any()):
        raise GmiaError("FDR weights must be finite and non-negative with at least one positive; expected e.g. "
                        "isolation_weights(...)")
    return w / w.mean() if w.size else w


def weighted_bh(pvalues: np.ndarray, weights: np.ndarray | None = None, q: float = 0.1) -> FdrCalls:
    """Weighted Benjamini-Hochberg at level ``q`` over the flat array ``pvalues`` (NaN: not
    tested, never called, not counted in m). ``weights`` default to 1 (plain BH)."""
    check_q(q)
    p = np.asarray(pvalues, dtype=np.float64).ravel()
    tested = ~np.isnan(p)
    w = np.ones(p.size) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if w.shape != p.shape:
        raise GmiaError(f"{w.size} weights for {p.size} p-values; expected one weight per p-value")
    called = np.zeros(p.size, bool)
    m = int(tested.sum())
    if m == 0:
        return FdrCalls(called, 0.0, float(q), 0)
    wt = normalised(w[tested])
    with np.errstate(divide="ignore"):
        ratio = np.where(wt > 0, p[tested] / wt, np.inf)
    order = np.sort(ratio)
    passing = np.nonzero(order <= q * np.arange(1, m + 1) / m)[0]
    if passing.size == 0:
        return FdrCalls(called, 0.0, float(q), m)
    threshold = float(order[passing[-1]])
    called[np.nonzero(tested)[0]] = ratio <= threshold
    return FdrCalls(called, threshold, float(q), m)


def isolation_weights(neighbours: np.ndarray) -> np.ndarray:
    """Weights of mean 1 from N'_n, each record's neighbour count among the adversary's
    references' features: w ∝ 1 / (1 + N'_n), so the most isolated records (the ones GMIA
    selects, N'_n = 0) weigh most and a record with many neighbours still keeps some weight.
    CHOICE: the paper gives no weights; this keeps its ordering and never zeroes a record."""
    n = np.asarray(neighbours, dtype=np.float64)
    if (n < 0).any() or not np.isfinite(n).all():
        raise GmiaError("neighbour counts must be finite and >= 0; expected N'_n from the selection")
    return normalised(1.0 / (1.0 + n))
