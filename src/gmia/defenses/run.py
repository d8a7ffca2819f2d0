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
import pandas as pd

from gmia.data import Dataset, paper_split
from gmia.defenses.config import DefendConfig
from gmia.defenses.settings import Applied, apply, label
from gmia.evaluate import CutoffRow, evaluate, pool_pvalues, run_selection
from gmia.outputs import OutputPolicy
from gmia.protocol import ProtocolSignals, Timer, build_signals
from gmia.zoo import ZooStore

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

    def to_frame(self) -> pd.DataFrame:
        """One row per setting: utility (target accuracy) beside the attack's success."""
        return pd.DataFrame([{
            "setting": r.label, "epsilon": (r.dp or {}).get("epsilon"), "train_accuracy": r.train_accuracy,
            "test_accuracy": r.test_accuracy, "n_selected": r.n_selected, "tp": r.tp, "fp": r.fp,
            "precision": r.precision, "recall": r.recall, "auc": r.roc.get("auc"),
            "tpr_at_fpr_0.001": r.roc.get("tpr_at_fpr_0.001"), "dropped": r.dropped,
            "baseline_tp": r.baseline_records.get("tp"), "baseline_fp": r.baseline_records.get("fp"),
        } for r in self.rows])

    def summary(self) -> str:
        lines = [f"Defences on {self.dataset}, GMIA at delta={self.config['delta']:g}, beta={self.config['beta']:g}, "
                 f"p < {self.config['cutoff']:g}:"]
        for r in self.to_frame().itertuples():
            lines.append(f"  {r.setting}: test accuracy {r.test_accuracy:.3f}, {r.n_selected} records selected, "
                         f"TP {r.tp} FP {r.fp}, AUC {r.auc:.3f}")
        return "\n".join([*lines, *(f"warning: {w}" for w in self.warnings)])


def perturb_outputs(signals: ProtocolSignals, policy: OutputPolicy) -> None:
    """Losses as the adversary sees them through the API's output policy, on both sides."""
    y = signals.dataset.y[signals.split.pool]
    signals.reference_loss = policy.losses(signals.reference_logits[:, signals.split.pool], y)
    signals.target_loss = policy.losses(signals.target_logits, y)


def run_defend(dataset: Dataset, store: ZooStore, cfg: DefendConfig, progress=None, on_stage=None) -> DefendResult:
    """Measure every setting of ``cfg.settings`` with the paper's protocol (see the module docstring)."""
    spec, settings, k, n_targets, seed = cfg.spec, cfg.settings, cfg.k, cfg.n_targets, cfg.seed
    delta, beta, cutoff, scaling, tail, features = cfg.delta, cfg.beta, cfg.cutoff, cfg.scaling, cfg.tail, cfg.features
    pool_size, chunk_size, dp_clip, dp_delta, accountant = cfg.pool_size, cfg.chunk_size, cfg.dp_clip, cfg.dp_delta, cfg.accountant
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
