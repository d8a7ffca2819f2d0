"""p-values against references drawn like the target (docs/algorithm.md, "Exchangeable references").

H_out for the pair (target t, record r): r was not in t's training set. When the target and the
references are trained by the same rule on training sets drawn the same way from the same
records, and the references that did not train on r are the ones r is tested against (the
*out-references* of r), then under H_out the target's statistic on r and the out-references'
statistics on r are exchangeable. Two tests use that:

- `rank_pvalues`: the exact rank p-value p = (1 + #{out-references s with L_s(r) <= L_t(r)}) /
  (1 + n_out(r)), with L the loss (small = member-like). Under exchangeability P(p <= α) <= α
  for every α, every record and every split, whatever the distribution; its smallest value is
  1 / (1 + n_out(r)), so it needs n_out(r) >= 1/α - 1 out-references to reach α.
- `student_t_pvalues`: a parametric test with power at few out-references. The statistic is the
  logit-scaled confidence φ = log(p_y / (1 - p_y)) (large = member-like), which is close to
  Gaussian across models (Carlini et al., LiRA). With φ_1..φ_n the out-references' values, mean
  m and standard deviation s, a new draw φ_t from the same Gaussian satisfies
  (φ_t - m) / (s √(1 + 1/n)) ~ t_{n-1} (the predictive distribution), so p = P(T_{n-1} >= that).
  Exact when φ is Gaussian; the plug-in Gaussian p = P(Z >= (φ_t - m)/s) ignores the
  uncertainty of m and s and is anti-conservative at small n (`plugin_gaussian_pvalues`, kept
  for comparison only).

``out[s, r]`` (bool ``[K, n]``) marks reference s as usable for record r; with the protocol's
own targets as the references (`leave_one_out`), a target is never its own reference.

Model shifts (``shift=``, `model_shifts`). Exchangeability holds over the draw of the target; a
verdict list is read for *one* target, and a target that came out more (or less) confident than
its references on every record gets small (large) p-values on all of them: marginally valid,
conditionally not, so one target's false-discovery proportion can be far above q. Each model's
overall shift b_m is estimated on held-out records that no model trained on (φ_m(r) centred by
the median over the models, then the median over records), and the tests compare φ_m(r) - b_m.
The estimate applies one symmetric rule to every model, so exchangeability, and the rank test's
exactness, are kept; what it removes is the model effect of φ_m(r) = μ(r) + b_m + ε_m(r).
"""

from __future__ import annotations

import numpy as np
from scipy import special

from gmia.base.errors import GmiaError
from gmia.stats.pvalues import logit_confidence_of_loss


def _check(target: np.ndarray, reference: np.ndarray, out: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    target = np.atleast_2d(np.asarray(target, dtype=np.float64))
    reference = np.atleast_2d(np.asarray(reference, dtype=np.float64))
    out = np.atleast_2d(np.asarray(out, dtype=bool))
    if reference.shape != out.shape or target.shape[1] != reference.shape[1]:
        raise GmiaError(f"target {target.shape}, reference {reference.shape} and out-mask {out.shape} statistics do not "
                        "line up; expected [T, n], [K, n] and [K, n] over the same n records")
    return target, reference, out


def _per_target(target: np.ndarray, out: np.ndarray, exclude, row) -> np.ndarray:
    """``[T, n]``: ``row(t, usable)`` for each target t, ``usable [K, n]`` its out-references.

    ``exclude``: None, ``[T, K]`` (reference s unused for target t on every record), or a
    function of t giving ``[K]`` or ``[K, n]`` (unused for t on that record)."""
    p = np.empty(target.shape)
    for t in range(target.shape[0]):
        if exclude is None:
            usable = out
        else:
            dropped = np.asarray(exclude(t) if callable(exclude) else exclude[t], bool)
            usable = out & ~(dropped[:, None] if dropped.ndim == 1 else dropped)
        with np.errstate(invalid="ignore", divide="ignore"):
            p[t] = row(t, usable)
    return p


def model_shifts(heldout_loss: np.ndarray) -> np.ndarray:
    """b_m ``[M]``: each model's shift on the logit-scaled confidence, from its losses ``[M, h]``
    on h records none of the M models trained on (the median over records of φ_m(r) less the
    median over models of φ(r)). Pass the targets and their references together."""
    phi = logit_confidence_of_loss(np.atleast_2d(np.asarray(heldout_loss, dtype=np.float64)))
    if phi.shape[1] == 0:
        raise GmiaError("model shifts need held-out records that no model trained on but there are none; "
                        "expected a calibration size > 0")
    return np.median(phi - np.median(phi, axis=0, keepdims=True), axis=1)


def _shifted(target_loss, reference_loss, shift):
    """φ - b of the targets and the references (large = member-like), or None without shifts."""
    if shift is None:
        return None
    target_shift, reference_shift = (np.asarray(b, dtype=np.float64) for b in shift)
    if target_shift.shape != (target_loss.shape[0],) or reference_shift.shape != (reference_loss.shape[0],):
        raise GmiaError(f"{target_shift.size} target and {reference_shift.size} reference shifts for {target_loss.shape[0]} "
                        f"targets and {reference_loss.shape[0]} references; expected one shift per model")
    return (logit_confidence_of_loss(target_loss) - target_shift[:, None],
            logit_confidence_of_loss(reference_loss) - reference_shift[:, None])


def rank_pvalues(target_loss: np.ndarray, reference_loss: np.ndarray, out: np.ndarray,
                 exclude: np.ndarray | None = None, shift=None) -> np.ndarray:
    """Exact rank p-values ``[T, n]`` of the targets' losses among the out-references' losses.

    ``exclude[t, s]`` (bool ``[T, K]``, optional): reference s is not used for target t (the
    target itself, when the references are the other targets); or a function of t giving
    ``[K, n]``, per record (`_per_target`). ``shift``: (b of the targets
    ``[T]``, b of the references ``[K]``) from `model_shifts`; the ranks are then of φ - b."""
    target_loss, reference_loss, out = _check(target_loss, reference_loss, out)
    shifted = _shifted(target_loss, reference_loss, shift)

    def row(t, usable):
        if shifted is None:
            below = (reference_loss <= target_loss[t][None, :])
        else:
            below = (shifted[1] >= shifted[0][t][None, :])
        below = (below & usable).sum(axis=0)
        return (1.0 + below) / (1.0 + usable.sum(axis=0))

    return _per_target(target_loss, out, exclude, row)


def _moments(reference: np.ndarray, usable: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = usable.sum(axis=0).astype(np.float64)
    mean = np.where(usable, reference, 0.0).sum(axis=0) / n
    var = np.where(usable, (reference - mean) ** 2, 0.0).sum(axis=0) / (n - 1.0)
    return n, mean, np.maximum(np.sqrt(var), 1e-12)


def _gaussian_kind(target_loss, reference_loss, out, exclude, tail, shift=None) -> np.ndarray:
    """``tail(n, z)`` of the standardised φ_t - m on the logit-scaled confidence (less each
    model's shift, if given); NaN where a record has fewer than 3 out-references (no variance to
    speak of)."""
    target_loss, reference_loss, out = _check(target_loss, reference_loss, out)
    phi_t, phi_r = _shifted(target_loss, reference_loss, shift) or (logit_confidence_of_loss(target_loss),
                                                                    logit_confidence_of_loss(reference_loss))

    def row(t, usable):
        n, mean, sd = _moments(phi_r, usable)
        return np.where(n >= 3, tail(n, (phi_t[t] - mean) / sd), np.nan)

    return _per_target(target_loss, out, exclude, row)


def student_t_pvalues(target_loss: np.ndarray, reference_loss: np.ndarray, out: np.ndarray,
                      exclude: np.ndarray | None = None, shift=None) -> np.ndarray:
    """Student-t predictive p-values ``[T, n]`` on the logit-scaled confidence (see the module
    docstring); NaN where a record has fewer than 3 out-references."""
    return _gaussian_kind(target_loss, reference_loss, out, exclude,
                          lambda n, z: special.stdtr(n - 1.0, -z / np.sqrt(1.0 + 1.0 / n)), shift)  # P(T_{n-1} >= .)


def plugin_gaussian_pvalues(target_loss: np.ndarray, reference_loss: np.ndarray, out: np.ndarray,
                            exclude: np.ndarray | None = None, shift=None) -> np.ndarray:
    """The plug-in Gaussian p = P(Z >= (φ_t - m) / s): anti-conservative at few out-references.
    For the calibration tables only (docs/algorithm.md); `student_t_pvalues` is the test."""
    return _gaussian_kind(target_loss, reference_loss, out, exclude, lambda n, z: special.ndtr(-z), shift)


def leave_one_out(n_models: int) -> np.ndarray:
    """``exclude [T, T]`` for references that are the targets themselves: target t never ranks
    against itself."""
    return np.eye(n_models, dtype=bool)


TESTS = {"rank": rank_pvalues, "student-t": student_t_pvalues}
DEFAULT_TEST = "student-t"  # CHOICE, by the calibration and power measured in docs/algorithm.md
