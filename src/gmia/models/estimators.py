"""Estimators as JSON: what results show, what an ONNX file records, and the recipe it rebuilds.

One description for every place a scikit-learn-style estimator is named (a target in results,
the references' algorithm, an ONNX file's metadata), so that two of them can be compared: the
references match the target when their descriptions agree on everything but seeds, threads and
logging (`same_recipe`). The description is structural: a nested estimator (a Pipeline's
steps, a ColumnTransformer's transformers) is described by class and parameters in turn, never
by its repr, which scikit-learn truncates past 700 characters.

`rebuild` makes the unfitted estimator back from a description, so an ONNX file written by
`gmia.save_onnx` tells an audit how to train matching references. It imports classes only
from scikit-learn, LightGBM and XGBoost (``REBUILDABLE``): a description is data from a file,
and naming any other module in it must not run that module's code.
"""

from __future__ import annotations

import importlib
import math
import re
import sys

import numpy as np

from gmia.base.errors import GmiaError

# Parameters that change how fast a model trains or how much it prints, never which model it is.
NOT_RECIPE = ("random_state", "n_jobs", "verbose", "verbosity", "nthread", "num_threads", "silent", "warm_start", "memory")
REBUILDABLE = ("sklearn", "lightgbm", "xgboost")
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def public_name(cls: type) -> str:
    """``sklearn.ensemble.HistGradientBoostingClassifier`` rather than the private module that
    defines it: the shortest already-imported module path that exports the class."""
    parts = cls.__module__.split(".")
    for i in range(1, len(parts) + 1):
        module = sys.modules.get(".".join(parts[:i]))
        try:
            exported = getattr(module, cls.__qualname__, None) if module is not None else None
        except Exception:  # a package's lazy __getattr__ may raise anything for a name it lacks
            exported = None
        if exported is cls:
            return f"{'.'.join(parts[:i])}.{cls.__qualname__}"
    return f"{cls.__module__}.{cls.__qualname__}"


def canonical(value):
    """A JSON-able form of a parameter value that is the same for equal recipes: estimators by
    class and parameters (recursively), arrays as lists, callables by name, the rest by repr
    without memory addresses."""
    if hasattr(value, "get_params") and not isinstance(value, type):
        try:
            params = canonical(value.get_params(deep=False))
        except Exception:  # a get_params that needs more than the estimator's own attributes
            params = {}
        return {"estimator": public_name(type(value)), "params": params, "changed": _changed(type(value), params)}
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    if isinstance(value, np.ndarray):
        return canonical(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, type) or callable(value):
        return public_name(value) if isinstance(value, type) else f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', '?')}"
    return _ADDRESS.sub("", " ".join(repr(value).split()))


def _changed(cls, params: dict) -> dict:
    """The parameters that differ from ``cls()``'s (those set, if it has no defaults)."""
    try:
        defaults = canonical(cls().get_params(deep=False))
    except Exception:  # a class whose constructor needs arguments (a Pipeline's steps)
        return {k: v for k, v in params.items() if k not in NOT_RECIPE and v not in (None, False)}
    return {k: v for k, v in params.items() if defaults.get(k, object()) != v and k not in NOT_RECIPE}


def describe_estimator(estimator, frame: bool | None = None) -> dict:
    """``{"kind": "sklearn", "estimator", "params", "changed", "reads"}`` for a scikit-learn-style
    estimator, fitted or not (``reads``: the original columns or encoded rows, when known)."""
    out = {"kind": "sklearn", **canonical(estimator)}
    if frame is not None:
        out["reads"] = "frame" if frame else "encoded rows"
    return out


def recipe(description: dict) -> dict:
    """``description`` without what does not change the model (seeds, threads, logging, where it came from)."""
    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k.rsplit("__", 1)[-1] not in NOT_RECIPE}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value
    return strip({k: v for k, v in description.items() if k not in ("reads", "source", "changed")})


def same_recipe(a: dict | None, b: dict | None) -> bool | None:
    """True if two descriptions name the same algorithm and parameters (seeds and threads aside),
    False if they differ, None if either is unknown."""
    if not a or not b or "unknown" in (a.get("kind"), b.get("kind")):
        return None
    return recipe(a) == recipe(b)


def rebuild(description: dict):
    """The unfitted estimator a description names (module docstring: only ``REBUILDABLE`` packages)."""
    def build(value):
        if isinstance(value, dict) and "estimator" in value and "params" in value:
            cls = _class(value["estimator"])
            # Only what was set away from the defaults: a default such as dtype=numpy.float64 stays
            # the class's own object instead of its name.
            params = {k: build(v) for k, v in value.get("changed", value["params"]).items()}
            try:
                return cls(**params)
            except TypeError as exc:
                raise GmiaError(f"the recorded estimator {value['estimator']} does not take its recorded parameters "
                                f"({exc}); expected a description written by this version of its package") from None
        if isinstance(value, list):
            items = [build(v) for v in value]
            # (name, estimator) pairs and (name, transformer, columns) triples were tuples
            return [tuple(v) if isinstance(v, list) and v and isinstance(v[0], str) and len(v) in (2, 3) else v for v in items]
        return value
    return build({k: description[k] for k in ("estimator", "params", "changed") if k in description})


def _class(name) -> type:
    module, _, cls = str(name).rpartition(".")
    if module.split(".")[0] not in REBUILDABLE:
        raise GmiaError(f"the recorded estimator {name!r} is not from {', '.join(REBUILDABLE)}; expected one of their "
                        "classes (gmia imports no other module a file names)")
    try:
        found = getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError):
        raise GmiaError(f"the recorded estimator {name!r} cannot be imported here; expected its package installed") from None
    if not isinstance(found, type):
        raise GmiaError(f"the recorded estimator {name!r} is not a class; expected an estimator class")
    return found
