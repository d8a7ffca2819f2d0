"""Every attack on a user's own model, for several model kinds, beside `compare` on gmia's targets.

scikit-learn's breast_cancer (569 records, 30 numeric features) is written as a CSV with string
labels and audited as a user would: a model of each kind is fitted on a random half of the
paper split's pool (its members known), and `gmia.audit` (exchangeable references, the default)
scores every candidate with every attack. Printed per model kind and attack: ROC AUC, TPR at
FPR <= 1%, the one-run ε lower bound and the audit's wall time; then the same attacks from
`gmia.compare` on gmia's own targets of that data set.

    python benchmarks/audit_attacks.py [--k 50] [--seed 0] [--out FILE.json]

Model kinds: MLP, HistGradientBoosting, RandomForest, a Pipeline (scaler + logistic regression),
LightGBM, XGBoost (when installed) and a torch network (audited as a gmia model file, its
architecture matched).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

import gmia
from gmia.data import paper_split


def write_csv(folder: Path) -> tuple[Path, Path]:
    """breast_cancer as a user's CSV (string labels) and its schema."""
    from sklearn.datasets import load_breast_cancer

    raw = load_breast_cancer(as_frame=True)
    frame = raw.frame.rename(columns=lambda c: c.replace(" ", "_"))
    frame["diagnosis"] = np.where(raw.target == 0, "malignant", "benign")
    frame = frame.drop(columns=["target"])
    csv, schema = folder / "breast_cancer.csv", folder / "breast_cancer.schema.json"
    frame.to_csv(csv, index=False)
    schema.write_text(json.dumps({"label": "diagnosis", "numeric": [c for c in frame.columns if c != "diagnosis"]}))
    return csv, schema


def models(seed: int):
    """(name, unfitted estimator or "torch") of each model kind."""
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    kinds = [("mlp", MLPClassifier((64,), max_iter=500, random_state=seed)),
             ("hist-gradient-boosting", HistGradientBoostingClassifier(max_iter=50, random_state=seed)),
             ("random-forest", RandomForestClassifier(n_estimators=50, random_state=seed)),
             ("pipeline", make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)))]
    try:
        from lightgbm import LGBMClassifier

        kinds.append(("lightgbm", LGBMClassifier(n_estimators=50, random_state=seed, verbose=-1)))
    except ImportError:
        print("lightgbm is not installed: left out")
    try:
        from xgboost import XGBClassifier

        kinds.append(("xgboost", XGBClassifier(n_estimators=50, random_state=seed)))
    except ImportError:
        print("xgboost is not installed: left out")
    kinds.append(("torch", "torch"))
    return kinds


def torch_target(data, members, schema, seed: int):
    """A small torch network fitted on the members, as a gmia model file (its architecture known)."""
    import torch

    from gmia.models.file_format import from_torch

    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(data.x.shape[1], 32), torch.nn.ReLU(), torch.nn.Linear(32, data.n_classes))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    x, y = torch.as_tensor(data.x[members]), torch.as_tensor(data.y[members])
    for _ in range(500):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    return from_torch(net, schema)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=50, help="reference models of the paper's design (selection)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="also write the table as JSON here")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="gmia-audit-attacks-"))
    csv, schema = write_csv(folder)
    data = gmia.load_dataset(csv, schema)
    split = paper_split(data, seed=args.seed)
    members = np.sort(np.random.default_rng(args.seed).permutation(split.pool)[: len(split.pool) // 2])
    table = []
    for name, estimator in models(args.seed):
        target = torch_target(data, members, data.schema, args.seed) if estimator == "torch" else \
            estimator.fit(data.x[members], data.y[members])
        start = time.perf_counter()
        result = gmia.audit(target, data, members=members, k=args.k, seed=args.seed, cache_dir=folder / "cache",
                            progress=False)
        seconds = time.perf_counter() - start
        for attack, a in result.attacks.items():
            table.append({"source": "audit", "model": name, "attack": attack, "auc": a["auc"], "tpr_1pct": a["tpr"]["0.01"],
                          "epsilon": a["epsilon"]["lower_bound"], "seconds": seconds,
                          "references": result.exchangeable["references"],
                          "matched": (result.algorithms or {}).get("match")})
        print(f"{name}: {seconds:.1f} s, {result.exchangeable['references']} exchangeable references, "
              f"matched {(result.algorithms or {}).get('match')}")
    start = time.perf_counter()
    compared = gmia.compare(data, k=args.k, seed=args.seed, cache_dir=folder / "cache", progress=False, n_bootstrap=0)
    seconds = time.perf_counter() - start
    for a in compared.attacks:
        bounds = (a.privacy.get("all") or {}).get("lower_bounds") or {}
        table.append({"source": "compare", "model": "gmia targets", "attack": a.name, "auc": a.roc.auc,
                      "tpr_1pct": a.roc.tpr["0.01"], "epsilon": max(bounds.values()) if bounds else None,
                      "seconds": seconds})
    print(f"{'source':8} {'model':24} {'attack':20} {'AUC':>6} {'TPR@1%':>7} {'eps>=':>6} {'seconds':>8}")
    for row in table:
        eps = "-" if row["epsilon"] is None else f"{row['epsilon']:.3f}"
        print(f"{row['source']:8} {row['model']:24} {row['attack']:20} {row['auc']:6.3f} {row['tpr_1pct']:7.3f} "
              f"{eps:>6} {row['seconds']:8.1f}")
    if args.out:
        Path(args.out).write_text(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
