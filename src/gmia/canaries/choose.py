"""Canaries for a one-run audit: which pool records, with which labels, and which of them train.

Three sources, all drawn from the target pool (so no reference model, trained on the
adversary's records only, ever holds one):

- ``gmia``: the m pool records most isolated in the references' selection features, ranked as
  GMIA's selection stage ranks them: fewest neighbours N'_n among the adversary's records at
  cosine distance < δ, ties broken by the larger distance to the nearest adversary record.
- ``random``: m pool records drawn uniformly.
- ``mislabelled``: m pool records drawn uniformly, each label replaced by another class drawn
  uniformly; the target trains on the flipped labels and every model is scored on them.

Each canary is included in the target's training set independently with probability 1/2; the
rest of that set is N = `gmia.protocol.run.target_train_size` records of the pool less all of the
source's canaries. Every draw comes from the seed's and the source's own stream, so a source
draws the same canaries whichever other sources run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gmia.base.errors import GmiaError
from gmia.stats.select import count_neighbours, kth_nearest_distance

from gmia.canaries.config import SOURCES

FIRST_STREAM = 10  # SeedSequence(seed)'s children 0-9 are the protocol's and the comparison's


@dataclass(frozen=True)
class Canaries:
    """One source's canaries and the target training set they go into (record indices)."""

    source: str
    records: np.ndarray  # [m] the canaries, in the source's order (gmia: most isolated first)
    labels: np.ndarray  # [m] the labels the target trains on and every model is scored on
    included: np.ndarray  # [m] bool: in the target's training set
    base: np.ndarray  # [N] sorted: the target's other training records, none of them a canary
    train_seed: int  # the target's training seed
    neighbours: np.ndarray | None = None  # gmia: N'_n of each canary at the selection's δ

    @property
    def m(self) -> int:
        return int(self.records.size)

    @property
    def training_set(self) -> np.ndarray:
        """Sorted record indices the target trains on: the base set and the included canaries."""
        return np.sort(np.concatenate([self.base, self.records[self.included]]))

    @property
    def n_train(self) -> int:
        return int(self.base.size + self.included.sum())


def streams(seed: int, source: str) -> list[np.random.SeedSequence]:
    """The source's streams: canaries, labels, base set, inclusion, training seed."""
    child = np.random.SeedSequence(seed).spawn(FIRST_STREAM + len(SOURCES))[FIRST_STREAM + SOURCES.index(source)]
    return child.spawn(5)


def inclusion(seed: int, source: str, m: int) -> np.ndarray:
    """Each of the m canaries in the target's training set with probability 1/2, independently.
    Known before any model trains, so the DP noise (which depends on the target's N) is too."""
    return np.random.default_rng(streams(seed, source)[3]).random(m) < 0.5


def check_canaries(m: int, pool_size: int, n_train: int) -> None:
    """The target's N base records come from the pool less the m canaries: m <= pool - N."""
    room = pool_size - n_train
    if m > room:
        raise GmiaError(f"{m} canaries do not fit a pool of {pool_size} records whose targets train on N={n_train} other "
                        f"records; expected at most {room} canaries (or a larger pool)")


def most_isolated(pool_features: np.ndarray, adversary_features: np.ndarray, pool: np.ndarray, m: int,
                  delta: float) -> tuple[np.ndarray, np.ndarray]:
    """The m pool records with the fewest adversary neighbours at cosine distance < δ (ties: the
    farther from its nearest adversary record first, then the lower index), and their counts."""
    counts = count_neighbours(pool_features, adversary_features, delta)
    nearest = kth_nearest_distance(pool_features, adversary_features, np.full(pool.size, -1), 1)
    order = np.lexsort((pool, -nearest, counts))[:m]
    return pool[order], counts[order]


def flipped_labels(y: np.ndarray, n_classes: int, rng: np.random.Generator) -> np.ndarray:
    """Each label replaced by one of the other classes, uniformly."""
    if n_classes < 2:
        raise GmiaError(f"mislabelled canaries need at least 2 classes but the data set has {n_classes}; expected 2 or more")
    return (np.asarray(y) + rng.integers(1, n_classes, size=len(y))) % n_classes


def choose(source: str, y: np.ndarray, n_classes: int, pool: np.ndarray, m: int, n_train: int, seed: int,
           features: tuple[np.ndarray, np.ndarray] | None = None, delta: float | None = None) -> Canaries:
    """The source's m canaries from ``pool``, their labels, inclusion flags and the target's base set.

    ``features``: (pool records', adversary records') selection features and ``delta``, for the
    ``gmia`` source.
    """
    check_canaries(m, pool.size, n_train)
    s = streams(seed, source)
    neighbours = None
    if source == "gmia":
        if features is None or delta is None:
            raise GmiaError("the gmia canary source needs the references' selection features and delta; expected both")
        records, neighbours = most_isolated(features[0], features[1], pool, m, delta)
    elif source in ("random", "mislabelled"):
        records = np.random.default_rng(s[0]).choice(pool, size=m, replace=False)
    else:
        raise GmiaError(f"unknown canary source {source!r}; expected one of: {', '.join(SOURCES)}")
    labels = np.asarray(y)[records]
    if source == "mislabelled":
        labels = flipped_labels(labels, n_classes, np.random.default_rng(s[1]))
    rest = np.setdiff1d(pool, records)
    base = np.sort(np.random.default_rng(s[2]).choice(rest, size=n_train, replace=False))
    return Canaries(source=source, records=records.astype(np.int64), labels=labels.astype(np.int64),
                    included=inclusion(seed, source, m), base=base.astype(np.int64),
                    train_seed=int(s[4].generate_state(1)[0]), neighbours=neighbours)
