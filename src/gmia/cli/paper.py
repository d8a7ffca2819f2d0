"""`gmia reproduce ...`, `gmia compare` and `gmia defend`: resolve the config, call gmia.api, print.

Each command resolves its configuration (light: no torch) before it makes the model store and
imports the engine, so bad input fails in well under a second.
"""

from __future__ import annotations

from gmia.base.formatting import fmt_delta
from gmia.cli.build import add
from gmia.cli.common import app, console, finished, prepare, out_folder, reproduce_app, say_scale, store
from gmia.settings.options import config_options


def _store(v: dict):
    return store(v["cache_dir"], v["executor"], v["ray_address"], v["device"], v.get("workers"))


def _table(table: str):
    def run(v: dict) -> None:
        from gmia.experiments.config import ReproduceConfig

        con = console()
        out = out_folder(v["out"], table, v["dataset"])
        data, cfg = prepare(v, out, lambda name: ReproduceConfig.resolve(
            name, table=table, scale=v["scale"], device=v["device"], **config_options(table, v)))
        models = _store(v)
        say_scale(con, cfg, v["device"])
        from gmia.api import reproduce
        from gmia.console.reproduce import render

        result = reproduce(table, data, config=cfg, store=models, out=out)
        render(result, con)
        finished(con, out, records=True, store=models)

    return run


add(reproduce_app, "table1", "Direct inference at the paper's δ, β and cutoffs (its Table 1).", _table("table1"))
add(reproduce_app, "table2", "Direct inference at the paper's other selection thresholds (its Table 2), at cutoff 0.01.",
    _table("table2"))


def _table3(v: dict) -> None:
    from gmia.experiments.config import Table3Config

    con = console()
    out = out_folder(v["out"], "table3", v["dataset"])
    data, cfg = prepare(v, out, lambda name: Table3Config.resolve(
        name, scale=v["scale"], device=v["device"], **config_options("table3", v)))
    models = _store(v)
    say_scale(con, cfg, v["device"])
    from gmia.api import reproduce
    from gmia.console.table3 import render_table3

    result = reproduce("table3", data, config=cfg, store=models, out=out)
    render_table3(result, con)
    finished(con, out, store=models)


add(reproduce_app, "table3", "Indirect inference on one record, never querying it, against direct inference (the paper's "
    "Table 3).", _table3)


def _compare(view: str):
    def run(v: dict) -> None:
        from gmia.comparison.config import CompareConfig

        con = console()
        out = out_folder(v["out"], view, v["dataset"])
        data, cfg = prepare(v, out, lambda name: CompareConfig.resolve(
            name, command=view, scale=v["scale"], device=v["device"], **config_options(view, v)))
        models = _store(v)
        say_scale(con, cfg, v["device"])
        from gmia.api import compare
        from gmia.console.compare import render_compare, render_table7
        from gmia.settings.paper import TABLE7

        result = compare(data, command=view, config=cfg, store=models, out=out)
        if view == "table7":
            render_table7(result, TABLE7.get(data.name), con)
        else:
            render_compare(result, con)
        finished(con, out, store=models)

    return run


add(app, "compare", "GMIA beside Shokri, loss, LiRA and RMIA on the same models: AUC, TPR at low FPR, precision on GMIA's "
    "records.", _compare("compare"))
add(reproduce_app, "table7", "Shokri et al.'s attack on GMIA's selected records, beside the paper's Table 7.",
    _compare("table7"))


def _defend(command: str, v: dict, header=None) -> None:
    """``header(cfg, data)``: a line printed before the run (the paper's tables say how they are scaled)."""
    from gmia.defenses.config import DefendConfig, paper_rows
    from gmia.defenses.settings import grid

    con = console()
    if v.get("sweep"):
        grid(v["sweep"])  # bad sweeps fail before any folder or model is touched
    out = out_folder(v["out"], command, v["dataset"])
    data, cfg = prepare(v, out, lambda name: DefendConfig.resolve(
        name, command=command, scale=v["scale"], device=v["device"], **config_options(command, v)))
    models = _store(v)
    say_scale(con, cfg, v["device"])
    if header:
        con.print(header(cfg, data))
    from gmia.api import defend
    from gmia.console.defend import render_defend

    result = defend(data, command=command, config=cfg, store=models, out=out)
    render_defend(result, con, paper_rows(command, cfg))
    con.print(f"Figure: {out / 'tradeoff.png'} and {out / 'tradeoff.svg'}")
    finished(con, out, store=models)


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
