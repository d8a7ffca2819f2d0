"""Population-calibrated p-values (docs/algorithm.md, "Calibrated p-values").

The direct test's raw p-value p = F_r(L(M, r)) assumes the target's loss on a non-member is
drawn like the k reference models' losses. It is not when the target's training data differ
from the references' in difficulty: the target is then more (or less) confident on *every*
record, members or not, and the raw p-values of non-members are too small (or too large).

The adversary can measure that shift, because it holds records it knows are not in the
target's training set: its own population. A calibration set C is held out of the
population before the reference models are sampled, so no reference model trains on it
(`gmia.protocol.run.split_adversary`). Each target's raw p-values on C are a sample of its raw
p-values under H_out, and every raw p-value is mapped through their empirical distribution:

    p̂_t(r) = (1 + #{c ∈ C_y : p_t(c) ≤ p_t(r)}) / (1 + |C_y|)

with C_y the calibration records of r's class when every class has enough of them
(`per_class`), else all of C. This is a conformal p-value: if r is not in the target's
training set and is drawn from the same distribution as the records of C, then p_t(r) and the
p_t(c) are exchangeable (no model trained on any of them), so P(p̂_t(r) ≤ α) ≤ α for every α,
whatever the target's training data. Ties count against r, which only makes p̂ larger. The
guarantee is over the draw of C as well: for one fixed C the fraction fluctuates around α with
standard deviation about sqrt(α(1 − α) / |C_y|).

The guarantee is marginal over records drawn like C. A record chosen *because* it is unusual
(the selected, vulnerable records) is not such a draw; for those the calibration is measured,
not guaranteed (docs/reproduction.md shows the measurement). The smallest p̂ is 1 / (1 + |C_y|):
a cutoff below it can never be reached, so the set must hold more than 1 / cutoff records.
"""

from __future__ import annotations

import math

import numpy as np

from gmia.base.errors import GmiaError, option

MIN_CALIBRATION = 1000  # the held-out set's size when a quarter of the population is fewer
PVALUE_KINDS = ("calibrated", "raw")


def calibration_size(n_population: int) -> int:
    """The default |C|: a quarter of the adversary's records, at least ``MIN_CALIBRATION``, at
    most half (the reference models need the rest). Cancer's 499 records give 249, Adult's
    28,842 give 7,210, MNIST's 50,000 (the reduced CPU setup's) give 12,500."""
    return int(min(max(n_population // 4, MIN_CALIBRATION), n_population // 2))


def check_calibration_size(size: int, n_population: int) -> None:
    if not 0 <= size <= n_population - 2:
        raise GmiaError(f"calibration set of {size} records is out of range for an adversary of {n_population} records; "
                        f"expected 0 (raw p-values only) to {n_population - 2}")


def held_out_size(n_population: int, size: int | None = None) -> int:
    """|C|, the adversary's records held out for calibration: ``size``, checked, or the default
    (`calibration_size`). The one rule for the protocol's split and the commands' early checks."""
    size = calibration_size(n_population) if size is None else size
    check_calibration_size(size, n_population)
    return size


def per_class(null_classes: np.ndarray, n_classes: int, smallest_cutoff: float) -> bool:
    """Calibrate per class iff every class has enough calibration records that p̂ can go below
    the smallest cutoff: |C_y| >= 1 / cutoff for each class y."""
    counts = np.bincount(np.asarray(null_classes, dtype=np.int64), minlength=n_classes)
    return bool(counts.min() >= math.ceil(1.0 / smallest_cutoff))


def _conformal(raw: np.ndarray, null: np.ndarray) -> np.ndarray:
    """``raw [T, n]`` ranked among ``null [T, m]``, row by row: (1 + #{null ≤ raw}) / (1 + m)."""
    null = np.sort(null, axis=1)
    out = np.empty(raw.shape, dtype=np.float64)
    for t in range(raw.shape[0]):
        out[t] = np.searchsorted(null[t], raw[t], side="right")
    return (1.0 + out) / (1.0 + null.shape[1])


def calibrated_pvalues(raw: np.ndarray, null: np.ndarray, classes: np.ndarray, null_classes: np.ndarray,
                       by_class: bool) -> np.ndarray:
    """p̂ ``[T, n]`` from raw p-values ``[T, n]`` of records of ``classes [n]``, against the same
    targets' raw p-values ``null [T, m]`` on calibration records of ``null_classes [m]``."""
    raw = np.atleast_2d(np.asarray(raw, dtype=np.float64))
    null = np.atleast_2d(np.asarray(null, dtype=np.float64))
    if null.shape[1] == 0:
        raise GmiaError("no calibration record to calibrate against; expected a calibration set of at least one record")
    if not by_class:
        return _conformal(raw, null)
    classes, null_classes = np.asarray(classes), np.asarray(null_classes)
    out = np.empty(raw.shape, dtype=np.float64)
    for y in np.unique(classes):
        cols = classes == y
        out[:, cols] = _conformal(raw[:, cols], null[:, null_classes == y])
    return out


def null_fraction(p: np.ndarray, alphas) -> dict[str, float]:
    """P(p < α) over the given (non-member) p-values: at most α when calibrated."""
    p = np.asarray(p, dtype=np.float64).ravel()
    return {f"{a:g}": float((p < a).mean()) if p.size else float("nan") for a in alphas}


def resolution_note(n_null: int, smallest_cutoff: float) -> str | None:
    """A warning when the calibration set is too small for the cutoff to be reachable, else None."""
    if n_null and 1.0 / (1 + n_null) >= smallest_cutoff:
        return (f"with {n_null} calibration records no calibrated p-value is below {1.0 / (1 + n_null):.3g}, so none can be "
                f"below the cutoff {smallest_cutoff:g}; expected more than {math.ceil(1.0 / smallest_cutoff) - 1} "
                f"({option('calibration-size')}, or more adversary records), or raw p-values ({option('pvalues', 'raw')})")
    return None
