"""Load a user's CSV file into an encoded `gmia.data.schema.Dataset`.

Users audit their own tabular data, so every way the file can disagree with
what they declared ends in a `gmia.base.errors.GmiaError` whose one-sentence
message names the bad value and what was expected, rather than a pandas
traceback. Encoding matches the bundled Adult set: numeric columns z-scored,
categorical columns one-hot with sorted categories, classes sorted by string.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal, Sequence

import numpy as np
import pandas as pd

from gmia.data.schema import MAX_DECIMALS, Dataset, Feature, Schema, encoded_ranges
from gmia.base.errors import GmiaError

IMPUTE_CHOICES = ("median", "mode", "drop")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _listing(items: Sequence[str], limit: int = 30) -> str:
    items = [str(i) for i in items]
    more = f", ... ({len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def float_decimals(vals: np.ndarray) -> int:
    """The fewest decimal places (0..10) that hold every value of a float column: 1 for
    [3.5, 2.0], 2 for [16.02]. Used where no source text is left to count (the bundled sets, an
    imputed median); a value that needs more than 10 gets 10."""
    vals = np.asarray(vals, dtype=np.float64)
    vals = vals[np.isfinite(vals)]
    for d in range(MAX_DECIMALS + 1):
        scaled = vals * 10.0**d
        # a few ulps of slack: 16.02 * 100 is 1602.0000000000002 in float64
        if np.all(np.abs(scaled - np.rint(scaled)) <= 1e-6 + 8 * np.finfo(np.float64).eps * np.abs(scaled)):
            return d
    return MAX_DECIMALS


def text_decimals(cells: pd.Series) -> int:
    """The most decimal places among a numeric column's source texts ("16.02" → 2, "3.50" → 2,
    "1.5e-3" → 4, "7" → 0), capped at 10: the precision the user gave the values in."""
    text = cells.dropna().astype(str).str.strip().str.lower()
    parts = text.str.extract(r"^[+-]?\d*(?:\.(\d*))?(?:e([+-]?\d+))?$")
    places = parts[0].fillna("").str.len() - pd.to_numeric(parts[1], errors="coerce").fillna(0)
    return int(places.clip(lower=0, upper=MAX_DECIMALS).max()) if len(places) else 0


def encode_frame(
    df: pd.DataFrame, *, name: str, label: str, numeric: Sequence[str], categorical: Sequence[str],
    decimals: dict[str, int] | None = None,
) -> Dataset:
    """Encode a clean frame (no missing values) into a `Dataset`.

    Numeric columns are z-scored with the population std (ddof=0) over all rows
    (a constant column keeps scale 1 so it encodes as zeros instead of NaN);
    categorical columns are one-hot with categories sorted by string. Feature
    order follows ``df``'s column order with each categorical expanded in place,
    so the encoded layout is stable for a given file.

    Each numeric feature records its ``decimals`` for display: ``decimals[col]`` (counted in
    the source text) or, where the values need more (an imputed median) or none is given, the
    fewest that hold every value (`float_decimals`); 0 for integer columns.
    """
    numeric, categorical = set(numeric), set(categorical)
    blocks: list[np.ndarray] = []
    specs: list[dict] = []
    for col in df.columns:
        if col in numeric:
            vals = df[col].to_numpy(dtype=np.float64)
            mean, std = float(vals.mean()), float(vals.std())
            scale = std if std > 0 and np.isfinite(std) else 1.0
            # float64 arithmetic, one rounding to float32 per block: the same values as rounding
            # at the end, at a quarter of the peak memory on wide data (census: 299,285 x 510).
            blocks.append(((vals - mean) / scale)[:, None].astype(np.float32))
            integer = bool(np.all(vals == np.round(vals)))
            places = 0 if integer else max(float_decimals(vals), (decimals or {}).get(col, 0))
            specs.append(dict(name=col, kind="numeric", group=col, integer=integer, offset=mean, scale=scale,
                              decimals=places))
        elif col in categorical:
            vals = df[col].astype(str).to_numpy()
            cats = sorted(set(vals.tolist()))
            blocks.append((vals[:, None] == np.array(cats, dtype=object)[None, :]).astype(np.float32))
            specs.extend(dict(name=f"{col}={c}", kind="onehot", group=col) for c in cats)
    x = np.concatenate(blocks, axis=1) if blocks else np.zeros((len(df), 0), np.float32)
    labels = df[label].astype(str).to_numpy()
    classes = sorted(set(labels.tolist()))
    y = np.searchsorted(np.array(classes, dtype=object), labels).astype(np.int64)
    feats = []
    for spec, (lo, hi) in zip(specs, encoded_ranges(x)):
        if spec["kind"] == "onehot":
            lo, hi = 0.0, 1.0
        feats.append(Feature(low=lo, high=hi, **spec))
    return Dataset(name=name, x=x, y=y, schema=Schema(features=tuple(feats), classes=tuple(classes), label=label))


def _check_declaration(label: str, numeric: Sequence[str], categorical: Sequence[str], impute,
                       ignore: Sequence[str] = ()) -> None:
    if impute is not None and impute not in IMPUTE_CHOICES:
        raise GmiaError(f"unknown impute choice {impute!r}; expected one of: median, mode, drop (or None)")
    for role, cols in (("declared numeric", numeric), ("declared categorical", categorical), ('listed in "ignore"', ignore)):
        dup = sorted({c for c in cols if list(cols).count(c) > 1})
        if dup:
            raise GmiaError(f"column {dup[0]!r} is {role} more than once; expected each column once")
    both = sorted(set(numeric) & set(categorical))
    if both:
        raise GmiaError(f"column {both[0]!r} is declared both numeric and categorical; expected one kind per column")
    for kind, cols in (("numeric", numeric), ("categorical", categorical)):
        both = sorted(set(cols) & set(ignore))
        if both:
            raise GmiaError(f"column {both[0]!r} is declared {kind} and also listed in \"ignore\"; expected a column "
                            "either used or ignored")
    if label in set(numeric) | set(categorical):
        raise GmiaError(f"label column {label!r} is also declared as a feature; expected the label apart from the features")
    if label in set(ignore):
        raise GmiaError(f"label column {label!r} is also listed in \"ignore\"; expected the label apart from the ignored columns")
    if not numeric and not categorical:
        raise GmiaError("no feature columns were declared; expected at least one numeric or categorical column")


def read_cells(path: Path, what: str = "CSV file") -> pd.DataFrame:
    """A CSV file's cells as text, stripped, empty ones missing (``what`` names the file in errors)."""
    path = Path(path)
    if not path.exists():
        raise GmiaError(f"{what} {str(path)!r} does not exist; expected a readable CSV file")
    try:
        df = pd.read_csv(path, dtype=str, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise GmiaError(f"{what} {str(path)!r} is empty; expected a header row and records") from None
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise GmiaError(f"{what} {str(path)!r} could not be read ({_one_line(exc)}); expected a readable CSV file") from None
    df.columns = [str(c).strip() for c in df.columns]
    for col in df.columns:
        df[col] = df[col].str.strip().replace("", np.nan)
    return df


def _impute(df: pd.DataFrame, impute: str, numeric: Sequence[str], label: str) -> pd.DataFrame:
    """Fill or drop missing values.

    ``median`` fills numeric columns with their median and categorical ones
    with their mode (a median of categories is undefined); ``mode`` fills
    every column with its mode (ties: the smallest value); ``drop`` removes
    every record with a missing declared value. Labels are never invented:
    a missing label is an error unless ``drop``.
    """
    if impute == "drop":
        return df.dropna().reset_index(drop=True)
    n_missing_label = int(df[label].isna().sum())
    if n_missing_label:
        raise GmiaError(
            f"label column {label!r} has {n_missing_label} missing values; expected none, or set \"impute\": \"drop\" "
            "in the schema file to drop those records"
        )
    df = df.copy()
    for col in df.columns:
        if col == label or not df[col].isna().any():
            continue
        observed = df[col].dropna()
        if observed.empty:
            raise GmiaError(f"column {col!r} has no values at all; expected at least one to impute from")
        fill = observed.median() if (impute == "median" and col in numeric) else observed.mode().iloc[0]
        df[col] = df[col].fillna(fill)
    return df


def load_csv(
    path,
    *,
    label: str,
    numeric: Sequence[str] = (),
    categorical: Sequence[str] = (),
    impute: str | None = None,
    name: str | None = None,
    ignore: Sequence[str] = (),
) -> Dataset:
    """Load and encode a CSV file with a header row.

    Parameters
    ----------
    path : path-like
        The CSV file. Cells are stripped of surrounding whitespace; empty cells
        and pandas' default NA strings ("NA", "NaN", ...) count as missing.
    label : str
        The class column; classes are sorted by their string form.
    numeric, categorical : sequence of str
        Feature columns.
    ignore : sequence of str
        Columns of the file skipped on purpose. Every column must be the label, a feature or
        ignored: a column the declaration does not name is an error, not silently dropped.
    impute : {None, "median", "mode", "drop"}
        What to do with missing values; None refuses them (see ``_impute``).
    name : str, optional
        Data set name; defaults to the file name without suffix.

    Raises
    ------
    GmiaError
        On any disagreement between the file and the declaration.
    """
    path = Path(path)
    numeric, categorical, ignore = list(numeric), list(categorical), list(ignore)
    _check_declaration(label, numeric, categorical, impute, ignore)
    df = read_cells(path)
    wanted = [label] + numeric + categorical
    for col in wanted:
        if col not in df.columns:
            raise GmiaError(f"column {col!r} is not in {path.name}; expected one of its columns: {_listing(df.columns)}")
    for col in ignore:
        if col not in df.columns:
            raise GmiaError(f"ignored column {col!r} is not in {path.name}; expected one of its columns: {_listing(df.columns)}")
    named = set(wanted) | set(ignore)
    undeclared = [c for c in df.columns if c not in named]
    if undeclared:
        which = f"column {undeclared[0]!r}" if len(undeclared) == 1 else f"columns {_listing([repr(c) for c in undeclared])}"
        raise GmiaError(
            f"CSV file {path.name!r} has {which}, which the schema does not declare; expected every column to be the label, "
            "numeric or categorical, or listed in \"ignore\" to skip it on purpose"
        )
    df = df[[c for c in df.columns if c in set(wanted)]]
    places = {col: text_decimals(df[col]) for col in numeric}  # before parsing: "3.50" has two
    parsed = {}
    for col in numeric:
        vals = pd.to_numeric(df[col], errors="coerce")
        bad = (vals.isna() & df[col].notna()) | ~np.isfinite(vals.fillna(0.0))
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise GmiaError(
                f"column {col!r} has non-numeric value {df[col].iloc[row]!r} in row {row + 1} (first data row is 1); expected a finite number"
            )
        parsed[col] = vals.astype(np.float64)
    df = df.assign(**parsed)
    counts = df.isna().sum()
    missing = [c for c in df.columns if counts[c] > 0]
    if missing and impute is None:
        col = missing[0]
        also = f" (also missing values in: {_listing(missing[1:])})" if len(missing) > 1 else ""
        raise GmiaError(
            f"column {col!r} has {int(counts[col])} missing values{also}; expected none, or set \"impute\": \"median\", "
            "\"mode\" or \"drop\" in the schema file"
        )
    if missing:
        df = _impute(df, impute, numeric, label)
    if len(df) == 0:
        raise GmiaError(f"CSV file {path.name!r} has no complete records left; expected at least two records")
    classes = sorted(set(df[label].astype(str)))
    if len(classes) < 2:
        raise GmiaError(f"label column {label!r} has the single class {classes[0]!r}; expected at least two classes")
    for col in numeric:
        df[col] = df[col].astype(np.float64)
    return encode_frame(df, name=name or path.stem, label=label, numeric=numeric, categorical=categorical,
                        decimals=places)


def load_csv_with_schema(path, schema_json_path) -> Dataset:
    """Load a CSV whose column roles are given in a JSON file.

    The JSON is ``{"label": ..., "numeric": [...], "categorical": [...],
    "ignore": [...], "impute": null}`` (``"ignore"``, ``"impute"`` and ``"name"``
    optional; every column of the file must be the label, a feature or ignored);
    it is validated with pydantic and a validation failure becomes a one-sentence
    `GmiaError`.
    """
    from pydantic import BaseModel, ConfigDict, ValidationError

    class CsvSchema(BaseModel):
        model_config = ConfigDict(extra="forbid")
        label: str
        numeric: list[str] = []
        categorical: list[str] = []
        ignore: list[str] = []
        impute: Literal["median", "mode", "drop"] | None = None
        name: str | None = None

    schema_path = Path(schema_json_path)
    try:
        data = json.loads(schema_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GmiaError(f"schema file {str(schema_path)!r} does not exist; expected a JSON file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GmiaError(f"schema file {str(schema_path)!r} is not readable JSON ({_one_line(exc)}); expected a JSON object") from None
    try:
        spec = CsvSchema.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise GmiaError(
            f"schema file {schema_path.name!r} has a bad field {where!r} ({_one_line(err['msg'])}, got {err.get('input')!r}); "
            'expected {"label": str, "numeric": [str], "categorical": [str], "ignore": [str], '
            '"impute": "median"|"mode"|"drop"|null}'
        ) from None
    return load_csv(path, **spec.model_dump())
