"""Run folders (results.json, records.parquet, report.html) and the self-contained HTML report."""

from gmia.report.artifacts import load_run, write_run
from gmia.report.html import build_report, section
from gmia.report import sections  # registers the report's sections, in order
from gmia.report import privacy, canaries  # noqa: E402  (their sections come after the others)

__all__ = ["build_report", "canaries", "load_run", "privacy", "section", "sections", "write_run"]
