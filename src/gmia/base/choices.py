"""The choices gmia's options take, as enums: one place that names every allowed value.

Each enum is a ``StrEnum``, so a member equals its string (``Tail.PCHIP == "pchip"``) and the
numeric code, results files and the command line keep reading plain strings.
"""

from __future__ import annotations

from enum import StrEnum

from gmia.base.errors import GmiaError


class Scaling(StrEnum):
    """How E[N_n] is read from N'_n (docs/algorithm.md, AMBIGUOUS): N'_n·N/N' (consistent) or N'_n·N'/N (as printed)."""

    N_OVER_NPRIME = "n_over_nprime"
    NPRIME_OVER_N = "nprime_over_n"


class Tail(StrEnum):
    """The p-value rule below the smallest reference loss (docs/algorithm.md, Pitfalls)."""

    PCHIP = "pchip"
    ZERO = "zero"
    GAUSSIAN = "gaussian"


class Features(StrEnum):
    """Features for neighbour counting: the reference models' logits (the paper's), centred logits,
    raw features, or the centred logit of the record's own class (label-aware)."""

    LOGITS = "logits"
    CENTRED_LOGITS = "centred-logits"
    RAW = "raw"
    LABEL_LOGITS = "label-logits"


class PValues(StrEnum):
    """Which p-value a verdict uses: calibrated on held-out population records, or the paper's raw one."""

    CALIBRATED = "calibrated"
    RAW = "raw"


class References(StrEnum):
    """Which models a record's direct test ranks the target against: the paper's references
    (trained on the adversary's records), or models drawn like the target that did not train on
    the record (docs/algorithm.md, "Exchangeable references")."""

    PAPER = "paper"
    EXCHANGEABLE = "exchangeable"


class Sampling(StrEnum):
    """How the reference models' training sets are drawn from the adversary's records."""

    BOOTSTRAP = "bootstrap"
    SUBSAMPLE = "subsample"


class AttackMode(StrEnum):
    """Which of GMIA's inferences an audit runs: direct (query the record), indirect (never query it), or both."""

    DIRECT = "direct"
    INDIRECT = "indirect"
    BOTH = "both"


class Correlation(StrEnum):
    """ρ between enhancing queries for Kost's method: of their reference losses, or of their feature vectors."""

    LOSSES = "losses"
    FEATURES = "features"


class Scale(StrEnum):
    """Image sets' setup: the paper's CNN, or a reduced model a CPU runs in minutes."""

    PAPER = "paper"
    CPU = "cpu"


class Accountant(StrEnum):
    """Opacus's privacy accountants: Rényi DP or the privacy random variable."""

    RDP = "rdp"
    PRV = "prv"


def choice(enum: type[StrEnum], value, what: str) -> StrEnum:
    """``value`` as a member of ``enum``, or one GmiaError sentence naming it and the choices."""
    if isinstance(value, enum):
        return value
    try:
        return enum(str(value).strip().lower())
    except ValueError:
        raise GmiaError(f"unknown {what} {value!r}; expected one of: {', '.join(m.value for m in enum)}") from None


def values(enum: type[StrEnum]) -> tuple[str, ...]:
    return tuple(m.value for m in enum)
