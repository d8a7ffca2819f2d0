"""What an encoded tabular data set looks like: features, classes, records.

Every model and attack in gmia works on a dense ``float32`` matrix. The
`Schema` keeps what is needed to read that matrix back: which encoded
columns came from which original column (one-hot groups), their observed
ranges, and how to undo the numeric normalisation (``offset``/``scale``), so a
record can be shown to a person as it appeared in the source file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, ValidationError

from gmia.base.errors import GmiaError, invalid_document

KINDS = ("numeric", "onehot")
MAX_DECIMALS = 10  # beyond this a float64 holds no more of what a person typed


@dataclass(frozen=True)
class Feature:
    """One encoded column.

    Parameters
    ----------
    name : str
        ``"age"`` for a numeric column, ``"workclass=Private"`` for one-hot.
    kind : str
        ``"numeric"`` or ``"onehot"``.
    group : str
        The original column; equals ``name`` for a numeric feature.
    low, high : float
        Observed range of the *encoded* column (0.0 and 1.0 for one-hot).
    integer : bool
        The raw (decoded) values are integers, e.g. Cancer's 1..10.
    offset, scale : float
        ``raw = encoded * scale + offset``; lets `Dataset.raw` decode
        numeric columns. Defaults (0, 1) mean "not normalised".
    decimals : int or None
        Decimal places of the raw values in the source (0..10), so a record is shown as it was
        given (16.02, not the float32 round trip 16.019999920975938). Display only: it is left
        out of equality and of `Schema.to_json` (the fingerprints), so models cached or saved
        before it existed stay valid. None: unknown (show the exact decoded value).
    """

    name: str
    kind: str
    group: str
    low: float
    high: float
    integer: bool = False
    offset: float = 0.0
    scale: float = 1.0
    decimals: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise GmiaError(f"feature {self.name!r} has kind {self.kind!r}; expected one of: numeric, onehot")
        d = self.decimals
        if d is not None and (isinstance(d, bool) or not isinstance(d, (int, np.integer)) or not 0 <= d <= MAX_DECIMALS):
            raise GmiaError(f"feature {self.name!r} has decimals {d!r}; expected a whole number from 0 to {MAX_DECIMALS}, or None")
        if d is not None:
            object.__setattr__(self, "decimals", int(d))

    @property
    def category(self) -> str | None:
        """The category value of a one-hot column (the part after ``group=``)."""
        if self.kind != "onehot":
            return None
        return self.name[len(self.group) + 1 :]


class FeatureDoc(BaseModel):
    """A feature of a schema document from outside: strict types, no coercion (``low: "abc"``,
    ``high: null`` and ``integer: 1`` are refused)."""

    model_config = ConfigDict(extra="forbid")
    name: StrictStr = Field(min_length=1)
    kind: Literal["numeric", "onehot"]
    group: StrictStr = Field(min_length=1)
    low: StrictFloat = Field(allow_inf_nan=False)
    high: StrictFloat = Field(allow_inf_nan=False)
    integer: StrictBool = False
    offset: StrictFloat = Field(0.0, allow_inf_nan=False)
    scale: StrictFloat = Field(1.0, allow_inf_nan=False)
    decimals: StrictInt | None = None


class SchemaDoc(BaseModel):
    """The declared shape of `Schema.to_dict`, which every schema from outside is checked against:
    a model file's header, an ONNX file's metadata, a remote service's ``/v1/schema``."""

    model_config = ConfigDict(extra="forbid")
    label: StrictStr
    classes: list[StrictStr] = Field(min_length=1)
    features: list[FeatureDoc] = Field(min_length=1)
    image: tuple[StrictInt, StrictInt, StrictInt] | None = None


@dataclass(frozen=True)
class Schema:
    """Features, class names and label column of an encoded data set.

    ``image`` is ``(channels, height, width)`` for image data: each record's features are then
    its pixels flattened in that (C, H, W) order, so convolutional models can fold them back
    and reports can draw them. ``None`` for tabular data.
    """

    features: tuple[Feature, ...]
    classes: tuple[str, ...]
    label: str
    image: tuple[int, int, int] | None = None

    def __post_init__(self) -> None:
        # Accept lists (e.g. from JSON) but store tuples so the schema stays hashable.
        object.__setattr__(self, "features", tuple(self.features))
        object.__setattr__(self, "classes", tuple(str(c) for c in self.classes))
        if self.image is not None:
            image = tuple(int(v) for v in self.image)
            if len(image) != 3 or min(image) < 1 or image[0] * image[1] * image[2] != len(self.features):
                raise GmiaError(f"image shape {image} does not fit {len(self.features)} features; expected "
                                "(channels, height, width) whose product is the number of features")
            object.__setattr__(self, "image", image)

    @property
    def n_features(self) -> int:
        return len(self.features)

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    def groups(self) -> dict[str, list[int]]:
        """Original column -> encoded column indices, in feature order.

        A one-hot group has one index per category; a numeric column one index.
        """
        out: dict[str, list[int]] = {}
        for i, feat in enumerate(self.features):
            out.setdefault(feat.group, []).append(i)
        return out

    def to_dict(self) -> dict:
        """JSON-able form; `from_dict` inverts it exactly. ``image`` and a feature's
        ``decimals`` appear only when set, so schemas without them read as before."""
        out = self.encoding_dict()
        for f, d in zip(self.features, out["features"]):
            if f.decimals is not None:
                d["decimals"] = f.decimals
        return out

    def encoding_dict(self) -> dict:
        """`to_dict` less the display-only fields (``decimals``): everything that changes what a
        model reads. Two schemas with equal encodings read the same records the same way, even
        when one was written before ``decimals`` existed (`gmia.auditing.run.check_schema`)."""
        out = {
            "label": self.label,
            "classes": list(self.classes),
            "features": [
                {
                    "name": f.name,
                    "kind": f.kind,
                    "group": f.group,
                    "low": float(f.low),
                    "high": float(f.high),
                    "integer": bool(f.integer),
                    "offset": float(f.offset),
                    "scale": float(f.scale),
                }
                for f in self.features
            ],
        }
        if self.image is not None:
            out["image"] = list(self.image)
        return out

    @classmethod
    def from_dict(cls, data: dict, source: str = "schema") -> "Schema":
        """The schema of a `to_dict` document, checked against its declared shape (`SchemaDoc`)
        first: a schema read from a model file or a remote service with ``low: "abc"`` or
        ``high: null`` is refused in one sentence naming ``source``, not deep inside numpy."""
        try:
            doc = SchemaDoc.model_validate(data)
        except ValidationError as exc:
            raise invalid_document(exc, source, "the output of Schema.to_dict (label, classes, features with name, kind, "
                                   "group, finite low and high, ...)") from None
        feats = tuple(Feature(**f.model_dump(exclude_none=True)) for f in doc.features)
        return cls(features=feats, classes=tuple(doc.classes), label=doc.label,
                   image=None if doc.image is None else tuple(doc.image))

    def to_json(self) -> str:
        """Canonical JSON of the encoding, what the data set and model fingerprints hash.

        Display-only fields (``decimals``) are left out: showing 16.02 instead of
        16.019999920975938 changes no encoded value, so it must not invalidate cached models.
        """
        return json.dumps(self.encoding_dict(), sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True, eq=False)
class Dataset:
    """An encoded data set: ``x`` float32 [N, D], ``y`` int64 [N] in 0..C-1.

    ``eq=False`` because comparing arrays element-wise in ``==`` is never what a
    caller means; use `fingerprint` to tell data sets apart.
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    schema: Schema

    def __post_init__(self) -> None:
        x = np.ascontiguousarray(self.x, dtype=np.float32)
        y = np.ascontiguousarray(self.y, dtype=np.int64)
        if x.ndim != 2 or y.ndim != 1 or len(x) != len(y):
            raise GmiaError(f"data set {self.name!r} has x of shape {x.shape} and y of shape {y.shape}; expected [N, D] and [N]")
        if x.shape[1] != self.schema.n_features:
            raise GmiaError(f"data set {self.name!r} has {x.shape[1]} columns but its schema {self.schema.n_features}; expected them equal")
        if len(y) and (y.min() < 0 or y.max() >= len(self.schema.classes)):
            raise GmiaError(f"data set {self.name!r} has labels outside 0..{len(self.schema.classes) - 1}; expected one per class name")
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)

    @property
    def n_classes(self) -> int:
        return len(self.schema.classes)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def fingerprint(self) -> str:
        """sha256 of x bytes, y bytes and the schema JSON: a cache key.

        The name is left out on purpose, so the same data loaded under two
        names shares cached models. Computed once per data set: every stack
        it trains asks for it, and hashing census takes a second.
        """
        if "_fingerprint" not in self.__dict__:
            h = hashlib.sha256()
            h.update(self.x.data)
            h.update(self.y.data)
            h.update(self.schema.to_json().encode("utf-8"))
            object.__setattr__(self, "_fingerprint", h.hexdigest())
        return self.__dict__["_fingerprint"]

    def raw(self):
        """The decoded records as a ``pandas.DataFrame`` (for display).

        Numeric columns are ``x * scale + offset``, rounded to whole numbers where
        ``integer`` and to the source's decimal places where the feature has ``decimals``
        (display only: `decode_columns` keeps the exact values); a one-hot
        group shows its hot category (the largest column, so slightly perturbed records still
        decode).
        """
        import pandas as pd

        cols: dict[str, object] = dict(round_columns(decode_columns(self.x, self.schema), self.schema))
        cols[self.schema.label] = np.array(self.schema.classes, dtype=object)[self.y]
        return pd.DataFrame(cols)


def duplicate_groups(x: np.ndarray) -> np.ndarray:
    """Id of each row's group of identical feature rows, int64 [N].

    Why: on a small integer-valued set like Cancer many records are exact
    copies of each other, and a non-member whose twin is a member looks like a
    member to any attack. Rows ``i`` and ``j`` are twins iff
    ``groups[i] == groups[j]``; ids are 0..G-1 in lexicographic row order.
    """
    x = np.asarray(x)
    if x.ndim != 2:
        raise GmiaError(f"duplicate_groups got an array of shape {x.shape}; expected a 2-D [N, D] array")
    if len(x) == 0:
        return np.zeros(0, dtype=np.int64)
    _, inverse = np.unique(x, axis=0, return_inverse=True)
    return np.asarray(inverse, dtype=np.int64).reshape(-1)


def encoded_ranges(x: np.ndarray) -> list[tuple[float, float]]:
    """Observed (min, max) of each column of the *float32* matrix."""
    if len(x) == 0:
        return [(0.0, 0.0)] * x.shape[1]
    return [(float(lo), float(hi)) for lo, hi in zip(x.min(axis=0), x.max(axis=0))]


__all__ = ["Feature", "Schema", "Dataset", "duplicate_groups", "encoded_ranges"]


def decode_columns(x: np.ndarray, schema: Schema) -> dict[str, np.ndarray]:
    """Encoded rows ``[n, D]`` → one array per original column (raw numbers, category names).

    Numeric columns are ``x * scale + offset`` in float64 (rounded to int64 where ``integer``);
    a one-hot group decodes to its largest column, so slightly perturbed rows still decode.
    """
    x = np.atleast_2d(np.asarray(x, dtype=np.float32))
    cols: dict[str, np.ndarray] = {}
    for group, idx in schema.groups().items():
        feats = [schema.features[i] for i in idx]
        if feats[0].kind == "numeric":
            f = feats[0]
            vals = x[:, idx[0]].astype(np.float64) * f.scale + f.offset
            cols[group] = np.rint(vals).astype(np.int64) if f.integer else vals
        else:
            cats = np.array([f.category for f in feats], dtype=object)
            cols[group] = cats[np.argmax(x[:, idx], axis=1)]
    return cols


def round_columns(cols: dict[str, np.ndarray], schema: Schema, x: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Numeric columns of `decode_columns` rounded to each feature's ``decimals`` (as given in
    the source); integer columns, categories and features without ``decimals`` are left alone.

    With the encoded rows ``x``, a value is rounded only where the rounded number encodes back
    to ``x``'s float32 value bit for bit: a source record shows as typed, while a row that is not
    one (a perturbed query) keeps its exact decoded value, so `encode_records` still inverts it.
    """
    out = dict(cols)
    enc = None if x is None else np.atleast_2d(np.asarray(x, dtype=np.float32))
    for group, idx in schema.groups().items():
        f = schema.features[idx[0]]
        if f.kind != "numeric" or f.integer or f.decimals is None:
            continue
        vals = np.asarray(cols[group], dtype=np.float64)
        rounded = np.round(vals, f.decimals)
        if enc is not None:
            # float64 arithmetic then one rounding to float32, exactly as encode_records does
            same = ((rounded - f.offset) / f.scale).astype(np.float32) == enc[:, idx[0]]
            rounded = np.where(same, rounded, vals)
        out[group] = rounded
    return out
