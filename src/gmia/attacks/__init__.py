"""Membership inference attacks behind one interface, registered by name.

Every attack is an `Attack`: ``ATTACKS[name](settings)`` makes it from the common
`AttackSettings` (it takes the ones it needs through its ``from_settings`` classmethod:
GMIA the tail rule, Shokri the confidence threshold and a seed); ``fit(inputs) -> self`` and
``score(inputs) -> [T, n]`` work on one `AttackInputs` (targets', in/out shadows' and
GMIA's reference models' signals on the pool and population records), and the scores are
"higher = more likely member" for every attack. GMIA direct scores −p and keeps its p-values
beside them: ``GmiaDirect.pvalues(inputs)``, or ``fit_losses(...).pvalues_of(...)`` on arrays.

Adding an attack is one new module in ``gmia.attacks`` with a subclass of `Attack`, plus
one ``register(...)`` line (or ``@register("name")`` on the class); the built-in ones are listed in
`gmia.attacks.registry` by module, so naming or checking an attack imports none of them. ``gmia compare`` runs
every registered attack (``COMPARE_ATTACKS`` is this registry's names) and needs no change.

GMIA's indirect attack (``gmia.attacks.indirect``) attacks one record through new queries to a
black box, not from the comparison's signal matrices: it is registered apart, as a record attack
(``RECORD_ATTACKS``, ``register_record_attack``), and the audit, Table 3 and the null check reach it
through ``indirect_test(config)`` as they reach the direct test through ``direct_test(tail)``.
"""

from gmia.base.extras import lazy_exports

_EXPORTS = {
    "ATTACKS": "gmia.attacks.registry", "register": "gmia.attacks.registry", "make_attack": "gmia.attacks.registry",
    "RECORD_ATTACKS": "gmia.attacks.registry", "register_record_attack": "gmia.attacks.registry",
    "Attack": "gmia.attacks.base", "AttackSettings": "gmia.attacks.base", "AttackInputs": "gmia.attacks.inputs",
    "GmiaDirect": "gmia.attacks.direct", "Lira": "gmia.attacks.lira", "logit_confidence": "gmia.attacks.lira",
    "LossThreshold": "gmia.attacks.loss", "Rmia": "gmia.attacks.rmia", "Shokri": "gmia.attacks.shokri",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
