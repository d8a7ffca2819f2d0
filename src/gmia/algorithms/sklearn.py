"""A scikit-learn estimator or Pipeline as the training algorithm of reference models.

Each model is ``sklearn.base.clone(estimator)`` with every ``random_state`` (nested ones in a
Pipeline included) set to the model's own seed, and its thread parameters (``n_jobs``) to 1:
models train one per worker process, in parallel (`gmia.algorithms.train`), so a model that
also used every core would fight the others. Cloning keeps the user's parameters exactly:
this covers RandomForest, (Hist)GradientBoosting, LogisticRegression, MLPClassifier, SVC with
``probability=True``, and LightGBM's and XGBoost's scikit-learn classes.

What the model reads (gmia's encoded rows, or the original columns for a Pipeline that picks
them by name) and how its classes map to the data set's are `gmia.models.foreign`'s.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from gmia.algorithms.base import SameByKey, digest, package_version
from gmia.models.estimators import describe_estimator, public_name, recipe
from gmia.data import Schema
from gmia.base.errors import GmiaError
from gmia.models.foreign import aligned_proba, model_inputs, model_labels, reads_frame

THREAD_PARAMS = ("n_jobs", "nthread", "num_threads", "thread_count")


class SklearnAlgorithm(SameByKey):
    """Reference models cloned from ``estimator`` (fitted or not: only its parameters are used).

    ``frame``: True if the models read the original columns, False for encoded rows, None to
    decide from the estimator (`gmia.models.foreign.reads_frame`).
    """

    def __init__(self, estimator, frame: bool | None = None):
        from sklearn.base import clone

        if not (hasattr(estimator, "fit") and hasattr(estimator, "get_params")):
            raise GmiaError(f"training algorithm {type(estimator).__name__!r} is not a scikit-learn estimator; expected an "
                            "object with fit and get_params (a classifier or a Pipeline ending in one)")
        if not hasattr(estimator, "predict_proba"):
            raise GmiaError(f"estimator {type(estimator).__name__!r} has no predict_proba; expected a classifier that gives "
                            "probabilities (SVC needs probability=True)")
        self._frame = frame
        # A fitted estimator tells what it read (feature_names_in_); its clone has forgotten.
        self._seen = {a: getattr(estimator, a) for a in ("feature_names_in_", "n_features_in_") if hasattr(estimator, a)}
        self.estimator = clone(estimator)

    def reads_frame(self, schema: Schema) -> bool:
        if self._frame is not None:
            return self._frame
        return reads_frame(SimpleNamespace(**self._seen) if self._seen else self.estimator, schema)

    def describe(self) -> dict:
        return describe_estimator(self.estimator)

    def key(self) -> str:
        import sklearn

        # The recipe, not the whole description: seeds and threads are the model's own (`seeded`), so a
        # fitted target's clone and the same estimator named on the command line share their models.
        return digest("sklearn", recipe(self.describe()), package_version(self.estimator), f"sklearn=={sklearn.__version__}",
                      self._frame)

    def seeded(self, seed: int):
        """The clone that trains the model of ``seed``."""
        from sklearn.base import clone

        est = clone(self.estimator)
        params = est.get_params(deep=True)
        changes = {}
        for name in params:
            leaf = name.rsplit("__", 1)[-1]
            if leaf == "random_state":
                changes[name] = int(seed) % (2**31 - 1)
            elif leaf in THREAD_PARAMS and params[name] not in (None, 1):
                changes[name] = 1
        return est.set_params(**changes) if changes else est

    def fit_model(self, x: np.ndarray, y: np.ndarray, schema: Schema, seed: int):
        """The fitted clone of ``seed`` on encoded rows ``x`` and labels ``y`` (0..C-1): one
        reference model, or a target to deploy (`gmia.protocol.deployed`)."""
        frame = self.reads_frame(schema)
        est = self.seeded(seed)
        try:
            est.fit(model_inputs(x, schema, frame), model_labels(y, schema, frame))
        except ValueError as exc:
            raise GmiaError(f"{type(est).__name__} could not be fitted on a sample of {len(y)} records "
                            f"({' '.join(str(exc).split())[:160]}); expected an estimator that fits this data set") from None
        if getattr(est, "classes_", None) is None:
            raise GmiaError(f"fitted {type(est).__name__} has no classes_; expected a classifier")
        return est

    def fit_proba(self, x: np.ndarray, y: np.ndarray, schema: Schema, seed: int, queries: np.ndarray) -> np.ndarray:
        est = self.fit_model(x, y, schema, seed)
        frame = self.reads_frame(schema)
        return aligned_proba(est.predict_proba(model_inputs(queries, schema, frame)), est.classes_, schema,
                             by="name" if frame else "index")

    def __repr__(self) -> str:
        return f"SklearnAlgorithm({public_name(type(self.estimator))})"
