"""Training algorithms from text: a named estimator with JSON parameters, or ``FILE.py:factory``.

``--algorithm hist-gradient-boosting --algorithm-params '{"max_iter": 200}'`` builds scikit-learn's
``HistGradientBoostingClassifier(max_iter=200)``; ``--algorithm my_models.py:build`` imports
the user's file and calls ``build(**params)``, which returns an unfitted estimator (or Pipeline)
or a train function (`gmia.algorithms.function`). The file is the user's own code, run as
they would run it; nothing is ever unpickled.

A factory from a file travels to worker processes as (file, name, parameters) and is imported
again there, so a class defined in that file works in every worker.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import sys
from pathlib import Path

from gmia.algorithms.base import Algorithm, SameByKey, digest
from gmia.base.errors import GmiaError

# name -> (module, class, parameters that make it behave as the docs promise)
ESTIMATORS = {
    "hist-gradient-boosting": ("sklearn.ensemble", "HistGradientBoostingClassifier", {}),
    "gradient-boosting": ("sklearn.ensemble", "GradientBoostingClassifier", {}),
    "random-forest": ("sklearn.ensemble", "RandomForestClassifier", {}),
    "extra-trees": ("sklearn.ensemble", "ExtraTreesClassifier", {}),
    "logistic-regression": ("sklearn.linear_model", "LogisticRegression", {"max_iter": 1000}),
    "mlp": ("sklearn.neural_network", "MLPClassifier", {}),
    "svc": ("sklearn.svm", "SVC", {"probability": True}),
    "lightgbm": ("lightgbm", "LGBMClassifier", {"verbose": -1}),
    "xgboost": ("xgboost", "XGBClassifier", {}),
}


def parse_params(text) -> dict:
    """``--algorithm-params``: a JSON object (or a dict, from Python)."""
    if text is None:
        return {}
    if isinstance(text, dict):
        return dict(text)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GmiaError(f"algorithm parameters {text!r} are not JSON ({exc.msg}); expected an object such as "
                        '\'{"max_iter": 200}\'') from None
    if not isinstance(value, dict):
        raise GmiaError(f"algorithm parameters {text!r} are not a JSON object; expected e.g. '{{\"max_iter\": 200}}'")
    return value


def named_estimator(name: str, params: dict | None = None):
    """The unfitted estimator ``name`` (see ESTIMATORS) with ``params``."""
    key = name.strip().lower()
    if key not in ESTIMATORS:
        raise GmiaError(f"unknown training algorithm {name!r}; expected one of: {', '.join(ESTIMATORS)}, gmia (the stacked "
                        "trainer), or FILE.py:FACTORY")
    module, cls, defaults = ESTIMATORS[key]
    try:
        estimator_class = getattr(importlib.import_module(module), cls)
    except ImportError:
        hint = "pip install 'gmia[boost]'" if module == "lightgbm" else f"pip install {module}"
        raise GmiaError(f"the {key} algorithm needs the package {module}; install it with: {hint}") from None
    try:
        return estimator_class(**{**defaults, **(params or {})})
    except TypeError as exc:
        raise GmiaError(f"parameters {sorted(params or {})} do not fit {cls} ({exc}); expected its constructor's "
                        "keyword arguments") from None


class FactoryAlgorithm(SameByKey):
    """``FILE.py:factory``: whatever the factory returns (an estimator or a train function), built
    afresh in each process from the file, so the references always run the user's current code."""

    def __init__(self, path: str | Path, factory: str, params: dict | None = None):
        self.path, self.factory, self.params = Path(path).resolve(), factory, dict(params or {})
        if not self.path.is_file():
            raise GmiaError(f"algorithm file {str(path)!r} does not exist; expected FILE.py:FACTORY with an existing Python file")
        self.file_sha256 = hashlib.sha256(self.path.read_bytes()).hexdigest()
        self._built = None
        self.built()  # fail now, not in a worker

    def built(self) -> Algorithm:
        if self._built is None:
            module = _import_file(self.path, self.file_sha256)
            factory = getattr(module, self.factory, None)
            if not callable(factory):
                raise GmiaError(f"{self.path.name} has no function {self.factory!r}; expected FILE.py:FACTORY naming a function "
                                "that returns an unfitted estimator or a train(X, y, seed) function")
            made = factory(**self.params)
            self._built = as_algorithm(made)
        return self._built

    def describe(self) -> dict:
        return {**self.built().describe(), "source": f"{self.path.name}:{self.factory}"}

    def key(self) -> str:
        return digest("factory", self.file_sha256, self.factory, self.params, self.built().key())

    def fit_proba(self, *args, **kwargs):
        return self.built().fit_proba(*args, **kwargs)

    def fit_model(self, *args, **kwargs):
        inner = self.built()
        if not hasattr(inner, "fit_model"):
            raise GmiaError(f"{self.path.name}:{self.factory} gives a train function, whose models stay in your code; "
                            "expected a factory that returns a scikit-learn estimator to write a model file")
        return inner.fit_model(*args, **kwargs)

    def reads_frame(self, schema) -> bool:
        inner = self.built()
        return inner.reads_frame(schema) if hasattr(inner, "reads_frame") else False

    def __getstate__(self):
        return {**self.__dict__, "_built": None}  # rebuilt from the file in the worker

    def __repr__(self) -> str:
        return f"FactoryAlgorithm({self.path.name}:{self.factory})"


def _import_file(path: Path, sha: str):
    name = f"gmia_user_algorithm_{sha[:16]}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise GmiaError(f"algorithm file {path.name} failed to import ({type(exc).__name__}: {' '.join(str(exc).split())[:160]}); "
                        "expected a Python file that imports cleanly") from None
    return module


def as_algorithm(value, params=None) -> Algorithm | None:
    """An `Algorithm` from what a user gives: None (gmia's stacked trainer), an Algorithm, an
    estimator, a train function, a name from ESTIMATORS, ``"gmia"``, or ``"FILE.py:factory"``."""
    from gmia.algorithms.function import TrainFunction
    from gmia.algorithms.sklearn import SklearnAlgorithm

    params = parse_params(params)
    if value is None or (isinstance(value, str) and value.strip().lower() in ("gmia", "stacked")):
        if params:
            raise GmiaError("algorithm parameters are given for gmia's stacked trainer; expected its own options "
                            "(hidden=, steps=, lr=, ... or --hidden, --steps, --lr, ...) instead")
        return None
    if isinstance(value, str | Path):
        text = str(value)
        file, sep, factory = text.rpartition(":")
        if sep and file.endswith(".py"):
            return FactoryAlgorithm(file, factory, params)
        if text.endswith(".py"):
            raise GmiaError(f"algorithm {text!r} names a file but no factory; expected FILE.py:FACTORY")
        return SklearnAlgorithm(named_estimator(text, params))
    if params:
        raise GmiaError("algorithm parameters are given with an algorithm object; expected them set on the object itself")
    if hasattr(value, "fit_proba") and hasattr(value, "key"):
        return value
    if hasattr(value, "fit") and hasattr(value, "get_params"):
        return SklearnAlgorithm(value)
    if callable(value):
        return TrainFunction(value)
    raise GmiaError(f"training algorithm {value!r} is not supported; expected a scikit-learn estimator or Pipeline, a "
                    "train(X, y, seed) function, a name (" + ", ".join(ESTIMATORS) + ") or FILE.py:FACTORY")
