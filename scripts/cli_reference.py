"""docs/cli.md's option tables, written from the declarations in `gmia.settings.options`.

    .venv/bin/python scripts/cli_reference.py          # rewrite the tables in docs/cli.md
    .venv/bin/python scripts/cli_reference.py --check  # exit 1 if they are not what the code declares

The tables sit between the markers ``<!-- options: begin -->`` and ``<!-- options: end -->``;
the rest of the page is prose written by hand. tests/test_docs.py runs ``--check``.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "cli.md"
BEGIN, END = "<!-- options: begin -->", "<!-- options: end -->"
TITLES = {"table1": "gmia reproduce table1", "table2": "gmia reproduce table2", "table3": "gmia reproduce table3",
          "table4": "gmia reproduce table4", "table5": "gmia reproduce table5", "table7": "gmia reproduce table7"}


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|")


def _default(option) -> str:
    if option.required and option.default is None:
        return "required"
    if option.default is None:
        return "preset"
    if isinstance(option.default, float) and math.isinf(option.default):
        return "inf"
    return f"`{option.default}`"


def tables() -> str:
    sys.path.insert(0, str(ROOT / "src"))
    from gmia.settings.options import COMMANDS

    parts = [BEGIN, "", "Generated from `gmia.settings.options` by `scripts/cli_reference.py`; the Python verbs take the "
             "same options under the keyword in the second column (a repeatable option as a tuple). *preset*: the "
             "data set's and command's default ([Data sets](data.md)); *CLI only*: Python hands over an object instead "
             "(the target itself, the HTTP client's settings).", ""]
    for command, options in COMMANDS.items():
        parts += [f"### `{TITLES.get(command, 'gmia ' + command)}`", "",
                  "| option | Python | default | meaning | the paper's |", "|---|---|---|---|---|"]
        for o in options:
            flag = f"`{o.cli}`" + (" (repeatable)" if o.repeat else "")
            python = "CLI only" if o.cli_only else f"`{o.key}`"
            meaning = _cell(o.help) + (f"; {o.doc}" if o.doc else "")
            parts.append(f"| {flag} | {python} | {_default(o)} | {meaning} | {_cell(o.paper)} |")
        parts.append("")
    parts.append(END)
    return "\n".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/cli.md's tables are out of date")
    args = parser.parse_args()
    page = PAGE.read_text(encoding="utf-8")
    if BEGIN not in page or END not in page:
        print(f"{PAGE} has no {BEGIN} ... {END} markers", file=sys.stderr)
        return 1
    head, rest = page.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = head + tables() + tail
    if args.check:
        if new != page:
            print("docs/cli.md's option tables differ from gmia.settings.options; run scripts/cli_reference.py",
                  file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
