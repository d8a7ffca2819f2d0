"""`gmia reproduce table3`: one vulnerable record, direct vs indirect inference (the paper's Table 3)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from gmia.attacks.indirect import IndirectConfig, find_enhancing, indirect_pvalues, positive_references
from gmia.attacks.direct import GmiaDirect, check_cutoffs
from gmia.data import Dataset
from gmia.errors import GmiaError
from gmia.evaluate import CutoffRow, run_selection
from gmia.protocol import ProtocolSignals, Timer, build_signals
from gmia.data.records import readable_record
from gmia.select import expected_neighbours
from gmia.signals import log_loss
from gmia.targets import QueryLog, ZooTargets
from gmia.zoo import TrainSpec, ZooStore
from gmia.io import atomic_write_json

RESULT_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Table3Result:
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

    def to_dict(self) -> dict:
        return {"schema_version": RESULT_SCHEMA_VERSION, **asdict(self)}


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
        return r, f"most isolated selected record (delta={delta:g}, beta={beta:g})", int(selection.neighbours.min())
    best = int(np.argmin(selection.neighbours))
    return int(signals.split.pool[best]), f"fewest neighbours in the pool (none passed beta={beta:g} at delta={delta:g})", int(selection.neighbours[best])


def run_table3(
    dataset: Dataset,
    spec: TrainSpec,
    store: ZooStore,
    cfg: IndirectConfig,
    *,
    record: int | None = None,
    k: int = 100,
    n_targets: int = 100,
    seed: int = 0,
    cutoffs: tuple[float, ...] = (0.01, 0.1),
    delta: float = 0.1,
    beta: float = 0.1,
    scaling: str = "n_over_nprime",
    features: str = "logits",
    out: Path | None = None,
    progress=None,
    on_stage=None,
) -> Table3Result:
    check_cutoffs(cutoffs)
    timer = Timer()
    stage = on_stage or (lambda text: None)
    stage(f"training (or loading) {n_targets} targets and {k} reference models")
    signals = build_signals(dataset, spec, store, k=k, n_targets=n_targets, seed=seed, progress=progress, timer=timer)
    r, chosen_by, neighbours = choose_record(signals, record, delta, beta, scaling, features)
    stage(f"record {r} ({chosen_by}): training positive reference models")
    with timer.stage("positive references"):
        positives = positive_references(store, dataset, signals.references, r, cfg, seed + 1, progress)
    stage("searching for enhancing queries")
    with timer.stage("enhancing queries"):
        search = find_enhancing(positives, signals.references, dataset, r, cfg, np.random.default_rng([seed, r]))
    partial = {
        "schema_version": RESULT_SCHEMA_VERSION, "dataset": dataset.name, "record": r, "chosen_by": chosen_by,
        "theta": cfg.theta, "n_candidates": search.n_candidates, "n_medoids": search.n_medoids,
        "medoid_influence": search.medoid_influence.tolist(), "n_enhancing": search.n_found,
    }
    if out is not None:
        atomic_write_json(Path(out) / "partial.json", partial)
    if search.n_found == 0:
        best = float(search.medoid_influence.max()) if search.medoid_influence.size else float("nan")
        raise GmiaError(
            f"no enhancing record found for record {r} at theta={cfg.theta:g}, not even after optimisation (best "
            f"influence among the {search.n_medoids} medoids: {best:.2f}); try a lower --theta, more "
            f"--candidates, or another --record" + (f"; partial results are in {Path(out) / 'partial.json'}" if out else "")
        )
    with timer.stage("inference"):
        log = QueryLog(ZooTargets(signals.targets).predict_proba)
        p_indirect = indirect_pvalues(search, signals.references, log.predict_proba(search.queries), cfg)
        if log.sent(dataset.x[r]):
            raise RuntimeError(f"the indirect attack queried record {r} itself; this is a bug")
        pos = int(np.searchsorted(signals.split.pool, r))
        p_direct = GmiaDirect(cfg.tail).fit(signals.reference_loss[:, [pos]]).score(signals.target_loss[:, [pos]])[:, 0]
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
        queries_sent=log.n_queries, record_sent=False,
        direct=tuple(CutoffRow.from_calls(p_direct < c, member, c) for c in cutoffs),
        indirect=tuple(CutoffRow.from_calls(p_indirect < c, member, c) for c in cutoffs),
        accuracies=signals.accuracies, seconds=dict(timer.seconds), card=card,
    )
