"""Command line: parse, call one library function (gmia.api), print. Bad input → one sentence on stderr, exit 2."""

from __future__ import annotations

import sys

import typer

from gmia.cli import paper, tools, canaries  # noqa: F401  (each registers its commands on the app, in --help order)
from gmia.cli.common import app, err_console
from gmia.base.errors import GmiaError


INTERRUPTED = 130  # the shell's code for a Ctrl-C
INTERRUPTED_TEXT = "interrupted: trained chunks are kept and the next run resumes from them"


def main(argv: list[str] | None = None) -> int:
    try:
        # Without standalone mode click turns a Ctrl-C into its exit code, 130, and returns it
        # instead of raising: a run interrupted mid-training must not exit 0 as if it had finished.
        code = app(args=argv, standalone_mode=False)
        if code == INTERRUPTED:
            err_console.print(INTERRUPTED_TEXT)
        return code if isinstance(code, int) else 0
    except GmiaError as exc:
        # markup=False: a message such as 'expected {"numeric": [str]}' must print as written.
        err_console.print(f"error: {exc}", highlight=False, soft_wrap=True, markup=False)
        return getattr(exc, "exit_code", 2)
    except typer.Abort:
        err_console.print("aborted")
        return INTERRUPTED
    except KeyboardInterrupt:
        err_console.print(INTERRUPTED_TEXT)
        return INTERRUPTED
    except Exception as exc:
        # Usage errors (unknown command, a value of the wrong type) carry their own message and
        # exit code; typer vendors click in some versions, so match by behaviour, not by class.
        if callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()
            return exc.exit_code
        raise


if __name__ == "__main__":
    sys.exit(main())
