"""p-values p = F(L): the per-record loop against the vectorised ``ecdf_pvalues`` (issue 18).

What it measures
----------------
GMIA's direct inference gives every (target, record) pair the p-value p = F(L(M, r)), F the
empirical CDF of the record's k reference losses smoothed by PCHIP, with a tail rule below the
smallest reference loss (``gmia.stats.ecdf``). Two ways, timed side by side in one run with
``time.perf_counter``, on the same synthetic losses:

1. ``per-record loop``: one ``gmia.stats.ecdf.ecdf_pvalue`` call per record (one scipy
   ``PchipInterpolator`` each), as ``ecdf_pvalues`` did before issue 18.
2. ``vectorised``: ``gmia.stats.ecdf.ecdf_pvalues`` on all records at once (``gmia.stats.pvalues``, blocks
   of records in numpy).

The losses are shaped like the KDD Census case of ``benchmarks/selection_scale.py`` (default
150,000 records x k = 100 reference models x T = 10 targets): two-class softmax regression, so
L = log(1 + exp(-z)) for a logit margin z in float32 (as the models' logits are) and the loss in
float64, as ``gmia.stats.signals.log_loss`` computes it. Each record has its own difficulty
z_r ~ N(3, 2.5) (most records easy, about one in nine misclassified, like Census's 94% majority
class); a reference model's margin is z_r + N(0, 0.4²); a target's is the same, plus 0.3 for the
half of the pairs where the record is a member (so many member losses fall below every
reference loss, into the tail rule).

With ``--baseline-records M`` (default 5,000) the per-record loop runs on the first M records
only and its time is scaled linearly to all records (the output says so); the loop's cost per
record does not depend on the others. The two outputs are compared on those M records with
``==`` on float64 (bit identity): the count of differing values is printed, and the script exits
with status 1 if it is not 0. The peak of traced memory (``tracemalloc``; numpy reports its
buffers to it) of the vectorised call above the inputs is measured in a separate, untimed call.

The issue's target: the vectorised path >= 50x the per-record loop, with the same bits.

Run: ``.venv/bin/python benchmarks/pvalues.py [--records N] [--baseline-records M] [--tail gaussian pchip zero] [--json out.json]``.
Everything here is single-threaded numpy and scipy; run it with ``OMP_NUM_THREADS=1`` on these
shared 2-core machines and compare ratios, not seconds.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import tracemalloc
from datetime import datetime, timezone

import numpy as np
import scipy

from gmia.stats.ecdf import TAIL_RULES, ecdf_pvalue, ecdf_pvalues


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--records", type=int, default=150_000, help="n, records (default 150000)")
    p.add_argument("--baseline-records", type=int, default=5_000,
                   help="time the per-record loop on this many records and scale linearly to --records (default 5000)")
    p.add_argument("--refs", type=int, default=100, help="k, reference losses per record (default 100)")
    p.add_argument("--targets", type=int, default=10, help="T, target losses per record (default 10)")
    p.add_argument("--tail", nargs="+", choices=TAIL_RULES, default=["gaussian"],
                   help="tail rule(s) to time, one after another (default gaussian)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", metavar="PATH", help="also write the measurements as JSON to PATH")
    args = p.parse_args(argv)
    args.baseline_records = min(args.baseline_records, args.records)
    if args.records < 1 or args.baseline_records < 1 or args.refs < 1 or args.targets < 1:
        p.error("need --records, --baseline-records, --refs and --targets >= 1")
    return args


def census_like_losses(n: int, k: int, t: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Reference losses ``[k, n]`` and target losses ``[t, n]``, float64 from float32 margins."""
    rng = np.random.default_rng(seed)
    difficulty = rng.normal(3.0, 2.5, n).astype(np.float32)
    ref_margin = difficulty + rng.normal(0.0, 0.4, (k, n)).astype(np.float32)
    member = rng.random((t, n)) < 0.5
    tgt_margin = difficulty + rng.normal(0.0, 0.4, (t, n)).astype(np.float32) + np.float32(0.3) * member

    def loss(z):  # logsumexp(z) - z_y for two classes, in float64 as gmia.stats.signals.log_loss
        return np.logaddexp(0.0, -z.astype(np.float64))

    return loss(ref_margin), loss(tgt_margin)


def per_record_loop(reference: np.ndarray, observed: np.ndarray, tail: str) -> np.ndarray:
    """What ``ecdf_pvalues`` did before issue 18."""
    out = np.empty(observed.shape, dtype=np.float64)
    for j in range(reference.shape[1]):
        out[:, j] = ecdf_pvalue(reference[:, j], observed[:, j], tail)
    return out


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def traced_peak_mb(fn) -> float:
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    t_start = time.perf_counter()
    n, m, k, t = args.records, args.baseline_records, args.refs, args.targets
    ref, obs = census_like_losses(n, k, t, args.seed)
    below = obs < ref.min(axis=0)
    log(f"losses: {k} x {n} reference, {t} x {n} target ({below.mean():.1%} of pairs below every reference loss)")

    results = {}
    for tail in args.tail:
        # Untimed warm-up of both paths (imports, scipy's first calls).
        per_record_loop(ref[:, :20], obs[:, :20], tail)
        ecdf_pvalues(ref[:, :20], obs[:, :20], tail)
        log(f"[{tail}] per-record loop: {m} records ...")
        old_sec, old = timed(lambda tail=tail: per_record_loop(ref[:, :m], obs[:, :m], tail))
        log(f"  {old_sec:.2f} s")
        log(f"[{tail}] vectorised: {n} records ...")
        new_sec, new = timed(lambda tail=tail: ecdf_pvalues(ref, obs, tail))
        log(f"  {new_sec:.2f} s")
        peak = traced_peak_mb(lambda tail=tail: ecdf_pvalues(ref, obs, tail))
        both_nan = np.isnan(old) & np.isnan(new[:, :m])
        differ = int(np.sum((old != new[:, :m]) & ~both_nan))
        old_all = old_sec * n / m
        results[tail] = {
            "per_record_seconds": old_sec,
            "per_record_records_timed": m,
            "per_record_seconds_for_all_records": old_all,
            "per_record_scaled": m != n,
            "per_record_ms_per_record": 1e3 * old_sec / m,
            "vectorised_seconds": new_sec,
            "vectorised_us_per_record": 1e6 * new_sec / n,
            "vectorised_traced_peak_mb": peak,
            "speedup": old_all / new_sec,
            "values_compared": int(old.size),
            "values_differing": differ,
            "pairs_below_every_reference_loss": float(below.mean()),
        }
    total = time.perf_counter() - t_start

    print(f"numpy {np.__version__}, scipy {scipy.__version__}, python {platform.python_version()}; single-threaded")
    print(f"Census-like losses: n = {n} records x k = {k} reference losses x T = {t} targets (seed {args.seed}); "
          f"{below.mean():.1%} of the {t * n} pairs below every reference loss of their record")
    print(f"inputs: {(ref.nbytes + obs.nbytes) / 2**20:.0f} MB float64")
    print()
    head = (f"{'tail':<9} {'method':<18} {'records timed':>13} {'seconds':>9} {'per record':>11} "
            f"{'s for all n':>11} {'peak MB':>8}")
    print(head)
    print("-" * len(head))
    for tail, r in results.items():
        print(f"{tail:<9} {'per-record loop':<18} {m:>13} {r['per_record_seconds']:>9.2f} "
              f"{r['per_record_ms_per_record']:>8.3f} ms {r['per_record_seconds_for_all_records']:>11.1f} {'':>8}")
        print(f"{tail:<9} {'vectorised':<18} {n:>13} {r['vectorised_seconds']:>9.2f} "
              f"{r['vectorised_us_per_record']:>8.2f} us {r['vectorised_seconds']:>11.2f} "
              f"{r['vectorised_traced_peak_mb']:>8.0f}")
    print()
    print("peak MB: tracemalloc's peak during the vectorised call (a separate, untimed call), beyond the inputs")
    if m != n:
        print(f"NOTE: the per-record loop was timed on the first {m} records only and scaled linearly to {n} records "
              "('s for all n' is that estimate)")
    ok = True
    for tail, r in results.items():
        print(f"[{tail}] vectorised is {r['speedup']:.0f}x the per-record loop (target >= 50x: "
              f"{'met' if r['speedup'] >= 50 else 'NOT met'}); bit identity on the {m} records both computed: "
              f"{r['values_differing']} of {r['values_compared']} values differ")
        ok &= r["values_differing"] == 0
    print(f"total run time {total:.1f} s")

    result = {
        "date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([sys.executable, *sys.argv]) if argv is None else None,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "python": platform.python_version(),
        "records": n,
        "baseline_records": m,
        "refs": k,
        "targets": t,
        "seed": args.seed,
        "tails": results,
        "target_speedup": 50.0,
        "bit_identical": ok,
        "total_seconds": total,
    }
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)
            fh.write("\n")
    if not ok:
        print("FAILED: the vectorised p-values differ from the per-record ones", file=sys.stderr)
        sys.exit(1)
    return result


if __name__ == "__main__":
    main()
