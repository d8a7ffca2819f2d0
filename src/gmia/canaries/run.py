"""`gmia audit-dp`: one target per canary source, trained once, and what its canaries prove.

The protocol's split and reference models (`gmia.protocol.run`: same seed and spec, so the cache
is shared with the other commands): the k references train on the adversary's records less
the calibration set, and every canary is a pool record, so no reference holds a canary (checked).
Per source (`gmia.canaries.choose`): m canaries, each in the target's training set with
probability 1/2, beside N other pool records; one target trains on them (DP-SGD at
``dp_epsilon``, its sampling rate and noise fixed at the expected size N + m/2 before any coin is
drawn, so the canaries are add/remove neighbours as the accountant assumes); then each canary is
scored by GMIA direct (−p of the target's loss against the k reference losses), LiRA offline
and RMIA offline (the references as OUT shadow models, RMIA's population drawn from the
calibration records), and `gmia.privacy.one_run_bound` turns each attack's scores and the
inclusion flags into ε lower bounds. With DP the references train with the same DP spec,
their noise solved at their own N (the adversary mirrors the training algorithm).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd

from gmia.base.result import Result
from gmia.attacks import AttackInputs, AttackSettings, make_attack
from gmia.canaries.choose import FIRST_STREAM, Canaries, choose, check_canaries
from gmia.canaries.config import ATTACKS, SOURCES, AuditDpConfig
from gmia.data import Dataset, paper_split
from gmia.defenses.privacy import DpGuarantee, guarantee, meaningless
from gmia.settings.config import check_k_fits
from gmia.base.errors import GmiaError
from gmia.base.formatting import num
from gmia.privacy import one_run_bound
from gmia.protocol.run import Timer, split_adversary, target_train_size, train_references
from gmia.stats.select import derived_delta, selection_features
from gmia.stats.signals import accuracy, log_loss
from gmia.zoo import TrainSpec, Zoo, ZooStore



@dataclass(frozen=True)
class SourceResult:
    """One source's canaries, its target, the attacks' scores and the bounds they give."""

    source: str
    records: list[int]  # canary record indices
    included: list[bool]  # in the target's training set
    labels: list[int]  # the labels the target trained on and was scored on
    true_labels: list[int]  # the data set's labels (differ from ``labels`` for mislabelled canaries)
    scores: dict[str, list[float]]  # attack -> one score per canary, higher = member
    bounds: dict[str, dict]  # attack -> gmia.privacy.OneRunBound.to_dict()
    dp: dict | None  # the target's DpGuarantee (None: no DP)
    n_train: int  # records the target trained on
    train_accuracy: float
    test_accuracy: float  # on the calibration records, which no model trained on
    seconds: float  # choosing the canaries, training the target, scoring (references apart)
    neighbours: list[int] | None = None  # gmia: each canary's N'_n at the selection's δ

    @property
    def accountant_epsilon(self) -> float | None:
        return None if self.dp is None else self.dp["epsilon"]


@dataclass(frozen=True)
class AuditDpResult(Result):
    dataset: str
    config: dict
    sources: tuple[SourceResult, ...]
    references: dict  # k, n_train, dp, test_accuracy, seconds
    warnings: tuple[str, ...] = field(default=())

    def source(self, name: str) -> SourceResult:
        return next(s for s in self.sources if s.source == name)

    def to_frame(self) -> pd.DataFrame:
        """One row per source × attack: the one-run bounds beside the accountant's ε and the source's time."""
        return pd.DataFrame([{
            "source": s.source, "attack": attack, "epsilon": b["epsilon"], "epsilon_fdp_estimate": b["epsilon_fdp"],
            "relation": b.get("relation", "add/remove"),
            "guesses": b["guesses"], "correct": b["correct"], "k_plus": b["k_plus"], "k_minus": b["k_minus"],
            "accountant_epsilon": s.accountant_epsilon, "seconds": s.seconds,
        } for s in self.sources for attack, b in s.bounds.items()])

    def summary(self) -> str:
        cfg = self.config
        eps = cfg["dp_epsilon"]
        dp = "without DP" if eps is None or math.isinf(eps) else f"DP-SGD at epsilon={eps:g}, delta={cfg['dp_delta']:g}"
        lines = [f"One-run audit on {self.dataset}: {cfg['canaries']} canaries per source, {dp}; add/remove epsilon lower "
                 f"bounds at {100 * cfg['confidence']:g}% confidence (Steinke et al.; the f-DP figure is an estimate that "
                 f"assumes a Gaussian trade-off curve):"]
        for s in self.sources:
            acc = "" if s.accountant_epsilon is None else f" (accountant's epsilon {s.accountant_epsilon:.3g})"
            lines.append(f"  {s.source}{acc}, {s.seconds:.1f}s:")
            for attack, b in s.bounds.items():
                lines.append(f"    {attack}: epsilon >= {b['epsilon']:.3f} (Steinke), f-DP estimate {num(b['epsilon_fdp'], 3)}, "
                             f"{b['correct']} of {b['guesses']} guesses right")
        return "\n".join([*lines, *(f"warning: {w}" for w in self.warnings)])


def dp_spec(spec: TrainSpec, dp: DpGuarantee | None, fixed_rate: bool = False) -> TrainSpec:
    """``spec`` trained with DP-SGD at ``dp``'s clipping norm and noise (Poisson sampling), as
    `gmia.defenses.settings.apply` builds it; with ``fixed_rate`` also at ``dp``'s sampling rate
    whatever the training set's size (the target's); ``spec`` itself without DP."""
    if dp is None:
        return spec
    rate = {"dp_sample_rate": dp.sample_rate} if fixed_rate else {}
    return TrainSpec.build(**{**spec.model_dump(), "dp_clip": dp.clip, "dp_noise": dp.noise, "dp_sampling": "poisson", **rate})


def population(calibration: np.ndarray, size: int, seed: int) -> np.ndarray:
    """RMIA's population z: up to ``size`` calibration records (no model trained on any), seeded."""
    if size >= calibration.size:
        return calibration
    stream = np.random.SeedSequence(seed).spawn(FIRST_STREAM + len(SOURCES) + 1)[-1]
    return np.sort(np.random.default_rng(stream).choice(calibration, size=size, replace=False))


def check_disjoint(canaries: np.ndarray, references: Zoo) -> None:
    """No reference model may hold a canary: they are the attacks' OUT models for every canary."""
    held = np.intersect1d(canaries, references.index_sets)
    if held.size:
        raise RuntimeError(f"{held.size} canaries (records {held[:5].tolist()}) are in reference models' training sets; "
                           "the references must be trained on the adversary's records only, which exclude the pool")


def run_audit_dp(dataset: Dataset, store: ZooStore, cfg: AuditDpConfig, progress=None, on_stage=None) -> AuditDpResult:
    """The one-run audit of every source in ``cfg.sources`` (see the module docstring)."""
    stage = on_stage or (lambda text: None)
    spec, k, seed = cfg.spec, cfg.k, cfg.seed
    split = paper_split(dataset, pool_size=cfg.pool_size, seed=seed)
    n = target_train_size(split.pool)
    m = cfg.canaries_for(split.pool.size, n)
    check_canaries(m, split.pool.size, n)
    if m < 2:
        raise GmiaError(f"the pool of {split.pool.size} records leaves room for {m} canaries beside the targets' N={n}; "
                        "expected room for at least 2 (a larger pool)")
    reference_records, calibration = split_adversary(split.adversary, seed, cfg.calibration_size)
    check_k_fits(k, reference_records.size)

    # Every guarantee (and the noise for the budget) before any canary coin is drawn: the target's
    # q and σ are solved at the expected size N + m/2 and fixed, so adding or removing a canary
    # changes nothing else about its training (add/remove neighbours, as the accountant assumes).
    def private(n_train: int) -> DpGuarantee | None:
        if not cfg.private:
            return None
        return guarantee(cfg.dp_epsilon, None, cfg.dp_delta, cfg.dp_clip, n_train, spec.batch_size, spec.steps,
                         cfg.accountant)

    reference_dp = private(n)
    fixed = private(n + m // 2)
    target_dp = {s: fixed for s in cfg.sources}
    warnings = tuple(dict.fromkeys(w for g in (reference_dp, fixed) if g is not None
                                   for w in [meaningless(g.epsilon)] if w))
    for w in warnings:
        stage(f"warning: {w}")

    timer = Timer()
    stage(f"{k} reference models on the adversary's records" + (f"; {reference_dp.describe()}" if reference_dp else ""))
    with timer.stage("references"):
        references = train_references(dataset, dp_spec(spec, reference_dp), store, reference_records, k, n, seed,
                                      cfg.reference_sampling, cfg.chunk_size, progress)
        reference_logits = references.logits(dataset.x)  # [k, records, C]
    pop = population(calibration, cfg.n_population, seed)
    delta, derived = cfg.delta, False
    features = None
    if "gmia" in cfg.sources:
        with timer.stage("gmia"):
            f = selection_features(cfg.features, reference_logits, dataset.x, dataset.y)
            features = (f[split.pool], f[split.adversary])
            if delta is None:
                # Records out-of-sample for the references, like the pool's (raw features: every record).
                holdout = None if cfg.features == "raw" else np.searchsorted(split.adversary, calibration)
                delta, derived = derived_delta(features[1], cfg.beta, n, cfg.scaling, seed=seed, holdout=holdout), True

    results = []
    for i, source in enumerate(cfg.sources, 1):
        dp = target_dp[source]
        stage(f"source {i}/{len(cfg.sources)}: {source} canaries" + (f"; {dp.describe()}" if dp else ""))
        with timer.stage(source):
            canaries = choose(source, dataset.y, dataset.n_classes, split.pool, m, n, seed,
                              features if source == "gmia" else None, delta)
            check_disjoint(canaries.records, references)
            results.append(_audit(dataset, store, cfg, canaries, dp, reference_logits, calibration, pop, progress))
        results[-1] = replace(results[-1], seconds=timer.seconds[source])

    ref_acc = float(accuracy(reference_logits[:, calibration], dataset.y[calibration]).mean())
    config = {**cfg.to_dict(), "canaries": m, "dp_epsilon": cfg.dp_epsilon, "delta": delta, "delta_derived": derived,
              "n_train": n, "pool_size": int(split.pool.size), "n_records": len(dataset),
              "n_features": int(dataset.x.shape[1]), "n_population": int(pop.size), "n_calibration": int(calibration.size), "attacks": list(ATTACKS)}
    refs = {"k": k, "n_train": n, "dp": asdict(reference_dp) if reference_dp else None, "test_accuracy": ref_acc,
            "seconds": timer.seconds["references"]}
    return AuditDpResult(dataset=dataset.name, config=config, sources=tuple(results), references=refs, warnings=warnings)


def _audit(dataset: Dataset, store: ZooStore, cfg: AuditDpConfig, canaries: Canaries, dp: DpGuarantee | None,
           reference_logits: np.ndarray, calibration: np.ndarray, pop: np.ndarray, progress) -> SourceResult:
    """Train the source's target and score its canaries (``seconds`` is filled in by the caller)."""
    data = dataset
    if not np.array_equal(canaries.labels, dataset.y[canaries.records]):
        y = dataset.y.copy()
        y[canaries.records] = canaries.labels
        data = replace(dataset, y=y)  # its fingerprint follows the flipped labels
    train = canaries.training_set
    if train.size != canaries.n_train:
        raise RuntimeError(f"the target trains on {train.size} records but the canaries say {canaries.n_train}; expected them equal")
    target = store.get(data.x, data.y, data.fingerprint(), train[None, :], dp_spec(cfg.spec, dp, fixed_rate=True), canaries.train_seed,
                       data.n_classes, chunk_size=cfg.chunk_size, name=f"target ({canaries.source} canaries)",
                       progress=progress)
    x, y, records = data.x, data.y, canaries.records
    target_logits = target.logits(x[records])  # [1, m, C]
    shadow_logits = reference_logits[:, records]  # [k, m, C]
    inputs = AttackInputs(
        y_pool=canaries.labels, y_pop=y[pop], target_logits=target_logits, target_logits_pop=target.logits(x[pop]),
        shadow_logits=shadow_logits, shadow_logits_pop=reference_logits[:, pop],
        shadow_membership=np.zeros(shadow_logits.shape[:2], dtype=bool),  # no reference holds a canary
        reference_loss=log_loss(shadow_logits, canaries.labels), target_loss=log_loss(target_logits, canaries.labels),
    )
    settings = AttackSettings(tail=str(cfg.tail), seed=cfg.seed)
    scores = {name: make_attack(name, settings).fit(inputs).score(inputs)[0] for name in ATTACKS}
    bounds = {name: one_run_bound(s, canaries.included, delta=cfg.dp_delta, confidence=cfg.confidence).to_dict()
              for name, s in scores.items()}
    train_acc = float(accuracy(target.logits(x[train]), y[train])[0])
    test_acc = float(accuracy(target.logits(x[calibration]), y[calibration])[0])
    return SourceResult(
        source=canaries.source, records=records.tolist(), included=canaries.included.tolist(),
        labels=canaries.labels.tolist(), true_labels=dataset.y[records].tolist(),
        scores={name: s.astype(float).tolist() for name, s in scores.items()}, bounds=bounds,
        dp=asdict(dp) if dp else None, n_train=int(train.size), train_accuracy=train_acc, test_accuracy=test_acc,
        seconds=0.0, neighbours=None if canaries.neighbours is None else canaries.neighbours.tolist(),
    )
