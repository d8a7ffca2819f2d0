"""Calibration: under H_out (a target trained like the references, without the record) the
direct test calls at most a fraction α of records members at cutoff α."""

import numpy as np
import pytest

from gmia.evaluate import CALIBRATION_ALPHAS, leave_one_out_calibration
from gmia.protocol import bootstrap_index_sets
from gmia.signals import log_loss
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
