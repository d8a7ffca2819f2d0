"""The hand-written passes (gmia.zoo.fused) train the same models as autograd, dense or sparse."""

import numpy as np
import pytest
import torch

from gmia.zoo import TrainSpec, fused, sparse, train_stack


def one_hot_records(n=600, numeric=4, groups=(5, 9, 13, 20), classes=2, seed=0):
    """Tabular records like Adult's encoding: a few numbers, then one-hot groups."""
    rng = np.random.default_rng(seed)
    parts = [rng.normal(size=(n, numeric)).astype(np.float32)]
    for size in groups:
        parts.append(np.eye(size, dtype=np.float32)[rng.integers(0, size, n)])
    x = np.concatenate(parts, axis=1)
    logits = x @ rng.normal(size=(x.shape[1], classes))
    return torch.as_tensor(x), torch.as_tensor(logits.argmax(1))


def trained_both_ways(x, y, spec, classes, monkeypatch):
    sets = np.random.default_rng(3).integers(0, len(x), size=(6, 200))
    with_fused = train_stack(x, y, sets, spec, seed=5, n_classes=classes)
    monkeypatch.setattr(fused, "applies", lambda spec, device: False)
    with_autograd = train_stack(x, y, sets, spec, seed=5, n_classes=classes)
    return with_fused, with_autograd


SPECS = [
    TrainSpec(hidden=(10, 5), activation="tanh", optimizer="sgd", lr=0.05, steps=80, batch_size=20),
    TrainSpec(hidden=(7,), activation="relu", optimizer="adam", lr=1e-2, steps=80, batch_size=20, l2=1e-3),
    TrainSpec(hidden=(6, 4), activation="sigmoid", optimizer="sgd", lr=0.1, momentum=0.9, steps=80, batch_size=20),
    TrainSpec(hidden=(), optimizer="adam", lr=1e-2, steps=80, batch_size=20, l2=1e-2),
]


@pytest.mark.slow
@pytest.mark.parametrize("spec", SPECS, ids=["tanh-sgd", "relu-adam-l2", "sigmoid-momentum", "logreg-adam-l2"])
@pytest.mark.parametrize("layout", ["sparse", "dense"])
@pytest.mark.parametrize("classes", [2, 3])
def test_fused_equals_autograd(spec, layout, classes, monkeypatch):
    x, y = one_hot_records(classes=classes)
    if layout == "dense":
        x = x + 0.01  # no zeros left: the dense first layer
    assert (sparse.detect(x) is None) == (layout == "dense")
    a, b = trained_both_ways(x, y, spec, classes, monkeypatch)
    for name in a:
        assert torch.allclose(a[name], b[name], rtol=1e-4, atol=2e-5), name
    # The models moved: equal because both trained, not because neither did.
    init = train_stack(x, y, np.zeros((6, 200), dtype=np.int64), spec.model_copy(update={"steps": 1, "lr": 1e-12}),
                       seed=5, n_classes=classes)
    assert max(float((a[n] - init[n]).abs().max()) for n in a) > 1e-2


def test_sparse_rows_rebuild_the_records():
    x, _ = one_hot_records()
    rows = sparse.detect(x)
    assert rows is not None and rows.width == 4 + 4  # 4 numbers, one 1 per group
    rebuilt = torch.zeros_like(x).scatter_add_(1, rows.cols.long(), rows.vals)
    assert torch.equal(rebuilt, x)


def test_sparse_rows_pad_short_rows_with_zero_values():
    x = torch.zeros(3, 40)
    x[0, [1, 5, 7]] = torch.tensor([2.0, -1.0, 3.0])
    x[1, 39] = 1.0  # row 2 stays empty
    rows = sparse.detect(x)
    assert rows.width == 3
    assert torch.equal(torch.zeros_like(x).scatter_add_(1, rows.cols.long(), rows.vals), x)
    assert rows.vals[2].abs().sum() == 0


def test_dense_data_is_not_sparse():
    assert sparse.detect(torch.rand(50, 100) + 0.1) is None  # no zeros
    assert sparse.detect(torch.eye(10)) is None  # too few features to gain anything


def test_fused_path_is_only_for_plain_cpu_stacks():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    plain = TrainSpec(hidden=(5,))
    assert fused.applies(plain, cpu)
    assert not fused.applies(plain, cuda)
    assert not fused.applies(plain.model_copy(update={"dropout": 0.5}), cpu)
    assert not fused.applies(TrainSpec(hidden=(5,), dp_clip=1.0, dp_noise=1.0), cpu)
    assert not fused.applies(TrainSpec(conv=(2,), image=(1, 8, 8), hidden=(4,)), cpu)


def test_sparse_rows_are_the_same_converted_in_blocks(monkeypatch):
    x, _ = one_hot_records(n=50)
    whole = sparse.detect(x)
    monkeypatch.setattr(sparse, "BLOCK", 7)
    blocked = sparse.detect(x)
    assert torch.equal(whole.cols, blocked.cols) and torch.equal(whole.vals, blocked.vals)
