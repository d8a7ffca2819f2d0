"""A classifier in an ONNX file: what `gmia serve` and `gmia audit --target-model` run when the
model is not one of gmia's own.

ONNX holds a computation graph and numbers, never code, so a provider can hand over a
scikit-learn model (a Pipeline with its preprocessing included) without anyone loading a pickle.
onnxruntime runs it; what gmia needs besides the graph travels in the file's ``metadata_props``:

- ``gmia.schema``: the data set's encoding (`gmia.data.Schema.to_dict` as JSON), which turns
  records into the rows or columns the model reads. A file without it needs ``schema=``.
- ``gmia.classes``: the model's output columns as the data set's class names (a JSON list);
  without it a probability tensor of C columns is taken to be in the schema's class order.
- ``gmia.inputs``: for a model of the original columns, the column behind each graph input, in
  order (skl2onnx renames ``education-num`` to ``education_num``); without it inputs are matched
  by name.
- ``gmia.estimator``: what the model is (`describe_estimator`), shown in results.

The graph reads either one float tensor ``[n, D]`` of encoded rows or one input per original
column (numbers as ``[n, 1]`` float or int64, categories as strings), as skl2onnx makes for a
Pipeline converted with one initial type per column. Its probability output is a tensor
(converted with ``zipmap=False``) or a ZipMap's list of ``{class: probability}``.
"""

from __future__ import annotations

import hashlib
import json
import re
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from gmia.data import Schema
from gmia.data.schema import decode_columns
from gmia.base.errors import GmiaError
from gmia.base.extras import require
from gmia.base.io import atomic_write_bytes
from gmia.models.estimators import describe_estimator, public_name  # noqa: F401  (public_name re-exported)
from gmia.models.foreign import aligned_proba, class_columns, reads_frame

EXTRA, FEATURE = "onnx", "ONNX models"  # what a missing onnxruntime or skl2onnx is reported for
SCHEMA_KEY, CLASSES_KEY, INPUTS_KEY, ESTIMATOR_KEY = "gmia.schema", "gmia.classes", "gmia.inputs", "gmia.estimator"
_DTYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64,
           "tensor(int32)": np.int32, "tensor(string)": object}


def _one_line(exc: Exception, limit: int = 200) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _json_prop(props: dict, key: str, where: str):
    try:
        return json.loads(props[key])
    except (json.JSONDecodeError, TypeError) as exc:
        raise GmiaError(f"ONNX file {where!r} has malformed {key!r} metadata ({_one_line(exc)}); expected JSON as "
                        "gmia.save_onnx writes it (see docs/serving.md)") from None


class OnnxModel:
    """A classifier in an ONNX file, answering as `gmia.models.file_format.Model` does (``predict_proba`` on
    encoded rows, ``schema``, ``n_classes``, ``info``, ``fingerprint``), so the server and the
    audit treat both alike.

    Each record is run on its own: onnxruntime's matrix kernels choose their blocking by batch
    size, so a record in a batch can differ in the last bits from the same record alone
    (measured: a LogisticRegression on Cancer), and a service must answer a record the same
    however it is batched. A record costs about 50 µs that way.
    """

    def __init__(self, data: bytes, schema: Schema | None = None, where: str = "model.onnx"):
        ort = require("onnxruntime", EXTRA, FEATURE)
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1  # one thread: the same sums every time
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own kinds (InvalidProtobuf, Fail, ...) for a bad file
            raise GmiaError(f"ONNX file {where!r} cannot be run by onnxruntime ({_one_line(exc)}); expected a .onnx "
                            "model such as gmia.save_onnx writes") from None
        meta = self._session.get_modelmeta()
        props = dict(meta.custom_metadata_map)
        self._digest = hashlib.sha256(data).hexdigest()
        if SCHEMA_KEY in props:
            self.schema = Schema.from_dict(_json_prop(props, SCHEMA_KEY, where), f"the schema in ONNX file {where!r}")
        elif schema is not None:
            self.schema = schema
        else:
            raise GmiaError(f"ONNX file {where!r} has no {SCHEMA_KEY!r} metadata and no schema was given; expected a file "
                            "written by gmia.save_onnx, or the data set's schema (OnnxModel.load(path, schema=data.schema))")
        self._feeds = self._inputs(props, where)
        self._output = self._probability_output(where)
        self._classes, self._by = self._class_order(props, where)
        self.info = {"source": "onnx", "producer": meta.producer_name,
                     "estimator": _json_prop(props, ESTIMATOR_KEY, where) if ESTIMATOR_KEY in props else None}
        if self._classes is None and self._output.type.startswith("tensor"):
            self.info["classes"] = "assumed in the data set's order (no gmia.classes metadata)"

    @classmethod
    def load(cls, path: str | Path, schema: Schema | None = None) -> "OnnxModel":
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise GmiaError(f"ONNX file {str(path)!r} cannot be read ({exc.strerror}); expected a .onnx file") from None
        return cls(data, schema, str(path))

    @property
    def n_classes(self) -> int:
        return len(self.schema.classes)

    @property
    def reads(self) -> str:
        """``"frame"`` (one input per original column) or ``"encoded rows"``."""
        return "encoded rows" if self._feeds[0][1] is None else "frame"

    def fingerprint(self) -> str:
        """sha256 of the file's bytes: the same as ``sha256sum model.onnx``, so anyone can check it."""
        return self._digest

    def _inputs(self, props: dict, where: str) -> list[tuple[str, str | None, object]]:
        """(graph input, original column or None for encoded rows, dtype to feed) per input."""
        inputs, groups = self._session.get_inputs(), self.schema.groups()
        if not inputs:
            raise GmiaError(f"ONNX file {where!r} has no inputs; expected one float tensor [n, {self.schema.n_features}] "
                            "of encoded rows or one input per column of the data set")
        for i in inputs:
            if i.type not in _DTYPES:
                raise GmiaError(f"the ONNX model's input {i.name!r} has type {i.type}; expected float, double, int64 "
                                "or string tensors")
        first = inputs[0]
        stacked = _json_prop(props, INPUTS_KEY, where) if INPUTS_KEY in props else None
        if isinstance(stacked, dict):  # a bare estimator on the original columns: one tensor of them, in this order
            columns = stacked.get("stacked")
            if len(inputs) != 1 or not isinstance(columns, list) or any(c not in groups for c in columns):
                raise GmiaError(f"ONNX file {where!r} names {columns!r} as the columns of its one input; expected the "
                                "data set's columns")
            return [(first.name, tuple(columns), _DTYPES[first.type])]
        if len(inputs) == 1 and first.name not in groups and first.type in ("tensor(float)", "tensor(double)"):
            width = first.shape[-1] if len(first.shape) == 2 else "?"
            if width != self.schema.n_features and not (isinstance(width, str) or width is None):
                raise GmiaError(f"the ONNX model reads rows of {width} features but the data set's encoding has "
                                f"{self.schema.n_features}; expected a model of this data set's encoded rows")
            return [(first.name, None, _DTYPES[first.type])]
        if INPUTS_KEY in props:
            columns = _json_prop(props, INPUTS_KEY, where)
            if not isinstance(columns, list) or len(columns) != len(inputs):
                raise GmiaError(f"ONNX file {where!r} names {columns!r} as its inputs' columns but has {len(inputs)} "
                                f"inputs; expected one column per input")
        else:
            plain = {re.sub(r"\W", "_", g): g for g in groups}
            columns = [i.name if i.name in groups else plain.get(i.name, i.name) for i in inputs]
        for i, column in zip(inputs, columns):
            if column not in groups:
                raise GmiaError(f"the ONNX model's input {i.name!r} is not a column of the data set ({', '.join(list(groups)[:8])}"
                                f"{', ...' if len(groups) > 8 else ''}); expected one input per column, or one float "
                                f"tensor [n, {self.schema.n_features}] of encoded rows")
        return [(i.name, column, _DTYPES[i.type]) for i, column in zip(inputs, columns)]

    def _probability_output(self, where: str):
        outputs = self._session.get_outputs()
        named = [o for o in outputs if "prob" in o.name.lower()]
        zipmaps = [o for o in outputs if o.type.startswith("seq(map")]
        tensors = [o for o in outputs if o.type in ("tensor(float)", "tensor(double)") and len(o.shape or []) == 2]
        found = (named or zipmaps or tensors)[:1]
        if not found:
            raise GmiaError(f"ONNX file {where!r} has no probability output (outputs: {', '.join(o.name for o in outputs)}); "
                            "expected a float tensor [n, classes] or a ZipMap, as skl2onnx converts a classifier")
        return found[0]

    def _class_order(self, props: dict, where: str):
        """The model's output columns as class names ("name") or indices ("index"); None: read
        from a ZipMap's keys, or the schema's order for a bare tensor."""
        if CLASSES_KEY not in props:
            width = self._output.shape[-1] if self._output.type.startswith("tensor") else None
            if isinstance(width, int) and width != self.n_classes:
                raise GmiaError(f"ONNX file {where!r} answers {width} probabilities per record but the data set has "
                                f"{self.n_classes} classes, and no {CLASSES_KEY!r} metadata says which; expected them equal")
            return None, None
        values = _json_prop(props, CLASSES_KEY, where)
        if not isinstance(values, list) or not values:
            raise GmiaError(f"ONNX file {where!r} has {CLASSES_KEY!r} metadata {values!r}; expected a list of class names")
        names = [str(v) for v in values]
        indices = all(re.fullmatch(r"\d+", n) and int(n) < self.n_classes for n in names)
        if indices and not all(n in self.schema.classes for n in names):  # labels 0..C-1 of encoded labels
            return np.asarray([int(n) for n in names]), "index"
        names = np.asarray(names, dtype=object)
        class_columns(names, self.schema, "name")  # one sentence naming a class the data set lacks
        return names, "name"

    def _feed(self, x: np.ndarray) -> dict[str, np.ndarray]:
        name, column, dtype = self._feeds[0]
        if column is None:
            return {name: x.astype(dtype)}
        cols = decode_columns(x, self.schema)
        if isinstance(column, tuple):  # the original columns as one tensor
            return {name: np.column_stack([np.asarray(cols[c], dtype=np.float64) for c in column]).astype(dtype)}
        shapes = {i.name: len(i.shape or [1, 1]) for i in self._session.get_inputs()}
        feed = {}
        for name, column, dtype in self._feeds:
            values = cols[column]
            values = np.array([str(v) for v in values], dtype=object) if dtype is object else values.astype(dtype)
            feed[name] = values.reshape(-1, 1) if shapes[name] == 2 else values
        return feed

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(np.asarray(x, dtype=np.float32))
        if x.ndim != 2 or x.shape[1] != self.schema.n_features:
            raise GmiaError(f"records of shape {x.shape} were given to the ONNX model; expected [n, {self.schema.n_features}] "
                            "encoded rows of its data set")
        if len(x) == 0:
            return np.zeros((0, self.n_classes))
        feed = self._feed(x)
        rows, keys = [], None
        for r in range(len(x)):
            try:
                out = self._session.run([self._output.name], {k: v[r : r + 1] for k, v in feed.items()})[0]
            except Exception as exc:  # onnxruntime's own error kinds
                raise GmiaError(f"onnxruntime failed on record {r} ({_one_line(exc)}); expected the model to accept "
                                "this data set's records") from None
            if isinstance(out, list):  # a ZipMap: [{class: probability}]
                keys = keys or list(out[0])
                out = [[row[k] for k in keys] for row in out]
            rows.append(np.asarray(out, dtype=np.float64).reshape(1, -1))
        proba = np.concatenate(rows)
        if keys is not None:
            return aligned_proba(proba, np.asarray(keys), self.schema)
        if self._classes is None:
            return aligned_proba(proba, np.arange(proba.shape[1]), self.schema, "index")
        return aligned_proba(proba, self._classes, self.schema, self._by)


@contextmanager
def _integer_missing_flags():
    """skl2onnx 1.20 writes a HistGradientBoosting leaf's missing-value flag as Python ``False``,
    which onnx >= 1.19 refuses in an integer attribute ("Expected an int, got a boolean"); pass it
    as an int while converting."""
    try:
        from skl2onnx.common import tree_ensemble
    except ImportError:
        yield
        return
    original = tree_ensemble.add_node

    def add_node(*args, **kwargs):
        if "nodes_missing_value_tracks_true" in kwargs:
            kwargs["nodes_missing_value_tracks_true"] = int(kwargs["nodes_missing_value_tracks_true"])
        return original(*args, **kwargs)

    tree_ensemble.add_node = add_node
    try:
        yield
    finally:
        tree_ensemble.add_node = original


def _initial_types(schema: Schema, frame: bool) -> list:
    from skl2onnx.common.data_types import FloatTensorType, Int64TensorType, StringTensorType

    if not frame:
        return [("x", FloatTensorType([None, schema.n_features]))]
    types = []
    for group, idx in schema.groups().items():
        f = schema.features[idx[0]]
        kind = StringTensorType if f.kind == "onehot" else Int64TensorType if f.integer else FloatTensorType
        types.append((group, kind([None, 1])))
    return types


BOOSTERS = {  # class name -> (module, onnxmltools converter module, converter function, skl2onnx alias)
    "LGBMClassifier": ("lightgbm", "onnxmltools.convert.lightgbm.operator_converters.LightGbm", "convert_lightgbm",
                       "LightGbmLGBMClassifier"),
    "XGBClassifier": ("xgboost", "onnxmltools.convert.xgboost.operator_converters.XGBoost", "convert_xgboost",
                      "XGBoostXGBClassifier"),
}


BOOSTER_OPSETS = {"": 15, "ai.onnx.ml": 3}  # what onnxmltools' booster converters write


def _register_booster(estimator) -> dict | None:
    """Teach skl2onnx a LightGBM or XGBoost classifier through onnxmltools' converter (skl2onnx's
    documented way: `update_registered_converter`), also inside a Pipeline; the opsets to convert
    with when there is one, else None."""
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes

    steps = [step for _, step in getattr(estimator, "steps", [])] or [estimator]
    opsets = None
    for step in steps:
        name = type(step).__name__
        if name not in BOOSTERS:
            continue
        opsets = BOOSTER_OPSETS
        module, converter_module, converter, alias = BOOSTERS[name]
        convert = getattr(require(converter_module, "boost", f"saving a {name} as ONNX"), converter)
        update_registered_converter(type(step), alias, calculate_linear_classifier_output_shapes, convert,
                                    options={"nocl": [True, False], "zipmap": [True, False, "columns"]})
    return opsets


def save_onnx(estimator, schema: Schema, path: str | Path) -> Path:
    """Convert a fitted scikit-learn classifier or Pipeline (or a LightGBM or XGBoost classifier,
    through onnxmltools' converters) with skl2onnx and write it, with the schema, its classes and
    its description, as an ONNX file `gmia serve` and `gmia audit` read.

    The estimator reads encoded rows (fitted on ``data.x``) or the original columns (a Pipeline
    fitted on ``data.raw()``, or a bare estimator fitted on the raw columns of an all-numeric data
    set); which one is read from the estimator (`gmia.models.foreign.reads_frame`).
    """
    skl2onnx = require("skl2onnx", EXTRA, FEATURE)
    require("onnx", EXTRA, FEATURE)
    from onnx.helper import set_model_props

    kind = type(estimator).__name__
    try:
        classes = estimator.classes_
    except Exception:  # unfitted: AttributeError, or a library's own NotFittedError
        raise GmiaError(f"the {kind} has no classes_; expected a fitted scikit-learn classifier (call fit first)") from None
    frame = reads_frame(estimator, schema)
    names = [schema.classes[c] for c in class_columns(np.asarray(classes), schema)]
    # A bare estimator on the original columns reads them as one tensor (it has no column selection of its own).
    stacked = frame and not hasattr(estimator, "steps") and not hasattr(estimator, "transformers")
    if stacked and any(schema.features[idx[0]].kind == "onehot" for idx in schema.groups().values()):
        raise GmiaError(f"the {kind} was fitted on the original columns, some of them categorical, which a bare estimator "
                        "cannot read; expected it fitted on the encoded rows (data.x) or a Pipeline that encodes them")
    types = _initial_types(schema, frame and not stacked)
    if stacked:
        from skl2onnx.common.data_types import FloatTensorType

        types = [("columns", FloatTensorType([None, len(schema.groups())]))]
    opsets = _register_booster(estimator)
    try:
        with _integer_missing_flags():
            onx = skl2onnx.to_onnx(estimator, initial_types=types, options={"zipmap": False}, target_opset=opsets)
    except Exception as exc:  # skl2onnx raises many kinds for a model it cannot convert
        raise GmiaError(f"the {kind} cannot be converted to ONNX ({_one_line(exc)}); expected a model skl2onnx supports "
                        "(scikit-learn trees, forests, boosting, linear models, MLPs, Pipelines of them) or a LightGBM or "
                        "XGBoost classifier") from None
    props = {SCHEMA_KEY: schema.to_json(), CLASSES_KEY: json.dumps(names),
             ESTIMATOR_KEY: json.dumps(describe_estimator(estimator, frame), sort_keys=True)}
    if stacked:
        props[INPUTS_KEY] = json.dumps({"stacked": list(schema.groups())})
    elif frame:
        props[INPUTS_KEY] = json.dumps([group for group, _ in types])
    set_model_props(onx, props)
    path = Path(path)
    atomic_write_bytes(path, onx.SerializeToString())
    return path


__all__ = ["OnnxModel", "describe_estimator", "public_name", "save_onnx"]
