"""The compiled trainer (gmia.zoo.compiled) trains the models the torch trainer trains: step by
step from the same seed, and as distributions of trained accuracy and loss from other seeds."""

import numpy as np
import pytest
import torch
from scipy import stats

from gmia.zoo import TrainSpec, compiled, kernel, sparse, stacked, train_stack


def one_hot_records(n=600, numeric=4, groups=(5, 9, 13, 20), classes=2, seed=0):
    """Tabular records like Adult's encoding: a few numbers, then one-hot groups."""
    rng = np.random.default_rng(seed)
    parts = [rng.normal(size=(n, numeric)).astype(np.float32)]
    for size in groups:
        parts.append(np.eye(size, dtype=np.float32)[rng.integers(0, size, n)])
    x = np.concatenate(parts, axis=1)
    logits = x @ rng.normal(size=(x.shape[1], classes))
    return torch.as_tensor(x), torch.as_tensor(logits.argmax(1))


def through_torch(monkeypatch):
    """Send every stack through the torch trainer (autograd and torch.optim)."""
    monkeypatch.setattr(TrainSpec, "compiles", property(lambda self: False))


SPECS = [
    TrainSpec(hidden=(10, 5), activation="tanh", optimizer="sgd", lr=0.05, steps=80, batch_size=20),
    TrainSpec(hidden=(7,), activation="relu", optimizer="adam", lr=1e-2, steps=80, batch_size=20, l2=1e-3),
    TrainSpec(hidden=(6, 4), activation="sigmoid", optimizer="sgd", lr=0.1, momentum=0.9, steps=80, batch_size=20),
    TrainSpec(hidden=(), optimizer="adam", lr=1e-2, steps=80, batch_size=20, l2=1e-2),
    TrainSpec(hidden=(20,), activation="tanh", optimizer="adam", lr=1e-2, steps=80, batch_size=20),  # two lane blocks
]


@pytest.mark.parametrize("spec", SPECS, ids=["tanh-sgd", "relu-adam-l2", "sigmoid-momentum", "logreg-adam-l2", "wide-tanh"])
@pytest.mark.parametrize("layout", ["sparse", "dense"])
@pytest.mark.parametrize("classes", [2, 3])
def test_compiled_equals_torch_step_by_step(spec, layout, classes, monkeypatch):
    """Same seed, same batches: after 80 steps the parameters agree to float rounding (measured
    while writing this: at most 7e-6 apart, against moves of more than 1e-2; the largest where
    Adam divides a rounding difference by the root of a tiny second moment)."""
    x, y = one_hot_records(classes=classes)
    if layout == "dense":
        x = x + 0.01  # no zeros left: the dense first layer
    assert (sparse.detect(x) is None) == (layout == "dense")
    sets = np.random.default_rng(3).integers(0, len(x), size=(6, 200))
    fast = train_stack(x, y, sets, spec, seed=5, n_classes=classes)
    with monkeypatch.context() as m:
        through_torch(m)
        slow = train_stack(x, y, sets, spec, seed=5, n_classes=classes)
    for name in slow:
        assert fast[name].shape == slow[name].shape and fast[name].dtype == torch.float32
        assert torch.allclose(fast[name], slow[name], rtol=1e-4, atol=2e-5), name
    # The models moved: equal because both trained, not because neither did.
    init = stacked.init_params(spec, 6, x.shape[1], classes, torch.Generator().manual_seed(5))
    assert max(float((fast[n] - init[n]).abs().max()) for n in fast) > 1e-2


def test_same_seed_same_bits_whatever_the_thread_count():
    x, y = one_hot_records()
    sets = np.random.default_rng(1).integers(0, len(x), size=(5, 300))
    spec = SPECS[0].model_copy(update={"steps": 120})
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = train_stack(x, y, sets, spec, seed=2, n_classes=2)
        torch.set_num_threads(2)
        two = train_stack(x, y, sets, spec, seed=2, n_classes=2)
        again = train_stack(x, y, sets, spec, seed=2, n_classes=2)
    finally:
        torch.set_num_threads(before)
    for name in one:
        assert torch.equal(one[name], two[name]) and torch.equal(two[name], again[name]), name
    other_seed = train_stack(x, y, sets, spec, seed=3, n_classes=2)
    assert not torch.equal(one["w0"], other_seed["w0"])


def test_padding_stays_zero():
    """The lanes' padding columns never learn, with sigmoid units whose padding outputs are 1/2
    (the case a careless sum over the padded width would get wrong) and with l2 and Adam."""
    x, y = one_hot_records(classes=3)
    spec = TrainSpec(hidden=(6, 4), activation="sigmoid", optimizer="adam", lr=1e-2, steps=60, batch_size=20, l2=1e-3)
    k = 3
    params = stacked.init_params(spec, k, x.shape[1], 3, torch.Generator().manual_seed(0))
    layout = compiled.Layout([x.shape[1], 6, 4, 3])
    theta = layout.pack(params)
    records = compiled.Records(x, y)
    sets = np.random.default_rng(0).integers(0, len(x), size=(k, 200))
    order = np.stack([np.random.default_rng(m).permutation(200) for m in range(k)])
    kernel.train_models(theta, compiled.aligned_zeros(theta.shape), compiled.aligned_zeros(theta.shape), 0, k, sets, order,
                           200 // spec.batch_size, spec.batch_size, 0, records.table, records.sparse, records.nnz, records.label_at, layout.sizes, layout.widths,
                           layout.w_at, layout.b_at, kernel.ACTIVATIONS["sigmoid"], True, spec.lr, 0.0, spec.l2, 3)
    for i, (n_in, n_out) in enumerate(zip(layout.sizes[:-1], layout.sizes[1:])):
        width = layout.widths[i + 1]
        w = theta[:, layout.w_at[i] : layout.w_at[i] + n_in * width].reshape(k, n_in, width)
        b = theta[:, layout.b_at[i] : layout.b_at[i] + width]
        assert not w[:, :, n_out:].any() and not b[:, n_out:].any(), i
        assert np.abs(w[:, :, :n_out]).min() > 0  # the true weights did train
    assert theta.ctypes.data % kernel.ALIGN == 0


def test_tanh_is_within_a_few_ulp():
    """Eigen's approximation, measured here over [-12, 12]: at most 5.5 float32 ulp (3.3e-7) off."""
    a = np.linspace(-12, 12, 200_001, dtype=np.float32)[::7]
    ours = np.array([kernel._tanh(v) for v in a], dtype=np.float32)
    exact = np.tanh(a.astype(np.float64))
    assert np.abs(ours - exact).max() < 4e-7
    assert (np.abs(ours - exact) / np.spacing(np.abs(exact).astype(np.float32))).max() < 6
    assert kernel._tanh(np.float32(0.0)) == 0.0  # padding units stay exactly zero


@pytest.mark.slow
@pytest.mark.parametrize("spec", [
    TrainSpec(hidden=(10, 5), activation="tanh", optimizer="sgd", lr=0.05, steps=1500, batch_size=50),
    TrainSpec(hidden=(), optimizer="adam", lr=1e-2, steps=1500, batch_size=20),
], ids=["mlp-sgd", "logreg-adam"])
def test_trained_models_are_distributed_alike(spec, monkeypatch):
    """Statistically the same models: 24 models each way, from different seeds (independent
    samples, not the step-by-step twins above), on held-out records. Two-sample Kolmogorov-
    Smirnov tests on test accuracy and test loss do not tell the trainers apart (p > 0.01 on
    each), and the means agree within 0.5 points of accuracy. The same tests do tell apart
    models trained for a tenth of the steps, so they have the power to see a real difference."""
    x, y = one_hot_records(n=3000, classes=2, seed=4)
    train, test = slice(0, 2000), slice(2000, 3000)
    sets = np.random.default_rng(0).integers(0, 2000, size=(24, 1000))

    def scores(params):
        with torch.no_grad():
            logits = stacked.forward(params, x[test], spec.activation)
            loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), y[test].expand(len(logits), -1), reduction="none")
            return (logits.argmax(2) == y[test]).float().mean(1).numpy(), loss.mean(1).numpy()

    fast_acc, fast_loss = scores(train_stack(x[train], y[train], sets, spec, seed=10, n_classes=2))
    short_acc, short_loss = scores(train_stack(x[train], y[train], sets, spec.model_copy(update={"steps": 150}), seed=12,
                                               n_classes=2))
    with monkeypatch.context() as m:
        through_torch(m)
        slow_acc, slow_loss = scores(train_stack(x[train], y[train], sets, spec, seed=11, n_classes=2))
    assert stats.ks_2samp(fast_acc, slow_acc).pvalue > 0.01
    assert stats.ks_2samp(fast_loss, slow_loss).pvalue > 0.01
    assert abs(fast_acc.mean() - slow_acc.mean()) < 0.005
    assert stats.ks_2samp(fast_loss, short_loss).pvalue < 0.01  # the test can fail
