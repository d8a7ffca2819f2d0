"""Commands built from the option declarations (`gmia.settings.options`): one declaration per
option gives the flag, its type, default and help; the command's body gets the values by their
Python keyword, the same keywords the Python verbs take."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Optional

import typer

from gmia.settings.options import COMMANDS, Option


def _parameter(option: Option) -> inspect.Parameter:
    kind = list[option.type] if option.repeat else option.type
    needed = option.required and option.default is None
    annotation = Annotated[kind if needed else Optional[kind], typer.Option(option.cli, help=option.help)]
    default = inspect.Parameter.empty if needed else option.default
    return inspect.Parameter(option.key, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


def command(name: str, doc: str, run: Callable[[dict], None]) -> Callable:
    """A typer command for ``COMMANDS[name]`` that calls ``run(values)``, ``values`` keyed by
    each option's Python keyword (None where not given)."""
    params = [_parameter(o) for o in COMMANDS[name]]

    def body(**values):
        return run(values)

    body.__signature__ = inspect.Signature(params)
    body.__annotations__ = {p.name: p.annotation for p in params}
    body.__doc__ = doc
    body.__name__ = name.replace(" ", "_").replace("-", "_")
    return body


def add(group: typer.Typer, name: str, doc: str, run: Callable[[dict], None]) -> None:
    """Register the command ``name`` (its last word on the command line) on ``group``."""
    group.command(name.split()[-1])(command(name, doc, run))
