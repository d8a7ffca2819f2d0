"""The indirect test checks its own null (docs/algorithm.md, "The indirect test's null check").

The indirect p-value of record r assumes the target answers at r's enhancing queries like the
reference models do when r is not in its training set. It does not when the target and the
references extrapolate differently at the random queries (Cancer: the queries lie far from the
data), and then every record looks like a member. Reference models held out as pseudo-targets
would not show that: they are trained exactly like the references. Population records do.

A *null record* c is a calibration record (`gmia.protocol.run.split_adversary`): one of the
adversary's records that no reference model trained on and that is not in the target's
training set. For each null record the whole pipeline of `run_indirect` runs in place of r
(positive references M^c_i, the search for enhancing queries, the target(s) queried through the
query log, Kost-combined p-values), so each null record gives one p-value per target, and each of
those p-values is a draw of the test under H_out. r itself is never sent while it runs.

CHOICE (which null records): the calibration records of r's class that are most isolated, as
r is: fewest neighbours (cosine distance < δ) among the adversary's other records in the
selection-feature space the caller selected r in; ties broken by the larger cosine distance to
the nearest other adversary record, then by the lower index. A calibration record with an exact
duplicate outside the calibration set is never one (in the pool its twin may be a member of the
target; among the reference records the references trained on it), and that excludes r's twins.

Rule: with n (null record, target) pairs that have a p-value and ``calls`` of them below the
cutoff α, the null "the test has level α on this data" is *rejected* iff P(Bin(n, α) >= calls) <
0.05 (``NULL_LEVEL``): more null calls than a test of level α makes with probability 5%. Every
verdict at that cutoff is then `NOT_CALIBRATED` instead of a membership claim; the p-values stay.

Not rejected is not shown calibrated: with 5 null pairs and no call, the null call rate can still
be as high as 0.45 (its one-sided 95% Clopper-Pearson upper bound). So every cutoff also reports
that ``upper_bound``, and whether the check is *large enough* for α: whether it has the
``pairs_needed(α)`` pairs with which no call at all would bound the rate by α (299 at α = 0.01,
59 at 0.05); a smaller check cannot show the rate is near α, whatever it finds. The default size
(`null_records_for`) asks for that many pairs: ⌈pairs_needed / targets⌉ null records.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

import math

import numpy as np
from scipy.stats import binom

from gmia.privacy.bounds import fpr_upper

from gmia.attacks.indirect import IndirectConfig
from gmia.attacks.registry import indirect_test
from gmia.data import Dataset
from gmia.base.errors import ResumableError
from gmia.stats.select import count_neighbours, kth_nearest_distance
from gmia.zoo import Zoo, ZooStore

NOT_CALIBRATED = "test not calibrated on this data"
NULL_LEVEL = 0.05  # the binomial test's level: how surprising the null calls must be to flag the cutoff


def choose_null_records(dataset: Dataset, record: int, calibration: np.ndarray, adversary: np.ndarray,
                        features: np.ndarray, delta: float, n: int, max_block_mb: float = 256.0) -> np.ndarray:
    """The ``n`` null records for ``record`` (see the module's CHOICE), most isolated first.

    ``features [N, F]``: every record's selection features (`gmia.stats.select.selection_features`);
    ``adversary``: the adversary's records, whose neighbours selection counts (``calibration``
    is a part of them). Fewer than ``n`` when the class has fewer eligible calibration records.
    """
    calibration = np.asarray(calibration, dtype=np.int64)
    if n <= 0 or calibration.size == 0:
        return np.empty(0, dtype=np.int64)
    x = np.ascontiguousarray(dataset.x, dtype=np.float32)
    cand = calibration[dataset.y[calibration] == dataset.y[record]]
    outside = np.setdiff1d(np.arange(len(x)), calibration)
    twins = {x[i].tobytes() for i in outside}
    cand = np.array([c for c in cand if x[c].tobytes() not in twins], dtype=np.int64)
    if cand.size == 0:
        return cand
    adversary = np.asarray(adversary, dtype=np.int64)
    counts = count_neighbours(features[cand], features[adversary], delta, max_block_mb) - 1  # less c itself
    where = {int(a): i for i, a in enumerate(adversary)}
    self_at = np.array([where.get(int(c), -1) for c in cand])
    # Cosine distances are at most 2; a record with no other adversary record is as isolated as that.
    nearest = np.minimum(kth_nearest_distance(features[cand], features[adversary], self_at, 1, max_block_mb), 2.0)
    order = np.lexsort((cand, -nearest, counts))
    return cand[order[:n]]


def pairs_needed(alpha: float, level: float = NULL_LEVEL) -> int:
    """The fewest null pairs whose call rate, with no call at all, has a one-sided (1 − level)
    upper bound of at most α: the smallest n with (1 − α)^n ≤ level."""
    return max(1, math.ceil(math.log(level) / math.log1p(-alpha)))


def null_records_for(cutoff: float, n_targets: int) -> int:
    """Null records enough to support ``cutoff`` with ``n_targets`` pairs each (the default size)."""
    return max(1, math.ceil(pairs_needed(cutoff) / max(1, n_targets)))


def excess_p(calls: int, pairs: int, alpha: float) -> float:
    """P(Bin(pairs, α) >= calls): the chance of this many null calls from a test of level α."""
    return 1.0 if calls <= 0 else float(binom.sf(calls - 1, pairs, alpha))


@dataclass(frozen=True)
class NullCheck:
    """The indirect pipeline on null records in place of ``record``, against the same target(s)."""

    record: int  # the record under attack (never sent while the check ran)
    records: np.ndarray  # [n] the null records, most isolated first
    pvalues: np.ndarray  # [n, T] NaN where a null record found no enhancing query or was not answered
    n_enhancing: np.ndarray  # [n] enhancing queries found per null record (-1: not reached)
    n_queries: int  # rows sent for the null records and answered, per target
    stopped: str | None = None  # why the check stopped early (a spent budget), or None

    @property
    def n_pairs(self) -> int:
        return int(np.isfinite(self.pvalues).sum())

    def calls(self, cutoff: float) -> int:
        p = self.pvalues[np.isfinite(self.pvalues)]
        return int((p < cutoff).sum())

    def fraction(self, cutoff: float) -> float:
        return self.calls(cutoff) / self.n_pairs if self.n_pairs else float("nan")

    def excess(self, cutoff: float) -> float:
        return excess_p(self.calls(cutoff), self.n_pairs, cutoff) if self.n_pairs else float("nan")

    def rejected(self, cutoff: float) -> bool | None:
        """True when the null calls at ``cutoff`` are significantly more than α·n (the test's level
        is rejected); None when no pair was tested."""
        return None if not self.n_pairs else bool(self.excess(cutoff) < NULL_LEVEL)

    def upper_bound(self, cutoff: float) -> float:
        """The one-sided (1 − NULL_LEVEL) Clopper-Pearson upper bound of the null call rate at ``cutoff``."""
        return float(fpr_upper(self.calls(cutoff), self.n_pairs, NULL_LEVEL)) if self.n_pairs else 1.0

    def large_enough(self, cutoff: float) -> bool:
        """Whether the check has the pairs with which no null call would bound the rate by ``cutoff``."""
        return self.n_pairs >= pairs_needed(cutoff)

    def verdict(self, p: float, cutoff: float) -> str:
        """The verdict of indirect p-value ``p`` at ``cutoff``: a membership claim unless the cutoff's level is rejected."""
        if self.rejected(cutoff):
            return NOT_CALIBRATED
        return "member" if p < cutoff else "no evidence"

    def at(self, cutoffs) -> dict[str, dict]:
        """Per cutoff: null calls, pairs, their fraction and upper bound, P(Bin(n, α) >= calls), whether
        the level is rejected, and whether the check is large enough for the cutoff."""
        return {f"{c:g}": {"calls": self.calls(c), "pairs": self.n_pairs, "fraction": self.fraction(c),
                           "upper_bound": self.upper_bound(c), "excess_p": self.excess(c),
                           "null_rejected": self.rejected(c), "large_enough": self.large_enough(c)} for c in cutoffs}

    def to_dict(self, cutoffs) -> dict:
        return {"records": [int(c) for c in self.records], "pvalues": self.pvalues.tolist(),
                "n_enhancing": [int(v) for v in self.n_enhancing], "n_queries": self.n_queries, "stopped": self.stopped,
                "level": NULL_LEVEL, "cutoffs": self.at(cutoffs)}


def null_check_words(at: dict) -> str:
    """What a null check at one cutoff shows, in words (older results: "calibrated" as stored)."""
    rejected = at.get("null_rejected", None if "calibrated" not in at else at["calibrated"] is False)
    if rejected:
        return "level rejected: not calibrated on this data"
    if at.get("large_enough"):
        return "not rejected"
    return "not rejected, but too few null pairs for this cutoff"


def unchecked(record: int) -> NullCheck:
    """No null check (``null_records=0``, or no calibration record): every verdict stays a claim."""
    return NullCheck(record=record, records=np.empty(0, dtype=np.int64), pvalues=np.empty((0, 1)),
                     n_enhancing=np.empty(0, dtype=np.int64), n_queries=0)


def null_check(
    store: ZooStore,
    dataset: Dataset,
    references: Zoo,
    record: int,
    null_records: np.ndarray,
    cfg: IndirectConfig,
    predict_proba: Callable[[np.ndarray], np.ndarray],
    seed: int,
    *,
    progress=None,
    timer=None,
    on_stage=None,
    memo: dict | None = None,
) -> NullCheck:
    """`run_indirect` on each of ``null_records`` in place of ``record``, with the same
    ``cfg``, ``seed`` and black box; ``record`` is never sent. A spent budget or an unreachable
    target (``ResumableError``) stops the check: the null records answered so far are kept,
    ``stopped`` says why. ``memo`` (a dict) keeps each null record's outcome for the next call
    of the same run (two attacked records of one class share their null records)."""
    stage = on_stage or (lambda text: None)
    timed = timer.stage("null check") if timer is not None else nullcontext()
    records = np.asarray(null_records, dtype=np.int64)
    found, rows, sent, stopped = np.full(len(records), -1), [None] * len(records), 0, None
    with timed:
        for i, c in enumerate(records):
            c = int(c)
            if memo is not None and c in memo:
                rows[i], found[i] = memo[c]
                continue
            stage(f"null check on record {record}: null record {c} ({i + 1} of {len(records)}) in its place")
            try:
                result = indirect_test(cfg).run(store, dataset, references, c, predict_proba, seed, progress=progress,
                                                on_stage=stage, avoid=dataset.x[[record]])
            except ResumableError as exc:
                stopped = str(exc)
                break
            found[i], sent = result.search.n_found, sent + result.n_queries
            rows[i] = None if result.pvalues is None else np.asarray(result.pvalues, dtype=np.float64)
            if memo is not None:
                memo[c] = (rows[i], found[i])
    width = max((len(r) for r in rows if r is not None), default=1)
    pvalues = np.full((len(records), width), np.nan)
    for i, r in enumerate(rows):
        if r is not None:
            pvalues[i] = r
    return NullCheck(record=int(record), records=records, pvalues=pvalues, n_enhancing=found, n_queries=sent,
                     stopped=stopped)
