"""Command line: parse, call one library function (gmia.api), print. Bad input → one sentence on stderr, exit 2."""

from __future__ import annotations

import sys

import typer

from gmia.cli import paper, tools, canaries  # noqa: F401  (each registers its commands on the app, in --help order)
from gmia.cli.common import app, err_console
from gmia.errors import GmiaError


def main(argv: list[str] | None = None) -> int:
    try:
        app(args=argv, standalone_mode=False)
    except GmiaError as exc:
        # markup=False: a message such as 'expected {"numeric": [str]}' must print as written.
        err_console.print(f"error: {exc}", highlight=False, soft_wrap=True, markup=False)
        return getattr(exc, "exit_code", 2)
    except typer.Abort:
        err_console.print("aborted")
        return 130
    except KeyboardInterrupt:
        err_console.print("interrupted: trained chunks are kept and the next run resumes from them")
        return 130
    except Exception as exc:
        # Usage errors (unknown command, a value of the wrong type) carry their own message and
        # exit code; typer vendors click in some versions, so match by behaviour, not by class.
        if callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()
            return exc.exit_code
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
