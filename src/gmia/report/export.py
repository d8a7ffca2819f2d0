"""An audit's verdicts as a file a person opens in a spreadsheet or reads with pandas.

One row per tested record, most isolated first: `gmia.auditing.run.AuditResult.tested_frame` (p-values,
interval, verdict, N'_n, E[N_n]) and then the record's features as given in the source, one
column per original column, numbers at the source's precision. The audit's run folder gets
``verdicts.csv`` and ``verdicts.parquet``; `write_verdicts` writes either anywhere. In the
exchangeable design it also gets ``records.csv``, one row per queried candidate
(`write_candidates`, `AuditResult.to_frame`).
"""

from __future__ import annotations

import io
from dataclasses import fields
from pathlib import Path

import pandas as pd

from gmia.base.errors import GmiaError
from gmia.base.io import atomic_write_bytes

SUFFIXES = (".csv", ".parquet")


def as_audit_result(result):
    """An `AuditResult`, or its `to_dict()` (a run folder's results.json) made one again."""
    # imported here, so `import gmia.report` stays free of the attack stack
    from gmia.auditing.run import AuditResult

    if isinstance(result, AuditResult):
        return result
    if isinstance(result, dict) and "records" in result:
        names = {f.name for f in fields(AuditResult)}
        try:
            return AuditResult(**{k: v for k, v in result.items() if k in names})
        except TypeError as exc:
            raise GmiaError(f"the audit result lacks a field ({exc}); expected AuditResult.to_dict() output") from None
    raise GmiaError(f"cannot export verdicts from a {type(result).__name__}; expected an AuditResult (gmia.audit's result)")


def verdicts_frame(result) -> pd.DataFrame:
    """`AuditResult.tested_frame` with the interval split into ``p_interval_low`` / ``p_interval_high``
    (a CSV cell holds one number) and each record's features appended, one column per original
    column. A feature named like a verdict column (say ``verdict``) becomes ``feature_verdict``.

    ``class`` is the class name, for people (an audit's rows have no index to keep)."""
    result = as_audit_result(result)
    frame = result.tested_frame().reset_index(drop=True)
    if "p_interval" in frame.columns:
        at = frame.columns.get_loc("p_interval")
        iv = frame.pop("p_interval")
        frame.insert(at, "p_interval_high", [float(v[1]) for v in iv])
        frame.insert(at, "p_interval_low", [float(v[0]) for v in iv])
    feats = pd.DataFrame([r.get("features") or {} for r in result.records])
    feats.columns = [f"feature_{c}" if c in frame.columns else str(c) for c in feats.columns]
    return pd.concat([frame, feats], axis=1)


def write_verdicts(result, path) -> Path:
    """Write the verdicts of an audit (`verdicts_frame`) to ``path``: CSV for ``.csv``, parquet
    for ``.parquet``; atomically, so a reader never sees half a file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise GmiaError(f"verdicts file {str(path)!r} has the suffix {path.suffix or '(none)'!r}; expected .csv or .parquet")
    frame = verdicts_frame(result)
    if suffix == ".csv":
        data = frame.to_csv(index=False).encode("utf-8")
    else:
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        data = buf.getvalue()
    atomic_write_bytes(path, data)
    return path


def write_candidates(result, path) -> Path | None:
    """Write an exchangeable audit's row of every queried candidate (`AuditResult.to_frame`:
    p-values, out-references, N'_n, FDR call, each attack's score, the verdict where tested, the
    truth) as CSV to ``path``, atomically; None (nothing written) for an audit with the paper's
    references, which tests only the selected records."""
    result = as_audit_result(result)
    if result.candidates is None:
        return None
    path = Path(path)
    frame = result.to_frame()
    if "p_interval" in frame.columns:  # a CSV cell holds one number
        iv = frame.pop("p_interval")
        frame["p_interval_low"] = [v[0] if isinstance(v, tuple) else float("nan") for v in iv]
        frame["p_interval_high"] = [v[1] if isinstance(v, tuple) else float("nan") for v in iv]
    atomic_write_bytes(path, frame.to_csv(index=False).encode("utf-8"))
    return path
