"""Image data through the whole tool: the CLI on CIFAR-10 files, CNN model files, the report's
image grid, Gaussian random queries."""

import json
import re

import numpy as np
import pytest
import torch

from gmia.attacks.indirect import IMAGE_SIGMA, IndirectConfig, query_sigma
from gmia.cli import main
from gmia.data.images import image_dataset
from gmia.settings.paper import CPU_SCALE, PRESETS, scaled_preset
from gmia.base.errors import GmiaError
from gmia.models.file_format import Model
from gmia.data.queries import gaussian_queries, same_record
from gmia.report import figures, sections
from gmia.zoo import TrainSpec, Zoo, train_stack


def tiny_images(n=80, seed=0):
    """Two classes of 1x8x8 images: a bright square top left or bottom right, on noise."""
    rng = np.random.default_rng(seed)
    px = rng.integers(0, 60, size=(n, 1, 8, 8)).astype(np.uint8)
    y = rng.integers(0, 2, n)
    for i in range(n):
        r = 1 if y[i] else 5
        px[i, 0, r : r + 2, r : r + 2] = 250
    return image_dataset("tiny", px, y, ("top", "bottom"))


def write_cifar_bin(folder, per_batch=10, seed=1):
    """CIFAR-10's binary version: rows of one label byte and 3,072 pixel bytes (R, G, B planes)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        labels = rng.integers(0, 10, per_batch).astype(np.uint8)
        pixels = rng.integers(0, 256, size=(per_batch, 3072)).astype(np.uint8)
        (folder / name).write_bytes(np.concatenate([labels[:, None], pixels], axis=1).tobytes())
    return folder


@pytest.mark.slow
def test_cli_reproduces_on_cifar10_files_at_cpu_scale(tmp_path, capsys):
    cache = str(tmp_path / "cache")
    assert main(["data", "fetch", "cifar10", "--cache-dir", cache, "--source", str(write_cifar_bin(tmp_path / "src"))]) == 0
    out = tmp_path / "run"
    code = main(["reproduce", "table1", "--dataset", "cifar10", "--cache-dir", cache, "--out", str(out), "--k", "4",
                 "--targets", "2", "--steps", "5", "--batch-size", "5", "--pool-size", "30"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "reduced CPU setup (--scale cpu), not the paper's" in printed
    results = json.loads((out / "results.json").read_text())
    spec = results["config"]["spec"]
    assert spec["hidden"] == [512] and spec["conv"] == [] and results["config"]["k"] == 4
    assert results["config"]["n_records"] == 60 and results["config"]["cutoffs"] == [0.0001, 0.001, 0.01]
    # --scale paper on a CPU warns that it takes more than a day; --scale cpu on a set without one is refused.
    code = main(["reproduce", "table1", "--dataset", "cifar10", "--scale", "paper", "--cache-dir", cache, "--out",
                 str(tmp_path / "run2"), "--k", "3", "--targets", "2", "--steps", "1", "--batch-size", "5", "--pool-size", "30"])
    assert code == 0 and "takes more than a day" in capsys.readouterr().out
    spec = json.loads((tmp_path / "run2" / "results.json").read_text())["config"]["spec"]
    assert spec["conv"] == [32, 64] and spec["hidden"] == [1024] and spec["image"] == [3, 32, 32]
    assert main(["reproduce", "table1", "--dataset", "cancer", "--scale", "cpu", "--out", str(tmp_path / "r3"), "--cache-dir", cache]) == 2
    assert "has no reduced setup; expected scale='paper' (--scale paper)" in capsys.readouterr().err
    # A CNN target as a model file, audited in-process: the CNN path of `model train` and `audit`.
    model = tmp_path / "cnn.safetensors"
    small = ["--scale", "paper", "--steps", "2", "--batch-size", "5", "--pool-size", "30", "--cache-dir", cache]
    assert main(["model", "train", "--dataset", "cifar10", "--out", str(model), *small]) == 0
    assert Model.load(model).params["cw1"].shape == (1, 64, 32, 5, 5)
    capsys.readouterr()
    code = main(["audit", "--dataset", "cifar10", "--target-model", str(model), "--members", str(model.with_suffix(".members.json")),
                 "--k", "3", "--delta", "1.5", "--beta", "100", "--out", str(tmp_path / "audit"), *small])
    assert code == 0, capsys.readouterr()
    audit = json.loads((tmp_path / "audit" / "results.json").read_text())
    assert audit["n_tested"] > 0


@pytest.mark.parametrize("argv, words", [
    (["--scale", "huge"], "unknown scale 'huge'; expected one of: paper, cpu"),
    (["--device", "tpu"], "unknown device 'tpu'"),
])
def test_cli_bad_scale_or_device_is_one_sentence(argv, words, tmp_path, capsys):
    code = main(["reproduce", "table1", "--dataset", "cancer", "--cache-dir", str(tmp_path / "c"), "--out", str(tmp_path / "o"), *argv])
    err = capsys.readouterr().err
    assert code == 2 and words in err and "Traceback" not in err and not (tmp_path / "o").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message of a machine without CUDA")
def test_cli_cuda_without_a_gpu_is_refused_before_work(tmp_path, capsys):
    code = main(["reproduce", "table1", "--dataset", "cancer", "--device", "cuda", "--cache-dir", str(tmp_path / "c"),
                 "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "sees no CUDA GPU" in err and "--device cpu" in err


def test_scales_and_presets():
    assert PRESETS["mnist"].spec.conv == (32, 64) and PRESETS["mnist"].spec.hidden == (1024,)
    assert PRESETS["mnist"].table1.n_selected == 16 and PRESETS["mnist"].table1_cutoffs == (0.0001, 0.001, 0.01)
    assert scaled_preset("mnist", None, "cpu") == ("cpu", CPU_SCALE["mnist"])
    assert scaled_preset("mnist", None, "cuda") == ("paper", None)
    assert scaled_preset("adult", None, "cpu") == ("paper", None)
    with pytest.raises(GmiaError, match="no reduced setup"):
        scaled_preset("adult", "cpu", "cpu")


def cnn_model(seed=0):
    data = tiny_images()
    spec = TrainSpec(conv=(3, 4), kernel=3, hidden=(5,), image=(1, 8, 8), activation="relu", lr=1e-2, steps=40, batch_size=8)
    sets = np.random.default_rng(seed).integers(0, len(data), size=(2, 40))
    params = train_stack(torch.from_numpy(data.x), torch.from_numpy(data.y), sets, spec, seed=seed, n_classes=2)
    zoo = Zoo(spec=spec, params=params, index_sets=sets, n_records=len(data), n_classes=2)
    return data, zoo


def test_cnn_model_file_matches_the_stack_and_is_batch_invariant(tmp_path):
    data, zoo = cnn_model()
    model = Model.from_zoo(zoo, 1, data.schema)
    path = model.save(tmp_path / "cnn.safetensors")
    loaded = Model.load(path)
    assert loaded.fingerprint() == model.fingerprint()
    logits = loaded.logits(data.x)
    np.testing.assert_allclose(logits, zoo.logits(data.x)[1], rtol=1e-4, atol=1e-5)
    # Alone or in any batch, a record gets the same bits: what makes served answers reproducible.
    single = np.concatenate([loaded.logits(data.x[i : i + 1]) for i in range(len(data))])
    assert np.array_equal(single, logits)
    assert np.array_equal(loaded.logits(data.x[7:30]), logits[7:30])


def test_cnn_model_file_refuses_a_schema_without_an_image():
    data, zoo = cnn_model()
    from gmia.data import Schema

    flat = Schema(features=data.schema.features, classes=data.schema.classes, label="label")
    with pytest.raises(GmiaError, match="no image shape"):
        Model.from_zoo(zoo, 0, flat)
    bad = {n: p[:1].clone() for n, p in zoo.params.items()}
    bad["cw1"] = bad["cw1"][:, :, :2]
    with pytest.raises(GmiaError, match="convolution 1 takes 2 channels but gets 3"):
        Model(params=bad, activation="relu", schema=data.schema)


def test_gaussian_queries_are_the_default_for_images():
    data = tiny_images()
    assert query_sigma(IndirectConfig(), data) == IMAGE_SIGMA
    assert query_sigma(IndirectConfig(sigma=0.05), data) == 0.05
    q = gaussian_queries(data.x[0], data.schema, 500, IMAGE_SIGMA, np.random.default_rng(0))
    assert q.min() >= 0.0 and q.max() <= 1.0  # projected back onto valid pixel values
    assert np.allclose(q * 255, np.round(q * 255), atol=1e-3)  # on the 0..255 grid
    assert not same_record(q, data.x[0]).any()
    # Near the record, not uniform noise: the mean query is the record, blurred only by clipping.
    assert np.abs(q.mean(0) - data.x[0]).mean() < 0.15


def test_report_draws_vulnerable_images_as_a_grid():
    data = tiny_images()
    cards = [{"record": i, "class": int(data.y[i]), "features": {"label": data.schema.classes[data.y[i]]},
              "image": {"shape": [1, 8, 8], "pixels": np.rint(data.x[i] * 255).astype(int).tolist()},
              "neighbours": 0, "expected_neighbours": 0.0, "reference_losses": [0.1, 0.2], "target_losses": [0.05, 0.3],
              "members": [True, False], "p_values": [0.001, 0.5]} for i in range(3)]
    html = sections.image_grid({"cards": cards, "decision_cutoff": 0.01}, None)
    assert "Vulnerable records as images (3)" in html and html.count("<image") >= 3
    assert "TP 1 FP 0" in html
    assert sections.image_grid({"cards": [{**cards[0], "image": None}]}, None) is None
    svg = figures.image_grid([{"shape": [3, 4, 4], "pixels": list(range(48))}], ["rgb"])
    assert re.search(r"<svg", svg)
