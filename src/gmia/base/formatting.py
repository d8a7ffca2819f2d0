"""Numbers as people read them, shared by the terminal output and the HTML report."""

from __future__ import annotations

import math

SCALING_TEXT = {"n_over_nprime": "N'_n x N/N'", "nprime_over_n": "N'_n x N'/N (as printed)"}


def scaling_counts(counts: dict) -> str:
    """Records selected under each E[N_n] scaling, in words (never a raw dict)."""
    return ", ".join(f"{v} under {SCALING_TEXT.get(k, k)}" for k, v in counts.items()) or "none"


def num(v, digits: int = 4) -> str:
    """A number as printed, "-" where it is missing (None, or NaN in memory)."""
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def pct(v: float | None, digits: int = 2) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{100 * v:.{digits}f}%"


def ci(lo_hi) -> str:
    lo, hi = lo_hi
    return "-" if math.isnan(lo) else f"[{100 * lo:.1f}, {100 * hi:.1f}]"


def fmt_epsilon(epsilon: float | None) -> str:
    """An accountant's ε as printed: "inf" for none (None in a results file, which has no infinity)."""
    return "inf" if epsilon is None or math.isinf(epsilon) else f"{epsilon:.3g}"


def fmt_delta(delta: float | None) -> str:
    """δ as printed: its value, or "derived" where it is derived from the data per seed (`gmia.stats.select.derived_delta`)."""
    return "derived" if delta is None else f"{delta:g}"


def tpr_convention(cfg: dict) -> str:
    """What "TPR @ FPR ≤ f" means, with the number of non-member pairs it is counted over."""
    n = cfg.get("non_member_pairs")
    if not n:
        return "TPR @ FPR ≤ f: the largest TPR among thresholds whose FPR is at most f."
    return (f"TPR @ FPR ≤ f: the largest TPR among thresholds whose FPR is at most f (not below), over {n:,} non-member "
            f"pairs: at 0.1% that allows {int(n * 0.001)} false positives, at 1% {int(n * 0.01)}.")
