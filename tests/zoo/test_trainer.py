"""The stacked trainer equals K plain one-model torch trainings fed the same batches."""

import numpy as np
import pytest
import torch

from gmia.zoo import TrainSpec, iter_batches, train_stack
from gmia.zoo import stacked


def plain_loop(x, y, batches, init, spec, model_index):
    """One model, trained the ordinary way with torch.nn layers and optimiser."""
    sizes = [x.shape[1], *spec.hidden, 2]
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        lin = torch.nn.Linear(a, b)
        with torch.no_grad():
            lin.weight.copy_(init[f"w{i}"][model_index].T)
            lin.bias.copy_(init[f"b{i}"][model_index])
        layers.append(lin)
        if i < len(sizes) - 2:
            layers.append({"tanh": torch.nn.Tanh(), "relu": torch.nn.ReLU()}[spec.activation])
    model = torch.nn.Sequential(*layers)
    if spec.optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=spec.lr)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=spec.lr, momentum=spec.momentum)
    for batch in batches:
        idx = batch[model_index]
        loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
        if spec.l2:
            loss = loss + spec.l2 * sum(m.weight.pow(2).sum() for m in model if isinstance(m, torch.nn.Linear))
        opt.zero_grad()
        loss.backward()
        opt.step()
    lins = [m for m in model if isinstance(m, torch.nn.Linear)]
    return {**{f"w{i}": m.weight.detach().T for i, m in enumerate(lins)},
            **{f"b{i}": m.bias.detach() for i, m in enumerate(lins)}}


@pytest.mark.parametrize(
    "spec",
    [
        TrainSpec(hidden=(), optimizer="sgd", lr=0.1, steps=60, batch_size=16),
        TrainSpec(hidden=(8, 4), activation="tanh", optimizer="adam", lr=1e-2, steps=60, batch_size=16, l2=1e-3),
        TrainSpec(hidden=(5,), activation="relu", optimizer="sgd", lr=0.05, momentum=0.9, steps=60, batch_size=16),
    ],
    ids=["logreg-sgd", "mlp-adam-l2", "mlp-relu-momentum"],
)
@pytest.mark.slow
def test_stacked_equals_plain_loop(blobs, spec):
    x, y = map(torch.as_tensor, blobs)
    rng = np.random.default_rng(1)
    index_sets = torch.as_tensor(rng.integers(0, len(x), size=(5, 100)))
    trained = train_stack(x, y, index_sets, spec, seed=7, n_classes=2)
    # Replay the same seed to get the same initialisation and batch stream.
    g = torch.Generator().manual_seed(7)
    init = stacked.init_params(spec, 5, x.shape[1], 2, g)
    batches = list(iter_batches(index_sets, spec.batch_size, spec.steps, g))
    for m in range(5):
        plain = plain_loop(x, y, batches, init, spec, m)
        for name, p in plain.items():
            torch.testing.assert_close(trained[name][m], p, rtol=1e-4, atol=1e-5)
    # The test can fail: models really moved away from their initialisation.
    assert (trained["w0"] - init["w0"]).abs().max() > 1e-3


def test_same_seed_same_result_and_dropout_is_seeded(blobs):
    x, y = map(torch.as_tensor, blobs)
    idx = np.random.default_rng(0).integers(0, len(x), size=(3, 50))
    spec = TrainSpec(hidden=(6,), dropout=0.3, steps=30, batch_size=10)
    a = train_stack(x, y, idx, spec, seed=3, n_classes=2)
    b = train_stack(x, y, idx, spec, seed=3, n_classes=2)
    c = train_stack(x, y, idx, spec, seed=4, n_classes=2)
    for name in a:
        assert torch.equal(a[name], b[name])
    assert not torch.equal(a["w0"], c["w0"])


def test_iter_batches_walks_each_index_set_in_epochs():
    index_sets = torch.as_tensor(np.array([np.arange(10), np.arange(10, 20)]))
    g = torch.Generator().manual_seed(0)
    batches = list(iter_batches(index_sets, 5, 4, g))
    assert len(batches) == 4 and batches[0].shape == (2, 5)
    first_epoch = torch.cat(batches[:2], dim=1)
    assert sorted(first_epoch[0].tolist()) == list(range(10))
    assert sorted(first_epoch[1].tolist()) == list(range(10, 20))


def test_models_learn(blobs):
    x, y = map(torch.as_tensor, blobs)
    idx = np.random.default_rng(0).integers(0, len(x), size=(4, 200))
    params = train_stack(x, y, idx, TrainSpec(steps=300, batch_size=20, lr=1e-2), seed=0, n_classes=2)
    with torch.no_grad():
        acc = (stacked.forward(params, x, "tanh").argmax(-1) == y).float().mean(dim=1)
    assert (acc > 0.85).all()
