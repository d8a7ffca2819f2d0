"""Run folders (results.json, records.parquet, report.html) and the self-contained HTML report."""

from gmia.report.artifacts import load_run, write_run
from gmia.report.export import verdicts_frame, write_verdicts
from gmia.report.html import build_report, section
from gmia.report import sections  # registers the report's sections, in order
from gmia.report import exchangeable  # noqa: E402  (after the reproduction's own sections)
from gmia.report import audit, compare, privacy, canaries  # noqa: E402  (their sections come after the others)

__all__ = ["audit", "build_report", "canaries", "compare", "load_run", "privacy", "section", "sections", "verdicts_frame",
           "write_run", "write_verdicts"]
