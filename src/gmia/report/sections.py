"""The report's sections, in the order they appear. Each returns None where it does not apply."""

from __future__ import annotations

import numpy as np

from gmia.data.records import class_of_readable
from gmia.algorithms.base import describe_text
from gmia.base.formatting import pct, fmt_delta
import gmia.report.figures as figures
from gmia.stats.roc import pr_points, roc_figure, roc_points
from gmia.attacks.indirect_null import null_check_words
from gmia.report.html import esc, figure, num, pct_ci, plain, section, table, with_ci
from gmia.report.tradeoff import tradeoff_svg

REPRODUCE = ("table1", "table2")
COMPARE = ("compare", "table7")


@section
def configuration(results, records):
    cfg = results.get("config", {})
    spec = cfg.get("spec", {})
    rows = [["data set", results.get("dataset")], ["records", cfg.get("n_records", "-")], ["features", cfg.get("n_features", "-")]]
    for key in ("k", "n_targets", "n_inout", "seed", "seeds", "settings", "cutoffs", "scaling", "tail", "features",
                "reference_sampling", "theta", "n_candidates", "n_clusters", "correlation", "n_bootstrap"):
        if key in cfg:
            rows.append([key, plain(cfg[key], key)])
    # The models' training algorithm: an audit's references (gmia.auditing.matching), another algorithm's
    # (gmia.algorithms), else the stacked trainer's spec.
    algorithm = (results.get("algorithms") or {}).get("references") or cfg.get("algorithm")
    if algorithm and algorithm.get("kind") != "gmia":
        rows.append(["models", describe_text(algorithm)])
    elif spec:
        rows.append(["model", f"hidden={tuple(spec.get('hidden', ()))} {spec.get('activation')} {spec.get('optimizer')} "
                              f"lr={spec.get('lr')} steps={spec.get('steps')} batch={spec.get('batch_size')} "
                              f"l2={spec.get('l2')} dropout={spec.get('dropout')}"])
    env = results.get("environment", {})
    return "<h2>Run configuration and data</h2>" + table(["setting", "value"], rows, left=2) + (
        f'<p class="muted">{esc(", ".join(f"{k} {v}" for k, v in env.items()))}</p>' if env else "")


@section
def accuracy(results, records):
    if results.get("kind") in REPRODUCE:
        rows = [[r["seed"], num(r["accuracies"]["target_train"]), num(r["accuracies"]["target_test"]),
                 num(r["accuracies"]["reference_train"]), num(r["accuracies"]["reference_test"])] for r in results["runs"]]
        if results.get("paper_accuracy"):
            rows.append(["paper", *results["paper_accuracy"], "", ""])
        return "<h2>Target and reference accuracy</h2>" + table(
            ["seed", "target train", "target test", "reference train", "reference test"], rows)
    acc = results.get("accuracies")
    if acc:
        return "<h2>Accuracy</h2>" + table(["models", "accuracy"], [[k, num(v)] for k, v in acc.items()], left=1)
    return None


@section
def selection(results, records):
    if results.get("kind") not in REPRODUCE or records is None:
        return None
    first = records[(records["seed"] == records["seed"].min()) & (records["target"] == 0)]
    ev = results["runs"][0]["evaluations"][0]
    cfg = results["config"]
    # Records pass iff E[N_n] < β; in N'_n that is N'_n < β / (E[N_n] per neighbour).
    per = (first["expected_neighbours"] / first["neighbours"].where(first["neighbours"] > 0)).dropna()
    threshold = ev["beta"] / float(per.iloc[0]) if len(per) else None
    svg = figures.neighbour_histogram(first["neighbours"].to_numpy(), threshold,
                                      f"delta={fmt_delta(ev['delta'])}, beta={ev['beta']:g}, seed {results['runs'][0]['seed']}")
    rows = []
    for run in results["runs"]:
        for e in run["evaluations"]:
            rows.append([run["seed"], f"{fmt_delta(e['delta'])}", f"{e['beta']:g}", e["n_candidates"], e["count_by_scaling"]["n_over_nprime"],
                         e["count_by_scaling"]["nprime_over_n"], e["n_selected_with_twin"]])
    return ("<h2>Vulnerable-record selection</h2>" + figure(svg, "Neighbour counts of the candidate (pool) records")
            + table(["seed", "delta", "beta", "candidates", "selected, N'_n·N/N'", "selected, N'_n·N'/N", "with an exact twin"], rows)
            + f'<p class="muted">E[N_n] scaling used: {esc(cfg["scaling"])}.</p>')


@section
def direct_results(results, records):
    if results.get("kind") not in REPRODUCE:
        return None
    paper = {(p["delta"], p["beta"]): p for p in results.get("paper", [])}
    rows = []
    for pooled in results["pooled"]:
        pp = paper.get((pooled["delta"], pooled["beta"]))
        for r in pooled["rows"]:
            prow = next((x for x in (pp or {}).get("rows", []) if abs(x["cutoff"] - r["cutoff"]) < 1e-12), None)
            ci = r["precision_ci"]
            rows.append([f"{fmt_delta(pooled['delta'])}", f"{pooled['beta']:g}", f"{r['cutoff']:g}", sum(pooled["n_selected"]),
                         pct(r["precision"]), "-" if ci[0] is None else f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]",
                         pct(r["recall"]), r["tp"], r["fp"], pp["n_selected"] if pp and pp["n_selected"] is not None else "",
                         pct(prow["precision"]) if prow else "", pct(prow["recall"]) if prow else ""])
    head = ["delta", "beta", "cutoff", "# selected", "precision", "95% CI", "recall", "TP", "FP",
            "paper # selected", "paper precision", "paper recall"]
    if not any(any(v != "" for v in row[-3:]) for row in rows):  # no paper row (a CSV data set, other settings)
        head, rows = head[:-3], [row[:-3] for row in rows]
    seeds = len(results["runs"])
    kind = results["runs"][0]["evaluations"][0].get("pvalues_kind", "raw") if results["runs"] and results["runs"][0]["evaluations"] else "raw"
    return (f"<h2>Direct inference on the selected records ({esc(kind)} p-values)</h2>"
            + table(head, rows)
            + f'<p class="muted">Pairs (record, target); {seeds} seed(s) pooled: TP and FP summed. '
              f'Clopper-Pearson intervals on precision.</p>')


@section
def curves(results, records):
    if results.get("kind") in REPRODUCE and records is not None:
        score = -records["p_value"].to_numpy(np.float64)
        member = records["member"].to_numpy()
        sel = records["selected"].to_numpy()
        roc = {"gmia-direct": roc_points(score, member)}
        pr = {"gmia-direct": pr_points(score[sel], member[sel])} if sel.any() else {}
    elif results.get("kind") in COMPARE:
        roc = {a["name"]: a["curves"]["roc"] for a in results["attacks"] if "curves" in a}
        pr = {a["name"]: a["curves"]["pr"] for a in results["attacks"] if "curves" in a and a["curves"]["pr"]["recall"]}
    else:
        return None
    figs = figure(figures.roc_loglog(roc), "ROC over all pool records x all targets (log-log)")
    if pr:
        figs += figure(figures.pr_plot(pr, "selected records"), "Precision-recall on the selected records (as the paper's Figure 8)")
    return f'<h2>ROC and precision-recall</h2><div class="figs">{figs}</div>'


@section
def calibration(results, records):
    if results.get("kind") not in REPRODUCE:
        return None
    rows = []
    for run in results["runs"]:
        ev = run["evaluations"][0]
        checks = [("protocol's non-member pairs, raw p", ev["calibration"]),
                  ("same, calibrated p", ev.get("calibration_calibrated")),
                  *((f"selected records' non-member pairs, {kind} p", fr) for kind, fr in ev.get("calibration_selected", {}).items())]
        for label, fractions in checks:
            if fractions:
                rows.append([run["seed"], label, *(num(fractions[a]) for a in ("0.01", "0.05", "0.1"))])
        if run.get("reference_calibration"):
            rows.append([run["seed"], "each reference as target (H_out exact)",
                         *(num(run["reference_calibration"][a]) for a in ("0.01", "0.05", "0.1"))])
    tails = []
    for rule, rws in results["runs"][0]["evaluations"][0]["tail_comparison"].items():
        for r in rws:
            tails.append([rule, f"{r['cutoff']:g}", pct(r["precision"]), pct(r["recall"]), r["tp"], r["fp"]])
    return ("<h2>Calibration and the tail rule</h2>"
            + table(["seed", "check", "P(p<0.01)", "P(p<0.05)", "P(p<0.1)"], rows, left=2)
            + table(["tail rule (seed " + str(results["runs"][0]["seed"]) + ")", "cutoff", "precision", "recall", "TP", "FP"], tails, left=1))


@section
def indirect(results, records):
    if results.get("kind") != "table3":
        return None
    rows = [[f"{d['cutoff']:g}", pct(d["precision"]), pct(d["recall"]), d["tp"], d["fp"],
             pct(i["precision"]), pct(i["recall"]), i["tp"], i["fp"]] for d, i in zip(results["direct"], results["indirect"])]
    paper = results.get("paper_table3", [])
    prow = [[f"{p['cutoff']:g}", "none" if p["direct"] is None else f"{pct(p['direct'][0])} / {pct(p['direct'][1])}",
             "none" if p["indirect"] is None else f"{pct(p['indirect'][0])} / {pct(p['indirect'][1])}"] for p in paper]
    return (f"<h2>Direct vs indirect inference on record {results['record']}</h2>"
            f"<p>{esc(results['chosen_by'])}; {results['n_candidates']} random queries, {results['n_medoids']} medoids, "
            f"{results['n_enhancing']} enhancing ({results['n_optimised']} after optimisation); distance to the record "
            f"{num(results['distance']['min'], 3)} to {num(results['distance']['max'], 3)}; {results['queries_sent']} queries "
            f"sent to each target, never the record.</p>"
            + table(["cutoff", "direct precision", "direct recall", "TP", "FP", "indirect precision", "indirect recall", "TP", "FP"], rows)
            + _null_check(results)
            + (table(["cutoff", "paper direct", "paper indirect"], prow) if prow else ""))


def _null_check(results) -> str:
    """The indirect test's null check (gmia.attacks.indirect_null): null calls per cutoff."""
    null = results.get("null_check") or {}
    if not null.get("records"):
        return ""
    rows = []
    for cutoff, at in null["cutoffs"].items():
        verdicts = results.get("indirect_verdicts", {}).get(cutoff, [])
        flagged = sum(v != "member" and v != "no evidence" for v in verdicts)
        rows.append([cutoff, at["calls"], at["pairs"], pct(at["fraction"]), pct(at["upper_bound"]) if "upper_bound" in at else "-",
                     f"{at['excess_p']:.3g}", null_check_words(at), f"{flagged} of {len(verdicts)}"])
    return (f"<p>Null check: the same pipeline on population records {esc(', '.join(map(str, null['records'])))} "
            f"(no model trained on them) in place of the record. A cutoff's level is rejected when "
            f"P(Bin(n, cutoff) &ge; null calls) &lt; {null['level']:g}, and its verdicts then make no membership claim; "
            f"not rejected is not shown calibrated: the 95% upper bound says how high the null call rate may still be, and "
            f"a check is large enough for a cutoff only with the pairs that, without a call, would bound it by the cutoff "
            f"(299 at 0.01).</p>"
            + table(["cutoff", "null calls", "pairs", "fraction", "95% upper bound", "P(Bin(n, cutoff) >= calls)", "check",
                     "verdicts not calibrated"], rows))


@section
def defences(results, records):
    if results.get("kind") not in ("defend", "table4", "table5"):
        return None
    paper = results.get("paper") or {}
    if not any(r["label"] in paper for r in results["rows"]):  # none of these settings is one of the paper's
        paper = {}
    head = ["setting", "epsilon", "train acc", "test acc", "selected", "precision [95% CI]", "recall", "AUC", "TPR@0.1%FPR",
            "baseline precision / recall"] + (["paper (MNIST)"] if paper else [])
    rows = []
    for r in results["rows"]:
        eps = "-" if not r["dp"] else ("inf" if r["dp"]["epsilon"] is None else f"{r['dp']['epsilon']:.3g}")
        b = r["baseline_records"]
        rows.append([r["label"], eps, num(r["train_accuracy"], 3), num(r["test_accuracy"], 3), r["n_selected"],
                     with_ci(pct(r["precision"]), pct_ci(r.get("precision_ci"))), pct(r["recall"]), num(roc_figure(r["roc"]), 3), pct(roc_figure(r["roc"], "0.001")),
                     f"{pct(b.get('precision'))} / {pct(b.get('recall'))}"] + ([paper.get(r["label"], "")] if paper else []))
    cfg = results["config"]
    return (f"<h2>Defences: utility against attack success</h2><p>Each setting is the full protocol with the adversary "
            f"mirroring it; selection at delta={fmt_delta(cfg['delta'])}, beta={cfg['beta']:g}; cutoff p &lt; {cfg['cutoff']:g}. "
            f"Baseline records: the {results['rows'][0]['baseline_records'].get('n', 0) if results['rows'] else 0} records "
            f"the undefended protocol selects.</p>" + table(head, rows, left=1)
            + (figure(tradeoff_svg(results), "Utility against attack success per setting (also tradeoff.png and "
                      "tradeoff.svg in the run folder)") if results.get("rows") else "")
            + "".join(f'<p class="muted">warning: {esc(w)}</p>' for w in results.get("warnings", [])))


def card_class(card: dict) -> str:
    """A card's class by name: ``class_name`` (`gmia.report.write_run` adds it), else the name
    `readable_record` put last in its features, else the index it was written with."""
    if card.get("class_name") is not None:
        return str(card["class_name"])
    if isinstance(card.get("class"), str):
        return card["class"]
    return str(class_of_readable(card.get("features"), card.get("class")))


def card_calls(card: dict, cutoff: float) -> tuple[int, int]:
    """(TP, FP) of a record card: member and non-member targets with p below ``cutoff``."""
    members = np.asarray(card["members"], dtype=bool)
    calls = np.asarray(card["p_values"]) < cutoff
    return int((calls & members).sum()), int((calls & ~members).sum())


@section
def image_grid(results, records):
    """Image data: every vulnerable record of the cards at a glance, as the paper's Figure 12."""
    shown = [c for c in results.get("cards", []) if c.get("image")]
    if not shown:
        return None
    cutoff = results.get("decision_cutoff", 0.01)
    titles = []
    for c in shown:
        label = card_class(c)
        tp, fp = card_calls(c, cutoff)
        titles.append(f"#{c['record']} '{label}'\nN'={c['neighbours']} TP {tp} FP {fp}")
    return (f"<h2>Vulnerable records as images ({len(shown)})</h2>"
            + figure(figures.image_grid([c["image"] for c in shown], titles),
                     f"Record id, class, neighbours N'_n, and the member targets called (TP) and non-members called (FP) "
                     f"at p < {cutoff:g}; as the paper's Figure 12"))


@section
def cards(results, records):
    cards = results.get("cards", [])
    if not cards:
        return None
    cutoff = results.get("decision_cutoff", 0.01)
    out = [f"<h2>Vulnerable records ({len(cards)})</h2>"]
    for c in cards:
        members = np.asarray(c["members"], dtype=bool)
        tp, fp = card_calls(c, cutoff)
        kv = "".join(f"<div><b>{esc(k)}</b>: {esc(v)}</div>" for k, v in c["features"].items())
        figs = figure(figures.image_grid([c["image"]], [f"record {c['record']}"], columns=1), "The record") if c.get("image") else ""
        figs += figure(figures.loss_histogram(c["reference_losses"], c["target_losses"], c["members"], c.get("positive_losses")),
                      "Reference losses and the targets' losses")
        figs += figure(figures.pvalue_strip(c["p_values"], c["members"], cutoff),
                       f"p-value per target, {c.get('p_label', 'direct test')}; dashed: cutoff {cutoff:g}")
        out.append(
            f'<div class="card"><h3>Record {c["record"]} (seed {c.get("seed", "-")}, class {esc(card_class(c))})</h3>'
            f'<p>N\'_n = {c["neighbours"]} neighbours, E[N_n] = {num(c["expected_neighbours"], 3)}; at p &lt; {cutoff:g}: '
            f'{tp} of {int(members.sum())} member targets called (TP), {fp} of {int((~members).sum())} non-members (FP).</p>'
            f'<div class="kv">{kv}</div><div class="figs">{figs}</div></div>'
        )
    return "".join(out)
