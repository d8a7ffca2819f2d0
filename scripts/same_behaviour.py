"""Do two commits of gmia print and write the same? A check for restructurings.

Runs every command on the bundled Cancer data (small settings, so the whole check takes a few
minutes on two cores) once with each commit's source, each in a fresh folder with a fresh
model cache, and compares what a user sees: the console output and every results.json, bit for
bit, after removing what must differ between two runs (wall times, the run folder's absolute
path). Exit status 0 when every command matches, 1 otherwise, with the first differences.

    .venv/bin/python scripts/same_behaviour.py BEFORE [AFTER]

BEFORE and AFTER are git commits (AFTER defaults to the working tree). Each commit's
``src/`` goes first on PYTHONPATH, so the one installed environment runs both.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# (name, arguments) in order: `audit` reads the model `model train` wrote.
COMMANDS = [
    ("reproduce", ["reproduce", "table1", "--dataset", "cancer", "--k", "30", "--targets", "10", "--out", "runs/reproduce"]),
    ("table3", ["reproduce", "table3", "--dataset", "cancer", "--k", "20", "--targets", "4", "--candidates", "300",
                "--clusters", "10", "--null-records", "0", "--out", "runs/table3"]),
    ("compare", ["compare", "--dataset", "cancer", "--k", "30", "--targets", "10", "--inout", "8", "--bootstrap", "20",
                 "--out", "runs/compare"]),
    ("defend", ["defend", "--dataset", "cancer", "--sweep", "l2=0.01", "--k", "20", "--targets", "6", "--out", "runs/defend"]),
    ("audit-dp", ["audit-dp", "--dataset", "cancer", "--canaries", "20", "--dp-epsilon", "4", "--k", "20",
                  "--out", "runs/audit-dp"]),
    ("model train", ["model", "train", "--dataset", "cancer", "--out", "target.safetensors"]),
    ("audit", ["audit", "--dataset", "cancer", "--target-model", "target.safetensors", "--k", "30", "--out", "runs/audit"]),
]

# What differs between two runs of the same code: durations and absolute paths.
VOLATILE_KEYS = re.compile(r"(seconds|_s$|wall|elapsed|time|created|started|finished|duration)", re.I)
VOLATILE_TEXT = [(re.compile(r"\d+(\.\d+)?\s*(s|ms|min)\b"), "<time>"), (re.compile(r"\d+:\d\d(:\d\d)?"), "<clock>")]


def _source(commit: str | None, into: Path) -> Path:
    if commit is None:
        return ROOT / "src"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(into), commit], check=True,
                   capture_output=True)
    return into / "src"


def _clean_json(value):
    if isinstance(value, dict):
        return {k: _clean_json(v) for k, v in value.items() if not VOLATILE_KEYS.search(k)}
    if isinstance(value, list):
        return [_clean_json(v) for v in value]
    if isinstance(value, str):
        return _clean_text(value)
    return value


def _clean_text(text: str) -> str:
    for pattern, repl in VOLATILE_TEXT:
        text = pattern.sub(repl, text)
    return _blank_time_columns(text)


def _blank_time_columns(text: str) -> str:
    """Blank the cells of a printed table's ``seconds`` column (a wall time, e.g. audit-dp's)."""
    lines, column = text.split("\n"), None
    for i, line in enumerate(lines):
        if "┃" in line:
            cells = line.split("┃")
            hit = [j for j, c in enumerate(cells) if c.strip() in ("seconds", "wall s", "time")]
            column = hit[0] if hit else column
        elif "│" in line and column is not None:
            cells = line.split("│")
            if column < len(cells):
                cells[column] = " " * len(cells[column])
                lines[i] = "│".join(cells)
        elif not line.strip():
            column = None
    return "\n".join(lines)


def run_all(src: Path, folder: Path) -> dict[str, str]:
    """Each command's console output and results.json, cleaned, keyed by command."""
    env = {**os.environ, "PYTHONPATH": str(src), "GMIA_CACHE": str(folder / "cache"), "COLUMNS": "120",
           "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2", "NO_COLOR": "1"}
    where = subprocess.run([sys.executable, "-c", "import gmia; print(gmia.__file__)"], env=env, capture_output=True,
                           text=True, check=True).stdout.strip()
    if not Path(where).resolve().is_relative_to(src.resolve()):  # else both runs would test the same code
        raise SystemExit(f"gmia was imported from {where}, not from {src}")
    seen = {}
    for name, args in COMMANDS:
        proc = subprocess.run([sys.executable, "-m", "gmia", *args], cwd=folder, env=env, capture_output=True, text=True)
        seen[f"{name}: exit status"] = str(proc.returncode)
        seen[f"{name}: console"] = _clean_text(proc.stdout).replace(str(folder), "<run>")
        out = next((Path(a) for prev, a in zip(args, args[1:]) if prev == "--out" and a.startswith("runs/")), None)
        if out is not None and (folder / out / "results.json").is_file():
            data = json.loads((folder / out / "results.json").read_text())
            text = json.dumps(_clean_json(data), indent=1, sort_keys=True).replace(str(folder), "<run>")
            seen[f"{name}: results.json"] = text
        print(f"  {name}: exit {proc.returncode}", file=sys.stderr)
    return seen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after", nargs="?")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gmia-same-") as tmp:
        tmp = Path(tmp)
        results = []
        for label, commit in (("before", args.before), ("after", args.after)):
            print(f"{label}: {commit or 'working tree'}", file=sys.stderr)
            src = _source(commit, tmp / f"src-{label}")
            (tmp / label).mkdir()
            results.append(run_all(src, tmp / label))
        if args.before:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tmp / "src-before")],
                           capture_output=True)
        if args.after:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tmp / "src-after")],
                           capture_output=True)
    before, after = results
    differing = [key for key in before.keys() | after.keys() if before.get(key) != after.get(key)]
    for key in sorted(before.keys() | after.keys()):
        print(f"{'same' if key not in differing else 'DIFFERENT':9s} {key}")
    for key in sorted(differing)[:3]:
        diff = difflib.unified_diff((before.get(key) or "").splitlines(), (after.get(key) or "").splitlines(),
                                    "before", "after", lineterm="", n=1)
        print(f"\n{key}:\n" + "\n".join(list(diff)[:40]))
    print(f"\n{len(before.keys() | after.keys()) - len(differing)} of {len(before.keys() | after.keys())} outputs the same")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
