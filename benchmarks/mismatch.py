"""A scikit-learn MLPClassifier(64, 64) audited with mismatched and with matched reference models.

The case of issue 15: a user's MLP, audited as a black box, got the preset's softmax-regression
references, and its member calls were often false. Here the same target, trained on one half of
the data set's pool (the paper's split), is audited three ways on the same records (selection on
raw features, which does not depend on the references):

- mismatched: the target as a bare predict_proba (what an HTTP target gets): the preset's stack;
- architecture: the target converted to a gmia model file: a gmia stack with its architecture
  (64, 64) relu, trained with the preset's settings (the file does not record the MLP's);
- matched: the fitted estimator itself: references are clones of it (gmia.auditing.matching).

For each: member calls and false calls at the cutoff, against the known training rows, with the
audit's calibrated p-values (its verdicts) and with the paper's raw p-values.

    python benchmarks/mismatch.py [--dataset cancer] [--k 100] [--seed 0] [--delta D --beta B]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

import gmia
from gmia.data import paper_split
from gmia.models.file_format import from_sklearn


class BareTarget:
    """Only predict_proba: the target says nothing of how it was trained."""

    def __init__(self, model):
        self.model_ = model

    def predict_proba(self, x):
        return self.model_.predict_proba(x)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="cancer")
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--max-records", type=int, default=None)
    ap.add_argument("--delta", type=float, default=None, help="δ on raw features (default: derived from the data)")
    ap.add_argument("--beta", type=float, default=None, help="β (default: the preset's)")
    args = ap.parse_args()
    from sklearn.neural_network import MLPClassifier

    data = gmia.load_dataset(args.dataset)
    split = paper_split(data, seed=args.seed)
    members = np.sort(np.random.default_rng(args.seed).permutation(split.pool)[: len(split.pool) // 2])
    target = MLPClassifier((64, 64), random_state=args.seed, max_iter=500).fit(data.x[members], data.y[members])
    cache = args.cache_dir or tempfile.mkdtemp(prefix="gmia-mismatch-")
    kw = dict(k=args.k, seed=args.seed, members=members, cache_dir=cache, progress=False, max_records=args.max_records,
              delta=args.delta, beta=args.beta)
    rows = []
    for name, tgt in (("mismatched (preset stack)", BareTarget(target)),
                      ("architecture (model file)", from_sklearn(target, data.schema)),
                      ("matched (clones of the MLP)", target)):
        start = time.perf_counter()
        result = gmia.audit(tgt, data, **kw)
        seconds = time.perf_counter() - start
        cutoff = result.config["cutoff"]
        calls = [r for r in result.records if r["verdict"] == "member"]
        raw = [r for r in result.records if r["p_raw"] < cutoff]
        rows.append((name, result.n_selected, result.n_tested, len(calls), sum(not r["member"] for r in calls), len(raw),
                     sum(not r["member"] for r in raw), sum(r["member"] for r in result.records), seconds,
                     result.algorithms["references"]))
    print(f"{args.dataset}: target MLPClassifier(64, 64) on {len(members)} pool records (seed {args.seed}); "
          f"k={args.k} references each; cutoff {result.config['cutoff']:g} on {result.config['pvalues']} p-values")
    print(f"{'references':<30} {'selected':>8} {'tested':>6} {'calls (calibrated)':>18} {'false':>5} {'calls (raw p)':>13} "
          f"{'false':>5} {'members tested':>14} {'seconds':>8}")
    for name, sel, tested, calls, false, raw, raw_false, mem, sec, _ in rows:
        print(f"{name:<30} {sel:>8} {tested:>6} {calls:>18} {false:>5} {raw:>13} {raw_false:>5} {mem:>14} {sec:>8.1f}")
    from gmia.algorithms.base import describe_text

    for name, *_, refs in rows:
        print(f"  {name}: {describe_text(refs)}")


if __name__ == "__main__":
    main()
