"""Image data sets as gmia sees them: one float32 row of pixels per image, with a schema.

MNIST and Fashion-MNIST come as IDX files (a big-endian header, then the raw array); CIFAR-10 as
uint8 arrays. `image_dataset` turns any ``[N, C, H, W]`` uint8 array into a
`gmia.data.schema.Dataset`: each pixel is a numeric feature ``pixel / 255`` in (C, H, W)
order, so the record decoder gives back the original 0..255 values and convolutional models can
fold the row back into an image (``schema.image``).
"""

from __future__ import annotations

import gzip
import zlib

import numpy as np

from gmia.data.schema import Dataset, Feature, Schema
from gmia.base.errors import GmiaError

# IDX type codes (third byte of the magic number) and the big-endian dtypes they stand for.
IDX_TYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
             0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
GZIP_MAGIC = b"\x1f\x8b"


def gunzip_if_needed(data: bytes, what: str = "idx data") -> bytes:
    """The bytes themselves, or their gzip decompression when they start with the gzip magic."""
    if data[:2] != GZIP_MAGIC:
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise GmiaError(f"{what} starts like gzip but cannot be decompressed ({reason}); expected a complete .gz file") from None


def read_idx(data: bytes, what: str = "idx data") -> np.ndarray:
    """Parse an IDX file (plain or gzip-compressed) into an array in native byte order.

    The header is two zero bytes, a type code, the number of dimensions, then one big-endian
    uint32 per dimension; the file must hold exactly that many values after it, so a truncated or
    padded download is refused instead of read as garbage. ``what`` names the file in errors.
    """
    data = gunzip_if_needed(bytes(data), what)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in IDX_TYPES or data[3] == 0:
        raise GmiaError(f"{what} starts with {data[:4].hex() or 'nothing'}; expected an IDX magic number "
                        "(00 00, a type code 08/09/0b/0c/0d/0e, and the number of dimensions)")
    dtype, ndim = IDX_TYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise GmiaError(f"{what} has {len(data)} bytes; expected at least {header} for the header of {ndim} dimensions")
    shape = tuple(int(v) for v in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        raise GmiaError(f"{what} has {len(data)} bytes; expected {expected} for shape {shape} of {dtype.name}")
    values = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return values.astype(dtype.newbyteorder("="))  # a writable copy in native order


def pixel_features(channels: int, height: int, width: int) -> tuple[Feature, ...]:
    """One numeric feature per pixel, in (C, H, W) order: ``px_{h}_{w}`` (one channel) or ``px{c}_{h}_{w}``.

    Every feature shares the same encoding (``raw = encoded * 255``, integers 0..255), so the
    tuple is built from a name list in one pass: MNIST's 784 and CIFAR's 3,072 take milliseconds.
    """
    if channels == 1:
        names = [f"px_{h}_{w}" for h in range(height) for w in range(width)]
    else:
        names = [f"px{c}_{h}_{w}" for c in range(channels) for h in range(height) for w in range(width)]
    return tuple(Feature(name=n, kind="numeric", group=n, low=0.0, high=1.0, integer=True, offset=0.0, scale=255.0)
                 for n in names)


# encoded value of each pixel value 0..255: float64 division then one rounding to float32, exactly
# as gmia.data.records.encode_records encodes a raw record, so served queries match local ones.
_PIXEL_LUT = (np.arange(256, dtype=np.float64) / 255.0).astype(np.float32)


def image_dataset(name: str, pixels: np.ndarray, labels: np.ndarray, classes: tuple[str, ...]) -> Dataset:
    """A `Dataset` of images: ``x`` is ``pixels / 255`` as float32 ``[N, C*H*W]``.

    ``pixels`` is uint8 ``[N, C, H, W]``, ``labels`` integers ``[N]`` in ``0..len(classes)-1``.
    The label column is called ``"label"``.
    """
    pixels = np.asarray(pixels)
    labels = np.asarray(labels)
    if pixels.dtype != np.uint8 or pixels.ndim != 4 or min(pixels.shape[1:], default=0) < 1:
        raise GmiaError(f"images of {name!r} are {pixels.dtype} of shape {pixels.shape}; expected uint8 [N, C, H, W]")
    if labels.ndim != 1 or len(labels) != len(pixels) or not np.issubdtype(labels.dtype, np.integer):
        raise GmiaError(f"labels of {name!r} are {labels.dtype} of shape {labels.shape}; expected {len(pixels)} integers")
    n, c, h, w = pixels.shape
    if n and (labels.min() < 0 or labels.max() >= len(classes)):
        raise GmiaError(f"labels of {name!r} run from {labels.min()} to {labels.max()}; expected 0..{len(classes) - 1}, "
                        "one per class name")
    x = np.take(_PIXEL_LUT, pixels.reshape(n, c * h * w))
    schema = Schema(features=pixel_features(c, h, w), classes=tuple(classes), label="label", image=(c, h, w))
    return Dataset(name=name, x=x, y=labels.astype(np.int64), schema=schema)


__all__ = ["image_dataset", "pixel_features", "read_idx"]
