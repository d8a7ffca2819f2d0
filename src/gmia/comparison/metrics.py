"""The exact ROC (gmia.stats.roc) with bootstrap intervals over records and targets, and
FPR-matched thresholds.

A bootstrap resample draws targets and records with replacement. The resampled matrix holds
each original pair w_t · w_r times (w = how often the target / record was drawn), so its ROC is
the weighted ROC of the original pairs in the original order: one cumulative sum per resample,
no re-sorting.
"""

from __future__ import annotations

import numpy as np

from gmia.stats.roc import FPRS, RocSummary, SortedPairs, fpr_key


def bootstrap_weights(n_rows: int, n_cols: int, n_bootstrap: int, rng: np.random.Generator):
    """Multinomial draw counts ``[B, T]`` for targets and ``[B, n]`` for records (shared by all attacks)."""
    w_rows = rng.multinomial(n_rows, np.full(n_rows, 1.0 / n_rows), size=n_bootstrap).astype(np.float64)
    w_cols = rng.multinomial(n_cols, np.full(n_cols, 1.0 / n_cols), size=n_bootstrap).astype(np.float64)
    return w_rows, w_cols


def roc_with_ci(scores: np.ndarray, membership: np.ndarray, weights=None, fprs=FPRS, level: float = 0.95) -> RocSummary:
    """Exact ROC summary of ``scores [T, n]``; ``weights`` from `bootstrap_weights` (or None)."""
    pairs = SortedPairs.from_matrix(scores, membership)
    point = pairs.summary(fprs=fprs)
    if weights is None or weights[0].shape[0] == 0:
        cis = np.full((point.size, 2), np.nan)
    else:
        boot = np.stack([pairs.summary(wr, wc, fprs) for wr, wc in zip(*weights)])
        q = 100 * (1 - level) / 2
        with np.errstate(all="ignore"):
            cis = np.nanpercentile(boot, [q, 100 - q], axis=0).T
    keys = [fpr_key(f) for f in fprs]
    return RocSummary(
        auc=float(point[0]),
        auc_ci=(float(cis[0, 0]), float(cis[0, 1])),
        tpr={k: float(v) for k, v in zip(keys, point[1:])},
        tpr_ci={k: (float(lo), float(hi)) for k, (lo, hi) in zip(keys, cis[1:])},
    )


def fpr_threshold(scores: np.ndarray, membership: np.ndarray, fpr: float) -> float:
    """Score threshold τ with "member iff score > τ" at the largest FPR ≤ ``fpr`` over all
    non-member pairs (ties at τ are all called non-member, so the realised FPR may be lower)."""
    neg = np.sort(np.asarray(scores, dtype=np.float64)[~np.asarray(membership, dtype=bool)])[::-1]
    allowed = int(np.floor(fpr * neg.size + 1e-9))
    return -np.inf if allowed >= neg.size else float(neg[allowed])
