"""Privacy accounting for DP-SGD: ε from (σ, q, steps, δ), or σ for a target ε (Opacus' accountants).

The mechanics (clipping, noise) live in `gmia.zoo.dp`; this module only says what
guarantee a setting gives, as Opacus keeps its accountants apart from its optimiser. The RDP
and PRV accountants both assume Poisson sampling with rate q = expected batch / n, which is how
the stacked trainer samples (``dp_sampling="poisson"``).

Neighbouring relations. Opacus' accountants bound *add/remove* ε (data sets that differ by one
record added or removed). The paper's protocol compares targets that both train on N records, a
*replace-one* pair, whose ε can be about twice as large. `epsilon_replace_one` converts by group
privacy: a replacement is a removal and an addition, so (ε, δ) add/remove gives
(2ε, (1 + e^ε)·δ) replace-one (Dwork and Roth 2014, Theorem 2.2 with k = 2); the add/remove ε is
taken at δ' = δ / (1 + e^ε), so the replace-one figure holds at the run's own δ. It holds for
every mechanism; the exact replace-one ε of DP-SGD lies at or below it.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

from gmia.base.choices import Accountant, values
from gmia.base.errors import GmiaError, check_choice
from gmia.base.extras import require

ACCOUNTANTS = values(Accountant)
DP_FEATURE = "DP-SGD privacy accounting (epsilon and the noise multiplier)"  # what a missing opacus is reported for
MEANINGLESS_EPSILON = 10.0  # e^10 ≈ 22,000: a likelihood ratio that bound no longer limits
# Opacus' default orders stop at 63; small σ·q needs larger ones for a tight bound.
RDP_ORDERS = [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64)) + [80, 128, 256, 512, 1024]


@dataclass(frozen=True)
class DpGuarantee:
    """(ε, δ)-DP of one model's training: σ noise multiplier, C clipping norm, q sampling rate."""

    epsilon: float
    delta: float
    noise: float
    clip: float
    sample_rate: float
    steps: int
    accountant: str
    # The same training's ε for replace-one neighbours at the same δ (`epsilon_replace_one`):
    # what a bound from the protocol's targets is compared with. None: not computed.
    epsilon_replace_one: float | None = None

    def describe(self) -> str:
        eps = "inf" if math.isinf(self.epsilon) else f"{self.epsilon:.3g}"
        return (f"({eps}, {self.delta:g})-DP (add/remove): noise multiplier {self.noise:.3g}, clipping norm {self.clip:g}, "
                f"sampling rate {self.sample_rate:.3g}, {self.steps} steps ({self.accountant.upper()} accountant)")


def check_clip(clip: float) -> None:
    """DP-SGD's clipping norm C must be finite and positive."""
    if not clip > 0 or math.isinf(clip):
        raise GmiaError(f"clipping norm {clip:g} is invalid; expected a finite norm > 0")


def check_dp(epsilon: float | None, delta: float, clip: float, n_train: int, accountant: str = "rdp") -> None:
    """The bad-input checks of a DP setting, each one sentence."""
    check_choice("privacy accountant", accountant, ACCOUNTANTS)
    if epsilon is not None and not epsilon > 0:
        raise GmiaError(f"privacy budget epsilon={epsilon:g} is not positive; expected epsilon > 0 (inf for no DP)")
    check_clip(clip)
    if not 0 < delta < 1.0 / n_train:
        raise GmiaError(f"delta={delta:g} is out of range for a training set of {n_train} records; expected 0 < delta < 1/N = {1.0 / n_train:.3g}")


def epsilon_for(noise: float, sample_rate: float, steps: int, delta: float, accountant: str = "rdp") -> float:
    """ε spent by ``steps`` steps at noise multiplier σ and sampling rate q."""
    if noise <= 0:
        return math.inf
    accountants = require("opacus.accountants", "dp", DP_FEATURE)
    acc = accountants.RDPAccountant() if accountant == "rdp" else accountants.PRVAccountant()
    acc.history = [(noise, sample_rate, steps)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(acc.get_epsilon(delta, alphas=RDP_ORDERS) if accountant == "rdp" else acc.get_epsilon(delta))


def epsilon_replace_one(noise: float, sample_rate: float, steps: int, delta: float, accountant: str = "rdp") -> float:
    """Replace-one ε at ``delta`` by group privacy (module docstring): 2ε, ε the add/remove ε at
    δ / (1 + e^ε), found by fixed-point iteration (ε grows as δ' shrinks, so it converges upward)."""
    eps = epsilon_for(noise, sample_rate, steps, delta, accountant)
    for _ in range(50):
        if math.isinf(eps) or eps > 700:
            return math.inf
        nxt = epsilon_for(noise, sample_rate, steps, delta / (1.0 + math.exp(eps)), accountant)
        if abs(nxt - eps) <= 1e-6 * max(1.0, eps):
            return 2.0 * nxt
        eps = nxt
    return 2.0 * eps


def noise_for(epsilon: float, sample_rate: float, steps: int, delta: float, accountant: str = "rdp") -> float:
    """The smallest σ (to Opacus' tolerance 0.01 in ε) that keeps training within (ε, δ)."""
    get_noise_multiplier = require("opacus.accountants.utils", "dp", DP_FEATURE).get_noise_multiplier
    kwargs = {"alphas": RDP_ORDERS} if accountant == "rdp" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return float(get_noise_multiplier(target_epsilon=epsilon, target_delta=delta, sample_rate=sample_rate,
                                              steps=steps, accountant=accountant, **kwargs))
        except ValueError as exc:
            raise GmiaError(f"no noise multiplier reaches epsilon={epsilon:g} at delta={delta:g} ({exc}); expected a larger epsilon or delta") from None


def guarantee(epsilon: float | None, noise: float | None, delta: float, clip: float, n_train: int,
              batch_size: int, steps: int, accountant: str = "rdp") -> DpGuarantee:
    """Complete a DP setting from either a target ε or a noise multiplier σ."""
    check_dp(epsilon, delta, clip, n_train, accountant)
    q = batch_size / n_train
    if not 0 < q <= 1:
        raise GmiaError(f"batch size {batch_size} gives sampling rate {q:g} for {n_train} records; expected a batch of at most N records")
    if noise is None:
        noise = 0.0 if math.isinf(epsilon) else noise_for(epsilon, q, steps, delta, accountant)
    elif noise < 0:
        raise GmiaError(f"noise multiplier {noise:g} is negative; expected sigma >= 0")
    eps = epsilon_for(noise, q, steps, delta, accountant)
    return DpGuarantee(epsilon=eps, delta=delta, noise=noise, clip=clip, sample_rate=q, steps=steps, accountant=accountant,
                       epsilon_replace_one=epsilon_replace_one(noise, q, steps, delta, accountant))


def meaningless(epsilon: float) -> str | None:
    """A warning when ε is so large the guarantee constrains nothing, else None."""
    if epsilon > MEANINGLESS_EPSILON:
        ratio = "inf" if math.isinf(epsilon) else f"{math.exp(min(epsilon, 700)):.3g}"
        return (f"epsilon={epsilon:.3g} allows one record to change the odds of any outcome by a factor of up to "
                f"e^epsilon = {ratio}: as a privacy guarantee it means nothing, whatever the attack results show")
    return None
