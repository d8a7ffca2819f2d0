"""`gmia reproduce table1|table2`: the paper's direct-inference protocol, beside its numbers."""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass, field

import numpy as np

from gmia import __version__
from gmia.attacks.direct import check_cutoffs
from gmia.data import Dataset
from gmia.errors import GmiaError, check_choice
from gmia.evaluate import CutoffRow, Evaluation, evaluate, leave_one_out_calibration, to_plain
from gmia.paper import PRESETS, PaperSetting
from gmia.protocol import Timer, build_signals, check_k, check_targets
from gmia.select import FEATURE_KINDS, SCALINGS, check_thresholds
from gmia.stats import TAIL_RULES
from gmia.zoo import TrainSpec, ZooStore

RESULT_SCHEMA_VERSION = 1
TABLES = ("table1", "table2")
CALIBRATION_RECORDS = 150  # pool records in the leave-one-reference-out check


@dataclass(frozen=True)
class SeedRun:
    seed: int
    accuracies: dict[str, float]
    seconds: dict[str, float]
    evaluations: tuple[Evaluation, ...]  # one per (δ, β) setting
    # P(p < α) with each reference model as the target and the others as references, on pool
    # records none of them trained on: where H_out holds exactly (compare with the protocol's).
    reference_calibration: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Pooled:
    delta: float
    beta: float
    n_selected: tuple[int, ...]  # per seed
    rows: tuple[CutoffRow, ...]  # TP, FP and member pairs summed over seeds


@dataclass(frozen=True)
class ReproduceResult:
    table: str
    dataset: str
    config: dict
    runs: tuple[SeedRun, ...]
    pooled: tuple[Pooled, ...]
    paper: tuple[PaperSetting, ...]
    paper_accuracy: tuple[float, float] | None
    wall_seconds: float
    environment: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"schema_version": RESULT_SCHEMA_VERSION, **to_plain(self)}


def paper_settings(table: str, dataset: str) -> tuple[PaperSetting, ...]:
    preset = PRESETS.get(dataset)
    if preset is None:
        return ()
    return (preset.table1,) if table == "table1" else (preset.table1, *preset.table2)


def validate(table, k, n_targets, settings, cutoffs, scaling, tail, seeds, features="logits") -> None:
    check_choice("selection features", features, FEATURE_KINDS)
    check_choice("table", table, TABLES)
    check_k(k)
    check_targets(n_targets)
    for delta, beta in settings:
        check_thresholds(delta, beta)
    check_cutoffs(cutoffs)
    check_choice("scaling", scaling, SCALINGS)
    check_choice("tail rule", tail, TAIL_RULES)
    if seeds < 1:
        raise GmiaError(f"number of seeds {seeds} is not positive; expected at least 1")


def pool_rows(runs: tuple[SeedRun, ...], setting: int) -> tuple[CutoffRow, ...]:
    return CutoffRow.pooled([r.evaluations[setting].rows for r in runs])


def reproduce(
    table: str,
    dataset: Dataset,
    spec: TrainSpec,
    store: ZooStore,
    *,
    settings: tuple[tuple[float, float], ...],
    cutoffs: tuple[float, ...],
    k: int = 100,
    n_targets: int = 100,
    scaling: str = "n_over_nprime",
    tail: str = "pchip",
    seed: int = 0,
    seeds: int = 1,
    pool_size: int | None = None,
    chunk_size: int = 100,
    reference_sampling: str = "bootstrap",
    features: str = "logits",
    progress=None,
    on_stage=None,
    on_seed=None,
) -> ReproduceResult:
    """Run the protocol for ``seeds`` consecutive seeds and evaluate every (δ, β) setting.

    ``on_seed(seed, signals, evaluations)`` is called after each seed, while its signal
    matrices are still in memory.
    """
    validate(table, k, n_targets, settings, cutoffs, scaling, tail, seeds, features)
    start = time.perf_counter()
    runs = []
    for s in range(seed, seed + seeds):
        if on_stage:
            on_stage(f"seed {s}: training {n_targets} targets and {k} reference models")
        timer = Timer()
        signals = build_signals(dataset, spec, store, k=k, n_targets=n_targets, seed=s,
                                pool_size=pool_size, chunk_size=chunk_size, reference_sampling=reference_sampling,
                                progress=progress, timer=timer)
        if on_stage:
            on_stage(f"seed {s}: selection and direct inference")
        evals = tuple(evaluate(signals, d, b, cutoffs, scaling, tail, features) for d, b in settings)
        if on_seed is not None:  # e.g. the run folder's per-record rows (gmia.run_records.RunRecorder)
            on_seed(s, signals, evals)
        with timer.stage("calibration"):
            sample = np.random.default_rng(s).choice(signals.reference_loss.shape[1],
                                                     size=min(CALIBRATION_RECORDS, signals.reference_loss.shape[1]), replace=False)
            ref_cal = leave_one_out_calibration(signals.reference_loss[:, sample], tail=tail)
        runs.append(SeedRun(seed=s, accuracies=signals.accuracies, seconds=dict(timer.seconds), evaluations=evals,
                            reference_calibration=ref_cal))
    runs = tuple(runs)
    pooled = tuple(
        Pooled(delta=d, beta=b, n_selected=tuple(len(r.evaluations[i].selected) for r in runs), rows=pool_rows(runs, i))
        for i, (d, b) in enumerate(settings)
    )
    preset = PRESETS.get(dataset.name)
    return ReproduceResult(
        table=table,
        dataset=dataset.name,
        config={
            "k": k, "n_targets": n_targets, "settings": [list(x) for x in settings], "cutoffs": list(cutoffs),
            "scaling": scaling, "tail": tail, "seed": seed, "seeds": seeds, "pool_size": pool_size,
            "chunk_size": chunk_size, "reference_sampling": reference_sampling, "features": features, "spec": spec.model_dump(mode="json"),
            "n_records": len(dataset), "n_features": int(dataset.x.shape[1]),
        },
        runs=runs,
        pooled=pooled,
        paper=paper_settings(table, dataset.name),
        paper_accuracy=preset.accuracy if preset else None,
        wall_seconds=time.perf_counter() - start,
        environment={"gmia": __version__, "python": platform.python_version(), "numpy": np.__version__},
    )
