"""What every command's result shares: the schema version of its results.json, the strict-JSON
form of its fields, and ``to_dict`` / ``to_frame`` / ``summary`` / ``save`` / ``load``.

A result is a frozen dataclass that subclasses `Result` (``AuditResult``, ``ReproduceResult``,
``Table3Result``, ``CompareResult``, ``DefendResult``, ``AuditDpResult``). A run folder
(`gmia.report.write_run`) adds the command's kind, class names and the report beside it.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from gmia.base.errors import GmiaError
from gmia.base.io import atomic_write_json

# Of every results.json; raise it when a field changes meaning. 2: every "roc" is one shape,
# {"auc", "auc_ci", "tpr": {"0.001": ..}, "tpr_ci"} (`gmia.stats.roc.RocSummary`); version 1 wrote
# the protocol's and the defences' as {"auc", "tpr_at_fpr_0.001", ..}, and is read by upgrading.
RESULT_SCHEMA_VERSION = 2


def jsonable(obj):
    """NaN → null, numpy scalars → Python: strict JSON that any reader accepts."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return None if np.isnan(v) or np.isinf(v) else v
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def read_results(path: Path) -> dict:
    """A results.json as written by `Result.save` or a run folder, its schema version checked."""
    path = Path(path)
    try:
        results = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise GmiaError(f"{str(path)!r} is not valid JSON ({exc.msg} at line {exc.lineno}); expected a results file "
                        "written by gmia") from None
    if results.get("schema_version") == 1:
        results = upgrade_v1(results)
    if results.get("schema_version") != RESULT_SCHEMA_VERSION:
        raise GmiaError(f"{str(path)!r} has schema version {results.get('schema_version')!r}; expected "
                        f"{RESULT_SCHEMA_VERSION} (or 1, which is read by upgrading)")
    return results


def upgrade_v1(results: dict) -> dict:
    """A schema-1 results.json as schema 2: each flat ROC dict ``{"auc", "tpr_at_fpr_F", ..}``
    becomes ``{"auc", "auc_ci", "tpr": {"F": ..}, "tpr_ci"}`` (no intervals: none were computed)."""

    def walk(obj):
        if isinstance(obj, dict):
            if "auc" in obj and any(str(k).startswith("tpr_at_fpr_") for k in obj):
                tpr = {k.removeprefix("tpr_at_fpr_"): v for k, v in obj.items() if k.startswith("tpr_at_fpr_")}
                return {"auc": obj["auc"], "auc_ci": [None, None], "tpr": tpr, "tpr_ci": {k: [None, None] for k in tpr}}
            return {k: walk(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [walk(v) for v in obj]
        return obj

    return {**walk(results), "schema_version": 2}


class Result:
    """The base of every command's result (a frozen dataclass)."""

    def _fields(self) -> dict:
        """The fields as plain Python (a result with nested result objects overrides this)."""
        return asdict(self)

    def to_dict(self) -> dict:
        """Everything the result holds, as JSON-able Python, with the schema version."""
        return {"schema_version": RESULT_SCHEMA_VERSION, **self._fields()}

    def to_frame(self):
        """One row per unit of the result (a record, an attack, a setting) as a pandas DataFrame."""
        raise NotImplementedError(f"{type(self).__name__} has no to_frame")

    def summary(self) -> str:
        """A few lines a person reads first."""
        raise NotImplementedError(f"{type(self).__name__} has no summary")

    def save(self, path: str | Path) -> Path:
        """Write ``to_dict()`` as strict JSON to ``path``, atomically; `load` reads it back."""
        path = Path(path)
        atomic_write_json(path, jsonable(self.to_dict()))
        return path

    @staticmethod
    def load(path: str | Path) -> dict:
        """A saved result (or a run folder's results.json) as the dict ``to_dict`` gave."""
        return read_results(Path(path))
