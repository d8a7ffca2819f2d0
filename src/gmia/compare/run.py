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
Shokri's at the paper's confidence threshold on P(in).
"""

from __future__ import annotations

import platform
import time
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from gmia import __version__
from gmia.attacks import ATTACKS
from gmia.attacks.direct import check_cutoffs
from gmia.compare.inputs import build_inputs, check_inout, population_records, score_attack, train_shadows
from gmia.compare.metrics import FPRS, RocSummary, bootstrap_weights, fpr_threshold, roc_with_ci
from gmia.data import Dataset
from gmia.errors import GmiaError, check_choice
from gmia.evaluate import CutoffRow, run_selection
from gmia.paper import PRESETS, TABLE7, table1_thresholds
from gmia.roc import pr_points, roc_points
from gmia.protocol import Timer, build_signals, check_k, check_targets
from gmia.select import FEATURE_KINDS, SCALINGS, check_thresholds
from gmia.stats import TAIL_RULES
from gmia.zoo import TrainSpec, ZooStore

RESULT_SCHEMA_VERSION = 1
DEFAULT_CONFIDENCE = 0.5  # Shokri's threshold where the paper gives none
# The registered attacks that score from the comparison's matrices (gmia.compare.inputs).
COMPARE_ATTACKS = ("gmia-direct", "shokri", "loss", "lira-online", "lira-offline", "lira-online-fixed",
                   "lira-offline-fixed", "rmia-online", "rmia-offline")


@dataclass(frozen=True)
class AttackResult:
    name: str
    roc: RocSummary  # all pool records x all targets
    rows: tuple[CutoffRow, ...]  # selected records, at the FPR-matched threshold of each cutoff
    thresholds: tuple[float, ...]  # the score threshold of each cutoff ("member" iff score > it)
    realised_fprs: tuple[float, ...]  # FPR over all non-member pairs at each threshold (below the cutoff on ties)
    seconds: float
    curves: dict = field(default_factory=dict)  # thinned ROC (all pairs) and PR (selected records) for figures


@dataclass(frozen=True)
class CompareResult:
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

    def attack(self, name: str) -> AttackResult:
        for a in self.attacks:
            if a.name == name:
                return a
        raise KeyError(name)

    def to_dict(self) -> dict:
        return {"schema_version": RESULT_SCHEMA_VERSION, **asdict(self)}


def compare_defaults(dataset_name: str) -> dict:
    """The paper's δ, β, cutoffs (Table 1) and Shokri confidence (Table 7) for a bundled set."""
    preset, paper7 = PRESETS.get(dataset_name), TABLE7.get(dataset_name)
    delta, beta = table1_thresholds(dataset_name)
    return {
        "delta": delta,
        "beta": beta,
        "cutoffs": preset.table1_cutoffs if preset else (0.01,),
        "shokri_confidence": paper7.confidence if paper7 else DEFAULT_CONFIDENCE,
    }


def _make_attack(name: str, tail: str, confidence: float, seed: int):
    if name == "gmia-direct":
        return ATTACKS[name](tail=tail)
    if name == "shokri":
        return ATTACKS[name](confidence=confidence, seed=seed)
    return ATTACKS[name]()


def _validate(k, n_targets, n_inout, delta, beta, cutoffs, scaling, tail, features, n_bootstrap, attacks, confidence,
              n_population):
    check_k(k)
    check_targets(n_targets)
    check_inout(n_inout)
    check_thresholds(delta, beta)
    check_cutoffs(cutoffs)
    check_choice("scaling", scaling, SCALINGS)
    check_choice("tail rule", tail, TAIL_RULES)
    check_choice("selection features", features, FEATURE_KINDS)
    if n_bootstrap < 0:
        raise GmiaError(f"number of bootstrap resamples {n_bootstrap} is negative; expected 0 (no intervals) or more")
    for name in attacks:
        check_choice("attack", name, COMPARE_ATTACKS)
    if "gmia-direct" not in attacks:
        raise GmiaError(f"attacks {', '.join(attacks)} leave out gmia-direct; expected it in the list (it is the baseline)")
    if not 0.0 < confidence < 1.0:
        raise GmiaError(f"Shokri confidence threshold {confidence} is out of range; expected a value in (0, 1)")
    if n_population < 1:
        raise GmiaError(f"RMIA population size {n_population} is not positive; expected at least 1")


def run_compare(
    dataset: Dataset,
    spec: TrainSpec,
    store: ZooStore,
    *,
    k: int = 100,
    n_targets: int = 100,
    n_inout: int = 64,
    seed: int = 0,
    delta: float | None = None,
    beta: float | None = None,
    cutoffs: tuple[float, ...] | None = None,
    scaling: str = "n_over_nprime",
    tail: str = "pchip",
    features: str = "logits",
    n_bootstrap: int = 200,
    n_population: int = 5000,
    shokri_confidence: float | None = None,
    attacks: tuple[str, ...] | None = None,
    pool_size: int | None = None,
    chunk_size: int = 100,
    reference_sampling: str = "bootstrap",
    progress=None,
    on_stage=None,
) -> CompareResult:
    """Run the protocol, train the in/out shadows, score every attack and summarise.

    Parameters
    ----------
    dataset, spec, store : the data, the training spec of targets and all adversary models, the model store.
    k : GMIA's reference models (bootstrap samples of the adversary's records).
    n_targets : target models (``n_targets / 2`` half-splits of the pool); every attack scores all
        pool records against all of them, a ``[T, P]`` matrix.
    n_inout : in/out shadow models for LiRA, RMIA, Shokri and the loss threshold (even, >= 4).
    seed : seeds the protocol (as ``gmia reproduce``) and, through other children of the same
        ``SeedSequence``, the shadows, the population, the bootstrap and Shokri's networks.
    delta, beta : selection thresholds δ and β of GMIA's vulnerable records; default: the paper's Table 1.
    cutoffs : GMIA p-value cutoffs, also the FPRs other attacks are matched at; default: the paper's Table 1.
    scaling, tail, features : E[N_n] scaling, GMIA's tail rule, selection features (as ``gmia reproduce``).
    n_bootstrap : resamples (targets and records with replacement) for the 95% intervals; 0 = none.
    n_population : RMIA's population records z, drawn from the adversary's records (all if fewer).
    shokri_confidence : Shokri's threshold on P(in); default: the paper's Table 7 (0.5 without one).
    attacks : names from ``COMPARE_ATTACKS`` (default all); ``gmia-direct`` is required.
    pool_size, chunk_size, reference_sampling : as ``gmia reproduce``.
    progress, on_stage : training-progress factory and a callback for stage messages.

    Returns
    -------
    CompareResult
    """
    defaults = compare_defaults(dataset.name)
    delta = defaults["delta"] if delta is None else delta
    beta = defaults["beta"] if beta is None else beta
    cutoffs = tuple(defaults["cutoffs"] if cutoffs is None else cutoffs)
    confidence = defaults["shokri_confidence"] if shokri_confidence is None else shokri_confidence
    attacks = COMPARE_ATTACKS if attacks is None else tuple(attacks)
    _validate(k, n_targets, n_inout, delta, beta, cutoffs, scaling, tail, features, n_bootstrap, attacks, confidence,
              n_population)
    stage = on_stage or (lambda text: None)
    start = time.perf_counter()
    timer = Timer()
    # Children 0-3 of this seed are the protocol's (build_signals); the comparison uses 4-8.
    seeds = np.random.SeedSequence(seed).spawn(9)

    stage(f"training {n_targets} targets and {k} reference models")
    signals = build_signals(dataset, spec, store, k=k, n_targets=n_targets, seed=seed, pool_size=pool_size,
                            chunk_size=chunk_size, reference_sampling=reference_sampling, progress=progress, timer=timer)
    stage(f"training {n_inout} in/out shadow models")
    with timer.stage("train in/out shadows"):
        shadows = train_shadows(signals, store, n_inout, seeds[4:6], chunk_size, progress)
    with timer.stage("shadow signals"):
        population = population_records(signals, n_population, np.random.default_rng(seeds[6]))
        inputs, shadow_acc = build_inputs(signals, shadows, population)
    selection = run_selection(signals, delta, beta, scaling, features)
    pos = np.searchsorted(signals.split.pool, selection.selected)  # pool positions of the selected records
    member = signals.membership
    weights = bootstrap_weights(*member.shape, n_bootstrap, np.random.default_rng(seeds[7]))
    shokri_seed = int(seeds[8].generate_state(1)[0] >> 1)

    results, gmia_rows, gmia_fpr, shokri_rows, shokri_fpr = [], (), {}, (), float("nan")
    parameters = {}
    for name in attacks:
        stage(f"attack {name}")
        t0 = time.perf_counter()
        with timer.stage(f"attack {name}"):
            attack = _make_attack(name, tail, confidence, shokri_seed)
            parameters[name] = {f.name: getattr(attack, f.name) for f in fields(attack) if f.init}
            scores = score_attack(attack, inputs)
        with timer.stage("metrics and bootstrap"):
            roc = roc_with_ci(scores, member, weights)
            thresholds = tuple(fpr_threshold(scores, member, c) for c in cutoffs)
            rows = tuple(CutoffRow.from_calls(scores[:, pos] > t, member[:, pos], c) for c, t in zip(cutoffs, thresholds))
            realised = tuple(float((scores[~member] > t).mean()) for t in thresholds)
            curves = {"roc": roc_points(scores, member), "pr": pr_points(scores[:, pos], member[:, pos])}
        if name == "gmia-direct":
            p = -scores
            gmia_rows = tuple(CutoffRow.from_calls(p[:, pos] < c, member[:, pos], c) for c in cutoffs)
            gmia_fpr = {f"{c:g}": float((p[~member] < c).mean()) for c in cutoffs}
        if name == "shokri":
            calls = attack.decide(scores)
            shokri_rows = (CutoffRow.from_calls(calls[:, pos], member[:, pos], confidence),)
            shokri_fpr = float(calls[~member].mean())
        results.append(AttackResult(name, roc, rows, thresholds, realised, time.perf_counter() - t0, curves))

    return CompareResult(
        dataset=dataset.name,
        config={
            "k": k, "n_targets": n_targets, "n_inout": n_inout, "seed": seed, "delta": delta, "beta": beta,
            "cutoffs": list(cutoffs), "scaling": scaling, "tail": tail, "features": features,
            "n_bootstrap": n_bootstrap, "n_population": int(population.size), "shokri_confidence": confidence,
            "attacks": list(attacks), "attack_parameters": parameters, "fprs": list(FPRS), "pool_size": int(signals.split.pool.size),
            "chunk_size": chunk_size, "reference_sampling": reference_sampling, "spec": spec.model_dump(mode="json"),
            "n_records": len(dataset), "n_features": int(dataset.x.shape[1]),
        },
        accuracies={**signals.accuracies, **shadow_acc},
        n_candidates=int(selection.candidates.size),
        selected=tuple(int(i) for i in selection.selected),
        attacks=tuple(results),
        gmia_rows=gmia_rows,
        gmia_fpr=gmia_fpr,
        shokri_rows=shokri_rows,
        shokri_fpr=shokri_fpr,
        seconds=dict(timer.seconds),
        wall_seconds=time.perf_counter() - start,
        environment={"gmia": __version__, "python": platform.python_version(), "numpy": np.__version__},
    )
