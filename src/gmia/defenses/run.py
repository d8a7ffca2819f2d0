"""`gmia defend`: the paper's protocol once per defence setting, utility beside attack success.

For each setting: targets and reference models are trained with the setting's spec; with
``drop-vulnerable`` the selection stage runs first (the provider auditing its own pool as the
adversary would) and no target trains on the records it flags; with an output policy both the
targets' answers and the adversary's reference outputs pass through it before the losses. Then
the direct attack is measured as in `reproduce`: selected records, precision and recall at the
cutoff, and ROC AUC and TPR at low FPR over all pool records × targets.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from gmia.attacks.direct import check_cutoff
from gmia.data import Dataset, paper_split
from gmia.defenses.settings import Applied, apply, label
from gmia.evaluate import CutoffRow, evaluate, pool_pvalues, run_selection
from gmia.outputs import OutputPolicy
from gmia.protocol import ProtocolSignals, Timer, build_signals
from gmia.select import check_thresholds
from gmia.zoo import TrainSpec, ZooStore

RESULT_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class DefenceRow:
    label: str
    setting: dict
    spec: dict
    output: dict
    dp: dict | None
    dropped: int  # records no target trained on (drop-vulnerable)
    train_accuracy: float
    test_accuracy: float
    n_selected: int
    tp: int
    fp: int
    precision: float
    precision_ci: tuple[float, float]
    recall: float
    roc: dict  # auc, tpr_at_fpr_0.001, tpr_at_fpr_0.01 over all pool records × targets
    seconds: float
    # The same attack on the records the undefended protocol selects: a fixed set across
    # settings, so a defence that empties the selection is still measured.
    baseline_records: dict = field(default_factory=dict)


@dataclass(frozen=True)
class DefendResult:
    dataset: str
    config: dict
    rows: tuple[DefenceRow, ...]
    warnings: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict:
        return {"schema_version": RESULT_SCHEMA_VERSION, **asdict(self)}


def perturb_outputs(signals: ProtocolSignals, policy: OutputPolicy) -> None:
    """Losses as the adversary sees them through the API's output policy, on both sides."""
    y = signals.dataset.y[signals.split.pool]
    signals.reference_loss = policy.losses(signals.reference_logits[:, signals.split.pool], y)
    signals.target_loss = policy.losses(signals.target_logits, y)


def run_defend(
    dataset: Dataset, spec: TrainSpec, store: ZooStore, settings: list[dict], *, k: int = 100, n_targets: int = 100,
    seed: int = 0, delta: float = 0.1, beta: float = 0.1, cutoff: float = 0.01, scaling: str = "n_over_nprime",
    tail: str = "pchip", features: str = "logits", pool_size: int | None = None, chunk_size: int = 100,
    dp_clip: float = 1.0, dp_delta: float = 1e-5, accountant: str = "rdp", progress=None, on_stage=None,
) -> DefendResult:
    check_cutoff(cutoff)
    check_thresholds(delta, beta)
    stage = on_stage or (lambda text: None)
    n_train = len(paper_split(dataset, pool_size=pool_size, seed=seed).pool) // 2
    # Every setting is checked (and DP noise found) before any training starts.
    applied = [apply(s, spec, n_train, clip=dp_clip, delta=dp_delta, accountant=accountant) for s in settings]
    warnings = tuple(w for a in applied for w in a.warnings)
    for w in warnings:
        stage(f"warning: {w}")
    stage("the undefended protocol, for the baseline records")
    common = dict(k=k, n_targets=n_targets, seed=seed, pool_size=pool_size, chunk_size=chunk_size, progress=progress)
    baseline = run_selection(build_signals(dataset, spec, store, **common), delta, beta, scaling, features).selected
    rows = []
    for i, a in enumerate(applied, 1):
        stage(f"setting {i}/{len(applied)}: {a.label}" + (f"; {a.dp.describe()}" if a.dp else ""))
        rows.append(_measure(dataset, a, store, common, delta, beta, cutoff, scaling, tail, features, baseline))
    config = {"k": k, "n_targets": n_targets, "seed": seed, "delta": delta, "beta": beta, "cutoff": cutoff,
              "scaling": scaling, "tail": tail, "features": features, "dp_clip": dp_clip, "dp_delta": dp_delta,
              "accountant": accountant, "spec": spec.model_dump(mode="json"), "n_train": n_train,
              "n_records": len(dataset), "n_features": int(dataset.x.shape[1]),
              "settings": [label(s) for s in settings]}
    return DefendResult(dataset=dataset.name, config=config, rows=tuple(rows), warnings=warnings)


def _measure(dataset, a: Applied, store, common: dict, delta, beta, cutoff, scaling, tail, features,
             baseline: np.ndarray) -> DefenceRow:
    timer = Timer()
    common = {**common, "timer": timer}
    signals = build_signals(dataset, a.spec, store, **common)
    dropped = 0
    if a.drop_vulnerable:
        flagged = run_selection(signals, delta, beta, scaling, features).selected
        dropped = len(flagged)
        signals = build_signals(dataset, a.spec, store, exclude=flagged, **common)
    if not a.policy.is_identity:
        perturb_outputs(signals, a.policy)
    ev = evaluate(signals, delta, beta, cutoffs=(cutoff,), scaling=scaling, tail=tail, features=features)
    row = ev.rows[0]
    pos = np.searchsorted(signals.split.pool, baseline)
    fixed = CutoffRow.from_calls(pool_pvalues(signals, tail)[:, pos] < cutoff, signals.membership[:, pos], cutoff)
    return DefenceRow(
        label=a.label, setting={key: (None if isinstance(v, float) and math.isinf(v) else v) for key, v in a.setting.items()},
        spec=a.spec.model_dump(mode="json"), output=a.policy.to_dict(), dp=asdict(a.dp) if a.dp else None, dropped=dropped,
        train_accuracy=signals.accuracies["target_train"], test_accuracy=signals.accuracies["target_test"],
        n_selected=len(ev.selected), tp=row.tp, fp=row.fp, precision=row.precision, precision_ci=row.precision_ci,
        recall=row.recall, roc=ev.roc, seconds=sum(timer.seconds.values()),
        baseline_records={"n": len(baseline), **asdict(fixed)},
    )
