"""Building the signal matrices every attack works from (`gmia.attacks.AttackInputs`).

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

import numpy as np

from gmia.attacks.inputs import AttackInputs
from gmia.base.errors import GmiaError
from gmia.comparison.config import check_inout
from gmia.protocol.run import ProtocolSignals, target_index_sets, train_models
from gmia.stats.signals import accuracy
from gmia.zoo import Zoo, ZooStore


def train_shadows(signals: ProtocolSignals, store: ZooStore, n_inout: int, seeds, chunk_size: int = 100,
                  progress=None, algorithm=None) -> Zoo:
    """The in/out models: ``n_inout`` models on half-splits of the pool, trained like the targets
    (with the targets' spec, or by ``algorithm`` when the targets were, `gmia.algorithms`)."""
    check_inout(n_inout)
    data = signals.dataset
    sets = target_index_sets(signals.split.pool, n_inout, np.random.default_rng(seeds[0]))
    return train_models(data, signals.targets.spec, store, sets, int(seeds[1].generate_state(1)[0]), algorithm,
                        chunk_size, "in/out shadows", progress)


def population_records(signals: ProtocolSignals, n_population: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted record indices of RMIA's population z: up to ``n_population`` adversary records."""
    if n_population < 1:
        raise GmiaError(f"RMIA population size {n_population} is not positive; expected at least 1")
    adversary = signals.split.adversary
    if n_population >= adversary.size:
        return adversary
    return np.sort(rng.choice(adversary, size=n_population, replace=False))


def build_inputs(signals: ProtocolSignals, shadows: Zoo, population: np.ndarray) -> tuple[AttackInputs, dict]:
    """The matrices of `AttackInputs`, and the shadows' train / test accuracy on the pool."""
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


__all__ = ["build_inputs", "population_records", "train_shadows"]
