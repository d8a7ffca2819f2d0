"""`gmia reproduce table3`: one vulnerable record, direct vs indirect inference (the paper's Table 3)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from gmia.attacks.registry import direct_test
from gmia.base.result import RESULT_SCHEMA_VERSION, Result
from gmia.attacks.indirect import EnhancingSearch
from gmia.attacks.registry import indirect_test
from gmia.attacks.indirect_null import NOT_CALIBRATED, choose_null_records, null_check, null_records_for, unchecked
from gmia.data import Dataset
from gmia.base.errors import GmiaError, option
from gmia.protocol.evaluate import CutoffRow, run_selection
from gmia.protocol.run import ProtocolSignals, Timer, build_signals
from gmia.data.records import readable_record
from gmia.stats.select import expected_neighbours, selection_features
from gmia.stats.signals import log_loss
from gmia.targets import ZooTargets
from gmia.zoo import ZooStore
from gmia.experiments.config import Table3Config  # noqa: F401  (re-exported)
from gmia.base.io import atomic_write_json



@dataclass(frozen=True)
class Table3Result(Result):
    dataset: str
    record: int
    label: int
    chosen_by: str
    neighbours: int  # N'_n of the record
    config: dict
    n_candidates: int
    n_medoids: int
    n_enhancing: int
    n_optimised: int
    distance: dict[str, float]  # min / median / max distance of the enhancing queries to r
    influence: dict[str, float]
    queries_sent: int
    record_sent: bool  # must be False: the indirect attack never queried r or a duplicate
    direct: tuple[CutoffRow, ...]
    indirect: tuple[CutoffRow, ...]
    accuracies: dict[str, float]
    seconds: dict[str, float]
    card: dict  # the record's evidence for the report: losses at r, positive references, p-values
    # The indirect test's own null (gmia.attacks.indirect_null): null records, their p-values
    # [n, T], and per cutoff the null calls, pairs, fraction, P(Bin(n, α) >= calls), calibrated.
    null_check: dict = field(default_factory=dict)
    # Per cutoff, each target's indirect verdict: "member", "no evidence", or "test not
    # calibrated on this data" where the null check flags the cutoff (`indirect` keeps the raw calls).
    indirect_verdicts: dict = field(default_factory=dict)

    def null_at(self, cutoff: float) -> dict:
        """The null check at ``cutoff`` (calls, pairs, fraction, excess_p, calibrated), or {} when it did not run."""
        return self.null_check.get("cutoffs", {}).get(f"{cutoff:g}", {})

    def to_frame(self) -> pd.DataFrame:
        """One row per cutoff: direct against indirect inference on the record, over every target.
        The indirect TP / FP are the raw calls; ``indirect_not_calibrated`` counts the verdicts
        the null check turned into "test not calibrated on this data" (all targets, or none)."""
        rows = []
        for d, i in zip(self.direct, self.indirect):
            null = self.null_at(d.cutoff)
            verdicts = self.indirect_verdicts.get(f"{d.cutoff:g}", [])
            rows.append({"cutoff": d.cutoff, "direct_precision": d.precision, "direct_recall": d.recall,
                         "direct_tp": d.tp, "direct_fp": d.fp, "indirect_precision": i.precision,
                         "indirect_recall": i.recall, "indirect_tp": i.tp, "indirect_fp": i.fp,
                         "null_calls": null.get("calls"), "null_pairs": null.get("pairs"),
                         "null_fraction": null.get("fraction"), "null_excess_p": null.get("excess_p"),
                         "null_upper": null.get("upper_bound"), "null_large_enough": null.get("large_enough"),
                         "indirect_null_rejected": null.get("null_rejected"),
                         "indirect_not_calibrated": sum(v == NOT_CALIBRATED for v in verdicts)})
        return pd.DataFrame(rows)

    def summary(self) -> str:
        lines = [f"Record {self.record} of {self.dataset} ({self.chosen_by}; N'_n = {self.neighbours}): "
                 f"{self.n_enhancing} enhancing queries, {self.queries_sent} sent to each target, never the record"]
        for r in self.to_frame().itertuples():
            null = ""
            if self.null_check.get("records"):
                null = (f"; null check: {r.null_calls} of {r.null_pairs} null calls"
                        + (f" (rate <= {r.null_upper:.3g} at 95%"
                           + ("" if r.null_large_enough else ", too few pairs for this cutoff") + ")")
                        + (f", {NOT_CALIBRATED}" if r.indirect_null_rejected else ", not rejected"))
            lines.append(f"  p < {r.cutoff:g}: direct TP {r.direct_tp} FP {r.direct_fp}, indirect TP {r.indirect_tp} "
                         f"FP {r.indirect_fp}{null}")
        return "\n".join(lines)


def choose_record(signals: ProtocolSignals, record: int | None, delta: float, beta: float, scaling: str, features: str):
    """The record to attack and why: the given one, or the selection's most isolated."""
    n = len(signals.dataset)
    selection = run_selection(signals, delta, beta, scaling, features)
    if record is not None:
        if not 0 <= record < n:
            raise GmiaError(f"record index {record} is out of range; expected an index from 0 to {n - 1}")
        pos = np.searchsorted(signals.split.pool, record)
        if pos >= len(signals.split.pool) or signals.split.pool[pos] != record:
            raise GmiaError(
                f"record {record} is not in the target pool, so no target was trained on it; expected a pool "
                f"record such as {int(signals.split.pool[np.argmin(selection.neighbours)])} (the most isolated)"
            )
        return record, "given", int(selection.neighbours[pos])
    if len(selection.selected):
        r = int(selection.selected[0])
        return r, f"most isolated selected record (delta={selection.delta:g}, beta={beta:g})", int(selection.neighbours.min())
    best = int(np.argmin(selection.neighbours))
    return (int(signals.split.pool[best]), f"fewest neighbours in the pool (none passed beta={beta:g} at delta={selection.delta:g})",
            int(selection.neighbours[best]))


def run_table3(dataset: Dataset, store: ZooStore, config: Table3Config, out: Path | None = None, progress=None,
               on_stage=None) -> Table3Result:
    """Attack one record indirectly (never querying it) and directly, against every target of the protocol."""
    cfg, spec, record, k, n_targets, seed = config.indirect, config.spec, config.record, config.k, config.n_targets, config.seed
    cutoffs, delta, beta, scaling, features = config.cutoffs, config.delta, config.beta, config.scaling, config.features
    timer = Timer()
    stage = on_stage or (lambda text: None)
    stage(f"training (or loading) {n_targets} targets and {k} reference models")
    signals = build_signals(dataset, spec, store, k=k, n_targets=n_targets, seed=seed, pool_size=config.pool_size,
                            chunk_size=config.chunk_size, reference_sampling=config.reference_sampling, progress=progress,
                            timer=timer, calibration_size=config.calibration_size)
    r, chosen_by, neighbours = choose_record(signals, record, delta, beta, scaling, features)
    stage(f"record {r}: {chosen_by}")

    def keep_partial(search: EnhancingSearch) -> None:
        # Written before any query, so a record without enhancing queries still leaves its search.
        if out is not None:
            atomic_write_json(Path(out) / "partial.json", {
                "schema_version": RESULT_SCHEMA_VERSION, "dataset": dataset.name, "record": r, "chosen_by": chosen_by,
                "theta": cfg.theta, "n_candidates": search.n_candidates, "n_medoids": search.n_medoids,
                "medoid_influence": search.medoid_influence.tolist(), "n_enhancing": search.n_found,
            })

    targets = ZooTargets(signals.targets)
    indirect = indirect_test(cfg).run(store, dataset, signals.references, r, targets.predict_proba, seed,
                                      progress=progress, timer=timer, on_stage=stage, on_search=keep_partial)
    search, p_indirect, positives = indirect.search, indirect.pvalues, indirect.positives
    if p_indirect is None:
        best = float(search.medoid_influence.max()) if search.medoid_influence.size else float("nan")
        raise GmiaError(
            f"no enhancing record found for record {r} at theta={cfg.theta:g}, not even after optimisation (best "
            f"influence among the {search.n_medoids} medoids: {best:.2f}); try a lower {option('theta')}, more "
            f"{option('candidates')}, or another {option('record')}" + (f"; partial results are in {Path(out) / 'partial.json'}" if out else "")
        )
    null = unchecked(r)
    n_null = null_records_for(min(cutoffs), n_targets) if cfg.null_records is None else cfg.null_records
    if n_null:  # δ as the selection used it (derived from the data when none was given)
        used_delta = run_selection(signals, delta, beta, scaling, features).delta
        chosen = choose_null_records(dataset, r, signals.calibration, signals.split.adversary,
                                     selection_features(features, signals.reference_logits, dataset.x, dataset.y), used_delta,
                                     n_null)
        null = null_check(store, dataset, signals.references, r, chosen, cfg, targets.predict_proba, seed,
                          progress=progress, timer=timer, on_stage=stage)
    with timer.stage("inference"):
        pos = int(np.searchsorted(signals.split.pool, r))
        p_direct = direct_test(cfg.tail).fit_losses(signals.reference_loss[:, [pos]]).pvalues_of(signals.target_loss[:, [pos]])[:, 0]
        member = signals.membership[:, pos]
        positive_loss = log_loss(positives.logits(dataset.x[[r]]), dataset.y[[r]])[:, 0]
    card = {
        "record": r, "seed": seed, "class": search.label, "features": readable_record(dataset, r), "neighbours": neighbours,
        "expected_neighbours": float(expected_neighbours(np.array([neighbours]), signals.n_train, len(signals.split.adversary), scaling)[0]),
        "reference_losses": signals.reference_loss[:, pos].tolist(), "target_losses": signals.target_loss[:, pos].tolist(),
        "positive_losses": positive_loss.tolist(), "members": member.tolist(), "p_values": p_indirect.tolist(),
        "p_label": "indirect test (Kost-combined over the enhancing queries)",
    }
    return Table3Result(
        dataset=dataset.name, record=r, label=search.label, chosen_by=chosen_by, neighbours=neighbours,
        config={**asdict(cfg), "k": k, "n_targets": n_targets, "seed": seed, "cutoffs": list(cutoffs),
                "spec": spec.model_dump(mode="json"), "n_records": len(dataset), "n_features": int(dataset.x.shape[1])},
        n_candidates=search.n_candidates, n_medoids=search.n_medoids, n_enhancing=search.n_found,
        n_optimised=int(search.optimised.sum()),
        distance={"min": float(search.distance.min()), "median": float(np.median(search.distance)), "max": float(search.distance.max())},
        influence={"min": float(search.influence.min()), "mean": float(search.influence.mean())},
        queries_sent=indirect.n_queries, record_sent=False,
        direct=tuple(CutoffRow.from_calls(p_direct < c, member, c) for c in cutoffs),
        indirect=tuple(CutoffRow.from_calls(p_indirect < c, member, c) for c in cutoffs),
        accuracies=signals.accuracies, seconds=dict(timer.seconds), card=card, null_check=null.to_dict(cutoffs),
        indirect_verdicts={f"{c:g}": [null.verdict(float(p), c) for p in p_indirect] for c in cutoffs},
    )
