"""Defences and the privacy-utility trade-off: regularisation, DP-SGD, output perturbation,
training-set selection; each measured by the same GMIA protocol."""

from gmia.defenses.privacy import DpGuarantee, epsilon_for, guarantee, noise_for
from gmia.defenses.settings import DEFENCES, Applied, apply, grid, parse_sweep

__all__ = ["DEFENCES", "Applied", "DpGuarantee", "apply", "epsilon_for", "grid", "guarantee", "noise_for", "parse_sweep"]
