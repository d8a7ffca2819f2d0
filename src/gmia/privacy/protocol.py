"""The ε figures of the paper's protocol, and how every command shows them.

`protocol_bounds` bounds an attack's ``[T, P]`` scores of (target, pool record) pairs with the
repeats as units (`gmia.privacy.clustered`); the rest turn its dict into words, table cells and
frame columns, keeping proven lower bounds apart from estimates, each with its neighbouring
relation (docs/privacy.md).
"""

from __future__ import annotations

import numpy as np

from gmia.privacy.bounds import REPLACE_ONE
from gmia.privacy.clustered import record_bounds, repeat_bounds, repeats_of


def protocol_bounds(scores: np.ndarray, membership: np.ndarray, positions: np.ndarray, *, delta: float,
                    confidence: float, seed: int = 0, pvalues: np.ndarray | None = None) -> dict:
    """The replace-one (ε, δ) lower bounds an attack's scores ``[T, P]`` (higher = member) prove
    about the targets' training, with the protocol's repeats as the independent units
    (`gmia.privacy.clustered`): over all (target, pool record) pairs (``"all"``), over those of the
    selected pool ``positions`` (``"selected"``), and, given GMIA's ``pvalues [T, P]``, the exact
    per-record bound over the selected records (``"per_record"``). Each side is None where it had
    too few pairs (e.g. none selected). ``"lower_bounds"`` and ``"estimates"`` gather the proven
    figures and the assumption-laden ones by name (`privacy_figures`)."""
    options = dict(delta=delta, confidence=confidence, relation=REPLACE_ONE)
    repeats = repeats_of(scores.shape[0])

    def bounds(s: np.ndarray, member: np.ndarray) -> dict | None:
        found = repeat_bounds(s, member, repeats, seed=seed, **options)
        return None if found is None else found.to_dict()

    per_record = None
    if pvalues is not None and len(positions):
        found = record_bounds(pvalues[:, positions], membership[:, positions], **options)
        per_record = None if found is None else found.to_dict()
    out = {"relation": REPLACE_ONE, "all": bounds(scores, membership),
           "selected": bounds(scores[:, positions], membership[:, positions]), "per_record": per_record}
    return {**out, **privacy_figures(out)}


def privacy_figures(privacy: dict) -> dict:
    """``{"lower_bounds": {name: ε}, "estimates": {name: ε}}`` of a `privacy_bounds` dict: the
    proven bounds apart from the figures that assume a Gaussian trade-off or are point values."""
    lower, estimates = {}, {}
    for side in ("all", "selected"):
        b = privacy.get(side)
        if b:
            lower.update({f"{side}: {k}": v for k, v in b["lower_bounds"].items()})
            estimates.update({f"{side}: {k}": v for k, v in b["estimates"].items()})
    if privacy.get("per_record"):
        lower["selected: per_record"] = privacy["per_record"]["epsilon"]
    return {"lower_bounds": lower, "estimates": estimates}


def bound_figures(bounds: dict) -> tuple[float, float, float, float]:
    """(CP bound, GDP estimate, point estimate, design effect) of an `EpsilonBounds.to_dict`,
    also as results written before bounds and estimates were told apart stored them."""
    lower, est = bounds.get("lower_bounds", bounds), bounds.get("estimates", bounds)
    return (lower["clopper_pearson"], est["gdp"], est.get("point", est.get("estimate", float("nan"))),
            bounds.get("design_effect", 1.0))


def bounds_text(bounds: dict | None) -> str:
    """One side's figures in words: "ε ≥ CP (relation, D), GDP est. g", or "none" (too few pairs)."""
    if not bounds:
        return "none"
    cp, gdp, _, d = bound_figures(bounds)
    return f"ε ≥ {cp:.3f} (CP, {bounds.get('relation', REPLACE_ONE)}, D={d:.2f}), GDP est. {gdp:.3f}"


def per_record_text(privacy: dict) -> str:
    """The exact per-record bound of a `gmia.protocol.evaluate.privacy_bounds` dict, in words."""
    r = privacy.get("per_record")
    if not r:
        return "per-record bound: no selected record"
    if r["record"] is None:
        return f"per-record bound over {r['n_records']} selected records: 0 (no record's calls separate its runs)"
    return (f"per-record bound over {r['n_records']} selected records: ε ≥ {r['epsilon']:.3f} (p < {r['cutoff']:g}: "
            f"{r['tp']} of {r['members']} member runs called, {r['fp']} of {r['nonmembers']} non-member runs)")


def eps_columns(privacy: dict) -> dict:
    """The ε columns of a results frame from a `privacy_bounds` dict: the proven lower bounds
    (``eps_lower_*``), the Gaussian estimate apart (``eps_gdp_estimate``), the relation and the
    design effect; NaN where a side had too few pairs or the result predates them."""
    nan = float("nan")
    every, selected, record = privacy.get("all"), privacy.get("selected"), privacy.get("per_record")
    cp, gdp, _, d = bound_figures(every) if every else (nan, nan, nan, nan)
    return {"eps_lower_cp": cp, "eps_lower_cp_selected": bound_figures(selected)[0] if selected else nan,
            "eps_lower_per_record": record["epsilon"] if record else nan, "eps_gdp_estimate": gdp,
            "eps_relation": privacy.get("relation", REPLACE_ONE), "design_effect": d}


def privacy_note(bounds: dict) -> str:
    """What the printed ε figures (an `EpsilonBounds.to_dict`) are and assume, in one sentence
    (terminal and report)."""
    units = ("the protocol's repeats (complementary pairs of targets) as the independent units, the threshold chosen "
             "on half of them and bounded on the other half, with the design effect D from the repeats"
             if bounds.get("units") == "repeats" else "(target, record) pairs treated as independent trials")
    return (f"ε lower bounds ({bounds.get('relation', REPLACE_ONE)} neighbouring relation) at δ={bounds['delta']:g}, "
            f"{bounds['confidence']:.0%} confidence: Clopper-Pearson (CP) with {units}; the per-record bound is "
            f"exact (one record's pairs across repeats, call rules fixed in advance, Bonferroni over records); "
            f"'GDP est.' is the ε if the trade-off curve is Gaussian, an estimate and not a bound")


