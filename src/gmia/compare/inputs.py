"""The signal matrices every attack works from, and how each attack is run on them.

Besides the protocol's targets and GMIA's k reference models, the comparison trains one stack
of in/out shadow models: ``n_inout / 2`` random half-splits of the target pool, two models per
split, so every pool record is IN exactly half of them (LiRA's keep matrix). This is the online
setting: the adversary knows the candidate records, not the targets' membership. Offline
attacks (``lira-offline``, ``rmia-offline``) use, for each record, only the shadow models NOT
trained on it. ``shokri`` trains its attack networks on the same shadow models; ``loss`` uses
them only for its decision threshold (their mean training loss).

RMIA's population records z are a seeded subsample of the adversary's records: no target and
no shadow model trained on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.special import softmax

from gmia.attacks import GmiaDirect, Lira, LossThreshold, Rmia, Shokri, logit_confidence
from gmia.errors import GmiaError
from gmia.protocol import ProtocolSignals, target_index_sets
from gmia.signals import accuracy, log_loss
from gmia.zoo import Zoo, ZooStore


def check_inout(n_inout: int) -> None:
    if n_inout < 4 or n_inout % 2:
        raise GmiaError(f"number of in/out shadow models {n_inout} is invalid; expected an even number >= 4 "
                        "(each record is IN half of them and each Gaussian needs 2 models)")


@dataclass(eq=False)
class AttackInputs:
    """Signals of targets ``[T, ...]``, in/out shadows ``[K, ...]`` and GMIA's references ``[k, ...]``
    on the pool records (P) and the population records (Z)."""

    y_pool: np.ndarray  # [P]
    y_pop: np.ndarray  # [Z]
    target_logits: np.ndarray  # [T, P, C]
    target_logits_pop: np.ndarray  # [T, Z, C]
    shadow_logits: np.ndarray  # [K, P, C]
    shadow_logits_pop: np.ndarray  # [K, Z, C]
    shadow_membership: np.ndarray  # [K, P] bool
    reference_loss: np.ndarray  # [k, P] GMIA's reference models
    target_loss: np.ndarray  # [T, P]

    @cached_property
    def shadow_loss(self) -> np.ndarray:
        return log_loss(self.shadow_logits, self.y_pool)

    @cached_property
    def shadow_loss_pop(self) -> np.ndarray:
        return log_loss(self.shadow_logits_pop, self.y_pop)

    @cached_property
    def target_loss_pop(self) -> np.ndarray:
        return log_loss(self.target_logits_pop, self.y_pop)


def train_shadows(signals: ProtocolSignals, store: ZooStore, n_inout: int, seeds, chunk_size: int = 100,
                  progress=None) -> Zoo:
    """The in/out stack: ``n_inout`` models on half-splits of the pool, trained like the targets."""
    check_inout(n_inout)
    data = signals.dataset
    sets = target_index_sets(signals.split.pool, n_inout, np.random.default_rng(seeds[0]))
    return store.get(x=data.x, y=data.y, fingerprint=data.fingerprint(), index_sets=sets, spec=signals.targets.spec,
                     seed=int(seeds[1].generate_state(1)[0]), n_classes=data.n_classes, chunk_size=chunk_size,
                     name="in/out shadows", progress=progress)


def population_records(signals: ProtocolSignals, n_population: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted record indices of RMIA's population z: up to ``n_population`` adversary records."""
    if n_population < 1:
        raise GmiaError(f"RMIA population size {n_population} is not positive; expected at least 1")
    adversary = signals.split.adversary
    if n_population >= adversary.size:
        return adversary
    return np.sort(rng.choice(adversary, size=n_population, replace=False))


def build_inputs(signals: ProtocolSignals, shadows: Zoo, population: np.ndarray) -> tuple[AttackInputs, dict]:
    """The matrices of :class:`AttackInputs`, and the shadows' train / test accuracy on the pool."""
    x, y = signals.dataset.x, signals.dataset.y
    pool = signals.split.pool
    shadow_logits = shadows.logits(x[pool])
    member = shadows.membership[:, pool]
    inputs = AttackInputs(
        y_pool=y[pool], y_pop=y[population],
        target_logits=signals.target_logits, target_logits_pop=signals.targets.logits(x[population]),
        shadow_logits=shadow_logits, shadow_logits_pop=shadows.logits(x[population]),
        shadow_membership=member, reference_loss=signals.reference_loss, target_loss=signals.target_loss,
    )
    acc = {"shadow_train": float(accuracy(shadow_logits, y[pool], member).mean()),
           "shadow_test": float(accuracy(shadow_logits, y[pool], ~member).mean())}
    return inputs, acc


def score_attack(attack, inputs: AttackInputs) -> np.ndarray:
    """Fit ``attack`` on its reference / shadow signals and return membership scores ``[T, P]``,
    higher = more likely member (GMIA's p-values come back as −p)."""
    if isinstance(attack, GmiaDirect):
        return -attack.fit(inputs.reference_loss).score(inputs.target_loss)
    if isinstance(attack, LossThreshold):
        return attack.fit(inputs.shadow_loss[inputs.shadow_membership]).score(inputs.target_loss)
    if isinstance(attack, Lira):
        phi = logit_confidence(inputs.shadow_logits, inputs.y_pool)
        return attack.fit(phi, inputs.shadow_membership).score(logit_confidence(inputs.target_logits, inputs.y_pool))
    if isinstance(attack, Rmia):
        # Pr(x | θ) = p_y = exp(−L): the losses are already computed stably from logits.
        attack.fit(np.exp(-inputs.shadow_loss), inputs.shadow_membership, np.exp(-inputs.shadow_loss_pop))
        return attack.score(np.exp(-inputs.target_loss), np.exp(-inputs.target_loss_pop))
    if isinstance(attack, Shokri):
        attack.fit(softmax(inputs.shadow_logits.astype(np.float64), axis=-1), inputs.y_pool, inputs.shadow_membership)
        return attack.score(softmax(inputs.target_logits.astype(np.float64), axis=-1), inputs.y_pool)
    raise GmiaError(f"attack {getattr(attack, 'name', attack)!r} cannot be run on the comparison's signals; "
                    "expected one of gmia-direct, loss, lira-*, rmia-*, shokri")
