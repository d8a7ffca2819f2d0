"""gmia.privacy against jax_privacy's auditing module: the largest absolute difference in ε.

Not a speed benchmark: an agreement sweep, larger than the unit tests' cases, whose one figure per
estimator goes in the docs. jax_privacy/auditing.py is loaded on its own (requirements-oracles.txt
installs it without jax). Cases:

- Clopper-Pearson at fixed thresholds: two Gaussians N(μ, 1) against N(0, 1), μ in {0.5, 1, 2, 3},
  n in {100, 1000, 10000} per side, 5 thresholds each (the 50th-99.9th percentiles of all
  scores), δ in {0, 1e-5, 1e-2};
- Gaussian DP: the same score sets, jax's thresholds and Bonferroni-corrected rates read through
  our μ and our μ → ε, against its `epsilon_from_gdp`. jax takes |Φ⁻¹(1 − FPR_hi) − Φ⁻¹(FNR_hi)|:
  where that expression is negative (FPR_hi + FNR_hi > 1, the test reversed) its absolute value
  uses upper bounds where the reversed test needs lower ones, and overstates μ. gmia floors it at
  0. Those cases are counted apart, with jax's ε beside the true ε of the two Gaussians;
- one run (Steinke et al., and the f-DP audit at δ > 0): m in {100, 1000, 10000}, r in
  {10, 100, 1000} (r <= m), v from r/2 + 1 to r in 8 steps, δ in {0, 1e-5}, α = 0.05/12.

Run: `.venv/bin/python benchmarks/privacy_agreement.py`
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
from scipy import stats

from gmia.privacy import bounds, one_run


def jax_auditing():
    found = importlib.util.find_spec("jax_privacy")
    if found is None:
        sys.exit("jax-privacy is not installed: pip install --no-deps -r requirements-oracles.txt")
    spec = importlib.util.spec_from_file_location("jax_privacy_auditing", Path(found.submodule_search_locations[0]) / "auditing.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    jp = jax_auditing()
    worst = {"clopper-pearson": 0.0, "gaussian-dp": 0.0, "one-run (Steinke)": 0.0, "one-run (f-DP)": 0.0}
    cases = dict.fromkeys(worst, 0)
    reversed_cases = []
    for mu in (0.5, 1.0, 2.0, 3.0):
        for n in (100, 1000, 10_000):
            rng = np.random.default_rng(int(mu * 10) + n)
            member, nonmember = rng.normal(mu, 1, n), rng.normal(0, 1, n)
            auditor = jp.CanaryScoreAuditor(member, nonmember)
            for delta in (0.0, 1e-5, 1e-2):
                for t in np.quantile(np.concatenate([member, nonmember]), [0.5, 0.9, 0.99, 0.995, 0.999]):
                    theirs = auditor.epsilon_clopper_pearson(0.05, delta, one_sided=False, threshold_strategy=jp.Explicit(float(t)))
                    ours = bounds.cp_at_threshold(member, nonmember, float(t), delta, 0.95)
                    worst["clopper-pearson"] = max(worst["clopper-pearson"], abs(ours - theirs))
                    cases["clopper-pearson"] += 1
                if delta > 0:
                    _, tn, fn = jp._get_tn_fn_counts(member, nonmember)
                    g = 2 * len(fn)
                    fnr_hi = jp._clopper_pearson_upper(fn, n, 0.05 / g)
                    fpr_hi = jp._clopper_pearson_upper(n - tn, n, 0.05 / g)
                    keep = np.maximum(fnr_hi, fpr_hi) < 1 - delta
                    signed = stats.norm.isf(fpr_hi[keep]) - stats.norm.ppf(fnr_hi[keep])
                    ours = bounds.gdp_epsilon(float(bounds.gdp_mu(1 - fnr_hi[keep], fpr_hi[keep]).max()), delta)
                    theirs = auditor.epsilon_from_gdp(0.05, delta)
                    if -signed.min() > signed.max():  # jax's |μ| comes from the reversed test
                        reversed_cases.append((mu, n, delta, ours, theirs, bounds.gdp_epsilon(mu, delta)))
                        continue
                    worst["gaussian-dp"] = max(worst["gaussian-dp"], abs(ours - theirs))
                    cases["gaussian-dp"] += 1
    alpha = 0.05 / 12
    for m in (100, 1000, 10_000):
        for r in (10, 100, 1000):
            if r > m:
                continue
            for v in np.unique(np.linspace(r // 2 + 1, r, 8).astype(int)):
                for delta in (0.0, 1e-5):
                    a = one_run.steinke_epsilon(m, r, int(v), alpha, delta)
                    worst["one-run (Steinke)"] = max(worst["one-run (Steinke)"], abs(a - jp._epsilon_one_run(0, m, r, int(v), alpha, delta)))
                    cases["one-run (Steinke)"] += 1
                    if delta > 0:
                        b = one_run.fdp_epsilon(m, r, int(v), alpha, delta)
                        worst["one-run (f-DP)"] = max(worst["one-run (f-DP)"], abs(b - jp._epsilon_one_run_fdp(0, m, r, int(v), alpha, delta)))
                        cases["one-run (f-DP)"] += 1
    print("largest |epsilon(gmia) - epsilon(jax_privacy)| per estimator:")
    for name, value in worst.items():
        print(f"  {name:18} {value:.2e} over {cases[name]} cases")
    print(f"Gaussian DP where jax's |mu| comes from the reversed test ({len(reversed_cases)} cases, left out above):")
    for mu, n, delta, ours, theirs, true in reversed_cases:
        print(f"  mu={mu:g}, n={n} per side, delta={delta:g}: gmia {ours:.3f}, jax_privacy {theirs:.3f}, true epsilon {true:.3f}"
              + ("  <- jax above the truth" if theirs > true else ""))


if __name__ == "__main__":
    main()
