"""The report's section for the direct test against exchangeable references
(`gmia reproduce ... --references exchangeable`; `gmia.protocol.exchangeable`)."""

from __future__ import annotations

from gmia.base.formatting import pct
from gmia.report.html import esc, section, table
from gmia.protocol.exchangeable import pooled_over_seeds
from gmia.report.sections import REPRODUCE


@section
def exchangeable_results(results, records):
    if results.get("kind") not in REPRODUCE:
        return None
    firsts = [run["evaluations"][0] for run in results.get("runs", []) if run["evaluations"]
              and run["evaluations"][0].get("exchangeable")]
    if not firsts:
        return None
    x0 = firsts[0]["exchangeable"]
    rows = []
    for name, p in pooled_over_seeds([ev["exchangeable"] for ev in firsts]).items():
        for i, row in enumerate(p["rows"]):
            first = i == 0
            rows.append([name if first else "", f"{row['cutoff']:g}", row["tp"], row["fp"],
                         "no call" if row["precision"] is None else pct(row["precision"]),
                         "-" if row["recall"] is None else pct(row["recall"]),
                         " / ".join(pct(v) for v in p["worst_null"].values()) if first else "",
                         p["calls"] if first else "", pct(p["worst_fdr"]) if first else "",
                         pct(p["false"] / p["calls"]) if first and p["calls"] else "",
                         f"{p['twins']} of {p['false']}" if first else ""])
    head = ["test", "cutoff", "TP", "FP", "precision", "recall", "non-member p < .01 / .05 / .1 (worst seed)",
            f"FDR calls, all records (q = {x0['tests'][next(iter(x0['tests']))]['fdr']['q']:g})", "realised FDR (worst seed)",
            "false of all calls", "false calls on a member's twin"]
    return ("<h2>Direct inference against exchangeable references</h2>"
            + f"<p>Each (target, record) pair tested against {esc(x0['references'])} "
              f"({x0['out_references']['median']:g} per record); the selection used the paper's references only. "
              f"Default test: {esc(x0['default_test'])}.</p>"
            + table(head, rows)
            + '<p class="muted">Pooled over seeds. The FDR calls are per target over all pool records (weighted '
              "Benjamini-Hochberg, isolation as the weights); records.parquet has them as <code>fdr_member</code>. "
              "Realised FDR: false calls / calls per target, averaged over targets (what BH controls); false of all "
              "calls: pooled over targets, where one target more confident than the others on every record makes "
              "many false calls, so it can be far above q.</p>")
