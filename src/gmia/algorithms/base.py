"""What a training algorithm is to gmia: a recipe that fits one model on an index set, seeded.

GMIA's premise (docs/algorithm.md, "Threat model") is that the reference models M_1..M_k are
trained *with the same training algorithm* as the target, on records from the same
population. So the algorithm is an object of its own: gmia's stacked trainer (K models at
once, `gmia.zoo`), a scikit-learn estimator or Pipeline (`clone` + `fit`), or a user's train
function. Every one but the stacked trainer is known to the attack through its outputs on the
data set's records, the centred log-probabilities of `gmia.models.foreign.proba_logits`; those
are what `gmia.algorithms.train.train_outputs` stores, one file per model, content-addressed
by `Algorithm.key`.

`describe()` is what the audit prints and the report shows beside the target's own
description, so a user sees whether target and references match.
"""

from __future__ import annotations

import hashlib
import json
from typing import Protocol, runtime_checkable

import numpy as np

from gmia.data import Schema
from gmia.models.estimators import canonical, same_recipe  # noqa: F401  (same_recipe re-exported: gmia.algorithms)


@runtime_checkable
class Algorithm(Protocol):
    """A training algorithm: ``fit_proba(x, y, schema, seed, queries)`` trains one model on the
    encoded rows ``x`` with labels ``y`` (0..C-1) and returns its probabilities ``[n, C]`` on
    the rows ``queries``, in ``schema.classes`` order. ``describe()`` is a JSON-able dict;
    ``key()`` a text that changes whenever the models it trains may change."""

    def fit_proba(self, x: np.ndarray, y: np.ndarray, schema: Schema, seed: int, queries: np.ndarray) -> np.ndarray: ...

    def describe(self) -> dict: ...

    def key(self) -> str: ...


class SameByKey:
    """Two algorithms are equal when their keys are: the same recipe trains the same models, so
    two configurations naming it (from the command line and from Python) compare equal."""

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other.key() == self.key()

    def __hash__(self) -> int:
        return hash(self.key())


def qualname(obj) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__qualname__)}"


def digest(*parts) -> str:
    """sha256 of the canonical JSON of ``parts``."""
    text = json.dumps([canonical(p) for p in parts], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def package_version(obj) -> str:
    """The version of the package ``obj``'s class comes from (its models may change with it)."""
    import importlib

    top = (getattr(obj, "__module__", "") or "").split(".")[0]
    try:
        return f"{top}=={getattr(importlib.import_module(top), '__version__', '?')}"
    except ImportError:
        return f"{top}==?"


def describe_text(description: dict | None) -> str:
    """One line for people: ``HistGradientBoostingClassifier(max_iter=50)``, ``train_net()
    from nets.py``; the parameters shown are those set away from the class's defaults."""
    if not description:
        return "unknown"
    kind = description.get("kind")
    if kind == "sklearn":
        name = description["estimator"].rsplit(".", 1)[-1]
        changed = dict(description.get("changed", {}))
        steps = changed.pop("steps", None) if name == "Pipeline" else None
        # A pipeline reads as its steps in order, "scale: StandardScaler() → clf: LogisticRegression(C=0.5)",
        # not as the nested lists of its parameters.
        inner = [" → ".join(f"{step}: {_short_value(est)}" for step, est in steps)] if steps else []
        text = f"{name}(" + ", ".join(inner + [f"{k}={_short_value(v)}" for k, v in changed.items()]) + ")"
    elif kind == "function":
        text = f"{description['function'].rsplit('.', 1)[-1]}(X, y, seed)"
    elif kind == "gmia":
        text = description.get("text", "gmia stacked trainer")
    else:
        text = str(description.get("text") or kind)
    return text + (f" from {description['source']}" if description.get("source") else "")


def _short_value(value) -> str:
    if isinstance(value, dict) and "estimator" in value:
        return describe_text({"kind": "sklearn", "estimator": value["estimator"], "changed": value.get("changed", {})})
    if isinstance(value, list):
        return "[" + ", ".join(_short_value(v) for v in value) + "]"
    return repr(value)
