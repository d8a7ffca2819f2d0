"""The result of `gmia audit` (`gmia.auditing.run.run_audit`): one row per tested record, one per
candidate in the exchangeable design, every attack's figures, and what it cost."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields

import pandas as pd

from gmia.base.result import Result
from gmia.base.formatting import fmt_delta, tpr_convention
from gmia.auditing.matching import Matching



@dataclass(frozen=True)
class AuditRecord(Mapping):
    """One tested record's row: its selection evidence, the direct test and, where they ran, the
    indirect test, its null check and the truth.

    Also a read-only mapping keyed as in results.json (``r["p_direct"]``, ``"p_indirect" in r``,
    ``r["class"]`` for `class_name`): a field that did not apply to the record (None) is absent,
    exactly as in the file.
    """

    record: int
    class_name: str
    features: dict
    neighbours: int
    expected_neighbours: float
    target_loss: float
    reference_loss_median: float
    reference_losses: tuple  # L(M_i, r) of the k references: what the p-value is read from
    p_direct: float  # the p-value the verdict used (config["pvalues"])
    p_raw: float
    p_calibrated: float
    p_interval: tuple
    verdict: str
    p_rank: float | None = None  # exchangeable design: the exact rank p-value among r's out-references
    out_references: int | None = None  # exchangeable design: n_out(r)
    fdr_member: bool | None = None  # exchangeable design: called by weighted BH over all candidates
    p_paper: float | None = None  # exchangeable design: the paper design's p-value (config["pvalues"]), beside
    n_enhancing: int | None = None
    p_indirect: float | None = None
    verdict_indirect: str | None = None
    null_records: tuple | None = None
    null_p: tuple | None = None
    null_calls: int | None = None
    null_pairs: int | None = None
    null_fraction: float | None = None
    null_excess_p: float | None = None
    null_upper: float | None = None
    null_large_enough: bool | None = None
    indirect_null_rejected: bool | None = None
    null_queries: int | None = None
    null_enhancing: tuple | None = None
    member: bool | None = None
    member_twin: bool | None = None  # not a member, but an identical record (features and label) is

    @staticmethod
    def _key(name: str) -> str:
        return "class" if name == "class_name" else name

    @classmethod
    def from_dict(cls, row: Mapping) -> "AuditRecord":
        names = {f.name for f in fields(cls)}
        given = {("class_name" if k == "class" else k): v for k, v in row.items()}
        unknown = sorted(set(given) - names)
        if unknown:
            raise ValueError(f"audit record has unknown fields {unknown}")
        return cls(**given)

    def to_dict(self) -> dict:
        return {self._key(f.name): v for f in fields(self) if (v := getattr(self, f.name)) is not None}

    def __getitem__(self, key: str):
        # Only the fields, under their results.json names: not the methods, not "class_name".
        name = "class_name" if key == "class" else key
        if key == "class_name" or name not in self.__dataclass_fields__ or getattr(self, name) is None:
            raise KeyError(key)
        return getattr(self, name)

    def __iter__(self):
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(self.to_dict())


def _truth(r) -> str:
    if r["member"]:
        return "a member"
    return "not a member, but an identical record is" if r.get("member_twin") else "not a member"


def risk_lines(result) -> list[str]:
    """What was tested, what the references let the audit call, the records that leak most
    and, with the members known, the best attack: so a "0 called member" is never read alone."""
    x, cfg = result.exchangeable, result.config
    if not x:
        return [f"coverage: {result.n_tested} of {result.n_candidates} candidates tested (the selected ones; "
                "references=exchangeable tests them all)"]
    lines = [f"coverage: {result.n_tested} selected records tested one by one; {x['fdr']['tested']} of "
             f"{result.n_candidates} candidates tested together at FDR q={x['fdr']['q']:g}"]
    if x.get("smallest_rank_p") is not None:
        rank = x["smallest_rank_p"]
        lines.append(f"what the references allow: the exact rank p-value is at least {rank:.3g} "
                     f"({'below' if rank < cfg['cutoff'] else 'NOT below'} the cutoff {cfg['cutoff']:g}); "
                     f"the {x['test']} p-value has no floor")
    leak = x.get("most_leaking")
    if leak:
        lines.append(f"most-leaking candidate: record {leak['record']}, p={leak['p']:.3g}, {leak['z']:.2f} standard "
                     f"deviations above its out-references; a record leaking as much is called at p < {leak['cutoff']:g} "
                     f"with probability ≈ {leak['power_at_cutoff']:.2f}")
    ranked = sorted((c for c in result.candidates or () if c.get("p_exchangeable") is not None
                     and c["p_exchangeable"] == c["p_exchangeable"]), key=lambda c: c["p_exchangeable"])[:3]
    if ranked:
        lines.append("worst-case records: " + ", ".join(f"{c['record']} (p={c['p_exchangeable']:.3g})" for c in ranked))
    scored = {n: a for n, a in (result.attacks or {}).items() if a.get("auc") is not None}
    if scored:
        name, a = max(scored.items(), key=lambda item: item[1]["auc"])
        lo, hi = a["auc_ci"]
        lines.append(f"best attack by ROC AUC: {name}, AUC {a['auc']:.3f} [{lo:.3f}, {hi:.3f}], TPR at FPR ≤ 1% "
                     f"{a['tpr']['0.01']:.3f}, at FPR ≤ 0.1% {a['tpr']['0.001']:.3f}")
    return lines


def attack_rows(attacks: dict) -> list[list[str]]:
    """One row per attack: AUC [95% CI], TPR at FPR ≤ 0.1% and ≤ 1% [95% CI], the one-run ε
    lower bound (with the members known; the scores alone otherwise)."""
    rows = []
    for name, a in attacks.items():
        if a.get("auc") is None:
            rows.append([name, "-", "-", "-", "-"])
            continue
        ci = a["tpr_ci"]
        rows.append([name, f"{a['auc']:.3f} [{a['auc_ci'][0]:.3f}, {a['auc_ci'][1]:.3f}]",
                     f"{a['tpr']['0.001']:.3f} [{ci['0.001'][0]:.3f}, {ci['0.001'][1]:.3f}]",
                     f"{a['tpr']['0.01']:.3f} [{ci['0.01'][0]:.3f}, {ci['0.01'][1]:.3f}]",
                     f"{a['epsilon']['lower_bound']:.3f}"])
    return rows


ATTACK_COLUMNS = ("attack", "ROC AUC [95% CI]", "TPR @ FPR ≤ 0.1% [95% CI]", "TPR @ FPR ≤ 1% [95% CI]", "ε ≥ (one run)")


def exchangeable_line(x: dict) -> str:
    """One line on the exchangeable design: its references, out-references and FDR calls."""
    o, f = x["out_references"], x["fdr"]
    shift = "not removed (no calibration answers)" if x["shift"] is None else f"{x['shift']:+.3f} on {x['shift_records']} held-out records"
    return (f"exchangeable references: {x['references']} models, each on a random N={x['n_train']} of the candidates; "
            f"tested records had {o['min']} to {o['max']} out-references (median {o['median']:g}), {x['test']} test; "
            f"target shift {shift}; {f['calls']} of {f['tested']} queried candidates called member at FDR q={f['q']:g}")


@dataclass(frozen=True)
class AuditResult(Result):
    dataset: str
    target: str
    model_id: str
    output: dict
    config: dict
    n_candidates: int
    n_selected: int
    n_tested: int
    counts_by_scaling: dict
    reference_accuracy: dict
    records: tuple[AuditRecord, ...]  # a list of row dicts is accepted and made AuditRecords
    queries: dict
    truth: dict | None
    seconds: dict
    stopped: str | None = None
    calibration: dict | None = None  # held-out calibration records, how many the target answered, per class or not
    algorithms: dict | None = None  # the target's training algorithm and the references' (gmia.auditing.matching.Matching)
    roles: dict | None = None  # where the candidates, population and members came from (gmia.auditing.roles)
    # The exchangeable design (gmia.auditing.exchangeable): its references, out-reference counts, shift and
    # FDR calls; and one row per queried candidate. None with --references paper.
    exchangeable: dict | None = None
    candidates: tuple | None = None
    # Every attack scored on the candidates (gmia.auditing.attacks): per attack its parameters and, with the
    # members known, ROC AUC, TPR at FPR <= 0.1% / 1% with bootstrap intervals, the ROC curve and the ε bound.
    attacks: dict | None = None

    def __post_init__(self):
        object.__setattr__(self, "records", tuple(r if isinstance(r, AuditRecord) else AuditRecord.from_dict(r)
                                                  for r in self.records))
        if self.candidates is not None:
            object.__setattr__(self, "candidates", tuple(dict(r) for r in self.candidates))

    def _fields(self) -> dict:
        return {**asdict(self), "records": [r.to_dict() for r in self.records],
                "candidates": None if self.candidates is None else [dict(r) for r in self.candidates]}

    def non_members_scored(self) -> int:
        """Non-member candidates the attacks scored (the target answered them), with the members known."""
        return sum(1 for c in self.candidates or () if c.get("member") is False and c.get("p_exchangeable") is not None
                   and c["p_exchangeable"] == c["p_exchangeable"])

    def candidates_frame(self) -> pd.DataFrame:
        """One row per queried candidate (exchangeable design): the exchangeable p-value (Student-t)
        and the exact rank p-value, its out-references, N'_n, the FDR call, each attack's score
        (``score_<attack>``) and, with a members file, the truth. Tested records come first, then
        the others, most isolated first."""
        if self.candidates is None:
            raise ValueError("this audit ran with references=paper, which tests only the selected records; "
                             "expected references=exchangeable for a row per candidate")
        return pd.DataFrame(list(self.candidates))

    def to_frame(self) -> pd.DataFrame:
        """One row per record: every queried candidate in the exchangeable design (the tested
        ones first, most isolated first, then the others; ``tested`` says which), else (the
        paper's design) the tested records only.

        A tested record's row has its verdict (`tested_frame`); every candidate's has its
        exchangeable p-values, out-references, FDR call and each attack's score
        (`candidates_frame`), and with a members file whether it truly was a member."""
        tested = self.tested_frame()
        if self.candidates is None:
            return tested
        frame = self.candidates_frame()
        frame.insert(2, "tested", frame["record"].isin(tested["record"]))
        extra = tested.drop(columns=[c for c in tested.columns if c in frame.columns and c != "record"])
        return frame.merge(extra, on="record", how="left", sort=False)

    def tested_frame(self) -> pd.DataFrame:
        """One row per tested record, most isolated first: its p-value and 95% interval, the
        verdict, N'_n and E[N_n], and (with a members file) whether it truly was a member.

        ``p_value`` is the one the verdict used: the exchangeable test's (``config["references"]``
        exchangeable, with ``p_rank``, ``out_references`` and ``fdr_member``) or the paper
        design's (``config["pvalues"]``); ``p_raw`` is the paper's F(L(M, r)) and
        ``p_calibrated`` its rank among the target's raw p-values on the held-out calibration
        records (`gmia.stats.calibration`). ``p_interval`` is the Clopper-Pearson interval of the
        fraction of reference losses at or below the target's, over the references the p-value
        is read from.
        """
        rows = [{"record": r["record"], "class": r["class"], "p_value": r["p_direct"], "p_raw": r["p_raw"],
                 "p_calibrated": r["p_calibrated"],
                 "p_interval": tuple(r["p_interval"]), "verdict": r["verdict"], "neighbours": r["neighbours"],
                 "expected_neighbours": r["expected_neighbours"], "target_loss": r["target_loss"],
                 **{k: r[k] for k in ("p_rank", "out_references", "fdr_member", "p_paper", "p_indirect",
                                      "verdict_indirect", "n_enhancing", "member", "member_twin") if k in r}}
                for r in self.records]
        return pd.DataFrame(rows, columns=None if rows else ["record", "class", "p_value", "p_interval", "verdict",
                                                             "neighbours", "expected_neighbours", "target_loss"])

    def summary(self) -> str:
        """A few lines a person reads first: what was audited, what was selected, what was called."""
        cfg = self.config
        calls = sum(r["verdict"] == "member" or r.get("verdict_indirect") == "member" for r in self.records)
        lines = [
            f"GMIA audit of {self.model_id} ({self.target}) on {self.dataset}: k={cfg['k']} reference models, "
            f"delta={fmt_delta(cfg['delta'])}, beta={cfg['beta']:g} on {cfg['features']} features, cutoff {cfg['cutoff']:g}, attack {cfg['attack']}",
            f"{self.n_selected} of {self.n_candidates} pool records selected (E[N_n] < beta); {self.n_tested} tested; "
            f"{calls} called member",
        ]
        if self.algorithms:
            lines.insert(1, "algorithms: " + Matching(**self.algorithms).line())
        if self.exchangeable:
            lines.append(exchangeable_line(self.exchangeable))
        for r in self.records:
            truth = "" if "member" not in r else f"  (truly {_truth(r)})"
            indirect = f", indirect p={r['p_indirect']:.4g} {r['verdict_indirect']}" if "p_indirect" in r else ""
            lo, hi = r["p_interval"]
            if "p_rank" in r:
                evidence = (f"exchangeable, {r['out_references']} out-references [{lo:.3f}, {hi:.3f}]; "
                            f"paper's p {r['p_paper']:.4g}" + (", FDR call member" if r.get("fdr_member") else ""))
            else:
                evidence = f"{cfg['pvalues']}; raw {r['p_raw']:.4g} [{lo:.3f}, {hi:.3f}]"
            lines.append(f"  record {r['record']}: p={r['p_direct']:.4g} ({evidence}) {r['verdict']}{indirect}; "
                         f"N'_n={r['neighbours']}, E[N_n]={r['expected_neighbours']:.3g}{truth}")
        if self.calibration and self.calibration["records"]:
            c = self.calibration
            lines.append(f"calibration: the target answered {c['answered']} of the {c['records']} records held out of the references "
                         f"(ranked {'within each class' if c['by_class'] else 'over all classes'})")
        lines.append(f"queries: {self.queries['sent']} sent, {self.queries['from_cache']} answered from the cache")
        if self.truth:
            for name in ("direct", "direct_paper", "indirect"):
                if name in self.truth:
                    t = self.truth[name]
                    lines.append(f"against the members file, {name.replace('_', ' (') + (')' if '_' in name else '')}: "
                                 f"{t['tp']} true and {t['fp']} false member calls")
            if "fdr" in self.truth:
                t = self.truth["fdr"]
                twins = f"; {t['false_on_twins']} of the false on a record whose identical twin is a member" \
                    if t.get("false_on_twins") else ""
                lines.append(f"against the members file, FDR calls: {t['true']} true and {t['false']} false "
                             f"(false-discovery proportion {t['fdp']:.3f}{twins})")
        if self.attacks:
            for row in attack_rows(self.attacks):
                lines.append(f"attack {row[0]}: AUC {row[1]}, TPR at FPR ≤ 0.1% {row[2]}, at ≤ 1% {row[3]}, ε ≥ {row[4]}"
                             if row[1] != "-" else f"attack {row[0]}: a score for every candidate (candidates_frame())")
            if self.non_members_scored():
                lines.append(tpr_convention({"non_member_pairs": self.non_members_scored()}).replace("pairs", "candidates"))
        lines += risk_lines(self)
        if self.stopped:
            lines.append(f"stopped early: {self.stopped}")
        return "\n".join(lines)
