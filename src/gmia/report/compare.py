"""The report's section of `gmia compare` and `gmia reproduce table7`: every attack on the same
targets, with the intervals the terminal prints (`gmia.console.compare`), so the page a person
keeps says as much about uncertainty as the run's output did."""

from __future__ import annotations

from gmia.base.formatting import pct, tpr_convention
from gmia.settings.paper import TABLE7
from gmia.report.html import esc, num, num_ci, pct_ci, section, table, with_ci

COMPARE = ("compare", "table7")


def _decision(row: dict) -> str:
    """Precision (TP / calls), recall: one cell per cutoff, as `gmia compare` prints it."""
    return f"{pct(row['precision'])} ({row['tp']}/{row['tp'] + row['fp']}), {pct(row['recall'])}"


def _attacks(results: dict) -> str:
    cutoffs = results["config"]["cutoffs"]
    n_boot = results["config"].get("n_bootstrap")
    rows = []
    for a in results["attacks"]:
        roc = a["roc"]
        tpr_ci = roc.get("tpr_ci") or {}
        rows.append([a["name"], with_ci(num(roc["auc"]), num_ci(roc.get("auc_ci"))),
                     *(with_ci(pct(roc["tpr"][k]), pct_ci(tpr_ci.get(k))) for k in ("0.001", "0.01")),
                     *(_decision(r) for r in a["rows"])])
    if results.get("gmia_rows"):
        rows.append(["gmia (p < cutoff)", "", "", "", *(_decision(r) for r in results["gmia_rows"])])
    if results.get("exchangeable_rows"):
        rows.append(["gmia-exchangeable (p < cutoff)", "", "", "", *(_decision(r) for r in results["exchangeable_rows"])])
    fprs = results.get("gmia_fpr") or {}
    xfprs = results.get("exchangeable_fpr") or {}
    note = (f"95% bootstrap intervals over targets and records ({n_boot} resamples). \"@ FPR c\": the score threshold "
            "whose false-positive rate over all non-member pairs of the pool is c, the same way for every attack; "
            "precision and recall are then counted on the selected records only. \"gmia (p < cutoff)\" is GMIA's own "
            "decision" + ("; its realised FPR over all non-member pairs: "
                          + ", ".join(f"{num(v)} at p < {c}" for c, v in fprs.items()) if fprs else "") + "."
            + ("" if not xfprs else " gmia-exchangeable tests each target against the in/out shadows that did not "
               "train on the record (drawn like the targets); its own decision's realised FPR: "
               + ", ".join(f"{num(v)} at p < {c}" for c, v in xfprs.items()) + "."))
    return ("<h2>GMIA beside other attacks</h2>"
            + table(["attack", "ROC AUC [95% CI]", "TPR @ FPR ≤ 0.1% [95% CI]", "TPR @ FPR ≤ 1% [95% CI]",
                     *(f"@ FPR {c:g}: precision (TP/calls), recall" for c in cutoffs)], rows, left=1)
            + f'<p class="muted">{len(results["selected"])} GMIA-selected records. {esc(note)} '
              f'{esc(tpr_convention(results["config"]))}{esc(_tuned(results["config"]))}</p>')


def _tuned(cfg: dict) -> str:
    tuned = (cfg.get("attack_parameters") or {}).get("rmia-offline") or {}
    return (f" rmia-offline's a = {tuned['a']:g}, tuned on the in/out shadows the paper's way." if tuned.get("a_tuned")
            else "")


def _shokri(results: dict) -> str:
    """Shokri et al.'s attack at the paper's confidence, with its precision interval; the paper's
    Table 7 beside it only where the paper ran the data set (no empty paper columns otherwise)."""
    if not results.get("shokri_rows"):
        return ""
    paper = TABLE7.get(results.get("dataset"))
    paper_head = ["paper precision", "paper recall"] if paper is not None else []
    ours = results["shokri_rows"][0]
    rows = [[f"shokri, P(in) > {results['config']['shokri_confidence']:g}", pct(ours["precision"]),
             pct_ci(ours.get("precision_ci")), pct(ours["recall"]), ours["tp"], ours["fp"],
             *([pct(paper.precision), pct(paper.recall)] if paper is not None else [])]]
    rows += [[f"gmia-direct, p < {r['cutoff']:g}", pct(r["precision"]), pct_ci(r.get("precision_ci")), pct(r["recall"]),
              r["tp"], r["fp"], *(["-", "-"] if paper is not None else [])] for r in results.get("gmia_rows", [])]
    title = "Shokri et al.'s attack beside the paper's Table 7" if paper is not None else "Shokri et al.'s attack"
    fpr = results.get("shokri_fpr")
    return (f"<h3>{title}</h3>"
            + table(["attack", "precision", "95% CI", "recall", "TP", "FP", *paper_head], rows, left=1)
            + (f'<p class="muted">On the selected records; Shokri\'s FPR over all non-member pairs: {num(fpr)}.</p>'
               if fpr is not None else ""))


@section
def attacks(results, records):
    if results.get("kind") not in COMPARE:
        return None
    return _attacks(results) + _shokri(results)
