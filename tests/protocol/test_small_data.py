"""Defaults that work on small data: the batch size fits the training set, and raw-feature
selection flags a small share of a small pool (docs/algorithm.md, "A derived δ for data the paper
did not run")."""

import warnings

import numpy as np
import pytest
import torch

from gmia.auditing.run import AuditConfig
from gmia.data import load_csv, load_bundled, paper_split
from gmia.data.bundled import ADULT_CATEGORICAL, ADULT_NUMERIC
from gmia.base.errors import GmiaError
from gmia.auditing.roles import resolve_roles
from gmia.stats.select import DELTA_FRACTION, count_neighbours, derived_delta, select_vulnerable, selection_features
from gmia.zoo import TrainSpec
from gmia.zoo.spec import cap_batch
from gmia.zoo.trainer import train_stack

SEEDS = range(10)


def test_cap_batch_caps_at_the_training_set_and_says_so():
    spec = TrainSpec(hidden=(10, 5), batch_size=100)
    capped, note = cap_batch(spec, 30)
    assert capped.batch_size == 30 and capped.hidden == (10, 5) and capped != spec
    assert note == "batch size 100 capped at 30, the records each model trains on (one full-data batch per step)"
    assert cap_batch(spec, 100) == (spec, None) and cap_batch(spec, np.int64(5000)) == (spec, None)
    _, dp_note = cap_batch(TrainSpec(batch_size=100, dp_clip=1.0, dp_noise=1.0), 30)
    assert dp_note.endswith("DP-SGD's sampling rate is then 1")
    for bad in (0, -3, 2.5, True):
        with pytest.raises(GmiaError, match="training-set size .* is invalid"):
            cap_batch(spec, bad)


def test_a_batch_larger_than_the_training_set_fails_today_and_trains_once_capped():
    rng = np.random.default_rng(0)
    x = torch.as_tensor(rng.normal(size=(60, 4)), dtype=torch.float32)
    y = torch.as_tensor(rng.integers(0, 2, 60))
    sets = np.stack([np.sort(rng.choice(60, 30, replace=False)) for _ in range(2)])  # N = 30 per model
    spec = TrainSpec(steps=3, batch_size=100)
    with pytest.raises(GmiaError, match="batch size 100 is larger than the 30 records each model trains on"):
        train_stack(x, y, sets, spec, seed=0, n_classes=2)
    params = train_stack(x, y, sets, cap_batch(spec, 30)[0], seed=0, n_classes=2)
    assert all(torch.isfinite(p).all() for p in params.values())


def _default_fraction(dataset, candidates, population) -> float:
    """The share of the candidates `gmia audit`'s default selection flags on raw features."""
    cfg = AuditConfig.resolve(dataset.name)
    assert cfg.features == "raw"
    f = selection_features(cfg.features, None, dataset.x)
    sel = select_vulnerable(f[candidates], f[population], candidates, cfg.delta, cfg.beta, len(candidates) // 2,
                            cfg.scaling, cfg.features)
    return len(sel.selected) / len(candidates)


def _bound(n_population: int) -> float:
    """Twice what the derived δ aims at: DELTA_FRACTION of the population, or, when N' is too small
    for that quantile (N' < 1/fraction), at most 2/(N'+1) (δ lies between the two largest of N'
    exchangeable distances). Twice, for the scatter of 10 small samples."""
    return 2 * max(DELTA_FRACTION, 2 / (n_population + 1))


def test_raw_selection_on_cancer_with_a_small_population_flags_a_small_share():
    # The paper's fixed δ = 0.1 flagged 11% of Cancer's pool against 100 population records.
    cancer = load_bundled("cancer")
    fractions = []
    for seed in SEEDS:
        split = paper_split(cancer, seed=seed)
        population = np.random.default_rng(seed).choice(split.adversary, 100, replace=False)
        roles = resolve_roles(cancer, candidates=split.pool, population=population)
        fractions.append(_default_fraction(roles.dataset, roles.candidates, roles.population))
    assert np.mean(fractions) <= _bound(100), fractions  # 0.04; the old default: 0.11
    # and on the paper's split (N' = 499) it stays near the stated 1%
    split = paper_split(cancer)
    assert _default_fraction(cancer, split.pool, split.adversary) <= 2 * DELTA_FRACTION


@pytest.mark.slow
@pytest.mark.parametrize("n_rows", [60, 300])
def test_raw_selection_on_a_small_adult_csv_flags_a_small_share(tmp_path, n_rows):
    # A file named adult.csv gets Adult's preset: its fixed δ = 0.4 flagged 24% of a 30-record pool.
    raw = load_bundled("adult").raw()
    fractions = []
    for seed in SEEDS:
        raw.sample(n_rows, random_state=seed).to_csv(tmp_path / "adult.csv", index=False)
        ds = load_csv(tmp_path / "adult.csv", label="income", numeric=ADULT_NUMERIC, categorical=ADULT_CATEGORICAL)
        split = paper_split(ds)
        fractions.append(_default_fraction(ds, split.pool, split.adversary))
    assert np.mean(fractions) <= _bound(n_rows // 2), fractions  # 60 rows: 0.13; the old default: 0.24


def test_the_default_delta_is_derived_on_raw_features_only():
    assert AuditConfig.resolve("cancer").delta is None
    assert AuditConfig.resolve("cancer", delta=0.2).delta == 0.2
    assert AuditConfig.resolve("cancer", features="logits").delta == 0.1  # the paper's, for logits
    assert AuditConfig.resolve("adult", features="centred-logits").delta == 0.4


@pytest.mark.parametrize("n", [1, 2, 10, 30, 50])
def test_derived_delta_on_tiny_adversaries_is_a_sane_distance(n):
    rng = np.random.default_rng(n)
    cases = {
        "random": rng.normal(size=(n, 5)),
        "duplicates": np.repeat(rng.normal(size=(max(1, n // 3), 5)), 3, axis=0)[:n],
        "identical": np.ones((n, 5)),
        "zero rows": np.vstack([np.zeros((n // 2, 5)), rng.random(size=(n - n // 2, 5))]),
    }
    for name, f in cases.items():
        for beta, n_train in ((0.1, max(1, n // 2)), (0.1, 1), (5.0, 3)):
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                delta = derived_delta(f, beta, n_train)
            assert np.isfinite(delta) and 0 < delta < 2, (name, beta, n_train, delta)


def test_identical_rows_get_the_smallest_delta_and_select_nothing_like_them():
    f = np.ones((20, 4))
    delta = derived_delta(f, 0.1, 10)
    assert delta == pytest.approx(1e-6)
    assert (count_neighbours(f[:3], f, delta) == 20).all()


def test_zero_rows_are_not_isolated_for_the_derived_delta_when_they_have_twins():
    # Raw Cancer's all-minimum record encodes as zeros: count_neighbours makes zero rows each
    # other's neighbours, so the derived δ must not treat them as the most isolated records.
    rng = np.random.default_rng(0)
    f = np.vstack([np.zeros((5, 3)), rng.random(size=(195, 3)) + 0.1])
    with_zeros = derived_delta(f, 0.1, 100)
    assert with_zeros == pytest.approx(derived_delta(np.vstack([f[5:], f[5:][:5]]), 0.1, 100), abs=0.05)
    assert with_zeros < 0.5
