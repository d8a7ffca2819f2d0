"""Who is who in an audit: the records tested, the adversary's population, the target's training rows.

The paper's protocol draws all three from one seeded split of one data set (`gmia.data.paper_split`):
the pool holds the candidates, the rest is the adversary's. An auditor with a real model knows better:
which records it wants tested (the candidates), which records it holds of the same population and
knows were not trained on (the population: reference and calibration records), and perhaps the
target's training rows (the members, the ground truth). `resolve_roles` takes each as record
indices, a table of records in the source's columns, or a file, and checks them before any model
trains, because every later number depends on them:

- the calibration set must hold known non-members, and reference models trained on the target's
  training rows bias every p-value, so a population record that is a member is refused;
- a reference trained on a candidate would hide that candidate's membership, so candidates are
  removed from the population (with a note).

Matching (CHOICE): a record given as a row (a CSV line, a table row) is its content, the encoded row
(and its class, where the label is given). A row equal to several records of the data set (Cancer
has exact duplicates) stands for all of them, since which one was meant cannot be known. Records
given as indices are their index: two identical records under two indices stay two records, as in
the paper's protocol. A population given as rows is appended to the data set, encoded with the
data set's own schema (`gmia.data.encode_records`), so its numbers are scaled exactly as the data
set's and the target reads them as it reads the data set's.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gmia.data import Dataset, decode_records, encode_records, paper_split
from gmia.data.csv import read_cells
from gmia.base.errors import GmiaError

SHOWN = 5  # offending records named in one error sentence


@dataclass(frozen=True)
class Roles:
    """The records of an audit, as sorted int64 indices into ``dataset``.

    dataset : what the audit runs on: the given data set, with a population given as rows appended
        (named ``"<name>+population"``).
    candidates : the records tested (the paper's pool).
    population : the adversary's records (reference and calibration records); never a candidate.
    members : the target's training rows, or None when unknown.
    source : where the roles came from, for the output ("paper split, seed 0" or what was given).
    notes : one-line notes for the user (records moved, rows matching several records, ...).
    """

    dataset: Dataset
    candidates: np.ndarray
    population: np.ndarray
    members: np.ndarray | None
    source: str
    notes: tuple[str, ...] = ()
    paper: bool = False  # candidates and population are the paper split's pool and adversary


@dataclass
class _Rows:
    """Records given as rows: encoded ``x`` (and ``y`` where the label was given)."""

    x: np.ndarray
    y: np.ndarray | None
    where: str  # "population file 'pop.csv'": the start of an error sentence
    label: str  # for `Roles.source`


def resolve_roles(dataset: Dataset, *, candidates=None, population=None, members=None,
                  pool_size: int | None = None, seed: int = 0) -> Roles:
    """Resolve and check an audit's records (see the module's docstring for the rules).

    ``candidates`` and ``members``: None, record indices, a DataFrame of records in the source's
    columns (the label optional, checked when present), or a path: ``.csv`` (such records) or
    ``.json`` (a gmia members file, or a JSON list of indices). ``population``: None, record
    indices, or a DataFrame / ``.csv`` path of records with the label, appended to the data set.

    Defaults: nothing given, exactly ``paper_split(dataset, pool_size, seed)`` (pool: candidates,
    the rest: population), so audits without roles are unchanged; candidates only, the population
    is every other record; population only, the candidates are every record of ``dataset`` not
    in it. Each bad input raises one `GmiaError` sentence naming the records.
    """
    notes: list[str] = []
    member_idx, member_label = _resolve_records(dataset, members, "members", notes)
    if candidates is None and population is None:
        split = paper_split(dataset, pool_size=pool_size, seed=seed)
        cand, pop, rows = split.pool, split.adversary, None
        source = f"paper split, seed {seed}"
    else:
        if pool_size is not None:
            notes.append(f"pool size {pool_size} is not used: the candidates or the population were given")
        cand, cand_label = _resolve_records(dataset, candidates, "candidates", notes)
        pop, rows, pop_label = _population(dataset, population, notes)
        if cand is None:
            cand_label = "every record not in the population"
            inside = np.zeros(len(dataset), bool)
            if rows is not None:  # a row stands for every record equal to it
                inside[_matches(rows.x, rows.y, dataset.x, dataset.y).any_row] = True
                if inside.any():
                    notes.append(f"{int(inside.sum())} records of data set {dataset.name!r} equal a row of {rows.where}: "
                                 "they are not candidates (the population holds them)")
            else:
                inside[pop] = True
            cand = np.flatnonzero(~inside).astype(np.int64)
        if pop is None and rows is None:
            pop_label = "every record not a candidate"
            pop = np.setdiff1d(np.arange(len(dataset), dtype=np.int64), cand)
        pop, rows = _drop_candidates(dataset, cand, pop, rows, notes)
        source = f"candidates: {cand_label}; population: {pop_label}"
    if member_idx is not None:
        source += f"; members: {member_label}"
        _refuse_members_in_population(dataset, member_idx, pop, rows)
    if cand.size == 0:
        raise GmiaError(f"no candidate records are left to test in data set {dataset.name!r} ({source}); "
                        "expected at least one record that is not in the population")
    size = pop.size if rows is None else len(rows.x)
    if size < 2:
        raise GmiaError(f"the population holds {size} record{'s' if size != 1 else ''} after the candidates are removed "
                        f"from it ({source}); expected at least 2, to train references on and to calibrate with")
    out = dataset
    if rows is not None:
        out = Dataset(name=f"{dataset.name}+population", x=np.concatenate([dataset.x, rows.x]),
                      y=np.concatenate([dataset.y, rows.y]), schema=dataset.schema)
        pop = np.arange(len(dataset), len(out), dtype=np.int64)
    return Roles(dataset=out, candidates=np.asarray(cand, np.int64), population=np.asarray(pop, np.int64),
                 members=member_idx, source=source, notes=tuple(notes), paper=candidates is None and population is None)


# --- reading what was given --------------------------------------------------------------------


def _resolve_records(dataset: Dataset, given, role: str, notes: list[str]) -> tuple[np.ndarray | None, str]:
    """Candidates or members as sorted unique indices of ``dataset`` (None if not given), and a label."""
    if given is None:
        return None, ""
    if isinstance(given, (str, os.PathLike)):
        path = Path(given)
        suffix = path.suffix.lower()
        if suffix == ".json":
            idx = _read_index_json(path, dataset, role)
            return idx, f"{path.name} ({idx.size} records)"
        if suffix != ".csv":
            raise GmiaError(f"{role} file {str(path)!r} has suffix {path.suffix!r}; expected a .csv file of records "
                            "or a .json file of record indices")
        rows = _rows_from_frame(dataset, read_cells(path, f"{role} file"), f"{role} file {path.name!r}", path.name, need_label=False)
    elif isinstance(given, pd.DataFrame):
        rows = _rows_from_frame(dataset, given, f"the {role} table", f"a table of {len(given)} rows", need_label=False)
    else:
        idx = _indices(given, len(dataset), f"record indices given as {role}")
        return idx, f"{idx.size} given indices"
    found = _matches(rows.x, rows.y, dataset.x, dataset.y)
    missing = np.flatnonzero(found.n_per_row == 0)
    if missing.size:
        extra = "" if rows.y is None else " with that class"
        raise GmiaError(f"{rows.where}: {_rows_text(missing)} {'is' if missing.size == 1 else 'are'} not a record of data "
                        f"set {dataset.name!r}{extra} ({_describe(dataset, rows.x[missing[0]], rows.y, missing[0])}); "
                        "expected rows copied from the data set's source, every value as it is there")
    several = int((found.n_per_row > 1).sum())
    idx = np.flatnonzero(found.any_row).astype(np.int64)
    if several:
        notes.append(f"{rows.where}: {several} row{'s' if several > 1 else ''} match{'' if several > 1 else 'es'} several "
                     f"identical records; all of them count as {role} ({idx.size} records from {len(rows.x)} rows)")
    return idx, f"{rows.label} ({idx.size} records)"


def _population(dataset: Dataset, given, notes: list[str]) -> tuple[np.ndarray | None, _Rows | None, str]:
    """(indices, None, label) for indices; (None, rows, label) for records given as rows."""
    if given is None:
        return None, None, ""
    if isinstance(given, (str, os.PathLike)):
        path = Path(given)
        if path.suffix.lower() != ".csv":
            raise GmiaError(f"population file {str(path)!r} has suffix {path.suffix!r}; expected a .csv file with the "
                            f"columns of data set {dataset.name!r}'s source, label included")
        rows = _rows_from_frame(dataset, read_cells(path, "population file"), f"population file {path.name!r}", path.name,
                                need_label=True, notes=notes)
    elif isinstance(given, pd.DataFrame):
        rows = _rows_from_frame(dataset, given, "the population table", f"a table of {len(given)} rows",
                                need_label=True, notes=notes)
    else:
        idx = _indices(given, len(dataset), "record indices given as the population")
        return idx, None, f"{idx.size} given indices"
    rows.label = f"{rows.label} ({len(rows.x)} records, appended to the data set)"
    return None, rows, rows.label


def _indices(given, n: int, what: str) -> np.ndarray:
    arr = np.asarray(given)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise GmiaError(f"the {what} have shape {arr.shape} and type {arr.dtype}; expected a flat list of integer "
                        f"record indices from 0 to {n - 1}")
    arr = arr.astype(np.int64)
    bad = arr[(arr < 0) | (arr >= n)]
    if bad.size:
        raise GmiaError(f"the {what} include {', '.join(map(str, bad[:SHOWN].tolist()))}, outside the data set; expected "
                        f"record indices from 0 to {n - 1}")
    return np.unique(arr)


def _read_index_json(path: Path, dataset: Dataset, role: str) -> np.ndarray:
    """A gmia members file (``{"records": [...], "data_fingerprint": ...}``) or a JSON list of indices.

    The members file's format is `gmia.protocol.deployed.write_target`'s; this is its one reader."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GmiaError(f"{role} file {str(path)!r} cannot be read ({' '.join(str(exc).split())}); expected a gmia "
                        "members file or a JSON list of record indices") from None
    if isinstance(doc, dict):
        if doc.get("data_fingerprint") not in (None, dataset.fingerprint()):
            raise GmiaError(f"{role} file {str(path)!r} belongs to another data set than {dataset.name!r}; expected "
                            "one written for the data set the audit uses")
        doc = doc.get("records")
    if not isinstance(doc, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in doc):
        raise GmiaError(f"{role} file {str(path)!r} holds no list of integer record indices; expected a gmia members "
                        "file ({\"records\": [...]}) or a JSON list such as [3, 17, 42]")
    return _indices(np.asarray(doc, dtype=np.int64), len(dataset), f"record indices of {path.name!r}")


def _rows_from_frame(dataset: Dataset, df: pd.DataFrame, where: str, label: str, need_label: bool,
                     notes: list[str] | None = None) -> _Rows:
    """Encode a table of records in the source's columns with the data set's own schema."""
    schema = dataset.schema
    if schema.image is not None:
        raise GmiaError(f"{where} gives records as rows, but data set {dataset.name!r} holds images; expected record indices")
    groups = schema.groups()
    columns = [str(c).strip() for c in df.columns]
    df = df.set_axis(columns, axis=1)
    expected = f"expected the columns of data set {dataset.name!r}'s source ({', '.join(list(groups)[:12])}" + \
        (", ..." if len(groups) > 12 else "") + f"; label {schema.label!r})"
    missing = [g for g in groups if g not in columns] + ([schema.label] if need_label and schema.label not in columns else [])
    if missing:
        raise GmiaError(f"{where} has no column {missing[0]!r}; {expected}")
    extra = [c for c in columns if c not in groups and c != schema.label]
    if extra and notes is not None:
        notes.append(f"{where}: column{'s' if len(extra) > 1 else ''} {', '.join(map(repr, extra))} "
                     f"{'are' if len(extra) > 1 else 'is'} not in the data set's schema and {'were' if len(extra) > 1 else 'was'} ignored")
    records: list[dict] = [{} for _ in range(len(df))]
    for group, idx in groups.items():
        values = _column(df[group], where, group)
        if schema.features[idx[0]].kind == "numeric":
            numbers = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").astype(np.float64).to_numpy()
            bad = np.flatnonzero(~np.isfinite(numbers))
            if bad.size:
                raise GmiaError(f"{where}: column {group!r} has {values[bad[0]]!r} in row {bad[0] + 1} (first data row is 1); "
                                "expected a finite number")
            values = numbers.tolist()
        else:
            known = [schema.features[j].category for j in idx]
            bad = [i for i, v in enumerate(values) if v not in set(known)]
            if bad:
                raise GmiaError(f"{where}: column {group!r} has {values[bad[0]]!r} in row {bad[0] + 1} (first data row is 1), "
                                f"a category data set {dataset.name!r} does not know; expected one of: {_short(known)}")
        for rec, v in zip(records, values):
            rec[group] = v
    x = encode_records(records, schema) if records else np.zeros((0, schema.n_features), np.float32)
    y = None
    if schema.label in columns:
        labels = _column(df[schema.label], where, schema.label)
        classes = {c: i for i, c in enumerate(schema.classes)}
        bad = [i for i, v in enumerate(labels) if v not in classes]
        if bad:
            raise GmiaError(f"{where}: label column {schema.label!r} has {labels[bad[0]]!r} in row {bad[0] + 1} (first data "
                            f"row is 1), a class data set {dataset.name!r} does not know; expected one of: {_short(schema.classes)}")
        y = np.array([classes[v] for v in labels], dtype=np.int64)
    return _Rows(x=x, y=y, where=where, label=label)


def _column(series: pd.Series, where: str, name: str) -> list[str]:
    """A column's cells as stripped text; a missing cell is an error (a record needs every value)."""
    missing = np.flatnonzero(series.isna().to_numpy())
    if missing.size:
        raise GmiaError(f"{where}: column {name!r} has no value in row {missing[0] + 1} (first data row is 1); expected "
                        "every value of every record")
    return [str(v).strip() for v in series.tolist()]


# --- matching and the checks -------------------------------------------------------------------


@dataclass
class _Found:
    n_per_row: np.ndarray  # [rows] how many records each row matches
    any_row: np.ndarray  # [records] bool: matched by some row


def _keys(x: np.ndarray, y: np.ndarray | None) -> list[bytes]:
    """One key per row: its float32 bytes (−0.0 read as 0.0), and its class when known."""
    x = np.ascontiguousarray(np.asarray(x, np.float32) + np.float32(0.0))
    if y is None:
        return [row.tobytes() for row in x]
    return [row.tobytes() + int(c).to_bytes(8, "little") for row, c in zip(x, y)]


def _matches(x_rows, y_rows, x_records, y_records) -> _Found:
    """Which of ``x_records`` (with ``y_records``) each row equals; the class counts only where a row has one."""
    by_key: dict[bytes, list[int]] = {}
    for i, key in enumerate(_keys(x_records, y_records if y_rows is not None else None)):
        by_key.setdefault(key, []).append(i)
    any_row = np.zeros(len(x_records), bool)
    n_per_row = np.zeros(len(x_rows), np.int64)
    for j, key in enumerate(_keys(x_rows, y_rows)):
        hit = by_key.get(key, ())
        n_per_row[j] = len(hit)
        any_row[list(hit)] = True
    return _Found(n_per_row=n_per_row, any_row=any_row)


def _drop_candidates(dataset: Dataset, cand: np.ndarray, pop: np.ndarray | None, rows: _Rows | None,
                     notes: list[str]) -> tuple[np.ndarray | None, _Rows | None]:
    """The population without the candidates: a reference trained on a candidate would hide its membership."""
    if rows is None:
        both = np.intersect1d(cand, pop)
        if both.size:
            notes.append(f"{_records_text(both)} {'is' if both.size == 1 else 'are'} candidates and {'was' if both.size == 1 else 'were'} "
                         "removed from the population (a reference model trained on a candidate would hide its membership)")
        return np.setdiff1d(pop, both), None
    hit = _matches(rows.x, rows.y, dataset.x[cand], dataset.y[cand]).n_per_row > 0
    if hit.any():
        notes.append(f"{rows.where}: {_rows_text(np.flatnonzero(hit))} equal{'s' if hit.sum() == 1 else ''} a candidate and "
                     f"{'was' if hit.sum() == 1 else 'were'} removed from the population (a reference model trained on a "
                     "candidate would hide its membership)")
        rows = _Rows(x=rows.x[~hit], y=rows.y[~hit], where=rows.where, label=rows.label)
    return None, rows


def _refuse_members_in_population(dataset: Dataset, members: np.ndarray, pop: np.ndarray, rows: _Rows | None) -> None:
    why = ("expected only records known not to be in the target's training set there: the calibration records must be "
           "non-members, and references trained on members bias the test")
    if rows is None:
        both = np.intersect1d(members, pop)
        if both.size:
            raise GmiaError(f"population {_records_text(both)} {'is' if both.size == 1 else 'are'} in the target's "
                            f"training rows (members); {why}")
        return
    hit = np.flatnonzero(_matches(rows.x, rows.y, dataset.x[members], dataset.y[members]).n_per_row > 0)
    if hit.size:
        raise GmiaError(f"{rows.where}: {_rows_text(hit)} equal{'s' if hit.size == 1 else ''} a record of the target's "
                        f"training rows (members); {why}")


# --- words ---------------------------------------------------------------------------------------


def _records_text(idx: np.ndarray) -> str:
    shown = ", ".join(map(str, idx[:SHOWN].tolist()))
    more = f" and {idx.size - SHOWN} more" if idx.size > SHOWN else ""
    return f"record{'s' if idx.size > 1 else ''} {shown}{more}"


def _rows_text(idx: np.ndarray) -> str:
    """Data rows numbered from 1, as a person counts them in the file."""
    shown = ", ".join(str(i + 1) for i in idx[:SHOWN].tolist())
    more = f" and {idx.size - SHOWN} more" if idx.size > SHOWN else ""
    return f"row{'s' if idx.size > 1 else ''} {shown}{more} (first data row is 1)"


def _describe(dataset: Dataset, x: np.ndarray, y: np.ndarray | None, row: int) -> str:
    """The first offending row's values, decoded, so the user sees what was looked for."""
    rec = decode_records(x[None], dataset.schema)[0]
    if y is not None:
        rec[dataset.schema.label] = dataset.schema.classes[int(y[row])]
    text = ", ".join(f"{k}={v}" for k, v in list(rec.items())[:8])
    return f"row {row + 1}: {text}" + (", ..." if len(rec) > 8 else "")


def _short(items, limit: int = 20) -> str:
    items = [str(i) for i in items]
    return ", ".join(items[:limit]) + (f", ... ({len(items) - limit} more)" if len(items) > limit else "")
