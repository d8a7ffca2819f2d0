"""The result of `gmia audit` (`gmia.auditing.run.run_audit`): one row per tested record, and what it cost."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields

import pandas as pd

from gmia.base.result import Result
from gmia.base.formatting import fmt_delta
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

    def __post_init__(self):
        object.__setattr__(self, "records", tuple(r if isinstance(r, AuditRecord) else AuditRecord.from_dict(r)
                                                  for r in self.records))

    def _fields(self) -> dict:
        return {**asdict(self), "records": [r.to_dict() for r in self.records]}

    def to_frame(self) -> pd.DataFrame:
        """One row per tested record, most isolated first: its p-value and 95% interval, the
        verdict, N'_n and E[N_n], and (with a members file) whether it truly was a member.

        ``p_value`` is the one the verdict used (``config["pvalues"]``); ``p_raw`` is the paper's
        F(L(M, r)) and ``p_calibrated`` its rank among the target's raw p-values on the held-out
        calibration records (`gmia.stats.calibration`). ``p_interval`` is the Clopper-Pearson interval of
        the fraction of reference losses at or below the target's, from the k reference models.
        """
        rows = [{"record": r["record"], "class": r["class"], "p_value": r["p_direct"], "p_raw": r["p_raw"],
                 "p_calibrated": r["p_calibrated"],
                 "p_interval": tuple(r["p_interval"]), "verdict": r["verdict"], "neighbours": r["neighbours"],
                 "expected_neighbours": r["expected_neighbours"], "target_loss": r["target_loss"],
                 **{k: r[k] for k in ("p_indirect", "verdict_indirect", "n_enhancing", "member") if k in r}}
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
        for r in self.records:
            truth = "" if "member" not in r else f"  (truly {'a member' if r['member'] else 'not a member'})"
            indirect = f", indirect p={r['p_indirect']:.4g} {r['verdict_indirect']}" if "p_indirect" in r else ""
            lo, hi = r["p_interval"]
            lines.append(f"  record {r['record']}: p={r['p_direct']:.4g} ({cfg['pvalues']}; raw {r['p_raw']:.4g} "
                         f"[{lo:.3f}, {hi:.3f}]) {r['verdict']}{indirect}; "
                         f"N'_n={r['neighbours']}, E[N_n]={r['expected_neighbours']:.3g}{truth}")
        if self.calibration and self.calibration["records"]:
            c = self.calibration
            lines.append(f"calibration: the target answered {c['answered']} of the {c['records']} records held out of the references "
                         f"(ranked {'within each class' if c['by_class'] else 'over all classes'})")
        lines.append(f"queries: {self.queries['sent']} sent, {self.queries['from_cache']} answered from the cache")
        if self.truth:
            for name in ("direct", "indirect"):
                if name in self.truth:
                    t = self.truth[name]
                    lines.append(f"against the members file, {name}: {t['tp']} true and {t['fp']} false member calls")
        if self.stopped:
            lines.append(f"stopped early: {self.stopped}")
        return "\n".join(lines)
