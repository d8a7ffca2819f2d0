"""Selection and the direct attack at census scale: time and peak memory against N.

What it measures
----------------
KDD Census-Income (299,285 records, 510 encoded features; `gmia data fetch census` first, or
this script fetches it). k reference models (default 100, softmax regression, 500 steps of batch
100; the timing of selection does not depend on how well they are trained) train once on a
bootstrap of the first half of a random permutation; their logits on every record are the
selection features (k·C = 200 dimensions). Then for each N in ``--sizes`` (default 10k, 30k,
100k, 300k): the first N records of the permutation are split in half, pool and adversary, and

- selection: ``select_vulnerable`` on logit features, N/2 pool records against N/2 adversary
  records, in blocks of ``--block-mb`` MB of similarities (gmia's default 256);
- p-values: the direct attack's ECDF + PCHIP p-values of every pool record against T = 10
  targets (``GmiaDirect``), given the reference and target losses;

each timed with ``time.perf_counter`` and with its peak of traced memory (``tracemalloc``: numpy
reports its buffers to it) above what was held before. The process's maximum resident set so
far is printed after loading, after the models, and right after each selection (before the
losses for the p-values, whose float64 temporaries at 300k records raise it further). With ``--index-check`` it also times scikit-learn's ball-tree radius query
(cosine distance < δ as Euclidean distance between unit vectors < sqrt(2δ)) at the two smallest
sizes, and checks it finds the same counts: the "nearest-neighbour index" question.

Run: ``.venv/bin/python benchmarks/selection_scale.py [--sizes 10000,30000,100000,299285] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import torch

from gmia.attacks.direct import GmiaDirect
from gmia.data import load_csv_with_schema
from gmia.data.fetch import fetch_census
from gmia.stats.select import logit_features, select_vulnerable
from gmia.stats.signals import log_loss
from gmia.zoo import TrainSpec, ZooStore
from gmia.base.io import default_cache_dir


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10


def measured(fn):
    tracemalloc.start()
    tracemalloc.reset_peak()
    start = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return out, seconds, peak / 2**20


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,30000,100000,299285")
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--delta", type=float, default=0.1)
    ap.add_argument("--beta", type=float, default=0.1)
    ap.add_argument("--block-mb", type=float, default=256.0)
    ap.add_argument("--cache-dir", type=Path, default=None)
    ap.add_argument("--index-check", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(2)
    root = args.cache_dir or default_cache_dir()
    csv_path, schema_path = fetch_census(root)
    start = time.perf_counter()
    data = load_csv_with_schema(csv_path, schema_path)
    print(f"census: {len(data)} records x {data.x.shape[1]} encoded features, loaded in {time.perf_counter() - start:.1f} s "
          f"(process peak so far {max_rss_mb():.0f} MB)")
    perm = np.random.default_rng(0).permutation(len(data))
    spec = TrainSpec(hidden=(), optimizer="adam", lr=1e-2, steps=500, batch_size=100)
    store = ZooStore(root)
    half = perm[: len(perm) // 2]
    rng = np.random.default_rng(1)
    start = time.perf_counter()
    refs = store.get(data.x, data.y, data.fingerprint(), np.sort(rng.choice(half, (args.k, 10000)), axis=1), spec, 0,
                     data.n_classes, name="census references")
    targets = store.get(data.x, data.y, data.fingerprint(), np.sort(rng.choice(half, (10, 10000)), axis=1), spec, 1,
                        data.n_classes, name="census targets")
    ref_logits = refs.logits(data.x)  # [k, N, C]
    tgt_logits = targets.logits(data.x)
    features = logit_features(ref_logits)
    print(f"{args.k} reference and 10 target models trained (or loaded) and applied in {time.perf_counter() - start:.1f} s; "
          f"features {features.shape} (process peak so far {max_rss_mb():.0f} MB)")
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        idx = perm[:n]
        pool, adversary = np.sort(idx[: n // 2]), np.sort(idx[n // 2 :])
        sel, sel_s, sel_mb = measured(lambda: select_vulnerable(
            features[pool], features[adversary], pool, args.delta, args.beta, n_train=len(pool) // 2,
            max_block_mb=args.block_mb, mode="logits"))
        rss_after_selection = max_rss_mb()
        y = data.y[pool]
        ref_loss, tgt_loss = log_loss(ref_logits[:, pool], y), log_loss(tgt_logits[:, pool], y)
        _, p_s, p_mb = measured(lambda: GmiaDirect().fit(ref_loss).score(tgt_loss))
        row = {"n": n, "pool": len(pool), "adversary": len(adversary), "selected": int(len(sel.selected)),
               "selection_s": sel_s, "selection_peak_mb": sel_mb, "process_peak_after_selection_mb": rss_after_selection,
               "pvalues_s": p_s, "pvalues_peak_mb": p_mb}
        if args.index_check and n <= 30000:
            from sklearn.neighbors import BallTree

            def tree_counts():
                unit = lambda f: f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)  # noqa: E731
                tree = BallTree(unit(features[adversary].astype(np.float64)))
                return tree.query_radius(unit(features[pool].astype(np.float64)), r=np.sqrt(2 * args.delta), count_only=True)

            counts, tree_s, _ = measured(tree_counts)
            row.update(balltree_s=tree_s, balltree_same_counts=bool(np.array_equal(counts, sel.neighbours)),
                       balltree_count_diff=int(np.abs(counts - sel.neighbours).max()))
        rows.append(row)
        print(f"N={n:>7}: selection {sel_s:7.1f} s, peak {sel_mb:7.1f} MB (process {rss_after_selection:.0f} MB), {row['selected']} selected; "
              f"p-values for {len(pool)} records x 10 targets {p_s:6.1f} s, peak {p_mb:6.1f} MB"
              + (f"; ball tree {row['balltree_s']:.1f} s (counts equal: {row['balltree_same_counts']}, max diff "
                 f"{row['balltree_count_diff']})" if "balltree_s" in row else "")
              + f" (process peak so far {max_rss_mb():.0f} MB)", flush=True)
    rss = max_rss_mb()
    print(f"process peak resident memory: {rss:.0f} MB (data, models and logits included)")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "max_rss_mb": rss}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
