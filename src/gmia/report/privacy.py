"""The report's empirical-privacy section: ε lower bounds per attack, setting or seed.

Every bound is what an attack's scores prove about the targets' (ε, δ)-DP (`gmia.evaluate.privacy_bounds`):
a model trained with a correct accountant's ε cannot give a larger one, beyond the bound's
confidence. Runs written before the bounds existed have no ``privacy`` entries; the section is
then left out.
"""

from __future__ import annotations

from gmia.evaluate import privacy_note
from gmia.formatting import fmt_delta, fmt_epsilon, pct
from gmia.report.html import esc, num, section, table

REPRODUCE = ("table1", "table2")
COMPARE = ("compare", "table7")
DEFEND = ("defend", "table4", "table5")
# The two sides each kind of run bounds: every pool record x target, and the selected records'.
SIDES = (("all", "all pairs"), ("selected", "selected records"))
HEAD = ["ε ≥ (CP)", "ε ≥ (GDP)", "members / non-members", "TPR / FPR at the CP threshold, bounding half", "point estimate (not a bound)"]


def _cells(bounds: dict | None) -> list[str]:
    """ε ≥ (CP), ε ≥ (GDP) of one side, and what the CP bound rests on; dashes where the side had too few pairs."""
    if not bounds:
        return ["-"] * 5
    return [num(bounds["clopper_pearson"], 3), num(bounds["gdp"], 3), f"{bounds['n_members']} / {bounds['n_nonmembers']}",
            f"{pct(bounds['tpr'])} / {pct(bounds['fpr'])}", num(bounds["estimate"], 3)]


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
    if not row.get("dp"):
        return "- (no DP)"
    return fmt_epsilon(row["dp"].get("epsilon"))


def _defend(results: dict) -> tuple[list[str], list[list]]:
    rows = [[r["label"], _accountant(r), label, *_cells(r["privacy"][side])]
            for r in results.get("rows", []) if r.get("privacy") for side, label in SIDES]
    return ["setting", "accountant's ε (upper bound)", "pairs", *HEAD], rows


def _first_bounds(results: dict) -> dict | None:
    """Any side's bounds in the run: the δ and confidence they all share."""
    holders = ([ev for run in results.get("runs", ()) for ev in run.get("evaluations", ())]
               + list(results.get("attacks", ())) + list(results.get("rows", ())))
    return next((h["privacy"][side] for h in holders if isinstance(h, dict) and h.get("privacy")
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
    return (f"<h2>Empirical privacy: ε lower bounds</h2><p>What {esc(what)} prove about the targets' (ε, δ)-DP: "
            "an accountant's ε below them would be contradicted, at the bounds' confidence if the pairs are independent trials. "
            "The point estimate is the plain ln((TPR − δ)/FPR) at the best threshold with at least 10 false positives: "
            "how large ε looks, not a bound.</p>"
            + table(head, rows, left=len(head) - len(HEAD))
            + f'<p class="muted">{esc(privacy_note(bounds))}.</p>')
