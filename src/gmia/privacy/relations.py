"""The neighbouring relations a bound is stated under, and the checks every bound's options pass
before any score is looked at. Pure Python, so a command's configuration checks them before
scipy loads (docs/privacy.md)."""

from __future__ import annotations

from gmia.base.errors import GmiaError, check_choice

# The neighbouring relations a bound can be about: replacing one record, or adding or removing one.
REPLACE_ONE = "replace-one"
ADD_REMOVE = "add/remove"
RELATIONS = (REPLACE_ONE, ADD_REMOVE)
THRESHOLD_RULES = ("split", "bonferroni")


def check_bound_options(delta: float, confidence: float, threshold: str = "split", relation: str = REPLACE_ONE) -> None:
    """One sentence for each bad option, before any score is looked at."""
    check_choice("neighbouring relation", relation, RELATIONS)
    if not 0.0 <= delta < 1.0:
        raise GmiaError(f"delta={delta:g} is out of range for an epsilon bound; expected 0 <= delta < 1")
    if not 0.5 < confidence < 1.0:
        raise GmiaError(f"confidence={confidence:g} is out of range for an epsilon bound; expected a value in (0.5, 1)")
    check_choice("threshold rule", threshold, THRESHOLD_RULES)


