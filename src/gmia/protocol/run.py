"""The paper's evaluation protocol: models and signals (docs/algorithm.md, "Evaluation protocol").

The target pool is split at random into two halves, each training one target model; repeated
``n_targets / 2`` times, so every pool record is a member of exactly half the targets. The k
reference models train on bootstrap samples (with replacement) of the adversary's records, each
the size of a target training set (the paper's design; ``reference_sampling="subsample"`` draws
without replacement instead, so references see as many distinct records as targets do). Before
they are sampled, a calibration set is held out of the adversary's records: no reference model
trains on it, so the targets' p-values on it are a sample of the null (`gmia.stats.calibration`).
Everything after training is numpy on matrices.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from gmia.stats.calibration import held_out_size
from gmia.base.choices import Sampling, values
from gmia.settings.config import check_k, check_k_fits, check_targets
from gmia.data import Dataset, Split, paper_split
from gmia.base.errors import GmiaError, check_choice
from gmia.stats.select import selection_features
from gmia.stats.signals import accuracy, log_loss
from gmia.algorithms import Algorithm, OutputZoo, train_outputs
from gmia.zoo import TrainSpec, Zoo, ZooStore
from gmia.zoo.spec import cap_batch
from gmia.zoo.store import chunk_seed
from gmia.zoo.concurrent import MIN_STEP_WORK, run_side_by_side, step_work


def target_index_sets(pool: np.ndarray, n_targets: int, rng: np.random.Generator) -> np.ndarray:
    """``[n_targets, |pool|/2]`` index sets: ``n_targets/2`` random half-splits of the pool."""
    check_targets(n_targets)
    half = pool.size // 2
    sets = []
    for _ in range(n_targets // 2):
        perm = rng.permutation(pool)
        sets += [np.sort(perm[:half]), np.sort(perm[half : 2 * half])]
    return np.stack(sets)


REFERENCE_SAMPLINGS = values(Sampling)


def bootstrap_index_sets(records: np.ndarray, k: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``[k, size]`` bootstrap samples (with replacement) of ``records``."""
    check_k(k)
    return np.sort(rng.choice(records, size=(k, size), replace=True), axis=1)


def subsample_index_sets(records: np.ndarray, k: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``[k, size]`` samples without replacement: each reference sees ``size`` distinct records,
    as each target does (a bootstrap sample holds only about 63% distinct records)."""
    check_k(k)
    if size > records.size:
        raise GmiaError(f"reference sampling 'subsample' needs {size} records per model but the adversary has {records.size}; expected at most {records.size} (use bootstrap)")
    return np.stack([np.sort(rng.choice(records, size=size, replace=False)) for _ in range(k)])


def split_adversary(adversary: np.ndarray, seed: int, size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(reference records, calibration records): ``size`` of the adversary's records held out
    for calibration (default `gmia.stats.calibration.calibration_size`), the rest for the references.
    Drawn from the seed's own stream, so targets and the other streams are unchanged by it."""
    size = held_out_size(adversary.size, size)
    held = np.zeros(adversary.size, bool)
    held[np.random.default_rng(_streams(seed)[-1]).choice(adversary.size, size=size, replace=False)] = True
    return adversary[~held], adversary[held]


def target_train_size(pool: np.ndarray, exclude: np.ndarray | None = None) -> int:
    """N, the records each target trains on: half the pool; with ``exclude`` (records no target
    trains on), half of the pool records left, their count rounded down to even. The DP
    accountant's sampling rate q = batch / N must use exactly this N (`gmia.defenses.run`)."""
    kept = pool.size if exclude is None else np.setdiff1d(pool, exclude).size
    return kept // 2


@dataclass
class Timer:
    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start


@dataclass(eq=False)
class ProtocolSignals:
    """What the attacks and metrics need, computed once from the two stacks.

    Pool records are indexed by position ``0..P-1``; ``split.pool[j]`` is the record index.
    """

    dataset: Dataset
    split: Split
    targets: Zoo
    references: Zoo
    reference_loss: np.ndarray  # [k, P] losses of the reference models on pool records
    target_logits: np.ndarray  # [T, P, C] the targets on pool records
    target_loss: np.ndarray  # [T, P]
    membership: np.ndarray  # [T, P] bool
    reference_logits: np.ndarray  # [k, N, C] the reference models on every record
    accuracies: dict[str, float]
    timer: Timer
    calibration: np.ndarray  # [m] record indices held out of the references: known non-members of every model
    calibration_reference_loss: np.ndarray  # [k, m]
    calibration_target_loss: np.ndarray  # [T, m]
    calibration_target_logits: np.ndarray  # [T, m, C]

    @property
    def n_train(self) -> int:
        return int(self.targets.index_sets.shape[1])

    def features(self, kind: str = "logits") -> tuple[np.ndarray, np.ndarray]:
        """Selection features of (pool records, adversary records)."""
        f = selection_features(kind, self.reference_logits, self.dataset.x, self.dataset.y)
        return f[self.split.pool], f[self.split.adversary]


def _streams(seed: int) -> list[np.random.SeedSequence]:
    """The protocol's random streams for a seed: target index sets, reference index sets, target
    training, reference training (children 0-3), and the calibration hold-out (child 9; 4-8 are
    the comparison's). Every caller that promises the protocol's models (`audit`, `model
    train`) goes through `train_targets`, `split_adversary` and `train_references`, not this.
    (A SeedSequence's n-th child does not depend on how many are spawned, so adding a stream
    keeps the others.)"""
    streams = np.random.SeedSequence(seed).spawn(10)
    return [*streams[:4], streams[9]]


def exchangeable_streams(seed: int) -> tuple[np.random.SeedSequence, np.random.SeedSequence]:
    """(index sets, training) of an audit's exchangeable references (`gmia.auditing.exchangeable`):
    the seed's child 10, apart from every stream `_streams` and the comparison use."""
    return tuple(np.random.SeedSequence(seed).spawn(11)[10].spawn(2))


def train_models(dataset: Dataset, spec: TrainSpec, store: ZooStore, index_sets: np.ndarray, seed: int,
                 algorithm: Algorithm | None = None, chunk_size: int = 100, name: str = "models", progress=None) -> Zoo | OutputZoo:
    """One model per row of ``index_sets``, trained or loaded: a gmia stack of ``spec`` (the
    default, K at once), or the models of ``algorithm`` (`gmia.algorithms`, one task each)."""
    if algorithm is not None:
        return train_outputs(algorithm, dataset, index_sets, seed, store, name=name, progress=progress)
    return store.get(dataset.x, dataset.y, dataset.fingerprint(), index_sets, spec, seed, dataset.n_classes,
                     chunk_size=chunk_size, name=name, progress=progress)


def target_seed(seed: int, model: int) -> int:
    """The seed target ``model`` of the protocol's ``seed`` trains with when it is not a stack
    (`gmia.algorithms.train`): `gmia.protocol.deployed` fits the same model to deploy it."""
    return chunk_seed(int(_streams(seed)[2].generate_state(1)[0]), model)


def train_targets(dataset: Dataset, spec: TrainSpec, store: ZooStore, pool: np.ndarray, n_targets: int, seed: int,
                  chunk_size: int = 100, progress=None, name: str = "targets", algorithm: Algorithm | None = None) -> Zoo | OutputZoo:
    """``n_targets`` models on random halves of ``pool`` (``n_targets / 2`` splits), trained or loaded."""
    streams = _streams(seed)
    sets = target_index_sets(pool, n_targets, np.random.default_rng(streams[0]))
    return train_models(dataset, spec, store, sets, int(streams[2].generate_state(1)[0]), algorithm, chunk_size, name, progress)


def train_references(dataset: Dataset, spec: TrainSpec, store: ZooStore, adversary: np.ndarray, k: int, n_train: int,
                     seed: int, reference_sampling: str = "bootstrap", chunk_size: int = 100, progress=None,
                     algorithm: Algorithm | None = None) -> Zoo | OutputZoo:
    """The k reference models, each on a sample of size N = ``n_train`` of ``adversary``, the
    adversary's records less the calibration set (`split_adversary`)."""
    check_choice("reference sampling", reference_sampling, REFERENCE_SAMPLINGS)
    streams = _streams(seed)
    sampler = bootstrap_index_sets if reference_sampling == "bootstrap" else subsample_index_sets
    sets = sampler(adversary, k, n_train, np.random.default_rng(streams[1]))
    return train_models(dataset, spec, store, sets, int(streams[3].generate_state(1)[0]), algorithm, chunk_size,
                        "references", progress)


def build_signals(
    dataset: Dataset,
    spec: TrainSpec,
    store: ZooStore,
    k: int = 100,
    n_targets: int = 100,
    seed: int = 0,
    pool_size: int | None = None,
    chunk_size: int = 100,
    reference_sampling: str = "bootstrap",
    progress=None,
    timer: Timer | None = None,
    exclude: np.ndarray | None = None,
    calibration_size: int | None = None,
    algorithm: Algorithm | None = None,
) -> ProtocolSignals:
    """Split, train (or load) targets and references, and compute the signal matrices.

    ``calibration_size``: adversary records held out of the references for calibration
    (default: `gmia.stats.calibration.calibration_size`; 0 for none).

    ``algorithm``: how targets and references train (`gmia.algorithms`); None for gmia's
    stacked trainer with ``spec``.

    ``exclude``: pool records no target trains on (training-set selection, a defence); the
    targets split the rest (one more left out if that count is odd), and the excluded records
    stay in the pool as non-members of every target.
    """
    timer = timer or Timer()
    split = paper_split(dataset, pool_size=pool_size, seed=seed)
    check_choice("reference sampling", reference_sampling, REFERENCE_SAMPLINGS)
    trainable = split.pool if exclude is None else np.setdiff1d(split.pool, exclude)
    trainable = trainable[: 2 * target_train_size(split.pool, exclude)]
    if len(trainable) < 2:
        raise GmiaError(f"only {len(trainable)} pool records are left to train targets on; expected at least 2")
    reference_records, calibration = split_adversary(split.adversary, seed, calibration_size)
    check_k_fits(k, reference_records.size)
    if algorithm is None:  # a small pool's N may be below the preset's batch: both kinds train on N records
        spec, _ = cap_batch(spec, trainable.size // 2)
    # Targets and references do not depend on each other: they train side by side, one core each.
    with timer.stage("train targets and references"):
        targets, references = run_side_by_side([
            lambda tick: train_targets(dataset, spec, store, trainable, n_targets, seed, chunk_size, tick, algorithm=algorithm),
            lambda tick: train_references(dataset, spec, store, reference_records, k, trainable.size // 2, seed,
                                          reference_sampling, chunk_size, tick, algorithm=algorithm),
        ], progress, worth_it=algorithm is None  # other algorithms use every core through their own workers
            and step_work(spec, dataset.x.shape[1], dataset.n_classes, max(k, n_targets)) >= MIN_STEP_WORK)
    with timer.stage("signals"):
        ref_logits = references.logits(dataset.x)  # [k, N, C]
        tgt_logits = targets.logits(dataset.x[split.pool])  # [T, P, C]
        y_cal = dataset.y[calibration]
        cal_logits = targets.logits(dataset.x[calibration])
        y_pool = dataset.y[split.pool]
        membership = targets.membership[:, split.pool]
        ref_member = references.membership
        accs = {
            "target_train": float(accuracy(tgt_logits, y_pool, membership).mean()),
            "target_test": float(accuracy(tgt_logits, y_pool, ~membership).mean()),
            "reference_train": float(accuracy(ref_logits, dataset.y, ref_member).mean()),
            "reference_test": float(accuracy(ref_logits[:, split.pool], y_pool).mean()),
        }
        signals = ProtocolSignals(
            dataset=dataset,
            split=split,
            targets=targets,
            references=references,
            reference_loss=log_loss(ref_logits[:, split.pool], y_pool),
            target_logits=tgt_logits,
            target_loss=log_loss(tgt_logits, y_pool),
            membership=membership,
            reference_logits=ref_logits,
            accuracies=accs,
            timer=timer,
            calibration=calibration,
            calibration_reference_loss=log_loss(ref_logits[:, calibration], y_cal),
            calibration_target_loss=log_loss(cal_logits, y_cal),
            calibration_target_logits=cal_logits,
        )
    return signals
