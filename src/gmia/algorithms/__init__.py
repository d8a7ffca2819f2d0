"""Training algorithms for target and reference models (docs/algorithms.md).

gmia's stacked trainer (`gmia.zoo`, the fast path: K models at once) is the default. Any
other algorithm (`SklearnAlgorithm` for a scikit-learn estimator or Pipeline, `TrainFunction`
for a user's ``train(X, y, seed)``, `FactoryAlgorithm` for ``FILE.py:factory``) trains one
model per task in worker processes (`train_outputs`) and is known by its outputs (`OutputZoo`).
`as_algorithm` builds one from what a user gives; `same_recipe` compares two descriptions, and
`gmia.auditing.matching` chooses an audit's references to match its target.
"""

from gmia.base.extras import lazy_exports

# Loaded on first use: a configuration naming an algorithm does not import torch (OutputZoo) or
# joblib (train_outputs) before its options are checked.
_EXPORTS = {
    "Algorithm": "gmia.algorithms.base", "canonical": "gmia.algorithms.base", "same_recipe": "gmia.algorithms.base",
    "TrainFunction": "gmia.algorithms.function", "ESTIMATORS": "gmia.algorithms.named",
    "FactoryAlgorithm": "gmia.algorithms.named", "as_algorithm": "gmia.algorithms.named",
    "named_estimator": "gmia.algorithms.named", "parse_params": "gmia.algorithms.named",
    "OutputZoo": "gmia.algorithms.outputs", "SklearnAlgorithm": "gmia.algorithms.sklearn",
    "default_workers": "gmia.algorithms.train", "train_outputs": "gmia.algorithms.train",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
