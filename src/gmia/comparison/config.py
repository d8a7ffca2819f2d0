"""`gmia compare`'s and `gmia reproduce table7`'s options, validated before any model trains."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from gmia.attacks.base import check_confidence
from gmia.attacks.registry import ATTACKS
from gmia.settings.config import ProtocolConfig, check_count
from gmia.settings.presets import (
    DEFAULT_BETA, DEFAULT_BOOTSTRAP, DEFAULT_CONFIDENCE, DEFAULT_CUTOFF, DEFAULT_DELTA, DEFAULT_INOUT, DEFAULT_POPULATION,
)
from gmia.base.errors import GmiaError, check_choice, check_cutoffs
from gmia.stats.select import check_thresholds

TABLE7_ATTACKS = ("gmia-direct", "shokri")  # all that the paper's Table 7 shows


def check_inout(n_inout: int) -> None:
    if n_inout < 4 or n_inout % 2:
        raise GmiaError(f"number of in/out shadow models {n_inout} is invalid; expected an even number >= 4 "
                        "(each record is IN half of them and each Gaussian needs 2 models)")


@dataclass(frozen=True)
class CompareConfig(ProtocolConfig):
    """`gmia.settings.config.ProtocolConfig`'s options, and

    n_inout : in/out shadow models for LiRA, RMIA, Shokri and the loss threshold (even, >= 4).
    delta, beta : selection thresholds of GMIA's vulnerable records (default: the paper's Table 1).
    cutoffs : GMIA p-value cutoffs, also the FPRs the other attacks are matched at.
    n_bootstrap : resamples (targets and records) for the 95% intervals; 0 = none.
    n_population : RMIA's population records, drawn from the adversary's records.
    shokri_confidence : Shokri's threshold on P(in) (default: the paper's Table 7, else 0.5).
    attacks : registered attack names (default: all; ``table7``: GMIA and Shokri); gmia-direct is required.
    """

    COMMAND: ClassVar[str] = "compare"
    CALIBRATED_VERDICTS: ClassVar[bool] = False

    n_inout: int = DEFAULT_INOUT
    delta: float | None = DEFAULT_DELTA  # None: derived from the data (gmia.stats.select.derived_delta)
    beta: float = DEFAULT_BETA
    cutoffs: tuple[float, ...] = (DEFAULT_CUTOFF,)
    n_bootstrap: int = DEFAULT_BOOTSTRAP
    n_population: int = DEFAULT_POPULATION
    shokri_confidence: float = DEFAULT_CONFIDENCE
    attacks: tuple[str, ...] = ()

    def __post_init__(self):
        super().__post_init__()
        self._set(cutoffs=tuple(self.cutoffs), attacks=tuple(self.attacks) or tuple(ATTACKS))
        check_inout(self.n_inout)
        check_thresholds(self.delta, self.beta)
        check_cutoffs(self.cutoffs)
        check_count("number of bootstrap resamples", self.n_bootstrap, 0)
        check_count("RMIA population size", self.n_population, 1)
        check_confidence(self.shokri_confidence)
        for name in self.attacks:
            check_choice("attack", name, tuple(ATTACKS))
        if "gmia-direct" not in self.attacks:
            raise GmiaError(f"attacks {', '.join(self.attacks)} leave out gmia-direct; expected it in the list (it is the baseline)")

    @classmethod
    def _from_preset(cls, preset, options: dict) -> dict:
        return {**super()._from_preset(preset, options), "delta": preset.delta, "beta": preset.beta,
                "cutoffs": preset.cutoffs, "shokri_confidence": preset.shokri_confidence,
                "attacks": TABLE7_ATTACKS if preset.command == "table7" else ()}
