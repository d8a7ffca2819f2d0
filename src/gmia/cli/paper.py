"""`gmia reproduce ...`, `gmia compare` and `gmia defend`: resolve the config, call gmia.api, print.

Each command resolves its configuration (light: no torch) before it makes the model store and
imports the engine, so bad input fails in well under a second (`gmia.cli.common.run_command`).
"""

from __future__ import annotations

from functools import partial

from gmia.base.formatting import fmt_delta
from gmia.cli.build import add
from gmia.cli.common import app, reproduce_app, run_command


def _reproduce(table: str):
    """``execute`` for `run_command`: ``gmia.reproduce(table, ...)``, imported only once the options are checked."""

    def execute(data, cfg, store, out):
        from gmia.api import reproduce

        return reproduce(table, data, config=cfg, store=store, out=out)

    return execute


def _table(table: str):
    def run(v: dict) -> None:
        from gmia.experiments.config import ReproduceConfig

        def render(result, con, cfg, out):
            from gmia.console.reproduce import render  # imports the engine: only after the options are checked

            render(result, con)

        run_command(v, table, partial(ReproduceConfig.resolve, table=table), _reproduce(table), render, records=True)

    return run


add(reproduce_app, "table1", "Direct inference at the paper's δ, β and cutoffs (its Table 1).", _table("table1"))
add(reproduce_app, "table2", "Direct inference at the paper's other selection thresholds (its Table 2), at cutoff 0.01.",
    _table("table2"))


def _table3(v: dict) -> None:
    from gmia.experiments.config import Table3Config

    def render(result, con, cfg, out):
        from gmia.console.table3 import render_table3

        render_table3(result, con)

    run_command(v, "table3", Table3Config.resolve, _reproduce("table3"), render)


add(reproduce_app, "table3", "Indirect inference on one record, never querying it, against direct inference (the paper's "
    "Table 3).", _table3)


def _compare(view: str):
    def run(v: dict) -> None:
        from gmia.comparison.config import CompareConfig

        def execute(data, cfg, store, out):
            from gmia.api import compare

            return compare(data, command=view, config=cfg, store=store, out=out)

        def render(result, con, cfg, out):
            from gmia.console.compare import render_compare, render_table7
            from gmia.settings.paper import TABLE7

            if view == "table7":
                render_table7(result, TABLE7.get(result.dataset), con)
            else:
                render_compare(result, con)

        run_command(v, view, partial(CompareConfig.resolve, command=view), execute, render)

    return run


add(app, "compare", "GMIA beside Shokri, loss, LiRA and RMIA on the same models: AUC, TPR at low FPR, precision on GMIA's "
    "records.", _compare("compare"))
add(reproduce_app, "table7", "Shokri et al.'s attack on GMIA's selected records, beside the paper's Table 7.",
    _compare("table7"))


def _defend(command: str, v: dict, header=None) -> None:
    """``header(cfg, data)``: a line printed before the run (the paper's tables say how they are scaled)."""
    from gmia.defenses.config import DefendConfig, paper_rows
    from gmia.defenses.settings import grid

    if v.get("sweep"):
        grid(v["sweep"])  # bad sweeps fail before any folder or model is touched

    def execute(data, cfg, store, out):
        from gmia.api import defend

        return defend(data, command=command, config=cfg, store=store, out=out)

    def render(result, con, cfg, out):
        from gmia.console.defend import render_defend

        render_defend(result, con, paper_rows(command, cfg))
        con.print(f"Figure: {out / 'tradeoff.png'} and {out / 'tradeoff.svg'}")

    run_command(v, command, partial(DefendConfig.resolve, command=command), execute, render,
                before=None if header is None else lambda con, cfg, data: con.print(header(cfg, data)))


add(app, "defend", "Defences swept over the paper's protocol: test accuracy against GMIA's success, a table and a figure.",
    lambda v: _defend("defend", v))


def _paper_header(table: str):
    def header(cfg, data) -> str:
        other = "" if data.name == "mnist" else f"{data.name} instead of MNIST; "
        if table == "table4":
            values = cfg.sweep[0].partition("=")[2].replace(",", " and ")
            scaled = f"{other}steps {values} (the preset's, and a tenth of it) for the paper's 1,000 and 10,000"
        else:
            scaled = (f"{data.name} instead of MNIST, with {data.name}'s model; " if other else "") + "λ as in the paper"
        return (f"{'Scaled down' if other else 'Setup'}: {scaled}; selection at the paper's delta={fmt_delta(cfg.delta)}, "
                f"beta={cfg.beta:g}.")

    return header


add(reproduce_app, "table4", "Training length as a defence (the paper's Table 4, MNIST), on MNIST or scaled down to Adult "
    "or Cancer.", lambda v: _defend("table4", v, _paper_header("table4")))
add(reproduce_app, "table5", "L2 regularisation as a defence (the paper's Table 5, MNIST), on MNIST or scaled down to "
    "Adult or Cancer.", lambda v: _defend("table5", v, _paper_header("table5")))
