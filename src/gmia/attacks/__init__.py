"""Attacks registered by name, so a configuration can name them.

Each entry is a factory: ``ATTACKS[name](**parameters)`` returns an attack object with
``name``, ``fit(...)`` on reference or shadow signals and ``score(...) -> [T, n]``. Scores are
"higher = more likely member" for every attack except ``gmia-direct``, whose ``score`` returns
p-values (use ``-p`` as its membership score).
"""

from functools import partial

from gmia.attacks.direct import GmiaDirect
from gmia.attacks.lira import Lira, logit_confidence
from gmia.attacks.loss import LossThreshold
from gmia.attacks.rmia import Rmia
from gmia.attacks.shokri import Shokri

ATTACKS = {
    "gmia-direct": GmiaDirect,
    "shokri": Shokri,
    "loss": LossThreshold,
    "lira-online": partial(Lira, online=True),
    "lira-offline": partial(Lira, online=False),
    "lira-online-fixed": partial(Lira, online=True, variance="fixed"),
    "lira-offline-fixed": partial(Lira, online=False, variance="fixed"),
    "rmia-online": partial(Rmia, online=True),
    "rmia-offline": partial(Rmia, online=False),
}

__all__ = ["ATTACKS", "GmiaDirect", "Lira", "LossThreshold", "Rmia", "Shokri", "logit_confidence"]
