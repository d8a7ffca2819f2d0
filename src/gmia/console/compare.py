"""Print `gmia compare` and `gmia reproduce table7` results as rich tables."""

from __future__ import annotations

import math

from rich.console import Console
from rich.table import Table

from gmia.comparison.run import CompareResult
from gmia.console.reproduce import SHORT_COLUMNS, eps_cells
from gmia.privacy.protocol import privacy_note
from gmia.settings.paper import ShokriPaperRow
from gmia.algorithms.base import describe_text
from gmia.base.formatting import SCALING_TEXT, ci, fmt_delta, pct, tpr_convention


def _ci(lo_hi, digits: int = 3) -> str:
    lo, hi = lo_hi
    return "-" if math.isnan(lo) else f"[{lo:.{digits}f}, {hi:.{digits}f}]"


def _pr(row) -> str:
    return f"{pct(row.precision)} ({row.tp}/{row.tp + row.fp}), {pct(row.recall)}"


def _header(result: CompareResult, console: Console) -> None:
    cfg, spec = result.config, result.config["spec"]
    acc = result.accuracies
    console.print(
        f"[bold]GMIA beside other attacks on {result.dataset}[/bold]: {cfg['n_records']} records; "
        f"{cfg['n_targets']} targets on halves of a {cfg['pool_size']}-record pool; GMIA: k={cfg['k']} reference models; "
        f"LiRA / RMIA / Shokri: {cfg['n_inout']} in/out shadow models (each pool record in half), RMIA population "
        f"{cfg['n_population']} adversary records; "
        + (f"models {describe_text(cfg['algorithm'])}" if cfg.get("algorithm") else
           f"model hidden={tuple(spec['hidden'])} {spec['optimizer']} lr={spec['lr']} steps={spec['steps']} "
           f"batch={spec['batch_size']}") + f"; seed {cfg['seed']}"
    )
    console.print(
        f"Accuracy train/test: targets {acc['target_train']:.4f}/{acc['target_test']:.4f}, GMIA references "
        f"{acc['reference_train']:.4f}/{acc['reference_test']:.4f}, in/out shadows "
        f"{acc['shadow_train']:.4f}/{acc['shadow_test']:.4f}"
    )
    console.print(
        f"Selection: delta={fmt_delta(cfg['delta'])}, beta={cfg['beta']:g}, E[N_n] = {SCALING_TEXT[cfg['scaling']]}, "
        f"features {cfg['features']}: {len(result.selected)} of {result.n_candidates} pool records selected; "
        f"GMIA tail rule {cfg['tail']}"
    )


def render_compare(result: CompareResult, console: Console) -> None:
    """The comparison table: every attack on all pairs, and on the GMIA-selected records."""
    _header(result, console)
    cutoffs = result.config["cutoffs"]
    n_boot = result.config["n_bootstrap"]
    table = Table(title=f"All pool records x all targets (member = positive class; 95% bootstrap CI over targets "
                        f"and records, {n_boot} resamples), and precision / recall on the {len(result.selected)} "
                        "GMIA-selected records")
    table.add_column("attack")
    for col in ("ROC AUC [95% CI]", "TPR @ FPR ≤ 0.1% [95% CI]", "TPR @ FPR ≤ 1% [95% CI]"):
        table.add_column(col, justify="right")
    for c in cutoffs:
        table.add_column(f"@ FPR {c:g}: precision (TP/calls), recall", justify="right")
    for a in result.attacks:
        r = a.roc
        table.add_row(a.name, f"{r.auc:.4f} {_ci(r.auc_ci)}", f"{pct(r.tpr['0.001'])} {ci(r.tpr_ci['0.001'])}",
                      f"{pct(r.tpr['0.01'])} {ci(r.tpr_ci['0.01'])}", *(_pr(row) for row in a.rows))
    if result.gmia_rows:
        table.add_row("gmia (p < cutoff)", "", "", "", *(_pr(row) for row in result.gmia_rows), style="bold")
    if result.exchangeable_rows:
        table.add_row("gmia-exchangeable (p < cutoff)", "", "", "", *(_pr(row) for row in result.exchangeable_rows),
                      style="bold")
    console.print(table)
    console.print(
        "\"@ FPR c\": for every attack, the score threshold whose false-positive rate over all non-member pairs of "
        "the pool is c (set with the true membership, the same way for every attack); precision and recall are then "
        "counted on the selected records only. \"gmia (p < cutoff)\" is GMIA's own decision; its realised "
        "FPR over all non-member pairs: " + ", ".join(f"{v:.4f} at p < {c}" for c, v in result.gmia_fpr.items()) + "."
        + ("" if not result.exchangeable_fpr else " gmia-exchangeable tests each target against the in/out shadows "
           "that did not train on the record (drawn like the targets); its own decision's realised FPR: "
           + ", ".join(f"{v:.4f} at p < {c}" for c, v in result.exchangeable_fpr.items()) + ".")
    )
    console.print(tpr_convention(result.config))
    tuned = (result.config.get("attack_parameters") or {}).get("rmia-offline") or {}
    if tuned.get("a_tuned"):
        console.print(f"rmia-offline's a = {tuned['a']:g}, tuned the paper's way: each of a few in/out shadows plays the "
                      "target and the a with the highest AUC on its own members is kept.")
    low = [f"{a.name} {f:.4f} at {c:g}" for a in result.attacks for c, f in zip(cutoffs, a.realised_fprs) if f < c / 2]
    if low:
        console.print("Scores tied at the threshold are called non-member (no randomised calls); ties leave these "
                      "realised FPRs well below the target: " + ", ".join(low) + ".")
    if result.shokri_rows:
        row = result.shokri_rows[0]
        decision = (f"precision {pct(row.precision)} {ci(row.precision_ci)}, recall {pct(row.recall)} (TP {row.tp}, "
                    f"FP {row.fp})" if row.tp + row.fp else "no pair called member")
        console.print(f"shokri at the paper's confidence P(in) > {row.cutoff:g}: {decision} on the selected records; "
                      f"FPR over all non-member pairs {result.shokri_fpr:.4f}")
    if not result.selected:
        console.print("No record was selected: precision and recall on the selected records are undefined. Try a "
                      "smaller --delta, a larger --beta, or --selection-features centred-logits.", style="yellow")
    _privacy(result, console)
    _times(result, console)


def render_table7(result: CompareResult, paper_row: ShokriPaperRow | None, console: Console) -> None:
    """Shokri et al.'s attack at the paper's confidence beside the paper's Table 7, and GMIA's
    precision on the same records."""
    _header(result, console)
    table = Table(title=f"Table 7: Shokri et al.'s attack on the {len(result.selected)} GMIA-selected records "
                        "(one attack network per class, one hidden layer of 64 ReLU units)")
    # The paper's columns only with the paper's row: a data set it did not run would show them empty.
    paper_cols = ("paper precision", "paper recall") if paper_row else ()
    for col in ("attack", "decision", "precision", "95% CI", "recall", "TP", "FP", *paper_cols):
        table.add_column(col, justify="right")
    for row in result.shokri_rows:
        table.add_row("shokri", f"P(in) > {row.cutoff:g}", pct(row.precision), ci(row.precision_ci), pct(row.recall),
                      str(row.tp), str(row.fp), *((pct(paper_row.precision), pct(paper_row.recall)) if paper_row else ()))
    for row in result.gmia_rows:
        table.add_row("gmia-direct", f"p < {row.cutoff:g}", pct(row.precision), ci(row.precision_ci), pct(row.recall),
                      str(row.tp), str(row.fp), *(("-", "-") if paper_row else ()))
    console.print(table)
    if paper_row is not None and result.shokri_rows and not math.isclose(result.shokri_rows[0].cutoff, paper_row.confidence):
        console.print(f"Note: Shokri was run at confidence {result.shokri_rows[0].cutoff:g}, the paper's is "
                      f"{paper_row.confidence:g}.", style="yellow")
    if not result.selected:
        console.print("No record was selected: Table 7's precision is undefined. Try --selection-features "
                      "centred-logits or other --delta / --beta.", style="yellow")
    _privacy(result, console)
    _times(result, console)


def _privacy(result: CompareResult, console: Console) -> None:
    """The ε lower bound each attack's scores prove, over all pairs and the selected records."""
    bounds = next((a.privacy["all"] for a in result.attacks if a.privacy.get("all")), None)
    if bounds is None:  # a result computed before the bounds existed
        return
    table = Table(title="Empirical privacy: epsilon lower bounds each attack proves (member = positive class)")
    table.add_column("attack", no_wrap=True)
    for col in (*(f"all: {c}" for c in SHORT_COLUMNS), *(f"{len(result.selected)} selected: {c}" for c in SHORT_COLUMNS),
                "per-record ε ≥"):
        table.add_column(col, justify="right")
    for a in result.attacks:
        rec = a.privacy.get("per_record")
        table.add_row(a.name, *eps_cells(a.privacy.get("all")), *eps_cells(a.privacy.get("selected")),
                      "-" if not rec else f"{rec['epsilon']:.3f}")
    console.print(table)
    console.print(privacy_note(bounds) + ".", highlight=False)


def _times(result: CompareResult, console: Console) -> None:
    stages = {n: v for n, v in result.seconds.items() if not n.startswith("attack ")}
    attacks = {n[len("attack "):]: v for n, v in result.seconds.items() if n.startswith("attack ")}
    slowest = max(attacks, key=attacks.get) if attacks else None
    text = ", ".join(f"{n} {v:.1f}s" for n, v in stages.items())
    if slowest:
        text += f", scoring attacks {sum(attacks.values()):.1f}s (slowest {slowest} {attacks[slowest]:.1f}s)"
    console.print(f"Time per stage: {text}; total {result.wall_seconds:.1f}s")
