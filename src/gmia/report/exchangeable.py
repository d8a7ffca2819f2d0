"""The report's section for the direct test against exchangeable references
(`gmia reproduce ... --references exchangeable`; `gmia.protocol.exchangeable`)."""

from __future__ import annotations

from gmia.base.formatting import pct
from gmia.report.html import esc, section, table
from gmia.report.sections import REPRODUCE

ALPHAS = ("0.01", "0.05", "0.1")


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
    for name in x0["tests"]:
        tests = [ev["exchangeable"]["tests"][name] for ev in firsts]
        worst = " / ".join(pct(max(t["null_selected"][a] for t in tests)) for a in ALPHAS)
        for i, cut in enumerate(tests[0]["rows"]):
            tp, fp = sum(t["rows"][i]["tp"] for t in tests), sum(t["rows"][i]["fp"] for t in tests)
            members = sum(t["rows"][i]["member_pairs"] for t in tests)
            rows.append([name if i == 0 else "", f"{cut['cutoff']:g}", tp, fp,
                         pct(tp / (tp + fp)) if tp + fp else "no call", pct(tp / members) if members else "-",
                         worst if i == 0 else "",
                         sum(t["fdr"]["calls"] for t in tests) if i == 0 else "",
                         pct(max(t["fdr"]["fdr"] for t in tests)) if i == 0 else "",
                         pct(sum(t["fdr"]["false_calls"] for t in tests) / max(1, sum(t["fdr"]["calls"] for t in tests)))
                         if i == 0 else ""])
    head = ["test", "cutoff", "TP", "FP", "precision", "recall", "non-member p < .01 / .05 / .1 (worst seed)",
            f"FDR calls, all records (q = {x0['tests'][next(iter(x0['tests']))]['fdr']['q']:g})", "realised FDR (worst seed)",
            "false of all calls"]
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
