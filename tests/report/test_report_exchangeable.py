"""A reproduction with --references exchangeable shows that design in its report and its rows."""

import pandas as pd
import pytest

import gmia


@pytest.mark.slow
def test_the_report_and_the_rows_show_the_exchangeable_design(tmp_path):
    out = tmp_path / "run"
    gmia.reproduce("table1", "cancer", k=8, n_targets=20, steps=200, references="exchangeable", out=out,
                   cache_dir=tmp_path / "cache", progress=False)
    html = (out / "report.html").read_text()
    assert "Direct inference against exchangeable references" in html and "fdr_member" in html
    rows = pd.read_parquet(out / "records.parquet")
    assert {"p_exchangeable", "fdr_member"} <= set(rows.columns)
    plain = tmp_path / "plain"
    gmia.reproduce("table1", "cancer", k=8, n_targets=20, steps=200, out=plain, cache_dir=tmp_path / "cache",
                   progress=False)
    assert "exchangeable references" not in (plain / "report.html").read_text()
