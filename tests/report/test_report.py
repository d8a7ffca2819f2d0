"""Run folders and the self-contained HTML report, opened in headless Chromium."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

import gmia.zoo.trainer as trainer_mod
from gmia.cli import main

FAST = ["--k", "8", "--targets", "4", "--steps", "100"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    out = root / "table1"
    # δ = 0.2 and β = 1 select some Cancer records even with these tiny settings, so cards appear.
    code = main(["reproduce", "table1", "--dataset", "cancer", *FAST, "--delta", "0.2", "--beta", "1",
                 "--cache-dir", str(root / "cache"), "--out", str(out)])
    assert code == 0
    return out


@pytest.mark.slow
def test_run_folder_holds_results_records_and_report(run_dir):
    results = json.loads((run_dir / "results.json").read_text())
    assert results["schema_version"] == 2 and results["kind"] == "table1"
    records = pd.read_parquet(run_dir / "records.parquet")
    assert len(records) == 200 * 4  # pool records x targets
    for col in ("record", "class_index", "neighbours", "expected_neighbours", "statistic", "p_value", "decision", "member"):
        assert col in records.columns
    assert records.groupby("record")["member"].sum().eq(2).all()  # each record in half the targets
    assert len(results["cards"]) == len(results["runs"][0]["evaluations"][0]["selected"]) > 0
    html = (run_dir / "report.html").read_text()
    assert "<figure class=\"gmia-figure\">" in html and "Vulnerable records" in html
    # Self-contained: nothing is fetched when it opens.
    assert not re.search(r"""(src|href)=["']?https?://""", html)


@pytest.mark.slow
def test_report_command_rebuilds_without_training(run_dir, monkeypatch, capsys):
    (run_dir / "report.html").unlink()
    monkeypatch.setattr(trainer_mod, "train_stack", lambda *a, **k: pytest.fail("the report must not train"))
    assert main(["report", str(run_dir)]) == 0
    assert "Report written to" in capsys.readouterr().out
    assert (run_dir / "report.html").stat().st_size > 10_000


def test_report_of_a_folder_without_results(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "has no results.json" in err and "Traceback" not in err


@pytest.mark.slow
def test_table3_and_compare_reports(tmp_path):
    cache = str(tmp_path / "cache")
    assert main(["reproduce", "table3", "--dataset", "cancer", "--k", "8", "--targets", "4", "--candidates", "300",
                 "--clusters", "20", "--positive-steps", "100", "--theta", "0.6", "--cache-dir", cache,
                 "--out", str(tmp_path / "t3")]) == 0
    html = (tmp_path / "t3" / "report.html").read_text()
    assert "Direct vs indirect inference" in html and "positive references" in html
    assert main(["compare", "--dataset", "cancer", *FAST, "--inout", "4", "--bootstrap", "5", "--cache-dir", cache,
                 "--out", str(tmp_path / "cmp")]) == 0
    html = (tmp_path / "cmp" / "report.html").read_text()
    assert "GMIA beside other attacks" in html and "lira-online" in html and "ROC over all pool records" in html
    assert "beside the paper's Table 7" in html and "50.25%" in html
    # The intervals `gmia compare` prints are in the report too.
    assert "ROC AUC [95% CI]" in html and "TPR @ FPR ≤ 1% [95% CI]" in html
    assert re.search(r"<td[^>]*>0\.\d{4} \[0\.\d{3}, [01]\.\d{3}\]</td>", html)  # an AUC and its interval


def open_in_chromium(path: Path, tmp_path: Path, screenshot: Path | None = None) -> tuple[str, str]:
    profile = tmp_path / "chromium-profile"
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
           "--virtual-time-budget=5000", "--window-size=1200,2400"]
    dom = subprocess.run([*cmd, "--dump-dom", path.as_uri()], capture_output=True, text=True, timeout=120)
    if screenshot is not None:
        subprocess.run([*cmd, f"--screenshot={screenshot}", path.as_uri()], capture_output=True, timeout=120)
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    return dom.stdout, "\n".join(console)


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make test installs Debian's chromium)")
def test_report_opens_in_chromium_without_errors_and_with_every_figure(run_dir, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report-table1-cancer.png"
    dom, console = open_in_chromium(run_dir / "report.html", tmp_path, shot)
    assert console == "", console
    expected = (run_dir / "report.html").read_text().count('<figure class="gmia-figure">')
    assert f'data-figures="{expected}"' in dom and 'data-figures-ok="true"' in dom, dom[-500:]
    assert shot.is_file() and shot.stat().st_size > 10_000


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make test installs Debian's chromium)")
def test_the_browser_check_can_fail(tmp_path):
    broken = tmp_path / "broken.html"
    broken.write_text('<html><body><figure class="gmia-figure"></figure><script>no_such_function();</script></body></html>')
    dom, console = open_in_chromium(broken, tmp_path)
    assert "Uncaught ReferenceError" in console
    assert 'data-figures-ok="true"' not in dom


def test_report_cells_show_no_reprs_nan_intervals_or_dangling_dashes():
    from gmia.base.formatting import pct
    from gmia.report.html import num, num_ci, pct_ci, plain, with_ci

    assert plain([[None, 0.1], [0.2, 1.0]], "settings") == "delta=derived, beta=0.1; delta=0.2, beta=1"
    assert plain(["dp-epsilon=2", "l2=0"]) == "dp-epsilon=2, l2=0" and plain((0.01, 0.008)) == "0.01, 0.008"
    assert plain({"n_over_nprime": 3}) == "n_over_nprime 3" and plain(None) == "not set"
    assert plain(float("nan")) == "not computed" and plain([]) == "none"
    assert with_ci(pct(float("nan")), pct_ci([float("nan"), float("nan")])) == "not computed"
    assert with_ci(num(0.5899), num_ci(None)) == "0.5899"  # no dangling dash
    assert with_ci(num(0.5899), num_ci([0.5, 0.6])) == "0.5899 [0.500, 0.600]"
