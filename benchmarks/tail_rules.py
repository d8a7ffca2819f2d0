"""Which tail rule below the smallest reference loss should be the default? Calibration and power
of every rule, raw and calibrated, over seeds and data sets (issue: "choose the default tail
rule on calibration and power measured over seeds and data sets, not on one table").

For each seed it builds (or loads from the cache) the protocol of ``gmia reproduce table1`` with
the data set's preset, then for each tail rule and each kind of p-value reports, pooled over
seeds:

- null: P(p < α) over the protocol's non-member pairs (all pool records × all targets);
- ties: the share of pairs whose p is exactly the smallest value any pair got (ties are never
  split, so they decide TPR at small FPR);
- below: the share of member pairs below every reference loss, and how many of those got
  the same p as the smallest reference loss would (the saturation defect: p stuck at 1/k);
- power: TPR at 0.1% and 1% FPR over all pairs, and TP / FP on the selected records at the
  preset's cutoffs.

Run: ``.venv/bin/python benchmarks/tail_rules.py --dataset cancer --seeds 10`` (models are
trained once and cached, so a second run only evaluates).
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from gmia.api import load_dataset, make_store
from gmia.attacks.direct import GmiaDirect
from gmia.stats.calibration import calibrated_pvalues, per_class
from gmia.experiments.reproduce import ReproduceConfig
from gmia.protocol.run import build_signals
from gmia.stats.roc import roc_summary
from gmia.stats.select import select_vulnerable
from gmia.stats.ecdf import TAIL_RULES


def measure(signals, cfg) -> dict:
    y = signals.dataset.y
    smallest = min(cfg.cutoffs)
    by_class = per_class(y[signals.calibration], signals.dataset.n_classes, smallest)
    pool_f, adv_f = signals.features(cfg.features)
    delta, beta = cfg.settings[0]
    sel = select_vulnerable(pool_f, adv_f, signals.split.pool, delta, beta, signals.n_train, cfg.scaling, cfg.features)
    pos = np.searchsorted(signals.split.pool, sel.selected)
    member = signals.membership
    below = signals.target_loss < signals.reference_loss.min(axis=0)[None, :]
    out = {}
    for rule in TAIL_RULES:
        direct = GmiaDirect(rule).fit_losses(signals.reference_loss)
        raw = direct.pvalues_of(signals.target_loss)
        null = GmiaDirect(rule).fit_losses(signals.calibration_reference_loss).pvalues_of(signals.calibration_target_loss)
        cal = calibrated_pvalues(raw, null, y[signals.split.pool], y[signals.calibration], by_class)
        for kind, p in (("raw", raw), ("calibrated", cal)):
            first = signals.reference_loss.min(axis=0)
            at_first = direct.pvalues_of(first[None, :])[0]
            stuck = below & member & np.isclose(p, at_first[None, :]) if kind == "raw" else np.zeros_like(below)
            roc = roc_summary(-p, member)
            out[f"{rule}/{kind}"] = {
                "null": {f"{a:g}": int((p[~member] < a).sum()) for a in (0.01, 0.05)},
                "n_null": int((~member).sum()),
                "ties_at_min": int((p == p.min()).sum()),
                "members_below": int((below & member).sum()),
                "members_below_stuck": int(stuck.sum()),
                "tpr": {k: float(v) for k, v in roc.tpr.items()},
                "selected": {f"{c:g}": [int(((p[:, pos] < c) & member[:, pos]).sum()),
                                        int(((p[:, pos] < c) & ~member[:, pos]).sum())] for c in cfg.cutoffs},
            }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="cancer")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    data = load_dataset(args.dataset)
    store = make_store()
    cfg = ReproduceConfig.resolve(data.name)
    per_seed = []
    for s in range(args.seeds):
        signals = build_signals(data, cfg.spec, store, k=cfg.k, n_targets=cfg.n_targets, seed=s, pool_size=cfg.pool_size)
        per_seed.append(measure(signals, cfg))
        row = per_seed[-1]
        print(f"seed {s}: " + "; ".join(f"{key} null@0.05 {v['null']['0.05'] / v['n_null']:.3f}" for key, v in row.items()), flush=True)
    print(f"\n{args.dataset}, {args.seeds} seeds pooled (k={cfg.k}, {cfg.n_targets} targets, cutoffs {cfg.cutoffs}):")
    print(f"{'rule/p-value':22} {'null@.01':>9} {'null@.05':>9} {'ties@min':>9} {'below':>7} {'stuck':>6} "
          f"{'TPR@.1%':>8} {'TPR@1%':>7}  selected TP/FP per cutoff")
    for key in per_seed[0]:
        rows = [r[key] for r in per_seed]
        n_null = sum(r["n_null"] for r in rows)
        sel = {c: [sum(r["selected"][c][i] for r in rows) for i in (0, 1)] for c in rows[0]["selected"]}
        print(f"{key:22} {sum(r['null']['0.01'] for r in rows) / n_null:9.4f} {sum(r['null']['0.05'] for r in rows) / n_null:9.4f} "
              f"{sum(r['ties_at_min'] for r in rows):9d} {sum(r['members_below'] for r in rows):7d} "
              f"{sum(r['members_below_stuck'] for r in rows):6d} {np.mean([r['tpr']['0.001'] for r in rows]):8.4f} "
              f"{np.mean([r['tpr']['0.01'] for r in rows]):7.4f}  "
              + ", ".join(f"p<{c}: {tp}/{fp}" for c, (tp, fp) in sel.items()))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(per_seed, fh, indent=1)


if __name__ == "__main__":
    main()
