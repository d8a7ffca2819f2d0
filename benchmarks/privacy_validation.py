"""Every number gmia calls an ε lower bound, checked where the true ε is known.

Not a speed benchmark: a validation sweep whose tables go in docs/privacy.md ("Validation").

1. Known mechanisms (`gmia.privacy.validation.mechanism_draws`): randomised response, Laplace and
   Gaussian noise on one bit at true ε in {0.5, 1, 2, 4}, δ = 1e-5; each draw bounds 2,000 member
   and 2,000 non-member scores (pairs) and 1,000 canaries with independent coins (one run). For
   each figure: the fraction of draws above the true ε and the median figure. Lower bounds must
   stay at or under 5% (plus three Monte-Carlo standard errors); the Gaussian-curve figures are
   estimates and shown to exceed off a Gaussian curve.
2. The protocol's dependence (`gmia.privacy.validation.protocol_draws`): 50 repeats of
   complementary targets whose runs vary in confidence and memorisation; pairs as independent
   trials (before) against repeats as units and the exact per-record bound (after).

Run: `.venv/bin/python benchmarks/privacy_validation.py [--draws 200] [--json out.json]`
(two worker processes, one thread each; about 10 minutes at 200 draws on two cores).
"""

from __future__ import annotations

import argparse
import json
import os
from concurrent.futures import ProcessPoolExecutor

os.environ.setdefault("OMP_NUM_THREADS", "1")

from gmia.privacy.validation import MECHANISMS, ProtocolSetting, mechanism_draws, protocol_draws, true_epsilon  # noqa: E402

EPSILONS = (0.5, 1.0, 2.0, 4.0)
DELTA, CONFIDENCE = 1e-5, 0.95
PROTOCOLS = {
    "Cancer-sized (200 records)": ProtocolSetting(records=200),
    "Adult-sized (2,000 records)": ProtocolSetting(records=2000),
    "Adult-sized, runs vary twice as much": ProtocolSetting(records=2000, run_sd=1.0, member_sd=1.0),
    "Cancer-sized, a few records leak much": ProtocolSetting(records=200, leak=1.0, leak_sd=2.0),
}


def mechanism_case(args):
    mechanism, epsilon, draws, seed = args
    return mechanism, epsilon, [e.__dict__ for e in mechanism_draws(mechanism, epsilon, draws, delta=DELTA,
                                                                     confidence=CONFIDENCE, seed=seed)]


def protocol_case(args):
    name, draws, seed = args
    return name, [e.__dict__ for e in protocol_draws(PROTOCOLS[name], draws, delta=DELTA, confidence=CONFIDENCE, seed=seed)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args()
    cases = [(m, e, args.draws, 1000 * i + j) for i, m in enumerate(MECHANISMS) for j, e in enumerate(EPSILONS)]
    with ProcessPoolExecutor(2) as pool:
        mechanisms = list(pool.map(mechanism_case, cases))
        protocols = list(pool.map(protocol_case, [(name, args.draws, i) for i, name in enumerate(PROTOCOLS)]))
    limit = 0.05 + 3 * (0.05 * 0.95 / args.draws) ** 0.5
    print(f"## Known mechanisms: {args.draws} draws each, delta={DELTA:g}, {CONFIDENCE:.0%} confidence "
          f"(a lower bound stays under {limit:.1%}: 5% plus three Monte-Carlo standard errors)\n")
    print("| mechanism | ε | true ε at δ | figure | kind | draws above the true ε | median figure |")
    print("|---|---|---|---|---|---|---|")
    for mechanism, epsilon, rows in mechanisms:
        for r in rows:
            flag = " **over**" if r["kind"] == "lower bound" and r["above"] / r["draws"] > limit else ""
            print(f"| {mechanism} | {epsilon:g} | {true_epsilon(mechanism, epsilon, DELTA):.3f} | {r['figure']} | {r['kind']} | "
                  f"{r['above'] / r['draws']:.1%}{flag} | {r['median']:.3f} |")
    print(f"\n## The protocol's dependence: 50 repeats (100 targets), {args.draws} simulated runs each\n")
    print("| setting | bound | draws above the estimand | median bound |")
    print("|---|---|---|---|")
    for name, rows in protocols:
        for r in rows:
            print(f"| {name} | {r['figure']} | {r['above'] / r['draws']:.1%} | {r['median']:.3f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"draws": args.draws, "delta": DELTA, "confidence": CONFIDENCE,
                       "mechanisms": [{"mechanism": m, "epsilon": e, "true_epsilon": true_epsilon(m, e, DELTA), "figures": rows}
                                      for m, e, rows in mechanisms],
                       "protocol": [{"setting": n, "figures": rows} for n, rows in protocols]}, f, indent=1)


if __name__ == "__main__":
    main()
