"""The CUDA code paths, on small sizes: stacked MLPs and CNNs trained on a GPU (bfloat16 autocast),
DP-SGD there, `Zoo.logits` there, the store across devices and the CLI with ``--device cuda``.

Skipped where torch sees no CUDA GPU (CI, the 2-core development machines); run on a GPU by
``benchmarks/gpu_check.sh``. Training on CUDA runs its forward pass in bfloat16, so a stack
trained there is compared with the same stack trained on the CPU loosely (accuracy, logit
correlation), never bit for bit; paths without mixed precision (DP-SGD, `Zoo.logits`) are
compared to float32 tolerance. Each test prints one ``CUDA-CHECK`` line with what it measured.
"""

import json

import numpy as np
import pytest
import torch

import gmia.zoo.trainer as trainer_mod
from gmia.cli import main
from gmia.base.errors import GmiaError
from gmia.zoo import TrainSpec, Zoo, ZooStore, stacked, train_stack
from gmia.zoo.trainer import resolve_device

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (benchmarks/gpu_check.sh runs it on one)")


def gaussian_classes(n=600, d=10, classes=3, seed=0):
    """Overlapping Gaussian classes: learnable, not perfectly (accuracy near 0.9)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    centres = rng.normal(size=(classes, d)) * 1.2
    x = (rng.normal(size=(n, d)) + centres[y]).astype(np.float32)
    return torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))


def square_images(n=160, image=(2, 8, 8), seed=0):
    """Two classes told apart by where a bright square is (as tests/zoo/test_cnn.py)."""
    rng = np.random.default_rng(seed)
    c, h, w = image
    x = rng.uniform(0, 0.3, size=(n, c, h, w)).astype(np.float32)
    y = rng.integers(0, 2, n)
    for i in range(n):
        r = 1 if y[i] else h - 3
        x[i, :, r : r + 2, r : r + 2] += 0.7
    return torch.from_numpy(x.reshape(n, -1)), torch.from_numpy(y.astype(np.int64))


def per_model_accuracy(params, spec, x, y) -> np.ndarray:
    logits = stacked.forward(params, x, spec.activation, image=spec.image)
    return (logits.argmax(-1) == y).float().mean(-1).numpy()


def on_gpu(fn):
    """Run ``fn`` and return (its result, the peak GPU memory it allocated): proof it ran there."""
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    out = fn()
    torch.cuda.synchronize()
    return out, torch.cuda.max_memory_allocated()


def test_devices_resolve():
    assert resolve_device("cuda").type == "cuda"
    assert resolve_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(GmiaError, match="does not exist"):
        resolve_device(f"cuda:{torch.cuda.device_count()}")


@pytest.mark.parametrize("dropout", [0.0, 0.3], ids=["plain", "dropout"])
def test_mlp_stack_on_cuda_tracks_the_cpu_stack(dropout):
    x, y = gaussian_classes()
    spec = TrainSpec(hidden=(32,), activation="tanh", optimizer="adam", lr=1e-2, steps=150, batch_size=25, dropout=dropout)
    sets = np.random.default_rng(1).integers(0, len(x), size=(4, 300))
    cpu = train_stack(x, y, sets, spec, seed=3, n_classes=3, device="cpu")
    gpu, peak = on_gpu(lambda: train_stack(x, y, sets, spec, seed=3, n_classes=3, device="cuda"))
    assert peak > 0, "nothing was allocated on the GPU: the stack did not train there"
    init = stacked.init_params(spec, 4, x.shape[1], 3, torch.Generator().manual_seed(3))
    for name, p in gpu.items():
        assert p.device.type == "cpu" and p.dtype == torch.float32 and p.shape == cpu[name].shape
        assert torch.isfinite(p).all()
    assert (gpu["w0"] - init["w0"]).abs().max() > 0.05  # it trained
    acc_cpu, acc_gpu = per_model_accuracy(cpu, spec, x, y), per_model_accuracy(gpu, spec, x, y)
    lc = stacked.forward(cpu, x, spec.activation).flatten().numpy()
    lg = stacked.forward(gpu, x, spec.activation).flatten().numpy()
    corr = float(np.corrcoef(lc, lg)[0, 1])
    print(f"\nCUDA-CHECK mlp dropout={dropout}: accuracy cpu {acc_cpu.round(3).tolist()} cuda {acc_gpu.round(3).tolist()}, "
          f"logit correlation {corr:.5f}, max |param diff| {max((gpu[n] - cpu[n]).abs().max().item() for n in gpu):.2e}")
    assert acc_gpu.min() > 0.75
    assert np.abs(acc_gpu - acc_cpu).max() <= 0.05
    # Dropout masks come from a GPU generator there, so the dropout models differ more than by rounding.
    assert corr > (0.97 if dropout == 0 else 0.9)


def test_cnn_stack_on_cuda_learns_like_the_cpu_stack():
    """Grouped convolutions over K models' channels (channels-last), bfloat16 autocast."""
    x, y = square_images()
    spec = TrainSpec(conv=(3, 4), hidden=(6,), image=(2, 8, 8), activation="relu", optimizer="adam", lr=1e-2,
                     steps=60, batch_size=8)
    sets = np.random.default_rng(2).integers(0, len(x), size=(4, 80))
    cpu = train_stack(x, y, sets, spec, seed=5, n_classes=2, device="cpu")
    gpu, peak = on_gpu(lambda: train_stack(x, y, sets, spec, seed=5, n_classes=2, device="cuda"))
    assert peak > 0
    init = stacked.init_params(spec, 4, x.shape[1], 2, torch.Generator().manual_seed(5))
    assert gpu["cw0"].shape == (4, 3, 2, 5, 5) and gpu["cw0"].device.type == "cpu" and gpu["cw0"].dtype == torch.float32
    assert (gpu["cw0"] - init["cw0"]).abs().max() > 1e-2
    acc_cpu, acc_gpu = per_model_accuracy(cpu, spec, x, y), per_model_accuracy(gpu, spec, x, y)
    print(f"\nCUDA-CHECK cnn: accuracy cpu {acc_cpu.round(3).tolist()} cuda {acc_gpu.round(3).tolist()}")
    assert acc_gpu.mean() > 0.9
    assert np.abs(acc_gpu - acc_cpu).max() <= 0.1


def test_paper_sized_cnn_stack_trains_on_cuda():
    """The paper's MNIST CNN (32 and 64 channels, FC 1,024, dropout 0.5 from a GPU generator) at K = 16."""
    x, y = square_images(n=400, image=(1, 28, 28), seed=1)
    spec = TrainSpec(conv=(32, 64), kernel=5, hidden=(1024,), image=(1, 28, 28), activation="relu", dropout=0.5,
                     optimizer="adam", lr=1e-3, steps=40, batch_size=50)
    sets = np.random.default_rng(3).integers(0, len(x), size=(16, 200))
    gpu, peak = on_gpu(lambda: train_stack(x, y, sets, spec, seed=0, n_classes=2, device="cuda"))
    assert peak > 10 * 2**20  # the first layer's activations alone are 40 MB in bfloat16
    assert all(torch.isfinite(p).all() for p in gpu.values())
    zoo = Zoo(spec=spec, params=gpu, index_sets=sets, n_records=len(x), n_classes=2, device="cuda")
    acc = (torch.from_numpy(zoo.logits(x.numpy())).argmax(-1) == y).float().mean(-1).numpy()
    print(f"\nCUDA-CHECK paper-sized cnn K=16, 40 steps: peak GPU memory {peak / 2**20:.0f} MiB, accuracy {acc.round(3).tolist()}")
    assert acc.mean() > 0.9


def _trained_mlp_and_cnn():
    x, y = gaussian_classes()
    mlp_spec = TrainSpec(hidden=(32,), activation="tanh", lr=1e-2, steps=100, batch_size=25)
    mlp_sets = np.random.default_rng(1).integers(0, len(x), size=(3, 300))
    mlp = Zoo(spec=mlp_spec, params=train_stack(x, y, mlp_sets, mlp_spec, seed=1, n_classes=3), index_sets=mlp_sets,
              n_records=len(x), n_classes=3)
    xi, yi = square_images()
    cnn_spec = TrainSpec(conv=(3, 4), hidden=(6,), image=(2, 8, 8), activation="relu", lr=1e-2, steps=40, batch_size=8)
    cnn_sets = np.random.default_rng(2).integers(0, len(xi), size=(3, 80))
    cnn = Zoo(spec=cnn_spec, params=train_stack(xi, yi, cnn_sets, cnn_spec, seed=2, n_classes=2), index_sets=cnn_sets,
              n_records=len(xi), n_classes=2)
    return (mlp, x.numpy()), (cnn, xi.numpy())


def _on(zoo: Zoo, device: str) -> Zoo:
    return Zoo(spec=zoo.spec, params=zoo.params, index_sets=zoo.index_sets, n_records=zoo.n_records,
               n_classes=zoo.n_classes, device=device)


def test_zoo_logits_on_cuda_equal_cpu_logits_with_tf32_off():
    """The stacked forward pass (grouped convolutions, channels-last, blocks) computes on CUDA
    what it computes on the CPU, to float32 rounding, once cuDNN may not use TF32."""
    for zoo, x in _trained_mlp_and_cnn():
        cpu = zoo.logits(x)
        tf32 = torch.backends.cudnn.allow_tf32
        torch.backends.cudnn.allow_tf32 = False
        try:
            gpu = _on(zoo, "cuda").logits(x)
            blocks = _on(zoo, "cuda").logits(x, block=7)
        finally:
            torch.backends.cudnn.allow_tf32 = tf32
        print(f"\nCUDA-CHECK zoo.logits {zoo.spec.family} TF32 off: max |cuda - cpu| {np.abs(gpu - cpu).max():.2e}")
        assert gpu.dtype == np.float32 and gpu.shape == cpu.shape
        np.testing.assert_allclose(gpu, cpu, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(blocks, gpu, rtol=1e-4, atol=1e-5)


def test_zoo_logits_on_cuda_are_float32_as_documented():
    """`Zoo.logits` promises float32 on every device: with torch's default backend flags too
    (cuDNN's convolutions default to TF32, ten mantissa bits, which would break that promise)."""
    for zoo, x in _trained_mlp_and_cnn():
        cpu = zoo.logits(x)
        gpu = _on(zoo, "cuda").logits(x)
        print(f"\nCUDA-CHECK zoo.logits {zoo.spec.family} default flags (cudnn.allow_tf32="
              f"{torch.backends.cudnn.allow_tf32}): max |cuda - cpu| {np.abs(gpu - cpu).max():.2e}, "
              f"max |cpu| {np.abs(cpu).max():.2f}")
        np.testing.assert_allclose(gpu, cpu, rtol=1e-4, atol=1e-5)  # the tolerance of the test above


def test_dp_sgd_on_cuda_equals_dp_sgd_on_cpu():
    """DP-SGD has no mixed precision, and draws its Poisson batches, dropout masks and noise on the
    CPU generator whatever the device: the same seed gives the same models on both."""
    x, y = gaussian_classes()
    spec = TrainSpec(hidden=(8,), activation="tanh", optimizer="sgd", lr=0.1, steps=30, batch_size=20, dropout=0.1,
                     dp_clip=1.0, dp_noise=0.5, dp_sampling="poisson")
    sets = np.random.default_rng(4).integers(0, len(x), size=(3, 200))
    cpu = train_stack(x, y, sets, spec, seed=7, n_classes=3, device="cpu")
    gpu, peak = on_gpu(lambda: train_stack(x, y, sets, spec, seed=7, n_classes=3, device="cuda"))
    quiet = train_stack(x, y, sets, spec.model_copy(update={"dp_noise": 0.0}), seed=7, n_classes=3, device="cuda")
    assert peak > 0
    diff = max((gpu[n] - cpu[n]).abs().max().item() for n in gpu)
    noise_effect = max((gpu[n] - quiet[n]).abs().max().item() for n in gpu)
    print(f"\nCUDA-CHECK dp-sgd: max |cuda - cpu| {diff:.2e}; noise moves the models by {noise_effect:.3f}")
    for name in cpu:
        assert gpu[name].device.type == "cpu" and gpu[name].dtype == torch.float32
        torch.testing.assert_close(gpu[name], cpu[name], rtol=1e-4, atol=1e-5)
    assert noise_effect > 1e-2  # the noise was added on the GPU path


def test_store_trains_on_cuda_and_a_cpu_store_reuses_the_stack(tmp_path, monkeypatch):
    x, y = gaussian_classes()
    spec = TrainSpec(hidden=(8,), activation="tanh", lr=1e-2, steps=40, batch_size=20)
    sets = np.random.default_rng(5).integers(0, len(x), size=(5, 200))
    args = (x.numpy(), y.numpy(), "fp", sets, spec)
    gpu_store = ZooStore(tmp_path, device="cuda")
    assert gpu_store.device == "cuda"
    trained = gpu_store.get(*args, seed=1, n_classes=3, chunk_size=2)
    [folder] = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert json.loads((folder / "meta.json").read_text())["device"] == "cuda"
    assert folder.name == trained.key == ZooStore.key("fp", sets, spec, 1, 2)  # the device is not in the key
    assert trained.device == "cuda" and all(p.device.type == "cpu" for p in trained.params.values())

    calls = []
    monkeypatch.setattr(trainer_mod, "train_stack", lambda *a, **k: calls.append(1))
    reused = ZooStore(tmp_path, device="cpu").get(*args, seed=1, n_classes=3, chunk_size=2)
    assert calls == [] and reused.key == trained.key and reused.device == "cpu"
    for name in trained.params:
        assert torch.equal(reused.params[name], trained.params[name])
    np.testing.assert_allclose(trained.logits(x.numpy()), reused.logits(x.numpy()), rtol=1e-4, atol=1e-5)


def test_cli_reproduce_table1_on_cuda(tmp_path, capsys):
    cache, out = tmp_path / "cache", tmp_path / "run"
    code = main(["reproduce", "table1", "--dataset", "cancer", "--device", "cuda", "--cache-dir", str(cache),
                 "--out", str(out), "--k", "6", "--targets", "4", "--steps", "50"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "Time per stage:" in printed.out
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["k"] == 6 and results["config"]["spec"]["steps"] == 50
    metas = [json.loads(p.read_text()) for p in cache.glob("*/meta.json")]
    assert len(metas) == 2 and all(m["device"] == "cuda" for m in metas)  # targets and references trained there
    with capsys.disabled():
        print(f"\nCUDA-CHECK cli: {next(line for line in printed.out.splitlines() if 'Time per stage' in line).strip()}")
