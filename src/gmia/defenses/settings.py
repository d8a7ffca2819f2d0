"""Defence settings: what `gmia defend --sweep NAME=V1,V2,...` varies, parsed and applied.

A setting changes the training spec (L2, dropout, steps, DP-SGD) applied alike to targets and
reference models (the adversary mirrors the training algorithm), the target's output at query
time (top-k, rounding, label only; the adversary mirrors the API's format too), or the targets'
training sets (drop the records the selection stage flags).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

from gmia.defenses.privacy import DpGuarantee, guarantee, meaningless
from gmia.base.errors import GmiaError, option
from gmia.targets.policy import OutputPolicy
from gmia.zoo import TrainSpec


def _number(kind):
    def parse(text: str):
        t = text.strip().lower()
        if kind is bool:
            if t in ("true", "yes", "1", "on"):
                return True
            if t in ("false", "no", "0", "off"):
                return False
            raise ValueError("expected true or false")
        if t == "none":
            return None
        if t in ("inf", "infinity"):
            return math.inf
        return kind(float(t)) if kind is int and float(t).is_integer() else kind(t)
    return parse


# name → (parser, check, what is expected)
DEFENCES: dict[str, tuple] = {
    "l2": (_number(float), lambda v: v is not None and 0 <= v < math.inf, "an L2 penalty >= 0"),
    "dropout": (_number(float), lambda v: v is not None and 0 <= v < 1, "a drop probability in [0, 1)"),
    "steps": (_number(int), lambda v: isinstance(v, int) and v >= 1, "a number of training steps >= 1"),
    "dp-epsilon": (_number(float), lambda v: v is not None and v > 0, "a privacy budget epsilon > 0, or inf for no DP"),
    "dp-noise": (_number(float), lambda v: v is not None and 0 <= v < math.inf, "a noise multiplier sigma >= 0"),
    "dp-clip": (_number(float), lambda v: v is not None and 0 < v < math.inf, "a clipping norm > 0"),
    "dp-delta": (_number(float), lambda v: v is not None and 0 < v < 1, "a delta in (0, 1)"),
    "top-k": (_number(int), lambda v: v is None or (isinstance(v, int) and v >= 1), "a number of classes >= 1, or none"),
    "round": (_number(int), lambda v: v is None or (isinstance(v, int) and 0 <= v <= 15), "decimals from 0 to 15, or none"),
    "label-only": (_number(bool), lambda v: isinstance(v, bool), "true or false"),
    "drop-vulnerable": (_number(bool), lambda v: isinstance(v, bool), "true or false"),
}


def parse_sweep(text: str) -> tuple[str, list]:
    """``"l2=0,1e-3,1e-2"`` → ("l2", [0.0, 0.001, 0.01]); one sentence on anything else."""
    name, sep, values = text.partition("=")
    name = name.strip().lower()
    if not sep or not values.strip():
        raise GmiaError(f"sweep {text!r} has no values; expected NAME=V1,V2,... such as l2=0,1e-3,1e-2")
    if name not in DEFENCES:
        raise GmiaError(f"unknown defence {name!r}; expected one of: {', '.join(DEFENCES)}")
    parse, ok, expected = DEFENCES[name]
    out = []
    for raw in values.split(","):
        try:
            v = parse(raw)
        except (ValueError, OverflowError):  # not a number (or word) of this kind at all
            raise GmiaError(f"defence {name}={raw.strip()!r} is invalid; expected {expected}") from None
        if not ok(v):
            if name == "dp-epsilon" and isinstance(v, float) and v <= 0:
                raise GmiaError(f"privacy budget epsilon={raw.strip()} is not positive; expected epsilon > 0 (inf for no DP)")
            raise GmiaError(f"defence {name}={raw.strip()!r} is invalid; expected {expected}")
        out.append(v)
    return name, out


def grid(sweeps: list[str]) -> list[dict]:
    """Every combination of the sweeps' values (one empty setting when there is no sweep)."""
    parsed = [parse_sweep(s) for s in sweeps]
    names = [n for n, _ in parsed]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise GmiaError(f"defence {dup[0]!r} is swept more than once; expected each name in one {option('sweep')}")
    if "dp-epsilon" in names and "dp-noise" in names:
        raise GmiaError("dp-epsilon and dp-noise are both swept; expected one of them (each fixes the other)")
    orphans = [n for n in ("dp-clip", "dp-delta") if n in names]
    if orphans and "dp-epsilon" not in names and "dp-noise" not in names:
        raise GmiaError(f"{orphans[0]} is swept but no setting trains with DP; expected a dp-epsilon or dp-noise sweep too")
    return [dict(zip(names, combo)) for combo in itertools.product(*(v for _, v in parsed))]


def label(setting: dict) -> str:
    if not setting:
        return "no defence"
    def show(v) -> str:
        if v is None:
            return "none"
        if isinstance(v, bool):
            return str(v).lower()
        if isinstance(v, float):
            return "inf" if math.isinf(v) else f"{v:g}"
        return str(v)

    return ", ".join(f"{k}={show(v)}" for k, v in setting.items())


@dataclass(frozen=True)
class Applied:
    """A setting made concrete for one protocol run."""

    setting: dict
    spec: TrainSpec
    policy: OutputPolicy
    drop_vulnerable: bool
    dp: DpGuarantee | None
    warnings: tuple[str, ...] = field(default=())
    n_train: int | None = None  # N the DP accountant was given: q = batch / N

    @property
    def label(self) -> str:
        return label(self.setting)


def apply(setting: dict, base: TrainSpec, n_train: int, clip: float = 1.0, delta: float = 1e-5,
          accountant: str = "rdp") -> Applied:
    """The spec, output policy and selection flag of ``setting`` on top of ``base``.

    ``n_train`` must be the number of records each target trains on, since the DP trainer
    samples at q = batch / N with that N: the guarantee, and the noise solved for a target
    epsilon, are computed at that q (`gmia.protocol.run.target_train_size`).
    """
    spec_update = {k: setting[k] for k in ("l2", "dropout", "steps") if k in setting}
    spec = TrainSpec.build(**{**base.model_dump(), **spec_update})
    dp, warns = None, []
    epsilon, noise = setting.get("dp-epsilon"), setting.get("dp-noise")
    clip, delta = setting.get("dp-clip", clip), setting.get("dp-delta", delta)
    if noise is not None or (epsilon is not None and not math.isinf(epsilon)):
        dp = guarantee(epsilon, noise, delta, clip, n_train, spec.batch_size, spec.steps, accountant)
        spec = TrainSpec.build(**{**spec.model_dump(), "dp_clip": clip, "dp_noise": dp.noise, "dp_sampling": "poisson"})
        if (w := meaningless(dp.epsilon)) is not None:
            warns.append(f"{label(setting)}: {w}")
    policy = OutputPolicy(top_k=setting.get("top-k"), decimals=setting.get("round"), label_only=setting.get("label-only", False))
    return Applied(setting=setting, spec=spec, policy=policy, drop_vulnerable=bool(setting.get("drop-vulnerable", False)),
                   dp=dp, warnings=tuple(warns), n_train=n_train)
