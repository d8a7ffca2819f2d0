"""The attack registry: each name and the factory that makes it (`gmia.attacks`).

The built-in attacks are registered by module and class name and imported only when one is made,
so a configuration can check an attack's name without loading scikit-learn or torch. An attack of
your own registers its class (``register("name")(MyAttack)`` or ``@register("name")``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from gmia.attacks.base import Attack, AttackSettings
from gmia.base.errors import GmiaError, check_choice

# name -> factory(settings=AttackSettings()) -> Attack, in the order results are reported.
ATTACKS: dict[str, Callable[..., Attack]] = {}


def _add(name: str, load: Callable[[], type[Attack]], fixed: dict) -> None:
    if name in ATTACKS:
        raise GmiaError(f"attack name {name!r} is registered twice; expected one attack per name")

    def factory(settings: AttackSettings | None = None) -> Attack:
        return load().from_settings(settings or AttackSettings(), **fixed)

    ATTACKS[name] = factory


def register(name: str, **fixed):
    """Class decorator that registers ``cls`` as ``name``; ``fixed`` are the parameters of this
    variant (``register("lira-offline", online=False)(Lira)``), passed to ``from_settings``."""

    def add(cls: type[Attack]) -> type[Attack]:
        _add(name, lambda: cls, fixed)
        return cls

    return add


def _builtin(name: str, module: str, cls: str, **fixed) -> None:
    _add(name, lambda: getattr(importlib.import_module(f"gmia.attacks.{module}"), cls), fixed)


_builtin("gmia-direct", "direct", "GmiaDirect")
_builtin("gmia-exchangeable", "exchangeable", "GmiaExchangeable")
_builtin("shokri", "shokri", "Shokri")
_builtin("loss", "loss", "LossThreshold")
_builtin("lira-online", "lira", "Lira", online=True)
_builtin("lira-offline", "lira", "Lira", online=False)
_builtin("lira-online-fixed", "lira", "Lira", online=True, variance="fixed")
_builtin("lira-offline-fixed", "lira", "Lira", online=False, variance="fixed")
_builtin("rmia-online", "rmia", "Rmia", online=True)
_builtin("rmia-offline", "rmia", "Rmia", online=False)


def make_attack(name: str, settings: AttackSettings | None = None) -> Attack:
    """The registered attack ``name`` made from ``settings``."""
    check_choice("attack", name, ATTACKS)
    return ATTACKS[name](settings)


# Attacks of one record through queries of their own to a black box (GMIA's indirect test), which
# the comparison's signal matrices cannot serve: name -> loader of a class made from its config,
# with ``run(store, dataset, references, record, predict_proba, seed, **options)``.
RECORD_ATTACKS: dict[str, Callable[[], type]] = {}


def register_record_attack(name: str):
    """Class decorator that registers a record attack (see `RECORD_ATTACKS`) as ``name``; a
    registered ``"gmia-indirect"`` replaces GMIA's indirect test everywhere (`indirect_test`)."""

    def add(cls: type) -> type:
        RECORD_ATTACKS[name] = lambda: cls
        return cls

    return add


RECORD_ATTACKS["gmia-indirect"] = lambda: getattr(importlib.import_module("gmia.attacks.indirect"), "GmiaIndirect")


def indirect_test(config):
    """GMIA's indirect test as registered (``"gmia-indirect"``), made from its `IndirectConfig`:
    what the audit, Table 3 and the indirect null check run, so that a registered replacement
    reaches all of them."""
    return RECORD_ATTACKS["gmia-indirect"]()(config)


def direct_test(tail: str):
    """GMIA's direct test as registered (``"gmia-direct"``) with the tail rule ``tail``: what the
    audit, the protocol and the tables rank p-values with, so that a registered replacement of
    GMIA's direct attack reaches all of them."""
    return make_attack("gmia-direct", AttackSettings(tail=tail))
