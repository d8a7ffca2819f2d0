"""The report's empirical-privacy section: ε lower bounds per attack, setting or seed.

Every bound is what an attack's scores prove about the targets' (ε, δ)-DP (`gmia.protocol.evaluate.privacy_bounds`):
a model trained with a correct accountant's ε cannot give a larger one, beyond the bound's
confidence. Runs written before the bounds existed have no ``privacy`` entries; the section is
then left out.
"""

from __future__ import annotations

from gmia.privacy.protocol import bound_figures, per_record_text, privacy_note
from gmia.base.formatting import fmt_delta, fmt_epsilon, pct
from gmia.report.html import esc, num, section, table

REPRODUCE = ("table1", "table2")
COMPARE = ("compare", "table7")
DEFEND = ("defend", "table4", "table5")
# The two sides each kind of run bounds: every pool record x target, and the selected records'.
SIDES = (("all", "all pairs"), ("selected", "selected records"))
HEAD = ["ε ≥ (CP, lower bound)", "members / non-members", "independent units, design effect D",
        "TPR / FPR at the CP threshold, bounding half", "ε if the trade-off is Gaussian (estimate)",
        "point estimate (not a bound)"]


def _cells(bounds: dict | None) -> list[str]:
    """The CP bound of one side and what it rests on, then the estimates; dashes where the side had too few pairs."""
    if not bounds:
        return ["-"] * len(HEAD)
    cp, gdp, point, d = bound_figures(bounds)
    units = bounds.get("units", "pairs")
    return [num(cp, 3), f"{bounds['n_members']} / {bounds['n_nonmembers']}",
            f"{bounds.get('n_units') or bounds['n_members'] + bounds['n_nonmembers']} {units}, D = {d:.2f}",
            f"{pct(bounds['tpr'])} / {pct(bounds['fpr'])}", num(gdp, 3), num(point, 3)]


def _reproduce(results: dict) -> tuple[list[str], list[list]]:
    rows = []
    for run in results.get("runs", []):
        evaluations = run.get("evaluations", [])
        if evaluations and evaluations[0].get("privacy"):
            rows.append([run["seed"], "all pool records x all targets", *_cells(evaluations[0]["privacy"]["all"])])
        for ev in evaluations:
            if ev.get("privacy"):
                rows.append([run["seed"], f"selected at delta={fmt_delta(ev['delta'])}, beta={ev['beta']:g}",
                             *_cells(ev["privacy"]["selected"])])
    return ["seed", "pairs (target, record)", *HEAD], rows


def _compare(results: dict) -> tuple[list[str], list[list]]:
    rows = [[a["name"], label, *_cells(a["privacy"][side])]
            for a in results.get("attacks", []) if a.get("privacy") for side, label in SIDES]
    return ["attack", "pairs", *HEAD], rows


def _accountant(row: dict) -> str:
    """The accountant's ε under the bounds' relation (replace-one), beside its add/remove ε."""
    if not row.get("dp"):
        return "- (no DP)"
    dp = row["dp"]
    if dp.get("epsilon_replace_one") is None:  # a result written before the relation was told apart
        return f"{fmt_epsilon(dp.get('epsilon'))} (add/remove)"
    return f"{fmt_epsilon(dp['epsilon_replace_one'])} (add/remove: {fmt_epsilon(dp.get('epsilon'))})"


def _defend(results: dict) -> tuple[list[str], list[list]]:
    rows = [[r["label"], _accountant(r), label, *_cells(r["privacy"][side])]
            for r in results.get("rows", []) if r.get("privacy") for side, label in SIDES]
    return ["setting", "accountant's ε, replace-one (upper bound)", "pairs", *HEAD], rows


def _holders(results: dict) -> list[tuple[str, dict]]:
    """(label, entry) of every entry of a run that can hold ``privacy``: each seed's evaluations,
    each attack, each defence setting."""
    return ([(f"seed {run['seed']}, selected at delta={fmt_delta(ev['delta'])}", ev)
             for run in results.get("runs", ()) for ev in run.get("evaluations", ())]
            + [(a["name"], a) for a in results.get("attacks", ())] + [(r["label"], r) for r in results.get("rows", ())])


def _first_bounds(results: dict) -> dict | None:
    """Any side's bounds in the run: the δ and confidence they all share."""
    return next((h["privacy"][side] for _, h in _holders(results) if isinstance(h, dict) and h.get("privacy")
                 for side, _ in SIDES if h["privacy"].get(side)), None)


@section
def empirical_privacy(results, records):
    kind = results.get("kind")
    if kind in REPRODUCE:
        head, rows, what = *_reproduce(results), "GMIA's raw p-values (score −p) in each seed"
    elif kind in COMPARE:
        head, rows, what = *_compare(results), "each attack's scores on the same targets"
    elif kind in DEFEND:
        head, rows, what = *_defend(results), "GMIA's raw p-values in each setting (beside the accountant's ε)"
    else:
        return None
    bounds = _first_bounds(results)
    if not rows or bounds is None:  # a run written before the bounds existed
        return None
    records = _per_record(results)
    return (f"<h2>Empirical privacy: ε lower bounds</h2><p>What {esc(what)} prove about the targets' (ε, δ)-DP: "
            "an accountant's ε for the same neighbouring relation below the lower bound would be contradicted, at the "
            "bound's confidence. The protocol's in- and out-targets both train on N records, so these bounds are about "
            "replace-one ε. Only the Clopper-Pearson column is a proven bound; the Gaussian figure assumes a Gaussian "
            "trade-off curve, and the point estimate is the plain ln((TPR − δ)/FPR) at the best threshold with at least "
            "10 false positives: how large ε looks.</p>"
            + table(head, rows, left=len(head) - len(HEAD))
            + (f"<p>{esc(records)}</p>" if records else "")
            + f'<p class="muted">{esc(privacy_note(bounds))}.</p>')


def _per_record(results: dict) -> str:
    """The exact per-record bounds (GMIA's p-values), one sentence per holder that has them."""
    parts = [f"{label}: {per_record_text(h['privacy'])}" for label, h in _holders(results)
             if isinstance(h, dict) and (h.get("privacy") or {}).get("per_record")]
    return ("Exact per-record bounds (one record's runs, call rules fixed in advance, Bonferroni over records): "
            + "; ".join(parts) + ".") if parts else ""
