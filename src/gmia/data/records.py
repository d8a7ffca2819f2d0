"""Records as people and prediction APIs see them: one value per original column.

A record ``{"age": 39, "workclass": "State-gov", ...}`` is keyed by the schema's groups (the
original columns); numeric values are raw (``encoded * scale + offset``), categorical ones are
category names. `encode_records` inverts `decode_columns` and `decode_records` on every
record gmia produces, bit for bit in float32, so a query sent over HTTP reaches the model as the
same encoded row a local query would.

Display: `decode_records` shows a number at the precision its column was given in
(``Feature.decimals``: 16.02, not the float32 round trip 16.019999920975938), but only where
that rounded number encodes to the very same float32 value, so the bit-for-bit promise holds and
a perturbed query (not a source record) keeps its exact value. `decode_columns` never rounds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from gmia.data.schema import Dataset, Schema, decode_columns, round_columns
from gmia.base.errors import GmiaError


class RecordError(GmiaError):
    """A record that does not fit the schema; ``index`` is its position in the batch."""

    def __init__(self, index: int, message: str):
        super().__init__(f"record {index}: {message}")
        self.index = index


def decode_records(x: np.ndarray, schema: Schema, *, rounded: bool = True) -> list[dict]:
    """Encoded rows → JSON-able records keyed by original column.

    ``rounded`` (default): numbers at their source precision where that changes no encoded bit
    (`round_columns`); False: the exact decoded values of `decode_columns`. Either way
    `encode_records` gives ``x`` back exactly.
    """
    cols = decode_columns(x, schema)
    if rounded:
        cols = round_columns(cols, schema, x)
    n = len(next(iter(cols.values()))) if cols else 0
    return [{g: v[i].item() if hasattr(v[i], "item") else v[i] for g, v in cols.items()} for i in range(n)]


def encode_records(records: Sequence[dict], schema: Schema) -> np.ndarray:
    """Records keyed by original column → encoded float32 rows ``[n, D]``.

    Every column of the schema must be present and no other; numbers must be finite, categories
    among the schema's. The first offending record raises `RecordError`. Works column by
    column, since a service encodes whole batches per request.
    """
    groups = schema.groups()
    names = set(groups)
    x = np.zeros((len(records), schema.n_features), dtype=np.float32)
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise RecordError(i, f"is a {type(rec).__name__}; expected an object keyed by feature name")
        if rec.keys() != names:
            unknown = [k for k in rec if k not in groups]
            if unknown:
                raise RecordError(i, f"unknown feature {unknown[0]!r}; expected only the schema's features ({_names(groups)})")
            missing = [g for g in groups if g not in rec]
            raise RecordError(i, f"feature {missing[0]!r} is missing; expected every schema feature ({_names(groups)})")
    rows = np.arange(len(records))
    for group, idx in groups.items():
        values = [rec[group] for rec in records]
        first = schema.features[idx[0]]
        if first.kind == "numeric":
            bad = next((i for i, v in enumerate(values)
                        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)), None)
            if bad is not None:
                raise RecordError(bad, f"feature {group!r} is {values[bad]!r}; expected a finite number")
            # float64 arithmetic then one rounding to float32, exactly as the encoder did
            x[:, idx[0]] = ((np.asarray(values, dtype=np.float64) - first.offset) / first.scale).astype(np.float32)
        else:
            column = {schema.features[j].category: j for j in idx}
            cols = [column.get(v) if isinstance(v, str) else None for v in values]
            bad = next((i for i, c in enumerate(cols) if c is None), None)
            if bad is not None:
                raise RecordError(bad, f"feature {group!r} is {values[bad]!r}; expected one of: {', '.join(column)}")
            x[rows, cols] = 1.0
    return x


def _names(groups: dict, limit: int = 12) -> str:
    names = list(groups)
    return ", ".join(names[:limit]) + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def readable_record(dataset: Dataset, record: int) -> dict[str, str]:
    """The record as it appeared in the source, for a person to read: one entry per original
    column, numbers at the precision they were given in, and the record's class by name last,
    under the schema's label column (`class_of_readable` reads it back). An image's pixels are
    in `image_of` instead: a table of 784 values reads as nothing."""
    schema = dataset.schema
    name = schema.classes[int(dataset.y[record])]
    if schema.image is not None:
        return {schema.label: name}
    try:
        row = round_columns(decode_columns(dataset.x[[record]], schema), schema)
        out = {str(k): str(v[0].item() if hasattr(v[0], "item") else v[0]) for k, v in row.items()}
    except Exception:  # a data set without decoding information still gets its encoded values
        out = {f.name: f"{v:.4g}" for f, v in zip(schema.features, dataset.x[record])}
    out[schema.label] = name
    return out


def class_of_readable(features: dict, fallback=None):
    """The class name `readable_record` put last in a record's features (``fallback`` when
    there are none): what reports show instead of a class index."""
    return next(reversed(features.values()), fallback) if features else fallback


def image_of(dataset: Dataset, record: int) -> dict | None:
    """An image record as ``{"shape": [C, H, W], "pixels": [0..255, ...]}`` for the report's
    image grid (the paper's Figure 12); None for tabular data."""
    schema = dataset.schema
    if schema.image is None:
        return None
    scale = schema.features[0].scale or 1.0  # encoded pixel x scale = the source's 0..255 value
    pixels = np.clip(np.rint(dataset.x[record] * scale), 0, 255).astype(np.uint8)
    return {"shape": list(schema.image), "pixels": pixels.tolist()}
