"""Run folders (results.json, records.parquet, report.html) and the self-contained HTML report."""

from gmia.report.artifacts import load_run, write_run
from gmia.report.html import build_report, section
from gmia.report import sections  # registers the report's sections, in order

__all__ = ["build_report", "load_run", "section", "sections", "write_run"]
