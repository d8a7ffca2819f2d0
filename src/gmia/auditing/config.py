"""`gmia audit`'s options (`AuditConfig`), apart from its engine (`gmia.auditing.run`) so that
they are checked before torch loads."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import ClassVar

from gmia.attacks.indirect_config import IndirectConfig
from gmia.base.choices import AttackMode, Features, choice
from gmia.base.errors import GmiaError, check_cutoff
from gmia.settings.config import ProtocolConfig, check_count
from gmia.settings.presets import DEFAULT_BETA, DEFAULT_CALIBRATION_QUERIES, DEFAULT_CUTOFF, DEFAULT_DELTA
from gmia.stats.select import check_thresholds


@dataclass(frozen=True)
class AuditConfig(ProtocolConfig):
    """`gmia audit`'s options: `gmia.settings.config.ProtocolConfig`'s, and

    delta, beta : the selection thresholds δ (cosine distance) and β (on E[N_n]).
    cutoff : p-value below which a record is called a member.
    features : raw by default: a deployed model's structure is hidden (the paper's MLaaS setting).
    train_size : N, the target's training-set size (default: half the pool, as in the protocol).
    max_records : test at most this many selected records, most isolated first.
    attack : direct, indirect (never queries the record) or both.
    indirect : the indirect attack's parameters (``theta=`` and ``null_records=`` set them in `resolve`).
    indirect_records : records, most isolated first, attacked indirectly.
    calibration_queries : calibration records (held out of the references) the target is asked,
        after the tested records, for calibrated p-values; the smallest calibrated p is
        1 / (1 + answered), so this must exceed 1 / cutoff.
    """

    COMMAND: ClassVar[str] = "audit"
    EXTRA_OPTIONS: ClassVar[tuple[str, ...]] = ("theta", "null_records")

    features: Features = Features.RAW
    delta: float | None = DEFAULT_DELTA  # None: derived from the data (gmia.stats.select.derived_delta)
    beta: float = DEFAULT_BETA
    cutoff: float = DEFAULT_CUTOFF
    train_size: int | None = None
    max_records: int | None = None
    attack: AttackMode = AttackMode.DIRECT
    indirect: IndirectConfig = field(default_factory=IndirectConfig)
    indirect_records: int = 1
    calibration_queries: int = DEFAULT_CALIBRATION_QUERIES

    def __post_init__(self):
        super().__post_init__()
        self._set(attack=choice(AttackMode, self.attack, "attack"))
        check_thresholds(self.delta, self.beta)
        check_cutoff(self.cutoff)
        check_count("training-set size N", self.train_size, 1, optional=True)
        check_count("number of records to test (max records)", self.max_records, 1, optional=True)
        check_count("number of records attacked indirectly", self.indirect_records, 1)
        check_count("number of calibration queries", self.calibration_queries, 1)
        if self.pvalues == "calibrated" and self.calibration_queries + 1 <= 1.0 / self.cutoff:
            raise GmiaError(f"{self.calibration_queries} calibration queries cannot give a calibrated p-value below the cutoff "
                            f"{self.cutoff:g}; expected more than {math.ceil(1.0 / self.cutoff) - 1} (or raw p-values)")

    def check_data(self, dataset) -> None:
        """None here: an audit's reference records come from its roles (a population file can
        add records), so `gmia.auditing.run` checks k once they are known."""

    @classmethod
    def _from_preset(cls, preset, options: dict) -> dict:
        theta, null_records = options.pop("theta", None), options.pop("null_records", None)
        indirect = options.pop("indirect", None) or IndirectConfig(theta=preset.theta)
        if theta is not None:
            indirect = replace(indirect, theta=theta)
        if null_records is not None:
            indirect = replace(indirect, null_records=null_records)
        if options.get("tail") is not None:  # one tail rule for the direct and the indirect p-values
            indirect = replace(indirect, tail=options["tail"])
        # The paper's δ was set for logit features; on raw features a fixed δ flags a share of the pool
        # that grows as the adversary shrinks (a third of a 40-record CSV), so raw features derive δ
        # from the data (gmia.stats.select.derived_delta; docs/algorithm.md, "A derived δ ..."); --delta wins.
        features = choice(Features, options.get("features") or preset.features, "selection features")
        delta = None if features == Features.RAW else preset.delta
        return {**super()._from_preset(preset, options), "delta": delta, "beta": preset.beta,
                "cutoff": preset.cutoff, "indirect": indirect}
