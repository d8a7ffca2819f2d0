"""Training algorithms for target and reference models (docs/algorithms.md).

gmia's stacked trainer (`gmia.zoo`, the fast path: K models at once) is the default. Any
other algorithm (`SklearnAlgorithm` for a scikit-learn estimator or Pipeline, `TrainFunction`
for a user's ``train(X, y, seed)``, `FactoryAlgorithm` for ``FILE.py:factory``) trains one
model per task in worker processes (`train_outputs`) and is known by its outputs (`OutputZoo`).
`as_algorithm` builds one from what a user gives; `same_recipe` compares two descriptions, and
`gmia.matching` chooses an audit's references to match its target.
"""

from gmia.algorithms.base import Algorithm, canonical, same_recipe
from gmia.algorithms.function import TrainFunction
from gmia.algorithms.named import ESTIMATORS, FactoryAlgorithm, as_algorithm, named_estimator, parse_params
from gmia.algorithms.outputs import OutputZoo
from gmia.algorithms.sklearn import SklearnAlgorithm
from gmia.algorithms.train import default_workers, train_outputs

__all__ = ["Algorithm", "ESTIMATORS", "FactoryAlgorithm", "OutputZoo", "SklearnAlgorithm", "TrainFunction", "as_algorithm",
           "canonical", "default_workers", "named_estimator", "parse_params", "same_recipe", "train_outputs"]
