"""Where fetched image sets live in the cache, and how files get there.

``cache_root/data/NAME`` holds one set: the four verified IDX files for MNIST and Fashion-MNIST
(`gmia.data.fetch_images`), ``.npy`` arrays and ``meta.json`` for CIFAR-10
(`gmia.data.cifar10`). Every file is written atomically, the one that completes a copy last,
so a copy is either whole or absent.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gmia.data.fetch import data_dir
from gmia.base.errors import GmiaError, option

IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
CIFAR_FILES = ("train_images.npy", "train_labels.npy", "test_images.npy", "test_labels.npy", "meta.json")

Progress = Callable[[str], None]


def image_dir(cache_root: Path, name: str) -> Path:
    return data_dir(cache_root) / name


def cached_files(cache_root: Path, name: str) -> list[Path]:
    """The files that make a complete copy of ``name`` in the cache (the last one is written last)."""
    folder = image_dir(cache_root, name)
    return [folder / f for f in (CIFAR_FILES if name == "cifar10" else IDX_FILES)]


def is_fetched(cache_root: Path, name: str) -> bool:
    return all(p.exists() for p in cached_files(cache_root, name))


def write_cached(path: Path, data: bytes) -> None:
    """Atomic write, with an unwritable cache turned into one sentence."""
    from gmia.base.io import atomic_write_bytes

    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise GmiaError(f"cache folder {str(path.parent)!r} cannot be written ({exc.strerror}); expected a writable "
                        f"folder (pass another with {option('cache-dir')})") from None


def already_fetched(cache_root: Path, name: str, progress: Progress) -> bool:
    """True (and says so) when ``name`` is complete in the cache: a fetch then reads nothing."""
    if is_fetched(cache_root, name):
        progress(f"{name} is already in {image_dir(cache_root, name)}")
        return True
    return False
