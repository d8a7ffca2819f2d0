"""Attacks registered by name, so a configuration can name them."""

from gmia.attacks.direct import GmiaDirect

ATTACKS = {"gmia-direct": GmiaDirect}

__all__ = ["ATTACKS", "GmiaDirect"]
