"""Membership inference attacks behind one interface, registered by name.

Every attack is an `Attack`: ``ATTACKS[name](settings)`` makes it from the common
`AttackSettings` (it takes the ones it needs through its ``from_settings`` classmethod:
GMIA the tail rule, Shokri the confidence threshold and a seed); ``fit(inputs) -> self`` and
``score(inputs) -> [T, n]`` work on one `AttackInputs` (targets', in/out shadows' and
GMIA's reference models' signals on the pool and population records), and the scores are
"higher = more likely member" for every attack. GMIA direct scores −p and keeps its p-values
beside them: ``GmiaDirect.pvalues(inputs)``, or ``fit_losses(...).pvalues_of(...)`` on arrays.

Adding an attack is one new module in ``gmia.attacks`` with a subclass of `Attack`, plus
one ``register(...)`` line below (or ``@register("name")`` on the class). ``gmia compare`` runs
every registered attack (``COMPARE_ATTACKS`` is this registry's names) and needs no change.

GMIA's indirect attack (``gmia.attacks.indirect``) is not in the registry: it attacks one record
through new queries to a black box, not from the comparison's signal matrices.
"""

from __future__ import annotations

from collections.abc import Callable

from gmia.attacks.base import Attack, AttackSettings
from gmia.attacks.direct import GmiaDirect
from gmia.attacks.inputs import AttackInputs
from gmia.attacks.lira import Lira, logit_confidence
from gmia.attacks.loss import LossThreshold
from gmia.attacks.rmia import Rmia
from gmia.attacks.shokri import Shokri
from gmia.base.errors import GmiaError, check_choice

# name -> factory(settings=AttackSettings()) -> Attack, in the order results are reported.
ATTACKS: dict[str, Callable[..., Attack]] = {}


def register(name: str, **fixed):
    """Class decorator that registers ``cls`` as ``name``; ``fixed`` are the parameters of this
    variant (``register("lira-offline", online=False)(Lira)``), passed to ``from_settings``."""

    def add(cls: type[Attack]) -> type[Attack]:
        if name in ATTACKS:
            raise GmiaError(f"attack name {name!r} is registered twice; expected one attack per name")

        def factory(settings: AttackSettings | None = None) -> Attack:
            return cls.from_settings(settings or AttackSettings(), **fixed)

        ATTACKS[name] = factory
        return cls

    return add


register("gmia-direct")(GmiaDirect)
register("shokri")(Shokri)
register("loss")(LossThreshold)
register("lira-online", online=True)(Lira)
register("lira-offline", online=False)(Lira)
register("lira-online-fixed", online=True, variance="fixed")(Lira)
register("lira-offline-fixed", online=False, variance="fixed")(Lira)
register("rmia-online", online=True)(Rmia)
register("rmia-offline", online=False)(Rmia)


def make_attack(name: str, settings: AttackSettings | None = None) -> Attack:
    """The registered attack ``name`` made from ``settings``."""
    check_choice("attack", name, ATTACKS)
    return ATTACKS[name](settings)


__all__ = ["ATTACKS", "Attack", "AttackInputs", "AttackSettings", "GmiaDirect", "Lira", "LossThreshold", "Rmia", "Shokri",
           "logit_confidence", "make_attack", "register"]
