"""p-values from reference losses, intervals, and ROC summaries."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.interpolate import PchipInterpolator

from gmia.base.errors import GmiaError
from gmia.stats.roc import roc_summary
from gmia.stats.ecdf import TAIL_RULES, clopper_pearson, ecdf_pvalue, ecdf_pvalues

REF = np.array([0.5, 0.1, 0.9, 0.3, 0.7])  # sorted: 0.1 0.3 0.5 0.7 0.9 → F = 0.2 .. 1.0


def test_pvalue_at_reference_points_is_the_ecdf():
    p = ecdf_pvalue(REF, np.array([0.1, 0.3, 0.5, 0.7, 0.9, 2.0]))
    np.testing.assert_allclose(p, [0.2, 0.4, 0.6, 0.8, 1.0, 1.0])


def test_pvalue_between_points_is_scipy_pchip():
    obs = np.array([0.17, 0.42, 0.66, 0.88])
    expected = PchipInterpolator([0.1, 0.3, 0.5, 0.7, 0.9], [0.2, 0.4, 0.6, 0.8, 1.0])(obs)
    np.testing.assert_allclose(ecdf_pvalue(REF, obs), expected)
    # Linear ECDF points: PCHIP is the straight line through them (a golden number).
    np.testing.assert_allclose(ecdf_pvalue(REF, np.array([0.2])), [0.3])


def test_tail_rules_below_the_smallest_reference_loss():
    obs = np.array([0.05, 0.0])
    # Below every one of the k = 5 reference losses: the rank p-value 1/(k + 1), never 0.
    np.testing.assert_allclose(ecdf_pvalue(REF, obs, "zero"), [1 / 6, 1 / 6])
    # The linear pieces extrapolate linearly: 0.2 + (0.05 - 0.1) = 0.15, and 0.1 at 0.
    np.testing.assert_allclose(ecdf_pvalue(REF, obs, "pchip"), [0.15, 0.1])
    g = ecdf_pvalue(REF, np.array([0.09, 0.05, 0.01]), "gaussian")
    assert 0 <= g[2] < g[1] < g[0] < 0.2


def test_pchip_tail_that_turns_upward_is_made_monotone():
    # A CDF that is steep at the start: the first cubic piece, extrapolated, rises again
    # to the left of its minimum; the running minimum must keep p non-decreasing.
    ref = np.array([1.0, 1.01, 1.02, 3.0, 6.0, 9.0])
    lo = np.linspace(-5, 1.0, 400)
    p = ecdf_pvalue(ref, lo, "pchip")
    assert np.all(np.diff(p) >= -1e-12)
    assert p.min() >= 0 and p.max() <= 1 / 6 + 1e-12


def test_unknown_tail_rule():
    with pytest.raises(GmiaError, match="unknown tail rule 'bogus'"):
        ecdf_pvalues(REF[:, None], np.array([[0.2]]), "bogus")


@settings(max_examples=60, deadline=None)
@given(
    ref=st.lists(st.floats(0.0, 20.0, allow_nan=False), min_size=2, max_size=40),
    obs=st.lists(st.floats(0.0, 25.0, allow_nan=False), min_size=2, max_size=40),
    tail=st.sampled_from(TAIL_RULES),
)
def test_pvalue_is_in_unit_interval_and_non_decreasing_in_the_loss(ref, obs, tail):
    obs = np.sort(np.asarray(obs))
    p = ecdf_pvalue(np.asarray(ref), obs, tail)
    assert np.all((p >= 0) & (p <= 1))
    assert np.all(np.diff(p) >= -1e-12)


def test_pvalues_vectorised_matches_per_record():
    rng = np.random.default_rng(0)
    ref = rng.exponential(size=(50, 7))
    obs = rng.exponential(size=(3, 7))
    out = ecdf_pvalues(ref, obs)
    for j in range(7):
        np.testing.assert_allclose(out[:, j], ecdf_pvalue(ref[:, j], obs[:, j]))


def test_ties_in_reference_losses():
    p = ecdf_pvalue(np.array([0.2, 0.2, 0.2, 0.8]), np.array([0.2, 0.5, 0.8]))
    assert p[0] == pytest.approx(0.75) and p[2] == pytest.approx(1.0) and 0.75 <= p[1] <= 1.0


def test_clopper_pearson_golden():
    lo, hi = clopper_pearson(8, 9)
    assert lo == pytest.approx(0.5175, abs=1e-4) and hi == pytest.approx(0.9972, abs=1e-4)
    assert np.isnan(clopper_pearson(0, 0)[0])


def test_roc_summary_orientation_member_is_positive():
    rng = np.random.default_rng(0)
    labels = rng.random(4000) < 0.5
    scores = rng.normal(size=4000) + 2.0 * labels  # members score higher
    good = roc_summary(scores, labels)
    swapped = roc_summary(scores, ~labels)
    assert good.auc > 0.9 and swapped.auc < 0.1
    assert good.auc + swapped.auc == pytest.approx(1.0)
    assert good.tpr["0.01"] > swapped.tpr["0.01"]


def test_a_schema_1_results_file_is_read_with_its_roc_in_the_one_shape(tmp_path):
    """Schema 1 wrote the protocol's and the defences' ROC flat; reading upgrades it to the
    shape every result has now, and the figures read back the same."""
    import json

    from gmia.base.result import read_results
    from gmia.stats.roc import roc_figure

    old = {"schema_version": 1, "kind": "table1",
           "runs": [{"evaluations": [{"roc": {"auc": 0.61, "tpr_at_fpr_0.001": 0.002, "tpr_at_fpr_0.01": 0.02}}]}],
           "attacks": [{"roc": {"auc": 0.7, "auc_ci": [0.6, 0.8], "tpr": {"0.01": 0.1}, "tpr_ci": {"0.01": [0.0, 0.2]}}}]}
    path = tmp_path / "results.json"
    path.write_text(json.dumps(old))
    new = read_results(path)
    roc = new["runs"][0]["evaluations"][0]["roc"]
    assert new["schema_version"] == 2 and roc["tpr"] == {"0.001": 0.002, "0.01": 0.02} and roc["auc"] == 0.61
    assert new["attacks"] == old["attacks"]  # already the one shape: untouched
    assert roc_figure(roc, "0.01") == roc_figure(old["runs"][0]["evaluations"][0]["roc"], "0.01") == 0.02


def test_kost_with_independent_tests_is_fisher():
    from scipy.stats import combine_pvalues

    from gmia.stats.ecdf import kost_combine

    p = np.array([0.01, 0.2, 0.5, 0.03])
    expected = combine_pvalues(p, method="fisher").pvalue
    assert kost_combine(p, np.zeros((4, 4))) == pytest.approx(expected, rel=1e-10)


def test_kost_with_perfectly_correlated_copies_gives_back_the_p_value():
    from gmia.stats.ecdf import kost_combine

    for p in (0.001, 0.04, 0.3):
        for m in (2, 5, 20):
            # cov(ρ=1) = 3.263 + 0.710 + 0.027 = 4.0: exactly Var(−2 ln p) for one test.
            assert kost_combine(np.full(m, p), np.ones((m, m))) == pytest.approx(p, rel=1e-9)
    # Positive correlation makes the combination more conservative than Fisher's.
    p = np.full(5, 0.02)
    assert kost_combine(p, np.full((5, 5), 0.5)) > kost_combine(p, np.zeros((5, 5)))
