"""Statistics for GMIA: p-values from reference losses, interval estimates, ROC summaries.

Direct inference (docs/algorithm.md, step 3) is a left-tailed test: under H_out the target's loss
L(M, r) is drawn like the losses L_1..L_k of the k reference models, none trained on r. The
p-value is p = F(L(M, r)), F the empirical CDF of L_1..L_k smoothed by shape-preserving
piecewise cubic (PCHIP) interpolation.

The smoothed CDF equals 1/k at the smallest reference loss, so every p below 1/k comes from the
tail rule used below it (docs/algorithm.md, Pitfalls). The rules, all non-decreasing in L and within
[0, F(L_(1))]:

- ``pchip``: the paper's extrapolation of the first cubic piece, made monotone by taking its
  running minimum over [L, L_(1)] (the largest non-decreasing function below the extrapolant).
- ``zero``: p = 1/(k + 1) below the smallest reference loss, the rank p-value of a loss below
  all k references (exact under exchangeability; never 0, which no null allows).
- ``gaussian`` (the default): a Gaussian fitted to the references' logit-scaled confidence
  φ = log(p_y / (1 − p_y)) (as LiRA does), its tail rescaled to meet F at L_(1). It is the
  only rule that is strictly increasing below L_(1), so the most extreme losses get the
  smallest p-values: ``pchip`` stays at F(L_(1)) = 1/k wherever the cubic turns upward
  (saturation) and, like ``zero``, gives many pairs exactly 0 (ties that no cutoff splits).
  docs/algorithm.md, "The tail rule", has the measurement behind the choice.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as sstats
from scipy.interpolate import PchipInterpolator

from gmia.base.choices import Tail, values
from gmia.base.errors import check_choice
from gmia.stats.pvalues import ecdf_pvalues_blocked
from gmia.stats.pvalues import logit_confidence_of_loss as _logit_confidence

TAIL_RULES = values(Tail)


def _pchip_tail(interp: PchipInterpolator, x0: float, y0: float, obs: np.ndarray) -> np.ndarray:
    """Running minimum of the first cubic piece over [obs, x0], clipped to [0, y0]."""
    c3, c2, c1, c0 = interp.c[:, 0]
    s_lo = obs - x0  # < 0
    cubic = lambda s: ((c3 * s + c2) * s + c1) * s + c0  # noqa: E731
    best = np.minimum(cubic(s_lo), c0)
    # Interior critical points of the cubic: roots of 3 c3 s² + 2 c2 s + c1.
    a, b, c = 3 * c3, 2 * c2, c1
    if abs(a) > 1e-300:
        disc = b * b - 4 * a * c
        if disc >= 0:
            for root in ((-b - np.sqrt(disc)) / (2 * a), (-b + np.sqrt(disc)) / (2 * a)):
                inside = (root > s_lo) & (root < 0)
                best = np.where(inside, np.minimum(best, cubic(root)), best)
    elif abs(b) > 1e-300:
        root = -c / b
        inside = (root > s_lo) & (root < 0)
        best = np.where(inside, np.minimum(best, cubic(root)), best)
    return np.clip(best, 0.0, y0)


def ecdf_pvalue(reference: np.ndarray, observed: np.ndarray, tail: str = "gaussian") -> np.ndarray:
    """p = F(L) for one record: ``reference`` its k reference losses, ``observed`` target losses."""
    # Losses closer than 1e-12 are ties: float32 logits carry no more, and nearer knots make
    # PCHIP's slopes overflow.
    ref = np.round(np.sort(np.asarray(reference, dtype=np.float64)), 12)
    obs = np.round(np.asarray(observed, dtype=np.float64), 12)
    k = ref.size
    xs, counts = np.unique(ref, return_counts=True)
    ys = np.cumsum(counts) / k
    out = np.ones_like(obs)
    x0, y0 = xs[0], ys[0]
    below = obs < x0
    if xs.size >= 2:
        interp = PchipInterpolator(xs, ys, extrapolate=True)
        mid = (~below) & (obs <= xs[-1])
        out[mid] = np.clip(interp(obs[mid]), 0.0, 1.0)
    else:
        interp = None
        out[obs == x0] = y0
    if below.any():
        if tail == "zero":
            out[below] = 1.0 / (k + 1)
        elif tail == "pchip":
            out[below] = _pchip_tail(interp, x0, y0, obs[below]) if interp is not None else 0.0
        elif tail == "gaussian":
            phi = _logit_confidence(ref)
            mu, sd = phi.mean(), max(phi.std(ddof=1) if k > 1 else 0.0, 1e-6)
            anchor = sstats.norm.logsf(_logit_confidence(x0), mu, sd)
            scaled = sstats.norm.logsf(_logit_confidence(obs[below]), mu, sd) - anchor
            out[below] = y0 * np.exp(np.minimum(scaled, 0.0))
        else:
            check_choice("tail rule", tail, TAIL_RULES)
    return out


def ecdf_pvalues(reference: np.ndarray, observed: np.ndarray, tail: str = "gaussian") -> np.ndarray:
    """p = F(L) for every record at once: ``reference [k, n]``, ``observed [T, n]`` → ``[T, n]``.

    Column j equals ``ecdf_pvalue(reference[:, j], observed[:, j], tail)`` bit for bit, at a
    small fraction of its cost (gmia.stats.pvalues computes blocks of records with array operations in
    scipy's order; tests/stats/test_pvalues_vectorised.py checks the bits).
    """
    check_choice("tail rule", tail, TAIL_RULES)
    return ecdf_pvalues_blocked(reference, observed, tail, per_record=ecdf_pvalue)


def clopper_pearson(successes: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    """Exact binomial interval; (nan, nan) when there are no trials."""
    if trials == 0:
        return (float("nan"), float("nan"))
    ci = sstats.binomtest(int(successes), int(trials)).proportion_ci(level, method="exact")
    return (float(ci.low), float(ci.high))


def kost_combine(pvalues: np.ndarray, rho: np.ndarray) -> float:
    """Combine dependent p-values with Kost's method (Brown's method with Kost & McDermott's
    covariance approximation), as GMIA's indirect inference does.

    X = −2 Σ ln p_i follows c·χ²_f approximately, with E = 2m, Var = 4m + 2 Σ_{i<j} cov_ij,
    cov_ij ≈ 3.263 ρ_ij + 0.710 ρ_ij² + 0.027 ρ_ij³, f = 2E²/Var, c = Var/(2E); the combined
    p-value is P(χ²_f > X / c). With ρ = 0 this is Fisher's method; with m perfect copies of
    one test (ρ = 1) it gives back that test's p-value.

    Parameters
    ----------
    pvalues : ``[m]`` p-values of the m tests.
    rho : ``[m, m]`` correlations between the tests (only the upper triangle is read).
    """
    p = np.clip(np.asarray(pvalues, dtype=np.float64), 1e-300, 1.0)
    m = p.size
    if m == 0:
        return float("nan")
    x = -2.0 * np.log(p).sum()
    r = np.asarray(rho, dtype=np.float64)[np.triu_indices(m, 1)]
    cov = 3.263 * r + 0.710 * r**2 + 0.027 * r**3
    e = 2.0 * m
    # Many strongly negative ρ can push the polynomial's estimate to zero or below (−2 ln p
    # terms are never perfectly anti-correlated); floor it at one test's variance.
    var = max(4.0 * m + 2.0 * cov.sum(), 4.0)
    f = 2.0 * e * e / var
    c = var / (2.0 * e)
    return float(sstats.chi2.sf(x / c, f))
