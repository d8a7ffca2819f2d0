"""DP-SGD in the stacked trainer: equivalence with plain SGD and with Opacus, sampling, accounting."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from gmia.defenses import epsilon_for, grid, guarantee, noise_for
from gmia.defenses.privacy import check_dp, meaningless
from gmia.base.errors import GmiaError
from gmia.zoo import TrainSpec, dp, stacked
from gmia.zoo.trainer import train_stack


@pytest.mark.parametrize("update", [
    dict(optimizer="sgd", lr=0.05, momentum=0.9),
    dict(optimizer="adam", lr=0.01, l2=1e-3),
    dict(optimizer="sgd", lr=0.05, dropout=0.2),
])
def test_dp_path_with_no_noise_and_a_huge_clip_is_plain_sgd(blobs, update):
    x, y = map(torch.as_tensor, blobs)
    sets = np.sort(np.random.default_rng(1).choice(len(x), (3, 200)), axis=1)
    spec = TrainSpec(hidden=(8,), activation="tanh", steps=150, batch_size=20, **update)
    plain = train_stack(x, y, sets, spec, seed=3, n_classes=2)
    private = train_stack(x, y, sets, spec.model_copy(update={"dp_clip": 1e9, "dp_noise": 0.0, "dp_sampling": "shuffle"}),
                          seed=3, n_classes=2)
    for name in plain:
        np.testing.assert_allclose(private[name].numpy(), plain[name].numpy(), atol=2e-5)


@pytest.mark.filterwarnings("ignore:Full backward hook")
def test_clipped_gradients_equal_opacus_on_the_same_batch(blobs):
    from opacus import GradSampleModule
    from opacus.optimizers import DPOptimizer

    x, y = map(torch.as_tensor, blobs)
    xb, yb = x[:32], y[:32]
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))
    params = {"w0": net[0].weight.detach().T[None].clone(), "b0": net[0].bias.detach()[None].clone(),
              "w1": net[2].weight.detach().T[None].clone(), "b1": net[2].bias.detach()[None].clone()}
    clip = 0.5  # small enough that most records are clipped
    model = GradSampleModule(net)
    opt = DPOptimizer(torch.optim.SGD(model.parameters(), lr=0.1), noise_multiplier=0.0, max_grad_norm=clip,
                      expected_batch_size=len(xb))
    torch.nn.functional.cross_entropy(model(xb), yb, reduction="mean").backward()
    opt.pre_step()  # clip per sample, accumulate, add (zero) noise, divide by the expected batch size
    summed, norms = dp.clipped_gradient_sum(params, xb[None], yb[None], torch.ones(1, len(xb)), "tanh", clip)
    ours = dp.privatise(summed, clip, 0.0, len(xb), torch.Generator())
    theirs = {"w0": net[0].weight.grad.T, "b0": net[0].bias.grad, "w1": net[2].weight.grad.T, "b1": net[2].bias.grad}
    for name in ours:
        np.testing.assert_allclose(ours[name][0].numpy(), theirs[name].numpy(), rtol=1e-5, atol=1e-7)
    # After pre_step, Opacus has rescaled grad_sample from the mean loss to each record's own loss.
    opacus_norms = sum(p.grad_sample.reshape(len(xb), -1).pow(2).sum(-1) for p in net.parameters()).sqrt()
    np.testing.assert_allclose(norms[0].numpy(), opacus_norms.numpy(), rtol=1e-5)
    assert (norms[0] > clip).float().mean() > 0.5


def test_poisson_positions_sample_each_record_with_probability_q():
    gen = torch.Generator().manual_seed(0)
    n, q, k = 500, 0.04, 50
    hits = np.zeros(n)
    sizes = []
    for _ in range(200):
        pos, valid = dp.poisson_positions(k, n, q, gen)
        for row, ok in zip(pos.numpy(), valid.numpy()):
            chosen = row[ok]
            assert len(np.unique(chosen)) == len(chosen) and (chosen < n).all() and (chosen >= 0).all()
            hits[chosen] += 1
            sizes.append(len(chosen))
    draws = 200 * k
    assert abs(np.mean(sizes) - q * n) < 0.3  # E = 20, sd of the mean ≈ 0.044
    assert abs(np.var(sizes) - n * q * (1 - q)) < 2.0  # binomial variance 19.2
    assert np.abs(hits / draws - q).max() < 0.02  # every position, sd ≈ 0.0028


def test_noise_makes_the_models_differ_and_is_seeded(blobs):
    x, y = map(torch.as_tensor, blobs)
    sets = np.sort(np.random.default_rng(1).choice(len(x), (2, 200)), axis=1)
    spec = TrainSpec(hidden=(), steps=50, batch_size=20, dp_clip=1.0, dp_noise=1.0)
    a, b = train_stack(x, y, sets, spec, 0, 2), train_stack(x, y, sets, spec, 0, 2)
    c = train_stack(x, y, sets, spec.model_copy(update={"dp_noise": 0.0}), 0, 2)
    assert all(torch.equal(a[n], b[n]) for n in a)
    assert not torch.allclose(a["w0"], c["w0"])


def test_specs_without_dp_keep_their_cache_key():
    # Stacks stored before DP existed must keep their keys: DP fields are left out when off.
    assert TrainSpec().canonical_json() == (
        '{"activation": "tanh", "batch_size": 100, "dropout": 0.0, "hidden": [], "l2": 0.0, "lr": 0.001, '
        '"momentum": 0.0, "optimizer": "adam", "steps": 1000}')
    assert "dp_noise" in TrainSpec(dp_clip=1.0).canonical_json()


@pytest.mark.slow
@pytest.mark.parametrize("accountant", ["rdp", "prv"])
def test_accountant_round_trip(accountant):
    sigma = noise_for(2.0, sample_rate=0.01, steps=2000, delta=1e-5, accountant=accountant)
    eps = epsilon_for(sigma, 0.01, 2000, 1e-5, accountant)
    assert 1.9 <= eps <= 2.0 + 1e-9
    assert epsilon_for(sigma * 1.5, 0.01, 2000, 1e-5, accountant) < eps
    assert math.isinf(epsilon_for(0.0, 0.01, 2000, 1e-5, accountant))


def test_wider_rdp_orders_only_tighten_opacus_default_bound():
    from opacus.accountants import RDPAccountant

    default = RDPAccountant()
    default.history = [(4.0, 0.01, 10000)]
    with warnings.catch_warnings():  # Opacus warns that its largest default order is the optimum here
        warnings.simplefilter("ignore")
        loose = default.get_epsilon(1e-5)
    assert epsilon_for(4.0, 0.01, 10000, 1e-5) <= loose


@pytest.mark.parametrize("kwargs, words", [
    (dict(epsilon=0.0), "epsilon=0 is not positive"),
    (dict(epsilon=-1.0), "epsilon=-1 is not positive"),
    (dict(delta=0.01), "delta=0.01 is out of range for a training set of 100 records; expected 0 < delta < 1/N = 0.01"),
    (dict(clip=0.0), "clipping norm 0 is invalid"),
    (dict(clip=math.inf), "clipping norm inf is invalid"),
])
def test_bad_dp_settings(kwargs, words):
    args = {"epsilon": 1.0, "delta": 1e-5, "clip": 1.0, "n_train": 100, **kwargs}
    with pytest.raises(GmiaError, match=words.replace("(", r"\(").replace(")", r"\)")):
        check_dp(**args)


@pytest.mark.slow
def test_guarantee_from_noise_and_the_meaningless_warning():
    g = guarantee(None, 0.5, 1e-5, 1.0, 10000, 100, 20000)
    assert g.epsilon > 10 and "means nothing" in meaningless(g.epsilon)
    assert meaningless(1.0) is None
    with pytest.raises(GmiaError, match="unknown defence 'dp-eps'"):
        grid(["dp-eps=1"])


def test_per_record_norm_trick_equals_explicit_per_record_gradients():
    # The norms come from ‖a‖²‖δ‖² without materialising gradients: check against autograd per record.
    gen = torch.Generator().manual_seed(0)
    spec = TrainSpec(hidden=(4, 3), activation="relu")
    params = stacked.init_params(spec, 2, 5, 3, gen)
    xb, yb = torch.randn(2, 6, 5, generator=gen), torch.randint(0, 3, (2, 6), generator=gen)
    _, norms = dp.clipped_gradient_sum(params, xb, yb, torch.ones(2, 6), "relu", clip=1e9)
    for m in range(2):
        for i in range(6):
            p = {n: t[m : m + 1].clone().requires_grad_(True) for n, t in params.items()}
            loss = torch.nn.functional.cross_entropy(stacked.forward(p, xb[m : m + 1, i : i + 1], "relu")[0], yb[m, i : i + 1])
            grads = torch.autograd.grad(loss, list(p.values()))
            assert norms[m, i].item() == pytest.approx(math.sqrt(sum(g.pow(2).sum().item() for g in grads)), rel=1e-5)
