"""Bad input, from the command line and from Python: one sentence, exit 2, no traceback, no training.

Not a speed benchmark, though it times each command-line case (a whole process, start-up
included) and prints the median. Each case runs in a fresh temporary cache and run folder; a
case passes when the command exits 2 with exactly one ``error:`` line on stderr, no traceback,
and no model trained (the cache holds no stack). Python cases pass when they raise
`gmia.GmiaError` (one sentence) rather than another exception.

Run: `.venv/bin/python benchmarks/bad_inputs.py` (about a minute on two cores).
"""

from __future__ import annotations

import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GMIA = [sys.executable, "-m", "gmia"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli_cases(tmp: Path) -> list[tuple[str, list[str]]]:
    key = tmp / "key.txt"
    key.write_text("k\n")
    keys = tmp / "keys.json"
    keys.write_text(json.dumps({"keys": [{"name": "a", "key": "k", "rate": True}]}))
    dead = f"http://127.0.0.1:{free_port()}"
    from sklearn.linear_model import LogisticRegression

    from gmia.data import load_bundled
    from gmia.models.file_format import from_sklearn

    cancer = load_bundled("cancer")
    model = tmp / "m.safetensors"
    from_sklearn(LogisticRegression(max_iter=500).fit(cancer.x, cancer.y), cancer.schema).save(model)
    return [
        ("defend sweep l2=abc", ["defend", "--dataset", "cancer", "--sweep", "l2=abc"]),
        ("defend sweep dp-epsilon=abc", ["defend", "--dataset", "cancer", "--sweep", "dp-epsilon=abc"]),
        ("defend sweep label-only=maybe", ["defend", "--dataset", "cancer", "--sweep", "label-only=maybe"]),
        ("model train --out y.onnx (no --algorithm)", ["model", "train", "--dataset", "cancer", "--out", str(tmp / "y.onnx")]),
        ("model train --out x.pkl", ["model", "train", "--dataset", "cancer", "--out", str(tmp / "x.pkl")]),
        ("model train --algorithm ... --out x.safetensors",
         ["model", "train", "--dataset", "cancer", "--algorithm", "random-forest", "--out", str(tmp / "x.safetensors")]),
        ("reproduce --k 100000 (250 reference records)", ["reproduce", "table1", "--dataset", "cancer", "--k", "100000"]),
        ("reproduce --k 1.5", ["reproduce", "table1", "--dataset", "cancer", "--k", "1.5"]),
        ("audit-dp --k 100000", ["audit-dp", "--dataset", "cancer", "--k", "100000"]),
        ("audit --timeout 0", ["audit", "--dataset", "cancer", "--target-url", dead, "--api-key-file", str(key), "--timeout", "0"]),
        ("audit against a dead URL", ["audit", "--dataset", "cancer", "--target-url", dead, "--api-key-file", str(key)]),
        ("serve with a keys file saying rate: true", ["serve", str(model), "--api-keys", str(keys), "--port", str(free_port())]),
        ("reproduce --dataset nope", ["reproduce", "table1", "--dataset", "nope"]),
        ("reproduce --delta 3", ["reproduce", "table1", "--dataset", "cancer", "--delta", "3"]),
        ("compare --attacks sideways", ["compare", "--dataset", "cancer", "--attacks", "sideways"]),
    ]


def run_cli(args: list[str], tmp: Path) -> dict:
    cache = Path(tempfile.mkdtemp(dir=tmp))
    extra = [] if args[0] == "serve" else ["--cache-dir", str(cache)]
    extra += ["--out", str(cache / "run")] if args[0] in ("audit", "defend", "compare", "audit-dp", "reproduce") else []
    start = time.perf_counter()
    proc = subprocess.run(GMIA + args + extra, capture_output=True, text=True, timeout=300)
    seconds = time.perf_counter() - start
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:") or "Invalid value" in line]
    trained = bool(list(cache.glob("*/meta.json")))
    ok = proc.returncode == 2 and "Traceback" not in proc.stderr and len(errors) == 1 and not trained
    return {"exit": proc.returncode, "traceback": "Traceback" in proc.stderr, "trained": trained, "seconds": seconds,
            "message": (errors[0] if errors else (proc.stderr.strip().splitlines() or [""])[-1])[:150], "ok": ok}


def python_cases(tmp: Path):
    import gmia
    from gmia.data import load_bundled
    from gmia.data.schema import Schema
    from gmia.models.file_format import Model
    from gmia.serve.keys import KeyRing
    from gmia.targets import HttpTarget

    cancer = load_bundled("cancer")
    bad_schema = cancer.schema.to_dict()
    bad_schema["features"][0]["low"] = "abc"
    keys = tmp / "keys.json"
    keys.write_text(json.dumps({"keys": [{"name": "a", "key": "k", "rate": True}]}))
    cache = str(tmp / "py-cache")
    return [
        ("gmia.defend(sweep=['l2=abc'])", lambda: gmia.defend("cancer", sweep=["l2=abc"], cache_dir=cache, progress=False)),
        ("gmia.reproduce(k=1.5)", lambda: gmia.reproduce("table1", "cancer", k=1.5, cache_dir=cache, progress=False)),
        ("gmia.reproduce(k=100000)", lambda: gmia.reproduce("table1", "cancer", k=100000, cache_dir=cache, progress=False)),
        ("HttpTarget(timeout=0)", lambda: HttpTarget(f"http://127.0.0.1:{free_port()}", "k", tmp / "q.sqlite", timeout=0)),
        ("HttpTarget to a dead URL", lambda: HttpTarget(f"http://127.0.0.1:{free_port()}", "k", tmp / "q.sqlite", backoff=0.0)),
        ("Model.save('x.onnx')", lambda: Model.save(object.__new__(Model), tmp / "x.onnx")),
        ("Schema.from_dict(low='abc')", lambda: Schema.from_dict(bad_schema, "the schema in m.onnx")),
        ("KeyRing.load(rate: true)", lambda: KeyRing.load(keys)),
    ]


def main() -> None:
    from gmia.base.errors import GmiaError

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        rows = [(name, run_cli(args, tmp)) for name, args in cli_cases(tmp)]
        print("| command line | exit | traceback | trained | seconds | message |")
        print("|---|---|---|---|---|---|")
        for name, r in rows:
            print(f"| {name} | {r['exit']} | {'yes' if r['traceback'] else 'no'} | {'yes' if r['trained'] else 'no'} | "
                  f"{r['seconds']:.2f} | {r['message']} |")
        print()
        print("| Python | raised | message |")
        print("|---|---|---|")
        py_ok = 0
        for name, call in python_cases(tmp):
            try:
                call()
                kind, message = "nothing", ""
            except GmiaError as exc:
                kind, message = "GmiaError", str(exc)
                py_ok += 1
            except Exception as exc:  # noqa: BLE001  a case that fails the table
                kind, message = type(exc).__name__, str(exc)
            print(f"| {name} | {kind} | {message[:150]} |")
        seconds = [r["seconds"] for _, r in rows]
        print(f"\n{sum(r['ok'] for _, r in rows)} of {len(rows)} command-line cases: exit 2, one sentence, no traceback, "
              f"nothing trained; {py_ok} of {len(python_cases(tmp))} Python cases raise GmiaError. "
              f"Median time of a command-line error: {statistics.median(seconds):.2f} s (max {max(seconds):.2f} s).")


if __name__ == "__main__":
    main()
