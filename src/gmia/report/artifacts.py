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
from gmia.protocol import ProtocolSignals
from gmia.select import expected_neighbours
from gmia.zoo.store import atomic_write_bytes, atomic_write_json

SCHEMA_VERSION = 1
MAX_CARDS = 40  # record cards per run; a report stays small and fast to open


def raw_record(signals: ProtocolSignals, record: int) -> dict[str, str]:
    """The record as it appeared in the source, for a person to read (an image's pixels are in
    :func:`image_of` instead: a table of 784 values reads as nothing)."""
    schema = signals.dataset.schema
    if schema.image is not None:
        return {schema.label: schema.classes[int(signals.dataset.y[record])]}
    try:
        row = signals.dataset.raw().iloc[record]
        return {str(k): str(v) for k, v in row.items()}
    except Exception:  # a data set without decoding information still gets its encoded values
        return {f.name: f"{v:.4g}" for f, v in zip(signals.dataset.schema.features, signals.dataset.x[record])}


def image_of(signals: ProtocolSignals, record: int) -> dict | None:
    """An image record as ``{"shape": [C, H, W], "pixels": [0..255, ...]}`` for the report's
    image grid (the paper's Figure 12); None for tabular data."""
    schema = signals.dataset.schema
    if schema.image is None:
        return None
    scale = schema.features[0].scale or 1.0  # encoded pixel x scale = the source's 0..255 value
    pixels = np.clip(np.rint(signals.dataset.x[record] * scale), 0, 255).astype(np.uint8)
    return {"shape": list(schema.image), "pixels": pixels.tolist()}


class RunRecorder:
    """Collects, seed by seed, the (record, target) rows and the vulnerable records' evidence."""

    def __init__(self, cutoff: float):
        self.cutoff = cutoff
        self.frames: list[pd.DataFrame] = []
        self.cards: list[dict] = []

    def __call__(self, seed: int, signals: ProtocolSignals, evaluations) -> None:
        from gmia.evaluate import pool_pvalues, run_selection

        evaluation = evaluations[0]  # the first (δ, β) setting: Table 1's
        pvalues = pool_pvalues(signals, evaluation.tail)
        neighbours = run_selection(signals, evaluation.delta, evaluation.beta, evaluation.scaling, evaluation.features).neighbours
        pool = signals.split.pool
        t, p = signals.target_loss.shape
        expected = expected_neighbours(neighbours, signals.n_train, len(signals.split.adversary), evaluation.scaling)
        selected = np.isin(pool, evaluation.selected)
        self.frames.append(pd.DataFrame({
            "seed": np.full(t * p, seed, dtype=np.int32),
            "record": np.tile(pool, t).astype(np.int32),
            "target": np.repeat(np.arange(t), p).astype(np.int16),
            "class": np.tile(signals.dataset.y[pool], t).astype(np.int16),
            "neighbours": np.tile(neighbours, t).astype(np.int32),
            "expected_neighbours": np.tile(expected, t).astype(np.float32),
            "selected": np.tile(selected, t),
            "statistic": signals.target_loss.ravel().astype(np.float32),
            "p_value": pvalues.ravel().astype(np.float32),
            "decision": (pvalues.ravel() < self.cutoff),
            "member": signals.membership.ravel(),
        }))
        for record in evaluation.selected[: max(0, MAX_CARDS - len(self.cards))]:
            j = int(np.searchsorted(pool, record))
            self.cards.append({
                "seed": seed, "record": int(record), "class": int(signals.dataset.y[record]),
                "features": raw_record(signals, record), "image": image_of(signals, record),
                "neighbours": int(neighbours[j]),
                "expected_neighbours": float(expected[j]),
                "reference_losses": signals.reference_loss[:, j].tolist(),
                "target_losses": signals.target_loss[:, j].tolist(),
                "members": signals.membership[:, j].tolist(),
                "p_values": pvalues[:, j].tolist(),
            })

    def frame(self) -> pd.DataFrame | None:
        return pd.concat(self.frames, ignore_index=True) if self.frames else None


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
