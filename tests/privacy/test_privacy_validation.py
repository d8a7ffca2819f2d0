"""Every number called an ε lower bound holds where the truth is known (a small version of
benchmarks/privacy_validation.py), the protocol's dependence is counted, and each check can fail:
the Gaussian-curve estimates and the pairs-as-trials bound exceed their truth where they should."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gmia.base.errors import GmiaError
from gmia.privacy import (ADD_REMOVE, REPLACE_ONE, epsilon_bounds, one_run_bound, record_bounds, repeat_bounds,
                          repeats_of)
from gmia.privacy.bounds import cp_epsilon, fpr_upper, tpr_lower
from gmia.privacy.clustered import design_effect
from gmia.privacy.validation import (MECHANISMS, ProtocolSetting, mechanism_draws, protocol_draws, release,
                                     true_epsilon)

DRAWS = 60


def by_name(rows):
    return {r.figure: r for r in rows}


@pytest.mark.slow
@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_clopper_pearson_holds_on_every_mechanism_and_gdp_only_on_the_gaussian(mechanism):
    rows = by_name(mechanism_draws(mechanism, 2.0, DRAWS, n=500, one_run=False, seed=7))
    cp, gdp = rows["clopper_pearson"], rows["gdp"]
    assert cp.kind == "lower bound" and gdp.kind == "estimate"
    assert cp.rate <= cp.limit(0.05), cp
    assert cp.median > 0  # the bound is not vacuous
    if mechanism == "gaussian":
        assert gdp.rate <= gdp.limit(0.05), gdp
    else:  # off a Gaussian curve the GDP figure exceeds the true ε in most draws: an estimate, not a bound
        assert gdp.rate > 0.5, gdp


@pytest.mark.slow
def test_steinke_holds_off_a_gaussian_curve_and_the_fdp_estimate_does_not():
    rows = by_name(mechanism_draws("randomised-response", 2.0, 30, n=200, canaries=400, seed=3))
    assert rows["steinke"].kind == "lower bound" and rows["fdp_gaussian"].kind == "estimate"
    assert rows["steinke"].rate <= rows["steinke"].limit(0.05) and rows["steinke"].median > 0.5
    assert rows["fdp_gaussian"].rate > 0.5


def test_true_epsilon_of_the_mechanisms():
    assert true_epsilon("gaussian", 2.0, 1e-5) == 2.0
    assert true_epsilon("laplace", 1.0, 0.0) == 1.0 and true_epsilon("laplace", 1.0, 0.1) == pytest.approx(1 + 2 * math.log(0.9))
    p = 1 / (1 + math.exp(-2.0))
    assert true_epsilon("randomised-response", 2.0, 0.0) == pytest.approx(2.0)
    assert true_epsilon("randomised-response", 2.0, 0.01) == pytest.approx(math.log((p - 0.01) / (1 - p)))
    # Randomised response keeps the bit with probability e^ε / (1 + e^ε).
    kept = release("randomised-response", 1.0, 1e-5, np.ones(200_000), np.random.default_rng(0)).mean()
    assert kept == pytest.approx(1 / (1 + math.exp(-1.0)), abs=0.005)


@pytest.mark.slow
def test_the_protocols_dependence_breaks_pairs_as_trials_and_repeats_as_units_hold():
    """Runs that vary in confidence and memorisation: pairs counted as independent trials exceed
    their estimand far more often than 5%; the repeat as the unit and the exact per-record bound do not."""
    rows = by_name(protocol_draws(ProtocolSetting(records=2000, run_sd=1.0, member_sd=1.0), DRAWS, seed=1))
    naive, repeats, record = rows["pairs as trials (CP)"], rows["repeats as units (CP)"], rows["per record (CP, exact)"]
    assert naive.rate > naive.limit(0.05), naive
    assert repeats.rate <= repeats.limit(0.05) and repeats.median > 0, repeats
    assert record.rate <= record.limit(0.05), record


@pytest.mark.slow
def test_per_record_bounds_find_a_leaking_record_and_hold():
    rows = by_name(protocol_draws(ProtocolSetting(records=200, leak=1.0, leak_sd=2.0), 30, seed=2))
    record = rows["per record (CP, exact)"]
    assert record.rate <= record.limit(0.05) and record.median > 0, record


def test_design_effect_is_one_for_independent_pairs_and_the_unit_size_for_identical_ones():
    rng = np.random.default_rng(0)
    units, per = 40, 500
    independent = rng.random((units, per)) < 0.3
    tp = independent.sum(axis=1)[:, None].astype(float)
    sizes = np.full(units, float(per))
    d = design_effect(tp, sizes, tp, sizes)[0]
    assert 1.0 <= d < 1.5
    clustered = np.repeat(rng.random((units, 1)) < 0.3, per, axis=1)  # every pair of a unit alike
    tp = clustered.sum(axis=1)[:, None].astype(float)
    assert design_effect(tp, sizes, tp, sizes)[0] == pytest.approx(per * units / (units - 1), rel=1e-9)
    # Every member pair called, no non-member pair: nothing measures the dependence, so each unit is one trial.
    assert design_effect(sizes[:, None], sizes, np.zeros((units, 1)), sizes)[0] == per
    # One unit has no variance across units to show: it counts as one trial too.
    assert design_effect(tp[:1], sizes[:1], tp[:1], sizes[:1])[0] == per


def test_repeat_bounds_use_repeats_as_units_and_refuse_misfit_shapes():
    rng = np.random.default_rng(4)
    t, n = 20, 300
    member = np.zeros((t, n), dtype=bool)
    for j in range(t // 2):
        member[2 * j, rng.permutation(n)[: n // 2]] = True
        member[2 * j + 1] = ~member[2 * j]
    scores = rng.normal(size=(t, n)) + 2.0 * member
    b = repeat_bounds(scores, member, repeats_of(t))
    assert b.units == "repeats" and b.n_units == t // 2 and b.relation == REPLACE_ONE
    assert b.lower_bounds == {"clopper_pearson": b.clopper_pearson} and set(b.estimates) == {"gdp", "point"}
    assert b.clopper_pearson > 0.5 and b.design_effect >= 1.0
    with pytest.raises(GmiaError, match="do not fit"):
        repeat_bounds(scores, member, repeats_of(t - 2))
    with pytest.raises(GmiaError, match="neighbouring relation"):
        repeat_bounds(scores, member, repeats_of(t), relation="swap")
    assert epsilon_bounds(scores[member], scores[~member], relation=ADD_REMOVE).relation == ADD_REMOVE


def test_record_bound_is_clopper_pearson_with_bonferroni_over_records_and_cutoffs():
    runs, records = 50, 4
    member = np.zeros((2 * runs, records), dtype=bool)
    member[::2] = True
    p = np.full(member.shape, 0.9)
    p[member[:, 0], 0] = 0.0005  # record 0: every member run called at every cutoff, no non-member run
    r = record_bounds(p, member, cutoffs=(0.001, 0.01))
    alpha = 0.05 / (records * 2)
    expected = float(cp_epsilon(tpr_lower(runs, runs, alpha / 2), fpr_upper(0, runs, alpha / 2), 1e-5))
    assert r.epsilon == pytest.approx(expected) and r.record == 0 and (r.tp, r.members, r.fp, r.nonmembers) == (runs, runs, 0, runs)
    assert r.lower_bounds == {"per_record": r.epsilon} and r.relation == REPLACE_ONE
    assert record_bounds(np.full((4, 3), 0.5), np.zeros((4, 3), dtype=bool)) is None  # no record with both sides


@pytest.mark.slow
def test_one_run_bound_is_add_remove_and_keeps_its_estimate_apart():
    rng = np.random.default_rng(0)
    included = rng.random(400) < 0.5
    r = one_run_bound(included + rng.normal(0, 0.5, 400), included)
    assert r.relation == ADD_REMOVE and r.lower_bounds == {"steinke": r.epsilon}
    assert r.estimates == {"fdp_gaussian": r.epsilon_fdp}
    d = r.to_dict()
    assert d["lower_bounds"] == {"steinke": r.epsilon} and d["relation"] == ADD_REMOVE
