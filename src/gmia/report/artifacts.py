"""What every run leaves in its folder: results.json, records.parquet and report.html.

results.json holds the run's result object (with a schema version) plus what the report needs
that tables do not: per-record evidence for the vulnerable records ("cards") and thinned
curves. records.parquet has one row per (record, target) pair. Everything is written
atomically; `gmia report RUN_DIR` rebuilds report.html from these two files alone.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd

from gmia.errors import GmiaError
from gmia.io import atomic_write_bytes, atomic_write_json

SCHEMA_VERSION = 1


def write_run(folder: Path, kind: str, results: dict, records: pd.DataFrame | None = None) -> Path:
    """Write results.json, records.parquet (if any) and report.html into ``folder``."""
    from gmia.report.html import build_report

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    results = {**results, "schema_version": SCHEMA_VERSION, "kind": kind}
    atomic_write_json(folder / "results.json", _jsonable(results))
    if records is not None:
        buf = io.BytesIO()
        records.to_parquet(buf, index=False, compression="zstd")
        atomic_write_bytes(folder / "records.parquet", buf.getvalue())
    atomic_write_bytes(folder / "report.html", build_report(results, records).encode("utf-8"))
    return folder / "report.html"


def load_run(folder: Path) -> tuple[dict, pd.DataFrame | None]:
    folder = Path(folder)
    path = folder / "results.json"
    if not path.is_file():
        raise GmiaError(f"run folder {str(folder)!r} has no results.json; expected a folder written by a gmia command with --out")
    try:
        results = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise GmiaError(f"{str(path)!r} is not valid JSON ({exc.msg} at line {exc.lineno}); expected a results file written by gmia") from None
    if results.get("schema_version") != SCHEMA_VERSION:
        raise GmiaError(f"{str(path)!r} has schema version {results.get('schema_version')!r}; expected {SCHEMA_VERSION}")
    parquet = folder / "records.parquet"
    return results, (pd.read_parquet(parquet) if parquet.is_file() else None)


def _jsonable(obj):
    """NaN → null, numpy scalars → Python: strict JSON that any reader accepts."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return None if np.isnan(v) or np.isinf(v) else v
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj
