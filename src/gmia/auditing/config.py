"""`gmia audit`'s options (`AuditConfig`), apart from its engine (`gmia.auditing.run`) so that
they are checked before torch loads."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import ClassVar

from gmia.attacks.indirect_config import IndirectConfig
from gmia.base.choices import AttackMode, Features, References, choice
from gmia.base.errors import GmiaError, check_cutoff
from gmia.settings.config import ProtocolConfig, check_count
from gmia.settings.presets import DEFAULT_BETA, DEFAULT_CALIBRATION_QUERIES, DEFAULT_CUTOFF, DEFAULT_DELTA
from gmia.attacks.registry import ATTACKS
from gmia.stats.fdr import DEFAULT_Q, check_q
from gmia.stats.select import check_thresholds

DEFAULT_OUT_REFERENCES = 50  # per record: the Student-t test holds its level there (docs/algorithm.md)


def check_attacks(names, exchangeable: bool) -> tuple[str, ...]:
    """The attacks to run: ``names`` (None: every registered attack with exchangeable
    references, none with the paper's), checked against what the design can run."""
    if names is None:
        return tuple(ATTACKS) if exchangeable else ()
    names = tuple(dict.fromkeys(names))
    for name in names:
        if name not in ATTACKS:
            raise GmiaError(f"attack {name!r} is not registered; expected one of {', '.join(ATTACKS)}")
    if names and not exchangeable:
        raise GmiaError(f"attacks {', '.join(names)} need in/out reference models, which only the exchangeable design "
                        "trains; expected references=exchangeable (or no attacks)")
    return names


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
    references : ``exchangeable`` (default; `gmia.auditing.exchangeable`: references trained on
        random size-N subsets of the candidates, each record tested against those that left it
        out, and FDR calls over every candidate) or ``paper`` (the adversary-trained references).
    out_references : out-references per record in expectation; sets how many exchangeable
        references train.
    fdr_q : the false-discovery level of the member calls over all candidates.
    attacks : registered attacks scored on every candidate (`gmia.auditing.attacks`); None: all of
        them with exchangeable references, none with the paper's.
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
    references: References = References.EXCHANGEABLE
    out_references: int = DEFAULT_OUT_REFERENCES
    fdr_q: float = DEFAULT_Q
    attacks: tuple[str, ...] | None = None

    def __post_init__(self):
        super().__post_init__()
        self._set(attack=choice(AttackMode, self.attack, "attack"),
                  references=choice(References, self.references, "references"))
        check_count("number of out-references per record", self.out_references, 3)
        check_q(self.fdr_q)
        if self.attacks is not None:
            self._set(attacks=check_attacks(self.attacks, self.references == References.EXCHANGEABLE))
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
