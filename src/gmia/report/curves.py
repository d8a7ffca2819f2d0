"""ROC and precision-recall curves, thinned to a few hundred points for figures."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import precision_recall_curve

from gmia.roc import SortedPairs


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
