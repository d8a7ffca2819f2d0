"""Terminal output of `gmia audit`: one verdict per tested record, then what it cost."""

from __future__ import annotations

import math

from rich.console import Console
from rich.table import Table

from gmia.base.formatting import fmt_delta, pct, scaling_counts, tpr_convention
from gmia.targets.policy import OutputPolicy
from gmia.auditing.matching import Matching
from gmia.auditing.result import ATTACK_COLUMNS, attack_rows, exchangeable_line, risk_lines

FEATURES_SHOWN = 3


def _p(v) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4f}"


def _attacks(result, console: Console) -> None:
    """Every attack on this target, on the same references and answers: a table with the members
    known, the list of scores written otherwise."""
    if all(a.get("auc") is None for a in result.attacks.values()):
        console.print(f"Attacks scored on every candidate (score_<attack> in records.csv): {', '.join(result.attacks)}; "
                      "give --members to see how well each separates members from non-members.", highlight=False)
        return
    table = Table(title="Every attack on this target, on the same references and answers "
                        "(95% bootstrap intervals over the candidates)")
    for c in ATTACK_COLUMNS:
        table.add_column(c, justify="left" if c == "attack" else "right")
    for row in attack_rows(result.attacks):
        table.add_row(*row)
    console.print(table)
    console.print(tpr_convention({"non_member_pairs": result.non_members_scored()}).replace("pairs", "candidates")
                  + " ε ≥: the one-run lower bound (Steinke et al.) at 95% confidence, add/remove neighbours, assuming "
                  "each candidate was in the training set by its own coin.", highlight=False)


def render_audit(result, console: Console) -> None:
    cfg = result.config
    console.print(
        f"[bold]GMIA audit of {result.target}[/bold] (model {result.model_id[:16]}, output: "
        f"{OutputPolicy(**result.output).describe()}) on {result.dataset}: "
        f"{result.n_selected} of {result.n_candidates} pool records selected at delta={fmt_delta(cfg['delta'])}, "
        f"beta={cfg['beta']:g} on {cfg['features']} features (N={cfg['n_train']}; selected: "
        f"{scaling_counts(result.counts_by_scaling)}); {result.n_tested} tested; reference models: train accuracy "
        f"{result.reference_accuracy['train']:.3f}, test {result.reference_accuracy['test']:.3f}"
    )
    if result.algorithms:
        m = Matching(**result.algorithms)
        style = {True: "green", False: "bold red"}.get(m.match, "yellow")
        console.print(f"Training algorithms: {m.line()}", style=style, highlight=False)
    if not result.records:
        console.print("No record was selected, so nothing was queried: try a larger --delta or --beta, or "
                      "--selection-features logits if the target's architecture is known.")
    else:
        x = result.exchangeable
        over = "r's out-references" if x else f"k={cfg['k']} reference models"
        table = Table(title=f"Verdicts at p < {cfg['cutoff']:g} (95% interval: the tail fraction over {over})")
        indirect = any("p_indirect" in r for r in result.records)
        truth = any("member" in r for r in result.records)
        if x:
            cols = ["record", "class", "N'_n", "target loss", "out-refs", "p direct (exchangeable)", "rank p",
                    "95% interval", "verdict", "FDR call", f"p paper ({cfg.get('pvalues', 'raw')})"]
        else:
            cols = ["record", "class", "N'_n", "E[N_n]", "target loss", f"p direct ({cfg.get('pvalues', 'raw')})", "raw p",
                    "95% interval (raw)", "verdict"]
        null = any("null_calls" in r for r in result.records)
        cols += ["enhancing", "p indirect", "indirect verdict"] if indirect else []
        cols += ["null calls"] if null else []
        cols += ["member (truth)"] if truth else []
        cols += ["features"]
        for c in cols:
            table.add_column(c, justify="left" if c in ("verdict", "indirect verdict", "features") else "right")
        for r in result.records:
            lo, hi = r["p_interval"]
            feats = ", ".join(f"{k}={v}" for k, v in list(r["features"].items())[:FEATURES_SHOWN]) + ", ..."
            interval = f"[{_p(lo)}, {_p(hi)}]" if _p(lo) != "-" else "not computed"
            if x:
                row = [str(r["record"]), r["class"], str(r["neighbours"]), _p(r["target_loss"]), str(r.get("out_references", "-")),
                       _p(r["p_direct"]), _p(r.get("p_rank")), interval, r["verdict"],
                       "member" if r.get("fdr_member") else "-", _p(r.get("p_paper"))]
            else:
                row = [str(r["record"]), r["class"], str(r["neighbours"]), f"{r['expected_neighbours']:.3f}",
                       _p(r["target_loss"]), _p(r["p_direct"]), _p(r.get("p_raw")), interval, r["verdict"]]
            if indirect:
                row += [str(r.get("n_enhancing", "-")), _p(r.get("p_indirect")), r.get("verdict_indirect", "-")]
            if null:
                row += [f"{r['null_calls']} of {r['null_pairs']} (rate ≤ {pct(r['null_upper'])}"
                        f"{'' if r.get('null_large_enough') else ', too few pairs for this cutoff'})"
                        if "null_calls" in r else "-"]
            if truth:
                row += ["yes" if r["member"] else ("no (its twin is)" if r.get("member_twin") else "no")]
            table.add_row(*row, feats)
        console.print(table)
        c = result.calibration or {}
        if x:
            line = exchangeable_line(x)
            console.print(line[0].upper() + line[1:] + ". The verdicts assume the target's "
                          "training set is a random N of the candidates; the paper design's p-value is shown beside "
                          "(--references paper to decide by it).", highlight=False)
            called = [c["record"] for c in result.candidates if c["fdr_member"]] if result.candidates else []
            if called:
                console.print(f"Member calls over all candidates (FDR q={x['fdr']['q']:g}): records "
                              + ", ".join(map(str, called[:20])) + (f" and {len(called) - 20} more" if len(called) > 20 else ""),
                              highlight=False)
        if c.get("records"):
            console.print(f"Calibrated p-values: each raw p ranked among the target's raw p-values on {c['answered']} of the "
                          f"{c['records']} population records held out of the references "
                          f"({'within each class' if c['by_class'] else 'over all classes'}; --pvalues raw for the paper's).")
        if null:
            console.print(f"Null calls: the indirect test on population records of the record's class in its place "
                          f"(--null-records), called at p < {cfg['cutoff']:g}; when they are significantly more than "
                          f"{cfg['cutoff']:g} of the pairs (binomial test at 0.05), the indirect verdict is "
                          f"\"test not calibrated on this data\". Not rejected is not proof: the bracket is the 95% upper "
                          f"bound of the null call rate.")
    if result.truth:
        names = {"direct": "direct", "direct_paper": "direct, paper design", "indirect": "indirect"}
        for name, label in names.items():
            row = result.truth.get(name)
            if row:
                console.print(f"Against the truth ({result.truth['members_among_tested']} of {result.n_tested} tested records are members), "
                              f"{label}: precision {pct(row['precision'])}, recall {pct(row['recall'])} (TP {row['tp']}, FP {row['fp']})")
        f = result.truth.get("fdr")
        if f:
            twins = (f"; {f['false_on_twins']} of the false on a record whose identical twin is a member: the target "
                     "did train on that content" if f.get("false_on_twins") else "")
            console.print(f"Against the truth, the FDR calls over all candidates ({f['members_among_queried']} members among "
                          f"them): {f['true']} true, {f['false']} false (false-discovery proportion {pct(f['fdp'])}{twins})")
    if result.attacks:
        _attacks(result, console)
    for line in risk_lines(result):
        console.print(line[0].upper() + line[1:], highlight=False)
    q = result.queries
    service = q.get("service") or {}
    left = "" if not service else f"; the service reports {service.get('used')} used of a budget of {service.get('budget') if service.get('budget') is not None else 'no limit'}"
    console.print(f"Queries: {q['sent']} records sent in this run, {q['from_cache']} answered from the cache{left}")
    console.print("Time per stage: " + ", ".join(f"{n} {s:.1f}s" for n, s in result.seconds.items()))
    if result.stopped:
        console.print(f"[yellow]Stopped early:[/yellow] {result.stopped}", highlight=False)
