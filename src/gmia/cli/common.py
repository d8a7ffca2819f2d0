"""The command tree and what every command does around the library call: load, check, print."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Membership-inference audits with GMIA.")
reproduce_app = typer.Typer(no_args_is_help=True, help="Reproduce the paper's tables.")
model_app = typer.Typer(no_args_is_help=True, help="Model files: train a target to deploy, or check one.")
keys_app = typer.Typer(no_args_is_help=True, help="API keys of the prediction service.")
data_app = typer.Typer(no_args_is_help=True, help="Data sets too large to bundle.")
app.add_typer(reproduce_app, name="reproduce")
app.add_typer(model_app, name="model")
app.add_typer(keys_app, name="keys")
app.add_typer(data_app, name="data")

err_console = Console(stderr=True)


def _print_version(value: bool) -> None:
    if value:
        from gmia import __version__

        typer.echo(f"gmia {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                                 help="print gmia's version and exit")] = False) -> None:
    """Membership-inference audits with GMIA."""


def register(group: typer.Typer, factory, name: str, doc: str) -> None:
    """Commands made by a factory per variant: typer reads the help text from the docstring."""
    command = factory(name)
    command.__doc__ = doc
    group.command(name)(command)


def console() -> Console:
    # Wide enough for the side-by-side tables when output goes to a file or CI log.
    return Console() if sys.stdout.isatty() else Console(width=170)


def out_folder(out: Optional[Path], command: str, dataset: str) -> Path:
    name = Path(dataset).stem if dataset.lower().endswith(".csv") else dataset
    return out if out is not None else Path("runs") / f"{command}-{name}"


def prepare(v: dict, out: Path, resolve, references: bool = True):
    """Check the run folder, resolve the configuration (``resolve(dataset_name)``), then load
    the data: bad options fail before the data or torch load, in well under a second. Returns
    ``(data, config)``. ``references``: the command trains reference models, so k must fit the
    data (`gmia.settings.config.ProtocolConfig.check_data`); `model train` trains none."""
    from gmia.api.resources import load_dataset  # not gmia.api: it imports every engine
    from gmia.base.io import check_writable, default_cache_dir
    from gmia.data.registry import dataset_name

    check_writable(out, "output folder")
    cfg = resolve(dataset_name(v["dataset"], v.get("schema")))
    data = load_dataset(v["dataset"], v.get("schema"),
                        v["cache_dir"] if v.get("cache_dir") is not None else default_cache_dir())
    cfg = cfg if cfg.dataset == data.name else resolve(data.name)
    if references:
        cfg.check_data(data)
    return data, cfg


def store(cache_dir, executor: str = "local", ray_address: Optional[str] = None, device: str = "cpu",
          workers: Optional[int] = None):
    """The model store (cache folder, executor, device, workers), checked; this loads torch."""
    from gmia.api.resources import make_store

    return make_store(cache_dir, executor, ray_address, device, workers)


def run_command(v: dict, command: str, resolve, execute, render, records: bool = False, before=None):
    """The body every protocol command shares: the run folder, the configuration resolved from
    ``command``'s declared options (``resolve(name, scale=, device=, **options)``), the data, the
    store, then ``execute(data, cfg, store, out)`` (the Python verb) and ``render(result, console,
    cfg, out)``. ``before(console, cfg, data)`` prints what comes before the run."""
    from gmia.settings.options import config_options

    con = console()
    out = out_folder(v["out"], command, v["dataset"])
    data, cfg = prepare(v, out, lambda name: resolve(name, scale=v["scale"], device=v["device"],
                                                     **config_options(command, v)))
    models = store(v["cache_dir"], v["executor"], v["ray_address"], v["device"], v.get("workers"))
    say_scale(con, cfg, v["device"])
    if before is not None:
        before(con, cfg, data)
    result = execute(data, cfg, models, out)
    render(result, con, cfg, out)
    finished(con, out, records=records, store=models)


def say_scale(con: Console, cfg, device: str) -> None:
    """What a reduced setup stands for, or that the paper's CNN on a CPU takes days."""
    from gmia.settings.paper import CPU_SCALE

    if cfg.scale_note is not None:
        con.print(f"Scale: {cfg.scale_note}.", highlight=False)
    elif cfg.dataset in CPU_SCALE and not str(device).startswith("cuda"):
        con.print("Scale: the paper's CNN on a CPU, which takes more than a day at the paper's sizes "
                  "(benchmarks/cnn_throughput.py); --scale cpu is the reduced setup.", style="yellow", highlight=False)


def finished(con: Console, out: Path, records: bool = False, store=None) -> None:
    con.print(f"Results written to {out}/ (results.json{', records.parquet' if records else ''}); "
              f"report: {out / 'report.html'}")
    if store is not None:
        con.print(f"Trained models cached in {store.root}")
