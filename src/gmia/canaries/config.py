"""`gmia audit-dp`'s options, validated before any model trains."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from gmia.base.choices import Accountant, choice
from gmia.settings.config import ProtocolConfig, check_count
from gmia.defenses.privacy import check_clip
from gmia.base.errors import GmiaError, check_choice
from gmia.privacy.relations import check_bound_options
from gmia.settings.presets import (
    DEFAULT_CANARIES, DEFAULT_DP_CLIP, DEFAULT_DP_DELTA, DEFAULT_POPULATION, DEFAULT_PRIVACY_CONFIDENCE,
)
from gmia.stats.select import check_thresholds

# Where canaries come from (gmia.canaries.choose), in the order they are run and reported.
SOURCES = ("gmia", "random", "mislabelled")
ATTACKS = ("gmia-direct", "lira-offline", "rmia-offline")  # scored on every source's canaries


@dataclass(frozen=True)
class AuditDpConfig(ProtocolConfig):
    """`gmia.settings.config.ProtocolConfig`'s options (``n_targets`` and ``pvalues`` are not used: each
    source trains one target), and

    canaries : m, the canaries per source; each is in the target's training set with probability 1/2.
        None: ``DEFAULT_CANARIES``, or as many as the pool holds beside the target's N other
        records if that is fewer (Cancer's pool of 200 holds 100); a number given must fit.
    sources : where the canaries come from: ``gmia`` (the pool records most isolated in the
        references' selection features), ``random`` (random pool records), ``mislabelled``
        (random pool records with a label flipped to another class).
    dp_epsilon : the target's DP-SGD budget ε (``inf``: no DP); the noise is solved at the
        target's own training-set size, and the references train with the same spec.
    dp_clip, dp_delta, accountant : DP-SGD's clipping norm, δ (also the δ of the one-run bound)
        and the privacy accountant.
    delta, beta : the ``gmia`` source's neighbour threshold δ (None: derived from the data) and
        the β a derived δ is derived at.
    confidence : the one-run bounds' confidence.
    n_population : RMIA's population records, drawn from the adversary's calibration records.
    """

    COMMAND: ClassVar[str] = "audit-dp"
    STACKS_ONLY: ClassVar[str | None] = "trains its target with canaries (and DP-SGD) in gmia's stacked trainer"
    CALIBRATED_VERDICTS: ClassVar[bool] = False  # no verdicts: the bound ranks raw scores

    canaries: int | None = None
    sources: tuple[str, ...] = SOURCES
    dp_epsilon: float = math.inf
    dp_clip: float = DEFAULT_DP_CLIP
    dp_delta: float = DEFAULT_DP_DELTA
    accountant: Accountant = Accountant.RDP
    delta: float | None = None
    beta: float = 0.1
    confidence: float = DEFAULT_PRIVACY_CONFIDENCE
    n_population: int = DEFAULT_POPULATION

    def __post_init__(self):
        super().__post_init__()
        sources = (self.sources,) if isinstance(self.sources, str) else tuple(self.sources)
        self._set(sources=sources, accountant=choice(Accountant, self.accountant, "privacy accountant"))
        if not sources:
            raise GmiaError(f"no canary source given; expected one or more of: {', '.join(SOURCES)}")
        for s in sources:
            check_choice("canary source", s, SOURCES)
        if len(set(sources)) < len(sources):
            twice = next(s for s in sources if sources.count(s) > 1)
            raise GmiaError(f"canary source {twice!r} is given twice; expected each source once")
        self._set(sources=tuple(s for s in SOURCES if s in sources))  # the report's order, whatever the order given
        check_count("number of canaries", self.canaries, 2, optional=True)
        eps = self.dp_epsilon
        if isinstance(eps, bool) or not isinstance(eps, int | float) or math.isnan(eps) or not eps > 0:
            raise GmiaError(f"privacy budget dp-epsilon={eps!r} is invalid; expected epsilon > 0 (inf for no DP)")
        self._set(dp_epsilon=float(eps))
        check_clip(self.dp_clip)
        if not 0.0 < self.dp_delta < 1.0:
            raise GmiaError(f"DP delta={self.dp_delta:g} is out of range; expected a value in (0, 1)")
        check_thresholds(self.delta, self.beta)
        check_bound_options(self.dp_delta, self.confidence)  # the bounds' own checks, before any model trains
        check_count("RMIA population size", self.n_population, 1)
        if self.calibration_size == 0:
            raise GmiaError("calibration size 0 leaves RMIA no population records; expected a calibration size > 0")

    def canaries_for(self, pool_size: int, n_train: int) -> int:
        """m on a pool of ``pool_size`` records whose targets train on N = ``n_train`` others."""
        return min(DEFAULT_CANARIES, pool_size - n_train) if self.canaries is None else self.canaries

    @property
    def private(self) -> bool:
        """Whether the target trains with DP-SGD."""
        return not math.isinf(self.dp_epsilon)

    @classmethod
    def _from_preset(cls, preset, options: dict) -> dict:
        return {**super()._from_preset(preset, options), "delta": preset.delta, "beta": preset.beta}

    def to_dict(self) -> dict:
        out = super().to_dict()
        for unused in ("n_targets", "pvalues"):
            out.pop(unused, None)
        return out
