"""What every registered attack is: made from the common settings, fitted and scored on one
`gmia.attacks.inputs.AttackInputs`."""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass

import numpy as np

from gmia.attacks.inputs import AttackInputs
from gmia.base.errors import GmiaError


@dataclass(frozen=True)
class AttackSettings:
    """The settings a run shares among its attacks; each attack takes only those it needs.

    tail : GMIA's rule for p-values beyond the k reference losses (gmia.stats.ecdf.TAIL_RULES).
    confidence : Shokri's threshold on P(in) for the member call.
    seed : seeds attacks that draw random numbers (Shokri's pair sample and networks).
    """

    tail: str = "gaussian"
    confidence: float = 0.5
    seed: int = 0


class Attack:
    """The interface: ``from_settings(settings)``, ``fit(inputs) -> self``, ``score(inputs) -> [T, n]``.

    Scores are "higher = more likely member" for every attack, one per (target, pool record)
    pair; the comparison ranks them and needs nothing else. ``name`` is the registered name.
    """

    name: str

    @classmethod
    def from_settings(cls, settings: AttackSettings, **fixed) -> "Attack":
        """An attack that takes none of the common settings; override to pick those it needs.
        ``fixed`` are the registration's own parameters (a variant such as LiRA offline)."""
        return cls(**fixed)

    def fit(self, inputs: AttackInputs) -> "Attack":
        raise NotImplementedError

    def score(self, inputs: AttackInputs) -> np.ndarray:
        raise NotImplementedError

    def threshold(self) -> float:
        """The attack's own threshold on its score scale (fitted, or its paper's); override."""
        raise GmiaError(f"attack {getattr(self, 'name', type(self).__name__)!r} has no threshold of its own; expected "
                        "decide(scores, threshold)")

    def decide(self, scores: np.ndarray, threshold: float | None = None) -> np.ndarray:
        """Member calls: ``score > threshold`` on the attack's own score scale (higher = member),
        at ``threshold`` or, when None, the attack's own (`threshold`). One signature for every
        attack: GMIA's "p < c" is ``decide(scores, -c)``, since its score is −p."""
        return np.asarray(scores) > (self.threshold() if threshold is None else threshold)

    def parameters(self) -> dict:
        """The constructor parameters, for the result file (a dataclass's init fields)."""
        if not is_dataclass(self):
            return {}
        return {f.name: getattr(self, f.name) for f in fields(self) if f.init}


def check_confidence(confidence: float) -> None:
    """The member call's threshold on P(in) must be a probability strictly inside (0, 1)."""
    if not 0.0 < confidence < 1.0:
        raise GmiaError(f"Shokri confidence threshold {confidence} is out of range; expected a value in (0, 1)")
