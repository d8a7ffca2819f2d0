"""Reports on the user's own data: a CSV data set's values as typed, no empty paper columns, class
names, one evidence card per audited record, and verdicts exported as CSV and parquet."""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

import gmia
from gmia.auditing.run import check_schema
from gmia.console.reproduce import render
from gmia.data import encode_records, load_bundled
from gmia.data.csv import float_decimals, load_csv, text_decimals
from gmia.data.records import decode_records, readable_record
from gmia.data.schema import decode_columns
from gmia.data.schema import Dataset, Feature, Schema
from gmia.base.errors import GmiaError
from gmia.models.file_format import from_sklearn
from gmia.settings.paper import PaperRow, PaperSetting
from gmia.report import load_run, verdicts_frame, write_run, write_verdicts
from gmia.report.sections import direct_results

NUMERIC = ["radius", "ratio", "dose", "count"]
CLASSES = ("benign-ish", "malignant-ish")  # sorted: index 0 and 1
SMALL = dict(k=6, steps=100, lr=1e-2, batch_size=25, progress=False)


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory):
    """300 records typed the way people type them: 2 decimals, 1 decimal, scientific, integers."""
    rng = np.random.default_rng(0)
    lines = ["radius,ratio,dose,count,colour,diagnosis"]
    for i in range(300):
        y = int(rng.integers(0, 2))
        lines.append(f"{rng.normal(15, 4) + 3 * y:.2f},{rng.uniform(0, 9):.1f},{rng.uniform(1, 9):.1f}e-3,"
                     f"{rng.integers(0, 9)},{rng.choice(['red', 'blue'])},{CLASSES[y]}")
    lines[1] = "16.02,3.5,1.5e-3,4,red,benign-ish"
    lines[2] = "12.10,3.50,2.0e-3,7,blue,malignant-ish"
    path = tmp_path_factory.mktemp("csv") / "tumours.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def data(csv_file):
    return load_csv(csv_file, label="diagnosis", numeric=NUMERIC, categorical=["colour"])


@pytest.fixture(scope="module")
def source(csv_file):
    """The CSV as the numbers the user typed (parsed from the text, not through float32)."""
    return pd.read_csv(csv_file)


def test_csv_records_decimals_from_the_source_text(data):
    assert {f.name: f.decimals for f in data.schema.features} == {
        "radius": 2, "ratio": 2, "dose": 4, "count": 0, "colour=blue": None, "colour=red": None}
    assert text_decimals(pd.Series(["7", "3.50", "1.5e-3", "2E+2", None])) == 4
    assert float_decimals(np.array([3.5, 2.0, 16.25])) == 2 and float_decimals(np.array([1.0, 7.0])) == 0
    assert float_decimals(np.array([1 / 3])) == 10


def test_decoded_records_show_the_values_as_typed(data, source):
    exact = decode_columns(data.x[:2], data.schema)
    assert exact["radius"][0] != 16.02 and exact["radius"][0] == pytest.approx(16.02, abs=1e-5)  # float32 round trip
    records = decode_records(data.x[:2], data.schema)
    assert records[0] == {"radius": 16.02, "ratio": 3.5, "dose": 0.0015, "count": 4, "colour": "red"}
    assert records[1] == {"radius": 12.1, "ratio": 3.5, "dose": 0.002, "count": 7, "colour": "blue"}
    shown = pd.DataFrame(decode_records(data.x, data.schema))
    raw = data.raw()
    for col in NUMERIC:  # every record, exactly the number typed
        assert shown[col].tolist() == source[col].tolist(), col
        assert raw[col].tolist() == source[col].tolist(), col
    assert raw["diagnosis"].tolist() == source["diagnosis"].tolist()
    assert readable_record(data, 0) == {"radius": "16.02", "ratio": "3.5", "dose": "0.0015", "count": "4",
                                        "colour": "red", "diagnosis": "benign-ish"}


def test_rounding_never_changes_what_a_query_encodes_to(data):
    assert np.array_equal(encode_records(decode_records(data.x, data.schema), data.schema), data.x)
    perturbed = data.x.copy()
    perturbed[:, :3] += np.random.default_rng(1).normal(0, 0.3, (len(data), 3)).astype(np.float32)
    exact = decode_columns(perturbed, data.schema)
    shown = decode_records(perturbed, data.schema)
    assert [r["radius"] for r in shown] == exact["radius"].tolist()  # not a source record: not rounded
    assert np.array_equal(encode_records(shown, data.schema), perturbed)


def test_decimals_leave_fingerprints_and_the_schema_check_alone(data):
    plain = Schema(features=tuple(replace(f, decimals=None) for f in data.schema.features), classes=data.schema.classes,
                   label=data.schema.label)
    assert Dataset(data.name, data.x, data.y, plain).fingerprint() == data.fingerprint()
    from sklearn.linear_model import LogisticRegression

    fitted = LogisticRegression(max_iter=200).fit(data.x, data.y)
    assert from_sklearn(fitted, plain).fingerprint() == from_sklearn(fitted, data.schema).fingerprint()
    as_dict = data.schema.to_dict()
    assert as_dict["features"][0]["decimals"] == 2 and "decimals" not in as_dict["features"][-1]
    assert [f.decimals for f in Schema.from_dict(as_dict).features] == [f.decimals for f in data.schema.features]
    old = json.loads(json.dumps(as_dict))  # a model file written before decimals existed
    for f in old["features"]:
        f.pop("decimals", None)
    check_schema(Schema.from_dict(old), data)
    old["features"][0]["offset"] += 1.0
    with pytest.raises(GmiaError, match="feature 'radius' is encoded differently"):
        check_schema(Schema.from_dict(old), data)
    with pytest.raises(GmiaError, match="decimals 11"):
        Feature(name="a", kind="numeric", group="a", low=0.0, high=1.0, decimals=11)


@pytest.mark.slow
def test_bundled_sets_record_decimals():
    cancer = load_bundled("cancer")
    assert {f.decimals for f in cancer.schema.features} == {0}
    assert cancer.fingerprint() == Dataset("c", cancer.x, cancer.y, Schema.from_dict(
        {**cancer.schema.to_dict(), "features": [{k: v for k, v in f.items() if k != "decimals"}
                                                 for f in cancer.schema.to_dict()["features"]]})).fingerprint()
    adult = load_bundled("adult")
    assert {f.decimals for f in adult.schema.features if f.kind == "numeric"} == {0}


@pytest.fixture(scope="module")
def reproduced(data, tmp_path_factory):
    root = tmp_path_factory.mktemp("reproduce")
    # δ = 0.3, β = 3 select a couple of these records, so the report has record cards.
    result = gmia.reproduce("table1", data, n_targets=4, delta=0.3, beta=3.0, cache_dir=root / "cache", out=root / "t1",
                            **SMALL)
    return result, root / "t1"


def console_text(result) -> str:
    out = io.StringIO()
    render(result, Console(file=out, width=400, color_system=None))
    return out.getvalue()


@pytest.mark.slow
def test_no_paper_columns_without_the_paper(reproduced):
    result, folder = reproduced
    assert "paper precision" not in console_text(result) and "paper # sel." not in console_text(result)
    html = (folder / "report.html").read_text()
    assert "Direct inference on the selected records" in html and not re.search(r"<th[^>]*>paper", html)
    # The same run beside a paper row at its setting does get the columns: the checks above can fail.
    pooled = result.pooled[0]
    paper = (PaperSetting(delta=pooled.delta, beta=pooled.beta, n_selected=7,
                          rows=(PaperRow(cutoff=pooled.rows[0].cutoff, precision=0.5, recall=0.25, tp=3, fp=3),)),)
    assert "paper precision" in console_text(replace(result, paper=paper))
    results, _ = load_run(folder)
    results["paper"] = [{"delta": pooled.delta, "beta": pooled.beta, "n_selected": 7,
                         "rows": [{"cutoff": pooled.rows[0].cutoff, "precision": 0.5, "recall": 0.25}]}]
    assert re.search(r"<th[^>]*>paper precision", direct_results(results, None))


@pytest.mark.slow
def test_class_names_in_the_report_and_the_records(reproduced, tmp_path):
    _, folder = reproduced
    results, records = load_run(folder)
    assert results["cards"], "expected record cards at these thresholds"
    html = (folder / "report.html").read_text()
    names = {c["class_name"] for c in results["cards"]}
    assert names <= set(CLASSES) and all(f"class {n})" in html for n in names)
    assert not re.search(r"class [01]\)", html)
    assert records["class_index"].isin([0, 1]).all()  # the label stays numeric for machines
    # Given the data set's class names, records.parquet carries them beside the index.
    numeric = records.drop(columns=["class"], errors="ignore").rename(columns={"class_index": "class"})
    write_run(tmp_path / "again", "table1", results, numeric, classes=CLASSES)
    named = pd.read_parquet(tmp_path / "again" / "records.parquet")
    assert (named["class"].astype(str) == named["class_index"].map(dict(enumerate(CLASSES)))).all()


@pytest.fixture(scope="module")
def audited(data, tmp_path_factory):
    root = tmp_path_factory.mktemp("audit")
    model, members = gmia.train_target(data, cache_dir=root / "cache", steps=100, lr=1e-2, batch_size=25)
    result = gmia.audit(model, data, members=members, delta=0.3, beta=50.0, max_records=6, cache_dir=root / "cache",
                        out=root / "run", **SMALL)
    return result, root / "run"


def test_audit_report_has_each_records_features_and_reference_losses(audited, source):
    result, folder = audited
    assert result.n_tested == 6
    html = (folder / "report.html").read_text()
    for r in result.records:
        assert len(r["reference_losses"]) == r["out_references"] > 0  # what the exchangeable p-value is read from
        start = html.find(f'<div class="rec" id="record-{r["record"]}">')
        assert start >= 0, f"no card for record {r['record']}"
        text = html[start:].split('<div class="rec" id=', 2)[1]
        assert f'<figure class="gmia-figure" data-record="{r["record"]}"><svg' in text
        assert f"class {r['class']}" in text and r["class"] in CLASSES
        typed = source.iloc[r["record"]]
        for col in NUMERIC + ["colour"]:
            assert f"<b>{col}</b>: {typed[col]}<" in text, (col, typed[col])
    assert html.count('class="gmia-figure" data-record=') == 6
    # The exchangeable design's paragraph, and a row per candidate beside the report.
    assert "<b>Exchangeable references</b>" in html and "out-references" in html
    candidates = pd.read_csv(folder / "records.csv")
    assert len(candidates) == result.n_candidates
    assert {"record", "p_exchangeable", "p_rank", "out_references", "fdr_member", "member"} <= set(candidates.columns)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_write_verdicts_round_trip(audited, source, tmp_path, suffix):
    result, folder = audited
    path = write_verdicts(result, tmp_path / f"verdicts{suffix}")
    back = pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
    expected = verdicts_frame(result)
    assert list(back.columns) == list(expected.columns)
    assert {"record", "class", "p_value", "p_interval_low", "p_interval_high", "verdict", *NUMERIC, "colour"} <= set(back.columns)
    assert back["record"].tolist() == [r["record"] for r in result.records]
    assert back["verdict"].tolist() == [r["verdict"] for r in result.records]
    assert np.allclose(back["p_value"], [r["p_direct"] for r in result.records], equal_nan=True)
    typed = source.iloc[back["record"]].reset_index(drop=True)
    for col in NUMERIC + ["colour"]:
        assert back[col].tolist() == typed[col].tolist(), col
    # The audit's run folder holds the same verdicts.
    assert pd.read_csv(folder / "verdicts.csv").equals(pd.read_csv(io.StringIO(expected.to_csv(index=False))))
    assert pd.read_parquet(folder / "verdicts.parquet")["record"].tolist() == back["record"].tolist()


def test_write_verdicts_refuses_another_suffix(audited, tmp_path):
    with pytest.raises(GmiaError, match=r"'\.xlsx'; expected \.csv or \.parquet"):
        write_verdicts(audited[0], tmp_path / "verdicts.xlsx")
    with pytest.raises(GmiaError, match=r"expected an AuditResult"):
        write_verdicts([1, 2], tmp_path / "verdicts.csv")
    assert not list(tmp_path.iterdir())
