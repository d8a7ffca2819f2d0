"""Exact ROC from sorted scores, its bootstrap over records and targets, FPR-matched thresholds.

Pairs are (target, record) cells of a ``[T, n]`` score matrix; the positive class is
"member" and a higher score means more likely member. The ROC is read off the scores sorted
once in descending order, one point per distinct score (ties move FPR and TPR together, so
the trapezoid gives them half credit, as the Mann-Whitney AUC does); no threshold grid.

A bootstrap resample draws targets and records with replacement. The resampled matrix holds
each original pair w_t · w_r times (w = how often the target / record was drawn), so its ROC is
the weighted ROC of the original pairs in the original order: one cumulative sum per resample,
no re-sorting.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

FPRS = (0.001, 0.01)


def fpr_key(f: float) -> str:
    return f"{f:g}"


@dataclass(frozen=True, eq=False)
class SortedPairs:
    """The pairs of a ``[T, n]`` matrix sorted by descending score, with tie-group ends."""

    rows: np.ndarray  # [m] target of each sorted pair
    cols: np.ndarray  # [m] record of each sorted pair
    member: np.ndarray  # [m] float64, 1 = member
    ends: np.ndarray | None  # last sorted position of each group of equal scores; None: no ties

    @classmethod
    def from_matrix(cls, scores: np.ndarray, membership: np.ndarray) -> "SortedPairs":
        scores = np.asarray(scores, dtype=np.float64)
        membership = np.asarray(membership, dtype=bool)
        if scores.shape != membership.shape or scores.ndim != 2:
            raise ValueError(f"scores {scores.shape} and membership {membership.shape} must be the same [T, n] shape")
        if np.isnan(scores).any():
            raise ValueError("membership scores contain NaN")
        flat = scores.ravel()
        order = np.argsort(flat, kind="stable")[::-1]
        s = flat[order]
        ends = np.flatnonzero(np.r_[s[1:] != s[:-1], True])
        rows, cols = np.divmod(order, scores.shape[1])
        return cls(rows.astype(np.int32), cols.astype(np.int32), membership.ravel()[order].astype(np.float64),
                   None if ends.size == s.size else ends)

    def summary(self, w_rows=None, w_cols=None, fprs=FPRS) -> np.ndarray:
        """``[auc, tpr@fprs...]`` under pair weights ``w_rows[t] · w_cols[r]`` (None: all 1);
        NaN when a class has no weight in this (re)sample.

        Weights are counts and their cumulative sums stay below 2**53, so float64 is exact.
        """
        if w_rows is None:
            w = np.ones(self.member.size)
        else:
            w = np.asarray(w_rows, dtype=np.float64)[self.rows] * np.asarray(w_cols, dtype=np.float64)[self.cols]
        w_pos = w * self.member
        w_neg = w - w_pos
        tp = np.cumsum(w_pos)
        n_pos, n_neg = tp[-1], float(w_neg.sum())
        if n_neg == 0 or n_pos == 0:
            return np.full(1 + len(fprs), np.nan)
        fp = np.cumsum(w_neg)
        if self.ends is None:
            # No ties: each non-member pair is outranked by exactly the member weight above it.
            auc = np.dot(w_neg, tp) / (n_neg * n_pos)
        else:
            # One ROC point per group of equal scores; the trapezoid half-credits the ties.
            fp, tp = fp[self.ends], tp[self.ends]
            d_fp = np.diff(fp, prepend=0.0)
            auc = (np.dot(d_fp, tp) + np.dot(d_fp[1:], tp[:-1])) / (2.0 * n_neg * n_pos)
        out = [float(auc)]
        for f in fprs:
            # fp and tp are non-decreasing: the last point with fp <= f·N has the largest TPR.
            # Counts, not rates, so fpr = f exactly is never lost to rounding.
            i = int(np.searchsorted(fp, f * n_neg * (1 + 1e-12), side="right")) - 1
            out.append(float(tp[i] / n_pos) if i >= 0 else 0.0)
        return np.array(out)


@dataclass(frozen=True)
class RocSummary:
    """ROC AUC and TPR at fixed FPRs over all pairs, with percentile bootstrap intervals."""

    auc: float
    auc_ci: tuple[float, float]
    tpr: dict[str, float] = field(default_factory=dict)  # key: FPR, e.g. "0.001"
    tpr_ci: dict[str, tuple[float, float]] = field(default_factory=dict)


def bootstrap_weights(n_rows: int, n_cols: int, n_bootstrap: int, rng: np.random.Generator):
    """Multinomial draw counts ``[B, T]`` for targets and ``[B, n]`` for records (shared by all attacks)."""
    w_rows = rng.multinomial(n_rows, np.full(n_rows, 1.0 / n_rows), size=n_bootstrap).astype(np.float64)
    w_cols = rng.multinomial(n_cols, np.full(n_cols, 1.0 / n_cols), size=n_bootstrap).astype(np.float64)
    return w_rows, w_cols


def roc_with_ci(scores: np.ndarray, membership: np.ndarray, weights=None, fprs=FPRS, level: float = 0.95) -> RocSummary:
    """Exact ROC summary of ``scores [T, n]``; ``weights`` from :func:`bootstrap_weights` (or None)."""
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
