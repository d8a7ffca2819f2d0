"""ε lower bounds from one training run with canaries (Steinke, Nasr and Jagielski 2023;
Mahloujifar, Melis and Chaudhuri 2024).

m canaries are each put in the training set independently with probability 1/2; the model is
trained once. The auditor ranks the canaries by score, guesses IN for the k₊ highest and OUT for
the k₋ lowest, and abstains on the rest: r = k₊ + k₋ guesses, v of them correct.

Steinke et al. (Theorem 5.2): if training is (ε, δ)-DP, then with q = e^ε / (1 + e^ε) and
f(v) = P(Binomial(r, q) ≥ v),

    P(V ≥ v) ≤ f(v) + 2·m·δ · max_{1 ≤ i ≤ v} (f(v − i) − f(v)) / i.

The right side grows with ε; the bound is the ε where it equals α: every smaller ε would have
made the observed v an event of probability below α. Independence between canaries is not
needed: it comes from the inclusion coins, which is why one run suffices.

Mahloujifar et al. audit an f-DP claim instead. For an (ε, δ) claim they take the trade-off
curve of the Gaussian mechanism that is exactly (ε, δ)-DP (noise σ(ε, δ) for sensitivity 1) and
ask whether any mechanism with that curve could have produced v correct of r guesses; their
recursion (Algorithm "audit with cap") bounds the expected number of correct guesses. It is
tighter than Steinke et al.'s bound, and it assumes the trainer's curve is Gaussian (DP-SGD's
nearly is): a lower bound on the ε of the Gaussian curve, not on every (ε, δ) reading. Off a
Gaussian curve it is no bound at all (on randomised response at ε = 2 it exceeded the true ε in
98% of 60 runs), so it is an *estimate* (``estimates``), never flagged; Steinke et al.'s figure
is the proven one (``lower_bounds``).

The canaries' coins add or remove each canary beside a fixed training set: the bounds are about
*add/remove* ε, the relation of Opacus' accountants.

(k₊, k₋) is chosen honestly: every pair of a grid fixed before the scores are seen is tried at
level α/G (Bonferroni, G pairs) and the largest bound is reported. The default grid guesses
r = 1%, 2%, 5%, 10%, 20% and 50% of m, each once all IN and once half IN, half OUT.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from statistics import NormalDist

import numpy as np
from scipy import optimize, stats

from gmia.base.errors import GmiaError
from gmia.privacy.bounds import ADD_REMOVE, check_bound_options, gdp_delta

GUESS_FRACTIONS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5)
_NORMAL = NormalDist()
_MAX_EPSILON = 50.0


@dataclass(frozen=True)
class OneRunBound:
    """ε lower bounds from m canaries, each included in training with probability 1/2
    independently: the auditor guesses IN for the ``k_plus`` highest scores and OUT for the
    ``k_minus`` lowest, abstains on the rest; ``correct`` of the ``guesses`` are right.
    ``epsilon``: Steinke et al.'s bound, proven for every mechanism (``lower_bounds["steinke"]``);
    ``epsilon_fdp``: Mahloujifar et al.'s f-DP audit, which holds only if the trade-off curve is
    Gaussian (``estimates["fdp_gaussian"]``). Both at ``confidence``, Bonferroni-corrected over
    ``grid`` (the (k_plus, k_minus) pairs tried); each is the largest over the grid, and the guess
    counts shown are those of ``epsilon``. ``epsilon_fdp`` is None at δ = 0: no Gaussian curve is
    (ε, 0)-DP, so there is no curve to audit. ``relation``: add/remove (module docstring)."""

    epsilon: float
    epsilon_fdp: float | None
    m: int
    guesses: int
    correct: int
    k_plus: int
    k_minus: int
    delta: float
    confidence: float
    grid: tuple[tuple[int, int], ...]
    relation: str = ADD_REMOVE

    @property
    def lower_bounds(self) -> dict[str, float]:
        return {"steinke": self.epsilon}

    @property
    def estimates(self) -> dict[str, float | None]:
        return {"fdp_gaussian": self.epsilon_fdp}

    def to_dict(self) -> dict:
        return {**asdict(self), "lower_bounds": self.lower_bounds, "estimates": self.estimates}


def exceeds_accountant(bound: dict, accountant_epsilon: float | None) -> bool:
    """Whether a `OneRunBound.to_dict`'s proven (Steinke) add/remove bound is above the accountant's
    add/remove ε: the only excess that says the training is not as private as accounted (the
    f-DP figure is an estimate and never counts)."""
    return accountant_epsilon is not None and bound["epsilon"] > accountant_epsilon


def default_grid(m: int) -> tuple[tuple[int, int], ...]:
    """(k₊, k₋) pairs: r = a fraction of m, all IN, or split evenly between IN and OUT."""
    pairs = []
    for f in GUESS_FRACTIONS:
        r = max(1, int(round(f * m)))
        pairs += [(r, 0), ((r + 1) // 2, r // 2)]
    return tuple(dict.fromkeys(p for p in pairs if p[0] + p[1] <= m))


def steinke_pvalue(m: int, guesses: int, correct: int, epsilon: float, delta: float) -> float:
    """P(V ≥ v) allowed by (ε, δ)-DP (Steinke et al., Theorem 5.2)."""
    if correct <= 0:
        return 1.0
    q = 1.0 / (1.0 + math.exp(-epsilon))
    tail = stats.binom.sf(correct - 1 - np.arange(correct + 1), guesses, q)  # f(v - i), i = 0..v
    f_v = float(tail[0])
    if delta == 0:
        return f_v
    i = np.arange(1, correct + 1)
    gap = float(np.max((tail[1:] - f_v) / i))
    return min(1.0, f_v + 2.0 * m * delta * gap)


def _largest_rejected(rejects) -> float:
    """The largest ε that ``rejects(ε)`` (true up to some ε*, false after); 0 if it rejects none."""
    if not rejects(0.0):
        return 0.0
    lo, hi = 0.0, 1.0
    while rejects(hi):
        lo, hi = hi, 2 * hi
        if hi > _MAX_EPSILON:
            return _MAX_EPSILON
    while hi - lo > 1e-7 * max(1.0, lo):  # the predicate is a step: bisection
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if rejects(mid) else (lo, mid)
    return lo


def steinke_epsilon(m: int, guesses: int, correct: int, alpha: float, delta: float) -> float:
    """The ε lower bound of one (r, v): the largest ε whose allowed P(V ≥ v) is at most α."""
    return _largest_rejected(lambda e: steinke_pvalue(m, guesses, correct, e, delta) <= alpha)


def gaussian_mu(epsilon: float, delta: float) -> float:
    """μ = 1/σ of the Gaussian mechanism (sensitivity 1) that is exactly (ε, δ)-DP: the μ solving
    δ = Φ(−ε/μ + μ/2) − e^ε Φ(−ε/μ − μ/2), whose right side grows with μ (δ > 0)."""
    if not delta > 0:
        raise GmiaError(f"delta={delta:g} has no Gaussian mechanism; expected delta > 0 for the f-DP audit")
    lo, hi = 1e-3, 1.0
    while gdp_delta(epsilon, lo) > delta:
        lo /= 2
    while gdp_delta(epsilon, hi) < delta:
        lo, hi = hi, 2 * hi
    return float(optimize.brentq(lambda mu: gdp_delta(epsilon, mu) - delta, lo, hi, xtol=1e-12))


def fdp_rejects(m: int, guesses: int, correct: int, alpha: float, epsilon: float, delta: float) -> bool:
    """Whether v correct of r guesses rule out the Gaussian curve of (ε, δ) at level α
    (Mahloujifar et al., the recursion "audit with cap")."""
    mu = gaussian_mu(epsilon, delta)

    def below(x: float) -> float:  # Φ(Φ⁻¹(x) − μ): the curve's inverse blow-up
        return 0.0 if x <= 0.0 else 1.0 if x >= 1.0 else _NORMAL.cdf(_NORMAL.inv_cdf(x) - mu)

    right = alpha * correct / m
    wrong = alpha * (guesses - correct) / m
    for i in range(correct - 1, -1, -1):
        raised = max(wrong, below(right))
        if raised == wrong:
            break  # neither can change again
        right = min(right + (i / (guesses - i)) * (raised - wrong), 1.0)
        wrong = raised
    return right + wrong - guesses / m > 0


def fdp_epsilon(m: int, guesses: int, correct: int, alpha: float, delta: float) -> float:
    """The f-DP one-run bound of one (r, v), as an ε of the Gaussian curve."""
    return _largest_rejected(lambda e: fdp_rejects(m, guesses, correct, alpha, e, delta))


def guess(scores: np.ndarray, included: np.ndarray, k_plus: int, k_minus: int) -> int:
    """Correct guesses: IN for the k₊ highest scores, OUT for the k₋ lowest (stable order)."""
    order = np.argsort(-scores, kind="stable")
    right_in = int(included[order[:k_plus]].sum())
    right_out = int((~included[order[scores.size - k_minus:]]).sum()) if k_minus else 0
    return right_in + right_out


def one_run_bound(scores, included, *, delta: float = 1e-5, confidence: float = 0.95, grid=None) -> OneRunBound:
    """ε lower bounds of one training run from its canaries' scores.

    Parameters
    ----------
    scores : array-like [m]
        Any attack's score of each canary, higher = more likely included; it must not depend on
        which canaries were included except through the trained model.
    included : array-like [m] bool
        Whether each canary was in the training set (each with probability 1/2, independently).
    delta, confidence : float
        The claim's δ and the probability that the bounds hold.
    grid : sequence of (k_plus, k_minus), optional
        The guess counts tried (default `default_grid`); Bonferroni over them.
    """
    check_bound_options(delta, confidence)
    s = np.asarray(scores, dtype=np.float64).ravel()
    inc = np.asarray(included, dtype=bool).ravel()
    if s.size == 0 or s.size != inc.size:
        raise GmiaError(f"{s.size} canary scores and {inc.size} inclusion flags; expected one flag per score, at least one canary")
    if np.isnan(s).any():
        raise GmiaError(f"{int(np.isnan(s).sum())} canary score(s) are NaN; expected numbers (higher = included)")
    m = s.size
    grid = default_grid(m) if grid is None else tuple((int(a), int(b)) for a, b in grid)
    if not grid or any(a < 0 or b < 0 or a + b < 1 or a + b > m for a, b in grid):
        raise GmiaError(f"guess grid {grid} is invalid for {m} canaries; expected pairs (k_plus, k_minus) >= 0 with 1 <= sum <= {m}")
    alpha = (1.0 - confidence) / len(grid)
    tried, best_fdp = [], (0.0 if delta > 0 else None)
    for k_plus, k_minus in grid:
        r, v = k_plus + k_minus, guess(s, inc, k_plus, k_minus)
        # At most a coin's success rate rejects no ε >= 0: skip the search.
        eps = steinke_epsilon(m, r, v, alpha, delta) if v > r / 2 else 0.0
        if v > r / 2 and delta > 0:
            best_fdp = max(best_fdp, fdp_epsilon(m, r, v, alpha, delta))
        tried.append((eps, v / r, r, v, k_plus, k_minus))
    # The pair behind the bound; where every bound is 0, the one with the best hit rate (the
    # most guesses among equals), so the guesses shown say how close the audit came.
    eps, _, r, v, k_plus, k_minus = max(tried)
    return OneRunBound(epsilon=eps, epsilon_fdp=best_fdp, m=m, guesses=r, correct=v, k_plus=k_plus, k_minus=k_minus,
                       delta=delta, confidence=confidence, grid=grid)
