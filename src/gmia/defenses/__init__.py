"""Defences and the privacy-utility trade-off: regularisation, DP-SGD, output perturbation,
training-set selection; each measured by the same GMIA protocol. Names load on first use."""

from gmia.base.extras import lazy_exports

_EXPORTS = {
    "DpGuarantee": "gmia.defenses.privacy",
    "epsilon_for": "gmia.defenses.privacy",
    "guarantee": "gmia.defenses.privacy",
    "noise_for": "gmia.defenses.privacy",
    "DEFENCES": "gmia.defenses.settings",
    "Applied": "gmia.defenses.settings",
    "apply": "gmia.defenses.settings",
    "grid": "gmia.defenses.settings",
    "parse_sweep": "gmia.defenses.settings",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
