"""What every run leaves in its folder: results.json, records.parquet and report.html.

results.json holds the run's result object (with a schema version) plus what the report needs
that tables do not: per-record evidence for the vulnerable records ("cards") and thinned
curves. records.parquet has one row per (record, target) pair, its class both as ``class_index``
(the label) and, where the names are known, ``class`` (the name). An audit's folder also holds
its verdicts as verdicts.csv and verdicts.parquet. Everything is written atomically;
`gmia report RUN_DIR` rebuilds report.html from results.json and records.parquet alone.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from gmia.data.records import class_of_readable
from gmia.base.result import RESULT_SCHEMA_VERSION, jsonable, read_results
from gmia.base.errors import GmiaError, option
from gmia.base.io import atomic_write_bytes, atomic_write_json



def write_run(folder: Path, kind: str, results: dict, records: pd.DataFrame | None = None, *,
              classes: Sequence[str] | None = None) -> Path:
    """Write results.json, records.parquet (if any) and report.html into ``folder``; an audit
    also gets verdicts.csv and verdicts.parquet (`gmia.report.export.write_verdicts`) and, in
    the exchangeable design, records.csv: a row per candidate (`gmia.report.export.write_candidates`).

    ``classes``: the data set's class names, in label order, so the files show a record's class
    by name. Without them, the names the record cards carry are used (`readable_record` keeps
    the class name with the features).
    """
    from gmia.report.html import build_report

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    original = results
    results = {**results, "schema_version": RESULT_SCHEMA_VERSION, "kind": kind}
    names = class_names(results, classes)
    if classes is not None:
        results["classes"] = [str(c) for c in classes]
    if results.get("cards"):
        results["cards"] = [_named_card(c, names) for c in results["cards"]]
    if records is not None:
        records = _named_records(records, names)
    atomic_write_json(folder / "results.json", jsonable(results))
    if records is not None:
        buf = io.BytesIO()
        records.to_parquet(buf, index=False, compression="zstd")
        atomic_write_bytes(folder / "records.parquet", buf.getvalue())
    if kind == "audit":
        from gmia.report.export import write_candidates, write_verdicts

        for suffix in (".csv", ".parquet"):
            write_verdicts(original, folder / f"verdicts{suffix}")
        write_candidates(original, folder / "records.csv")
    atomic_write_bytes(folder / "report.html", build_report(results, records).encode("utf-8"))
    return folder / "report.html"


def class_names(results: dict, classes: Sequence[str] | None = None) -> dict[int, str]:
    """Class index → name: ``classes`` (or results' own ``classes``), else what the record cards
    say (an index and, last in its features, the name). Possibly partial; {} when nothing says."""
    given = classes if classes is not None else results.get("classes")
    if given is not None:
        return {i: str(c) for i, c in enumerate(given)}
    out = {}
    for card in results.get("cards") or ():
        idx, feats = card.get("class"), card.get("features")
        if isinstance(idx, (int, np.integer)) and not isinstance(idx, bool) and feats:
            out[int(idx)] = str(class_of_readable(feats))
    return out


def _named_card(card: dict, names: dict[int, str]) -> dict:
    """A card's ``class`` is its index (for machines); ``class_name`` is added for people."""
    idx = card.get("class")
    if "class_name" in card or not isinstance(idx, (int, np.integer)) or int(idx) not in names:
        return card
    return {**card, "class_name": names[int(idx)]}


def _named_records(records: pd.DataFrame, names: dict[int, str]) -> pd.DataFrame:
    """records.parquet's class as ``class_index`` (the label, for machines) and, where every
    index has a name, ``class`` (the name, for people)."""
    if "class" not in records.columns or not pd.api.types.is_integer_dtype(records["class"]):
        return records
    records = records.rename(columns={"class": "class_index"})
    present = pd.unique(records["class_index"])
    if names and all(int(i) in names for i in present):
        at = records.columns.get_loc("class_index") + 1
        records.insert(at, "class", records["class_index"].astype(int).map(names).astype("category"))
    return records


def load_run(folder: Path) -> tuple[dict, pd.DataFrame | None]:
    folder = Path(folder)
    path = folder / "results.json"
    if not path.is_file():
        raise GmiaError(f"run folder {str(folder)!r} has no results.json; expected a folder written by a gmia command with {option('out')}")
    results = read_results(path)
    parquet = folder / "records.parquet"
    return results, (pd.read_parquet(parquet) if parquet.is_file() else None)


