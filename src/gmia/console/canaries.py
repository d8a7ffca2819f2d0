"""Terminal output of `gmia audit-dp`."""

from __future__ import annotations

import math

from rich.console import Console
from rich.table import Table

from gmia.base.formatting import fmt_epsilon, num
from gmia.privacy.one_run import exceeds_accountant


def meaning(result) -> str:
    """What the bounds say, in one paragraph."""
    cfg = result.config
    b = next((b for s in result.sources for b in s.bounds.values()), None)
    grid = f"the {len(b['grid'])} (k+, k−) guess counts tried" if b else "the guess counts tried"
    return (f"Each bound is an ε below which (ε, δ={cfg['dp_delta']:g})-DP training would have given this many right "
            f"guesses with probability under {100 * (1 - cfg['confidence']):g}%: it holds with {100 * cfg['confidence']:g}% "
            f"confidence, Bonferroni-corrected over {grid}. The auditor guesses IN for the k+ highest-scoring canaries and "
            f"OUT for the k− lowest. The coins add or remove each canary, so the bounds are about add/remove ε, the "
            f"accountant's relation: a Steinke bound above the accountant's ε means the training is not as private as "
            f"claimed. The f-DP figure is an estimate (the ε if the trade-off curve is Gaussian), never a flag.")


def render_audit_dp(result, console: Console) -> None:
    cfg, refs = result.config, result.references
    eps = cfg["dp_epsilon"]
    dp = ("without DP" if eps is None or math.isinf(eps)
          else f"DP-SGD at epsilon={eps:g}, delta={cfg['dp_delta']:g}, clipping norm {cfg['dp_clip']:g} "
               f"({str(cfg['accountant']).upper()} accountant)")
    console.print(
        f"[bold]One-run audit on {result.dataset}[/bold]: {cfg['canaries']} canaries per source, each in the target's "
        f"training set with probability 1/2 beside N={cfg['n_train']} other pool records; {dp}. Scored against "
        f"k={refs['k']} reference models that hold no canary ({refs['seconds']:.1f}s), RMIA's population "
        f"{cfg['n_population']} calibration records.", highlight=False)
    table = Table(title="Epsilon lower bounds per canary source and attack")
    for c in ("source", "attack", "ε ≥ (Steinke, add/remove)", "f-DP est. (Gaussian curve)", "correct / guesses", "k+ / k−",
              "accountant ε (add/remove)", "target train / test acc", "seconds"):
        table.add_column(c, justify="left" if c in ("source", "attack") else "right")
    for s in result.sources:
        first = True
        for attack, b in s.bounds.items():
            acc_eps = fmt_epsilon(s.accountant_epsilon) if s.dp else "-"
            style = "bold red" if exceeds_accountant(b, s.accountant_epsilon) else None
            table.add_row(s.source if first else "", attack, f"{b['epsilon']:.3f}", num(b.get("epsilon_fdp"), 3),
                          f"{b['correct']} / {b['guesses']}", f"{b['k_plus']} / {b['k_minus']}",
                          acc_eps if first else "",
                          f"{s.train_accuracy:.3f} / {s.test_accuracy:.3f}" if first else "",
                          f"{s.seconds:.1f}" if first else "", style=style)
            first = False
        table.add_section()
    console.print(table)
    console.print(meaning(result), highlight=False)
    for s in result.sources:
        for attack, b in s.bounds.items():
            if exceeds_accountant(b, s.accountant_epsilon):
                console.print(f"[red]warning:[/red] {s.source} canaries, {attack}: the Steinke bound "
                              f"{b['epsilon']:.3g} exceeds the accountant's add/remove epsilon "
                              f"{s.accountant_epsilon:.3g}: the training does not give the guarantee it claims",
                              highlight=False)
    for w in result.warnings:
        console.print(f"[yellow]warning:[/yellow] {w}", highlight=False)
