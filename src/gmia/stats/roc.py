"""Exact ROC of a ``[T, n]`` score matrix, read off the scores sorted once (no threshold grid).

Pairs are (target, record) cells; the positive class is "member" and a higher score means more
likely member. One ROC point per distinct score: ties move FPR and TPR together, so the
trapezoid gives them half credit, as the Mann-Whitney AUC does. Pair weights (counts) let a
bootstrap resample of targets and records reuse the same sort (gmia.comparison.metrics).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import precision_recall_curve

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

    def curve(self) -> tuple[np.ndarray, np.ndarray]:
        """``(fpr, tpr)`` at every distinct score, from (0, 0) to (1, 1)."""
        tp, fp = np.cumsum(self.member), np.cumsum(1.0 - self.member)
        if self.ends is not None:
            tp, fp = tp[self.ends], fp[self.ends]
        return np.r_[0.0, fp / max(fp[-1], 1.0)], np.r_[0.0, tp / max(tp[-1], 1.0)]


@dataclass(frozen=True)
class RocSummary:
    """The one ROC type of every result: ROC AUC and TPR at FPR <= f (``tpr``, keyed by
    `fpr_key`: "0.001", "0.01"), with percentile bootstrap intervals where they were computed
    (`gmia.comparison.metrics.roc_with_ci`; NaN otherwise)."""

    auc: float
    auc_ci: tuple[float, float] = (float("nan"), float("nan"))
    tpr: dict[str, float] = field(default_factory=dict)
    tpr_ci: dict[str, tuple[float, float]] = field(default_factory=dict)


def roc_figure(roc, what: str = "auc") -> float:
    """One figure of a ROC summary however it is held: a `RocSummary`, its results.json dict, or
    the flat dict results.json had before schema 2 (``tpr_at_fpr_0.001``). ``what``: ``"auc"`` or
    an FPR key (``"0.001"``); NaN when absent."""
    if roc is None:
        return float("nan")
    if isinstance(roc, RocSummary):
        return roc.auc if what == "auc" else roc.tpr.get(what, float("nan"))
    if what == "auc":
        return roc.get("auc", float("nan"))
    tpr = roc.get("tpr")
    return tpr.get(what, float("nan")) if isinstance(tpr, dict) else roc.get(f"tpr_at_fpr_{what}", float("nan"))


def roc_summary(scores: np.ndarray, labels: np.ndarray, fprs=FPRS) -> RocSummary:
    """Exact ROC AUC and TPR at fixed FPRs, no intervals; ``labels`` True = member (the
    positive class), higher score = more likely member. NaN when a class is missing."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    if scores.ndim != 2:
        scores, labels = scores.reshape(1, -1), labels.reshape(1, -1)
    auc, *tprs = SortedPairs.from_matrix(scores, labels).summary(fprs=fprs)
    nan = (float("nan"), float("nan"))
    return RocSummary(auc=float(auc), tpr={fpr_key(f): float(t) for f, t in zip(fprs, tprs)},
                      tpr_ci={fpr_key(f): nan for f in fprs})


# Curves thinned to a few hundred points for figures.

def _thin(idx_len: int, max_points: int) -> np.ndarray:
    if idx_len <= max_points:
        return np.arange(idx_len)
    # Log-spaced indices keep the low-FPR end (what log-log ROC plots show) in full detail.
    idx = np.unique(np.geomspace(1, idx_len, max_points).astype(int) - 1)
    return np.union1d(idx, [0, idx_len - 1])


def roc_points(scores: np.ndarray, members: np.ndarray, max_points: int = 400) -> dict[str, list[float]]:
    """``{"fpr": [...], "tpr": [...]}``; higher score = member. Empty lists if a class is missing."""
    members = np.asarray(members, dtype=bool)
    if members.all() or not members.any():
        return {"fpr": [], "tpr": []}
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2:
        scores, members = scores.reshape(1, -1), members.reshape(1, -1)
    fpr, tpr = SortedPairs.from_matrix(scores, members).curve()
    keep = _thin(len(fpr), max_points)
    return {"fpr": fpr[keep].tolist(), "tpr": tpr[keep].tolist()}


def pr_points(scores: np.ndarray, members: np.ndarray, max_points: int = 300) -> dict[str, list[float]]:
    """``{"recall": [...], "precision": [...]}`` as the threshold sweeps (the paper's Figure 8)."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    members = np.asarray(members, dtype=bool).ravel()
    if members.all() or not members.any():
        return {"recall": [], "precision": []}
    precision, recall, _ = precision_recall_curve(members, scores)
    keep = _thin(len(recall), max_points)
    return {"recall": recall[keep].tolist(), "precision": precision[keep].tolist()}
