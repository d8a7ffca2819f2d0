"""Terminal output of `gmia defend` and `gmia reproduce table4|table5`."""

from __future__ import annotations

import math

from rich.console import Console
from rich.table import Table

from gmia.console.reproduce import SHORT_COLUMNS, eps_cells
from gmia.privacy.protocol import privacy_note
from gmia.base.formatting import fmt_epsilon, pct
from gmia.stats.roc import roc_figure


def _eps(row) -> str:
    if not row.dp:
        return "-"
    e = row.dp["epsilon"]
    return fmt_epsilon(e) if e is None or math.isinf(e) else f"{fmt_epsilon(e)} (σ={row.dp['noise']:.3g})"


def _eps_replace_one(row) -> str:
    """The accountant's ε for the bounds' relation (replace-one, by group privacy)."""
    e = (row.dp or {}).get("epsilon_replace_one")
    return "-" if e is None else fmt_epsilon(e)


def render_defend(result, console: Console, paper: dict | None = None) -> None:
    cfg = result.config
    console.print(
        f"[bold]Defences on {result.dataset}[/bold]: {len(result.rows)} settings, each the full protocol (k={cfg['k']}, "
        f"{cfg['n_targets']} targets, N={cfg['n_train']}); selection delta={cfg['delta']:g}, beta={cfg['beta']:g} on "
        f"{cfg['features']}; cutoff p < {cfg['cutoff']:g}; DP delta={cfg['dp_delta']:g}, clipping norm {cfg['dp_clip']:g} "
        f"unless swept; the adversary mirrors each setting"
    )
    n_base = result.rows[0].baseline_records.get("n", 0) if result.rows else 0
    table = Table(title="Utility against attack success per setting")
    cols = ["setting", "epsilon", "train acc", "test acc", "selected", "precision [95% CI]", "recall", "TP", "FP", "AUC", "TPR@0.1%FPR",
            f"baseline {n_base} records: precision / recall"]
    # The paper's column only where one of these settings is one of the paper's.
    paper = paper if paper and any(r.label in paper for r in result.rows) else None
    if paper:
        cols.append("paper (MNIST)")
    for c in cols:
        table.add_column(c, justify="left" if c in ("setting", "paper (MNIST)") else "right")
    for r in result.rows:
        lo, hi = r.precision_ci
        b = r.baseline_records
        row = [r.label + (f" ({r.dropped} dropped)" if r.dropped else ""), _eps(r), f"{r.train_accuracy:.3f}", f"{r.test_accuracy:.3f}", str(r.n_selected),
               f"{pct(r.precision)} [{pct(lo)}, {pct(hi)}]", pct(r.recall), str(r.tp), str(r.fp),
               f"{roc_figure(r.roc):.3f}", pct(roc_figure(r.roc, "0.001")),
               f"{pct(b.get('precision', float('nan')))} / {pct(b.get('recall', float('nan')))}"]
        if paper:
            row.append(paper.get(r.label, ""))
        table.add_row(*row)
    console.print(table)
    bounds = next((r.privacy["all"] for r in result.rows if r.privacy.get("all")), None)
    if bounds is not None:  # absent from results computed before the bounds existed
        _render_bounds(result, console)
        console.print(privacy_note(bounds) + ". The accountant's epsilon is an add/remove upper bound; the protocol's "
                      "bounds are about replace-one neighbours (in- and out-targets both train on N records), so they are "
                      "set beside the accountant's replace-one epsilon (group privacy: 2ε at δ/(1 + e^ε)), and only a proven "
                      "lower bound above that one is a flaw in the accounting or the training.", highlight=False)
        for f in result.flagged():
            console.print(f"[red]FLAG[/red] {f}", highlight=False)
    for w in result.warnings:
        console.print(f"[yellow]warning:[/yellow] {w}", highlight=False)


def _render_bounds(result, console: Console) -> None:
    """The accountant's ε (an upper bound) beside the lower bounds GMIA's p-values prove at the same δ."""
    table = Table(title="What GMIA proves about replace-one epsilon per setting")
    table.add_column("setting", no_wrap=True)
    for c in ("accountant: add/remove", "accountant: replace-one", *(f"all: {c}" for c in SHORT_COLUMNS[1:]),
              *(f"selected: {c}" for c in SHORT_COLUMNS), "per-record ε ≥"):
        table.add_column(c, justify="right")
    for r in result.rows:
        rec = r.privacy.get("per_record")
        table.add_row(r.label, _eps(r), _eps_replace_one(r), *eps_cells(r.privacy.get("all"))[1:],
                      *eps_cells(r.privacy.get("selected")), "-" if not rec else f"{rec['epsilon']:.3f}")
    console.print(table)
