"""Print a reproduction's results beside the paper's, as rich tables."""

from __future__ import annotations

import math

from rich.console import Console
from rich.table import Table

from gmia.algorithms.base import describe_text
from gmia.stats.calibration import resolution_note
from gmia.protocol.evaluate import CutoffRow
from gmia.privacy.protocol import bound_figures, privacy_note
from gmia.base.formatting import SCALING_TEXT, ci, pct, fmt_delta
from gmia.settings.paper import PaperSetting
from gmia.stats.select import delta_rule_text
from gmia.stats.roc import roc_figure
from gmia.experiments.reproduce import ReproduceResult
from gmia.console.exchangeable import render_exchangeable


def _paper_row(paper: tuple[PaperSetting, ...], delta, beta, cutoff):
    if delta is None:  # derived from the data: not a setting the paper ran
        return None, None
    for s in paper:
        if math.isclose(s.delta, delta) and math.isclose(s.beta, beta):
            for r in s.rows:
                if math.isclose(r.cutoff, cutoff):
                    return s, r
            return s, None
    return None, None


PAPER_COLUMNS = ("paper # sel.", "paper precision", "paper recall", "paper TP", "paper FP")


def _paper_cells(result: ReproduceResult, pooled, prow) -> tuple[str, ...]:
    """The paper's # selected, precision, recall, TP and FP at this setting and cutoff ("" where it has none)."""
    setting, paper_row = _paper_row(result.paper, pooled.delta, pooled.beta, prow.cutoff)
    return (
        str(setting.n_selected) if setting and setting.n_selected is not None else "",
        pct(paper_row.precision) if paper_row else "",
        pct(paper_row.recall) if paper_row else "",
        "" if paper_row is None or paper_row.tp is None else str(paper_row.tp),
        "" if paper_row is None or paper_row.fp is None else str(paper_row.fp),
    )


def _pvalue_text(result: ReproduceResult) -> str:
    ev = result.runs[0].evaluations[0]
    if ev.pvalues_kind == "raw":
        return "raw p-values (the paper's)"
    how = "within each class" if ev.calibrated_by_class else "over all classes"
    return (f"calibrated p-values (ranked {how} among the raw p-values of {ev.n_calibration} population records "
            "held out of the references)")


EPS_COLUMNS = ("members / non-members", "D", "ε ≥ (CP)", "GDP est.")
SHORT_COLUMNS = ("pairs", "D", "ε ≥ (CP)", "GDP est.")  # the same, where two sides share a table


def eps_cells(bounds: dict | None) -> tuple[str, str, str, str]:
    """(pairs, design effect, ε ≥ CP, GDP estimate) of one `gmia.protocol.evaluate.privacy_bounds` side;
    "-" where it had too few pairs."""
    if not bounds:
        return "-", "-", "-", "-"
    cp, gdp, _, d = bound_figures(bounds)
    return f"{bounds['n_members']} / {bounds['n_nonmembers']}", f"{d:.2f}", f"{cp:.3f}", f"{gdp:.3f}"


def _privacy(result: ReproduceResult, console: Console) -> None:
    """What GMIA's raw p-values prove about the targets' privacy, per seed: all pool records,
    then the records each (δ, β) setting selects."""
    first = result.runs[0].evaluations[0].privacy.get("all")
    if not first:
        return
    table = Table(title="Empirical privacy: epsilon lower bounds from GMIA's raw p-values (member = positive class)")
    for col in ("seed", "pairs", *EPS_COLUMNS, "per-record ε ≥"):
        table.add_column(col, justify="left" if col == "pairs" else "right")
    for run in result.runs:
        table.add_row(str(run.seed), "all pool records x all targets", *eps_cells(run.evaluations[0].privacy["all"]), "")
        for ev in run.evaluations:
            r = ev.privacy.get("per_record")
            table.add_row(str(run.seed), f"selected at delta={fmt_delta(ev.delta)}, beta={ev.beta:g}",
                          *eps_cells(ev.privacy["selected"]), "-" if not r else f"{r['epsilon']:.3f}")
    console.print(table)
    console.print(privacy_note(first) + ".", highlight=False)


def render(result: ReproduceResult, console: Console) -> None:
    cfg = result.config
    spec = cfg["spec"]
    console.print(
        f"[bold]GMIA direct inference, {result.table} on {result.dataset}[/bold]: "
        f"{cfg['n_records']} records, {cfg['n_features']} features; k={cfg['k']} reference models, "
        f"{cfg['n_targets']} targets; " + (f"model hidden={tuple(spec['hidden'])} {spec['optimizer']} lr={spec['lr']} "
        f"steps={spec['steps']} batch={spec['batch_size']}" if not cfg.get("algorithm") else
        f"models {describe_text(cfg['algorithm'])}") + f"; E[N_n] = {SCALING_TEXT[cfg['scaling']]}; "
        f"tail rule below the smallest reference loss: {cfg['tail']}; selection features: {cfg['features']}; "
        f"reference training sets: {cfg['reference_sampling']}; verdicts on {_pvalue_text(result)}"
    )

    first = result.runs[0].evaluations[0]
    note = resolution_note(first.n_calibration, min(cfg["cutoffs"])) if first.pvalues_kind == "calibrated" else None
    if note:
        console.print(f"Warning: {note}.", style="yellow")
    for i, pooled in enumerate(result.pooled):
        if pooled.delta is None:
            console.print(f"{delta_rule_text()}: " + ", ".join(
                f"seed {run.seed}: {run.evaluations[i].delta:.4g}" for run in result.runs) + f" (beta={pooled.beta:g})")

    acc = Table(title="Accuracy (mean over models)")
    for col in ("seed", "target train", "target test", "gap", "reference train", "reference test"):
        acc.add_column(col, justify="right")
    for run in result.runs:
        a = run.accuracies
        acc.add_row(str(run.seed), f"{a['target_train']:.4f}", f"{a['target_test']:.4f}",
                    f"{a['target_train'] - a['target_test']:+.4f}", f"{a['reference_train']:.4f}", f"{a['reference_test']:.4f}")
    if result.paper_accuracy:
        acc.add_row("paper", f"{result.paper_accuracy[0]:.2f}", f"{result.paper_accuracy[1]:.2f}",
                    f"{result.paper_accuracy[0] - result.paper_accuracy[1]:+.2f}", "", "")
    console.print(acc)

    # The paper's columns only where some row has the paper's numbers: a CSV data set, or a
    # bundled one at settings the paper did not run, would show five empty columns.
    paper_of = {(i, j): _paper_cells(result, pooled, prow) for i, pooled in enumerate(result.pooled)
                for j, prow in enumerate(pooled.rows)}
    with_paper = any(any(cells) for cells in paper_of.values())
    main = Table(title=f"Direct inference on the selected records (pairs: record x target), {result.runs[0].evaluations[0].pvalues_kind} p-values")
    for col in ("delta", "beta", "cutoff", "seed", "# selected", "precision", "95% CI", "recall", "TP", "FP",
                *(PAPER_COLUMNS if with_paper else ())):
        main.add_column(col, justify="right")
    for i, pooled in enumerate(result.pooled):
        for j, prow in enumerate(pooled.rows):
            paper_cells = paper_of[i, j] if with_paper else ()
            rows = [(str(run.seed), run.evaluations[i].rows[j], len(run.evaluations[i].selected)) for run in result.runs]
            if len(result.runs) > 1:
                rows.append(("pooled", prow, sum(pooled.n_selected)))
            for n, (label, row, n_sel) in enumerate(rows):
                last = n == len(rows) - 1
                main.add_row(f"{fmt_delta(pooled.delta)}", f"{pooled.beta:g}", f"{prow.cutoff:g}", label, str(n_sel),
                             pct(row.precision), ci(row.precision_ci), pct(row.recall), str(row.tp), str(row.fp),
                             *(paper_cells if last else ("",) * len(paper_cells)))
    console.print(main)
    for pooled in result.pooled:
        if sum(pooled.n_selected) == 0:
            console.print(
                f"No record was selected at delta={fmt_delta(pooled.delta)}, beta={pooled.beta:g} in any seed: every candidate "
                "has a neighbour among the adversary's records. Try a smaller --delta, a larger --beta, or "
                "--selection-features centred-logits (docs/reproduction.md).",
                style="yellow",
            )

    kinds = Table(title="Raw (the paper's) against calibrated p-values on the selected records, pooled over seeds")
    for col in ("delta", "beta", "cutoff", "p-value", "precision", "95% CI", "recall", "TP", "FP"):
        kinds.add_column(col, justify="right")
    for i, pooled in enumerate(result.pooled):
        for kind in result.runs[0].evaluations[i].rows_by_pvalues:
            used = " (used)" if kind == result.runs[0].evaluations[i].pvalues_kind else ""
            for row in CutoffRow.pooled([r.evaluations[i].rows_by_pvalues[kind] for r in result.runs]):
                kinds.add_row(f"{fmt_delta(pooled.delta)}", f"{pooled.beta:g}", f"{row.cutoff:g}", kind + used, pct(row.precision),
                              ci(row.precision_ci), pct(row.recall), str(row.tp), str(row.fp))
    console.print(kinds)

    sel = Table(title="Selection: records each E[N_n] scaling and each feature kind selects, and exact duplicates")
    feature_kinds = tuple(result.runs[0].evaluations[0].count_by_features)
    for col in ("delta", "beta", "seed", "candidates", "N'_n x N/N'", "N'_n x N'/N",
                *(f"on {kind}" + (" (used)" if kind == cfg["features"] else "") for kind in feature_kinds),
                "with a twin in the pool", "precision without twins (first cutoff)"):
        sel.add_column(col, justify="right")
    for i, pooled in enumerate(result.pooled):
        for run in result.runs:
            ev = run.evaluations[i]
            sel.add_row(f"{fmt_delta(ev.delta)}", f"{ev.beta:g}", str(run.seed), str(ev.n_candidates),
                        str(ev.count_by_scaling["n_over_nprime"]), str(ev.count_by_scaling["nprime_over_n"]),
                        *(str(ev.count_by_features[kind]) for kind in feature_kinds),
                        str(ev.n_selected_with_twin), pct(ev.rows_without_twins[0].precision))
    console.print(sel)

    tails = Table(title="Tail rule below the smallest reference loss (first setting, pooled over seeds, "
                        f"{result.runs[0].evaluations[0].pvalues_kind} p-values)")
    for col in ("tail rule", "cutoff", "precision", "recall", "TP", "FP"):
        tails.add_column(col, justify="right")
    for rule in result.runs[0].evaluations[0].tail_comparison:
        used = " (used)" if rule == result.config["tail"] else ""
        for row in CutoffRow.pooled([r.evaluations[0].tail_comparison[rule] for r in result.runs]):
            tails.add_row(rule + used, f"{row.cutoff:g}", pct(row.precision), pct(row.recall), str(row.tp), str(row.fp))
    console.print(tails)

    cal = Table(title="Calibration: fraction of p < alpha where the record is not in the target's training set")
    for col in ("seed", "check", "alpha=0.01", "alpha=0.05", "alpha=0.1"):
        cal.add_column(col, justify="right")
    alphas = ("0.01", "0.05", "0.1")
    for run in result.runs:
        ev = run.evaluations[0]
        checks = [("protocol's non-member pairs (all pool records), raw p", ev.calibration),
                  ("same, calibrated p", ev.calibration_calibrated),
                  ("same, raw p, records with no exact twin in the pool", ev.calibration_without_twins),
                  *((f"selected records' non-member pairs, {kind} p", fr) for kind, fr in ev.calibration_selected.items())]
        for label, fractions in checks:
            if fractions:
                cal.add_row(str(run.seed), label, *(f"{fractions[a]:.4f}" for a in alphas))
        if run.reference_calibration:
            cal.add_row(str(run.seed), "each reference model as target vs the others (H_out exact)",
                        *(f"{run.reference_calibration[a]:.4f}" for a in ("0.01", "0.05", "0.1")))
    console.print(cal)

    every = Table(title="All pool records x all targets (member = positive class)")
    for col in ("seed", "ROC AUC", "TPR @ 0.1% FPR", "TPR @ 1% FPR"):
        every.add_column(col, justify="right")
    for run in result.runs:
        ev = run.evaluations[0]
        every.add_row(str(run.seed), f"{roc_figure(ev.roc):.4f}", pct(roc_figure(ev.roc, "0.001")),
                      pct(roc_figure(ev.roc, "0.01")))
    console.print(every)
    render_exchangeable(result.runs, console)
    _privacy(result, console)

    stages: dict[str, float] = {}
    for run in result.runs:
        for name, sec in run.seconds.items():
            stages[name] = stages.get(name, 0.0) + sec
    console.print("Time per stage: " + ", ".join(f"{n} {s:.1f}s" for n, s in stages.items())
                  + f"; total {result.wall_seconds:.1f}s")
