"""`gmia defend`'s and `gmia reproduce table4|table5`'s options, validated before any model trains."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from gmia.base.choices import Accountant, choice
from gmia.settings.config import ProtocolConfig
from gmia.settings.presets import DEFAULT_BETA, DEFAULT_CUTOFF, DEFAULT_DELTA, DEFAULT_DP_CLIP, DEFAULT_DP_DELTA
from gmia.defenses.privacy import check_clip
from gmia.defenses.settings import grid
from gmia.base.errors import GmiaError, check_cutoff
from gmia.settings.paper import TABLE4, TABLE5
from gmia.stats.select import check_thresholds


@dataclass(frozen=True)
class DefendConfig(ProtocolConfig):
    """`gmia.settings.config.ProtocolConfig`'s options, and

    sweep : ``NAME=V1,V2,...`` strings, one per swept defence (see `gmia.defenses.DEFENCES`);
        every combination of their values is one setting. Default for ``table4``: training
        length (the preset's steps and a tenth of them); for ``table5``: λ = 0, 0.001, 0.01.
    delta, beta : selection thresholds (default: the paper's Table 1 for Cancer, δ0.2 β0.1 for Adult).
    cutoff : p-value cutoff of a member call.
    dp_clip, dp_delta, accountant : DP-SGD's clipping norm and δ, and the privacy accountant,
        unless a sweep sets them.
    settings : the parsed grid (filled from ``sweep``).
    """

    COMMAND: ClassVar[str] = "defend"
    STACKS_ONLY: ClassVar[str | None] = "sweeps settings of the training spec (L2, dropout, steps, DP-SGD) of gmia's stacked models"

    sweep: tuple[str, ...] = ()
    delta: float | None = DEFAULT_DELTA  # None: derived from the data (gmia.stats.select.derived_delta)
    beta: float = DEFAULT_BETA
    cutoff: float = DEFAULT_CUTOFF
    dp_clip: float = DEFAULT_DP_CLIP
    dp_delta: float = DEFAULT_DP_DELTA
    accountant: Accountant = Accountant.RDP
    settings: tuple[dict, ...] = ()

    def __post_init__(self):
        super().__post_init__()
        sweep = (self.sweep,) if isinstance(self.sweep, str) else tuple(self.sweep)
        self._set(sweep=sweep, settings=tuple(grid(list(sweep))),
                  accountant=choice(Accountant, self.accountant, "privacy accountant"))
        check_thresholds(self.delta, self.beta)
        check_cutoff(self.cutoff)
        check_clip(self.dp_clip)
        if not 0.0 < self.dp_delta < 1.0:
            raise GmiaError(f"DP delta={self.dp_delta:g} is out of range; expected a value in (0, 1)")

    @classmethod
    def _from_preset(cls, preset, options: dict) -> dict:
        values = {**super()._from_preset(preset, options), "delta": preset.delta, "beta": preset.beta,
                  "cutoff": preset.cutoff}
        if preset.command == "table4":
            values["sweep"] = (f"steps={max(1, preset.spec.steps // 10)},{preset.spec.steps}",)
        elif preset.command == "table5":
            values["sweep"] = ("l2=" + ",".join(f"{v:g}" for v in TABLE5["l2"]),)
        return values


def paper_rows(command: str, cfg: DefendConfig) -> dict | None:
    """The paper's rows of Table 4 or 5 keyed by our settings' labels (None for `gmia defend`)."""
    from gmia.defenses.settings import label

    table = {"table4": TABLE4, "table5": TABLE5}.get(command)
    return None if table is None else dict(zip((label(s) for s in cfg.settings), table["rows"]))
