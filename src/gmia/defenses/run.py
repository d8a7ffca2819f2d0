"""`gmia defend`: the paper's protocol once per defence setting, utility beside attack success.

For each setting: targets and reference models are trained with the setting's spec; with
``drop-vulnerable`` the selection stage runs first (the provider auditing its own pool as the
adversary would) and no target trains on the records it flags; with an output policy both the
targets' answers and the adversary's reference outputs pass through it before the losses. Then
the direct attack is measured as in `reproduce`: selected records, precision and recall at the
cutoff, and ROC AUC and TPR at low FPR over all pool records × targets; and the ε lower bounds
those p-values prove at the DP δ (`gmia.protocol.evaluate.privacy_bounds`, replace-one: in- and
out-targets both train on N records), beside the accountant's ε for the same relation
(`gmia.defenses.privacy.epsilon_replace_one`), an upper bound: only a proven lower bound above
it (``flagged``) points to a flaw in the accounting or the training.

DP accounting uses the sampling rate the trainer uses: q = batch / N, N the records each target
of the setting trains on (`gmia.protocol.run.target_train_size`). With ``drop-vulnerable`` that N is only known
once the selection stage has flagged records, so the guarantee (and the noise, for a target
epsilon) is computed again at the smaller N before the final targets train.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from gmia.base.result import Result
from gmia.stats.roc import RocSummary
from gmia.data import Dataset, paper_split
from gmia.defenses.config import DefendConfig
from gmia.defenses.settings import Applied, apply, label
from gmia.protocol.evaluate import CutoffRow, evaluate, run_selection
from gmia.privacy.protocol import eps_columns
from gmia.targets.policy import OutputPolicy
from gmia.protocol.run import ProtocolSignals, Timer, build_signals, target_train_size
from gmia.zoo import ZooStore



@dataclass(frozen=True)
class DefenceRow:
    label: str
    setting: dict
    spec: dict
    output: dict
    dp: dict | None
    dropped: int  # records no target trained on (drop-vulnerable)
    n_train: int  # N, the records each target trained on (q = batch / N for DP)
    train_accuracy: float
    test_accuracy: float
    n_selected: int
    tp: int
    fp: int
    precision: float
    precision_ci: tuple[float, float]
    recall: float
    roc: RocSummary  # over all pool records × targets
    seconds: float
    # The same attack on the records the undefended protocol selects: a fixed set across
    # settings, so a defence that empties the selection is still measured.
    baseline_records: dict = field(default_factory=dict)
    # ε lower bounds at the run's DP δ: "all" pool records × targets, the "selected" records'
    # (None: too few pairs, e.g. none selected); `gmia.protocol.evaluate.privacy_bounds`.
    privacy: dict = field(default_factory=dict)


@dataclass(frozen=True)
class DefendResult(Result):
    dataset: str
    config: dict
    rows: tuple[DefenceRow, ...]
    warnings: tuple[str, ...] = field(default=())

    def to_frame(self) -> pd.DataFrame:
        """One row per setting: utility (target accuracy) beside the attack's success, and the
        accountant's ε (an upper bound) beside the ε lower bounds the attack proves (``eps_lower_*``)."""
        return pd.DataFrame([{
            "setting": r.label, "epsilon": (r.dp or {}).get("epsilon"),
            "epsilon_replace_one": (r.dp or {}).get("epsilon_replace_one"), **eps_columns(r.privacy),
            "train_accuracy": r.train_accuracy,
            "test_accuracy": r.test_accuracy, "n_selected": r.n_selected, "tp": r.tp, "fp": r.fp,
            "precision": r.precision, "recall": r.recall, "auc": r.roc.auc,
            "tpr_at_fpr_0.001": r.roc.tpr.get("0.001"), "dropped": r.dropped, "n_train": r.n_train,
            "baseline_tp": r.baseline_records.get("tp"), "baseline_fp": r.baseline_records.get("fp"),
        } for r in self.rows])

    def summary(self) -> str:
        lines = [f"Defences on {self.dataset}, GMIA at delta={self.config['delta']:g}, beta={self.config['beta']:g}, "
                 f"p < {self.config['cutoff']:g}:"]
        for r in self.to_frame().itertuples():
            accountant = ("" if r.epsilon is None or math.isnan(r.epsilon) else
                          f" (accountant: epsilon <= {_num(r.epsilon_replace_one)} replace-one, {r.epsilon:.3g} add/remove)")
            lines.append(f"  {r.setting}: test accuracy {r.test_accuracy:.3f}, {r.n_selected} records selected, "
                         f"TP {r.tp} FP {r.fp}, AUC {r.auc:.3f}; replace-one epsilon >= {_num(r.eps_lower_cp)} (CP, all pairs), "
                         f">= {_num(r.eps_lower_cp_selected)} (CP, selected), >= {_num(r.eps_lower_per_record)} (per record); "
                         f"GDP estimate {_num(r.eps_gdp_estimate)}{accountant}")
        lines += [f"  FLAG {f}" for f in self.flagged()]
        return "\n".join([*lines, *(f"warning: {w}" for w in self.warnings)])

    def flagged(self) -> list[str]:
        """Like-for-like excesses only: a proven replace-one lower bound above the accountant's
        replace-one ε (a Gaussian estimate or an add/remove ε never raises one)."""
        return [excess for r in self.rows for excess in flags(r.label, r.dp, r.privacy)]


def flags(label: str, dp: dict | None, privacy: dict) -> list[str]:
    """One sentence per proven lower bound of ``privacy`` above ``dp``'s replace-one ε."""
    limit = (dp or {}).get("epsilon_replace_one")
    if limit is None or math.isinf(limit):
        return []
    return [f"{label}: {name} lower bound {eps:.3f} exceeds the accountant's replace-one epsilon {limit:.3f}: "
            "the training is not as private as accounted" for name, eps in privacy.get("lower_bounds", {}).items() if eps > limit]


def _num(v: float | None) -> str:
    return "none" if v is None or math.isnan(v) else f"{v:.3f}"


def perturb_outputs(signals: ProtocolSignals, policy: OutputPolicy) -> None:
    """Losses as the adversary sees them through the API's output policy, on both sides."""
    y = signals.dataset.y[signals.split.pool]
    signals.reference_loss = policy.losses(signals.reference_logits[:, signals.split.pool], y)
    signals.target_loss = policy.losses(signals.target_logits, y)
    y_cal = signals.dataset.y[signals.calibration]
    signals.calibration_reference_loss = policy.losses(signals.reference_logits[:, signals.calibration], y_cal)
    signals.calibration_target_loss = policy.losses(signals.calibration_target_logits, y_cal)


def run_defend(dataset: Dataset, store: ZooStore, cfg: DefendConfig, progress=None, on_stage=None) -> DefendResult:
    """Measure every setting of ``cfg.settings`` with the paper's protocol (see the module docstring)."""
    spec, settings, k, n_targets, seed = cfg.spec, cfg.settings, cfg.k, cfg.n_targets, cfg.seed
    delta, beta, cutoff, scaling, tail, features = cfg.delta, cfg.beta, cfg.cutoff, cfg.scaling, cfg.tail, cfg.features
    pool_size, chunk_size, dp_clip, dp_delta, accountant = cfg.pool_size, cfg.chunk_size, cfg.dp_clip, cfg.dp_delta, cfg.accountant
    stage = on_stage or (lambda text: None)
    n_train = target_train_size(paper_split(dataset, pool_size=pool_size, seed=seed).pool)

    def make(setting: dict, n: int) -> Applied:
        return apply(setting, spec, n, clip=dp_clip, delta=dp_delta, accountant=accountant)

    # Every setting is checked (and DP noise found) before any training starts; a drop-vulnerable
    # setting's DP is accounted again at its smaller N once the records to drop are known.
    applied = [make(s, n_train) for s in settings]
    for w in dict.fromkeys(w for a in applied for w in a.warnings):
        stage(f"warning: {w}")
    stage("the undefended protocol, for the baseline records")
    common = dict(k=k, n_targets=n_targets, seed=seed, pool_size=pool_size, chunk_size=chunk_size, progress=progress,
                  calibration_size=cfg.calibration_size)
    first = run_selection(build_signals(dataset, spec, store, **common), delta, beta, scaling, features)
    baseline = first.selected
    rows, trained, shown = [], [], {w for a in applied for w in a.warnings}
    for i, a in enumerate(applied, 1):
        stage(f"setting {i}/{len(applied)}: {a.label}" + (f"; {a.dp.describe()}" if a.dp else ""))
        row, final = _measure(dataset, a, store, common, delta, beta, cutoff, scaling, tail, features, cfg.pvalues, baseline,
                              lambda n, s=a.setting: make(s, n), stage, dp_delta)
        rows.append(row)
        trained.append(final)
        for w in (w for w in final.warnings if w not in shown):
            shown.add(w)
            stage(f"warning: {w}")
    warnings = tuple(dict.fromkeys(w for a in trained for w in a.warnings))
    # A derived δ is derived again in each setting's protocol (its references may differ); the undefended one is shown.
    config = {"k": k, "n_targets": n_targets, "seed": seed, "delta": first.delta, "delta_derived": first.delta_derived,
              "beta": beta, "cutoff": cutoff, "pvalues": cfg.pvalues,
              "scaling": scaling, "tail": tail, "features": features, "dp_clip": dp_clip, "dp_delta": dp_delta,
              "accountant": accountant, "spec": spec.model_dump(mode="json"), "n_train": n_train,
              "n_records": len(dataset), "n_features": int(dataset.x.shape[1]),
              "settings": [label(s) for s in settings]}
    return DefendResult(dataset=dataset.name, config=config, rows=tuple(rows), warnings=warnings)


def _measure(dataset, a: Applied, store, common: dict, delta, beta, cutoff, scaling, tail, features, pvalues,
             baseline: np.ndarray, reapply, stage, dp_delta: float) -> tuple[DefenceRow, Applied]:
    """One setting's row, and the setting as its final targets trained (``reapply(N)``: the
    setting at training-set size N; a drop-vulnerable setting trains on fewer records)."""
    timer = Timer()
    common = {**common, "timer": timer}
    signals = build_signals(dataset, a.spec, store, **common)
    dropped = 0
    if a.drop_vulnerable:
        # The provider's own audit above trained at the full N; its targets then train without
        # the flagged records, so at a smaller N and a larger q.
        flagged = run_selection(signals, delta, beta, scaling, features).selected
        dropped = len(flagged)
        n = target_train_size(signals.split.pool, flagged)
        if n != a.n_train:
            a = reapply(n)
            if a.dp:
                stage(f"  N={n} without the {dropped} flagged record(s): {a.dp.describe()}")
        signals = build_signals(dataset, a.spec, store, exclude=flagged, **common)
    if signals.n_train != a.n_train:
        raise RuntimeError(f"setting {a.label}: the targets trained on N={signals.n_train} records but the privacy "
                           f"accountant was given N={a.n_train}; gmia.protocol.run.target_train_size no longer follows build_signals")
    if not a.policy.is_identity:
        perturb_outputs(signals, a.policy)
    # The bounds at the accountant's δ, so the two ε are comparable (without DP too: the same δ throughout).
    ev = evaluate(signals, delta, beta, cutoffs=(cutoff,), scaling=scaling, tail=tail, features=features, pvalues=pvalues,
                  privacy_delta=dp_delta)
    row = ev.rows[0]
    pos = np.searchsorted(signals.split.pool, baseline)
    fixed = CutoffRow.from_calls(ev.pvalues[:, pos] < cutoff, signals.membership[:, pos], cutoff)
    return DefenceRow(
        label=a.label, setting={key: (None if isinstance(v, float) and math.isinf(v) else v) for key, v in a.setting.items()},
        spec=a.spec.model_dump(mode="json"), output=a.policy.to_dict(), dp=asdict(a.dp) if a.dp else None, dropped=dropped,
        n_train=signals.n_train,
        train_accuracy=signals.accuracies["target_train"], test_accuracy=signals.accuracies["target_test"],
        n_selected=len(ev.selected), tp=row.tp, fp=row.fp, precision=row.precision, precision_ci=row.precision_ci,
        recall=row.recall, roc=ev.roc, seconds=sum(timer.seconds.values()),
        baseline_records={"n": len(baseline), **asdict(fixed)}, privacy=ev.privacy,
    ), a
