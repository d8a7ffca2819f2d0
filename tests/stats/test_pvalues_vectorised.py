"""ecdf_pvalues (gmia.stats.pvalues, all records at once) gives the bits of ecdf_pvalue, record by record.

Bit identity, not closeness: every comparison is ``np.array_equal`` on float64 (``equal_nan``
only matters for the infinite losses of test_non_finite_losses_behave_as_before). The per-record ``ecdf_pvalue`` is the definition of p = F(L).
"""

import numpy as np
import pytest

from gmia.stats.pvalues import ecdf_pvalues_blocked, pchip_coefficients
from gmia.stats.ecdf import TAIL_RULES, ecdf_pvalue, ecdf_pvalues

SEEDS = [0, 1, 2]


def per_record(reference, observed, tail):
    """What ecdf_pvalues computed before issue 18: one ecdf_pvalue per record."""
    out = np.empty(observed.shape, dtype=np.float64)
    for j in range(reference.shape[1]):
        out[:, j] = ecdf_pvalue(reference[:, j], observed[:, j], tail)
    return out


def assert_same_bits(reference, observed, tail, **blocked):
    want = per_record(reference, observed, tail)
    got = (ecdf_pvalues_blocked(reference, observed, tail, per_record=ecdf_pvalue, **blocked)
           if blocked else ecdf_pvalues(reference, observed, tail))
    assert got.dtype == np.float64 and got.shape == want.shape
    differ = ~((got == want) | (np.isnan(got) & np.isnan(want)))
    assert not differ.any(), (
        f"{differ.sum()} of {differ.size} p-values differ ({tail}); first at {np.argwhere(differ)[0]}: "
        f"{got[differ][0]!r} vs {want[differ][0]!r}")
    assert np.array_equal(got, want, equal_nan=True)


def log_uniform(rng, size, lo=1e-12, hi=50.0):
    return np.exp(rng.uniform(np.log(lo), np.log(hi), size))


def around_references(rng, ref, t):
    """T target losses per record: below, between, at and above the record's reference losses."""
    k, n = ref.shape
    lo, hi = ref.min(0), ref.max(0)
    picks = ref[rng.integers(0, k, (t, n)), np.arange(n)]
    kind = rng.integers(0, 7, (t, n))
    return np.select(
        [kind == 0, kind == 1, kind == 2, kind == 3, kind == 4, kind == 5],
        [lo * rng.uniform(0, 1, (t, n)),  # below every reference loss (the tail)
         lo, hi,  # exactly the first and the last knot
         picks,  # exactly a knot
         lo + (hi - lo) * rng.uniform(0, 1, (t, n)),  # between knots
         hi * rng.uniform(1, 3, (t, n))],  # above all
        lo - log_uniform(rng, (t, n), 1e-13, 10.0))  # below, near and far (also negative)


@pytest.mark.slow
@pytest.mark.parametrize("tail", TAIL_RULES)
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("k,t", [(1, 1), (2, 10), (3, 1), (3, 10), (100, 10)])
def test_continuous_losses(tail, seed, k, t):
    rng = np.random.default_rng(seed * 1000 + k)
    n = 120 if k < 100 else 60
    ref = log_uniform(rng, (k, n)) * rng.uniform(0.5, 2, n)  # each record its own scale
    assert_same_bits(ref, around_references(rng, ref, t), tail)


@pytest.mark.slow
@pytest.mark.parametrize("tail", TAIL_RULES)
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("k", [2, 3, 100])
def test_heavily_tied_losses(tail, seed, k):
    """References from a few values: every record its own number of distinct knots, 1 to 4."""
    rng = np.random.default_rng(seed)
    n, t = 150, 10
    levels = np.sort(log_uniform(rng, (4, n)), axis=0)
    few = rng.integers(1, 5, n)  # distinct values a record draws from
    ref = levels[rng.integers(0, 4, (k, n)) % few, np.arange(n)]
    ref[:, :10] = ref[:1, :10]  # all k references equal
    obs = around_references(rng, ref, t)
    obs[0, :] = ref.min(0)  # exactly the first knot
    obs[-1, :] = ref.max(0)  # exactly the last knot
    assert_same_bits(ref, obs, tail)


@pytest.mark.parametrize("tail", TAIL_RULES)
def test_ties_closer_than_1e_12_and_float32_losses(tail):
    """Losses that differ below the 12th decimal are ties after rounding; float32 as training gives them."""
    rng = np.random.default_rng(7)
    k, n, t = 100, 80, 10
    base = log_uniform(rng, n, 1e-9, 5.0)
    ref = base + rng.integers(0, 3, (k, n)) * 3e-13 + rng.integers(0, 4, (k, n)) * base * 1e-3
    assert_same_bits(ref, around_references(rng, ref, t), tail)
    margins = rng.normal(3.0, 2.5, n).astype(np.float32) + rng.normal(0, 0.3, (k, n)).astype(np.float32)
    ref32 = np.log1p(np.exp(-margins)).astype(np.float32)
    assert_same_bits(ref32, around_references(rng, ref32.astype(np.float64), t).astype(np.float32), tail)


@pytest.mark.parametrize("tail", TAIL_RULES)
def test_block_boundaries_and_mixed_knot_counts(tail):
    """Blocks of 7 records (and of 1) give the same bits as one block."""
    rng = np.random.default_rng(11)
    k, n, t = 5, 50, 4
    scale = 10.0 ** rng.integers(0, 3, n)  # coarse rounding, its own per record: 1 to 5 knots
    ref = np.round(log_uniform(rng, (k, n), 1e-3, 10.0) * scale) / scale
    obs = around_references(rng, ref, t)
    assert_same_bits(ref, obs, tail, block=7)
    assert_same_bits(ref, obs, tail, block=1)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # inf - inf, as before
@pytest.mark.parametrize("tail", TAIL_RULES)
def test_non_finite_losses_behave_as_before(tail):
    ref = np.array([[np.inf, 0.2, 0.1], [np.inf, 0.4, 0.1], [np.inf, 0.6, 0.1]])
    obs = np.array([[0.5, 0.05, 0.1], [np.inf, np.nan, -np.inf]])
    assert_same_bits(ref, obs, tail)  # a record of infinite losses only: no PCHIP, as before
    bad = ref.copy()
    bad[0, 1] = np.nan
    with pytest.raises(ValueError):
        ecdf_pvalue(bad[:, 1], obs[:, 1], tail)
    with pytest.raises(ValueError):
        ecdf_pvalues(bad, obs, tail)


def test_empty_and_misshaped_inputs():
    assert ecdf_pvalues(np.ones((3, 0)), np.ones((2, 0))).shape == (2, 0)
    assert ecdf_pvalues(np.ones((3, 4)), np.ones((0, 4))).shape == (0, 4)
    with pytest.raises(ValueError, match="observed"):
        ecdf_pvalues(np.ones((3, 4)), np.ones((2, 5)))


def test_pchip_coefficients_are_scipys():
    from scipy.interpolate import PchipInterpolator

    rng = np.random.default_rng(3)
    for m in (2, 3, 4, 9):
        xs = np.sort(log_uniform(rng, (20, m)), axis=1)
        ys = np.cumsum(rng.integers(1, 4, (20, m)), axis=1) / 40
        got = np.stack(pchip_coefficients(xs, ys))
        want = np.stack([PchipInterpolator(xs[i], ys[i]).c for i in range(20)], axis=1)
        assert np.array_equal(got, want, equal_nan=True)


@pytest.mark.parametrize("k", [1, 2, 3, 7, 8, 9, 17, 100, 128, 129, 300])
def test_row_reductions_equal_one_dimensional_ones(k):
    """The premise of the gaussian rule's μ and σ: axis-1 sums of C-ordered rows = 1-D sums."""
    rng = np.random.default_rng(k)
    a = rng.standard_normal((64, k)) * rng.uniform(0.1, 100, (64, 1))
    mu = a.mean(axis=1)
    assert all(a[i].mean() == mu[i] for i in range(64))
    if k > 1:
        sd = a.std(axis=1, ddof=1)
        assert all(a[i].std(ddof=1) == sd[i] for i in range(64))
