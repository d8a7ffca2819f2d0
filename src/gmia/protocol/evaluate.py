"""Metrics of the direct attack under the paper's protocol, as typed result objects.

A (record, target) pair is a positive call iff p < cutoff. Precision = TP / (TP + FP) with a
Clopper-Pearson 95% interval; recall = TP / (member pairs), which is TP / (50·n) in the paper's
protocol with 100 targets. Every figure is computed for both p-values: the paper's raw
p = F_r(L(M, r)) and the population-calibrated p̂ (`gmia.stats.calibration`); the run's ``pvalues``
option says which one the verdicts use.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass

import numpy as np

from gmia.attacks.registry import direct_test
from gmia.stats.calibration import calibrated_pvalues, null_fraction, per_class
from gmia.base.choices import Features, values
from gmia.data import duplicate_groups
from gmia.protocol.run import ProtocolSignals
from gmia.stats.select import Selection, select_vulnerable
from gmia.stats.roc import RocSummary, roc_summary
from gmia.protocol.exchangeable import evaluate_exchangeable
from gmia.base.errors import GmiaError, check_cutoffs
from gmia.settings.presets import DEFAULT_DP_DELTA, DEFAULT_PRIVACY_CONFIDENCE
from gmia.privacy.protocol import protocol_bounds
from gmia.stats.ecdf import TAIL_RULES, clopper_pearson

CALIBRATION_ALPHAS = (0.01, 0.05, 0.1)
# The split rule's random halves: fixed, so a rerun on the same scores gives the same bound, and
# chosen before any score is seen, so the threshold cannot be fitted to the halves.
PRIVACY_SEED = 0


@dataclass(frozen=True)
class CutoffRow:
    cutoff: float
    tp: int
    fp: int
    member_pairs: int
    precision: float
    recall: float
    precision_ci: tuple[float, float]

    @classmethod
    def from_calls(cls, calls: np.ndarray, membership: np.ndarray, cutoff: float) -> "CutoffRow":
        tp = int((calls & membership).sum())
        fp = int((calls & ~membership).sum())
        return cls.from_counts(cutoff, tp, fp, int(membership.sum()))

    @staticmethod
    def pooled(per_seed) -> tuple["CutoffRow", ...]:
        """Rows of several seeds (each a tuple over the same cutoffs) pooled: TP, FP and member
        pairs summed, precision, recall and interval recomputed."""
        return tuple(
            CutoffRow.from_counts(rows[0].cutoff, sum(r.tp for r in rows), sum(r.fp for r in rows),
                                  sum(r.member_pairs for r in rows))
            for rows in zip(*per_seed)
        )

    @classmethod
    def from_counts(cls, cutoff: float, tp: int, fp: int, members: int) -> "CutoffRow":
        return cls(
            cutoff=cutoff,
            tp=tp,
            fp=fp,
            member_pairs=members,
            precision=tp / (tp + fp) if tp + fp else float("nan"),
            recall=tp / members if members else float("nan"),
            precision_ci=clopper_pearson(tp, tp + fp),
        )


@dataclass(frozen=True)
class Evaluation:
    """Direct-attack results for one selection setting (δ, β) on one protocol run."""

    delta: float  # the δ used: given, or derived from the data (``delta_derived``)
    beta: float
    scaling: str
    tail: str
    features: str
    pvalues_kind: str  # "calibrated" or "raw": what ``rows`` and the tail comparison use
    n_candidates: int
    selected: tuple[int, ...]  # record indices, most isolated first
    selected_neighbours: tuple[int, ...]
    count_by_scaling: dict[str, int]
    rows: tuple[CutoffRow, ...]
    rows_without_twins: tuple[CutoffRow, ...]  # selected records with an exact duplicate in the pool left out
    n_selected_with_twin: int
    tail_comparison: dict[str, tuple[CutoffRow, ...]]
    rows_by_pvalues: dict[str, tuple[CutoffRow, ...]] = field(default_factory=dict)  # "raw" and "calibrated"
    count_by_features: dict[str, int] = field(default_factory=dict)  # records each feature kind selects at (δ, β)
    calibrated_by_class: bool = False  # p̂ ranked within r's class (else among all calibration records)
    n_calibration: int = 0  # |C|, records held out of the references
    delta_derived: bool = False
    roc: RocSummary | None = None  # all pool records × all targets, raw p (no intervals)
    calibration: dict[str, float] = field(default_factory=dict)  # P(p < α) over non-member pairs, raw p
    calibration_without_twins: dict[str, float] = field(default_factory=dict)  # same, records with no exact twin in the pool
    calibration_calibrated: dict[str, float] = field(default_factory=dict)  # P(p̂ < α) over non-member pairs
    calibration_selected: dict[str, dict[str, float]] = field(default_factory=dict)  # non-member pairs of the selected records, by p-value
    # ε lower bounds proved by the score −p (raw p): "all" pool records × targets, and the
    # "selected" records × targets (None: under two member or non-member pairs, e.g. none selected); `privacy_bounds`.
    privacy: dict = field(default_factory=dict)
    # The direct test against references drawn like the target (--references exchangeable;
    # `gmia.protocol.exchangeable`); None when not asked for.
    exchangeable: dict | None = field(default=None, metadata={"omit_none": True})
    # What the numbers above were computed from, for the run folder's per-record rows; kept in
    # memory only (a results file would grow by T x P values).
    selection: Selection | None = field(default=None, repr=False, compare=False, metadata={"transient": True})
    pvalues: np.ndarray | None = field(default=None, repr=False, compare=False, metadata={"transient": True})
    # The exchangeable design's default test: its p-values and FDR member calls [T, P] (with --references exchangeable).
    exchangeable_pvalues: np.ndarray | None = field(default=None, repr=False, compare=False, metadata={"transient": True})
    fdr_member: np.ndarray | None = field(default=None, repr=False, compare=False, metadata={"transient": True})

    def to_dict(self) -> dict:
        return to_plain(self)


def to_plain(obj):
    """`dataclasses.asdict` without the fields marked transient (in-memory evidence), nor those
    marked ``omit_none`` while they are None (a result that was not asked for)."""
    if is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_plain(getattr(obj, f.name)) for f in fields(obj) if not f.metadata.get("transient")
                and not (f.metadata.get("omit_none") and getattr(obj, f.name) is None)}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_plain(v) for v in obj)
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    return obj


def _cached(signals: ProtocolSignals, key: tuple, compute):
    """Derived matrices are computed once per protocol run, whoever asks for them first."""
    cache = signals.__dict__.setdefault("_derived", {})
    if key not in cache:
        cache[key] = compute()
    return cache[key]


def pool_pvalues(signals: ProtocolSignals, tail: str) -> np.ndarray:
    """p-values ``[T, P]`` of every pool record against every target, cached per tail rule."""

    def compute():
        with signals.timer.stage("p-values"):
            return direct_test(tail).fit_losses(signals.reference_loss).pvalues_of(signals.target_loss)

    return _cached(signals, ("pvalues", tail), compute)


def calibration_pvalues(signals: ProtocolSignals, tail: str) -> np.ndarray:
    """Raw p-values ``[T, m]`` of the held-out calibration records: the null sample of each target."""

    def compute():
        with signals.timer.stage("p-values"):
            return direct_test(tail).fit_losses(signals.calibration_reference_loss).pvalues_of(signals.calibration_target_loss)

    return _cached(signals, ("calibration pvalues", tail), compute)


def by_class(signals: ProtocolSignals, smallest_cutoff: float) -> bool:
    return per_class(signals.dataset.y[signals.calibration], signals.dataset.n_classes, smallest_cutoff)


def calibrate(signals: ProtocolSignals, raw: np.ndarray, positions: np.ndarray, tail: str, smallest_cutoff: float) -> np.ndarray:
    """p̂ of the pool records at ``positions`` from their raw p-values ``raw [T, len(positions)]``."""
    y = signals.dataset.y
    return calibrated_pvalues(raw, calibration_pvalues(signals, tail), y[signals.split.pool[positions]],
                              y[signals.calibration], by_class(signals, smallest_cutoff))


def pool_calibrated(signals: ProtocolSignals, tail: str, smallest_cutoff: float) -> np.ndarray:
    """p̂ ``[T, P]`` of every pool record against every target, cached."""

    def compute():
        with signals.timer.stage("p-values"):
            return calibrate(signals, pool_pvalues(signals, tail), np.arange(signals.split.pool.size), tail, smallest_cutoff)

    return _cached(signals, ("calibrated", tail, by_class(signals, smallest_cutoff)), compute)


def run_selection(signals: ProtocolSignals, delta: float, beta: float, scaling: str, features: str = "centred-logits") -> Selection:
    """Selection over the pool, cached per setting: the run folder's recorder reads it again."""

    def compute():
        with signals.timer.stage("selection"):
            pool_f, adversary_f = signals.features(features)
            return select_vulnerable(pool_f, adversary_f, candidates=signals.split.pool, delta=delta, beta=beta,
                                     n_train=signals.n_train, scaling=scaling, mode=features,
                                     holdout=np.searchsorted(signals.split.adversary, signals.calibration))

    return _cached(signals, ("selection", delta, beta, scaling, features), compute)


def privacy_bounds(scores: np.ndarray, membership: np.ndarray, positions: np.ndarray, delta: float = DEFAULT_DP_DELTA,
                   pvalues: np.ndarray | None = None) -> dict:
    """`gmia.privacy.protocol.protocol_bounds` at the project's confidence and fixed split seed."""
    return protocol_bounds(scores, membership, positions, delta=delta, confidence=DEFAULT_PRIVACY_CONFIDENCE,
                           seed=PRIVACY_SEED, pvalues=pvalues)


def _rows(p: np.ndarray, member: np.ndarray, cutoffs) -> tuple[CutoffRow, ...]:
    return tuple(CutoffRow.from_calls(p < c, member, c) for c in cutoffs)


def evaluate(
    signals: ProtocolSignals,
    delta: float,
    beta: float,
    cutoffs=(0.01,),
    scaling: str = "n_over_nprime",
    tail: str = "gaussian",
    features: str = "centred-logits",
    pvalues: str = "calibrated",
    privacy_delta: float = DEFAULT_DP_DELTA,
    references: str = "paper",
) -> Evaluation:
    """Select at (δ, β), then call every (selected record, target) pair at each cutoff, with the
    ``pvalues`` kind for the verdicts; both kinds' figures are kept side by side.

    ``references``: ``"exchangeable"`` adds the direct test against the other targets that did not
    train on the record (``Evaluation.exchangeable``, `gmia.protocol.exchangeable`) beside the
    paper's.

    ``privacy_delta``: the δ of the ε lower bounds (a DP-trained target's own δ, to set them
    beside its accountant's ε). They are bounded on the raw p: the calibrated p̂ are ranks
    among the calibration records, with ties that would waste thresholds.
    """
    check_cutoffs(cutoffs)
    calibrated = signals.calibration.size > 0
    if pvalues == "calibrated" and not calibrated:
        raise GmiaError("calibrated p-values need a calibration set but it is empty; expected a calibration size > 0 or raw p-values")
    selection = run_selection(signals, delta, beta, scaling, features)
    pos = np.searchsorted(signals.split.pool, selection.selected)  # pool positions of the selected
    member = signals.membership[:, pos]
    smallest = min(cutoffs)
    p_raw = pool_pvalues(signals, tail)
    kinds = {"raw": p_raw}
    if calibrated:
        kinds["calibrated"] = pool_calibrated(signals, tail, smallest)
    p_all = kinds[pvalues]
    groups = duplicate_groups(signals.dataset.x[signals.split.pool])
    twin = np.bincount(groups)[groups] > 1
    no_twin = ~twin[pos]
    tails = {}
    for rule in TAIL_RULES:
        if rule == tail:
            p_rule = p_all[:, pos]
        else:
            p_rule = direct_test(rule).fit_losses(signals.reference_loss[:, pos]).pvalues_of(signals.target_loss[:, pos])
            if pvalues == "calibrated":
                p_rule = calibrate(signals, p_rule, pos, rule, smallest)
        tails[rule] = _rows(p_rule, member, cutoffs)
    non_member = ~signals.membership
    exchangeable = (None, None, None) if references == "paper" else evaluate_exchangeable(
        signals.target_loss, signals.membership, pos, selection.neighbours, cutoffs, CutoffRow.from_calls, groups=groups,
        heldout_loss=signals.calibration_target_loss)
    # The other feature kinds at the same δ (a derived δ is derived again on each kind's features).
    counts = {kind: int(run_selection(signals, delta, beta, scaling, kind).mask().sum()) for kind in values(Features)}
    return Evaluation(
        delta=selection.delta,
        beta=beta,
        scaling=scaling,
        tail=tail,
        features=features,
        pvalues_kind=pvalues,
        n_candidates=int(selection.candidates.size),
        selected=tuple(int(i) for i in selection.selected),
        selected_neighbours=tuple(int(v) for v in np.sort(selection.neighbours[selection.mask()], kind="stable")),
        count_by_scaling=selection.count_by_scaling(),
        rows=tails[tail],
        rows_without_twins=_rows(p_all[:, pos][:, no_twin], member[:, no_twin], cutoffs),
        n_selected_with_twin=int((~no_twin).sum()),
        tail_comparison=tails,
        rows_by_pvalues={kind: _rows(p[:, pos], member, cutoffs) for kind, p in kinds.items()},
        count_by_features=counts,
        calibrated_by_class=calibrated and by_class(signals, smallest),
        n_calibration=int(signals.calibration.size),
        delta_derived=selection.delta_derived,
        roc=roc_summary(-p_raw, signals.membership),
        calibration=null_fraction(p_raw[non_member], CALIBRATION_ALPHAS),
        calibration_without_twins=null_fraction(p_raw[non_member & ~twin[None, :]], CALIBRATION_ALPHAS),
        calibration_calibrated=null_fraction(kinds["calibrated"][non_member], CALIBRATION_ALPHAS) if calibrated else {},
        calibration_selected={kind: null_fraction(p[:, pos][~member], CALIBRATION_ALPHAS) for kind, p in kinds.items()},
        privacy=privacy_bounds(-p_raw, signals.membership, pos, privacy_delta, pvalues=p_raw),
        exchangeable=exchangeable[0],
        selection=selection,
        pvalues=p_all,
        exchangeable_pvalues=exchangeable[1],
        fdr_member=exchangeable[2],
    )


def leave_one_out_calibration(
    losses: np.ndarray, alphas=CALIBRATION_ALPHAS, tail: str = "gaussian", statistic=None
) -> dict[str, float]:
    """P(p < α) when each model in turn is the target and the others are its references.

    ``losses [M, n]`` must come from models trained alike on data none of which holds the n
    records: then H_out holds exactly and the fraction should be at most α (up to noise). A
    ``statistic`` may transform the target's losses (tests pass a broken one to show this
    check can fail).
    """
    losses = np.asarray(losses, dtype=np.float64)
    m = losses.shape[0]
    calls = {a: 0 for a in alphas}
    for t in range(m):
        refs = np.delete(losses, t, axis=0)
        target = losses[t : t + 1] if statistic is None else statistic(losses[t : t + 1])
        p = direct_test(tail).fit_losses(refs).pvalues_of(target)
        for a in alphas:
            calls[a] += int((p < a).sum())
    return {f"{a:g}": calls[a] / losses.size for a in alphas}
