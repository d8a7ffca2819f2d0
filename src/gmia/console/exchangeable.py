"""The direct test against exchangeable references, printed beside the paper's
(`gmia reproduce table1 --references exchangeable`; `gmia.protocol.exchangeable`)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from gmia.base.formatting import pct
from gmia.protocol.evaluate import to_plain
from gmia.protocol.exchangeable import pooled_over_seeds


def render_exchangeable(runs, console: Console) -> None:
    """Per test, pooled over seeds: precision and recall on the selected records at each cutoff,
    the largest null fraction over seeds on their non-member pairs, and the FDR calls."""
    firsts = [run.evaluations[0] for run in runs if run.evaluations[0].exchangeable]
    if not firsts:
        return
    x0 = firsts[0].exchangeable
    console.print(f"[bold]Exchangeable references[/bold]: each (target, record) pair tested against {x0['references']} "
                  f"({x0['out_references']['median']:g} per record; selection still uses the paper's references only, so "
                  f"it cannot bias these tests). Rank: exact at every level, smallest p 1/(1 + out-references). "
                  f"Student-t: predictive test on the logit-scaled confidence (default).", highlight=False)
    table = Table(title="Direct inference on the selected records against exchangeable references, pooled over seeds")
    for col in ("test", "cutoff", "TP", "FP", "precision", "recall", "non-member p < .01 / .05 / .1 (worst seed)",
                "FDR calls over all records (q)", "realised FDR (worst seed)", "false of all calls",
                "false calls on a member's twin"):
        table.add_column(col, justify="left" if col == "test" else "right")
    for name, p in pooled_over_seeds([to_plain(ev.exchangeable) for ev in firsts]).items():
        for i, row in enumerate(p["rows"]):
            first = i == 0
            table.add_row(name if first else "", f"{row['cutoff']:g}", str(row["tp"]), str(row["fp"]),
                          "no call" if row["precision"] is None else pct(row["precision"]), pct(row["recall"]),
                          " / ".join(pct(v) for v in p["worst_null"].values()) if first else "",
                          f"{p['calls']} ({p['q']:g})" if first else "", pct(p["worst_fdr"]) if first else "",
                          pct(p["false"] / p["calls"]) if first and p["calls"] else "",
                          f"{p['twins']} of {p['false']}" if first else "")
    console.print(table)
    console.print("Realised FDR: false calls / calls per target (0 without a call), averaged over targets: what BH "
                  "controls. False of all calls: pooled over targets, where a target more confident than the others on "
                  "every record makes many calls, most of them false; it can be far above q. A false call on a member's "
                  "twin is a record whose exact duplicate the target trained on: the target has seen this content.",
                  highlight=False)
