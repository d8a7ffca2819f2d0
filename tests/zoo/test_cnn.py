"""The stacked CNN (grouped convolutions) equals K one-model torch CNNs trained the plain way."""

import numpy as np
import pytest
import torch

from gmia.base.errors import GmiaError
from gmia.zoo import TrainSpec, Zoo, iter_batches, train_stack
from gmia.zoo import stacked
from gmia.zoo.trainer import resolve_device

IMAGE = (2, 8, 8)


def images(n=120, seed=0):
    """Two classes told apart by where the bright square is: a task a CNN learns in a few steps."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 0.3, size=(n, *IMAGE)).astype(np.float32)
    y = rng.integers(0, 2, n)
    for i in range(n):
        r = 1 if y[i] else 5
        x[i, :, r : r + 2, r : r + 2] += 0.7
    return torch.from_numpy(x.reshape(n, -1)), torch.from_numpy(y)


def plain_cnn(spec, init, m):
    """Model m of the stack as an ordinary torch.nn CNN with the same parameters."""
    act = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}[spec.activation]
    layers, channels = [torch.nn.Unflatten(1, spec.image)], [spec.image[0], *spec.conv]
    for i, (a, b) in enumerate(zip(channels[:-1], channels[1:])):
        conv = torch.nn.Conv2d(a, b, spec.kernel, padding=spec.kernel // 2)
        with torch.no_grad():
            conv.weight.copy_(init[f"cw{i}"][m])
            conv.bias.copy_(init[f"cb{i}"][m])
        layers += [conv, act(), torch.nn.MaxPool2d(2)]
    layers.append(torch.nn.Flatten())
    for i in range(stacked.n_layers(init)):
        w = init[f"w{i}"][m]
        lin = torch.nn.Linear(*w.shape)
        with torch.no_grad():
            lin.weight.copy_(w.T)
            lin.bias.copy_(init[f"b{i}"][m])
        layers.append(lin)
        if i < stacked.n_layers(init) - 1:
            layers.append(act())
    return torch.nn.Sequential(*layers)


def unpack(model, spec):
    convs = [l for l in model if isinstance(l, torch.nn.Conv2d)]
    lins = [l for l in model if isinstance(l, torch.nn.Linear)]
    out = {f"cw{i}": c.weight.detach() for i, c in enumerate(convs)}
    out.update({f"cb{i}": c.bias.detach() for i, c in enumerate(convs)})
    out.update({f"w{i}": l.weight.detach().T for i, l in enumerate(lins)})
    out.update({f"b{i}": l.bias.detach() for i, l in enumerate(lins)})
    return out


@pytest.mark.parametrize("spec", [
    TrainSpec(conv=(3, 4), hidden=(6,), image=IMAGE, activation="relu", optimizer="adam", lr=1e-2, steps=40, batch_size=8),
    TrainSpec(conv=(3,), kernel=3, hidden=(), image=IMAGE, activation="tanh", optimizer="sgd", lr=0.1, momentum=0.9,
              steps=40, batch_size=8, l2=1e-3),
], ids=["two-blocks-adam", "one-block-sgd-l2"])
@pytest.mark.slow
def test_stacked_cnn_equals_plain_loop(spec):
    x, y = images()
    k = 4
    index_sets = torch.as_tensor(np.random.default_rng(1).integers(0, len(x), size=(k, 60)))
    trained = train_stack(x, y, index_sets, spec, seed=5, n_classes=2)
    g = torch.Generator().manual_seed(5)
    init = stacked.init_params(spec, k, x.shape[1], 2, g)
    batches = list(iter_batches(index_sets, spec.batch_size, spec.steps, g))
    for m in range(k):
        model = plain_cnn(spec, init, m)
        opt = (torch.optim.Adam(model.parameters(), lr=spec.lr) if spec.optimizer == "adam"
               else torch.optim.SGD(model.parameters(), lr=spec.lr, momentum=spec.momentum))
        for batch in batches:
            idx = batch[m]
            loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
            if spec.l2:
                loss = loss + spec.l2 * sum(l.weight.pow(2).sum() for l in model if isinstance(l, (torch.nn.Conv2d, torch.nn.Linear)))
            opt.zero_grad()
            loss.backward()
            opt.step()
        for name, p in unpack(model, spec).items():
            torch.testing.assert_close(trained[name][m], p, rtol=1e-4, atol=1e-5)
    # Can fail: the models moved away from their initialisation and learned the task.
    assert (trained["cw0"] - init["cw0"]).abs().max() > 1e-2
    acc = (stacked.forward(trained, x, spec.activation, image=spec.image).argmax(-1) == y).float().mean()
    assert acc > 0.9


def test_shared_batch_equals_per_model_batches():
    spec = TrainSpec(conv=(3, 4), hidden=(5,), image=IMAGE, activation="relu")
    params = stacked.init_params(spec, 3, 128, 2, torch.Generator().manual_seed(0))
    x, _ = images(10)
    shared = stacked.forward(params, x, "relu", image=IMAGE)
    own = stacked.forward(params, x.expand(3, *x.shape), "relu", image=IMAGE)
    torch.testing.assert_close(shared, own, rtol=1e-5, atol=1e-6)
    # Model 1 alone gives its slice of the stack.
    one = stacked.forward({n: p[1:2] for n, p in params.items()}, x, "relu", image=IMAGE)
    torch.testing.assert_close(shared[1], one[0], rtol=1e-5, atol=1e-6)


def test_zoo_logits_in_small_blocks_equal_one_block():
    spec = TrainSpec(conv=(3,), hidden=(), image=IMAGE, activation="relu")
    params = stacked.init_params(spec, 2, 128, 2, torch.Generator().manual_seed(0))
    zoo = Zoo(spec=spec, params=params, index_sets=np.zeros((2, 1), np.int64), n_records=40, n_classes=2)
    x, _ = images(40)
    np.testing.assert_allclose(zoo.logits(x.numpy(), block=7), zoo.logits(x.numpy(), block=40), rtol=1e-6, atol=1e-6)
    assert zoo.logits(x.numpy()).shape == (2, 40, 2)


def test_spec_checks_and_hash_compatibility():
    with pytest.raises(GmiaError, match="image shape"):
        TrainSpec.build(conv=(4,))
    with pytest.raises(GmiaError, match="fully connected"):
        TrainSpec.build(conv=(4,), image=IMAGE, dp_clip=1.0)
    with pytest.raises(GmiaError, match="nothing of a 8x8"):
        TrainSpec.build(conv=(2, 2, 2, 2), image=IMAGE)
    with pytest.raises(GmiaError, match="kernel"):
        TrainSpec.build(conv=(2,), kernel=4, image=IMAGE)
    assert "conv" not in TrainSpec(hidden=(10, 5)).canonical_json()
    cnn = TrainSpec(conv=(32, 64), hidden=(1024,), image=(1, 28, 28))
    assert '"conv": [32, 64]' in cnn.canonical_json() and cnn.family == "cnn"
    assert stacked.layer_sizes(cnn, 784, 10) == [64 * 7 * 7, 1024, 10]
    with pytest.raises(GmiaError, match="does not fit records of 100"):
        stacked.init_params(cnn, 1, 100, 10, torch.Generator())


def test_device_is_checked_before_work():
    assert resolve_device("cpu").type == "cpu"
    with pytest.raises(GmiaError, match="unknown device 'tpu'"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(GmiaError, match="sees no CUDA GPU"):
            resolve_device("cuda")
