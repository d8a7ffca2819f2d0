"""How a model that is not gmia's reads gmia's records, and how its answers are read back.

gmia's records are encoded rows ``x [n, D]`` (`gmia.data.Schema`). A scikit-learn estimator
or Pipeline may have been built on those rows, or on the data as it came (one column per
original feature, categories as strings: a Pipeline with a ``ColumnTransformer``). Which one is
read from the model: a fitted one's ``feature_names_in_`` names the schema's original columns
(the frame) or its encoded ones; an unfitted one reads the frame when it picks columns by name.

Labels go in the same way: encoded models get ``0..C-1``, frame models the class names, so a
Pipeline fitted on ``">50K"`` labels is matched by name. Answers come back as probabilities in
the schema's class order; a class a model never saw (a bootstrap sample can miss a rare one)
gets probability 0.

Models without logits (trees, most Pipelines) give probabilities only. Their logit features
(docs/algorithms.md, "Models without logits") are the centred log-probabilities
``z_c = log max(p_c, PROBA_FLOOR) - mean_c' log max(p_c', PROBA_FLOOR)``: for a softmax model
these equal its centred logits exactly, ``softmax(z)`` gives back the probabilities, and a tree's
0 or 1 gives a finite loss of at most ``-log PROBA_FLOOR`` (27.6) instead of infinity.
"""

from __future__ import annotations

import numpy as np

from gmia.data import Schema
from gmia.data.schema import decode_columns
from gmia.base.errors import GmiaError

PROBA_FLOOR = 1e-12  # CHOICE: far below any probability a model states, far above float64's 1e-308


def proba_logits(proba: np.ndarray) -> np.ndarray:
    """Centred log-probabilities ``[..., C]`` float32 of probabilities ``[..., C]`` (module docstring)."""
    z = np.log(np.clip(np.asarray(proba, dtype=np.float64), PROBA_FLOOR, None))
    return (z - z.mean(axis=-1, keepdims=True)).astype(np.float32)


def reads_frame(estimator, schema: Schema) -> bool:
    """True if ``estimator`` reads the data as it came (one column per original feature), False
    if it reads gmia's encoded rows."""
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        names = [str(n) for n in names]
        if names == list(schema.groups()):
            return True
        if names == schema.names:
            return False
        missing = [g for g in schema.groups() if g not in names]
        raise GmiaError(f"the model was fitted on columns {names[:6]}{' ...' if len(names) > 6 else ''}, which are neither "
                        f"the data set's columns nor its encoded features (first missing: {(missing or ['?'])[0]!r}); "
                        "expected a model fitted on this data set")
    if getattr(estimator, "n_features_in_", None) is not None:
        return False  # fitted on a bare array: gmia's encoded rows
    return _selects_by_name(estimator)


def _selects_by_name(estimator) -> bool:
    """An unfitted Pipeline or ColumnTransformer whose column selections are names."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline):
        return bool(estimator.steps) and _selects_by_name(estimator.steps[0][1])
    if isinstance(estimator, ColumnTransformer):
        return any(isinstance(c, str) or (isinstance(c, list | tuple) and c and isinstance(c[0], str))
                   for _, _, c in estimator.transformers)
    return False


def model_inputs(x: np.ndarray, schema: Schema, frame: bool):
    """Encoded rows ``x`` as the model reads them: the rows themselves, or a DataFrame of the
    original columns (numbers decoded, categories as strings)."""
    if not frame:
        return np.ascontiguousarray(x, dtype=np.float32)
    import pandas as pd

    return pd.DataFrame(decode_columns(x, schema))


def model_labels(y: np.ndarray, schema: Schema, frame: bool) -> np.ndarray:
    """Labels ``0..C-1`` as the model is fitted on them: as they are, or as class names."""
    return np.asarray(schema.classes, dtype=object)[y] if frame else np.asarray(y, dtype=np.int64)


def class_columns(classes, schema: Schema, by: str | None = None) -> np.ndarray:
    """For each of a model's ``classes_``, its column in the schema's class order.

    ``by="index"``: the labels are ``0..C-1`` (a model gmia fitted on encoded labels);
    ``"name"``: they are class names. ``None`` (a model someone else fitted) decides: integer
    labels that name every class (Cancer's 2 and 4) are names, other integers in ``0..C-1``
    are indices, anything else is a name.
    """
    classes = np.asarray(classes)
    n = len(schema.classes)
    if by is None:
        names_all = sorted(map(str, classes.tolist())) == sorted(schema.classes)
        integer = classes.dtype.kind in "iu" and classes.size > 0
        by = "index" if integer and not names_all and classes.min() >= 0 and classes.max() < n else "name"
    if by == "index":
        return classes.astype(np.int64)
    names = {c: i for i, c in enumerate(schema.classes)}
    cols = [names.get(str(c)) for c in classes.tolist()]
    bad = [c for c, i in zip(classes.tolist(), cols) if i is None]
    if bad:
        raise GmiaError(f"the model's class {bad[0]!r} is not one of the data set's classes {list(schema.classes)}; "
                        "expected a model fitted on this data set's labels (as names or as 0..C-1)")
    return np.asarray(cols, dtype=np.int64)


def aligned_proba(proba: np.ndarray, classes, schema: Schema, by: str | None = None) -> np.ndarray:
    """``predict_proba``'s answer ``[n, len(classes)]`` as ``[n, C]`` float64 in the schema's order
    (``by``: see `class_columns`)."""
    proba = np.asarray(proba, dtype=np.float64)
    cols = class_columns(classes, schema, by)
    if proba.ndim != 2 or proba.shape[1] != len(cols):
        raise GmiaError(f"the model's predict_proba answered shape {proba.shape}; expected one column per class of its "
                        f"classes_ ({len(cols)})")
    out = np.zeros((proba.shape[0], len(schema.classes)))
    out[:, cols] = proba
    return out


def module_proba(module, x: np.ndarray, classes, outputs: str = "logits", block: int = 4096,
                 name: str = "the torch module") -> np.ndarray:
    """A ``torch.nn.Module``'s probabilities ``[n, C]`` float64 of the ``classes`` on encoded rows ``x``.

    In eval mode (BatchNorm on its running statistics, no dropout), each submodule's own mode
    restored afterwards; without gradients; ``block`` rows at a time on the module's device and
    dtype. ``outputs="logits"``: softmax is applied; ``"probabilities"``: taken as they are.
    """
    import torch

    n_classes = len(classes)
    first = next(module.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    dtype = first.dtype if first is not None and first.is_floating_point() else torch.float32
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    outs = []
    try:
        with torch.no_grad():
            for i in range(0, len(x), block):
                rows = torch.from_numpy(np.ascontiguousarray(x[i : i + block], dtype=np.float32)).to(device=device, dtype=dtype)
                out = module(rows)
                shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                if shape != (len(rows), n_classes):
                    what = "logit" if outputs == "logits" else "probability"
                    raise GmiaError(f"{name} answered {shape} for {len(rows)} records; expected a tensor ({len(rows)}, "
                                    f"{n_classes}): one {what} per class of {list(classes)}")
                outs.append(out)
    finally:
        for m, training in modes:
            m.training = training
    if not outs:
        return np.empty((0, n_classes))
    z = torch.cat(outs).to(device="cpu", dtype=torch.float64)
    return (torch.softmax(z, dim=-1) if outputs == "logits" else z).numpy()
