"""`gmia reproduce table1|table2`: the paper's direct-inference protocol, beside its numbers."""

from __future__ import annotations

import math
import platform
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gmia import __version__
from gmia.base.result import Result
from gmia.data import Dataset
from gmia.protocol.evaluate import CutoffRow, Evaluation, evaluate, leave_one_out_calibration, to_plain
from gmia.privacy.protocol import bounds_text, per_record_text
from gmia.base.formatting import fmt_delta
from gmia.settings.paper import PRESETS, PaperSetting
from gmia.protocol.run import Timer, build_signals
from gmia.zoo import ZooStore
from gmia.experiments.config import TABLES, ReproduceConfig, paper_settings  # noqa: F401  (re-exported)

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
    delta: float | None  # None: derived from the data in each seed (the seeds' evaluations hold the values)
    beta: float
    n_selected: tuple[int, ...]  # per seed
    rows: tuple[CutoffRow, ...]  # TP, FP and member pairs summed over seeds


@dataclass(frozen=True)
class ReproduceResult(Result):
    table: str
    dataset: str
    config: dict
    runs: tuple[SeedRun, ...]
    pooled: tuple[Pooled, ...]
    paper: tuple[PaperSetting, ...]
    paper_accuracy: tuple[float, float] | None
    wall_seconds: float
    environment: dict = field(default_factory=dict)

    def _fields(self) -> dict:
        return to_plain(self)

    def to_frame(self) -> pd.DataFrame:
        """One row per (δ, β) setting and cutoff, pooled over seeds, the paper's numbers beside ours.

        ``pvalues`` says which p-value the verdicts used; the ``raw_*`` columns are the paper's raw
        p-value's figures on the same pairs.
        """
        rows = []
        for i, pooled in enumerate(self.pooled):
            paper = _paper_setting(self.paper, pooled.delta, pooled.beta)
            kind = self.runs[0].evaluations[i].pvalues_kind
            raw = CutoffRow.pooled([r.evaluations[i].rows_by_pvalues["raw"] for r in self.runs])
            for row, raw_row in zip(pooled.rows, raw):
                theirs = next((r for r in paper.rows if math.isclose(r.cutoff, row.cutoff)), None) if paper else None
                rows.append({
                    "delta": pooled.delta, "beta": pooled.beta, "cutoff": row.cutoff,
                    "n_selected": sum(pooled.n_selected) / len(pooled.n_selected), "pvalues": kind, "tp": row.tp, "fp": row.fp,
                    "precision": row.precision, "precision_ci": row.precision_ci, "recall": row.recall,
                    "raw_tp": raw_row.tp, "raw_fp": raw_row.fp, "raw_precision": raw_row.precision, "raw_recall": raw_row.recall,
                    "paper_n_selected": paper.n_selected if paper else None,
                    "paper_precision": theirs.precision if theirs else None, "paper_recall": theirs.recall if theirs else None,
                })
        return pd.DataFrame(rows)

    def summary(self) -> str:
        """The pooled results beside the paper's, a line per setting and cutoff."""
        cfg = self.config
        lines = [f"GMIA direct inference, {self.table} on {self.dataset}: k={cfg['k']} reference models, "
                 f"{cfg['n_targets']} targets, {len(self.runs)} seed(s); target accuracy train/test "
                 + ", ".join(f"{r.accuracies['target_train']:.3f}/{r.accuracies['target_test']:.3f}" for r in self.runs)
                 + (f" (paper {self.paper_accuracy[0]}/{self.paper_accuracy[1]})" if self.paper_accuracy else "")]
        for r in self.to_frame().itertuples():
            paper = ("" if r.paper_precision is None and r.paper_recall is None else
                     f"; paper {_pct(r.paper_precision)} / {_pct(r.paper_recall)} on {r.paper_n_selected} records")
            lines.append(f"  delta={fmt_delta(r.delta)} beta={r.beta:g} p<{r.cutoff:g}: {r.n_selected:g} records selected, {r.pvalues} "
                         f"p: precision {_pct(r.precision)} [{_pct(r.precision_ci[0])}, {_pct(r.precision_ci[1])}], recall "
                         f"{_pct(r.recall)} (TP {r.tp}, FP {r.fp}); raw p: {_pct(r.raw_precision)}, {_pct(r.raw_recall)} "
                         f"(TP {r.raw_tp}, FP {r.raw_fp}){paper}")
        lines.append("  non-member pairs with p < 0.01 / 0.05 / 0.1 (at most alpha when calibrated), per seed:")
        for run in self.runs:
            ev = run.evaluations[0]
            fractions = [("raw", ev.calibration), ("calibrated", ev.calibration_calibrated)]
            lines.append(f"    seed {run.seed}: " + "; ".join(
                f"{kind} " + " / ".join(f"{fr[a]:.3f}" for a in ("0.01", "0.05", "0.1")) for kind, fr in fractions if fr))
        bounds = self.runs[0].evaluations[0].privacy.get("all")
        if bounds:  # absent from results computed before the bounds existed
            lines.append(f"  epsilon lower bounds of GMIA's raw p at DP delta={bounds['delta']:g}, "
                         f"{bounds['confidence']:.0%} confidence, per seed (Gaussian-DP figures are estimates, not bounds):")
            for run in self.runs:
                selected = "; ".join(f"selected at delta={fmt_delta(ev.delta)} beta={ev.beta:g} {_eps(ev.privacy['selected'])}"
                                     for ev in run.evaluations)
                lines.append(f"    seed {run.seed}: all pairs {_eps(run.evaluations[0].privacy['all'])}; {selected}; "
                             + per_record_text(run.evaluations[0].privacy))
        return "\n".join(lines)


_eps = bounds_text


def _pct(v) -> str:
    return "none" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.2f}%"


def _paper_setting(paper: tuple[PaperSetting, ...], delta: float | None, beta: float) -> PaperSetting | None:
    if delta is None:
        return None
    return next((s for s in paper if math.isclose(s.delta, delta) and math.isclose(s.beta, beta)), None)


def pool_rows(runs: tuple[SeedRun, ...], setting: int) -> tuple[CutoffRow, ...]:
    return CutoffRow.pooled([r.evaluations[setting].rows for r in runs])


def run_reproduce(dataset: Dataset, store: ZooStore, cfg: ReproduceConfig, progress=None, on_stage=None,
              on_seed=None) -> ReproduceResult:
    """Run the protocol for ``cfg.seeds`` consecutive seeds and evaluate every (δ, β) setting.

    ``on_seed(seed, signals, evaluations)`` is called after each seed, while its signal
    matrices are still in memory.
    """
    table, spec, k, n_targets = cfg.table, cfg.spec, cfg.k, cfg.n_targets
    settings, cutoffs, scaling, tail, features = cfg.settings, cfg.cutoffs, cfg.scaling, cfg.tail, cfg.features
    seed, seeds, pool_size, chunk_size, reference_sampling = cfg.seed, cfg.seeds, cfg.pool_size, cfg.chunk_size, cfg.reference_sampling
    start = time.perf_counter()
    runs = []
    for s in range(seed, seed + seeds):
        if on_stage:
            on_stage(f"seed {s}: training {n_targets} targets and {k} reference models")
        timer = Timer()
        signals = build_signals(dataset, spec, store, k=k, n_targets=n_targets, seed=s,
                                pool_size=pool_size, chunk_size=chunk_size, reference_sampling=reference_sampling,
                                progress=progress, timer=timer, calibration_size=cfg.calibration_size,
                                algorithm=cfg.algorithm)
        if on_stage:
            on_stage(f"seed {s}: selection and direct inference")
        evals = tuple(evaluate(signals, d, b, cutoffs, scaling, tail, features, cfg.pvalues, references=cfg.references)
                      for d, b in settings)
        if on_seed is not None:  # e.g. the run folder's per-record rows (gmia.protocol.records.RunRecorder)
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
            "algorithm": None if cfg.algorithm is None else cfg.algorithm.describe(),
            "pvalues": cfg.pvalues, "calibration_size": runs[0].evaluations[0].n_calibration, "references": cfg.references,
            "n_records": len(dataset), "n_features": int(dataset.x.shape[1]),
        },
        runs=runs,
        pooled=pooled,
        paper=paper_settings(table, dataset.name),
        paper_accuracy=preset.accuracy if preset else None,
        wall_seconds=time.perf_counter() - start,
        environment={"gmia": __version__, "python": platform.python_version(), "numpy": np.__version__},
    )
