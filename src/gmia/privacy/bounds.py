"""ε lower bounds from member and non-member scores (Jagielski et al. 2020; Nasr et al. 2021, 2023).

A membership test "member iff score ≥ τ" has a true- and a false-positive rate. If the model's
training is (ε, δ)-DP, every such test obeys

    TPR ≤ e^ε · FPR + δ    and    TNR ≤ e^ε · FNR + δ

(the second is the first with the roles of member and non-member swapped). Clopper-Pearson
intervals turn the observed counts into a lower bound on TPR and an upper bound on FPR, each at
level α/2, so both hold together with probability ≥ 1 − α, and then

    ε ≥ max( ln((TPR_lo − δ) / FPR_hi), ln((1 − FPR_hi − δ) / (1 − TPR_lo)) ).

The threshold τ must not be chosen on the same counts it is bounded on. Two honest rules:

- ``split`` (the default): members and non-members are each split at random into halves; τ is
  chosen on the first half (the τ whose bound is largest there) and the bound is computed on the
  second half alone, at level α. Valid for any way of choosing τ on the first half.
- ``bonferroni``: every candidate threshold is bounded at level α/G, G the number of candidates,
  and the largest bound is reported. The candidates are the data's own ROC corners (all of them
  up to 256, else the best at a log-spaced grid of false-positive counts), the conventional
  reading of jax_privacy's auditor; ``split`` needs no such reading.

Gaussian DP (Dong, Roth and Su 2019): a μ-GDP mechanism's tests have FNR ≥ Φ(Φ⁻¹(1 − FPR) − μ),
so the same intervals give μ ≥ Φ⁻¹(1 − FPR_hi) − Φ⁻¹(FNR_hi) (the swapped test gives the same
expression), and μ-GDP implies (ε, δ)-DP exactly when δ ≥ Φ(−ε/μ + μ/2) − e^ε Φ(−ε/μ − μ/2);
the ε solving that equality is the GDP bound. It is tighter than Clopper-Pearson's when the
mechanism's privacy curve is Gaussian (DP-SGD's nearly is), and it assumes that shape.

``estimate`` is the point value ln((TPR − δ)/FPR), the best over thresholds with at least
``min_false_positives`` false positives: how large ε looks, not a bound.

Bounds apart from estimates: only Clopper-Pearson is proven for every mechanism, so it alone is
in ``lower_bounds``; the GDP figure assumes a Gaussian trade-off curve (off-Gaussian, e.g.
randomised response or Laplace noise, it exceeds the true ε in essentially every draw) and sits
in ``estimates`` beside the point estimate, printed as "ε if the trade-off curve is Gaussian".

Every bound names its neighbouring relation (``relation``): what a member and a non-member
world differ by. The protocol's in- and out-targets both train on N records (replace-one); one
run with canaries adds or removes each (add/remove). An accountant's ε is comparable only under
the same relation (`gmia.defenses.privacy.epsilon_replace_one`).

Here the trials are assumed independent; `gmia.privacy.clustered` bounds (target, record) pairs
of the protocol, which share training runs, with the run as the unit.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import optimize, special, stats

from gmia.base.errors import GmiaError
from gmia.privacy.relations import ADD_REMOVE, RELATIONS, REPLACE_ONE, THRESHOLD_RULES, check_bound_options  # noqa: F401

MAX_CANDIDATES = 256  # thresholds tried per bound; beyond that, a log grid of false-positive counts
MIN_FALSE_POSITIVES = 10  # the point estimate's floor: below it ln(TPR/FPR) is mostly noise
MAX_EPSILON = 100.0  # where the GDP conversion stops searching (e^100: nothing left to bound)

@dataclass(frozen=True)
class EpsilonBounds:
    """What the scores prove at (δ, confidence) about ε under ``relation``.

    ``lower_bounds`` maps each proven bound's name to its ε (≥ 0, holds with probability ≥
    ``confidence`` for every mechanism): ``clopper_pearson``. ``estimates`` maps the figures that
    are NOT bounds: ``gdp`` (ε if the trade-off curve is Gaussian, from ``gdp_mu``) and ``point``
    (ln((TPR − δ)/FPR) at the best threshold). ``units`` are what the counts treat as independent
    ("pairs", or "repeats" of the protocol, `gmia.privacy.clustered`), ``design_effect`` how much
    the dependence inflated the variance (1 for independent pairs)."""

    delta: float
    confidence: float
    threshold_rule: str  # "split" (chosen on one half, bounded on the other) or "bonferroni"
    relation: str  # the neighbouring relation: "replace-one" or "add/remove"
    n_members: int
    n_nonmembers: int
    lower_bounds: dict[str, float]
    estimates: dict[str, float]
    gdp_mu: float  # the μ the GDP estimate comes from
    threshold: float | None  # member iff score >= threshold, the CP bound's (None: no threshold gave a bound)
    tpr: float  # at that threshold, on the pairs that bounded it
    fpr: float
    units: str = "pairs"
    n_units: int = 0  # independent units behind the bound (pairs: n_members + n_nonmembers)
    design_effect: float = 1.0

    @property
    def clopper_pearson(self) -> float:
        return self.lower_bounds["clopper_pearson"]

    @property
    def gdp(self) -> float:
        return self.estimates["gdp"]

    @property
    def estimate(self) -> float:
        return self.estimates["point"]

    def to_dict(self) -> dict:
        return asdict(self)


def _scores(values, what: str) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64).ravel()
    if a.size == 0:
        raise GmiaError(f"no {what} scores were given; expected at least one")
    if np.isnan(a).any():
        raise GmiaError(f"{int(np.isnan(a).sum())} {what} score(s) are NaN; expected numbers (higher = member)")
    return a


def tpr_lower(tp, n: int, alpha: float) -> np.ndarray:
    """Clopper-Pearson lower bound on a rate from ``tp`` successes in ``n``, one-sided at α."""
    tp = np.asarray(tp, dtype=np.float64)
    with np.errstate(all="ignore"):
        lo = special.betaincinv(tp, n - tp + 1, alpha)
    return np.where(tp > 0, lo, 0.0)


def fpr_upper(fp, n: int, alpha: float) -> np.ndarray:
    """Clopper-Pearson upper bound on a rate from ``fp`` successes in ``n``, one-sided at α."""
    fp = np.asarray(fp, dtype=np.float64)
    with np.errstate(all="ignore"):
        hi = special.betaincinv(fp + 1, n - fp, 1.0 - alpha)
    return np.where(fp < n, hi, 1.0)


def cp_epsilon(tpr_lo, fpr_hi, delta: float) -> np.ndarray:
    """ε from bounds on the rates, both directions of the DP inequality, floored at 0."""
    tpr_lo, fpr_hi = np.asarray(tpr_lo, dtype=np.float64), np.asarray(fpr_hi, dtype=np.float64)
    with np.errstate(all="ignore"):
        forward = np.where(tpr_lo > delta, np.log(tpr_lo - delta) - np.log(fpr_hi), 0.0)
        backward = np.where(1 - fpr_hi > delta, np.log(1 - fpr_hi - delta) - np.log(1 - tpr_lo), 0.0)
    return np.maximum(0.0, np.nan_to_num(np.maximum(forward, backward), nan=0.0, posinf=np.inf))


def gdp_mu(tpr_lo, fpr_hi) -> np.ndarray:
    """μ ≥ Φ⁻¹(1 − FPR_hi) − Φ⁻¹(FNR_hi), floored at 0 (FNR_hi = 1 − TPR_lo)."""
    with np.errstate(all="ignore"):
        mu = stats.norm.isf(np.asarray(fpr_hi, dtype=np.float64)) - stats.norm.ppf(1.0 - np.asarray(tpr_lo, dtype=np.float64))
    return np.maximum(0.0, np.nan_to_num(mu, nan=0.0, posinf=np.inf))


def gdp_delta(epsilon: float, mu: float) -> float:
    """δ(ε) of a μ-GDP mechanism: Φ(−ε/μ + μ/2) − e^ε Φ(−ε/μ − μ/2) (Dong et al., Cor. 2.13)."""
    a = stats.norm.logcdf(-epsilon / mu + mu / 2)
    b = epsilon + stats.norm.logcdf(-epsilon / mu - mu / 2)
    return float(math.exp(a) * -math.expm1(b - a)) if b < a else 0.0


def gdp_epsilon(mu: float, delta: float) -> float:
    """The ε at which a μ-GDP mechanism is (ε, δ)-DP: 0 if δ already covers ε = 0."""
    if mu <= 0 or not math.isfinite(mu):
        return 0.0 if mu <= 0 else math.inf
    if delta <= 0:
        return math.inf
    if gdp_delta(0.0, mu) <= delta:
        return 0.0
    if gdp_delta(MAX_EPSILON, mu) > delta:
        return MAX_EPSILON
    return float(optimize.brentq(lambda e: gdp_delta(e, mu) - delta, 0.0, MAX_EPSILON, xtol=1e-9))


@dataclass(frozen=True)
class _Counts:
    """TP and FP of "member iff score ≥ τ" for each candidate τ (descending)."""

    thresholds: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    n_in: int
    n_out: int

    @classmethod
    def of(cls, member: np.ndarray, nonmember: np.ndarray, thresholds: np.ndarray) -> "_Counts":
        tp = member.size - np.searchsorted(np.sort(member), thresholds, side="left")
        fp = nonmember.size - np.searchsorted(np.sort(nonmember), thresholds, side="left")
        return cls(thresholds, tp, fp, member.size, nonmember.size)

    @classmethod
    def every(cls, member: np.ndarray, nonmember: np.ndarray) -> "_Counts":
        """Every distinct score as a threshold."""
        return cls.of(member, nonmember, np.unique(np.concatenate([member, nonmember]))[::-1])

    def thinned(self, limit: int = MAX_CANDIDATES) -> "_Counts":
        """These thresholds, or, past ``limit`` of them, for each false-positive count on a log grid
        the lowest threshold that keeps to it (the most true positives there)."""
        if self.thresholds.size <= limit:
            return self
        grid = np.unique(np.concatenate([[0], np.round(np.geomspace(1, max(1, self.n_out), limit - 1))])).astype(np.int64)
        # fp grows along the descending thresholds: the last position with fp <= f has the most TP.
        last = np.searchsorted(self.fp, grid, side="right") - 1
        keep = np.unique(last[last >= 0])
        return _Counts(self.thresholds[keep], self.tp[keep], self.fp[keep], self.n_in, self.n_out)

    def rates(self, alpha: float) -> tuple[np.ndarray, np.ndarray]:
        """(TPR_lo, FPR_hi), each one-sided at α/2."""
        return tpr_lower(self.tp, self.n_in, alpha / 2), fpr_upper(self.fp, self.n_out, alpha / 2)


def cp_at_threshold(member, nonmember, threshold: float, delta: float = 1e-5, confidence: float = 0.95) -> float:
    """The Clopper-Pearson ε bound of one threshold fixed in advance (no choice to correct for)."""
    counts = _Counts.of(_scores(member, "member"), _scores(nonmember, "non-member"), np.array([threshold]))
    return float(cp_epsilon(*counts.rates(1 - confidence), delta)[0])


def point_estimate(c: _Counts, delta: float, min_false_positives: int = MIN_FALSE_POSITIVES) -> float:
    """max over the thresholds of ``c`` of ln((TPR − δ)/FPR) (and the swapped test), where both
    error counts ≥ the floor."""
    tpr, fpr = c.tp / c.n_in, c.fp / c.n_out
    with np.errstate(all="ignore"):
        forward = np.where((c.fp >= min_false_positives) & (tpr > delta), np.log(tpr - delta) - np.log(fpr), 0.0)
        fn = c.n_in - c.tp
        backward = np.where((fn >= min_false_positives) & (1 - fpr > delta), np.log(1 - fpr - delta) - np.log(fn / c.n_in), 0.0)
    return float(max(0.0, np.nanmax(forward, initial=0.0), np.nanmax(backward, initial=0.0)))


def _halves(a: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    perm = rng.permutation(a.size)
    return a[perm[: a.size // 2]], a[perm[a.size // 2:]]


def epsilon_bounds(member_scores, nonmember_scores, *, delta: float = 1e-5, confidence: float = 0.95,
                   threshold: str = "split", seed: int = 0, relation: str = REPLACE_ONE) -> EpsilonBounds:
    """ε lower bounds from scores (higher = member) of records that were and were not trained on.

    Parameters
    ----------
    member_scores, nonmember_scores : array-like
        Any attack's scores; each is one independent trial (see the module docstring).
    delta : float
        The δ of the (ε, δ) claim being tested; use the accountant's δ to compare with its ε.
    confidence : float
        Probability that each bound holds (1 − α).
    threshold : {"split", "bonferroni"}
        How the threshold is chosen honestly (module docstring).
    seed : int
        The random halves of ``split``.
    relation : {"replace-one", "add/remove"}
        What a member and a non-member world differ by (module docstring); recorded with the bound.
    """
    check_bound_options(delta, confidence, threshold, relation)
    member, nonmember = _scores(member_scores, "member"), _scores(nonmember_scores, "non-member")
    alpha = 1.0 - confidence
    every = _Counts.every(member, nonmember)  # the point estimate's thresholds, and bonferroni's candidates
    if threshold == "bonferroni":
        counts = every.thinned()
        lo, hi = counts.rates(alpha / counts.thresholds.size)
        eps, mu = cp_epsilon(lo, hi, delta), gdp_mu(lo, hi)
        best, best_mu = int(np.argmax(eps)), float(mu.max())
        final = counts
    else:
        rng = np.random.default_rng(seed)
        (m1, m2), (n1, n2) = _halves(member, rng), _halves(nonmember, rng)
        if min(m1.size, m2.size, n1.size, n2.size) == 0:
            raise GmiaError(f"{member.size} member and {nonmember.size} non-member scores cannot be split in halves; "
                            "expected at least 2 of each (or threshold='bonferroni')")
        choose = _Counts.every(m1, n1).thinned()
        lo, hi = choose.rates(alpha)
        picked = [float(choose.thresholds[int(np.argmax(cp_epsilon(lo, hi, delta)))]),
                  float(choose.thresholds[int(np.argmax(gdp_mu(lo, hi)))])]
        final = _Counts.of(m2, n2, np.array(picked))
        lo, hi = final.rates(alpha)
        eps, mu = cp_epsilon(lo, hi, delta), gdp_mu(lo, hi)
        best, best_mu = 0, float(mu[1])
    cp = float(eps[best])
    return EpsilonBounds(
        delta=delta, confidence=confidence, threshold_rule=threshold, relation=relation, n_members=int(member.size),
        n_nonmembers=int(nonmember.size), lower_bounds={"clopper_pearson": cp},
        estimates={"gdp": gdp_epsilon(best_mu, delta), "point": point_estimate(every, delta)}, gdp_mu=best_mu,
        threshold=float(final.thresholds[best]) if cp > 0 else None,
        tpr=float(final.tp[best] / final.n_in), fpr=float(final.fp[best] / final.n_out),
        units="pairs", n_units=int(member.size + nonmember.size),
    )


def pair_bounds(scores: np.ndarray, membership: np.ndarray, **options) -> EpsilonBounds | None:
    """`epsilon_bounds` of a ``[T, n]`` score matrix against its ``[T, n]`` membership, every
    pair an independent trial; None when there are fewer than 2 members or non-members (nothing
    to split). Only for pairs that are independent: the protocol's pairs share training runs, and
    its bounds use `gmia.privacy.clustered.repeat_bounds` (this counting exceeded its estimand in
    up to 31% of simulated protocols, `gmia.privacy.validation`)."""
    scores = np.asarray(scores, dtype=np.float64)
    member = np.asarray(membership, dtype=bool)
    if scores.shape != member.shape:
        raise GmiaError(f"scores of shape {scores.shape} and membership of shape {member.shape} differ; expected one score per pair")
    if member.sum() < 2 or (~member).sum() < 2:
        return None
    return epsilon_bounds(scores[member], scores[~member], **options)
