"""`gmia compare`: GMIA beside shadow-model, loss, LiRA and RMIA attacks on the same models.

Every registered attack scores all pool records against all targets (a ``[T, P]`` matrix).
Per attack: exact ROC AUC and TPR at 0.1% and 1% FPR over all pairs, with 95% percentile
bootstrap intervals resampling targets and records; and precision / recall on the records GMIA
selects (δ, β), at each GMIA cutoff. Only GMIA has calibrated p-values, so for every attack
"at cutoff c" means: the score threshold whose false-positive rate over ALL non-member pairs of
the pool is c (an oracle calibration that uses the true membership, the same for every attack,
GMIA included). Pairs tied at the threshold are called non-members, so no decision is
randomised; where ties span more than c of the non-member pairs (GMIA's p = 0 below the
smallest reference loss) the realised FPR is lower, down to no call at all. GMIA's own decision p < c is reported beside it, with its realised FPR, and
Shokri's at the paper's confidence threshold on P(in). And the ε lower bound at DP δ = DEFAULT_DP_DELTA each
attack's scores prove (`gmia.privacy`), over all pairs and over the selected records: unlike the
"@ cutoff" figures these choose their threshold without the membership of the pairs they count.
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gmia import __version__
from gmia.base.result import Result
from gmia.attacks import ATTACKS, AttackSettings, make_attack
from gmia.comparison.config import CompareConfig
from gmia.comparison.inputs import build_inputs, population_records, train_shadows
from gmia.comparison.metrics import FPRS, bootstrap_weights, fpr_threshold, roc_with_ci
from gmia.stats.roc import RocSummary
from gmia.data import Dataset
from gmia.base.errors import GmiaError
from gmia.protocol.evaluate import CutoffRow, privacy_bounds, run_selection
from gmia.privacy.protocol import bounds_text, eps_columns
from gmia.base.formatting import fmt_delta
from gmia.settings.presets import DEFAULT_DP_DELTA, preset_for
from gmia.protocol.run import Timer, build_signals
from gmia.stats.roc import pr_points, roc_points
from gmia.zoo import ZooStore

# The built-in attacks, in report order: every attack registered in gmia.attacks scores from the
# comparison's matrices. run_compare reads the registry when it runs, so one registered later runs too.
COMPARE_ATTACKS = tuple(ATTACKS)


@dataclass(frozen=True)
class AttackResult:
    name: str
    roc: RocSummary  # all pool records x all targets
    rows: tuple[CutoffRow, ...]  # selected records, at the FPR-matched threshold of each cutoff
    thresholds: tuple[float, ...]  # the score threshold of each cutoff ("member" iff score > it)
    realised_fprs: tuple[float, ...]  # FPR over all non-member pairs at each threshold (below the cutoff on ties)
    seconds: float
    curves: dict = field(default_factory=dict)  # thinned ROC (all pairs) and PR (selected records) for figures
    # ε lower bounds the scores prove: "all" pairs and the "selected" records' (None: too few pairs, e.g. none selected);
    # `gmia.protocol.evaluate.privacy_bounds`.
    privacy: dict = field(default_factory=dict)


@dataclass(frozen=True)
class CompareResult(Result):
    dataset: str
    config: dict
    accuracies: dict[str, float]
    n_candidates: int
    selected: tuple[int, ...]  # record indices, most isolated first
    attacks: tuple[AttackResult, ...]
    gmia_rows: tuple[CutoffRow, ...]  # GMIA's own decision p < cutoff on the selected records
    gmia_fpr: dict[str, float]  # its realised FPR over all non-member pairs, per cutoff
    shokri_rows: tuple[CutoffRow, ...]  # P(in) > confidence on the selected records (cutoff = confidence)
    shokri_fpr: float  # realised FPR of that decision over all non-member pairs
    seconds: dict[str, float]
    wall_seconds: float
    environment: dict = field(default_factory=dict)
    # The same for gmia-exchangeable (GMIA against the shadows that left the record out), when it ran.
    exchangeable_rows: tuple[CutoffRow, ...] = ()
    exchangeable_fpr: dict[str, float] = field(default_factory=dict)

    def attack(self, name: str) -> AttackResult:
        for a in self.attacks:
            if a.name == name:
                return a
        raise KeyError(name)

    def to_frame(self) -> pd.DataFrame:
        """One row per attack: ROC AUC and TPR at low FPR over all pairs (with 95% intervals), and
        precision and recall on GMIA's selected records at each cutoff's FPR-matched threshold; and
        the ε lower bounds the attack proves (``eps_lower_*``; NaN where a side had too few pairs)."""
        rows = []
        for a in self.attacks:
            row = {"attack": a.name, "auc": a.roc.auc, "auc_ci": a.roc.auc_ci,
                   **{f"tpr_at_fpr_{k}": v for k, v in a.roc.tpr.items()}}
            for r in a.rows:
                row[f"precision_at_{r.cutoff:g}"], row[f"recall_at_{r.cutoff:g}"] = r.precision, r.recall
            row.update(eps_columns(a.privacy))
            rows.append(row)
        return pd.DataFrame(rows)

    def summary(self) -> str:
        lines = [f"Attacks on {self.dataset}: {self.config['n_targets']} targets, {len(self.selected)} records selected by GMIA "
                 f"(delta={fmt_delta(self.config['delta'])}, beta={self.config['beta']:g})"]
        for a in self.attacks:
            tpr = ", ".join(f"TPR@{k} {v:.4f}" for k, v in a.roc.tpr.items())
            lines.append(f"  {a.name}: AUC {a.roc.auc:.3f} [{a.roc.auc_ci[0]:.3f}, {a.roc.auc_ci[1]:.3f}], {tpr}"
                         + _eps_text(a.privacy))
        return "\n".join(lines)


def _eps_text(privacy: dict) -> str:
    every, selected = privacy.get("all"), privacy.get("selected")
    if not every:  # a result computed before the bounds existed
        return ""
    return f"; all pairs {bounds_text(every)} at delta={every['delta']:g}; selected records {bounds_text(selected)}"


def compare_defaults(dataset_name: str) -> dict:
    """The paper's δ, β, cutoffs (Table 1) and Shokri confidence (Table 7) for a bundled set (from gmia.settings.presets)."""
    preset = preset_for("compare", dataset_name)
    return {"delta": preset.delta, "beta": preset.beta, "cutoffs": preset.cutoffs,
            "shokri_confidence": preset.shokri_confidence}


# Attacks whose score is −p: their per-record ε bounds call "p < c" at cutoffs fixed in advance.
P_VALUE_ATTACKS = ("gmia-direct", "gmia-exchangeable")


def run_compare(dataset: Dataset, store: ZooStore, cfg: CompareConfig, progress=None, on_stage=None) -> CompareResult:
    """Run the protocol, train the in/out shadows, score every attack of ``cfg.attacks`` and summarise.

    The protocol's seed ``cfg.seed`` seeds the protocol (as ``gmia reproduce``) and, through
    other children of the same ``SeedSequence``, the shadows, the population, the bootstrap and
    Shokri's networks. Every attack scores all pool records against all targets, a ``[T, P]``
    matrix. ``progress``, ``on_stage``: training-progress factory and a callback for stage messages.
    """
    spec, k, n_targets, n_inout, seed = cfg.spec, cfg.k, cfg.n_targets, cfg.n_inout, cfg.seed
    delta, beta, cutoffs, scaling, tail, features = cfg.delta, cfg.beta, cfg.cutoffs, cfg.scaling, cfg.tail, cfg.features
    n_bootstrap, n_population, confidence, attacks = cfg.n_bootstrap, cfg.n_population, cfg.shokri_confidence, cfg.attacks
    pool_size, chunk_size, reference_sampling = cfg.pool_size, cfg.chunk_size, cfg.reference_sampling
    stage = on_stage or (lambda text: None)
    start = time.perf_counter()
    timer = Timer()
    # Children 0-3 and 9 of this seed are the protocol's (build_signals); the comparison uses 4-8.
    seeds = np.random.SeedSequence(seed).spawn(9)

    stage(f"training {n_targets} targets and {k} reference models")
    signals = build_signals(dataset, spec, store, k=k, n_targets=n_targets, seed=seed, pool_size=pool_size,
                            chunk_size=chunk_size, reference_sampling=reference_sampling, progress=progress, timer=timer,
                            calibration_size=cfg.calibration_size, algorithm=cfg.algorithm)
    stage(f"training {n_inout} in/out shadow models")
    with timer.stage("train in/out shadows"):
        shadows = train_shadows(signals, store, n_inout, seeds[4:6], chunk_size, progress, algorithm=cfg.algorithm)
    with timer.stage("shadow signals"):
        population = population_records(signals, n_population, np.random.default_rng(seeds[6]))
        inputs, shadow_acc = build_inputs(signals, shadows, population)
    selection = run_selection(signals, delta, beta, scaling, features)
    pos = np.searchsorted(signals.split.pool, selection.selected)  # pool positions of the selected records
    member = signals.membership
    weights = bootstrap_weights(*member.shape, n_bootstrap, np.random.default_rng(seeds[7]))
    # Every attack is made from the same settings and takes the ones it needs (gmia.attacks).
    settings = AttackSettings(tail=tail, confidence=confidence, seed=int(seeds[8].generate_state(1)[0] >> 1))

    results, own, shokri_rows, shokri_fpr = [], {}, (), float("nan")
    parameters = {}
    for name in attacks:
        stage(f"attack {name}")
        t0 = time.perf_counter()
        with timer.stage(f"attack {name}"):
            attack = make_attack(name, settings)
            scores = np.asarray(attack.fit(inputs).score(inputs), dtype=np.float64)
            parameters[name] = attack.parameters()  # after the fit: a tuned parameter is the one used
            if scores.shape != inputs.shape:
                raise GmiaError(f"attack {name!r} gave scores of shape {scores.shape}; expected one score per target "
                                f"and pool record, {inputs.shape}")
        with timer.stage("metrics and bootstrap"):
            roc = roc_with_ci(scores, member, weights)
            thresholds = tuple(fpr_threshold(scores, member, c) for c in cutoffs)
            rows = tuple(CutoffRow.from_calls(scores[:, pos] > t, member[:, pos], c) for c, t in zip(cutoffs, thresholds))
            realised = tuple(float((scores[~member] > t).mean()) for t in thresholds)
            curves = {"roc": roc_points(scores, member), "pr": pr_points(scores[:, pos], member[:, pos])}
        with timer.stage("epsilon bounds"):
            # GMIA's score is −p: its per-record bound calls "p < c" at cutoffs fixed in advance.
            privacy = privacy_bounds(scores, member, pos, DEFAULT_DP_DELTA,
                                     pvalues=-scores if name in P_VALUE_ATTACKS else None)
        if name in P_VALUE_ATTACKS:  # the attack's own decision, p < cutoff
            p = -scores
            own[name] = (tuple(CutoffRow.from_calls(p[:, pos] < c, member[:, pos], c) for c in cutoffs),
                         {f"{c:g}": float((p[~member] < c).mean()) for c in cutoffs})
        if name == "shokri":
            calls = attack.decide(scores)
            shokri_rows = (CutoffRow.from_calls(calls[:, pos], member[:, pos], confidence),)
            shokri_fpr = float(calls[~member].mean())
        results.append(AttackResult(name, roc, rows, thresholds, realised, time.perf_counter() - t0, curves, privacy))

    return CompareResult(
        dataset=dataset.name,
        config={
            "k": k, "n_targets": n_targets, "n_inout": n_inout, "seed": seed, "delta": selection.delta, "delta_derived": selection.delta_derived, "beta": beta,
            "cutoffs": list(cutoffs), "scaling": scaling, "tail": tail, "features": features,
            "n_bootstrap": n_bootstrap, "n_population": int(population.size), "shokri_confidence": confidence,
            "attacks": list(attacks), "attack_parameters": parameters, "fprs": list(FPRS), "pool_size": int(signals.split.pool.size),
            # TPR at FPR f is the largest TPR whose FPR is at most f over these pairs (at f = 0.1% and 10,000 pairs: 10 false)
            "non_member_pairs": int((~member).sum()),
            "chunk_size": chunk_size, "reference_sampling": reference_sampling, "spec": spec.model_dump(mode="json"),
            # what trained every model when not gmia's stacked trainer with the spec (then the spec is not used)
            "algorithm": None if cfg.algorithm is None else cfg.algorithm.describe(),
            "n_records": len(dataset), "n_features": int(dataset.x.shape[1]),
        },
        accuracies={**signals.accuracies, **shadow_acc},
        n_candidates=int(selection.candidates.size),
        selected=tuple(int(i) for i in selection.selected),
        attacks=tuple(results),
        gmia_rows=own["gmia-direct"][0],
        gmia_fpr=own["gmia-direct"][1],
        exchangeable_rows=own.get("gmia-exchangeable", ((), {}))[0],
        exchangeable_fpr=own.get("gmia-exchangeable", ((), {}))[1],
        shokri_rows=shokri_rows,
        shokri_fpr=shokri_fpr,
        seconds=dict(timer.seconds),
        wall_seconds=time.perf_counter() - start,
        environment={"gmia": __version__, "python": platform.python_version(), "numpy": np.__version__},
    )
