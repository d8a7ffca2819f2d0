"""Calibration: under H_out (a target trained like the references, without the record) the
direct test calls at most a fraction α of records members at cutoff α."""

import numpy as np
import pytest

from gmia.protocol.evaluate import CALIBRATION_ALPHAS, leave_one_out_calibration
from gmia.protocol.run import bootstrap_index_sets
from gmia.stats.signals import log_loss
from gmia.zoo import TrainSpec, ZooStore

TOLERANCE = 0.02  # pairs share records and models, so the fraction is noisier than binomial


@pytest.fixture(scope="module")
def held_out_losses(tmp_path_factory):
    rng = np.random.default_rng(5)
    n = 1100
    y = rng.integers(0, 2, n)
    x = (rng.normal(size=(n, 5)) + 0.8 * y[:, None]).astype(np.float32)
    train_pool, held_out = np.arange(800), np.arange(800, n)
    # 31 models trained alike on bootstrap samples of the same population; none sees held_out.
    sets = bootstrap_index_sets(train_pool, 31, 200, rng)
    store = ZooStore(tmp_path_factory.mktemp("cache"))
    zoo = store.get(x, y, "calibration", sets, TrainSpec(hidden=(8,), steps=400, batch_size=20, lr=1e-2), 0, 2)
    return log_loss(zoo.logits(x[held_out]), y[held_out])


def test_fraction_below_alpha_is_at_most_alpha(held_out_losses):
    fractions = leave_one_out_calibration(held_out_losses)
    for a in CALIBRATION_ALPHAS:
        assert fractions[f"{a:g}"] <= a + TOLERANCE, fractions
    # Not vacuous either: the test does call some pairs at α = 0.1.
    assert fractions["0.1"] > 0.03


def test_check_fails_on_a_broken_statistic(held_out_losses):
    # Halving the target's loss makes every record look more member-like than it is.
    broken = leave_one_out_calibration(held_out_losses, statistic=lambda loss: 0.5 * loss)
    assert any(broken[f"{a:g}"] > a + TOLERANCE for a in CALIBRATION_ALPHAS), broken


# --- Population-calibrated p-values (gmia.stats.calibration) ------------------------------------------

from gmia.attacks.direct import GmiaDirect  # noqa: E402
from gmia.stats.calibration import calibrated_pvalues, calibration_size, null_fraction, per_class  # noqa: E402
from gmia.base.errors import GmiaError  # noqa: E402


def _shifted_world(seed: int, tmp_path):
    """References train on the population; targets train on an easier, shifted sample of it
    (classes further apart), so they are more confident on every record, members or not.
    Returns raw p-values of non-member test records and of held-out calibration records."""
    rng = np.random.default_rng(seed)
    n_pop, n_shift = 4000, 600
    y = rng.integers(0, 2, n_pop + n_shift)
    x = rng.normal(size=(n_pop + n_shift, 5))
    x[:n_pop] += 0.6 * y[:n_pop, None]
    x[n_pop:] += 1.6 * y[n_pop:, None]  # the target owner's data: far easier to separate
    x = x.astype(np.float32)
    population = rng.permutation(n_pop)
    ref_records, calibration, tested = population[:1000], population[1000:2500], population[2500:]
    spec = TrainSpec(hidden=(8,), steps=400, batch_size=20, lr=1e-2)
    store = ZooStore(tmp_path / f"cache{seed}")
    refs = store.get(x, y, f"shift{seed}", bootstrap_index_sets(ref_records, 40, 200, rng), spec, seed, 2)
    targets = store.get(x, y, f"shift{seed}", bootstrap_index_sets(np.arange(n_pop, n_pop + n_shift), 10, 200, rng),
                        spec, seed + 1, 2)

    def raw(records):
        ref_loss = log_loss(refs.logits(x[records]), y[records])
        tgt_loss = log_loss(targets.logits(x[records]), y[records])
        return GmiaDirect("gaussian").fit_losses(ref_loss).pvalues_of(tgt_loss)

    return raw(tested), raw(calibration), y[tested], y[calibration]


def conformal_tolerance(a: float, n_null: int, n_tested: int) -> float:
    """Three standard deviations of the null fraction around its guarantee: given the calibration
    set, the coverage is Beta-distributed with sd sqrt(a(1-a)/|C|) (the guarantee is over the
    draw of C), and the tested records add their own binomial noise (shared by all targets)."""
    return 3 * (np.sqrt(a * (1 - a) / n_null) + np.sqrt(a * (1 - a) / n_tested))


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_calibrated_pvalues_hold_under_a_shift_where_raw_ones_fail(seed, tmp_path):
    p_raw, null, y_test, y_null = _shifted_world(seed, tmp_path)
    raw = null_fraction(p_raw, CALIBRATION_ALPHAS)
    for by_class in (False, True):
        smallest_class = min(np.bincount(y_null)) if by_class else len(y_null)
        cal = null_fraction(calibrated_pvalues(p_raw, null, y_test, y_null, by_class), CALIBRATION_ALPHAS)
        for a in CALIBRATION_ALPHAS:
            tolerance = conformal_tolerance(a, smallest_class, len(y_test))
            assert cal[f"{a:g}"] <= a + tolerance, (seed, by_class, raw, cal)
            # The shift is real: the raw p-values of the same non-members fail the same check.
            assert raw[f"{a:g}"] > a + tolerance, (seed, raw)


def test_conformal_pvalue_is_the_rank_among_the_null():
    null = np.array([[0.1, 0.2, 0.3, 0.4]])
    p = calibrated_pvalues(np.array([[0.05, 0.2, 0.9]]), null, np.zeros(3, int), np.zeros(4, int), by_class=False)
    # (1 + #{null <= raw}) / (1 + m): ties count against the record.
    assert p.tolist() == [[1 / 5, 3 / 5, 5 / 5]]


def test_calibration_per_class_ranks_within_the_class():
    null = np.array([[0.01, 0.02, 0.5, 0.6]])
    null_y = np.array([0, 0, 1, 1])
    p = calibrated_pvalues(np.array([[0.3, 0.3]]), null, np.array([0, 1]), null_y, by_class=True)
    assert p.tolist() == [[1.0, 1 / 3]]


def test_super_uniform_on_exchangeable_draws():
    # Any continuous statistic: when the record and the null are draws of one distribution,
    # P(p <= a) <= a up to sampling noise, for each of many (target) rows.
    rng = np.random.default_rng(0)
    raw, null = rng.random((50, 2000)), rng.random((50, 300))
    p = calibrated_pvalues(raw, null, np.zeros(2000, int), np.zeros(300, int), by_class=False)
    for a in (0.01, 0.05, 0.1, 0.5):
        assert (p <= a).mean() <= a + 0.01


def test_per_class_needs_enough_records_for_the_smallest_cutoff():
    assert per_class(np.r_[np.zeros(150), np.ones(120)].astype(int), 2, 0.01)
    assert not per_class(np.r_[np.zeros(150), np.ones(90)].astype(int), 2, 0.01)


def test_default_calibration_size_rule():
    assert calibration_size(499) == 249  # Cancer: half
    assert calibration_size(28842) == 7210  # Adult: a quarter
    assert calibration_size(40000) == 10000
    with pytest.raises(GmiaError, match="no calibration record"):
        calibrated_pvalues(np.ones((1, 2)), np.ones((1, 0)), np.zeros(2, int), np.zeros(0, int), False)
