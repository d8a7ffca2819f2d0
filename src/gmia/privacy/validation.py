"""Every ε lower bound checked where the truth is known (benchmarks/privacy_validation.py, docs/privacy.md).

A number printed as "ε ≥" must hold with its stated confidence for every mechanism. Two checks:

``mechanism_draws``: known mechanisms of one bit b (member 1, non-member 0) at a true ε —

- randomised response: report b with probability e^ε/(1 + e^ε), else 1 − b
  (true ε at δ: ln((p − δ)/(1 − p)), p that probability);
- Laplace: b + Lap(1/ε) (true ε at δ: ε + 2 ln(1 − δ));
- Gaussian: b + N(0, σ²), σ the noise of the Gaussian mechanism that is exactly (ε, δ)-DP;

each draw gives member and non-member scores to `epsilon_bounds` (pairs) and canary scores with
independent coins to `one_run_bound` (one run), and counts how often each figure exceeds the
true ε. Lower bounds should do so in at most 1 − confidence of the draws (within Monte-Carlo
error); the Gaussian-curve estimates may not, off a Gaussian curve, which is why they are not
called bounds.

``protocol_draws``: the protocol's dependence. Each (target, record) pair is called member or
not, as GMIA's "p < cutoff" calls them, with a log-odds that carries the record's own level and
leak and effects shared by every pair of one run: one target calls more of everything (its
confidence), and fits its own members more or less (its memorisation). The records are fixed,
the runs drawn. The estimand is the ε the true call rates imply, mean over the records of each
record's rate over runs (the mean a member/non-member split of these pairs estimates); for a
per-record bound, the record's own. It compares pairs treated as independent trials
(`pair_bounds`) with the repeat as the unit (`repeat_bounds`) and the exact per-record bound
(`record_bounds`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gmia.privacy.bounds import ADD_REMOVE, cp_epsilon, epsilon_bounds, pair_bounds
from gmia.privacy.clustered import record_bounds, repeat_bounds, repeats_of
from gmia.privacy.one_run import gaussian_mu, one_run_bound

MECHANISMS = ("randomised-response", "laplace", "gaussian")


def true_epsilon(mechanism: str, epsilon: float, delta: float) -> float:
    """The smallest ε' at which ``mechanism`` of parameter ε is (ε', δ)-DP."""
    if mechanism == "randomised-response":
        p = 1.0 / (1.0 + math.exp(-epsilon))
        return max(0.0, math.log((p - delta) / (1.0 - p)))
    if mechanism == "laplace":
        return max(0.0, epsilon + 2.0 * math.log1p(-delta))
    if mechanism == "gaussian":
        return epsilon
    raise ValueError(f"unknown mechanism {mechanism!r}; expected one of {MECHANISMS}")


def release(mechanism: str, epsilon: float, delta: float, bits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The mechanism's output on each bit (higher = more likely 1)."""
    bits = np.asarray(bits, dtype=np.float64)
    if mechanism == "randomised-response":
        keep = rng.random(bits.shape) < 1.0 / (1.0 + math.exp(-epsilon))
        return np.where(keep, bits, 1.0 - bits)
    if mechanism == "laplace":
        return bits + rng.laplace(0.0, 1.0 / epsilon, bits.shape)
    if mechanism == "gaussian":
        return bits + rng.normal(0.0, 1.0 / gaussian_mu(epsilon, delta), bits.shape)
    raise ValueError(f"unknown mechanism {mechanism!r}; expected one of {MECHANISMS}")


@dataclass(frozen=True)
class Exceedance:
    """How often one figure exceeded its estimand over ``draws`` draws, and its median value."""

    figure: str
    kind: str  # "lower bound" or "estimate"
    draws: int
    above: int
    median: float

    @property
    def rate(self) -> float:
        return self.above / self.draws

    def limit(self, alpha: float) -> float:
        """α plus three Monte-Carlo standard errors: what a valid bound stays under."""
        return alpha + 3.0 * math.sqrt(alpha * (1.0 - alpha) / self.draws)


def _tally(values: dict[str, list[float]], truths: dict[str, list[float]], kinds: dict[str, str]) -> list[Exceedance]:
    out = []
    for name, v in values.items():
        v, t = np.asarray(v, dtype=np.float64), np.asarray(truths[name], dtype=np.float64)
        out.append(Exceedance(name, kinds[name], v.size, int((v > t + 1e-9).sum()), float(np.median(v))))
    return out


def mechanism_draws(mechanism: str, epsilon: float, draws: int, *, n: int = 2000, canaries: int = 1000,
                    delta: float = 1e-5, confidence: float = 0.95, one_run: bool = True, seed: int = 0) -> list[Exceedance]:
    """Each figure's exceedance of the true ε over ``draws`` draws of ``mechanism`` at ``epsilon``:
    ``n`` member and ``n`` non-member scores for the pair bounds, ``canaries`` coins for one run."""
    truth = true_epsilon(mechanism, epsilon, delta)
    rng = np.random.default_rng(seed)
    values: dict[str, list[float]] = {"clopper_pearson": [], "gdp": []}
    kinds = {"clopper_pearson": "lower bound", "gdp": "estimate", "steinke": "lower bound", "fdp_gaussian": "estimate"}
    if one_run:
        values.update(steinke=[], fdp_gaussian=[])
    for d in range(draws):
        member = release(mechanism, epsilon, delta, np.ones(n), rng)
        nonmember = release(mechanism, epsilon, delta, np.zeros(n), rng)
        b = epsilon_bounds(member, nonmember, delta=delta, confidence=confidence, seed=d, relation=ADD_REMOVE)
        values["clopper_pearson"].append(b.clopper_pearson)
        values["gdp"].append(b.gdp)
        if one_run:
            included = rng.random(canaries) < 0.5
            r = one_run_bound(release(mechanism, epsilon, delta, included, rng), included, delta=delta, confidence=confidence)
            values["steinke"].append(r.epsilon)
            values["fdp_gaussian"].append(r.epsilon_fdp)
    return _tally(values, {k: [truth] * draws for k in values}, kinds)


@dataclass(frozen=True)
class ProtocolSetting:
    """The simulated protocol: ``repeats`` complementary target pairs over ``records`` pool records.
    A non-member pair is called with log-odds logit(``call_rate``) + level + confidence, a member
    pair with that plus leak + memorisation; the records' level ~ N(0, ``level_sd``) and leak ~
    N(``leak``, ``leak_sd``) are fixed, each target's confidence ~ N(0, ``run_sd``) and
    memorisation ~ N(0, ``member_sd``) drawn with the run."""

    records: int = 200
    repeats: int = 50
    call_rate: float = 0.05
    leak: float = 1.0
    leak_sd: float = 0.5
    level_sd: float = 0.5
    run_sd: float = 0.5
    member_sd: float = 0.5


_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(40)  # E f(Z), Z ~ N(0, 1): Σ w f(node) / √(2π)
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()


def _mean_rate(logit: np.ndarray, sd: float) -> np.ndarray:
    """E σ(logit + sd·Z) for each entry (Gauss-Hermite)."""
    return (_WEIGHTS[None, :] / (1.0 + np.exp(-(logit[:, None] + sd * _NODES[None, :])))).sum(axis=1)


def protocol_calls(setting: ProtocolSetting, base: np.ndarray, leak: np.ndarray,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(calls ``[T, n]`` as 0/1 scores, membership ``[T, n]``) of one simulated protocol run."""
    n, t = setting.records, 2 * setting.repeats
    member = np.zeros((t, n), dtype=bool)
    for j in range(setting.repeats):
        member[2 * j, rng.permutation(n)[: n // 2]] = True
        member[2 * j + 1] = ~member[2 * j]
    confidence = rng.normal(0, setting.run_sd, (t, 1))
    memorise = rng.normal(0, setting.member_sd, (t, 1))
    logit = base[None, :] + confidence + member * (leak[None, :] + memorise)
    return (rng.random((t, n)) < 1.0 / (1.0 + np.exp(-logit))).astype(np.float64), member


def protocol_draws(setting: ProtocolSetting, draws: int, *, delta: float = 1e-5, confidence: float = 0.95,
                   seed: int = 0) -> list[Exceedance]:
    """Exceedance of each protocol bound over ``draws`` simulated runs of ``setting`` (module docstring)."""
    rng = np.random.default_rng(seed)
    base = math.log(setting.call_rate / (1 - setting.call_rate)) + rng.normal(0, setting.level_sd, setting.records)
    leak = rng.normal(setting.leak, setting.leak_sd, setting.records)
    # Each record's call rates over runs: the non-members' with the confidence's spread, the
    # members' with the memorisation's too.
    fpr = _mean_rate(base, setting.run_sd)
    tpr = _mean_rate(base + leak, math.hypot(setting.run_sd, setting.member_sd))
    # The bounds' own formula, on the true rates: the ε they imply.
    pooled = float(cp_epsilon(tpr.mean(), fpr.mean(), delta))
    own = cp_epsilon(tpr, fpr, delta)
    repeats = repeats_of(2 * setting.repeats)
    names = ("pairs as trials (CP)", "repeats as units (CP)", "per record (CP, exact)")
    values: dict[str, list[float]] = {k: [] for k in names}
    truths: dict[str, list[float]] = {k: [] for k in names}
    for d in range(draws):
        calls, member = protocol_calls(setting, base, leak, rng)
        for name, b in ((names[0], pair_bounds(calls, member, delta=delta, confidence=confidence, seed=d)),
                        (names[1], repeat_bounds(calls, member, repeats, delta=delta, confidence=confidence, seed=d))):
            values[name].append(b.clopper_pearson)
            truths[name].append(pooled)
        # "p" = 1 − call: every cutoff of the grid is the call itself.
        r = record_bounds(1.0 - calls, member, delta=delta, confidence=confidence)
        values[names[2]].append(r.epsilon)
        truths[names[2]].append(0.0 if r.record is None else float(own[r.record]))
    return _tally(values, truths, dict.fromkeys(names, "lower bound"))
