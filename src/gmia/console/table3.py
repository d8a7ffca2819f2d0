"""Terminal output of `gmia reproduce table3`: direct against indirect inference on one record."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from gmia.attacks.indirect_null import NOT_CALIBRATED, null_check_words
from gmia.data.records import class_of_readable
from gmia.experiments.table3 import Table3Result
from gmia.base.formatting import pct
from gmia.settings.paper import PRESETS


def render_table3(result: Table3Result, console: Console) -> None:
    console.print(
        f"[bold]GMIA indirect inference, table3 on {result.dataset}[/bold]: record {result.record} (class "
        f"{class_of_readable(result.card.get('features'), result.label)}; {result.chosen_by}; N'_n = {result.neighbours}); theta={result.config['theta']}, "
        f"{result.n_candidates} random queries -> {result.n_medoids} medoids -> {result.n_enhancing} enhancing "
        f"({result.n_optimised} after optimisation); distance to the record: min {result.distance['min']:.3f}, "
        f"median {result.distance['median']:.3f}, max {result.distance['max']:.3f}; {result.queries_sent} queries "
        f"sent to each target, none of them the record or a duplicate of it"
    )
    paper = {r.cutoff: r for r in PRESETS[result.dataset].table3} if result.dataset in PRESETS else {}
    # The paper's columns only when one of our cutoffs is one of the paper's: otherwise they are empty.
    with_paper = any(d.cutoff in paper for d in result.direct)
    table = Table(title=f"Direct vs indirect inference on record {result.record} over {result.config['n_targets']} targets")
    for col in ("cutoff", "direct precision", "direct recall", "TP", "FP", "indirect precision", "indirect recall",
                "TP ", "FP ", *(("paper direct", "paper indirect") if with_paper else ())):
        table.add_column(col, justify="right")
    fmt = lambda v: "none" if v is None else f"{pct(v[0])} / {pct(v[1])}"  # noqa: E731
    for d, i in zip(result.direct, result.indirect):
        pr = paper.get(d.cutoff)
        table.add_row(f"{d.cutoff:g}", pct(d.precision), pct(d.recall), str(d.tp), str(d.fp),
                      pct(i.precision), pct(i.recall), str(i.tp), str(i.fp),
                      *(((fmt(pr.direct), fmt(pr.indirect)) if pr else ("-", "-")) if with_paper else ()))
    console.print(table)
    render_null_check(result, console)
    console.print("Time per stage: " + ", ".join(f"{n} {s:.1f}s" for n, s in result.seconds.items()))


def render_null_check(result: Table3Result, console: Console) -> None:
    """The indirect test on population records in place of the record: its null calls per cutoff."""
    null = result.null_check
    if not null.get("records"):
        console.print("Null check of the indirect test: off (--null-records 0, or no calibration record)")
        return
    n_targets = result.config["n_targets"]
    table = Table(title=f"Null check: the same pipeline on {len(null['records'])} population records of class "
                        f"{class_of_readable(result.card.get('features'), result.label)} no model trained on ({', '.join(map(str, null['records']))}), in place of "
                        f"record {result.record}")
    for col in ("cutoff", "null calls", "pairs", "fraction", "95% upper bound", "P(Bin(n, cutoff) >= calls)", "check",
                "indirect verdicts"):
        table.add_column(col, justify="left" if col == "indirect verdicts" else "right")
    for cutoff in result.config["cutoffs"]:
        at = result.null_at(cutoff)
        verdicts = result.indirect_verdicts.get(f"{cutoff:g}", [])
        flagged = sum(v == NOT_CALIBRATED for v in verdicts)
        shown = (f"{NOT_CALIBRATED} ({flagged} of {n_targets} targets)" if flagged
                 else f"membership claims ({sum(v == 'member' for v in verdicts)} member)")
        table.add_row(f"{cutoff:g}", str(at.get("calls")), str(at.get("pairs")), pct(at.get("fraction")),
                      pct(at.get("upper_bound", float("nan"))), f"{at.get('excess_p', float('nan')):.3g}",
                      null_check_words(at), shown)
    console.print(table)
    if null.get("stopped"):
        console.print(f"[yellow]Null check stopped early:[/yellow] {null['stopped']}", highlight=False)
