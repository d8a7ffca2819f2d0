"""One trained model as a file: what `gmia serve` loads and what a provider hands to an audit.

Format (``*.safetensors``, documented in docs/model-format.md): the tensors ``w0, b0, w1, b1, ...``
with shapes ``[1, in, out]`` and ``[1, out]`` (the stacked layout of `gmia.zoo.stacked` with
K = 1), for a CNN first ``cw0, cb0, ...`` of shapes ``[1, out, in, k, k]`` and ``[1, out]`` (each a
'same'-padded convolution, the activation, 2x2 max pooling, on the schema's image shape), and one header metadata entry ``"gmia.model"`` holding JSON: format version, activation,
the data schema (feature names, encoding, classes) and where the model came from. safetensors
holds only numbers and text, so loading a file never runs code, unlike a pickle.

A scikit-learn or torch model is converted by its owner, in their own process, with
`from_sklearn` or `from_torch`; the server only ever reads the converted file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load as load_bytes, save
from scipy.special import expit, softmax

from gmia.data import Schema
from gmia.base.errors import GmiaError
from gmia.zoo import Zoo, stacked

FORMAT = "gmia.model"
FORMAT_VERSION = 1
ACTIVATIONS = ("tanh", "relu", "sigmoid")
_NUMPY_ACTIVATIONS = {"tanh": np.tanh, "relu": lambda v: np.maximum(v, 0.0), "sigmoid": expit}


@dataclass(frozen=True, eq=False)
class Model:
    """A feed-forward classifier on encoded rows: softmax regression, an MLP or a CNN.

    ``predict_proba(x)`` returns float64 probabilities ``[n, C]``; the same function answers
    local queries and the HTTP service, so both paths give bit-identical numbers.
    """

    params: dict[str, torch.Tensor]
    activation: str
    schema: Schema
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.activation not in ACTIVATIONS:
            raise GmiaError(f"model activation {self.activation!r} is not supported; expected one of: {', '.join(ACTIVATIONS)}")
        layers = stacked.n_layers(self.params)
        sizes = [self._check_convolutions()] if stacked.n_conv(self.params) else []
        for i in range(layers):
            w, b = self.params.get(f"w{i}"), self.params.get(f"b{i}")
            if w is None or b is None or w.dim() != 3 or w.shape[0] != 1 or tuple(b.shape) != (1, w.shape[2]):
                raise GmiaError(f"model layer {i} has malformed tensors; expected w{i} [1, in, out] and b{i} [1, out]")
            if sizes and sizes[-1] != w.shape[1]:
                raise GmiaError(f"model layer {i} takes {w.shape[1]} inputs but the layer before gives {sizes[-1]}; expected them equal")
            sizes += [w.shape[1], w.shape[2]] if not sizes else [w.shape[2]]
        if layers == 0:
            raise GmiaError("model has no layers; expected tensors w0, b0, ...")
        if stacked.n_conv(self.params):
            sizes[0] = self.schema.n_features  # the convolutions were checked against the image above
        if sizes[0] != self.schema.n_features or sizes[-1] != len(self.schema.classes):
            raise GmiaError(
                f"model maps {sizes[0]} inputs to {sizes[-1]} classes but its schema has {self.schema.n_features} "
                f"features and {len(self.schema.classes)} classes; expected them equal"
            )

    def _check_convolutions(self) -> int:
        """Check the convolution tensors against the schema's image; return their flat output size."""
        if self.schema.image is None:
            raise GmiaError("model has convolution layers but its schema no image shape; expected a schema of image data")
        channels, height, width = self.schema.image
        for i in range(stacked.n_conv(self.params)):
            w, b = self.params.get(f"cw{i}"), self.params.get(f"cb{i}")
            if (w is None or b is None or w.dim() != 5 or w.shape[0] != 1 or w.shape[3] != w.shape[4]
                    or w.shape[3] % 2 == 0 or tuple(b.shape) != (1, w.shape[1])):
                raise GmiaError(f"model convolution {i} has malformed tensors; expected cw{i} [1, out, in, k, k] (k odd) and cb{i} [1, out]")
            if w.shape[2] != channels:
                raise GmiaError(f"model convolution {i} takes {w.shape[2]} channels but gets {channels}; expected them equal")
            channels, height, width = w.shape[1], height // 2, width // 2
            if min(height, width) < 1:
                raise GmiaError(f"model convolution {i} pools the image to nothing; expected fewer convolution layers")
        return channels * height * width

    @property
    def n_classes(self) -> int:
        return len(self.schema.classes)

    def _conv_features(self, h: np.ndarray) -> np.ndarray:
        """The convolution blocks in float64, one record at a time: a batched convolution picks
        its kernel by batch shape and rounds differently (measured: the second layer of the
        MNIST CNN differs in the last bits between a batch of 100 and single records)."""
        act = stacked._ACTIVATIONS[self.activation]
        weights = [(self.params[f"cw{i}"][0].double(), self.params[f"cb{i}"][0].double())
                   for i in range(stacked.n_conv(self.params))]
        out = []
        for row in torch.from_numpy(h):
            z = row.view(1, *self.schema.image)
            for w, b in weights:
                z = F.max_pool2d(act(F.conv2d(z, w, b, padding=w.shape[-1] // 2)), 2)
            out.append(z.reshape(-1))
        return torch.stack(out).numpy() if out else np.zeros((0, 0))

    def logits(self, x: np.ndarray) -> np.ndarray:
        """``[n, C]`` float64 logits, each row computed by the same sequence of operations
        whatever the batch: a BLAS matmul picks its kernel by batch shape and rounds
        differently, and a service must answer a record the same alone or in a batch."""
        h = np.atleast_2d(np.asarray(x, dtype=np.float32)).astype(np.float64)
        if stacked.n_conv(self.params):
            h = self._conv_features(h)
        act = _NUMPY_ACTIVATIONS[self.activation]
        layers = stacked.n_layers(self.params)
        for i in range(layers):
            w = self.params[f"w{i}"][0].double().numpy()
            out = np.broadcast_to(self.params[f"b{i}"][0].double().numpy(), (h.shape[0], w.shape[1])).copy()
            for d in range(w.shape[0]):  # fixed summation order over the inputs
                out += h[:, d : d + 1] * w[d]
            h = act(out) if i < layers - 1 else out
        return h

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return softmax(self.logits(x), axis=-1)

    def fingerprint(self) -> str:
        """sha256 of the tensors and the schema: names this exact model in caches and logs."""
        h = hashlib.sha256()
        for name in sorted(self.params):
            h.update(name.encode() + b"\0" + self.params[name].contiguous().numpy().tobytes())
        h.update(self.activation.encode() + b"\0" + self.schema.to_json().encode())
        return h.hexdigest()

    def to_bytes(self) -> bytes:
        header = {"format_version": FORMAT_VERSION, "activation": self.activation,
                  "schema": self.schema.to_dict(), "info": self.info}
        tensors = {n: p.detach().to(torch.float32).contiguous() for n, p in self.params.items()}
        return save(tensors, metadata={FORMAT: json.dumps(header, sort_keys=True)})

    def save(self, path: str | Path) -> Path:
        """Write the model file; its name must end in .safetensors, the format it holds (a file
        named .onnx or .pkl would be refused by gmia's own audit and serve)."""
        from gmia.base.io import atomic_write_bytes

        path = Path(path)
        if path.suffix.lower() != ".safetensors":
            raise GmiaError(f"model file {str(path)!r} has the suffix {path.suffix.lower() or '(none)'!r}; expected a "
                            ".safetensors path: a gmia model is written as safetensors (ONNX: gmia.save_onnx)")
        atomic_write_bytes(path, self.to_bytes())
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Model":
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise GmiaError(f"model file {str(path)!r} cannot be read ({exc.strerror}); expected a .safetensors file written by gmia") from None
        return cls.from_bytes(data, str(path))

    @classmethod
    def from_bytes(cls, data: bytes, where: str = "model") -> "Model":
        try:
            tensors = load_bytes(data)
            meta = _metadata(data)
        except (SafetensorError, ValueError, json.JSONDecodeError) as exc:
            raise GmiaError(f"model file {where!r} is not a safetensors file ({_one_line(exc)}); expected one written by gmia (see docs/model-format.md)") from None
        if FORMAT not in meta:
            raise GmiaError(f"model file {where!r} has no {FORMAT!r} metadata; expected a file written by gmia (see docs/model-format.md)")
        try:
            header = json.loads(meta[FORMAT])
            version = header["format_version"]
            if version != FORMAT_VERSION:
                raise GmiaError(f"model file {where!r} has format version {version}; expected {FORMAT_VERSION}")
            return cls(params=tensors, activation=header["activation"], schema=Schema.from_dict(header["schema"], f"the schema in model file {where!r}"),
                       info=header.get("info", {}))
        except (KeyError, TypeError, json.JSONDecodeError) as exc:
            raise GmiaError(f"model file {where!r} has malformed {FORMAT!r} metadata ({_one_line(exc)}); expected the JSON of docs/model-format.md") from None

    @classmethod
    def from_zoo(cls, zoo: Zoo, index: int, schema: Schema, info: dict | None = None) -> "Model":
        """Model ``index`` of a trained stack."""
        params = {n: p[index : index + 1].clone() for n, p in zoo.params.items()}
        return cls(params=params, activation=zoo.spec.activation, schema=schema,
                   info={"source": "gmia", "spec": zoo.spec.model_dump(mode="json"), **(info or {})})


def _metadata(data: bytes) -> dict:
    n = int.from_bytes(data[:8], "little")
    if len(data) < 8 + n:
        raise ValueError("header is truncated")
    return json.loads(data[8 : 8 + n]).get("__metadata__", {}) or {}


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def _two_class(w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A single logistic output z becomes logits (0, z): softmax of them is (1 − σ(z), σ(z))."""
    return np.concatenate([np.zeros_like(w), w], axis=1), np.concatenate([np.zeros_like(b), b])


def _from_layers(layers: list[tuple[np.ndarray, np.ndarray]], activation: str, schema: Schema, info: dict) -> Model:
    params = {}
    for i, (w, b) in enumerate(layers):
        params[f"w{i}"] = torch.as_tensor(np.asarray(w, dtype=np.float32))[None].contiguous()
        params[f"b{i}"] = torch.as_tensor(np.asarray(b, dtype=np.float32))[None].contiguous()
    return Model(params=params, activation=activation, schema=schema, info=info)


def from_sklearn(estimator, schema: Schema) -> Model:
    """Convert a fitted ``LogisticRegression`` or ``MLPClassifier`` trained on ``schema``'s encoding.

    Its ``classes_`` must be ``0..C-1`` (the encoded labels). Binary models, which sklearn keeps
    as one logistic output, become two logits (0, z) with the same probabilities.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    classes = np.asarray(getattr(estimator, "classes_", []))
    if not np.array_equal(classes, np.arange(len(schema.classes))):
        raise GmiaError(f"estimator classes {classes.tolist()} do not match the schema's {len(schema.classes)} classes; expected labels 0..{len(schema.classes) - 1}")
    info = {"source": f"sklearn.{type(estimator).__name__}"}
    if isinstance(estimator, LogisticRegression):
        w, b = estimator.coef_.T, estimator.intercept_
        if w.shape[1] == 1:
            w, b = _two_class(w, b)
        return _from_layers([(w, b)], "tanh", schema, info)
    if isinstance(estimator, MLPClassifier):
        act = {"tanh": "tanh", "relu": "relu", "logistic": "sigmoid"}.get(estimator.activation)
        if act is None:
            raise GmiaError(f"MLPClassifier activation {estimator.activation!r} is not supported; expected tanh, relu or logistic")
        if estimator.out_activation_ not in ("softmax", "logistic"):
            raise GmiaError(f"MLPClassifier output {estimator.out_activation_!r} is not supported; expected a single-label classifier")
        layers = list(zip(estimator.coefs_, estimator.intercepts_))
        if estimator.out_activation_ == "logistic":
            layers[-1] = _two_class(*layers[-1])
        return _from_layers(layers, act, schema, info)
    raise GmiaError(f"estimator type {type(estimator).__name__!r} is not supported; expected LogisticRegression or MLPClassifier")


def from_torch(module: torch.nn.Module, schema: Schema) -> Model:
    """Convert a ``torch.nn.Sequential`` of ``Linear`` layers with one kind of activation between
    them (ReLU, Tanh or Sigmoid) whose outputs are the class logits."""
    kinds = {torch.nn.ReLU: "relu", torch.nn.Tanh: "tanh", torch.nn.Sigmoid: "sigmoid"}
    layers, acts = [], set()
    for i, sub in enumerate(module.children() if isinstance(module, torch.nn.Sequential) else [module]):
        if isinstance(sub, torch.nn.Linear):
            w = sub.weight.detach().numpy().T
            b = sub.bias.detach().numpy() if sub.bias is not None else np.zeros(w.shape[1], np.float32)
            layers.append((w, b))
        elif type(sub) in kinds:
            acts.add(kinds[type(sub)])
        elif not isinstance(sub, (torch.nn.Dropout, torch.nn.Identity)):
            raise GmiaError(f"torch layer {i} ({type(sub).__name__}) is not supported; expected Linear, ReLU, Tanh, Sigmoid or Dropout")
    if len(acts) > 1:
        raise GmiaError(f"torch model mixes activations {sorted(acts)}; expected one kind between its Linear layers")
    return _from_layers(layers, acts.pop() if acts else "tanh", schema, {"source": f"torch.{type(module).__name__}"})
