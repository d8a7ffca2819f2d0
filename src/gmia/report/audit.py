"""The report's section of `gmia audit`: the verdict table, then one small card per tested record
with its features as given (rounded to the source's precision) and the evidence its p-value is
read from: the k reference losses L(M_i, r) with the target's loss L(M, r) marked.

A card per record, not one big figure, so a person can find record 1234 by its id (each card is
``id="record-1234"``) and a page with a hundred tested records stays a grid of small figures.
"""

from __future__ import annotations

from dataclasses import fields

from gmia.algorithms.base import describe_text
from gmia.base.formatting import fmt_delta, tpr_convention
import gmia.report.figures as figures
from gmia.report.html import esc, figure, num, num_ci, section, table

MAX_RECORD_CARDS = 200  # past this the page grows slow to build and to open; every verdict is in verdicts.csv
FEATURES_OPEN = 12  # more features than this fold into a <details> so the grid stays scannable


def _table(results: dict) -> str:
    cfg = results["config"]
    x = results.get("exchangeable")
    if x:
        head = ["record", "class", "N'_n", "target loss", "out-refs", "p direct (exchangeable)", "rank p", "95% interval",
                "verdict", "FDR call", f"p paper ({cfg.get('pvalues', 'raw')})"]
    else:
        head = ["record", "class", "N'_n", "E[N_n]", "target loss", f"p direct ({cfg.get('pvalues', 'raw')})", "raw p",
                "95% interval (raw)", "verdict"]
    indirect = any("p_indirect" in r for r in results["records"])
    truth = any("member" in r for r in results["records"])
    head += ["enhancing", "p indirect", "indirect verdict"] if indirect else []
    head += ["member (truth)"] if truth else []
    rows = []
    for r in results["records"]:
        interval = num_ci(r["p_interval"], 4)
        interval = "not computed" if interval == "-" else interval
        if x:
            row = [r["record"], r["class"], r["neighbours"], num(r["target_loss"]), r.get("out_references", "-"),
                   num(r["p_direct"]), num(r.get("p_rank")), interval, r["verdict"],
                   "member" if r.get("fdr_member") else "-", num(r.get("p_paper"))]
        else:
            row = [r["record"], r["class"], r["neighbours"], num(r["expected_neighbours"], 3), num(r["target_loss"]),
                   num(r["p_direct"]), num(r.get("p_raw")), interval, r["verdict"]]
        row += [r.get("n_enhancing", "-"), num(r.get("p_indirect")), r.get("verdict_indirect", "-")] if indirect else []
        row += ["yes" if r["member"] else ("no (its twin is)" if r.get("member_twin") else "no")] if truth else []
        rows.append(row)
    return table(head, rows)


def _features(features: dict) -> str:
    kv = "".join(f"<div><b>{esc(k)}</b>: {esc(v)}</div>" for k, v in features.items())
    if len(features) <= FEATURES_OPEN:
        return f'<div class="kv">{kv}</div>'
    return f'<details><summary>{len(features)} features</summary><div class="kv">{kv}</div></details>'


def _title(r: dict, cfg: dict) -> str:
    if "p_rank" in r:
        return f"p = {num(r['p_direct'])} (exchangeable), paper's p = {num(r.get('p_paper'))}: {r['verdict']}"
    return f"p = {num(r['p_direct'])} ({cfg.get('pvalues', 'raw')}), raw p = {num(r.get('p_raw'))}: {r['verdict']}"


def _answered(r: dict) -> bool:
    return bool(r.get("reference_losses")) and r.get("target_loss") is not None


def record_card(r: dict, cfg: dict, svg: str | None) -> str:
    """One tested record: class, verdict, p-values, its reference-loss figure (``svg``, from
    `gmia.report.figures.reference_strips`; None where the target did not answer) and its features."""
    losses, target, title = r.get("reference_losses") or [], r.get("target_loss"), _title(r, cfg)
    if svg is not None:
        fig = (f'<figure class="gmia-figure" data-record="{esc(r["record"])}">{svg}<figcaption class="muted">'
               f'{len(losses)} reference losses; red: the target\'s loss {num(target, 3)}</figcaption></figure>')
    elif "reference_losses" in r:
        fig = f'<p class="muted">{esc(title)}; the target did not answer, so there is no loss to compare.</p>'
    else:  # a run written before the reference losses were kept
        fig = f'<p class="muted">{esc(title)}</p>'
    indirect = (f'<p class="muted">indirect: p = {num(r.get("p_indirect"))}, {esc(r.get("verdict_indirect", "-"))}</p>'
                if "p_indirect" in r else "")
    truth = f" ({'a member' if r['member'] else 'not a member'} by the members file)" if "member" in r else ""
    return (f'<div class="rec" id="record-{esc(r["record"])}"><h3>Record {esc(r["record"])}, class {esc(r["class"])}: '
            f'{esc(r["verdict"])}{esc(truth)}</h3><p class="muted">N\'_n = {r["neighbours"]}, '
            f'E[N_n] = {num(r["expected_neighbours"], 3)}</p>{fig}{indirect}{_features(r.get("features") or {})}</div>')


def _cards(results: dict) -> str:
    records = results["records"]
    if not records:
        return ""
    cfg = results["config"]
    shown = records[:MAX_RECORD_CARDS]
    more = (f" The first {len(shown)} of the {len(records)} tested records (most isolated first); every verdict is in "
            f"verdicts.csv." if len(records) > len(shown) else "")
    if results.get("exchangeable"):
        evidence = ("the losses L(M_i, r) of the record's out-references (the exchangeable references that did not "
                    "train on it), with the target's loss L(M, r) marked. The p-value is the Student-t predictive "
                    "p-value of the target's logit-scaled confidence among theirs, each model's overall shift removed")
    else:
        evidence = (f"the losses L(M_i, r) of the k={cfg.get('k', '-')} reference models, none trained on the record, with "
                    f"the target's loss L(M, r) marked. The raw p-value is the share of reference losses at or below the "
                    f"target's")
    return (f"<h2>Tested records ({len(records)})</h2><p>Each record's features as given, and the evidence of its direct "
            f"test: {evidence}; a target loss far left of them (p &lt; {cfg['cutoff']:g}) is the verdict \"member\".{more}</p>"
            f'<div class="recs">{"".join(record_card(r, cfg, svg) for r, svg in zip(shown, _svgs(shown, cfg)))}</div>')


def _svgs(records: list[dict], cfg: dict) -> list[str | None]:
    """Each record's reference-loss figure, all drawn in one pass; None where the target did not answer."""
    answered = [r for r in records if _answered(r)]
    drawn = iter(figures.reference_strips([(r["reference_losses"], r["target_loss"], _title(r, cfg)) for r in answered]))
    return [next(drawn) if _answered(r) else None for r in records]


@section
def audit(results, records):
    if results.get("kind") != "audit":
        return None
    cfg = results["config"]
    q = results["queries"]
    service = q.get("service") or {}
    stopped = f'<p><b>Stopped early:</b> {esc(results["stopped"])}</p>' if results.get("stopped") else ""
    return (f"<h2>Audit of {esc(results['target'])}</h2>"
            f"<p>Model {esc(results['model_id'])}; {results['n_selected']} of {results['n_candidates']} pool records selected "
            f"at delta={fmt_delta(cfg['delta'])}, beta={cfg['beta']:g} on {esc(cfg['features'])} features; {results['n_tested']} tested; "
            f"verdict \"member\" at p &lt; {cfg['cutoff']:g}. Queries: {q['sent']} sent in this run, {q['from_cache']} from the "
            f"cache{'; the service counts ' + str(service.get('used')) + ' used' if service else ''}. Every verdict with its "
            f"record's features: verdicts.csv and verdicts.parquet in this folder.</p>{_algorithms(results)}"
            f"{_roles(results)}{_exchangeable(results)}{_attacks(results)}{stopped}"
            + (_table(results) + _cards(results) if results["records"] else "<p>No record was selected.</p>"))


def _exchangeable(results: dict) -> str:
    """The exchangeable design in a paragraph: its references and their out-references, the
    guarantee's assumption, and the member calls over every candidate at FDR q."""
    x = results.get("exchangeable")
    if not x:
        return ""
    from gmia.auditing.result import exchangeable_line

    called = [c["record"] for c in results.get("candidates") or () if c.get("fdr_member")]
    truth = (results.get("truth") or {}).get("fdr")
    against = ("" if not truth else f" Against the members file: {truth['true']} true and {truth['false']} false calls "
               f"(false-discovery proportion {num(truth['fdp'], 3)}).")
    return (f"<p><b>Exchangeable references</b>: {esc(exchangeable_line(x))}. The verdicts hold when the target's "
            f"training set is a random N of the candidates and it trained by the references' rule. Called members over "
            f"all candidates: {esc(', '.join(map(str, called)) or 'none')}; every candidate's row is in records.csv."
            f"{esc(against)}</p>")


def _attacks(results: dict) -> str:
    """Every attack on the target (`gmia.auditing.attacks`): the table, the ROC figure, and the
    coverage and risk lines."""
    from gmia.auditing.result import ATTACK_COLUMNS, AuditResult, attack_rows, risk_lines

    names = {f.name for f in fields(AuditResult)}
    result = AuditResult(**{k: v for k, v in results.items() if k in names})
    risk = "".join(f"<li>{esc(line)}</li>" for line in risk_lines(result))
    out = f"<p><b>Coverage and risk</b></p><ul>{risk}</ul>"
    attacks = results.get("attacks") or {}
    scored = {n: a for n, a in attacks.items() if a.get("roc")}
    if scored:
        out += ("<h3>Every attack on this target</h3>" + table(list(ATTACK_COLUMNS), attack_rows(attacks), left=1)
                + f'<p class="muted">{esc(tpr_convention({"non_member_pairs": result.non_members_scored()}))} ε ≥: the '
                  "one-run lower bound (Steinke et al.) at 95% confidence, add/remove neighbours, assuming each candidate "
                  "was in the training set by its own coin.</p>"
                + figure(figures.roc_loglog({n: a["roc"] for n, a in scored.items()}), "ROC over the candidates (log-log)"))
    elif attacks:
        out += f"<p>Attacks scored on every candidate (score_&lt;attack&gt; in records.csv): {esc(', '.join(attacks))}.</p>"
    return out


def _algorithms(results: dict) -> str:
    """The target's training algorithm beside the references' (`gmia.auditing.matching`): the first thing
    a reader checks, since references of another algorithm make the p-values' null wrong."""
    alg = results.get("algorithms")
    if not alg:
        return ""
    verdict = {True: "match", False: "DO NOT match"}.get(alg.get("match"), "cannot be known to match")
    return (f"<p><b>Training algorithms</b> ({verdict}): target {esc(describe_text(alg['target']))}; references "
            f"{esc(describe_text(alg['references']))}. {esc(alg['note'])}.</p>")


def _roles(results: dict) -> str:
    roles = results.get("roles")
    if not roles:
        return ""
    notes = "".join(f"<li>{esc(n)}</li>" for n in roles.get("notes", []))
    return (f"<p><b>Records</b>: {esc(roles['source'])}; {roles['candidates']} candidates, {roles['population']} "
            f"population records.</p>" + (f"<ul>{notes}</ul>" if notes else ""))
