"""The options of `gmia reproduce table1|table2` (`ReproduceConfig`) and `table3`
(`Table3Config`), apart from their engines so that they are checked before torch loads."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar

from gmia.attacks.indirect_config import IndirectConfig
from gmia.base.choices import References, choice
from gmia.base.errors import GmiaError, check_choice, check_cutoffs
from gmia.settings.config import ProtocolConfig, check_count
from gmia.settings.paper import PRESETS, PaperSetting
from gmia.settings.presets import DEFAULT_BETA, DEFAULT_CUTOFF, DEFAULT_DELTA, GENERIC_THRESHOLDS, TABLE3_CUTOFFS
from gmia.stats.select import check_thresholds

TABLES = ("table1", "table2")


def paper_settings(table: str, dataset: str) -> tuple[PaperSetting, ...]:
    preset = PRESETS.get(dataset)
    if preset is None:
        return ()
    return (preset.table1,) if table == "table1" else (preset.table1, *preset.table2)


@dataclass(frozen=True)
class ReproduceConfig(ProtocolConfig):
    """`gmia reproduce table1|table2`'s options: `gmia.settings.config.ProtocolConfig`'s, and

    table : ``table1`` (the paper's Table 1 thresholds and cutoffs) or ``table2`` (its other thresholds).
    settings : the selection thresholds (δ, β) evaluated; ``delta=``/``beta=`` in `resolve`
        replace them with that one pair (the other value from Table 1).
    cutoffs : p-value cutoffs of a member call.
    seeds : repeat the whole protocol for seeds ``seed .. seed + seeds - 1``.
    references : ``paper`` (the paper's adversary-trained references only) or ``exchangeable``
        (also the test against the other targets that did not train on the record, beside it;
        `gmia.protocol.exchangeable`).
    """

    COMMAND: ClassVar[str] = "table1"
    EXTRA_OPTIONS: ClassVar[tuple[str, ...]] = ("delta", "beta")

    table: str = "table1"
    settings: tuple[tuple[float | None, float], ...] = (GENERIC_THRESHOLDS,)
    cutoffs: tuple[float, ...] = (DEFAULT_CUTOFF,)
    seeds: int = 1
    references: References = References.PAPER

    def __post_init__(self):
        super().__post_init__()
        check_choice("table", self.table, TABLES)
        self._set(references=choice(References, self.references, "references"))
        self._set(settings=tuple((None if d is None else float(d), float(b)) for d, b in self.settings),
                  cutoffs=tuple(self.cutoffs))
        if not self.settings:
            raise GmiaError("no selection setting given; expected at least one (delta, beta) pair")
        for delta, beta in self.settings:
            check_thresholds(delta, beta)
        check_cutoffs(self.cutoffs)
        check_count("number of seeds", self.seeds, 1)

    @classmethod
    def resolve(cls, dataset: str, *, table: str = "table1", **options) -> "ReproduceConfig":
        check_choice("table", table, TABLES)
        return super().resolve(dataset, command=table, table=table, **options)

    @classmethod
    def _from_preset(cls, preset, options: dict) -> dict:
        delta, beta = options.pop("delta", None), options.pop("beta", None)
        settings = preset.settings if delta is None and beta is None else (
            (preset.delta if delta is None else delta, preset.beta if beta is None else beta),)
        return {**super()._from_preset(preset, options), "settings": settings, "cutoffs": preset.cutoffs}


@dataclass(frozen=True)
class Table3Config(ProtocolConfig):
    """`gmia reproduce table3`'s options: `gmia.settings.config.ProtocolConfig`'s, and

    record : the record to attack (default: the most isolated pool record the selection flags).
    delta, beta : the selection thresholds that choose it (default: the paper's Table 1).
    cutoffs : p-value cutoffs of a member call (default: the paper's Table 3 columns, 0.01 and 0.1).
    indirect : the indirect attack's parameters; `resolve` also takes theta, n_candidates,
        n_clusters, sigma, positive_steps, record_rate, correlation and null_records, which go into it.
    """

    COMMAND: ClassVar[str] = "table3"
    STACKS_ONLY: ClassVar[str | None] = "runs the indirect attack, which continues training gmia's stacked references"
    CALIBRATED_VERDICTS: ClassVar[bool] = False
    EXTRA_OPTIONS: ClassVar[tuple[str, ...]] = ("theta", "n_candidates", "n_clusters", "sigma", "positive_steps",
                                                "record_rate", "correlation", "null_records")

    record: int | None = None
    delta: float | None = DEFAULT_DELTA  # None: derived from the data (gmia.stats.select.derived_delta)
    beta: float = DEFAULT_BETA
    cutoffs: tuple[float, ...] = TABLE3_CUTOFFS
    indirect: IndirectConfig = field(default_factory=IndirectConfig)

    def __post_init__(self):
        super().__post_init__()
        self._set(cutoffs=tuple(self.cutoffs))
        check_thresholds(self.delta, self.beta)
        check_cutoffs(self.cutoffs)
        check_count("record index", self.record, 0, optional=True)

    @classmethod
    def _from_preset(cls, preset, options: dict) -> dict:
        given = {name: options.pop(name) for name in cls.EXTRA_OPTIONS if name in options}
        indirect = options.pop("indirect", None) or IndirectConfig(theta=preset.theta)
        indirect = replace(indirect, **{k: v for k, v in given.items() if v is not None})
        if options.get("tail") is not None:  # one tail rule for the direct and the indirect p-values
            indirect = replace(indirect, tail=options["tail"])
        return {**super()._from_preset(preset, options), "delta": preset.delta, "beta": preset.beta,
                "cutoffs": preset.cutoffs, "indirect": indirect}
