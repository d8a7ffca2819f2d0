"""ε lower bounds from the protocol's (target, record) pairs, with the training run as the unit.

The pairs of the paper's protocol are not independent trials: every pair of one target shares
its training run, and the two targets of a *repeat* train on complementary halves of the pool
(`gmia.protocol.run.target_index_sets`: targets 2j and 2j + 1 form repeat j). Counting pairs as
Bernoulli trials understates the variance of TPR and FPR; in simulation with realistic per-run
variation a stated 95% Clopper-Pearson bound exceeded its estimand in 9-30% of runs
(benchmarks/privacy_validation.py). Two bounds that respect the dependence, both about the
*replace-one* relation (an in- and an out-target both train on N records):

``repeat_bounds`` (all pairs, or the pairs of chosen records). Conditional on the records, the
repeats are i.i.d.: each draws its own split and its own training seeds. So

- the threshold τ is chosen on a random half of the repeats and bounded on the other half;
- the design effect D (Kish) is estimated at τ from the bounding repeats: the ratio estimator's
  variance of TPR (and of FPR) across repeats, v = R/(R − 1) · Σ_j (TP_j − p̂·M_j)² / (Σ_j M_j)²,
  over the binomial variance p̂(1 − p̂)/Σ_j M_j; D = max(1, D_TPR, D_FPR), one D for both rates;
- Clopper-Pearson runs on the effective counts TP/D of M/D (and FP/D of N/D) (Korn and
  Graubard 1998, "Confidence intervals for proportions with small expected number of positive
  counts estimated from survey data"). A rate with no success (or all) gives no variance to
  estimate: the other rate's D serves, and where neither varies, each repeat counts as one
  trial. The estimand is the mean over these records of the
  per-record rates, and since each record's rates obey the DP inequality, so does their mean.

``record_bounds`` (one record at a time, exact). A record's member scores across repeats are
i.i.d., and so are its non-member scores: with a call rule fixed in advance ("member iff
p < c" for c in a grid chosen before any score is seen) its TP and FP counts are exactly
binomial. Each (record, c) is bounded by Clopper-Pearson at level α/G, G = records × cutoffs
(Bonferroni), and the largest is reported: ε is a maximum over records, so any one record's
bound is a bound on it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from gmia.base.errors import GmiaError
from gmia.privacy.bounds import (REPLACE_ONE, EpsilonBounds, _Counts, check_bound_options, cp_epsilon, fpr_upper,
                                 gdp_epsilon, gdp_mu, point_estimate, tpr_lower)

# The call rules of the per-record bound, fixed before any score is seen: "member iff p < c".
RECORD_CUTOFFS = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5)


def repeats_of(n_targets: int) -> np.ndarray:
    """The repeat of each protocol target: targets 2j and 2j + 1 share the split of repeat j."""
    return np.arange(n_targets) // 2


def _per_unit(scores: np.ndarray, member: np.ndarray, unit: np.ndarray, units: np.ndarray, thresholds: np.ndarray):
    """(TP, M, FP, N): ``[U, G]`` calls "score ≥ τ" and ``[U]`` pair counts per unit, for each threshold."""
    tp = np.empty((units.size, thresholds.size))
    fp = np.empty_like(tp)
    m_in, m_out = np.empty(units.size), np.empty(units.size)
    for i, u in enumerate(units):
        here = unit == u
        s_in, s_out = np.sort(scores[here & member]), np.sort(scores[here & ~member])
        tp[i] = s_in.size - np.searchsorted(s_in, thresholds, side="left")
        fp[i] = s_out.size - np.searchsorted(s_out, thresholds, side="left")
        m_in[i], m_out[i] = s_in.size, s_out.size
    return tp, m_in, fp, m_out


def _variance_ratio(successes: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Per threshold (columns of ``successes [U, G]``): the ratio estimator's variance across units
    over the binomial variance; NaN where the rate is 0 or 1, or there is one unit (nothing to
    estimate it from)."""
    total, n_units = sizes.sum(), sizes.size
    if n_units < 2:
        return np.full(successes.shape[1], np.nan)
    p = successes.sum(axis=0) / total
    resid = successes - p[None, :] * sizes[:, None]
    v = n_units / max(n_units - 1, 1) * (resid ** 2).sum(axis=0) / total ** 2
    with np.errstate(all="ignore"):
        ratio = v / (p * (1 - p) / total)
    return np.where((p > 0) & (p < 1), ratio, np.nan)


def design_effect(tp, m_in, fp, m_out) -> np.ndarray:
    """D per threshold: the larger of TPR's and FPR's variance ratios, at least 1 (module docstring).
    Where neither rate varies at all (no call or every call on both sides), nothing measures the
    dependence, and each unit counts as one trial: D = the pairs per unit."""
    both = np.fmax(_variance_ratio(tp, m_in), _variance_ratio(fp, m_out))
    per_unit = max(m_in.sum(), m_out.sum()) / max(m_in.size, 1)
    return np.maximum(1.0, np.nan_to_num(both, nan=per_unit))


def _effective_rates(tp, m_in, fp, m_out, d, alpha: float):
    """(TPR_lo, FPR_hi), each at α/2, from the effective counts TP/D of M/D and FP/D of N/D."""
    n_in, n_out = m_in.sum() / d, m_out.sum() / d
    return tpr_lower(tp.sum(axis=0) / d, n_in, alpha / 2), fpr_upper(fp.sum(axis=0) / d, n_out, alpha / 2)


def repeat_bounds(scores, membership, repeats, *, delta: float = 1e-5, confidence: float = 0.95, seed: int = 0,
                  relation: str = REPLACE_ONE) -> EpsilonBounds | None:
    """ε lower bounds from a ``[T, n]`` score matrix (higher = member) and its membership, with the
    repeats (``[T]`` unit of each target) as the independent units (module docstring). None when
    there are fewer than 2 repeats or fewer than 2 member or non-member pairs."""
    check_bound_options(delta, confidence, "split", relation)
    scores = np.asarray(scores, dtype=np.float64)
    member = np.asarray(membership, dtype=bool)
    repeats = np.asarray(repeats)
    if scores.shape != member.shape or repeats.shape != scores.shape[:1]:
        raise GmiaError(f"scores {scores.shape}, membership {member.shape} and repeats {repeats.shape} do not fit; "
                        "expected [T, n], [T, n] and [T]")
    if np.isnan(scores).any():
        raise GmiaError(f"{int(np.isnan(scores).sum())} score(s) are NaN; expected numbers (higher = member)")
    units = np.unique(repeats)
    if units.size < 2 or member.sum() < 2 or (~member).sum() < 2:
        return None
    unit = np.broadcast_to(repeats[:, None], scores.shape)
    flat_s, flat_m, flat_u = scores.ravel(), member.ravel(), unit.ravel()
    alpha = 1.0 - confidence
    perm = np.random.default_rng(seed).permutation(units)
    choose, bound = np.sort(perm[: units.size // 2]), np.sort(perm[units.size // 2:])
    first = np.isin(flat_u, choose)
    if not (flat_m[first].any() and (~flat_m[first]).any()):
        return None
    # τ chosen on the first half's repeats, with the dependence counted there too.
    cands = _Counts.every(flat_s[first & flat_m], flat_s[first & ~flat_m]).thinned().thresholds
    counts = _per_unit(flat_s, flat_m, flat_u, choose, cands)
    lo, hi = _effective_rates(*counts, design_effect(*counts), alpha)
    picked = np.array([cands[int(np.argmax(cp_epsilon(lo, hi, delta)))], cands[int(np.argmax(gdp_mu(lo, hi)))]])
    tp, m_in, fp, m_out = _per_unit(flat_s, flat_m, flat_u, bound, picked)
    if m_in.sum() == 0 or m_out.sum() == 0:
        return None
    d = design_effect(tp, m_in, fp, m_out)
    lo, hi = _effective_rates(tp, m_in, fp, m_out, d, alpha)
    eps, mu = cp_epsilon(lo, hi, delta), gdp_mu(lo, hi)
    cp = float(eps[0])
    every = _Counts.every(flat_s[flat_m], flat_s[~flat_m])
    return EpsilonBounds(
        delta=delta, confidence=confidence, threshold_rule="split", relation=relation,
        n_members=int(flat_m.sum()), n_nonmembers=int((~flat_m).sum()),
        lower_bounds={"clopper_pearson": cp},
        estimates={"gdp": gdp_epsilon(float(mu[1]), delta), "point": point_estimate(every, delta)},
        gdp_mu=float(mu[1]), threshold=float(picked[0]) if cp > 0 else None,
        tpr=float(tp[:, 0].sum() / m_in.sum()), fpr=float(fp[:, 0].sum() / m_out.sum()),
        units="repeats", n_units=int(units.size), design_effect=float(d[0]),
    )


@dataclass(frozen=True)
class RecordBounds:
    """The exact per-record bound: the largest over ``n_records`` records and ``cutoffs`` of the
    Clopper-Pearson ε of "member iff p < cutoff" on one record's member and non-member pairs,
    each at level (1 − confidence)/G, G = records × cutoffs. ``record`` is the column of the
    record behind it (None: no record gave a bound)."""

    epsilon: float
    record: int | None
    cutoff: float | None
    tp: int
    members: int
    fp: int
    nonmembers: int
    n_records: int
    cutoffs: tuple[float, ...]
    delta: float
    confidence: float
    relation: str = REPLACE_ONE

    @property
    def lower_bounds(self) -> dict[str, float]:
        return {"per_record": self.epsilon}

    def to_dict(self) -> dict:
        return asdict(self)


def record_bounds(pvalues, membership, *, cutoffs=RECORD_CUTOFFS, delta: float = 1e-5, confidence: float = 0.95,
                  relation: str = REPLACE_ONE) -> RecordBounds | None:
    """Per-record ε lower bounds from ``[T, n]`` p-values (member iff p < cutoff) and membership:
    each column is one record, its rows i.i.d. runs (module docstring). None without a record
    that has both member and non-member pairs."""
    check_bound_options(delta, confidence, "split", relation)
    p = np.asarray(pvalues, dtype=np.float64)
    member = np.asarray(membership, dtype=bool)
    if p.shape != member.shape:
        raise GmiaError(f"p-values of shape {p.shape} and membership of shape {member.shape} differ; expected one per pair")
    m_in, m_out = member.sum(axis=0), (~member).sum(axis=0)
    usable = np.flatnonzero((m_in > 0) & (m_out > 0))
    if usable.size == 0:
        return None
    cutoffs = tuple(float(c) for c in cutoffs)
    alpha = (1.0 - confidence) / (usable.size * len(cutoffs))
    best = (0.0, None, None, 0, 0, 0, 0)
    for c in cutoffs:
        calls = p[:, usable] < c
        tp, fp = (calls & member[:, usable]).sum(axis=0), (calls & ~member[:, usable]).sum(axis=0)
        eps = cp_epsilon(tpr_lower(tp, m_in[usable], alpha / 2), fpr_upper(fp, m_out[usable], alpha / 2), delta)
        j = int(np.argmax(eps))
        if eps[j] > best[0]:
            best = (float(eps[j]), int(usable[j]), c, int(tp[j]), int(m_in[usable[j]]), int(fp[j]), int(m_out[usable[j]]))
    eps, record, cutoff, tp, members, fp, nonmembers = best
    return RecordBounds(epsilon=eps, record=record, cutoff=cutoff, tp=tp, members=members, fp=fp, nonmembers=nonmembers,
                        n_records=int(usable.size), cutoffs=cutoffs, delta=delta, confidence=confidence, relation=relation)
