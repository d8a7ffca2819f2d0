"""Training algorithms that are not gmia stacks: built from what users give, trained in parallel
worker processes, stored per model, reused, and read back as the attacks read a stack."""

from __future__ import annotations

import numpy as np
import pytest

import gmia
from gmia.algorithms import (FactoryAlgorithm, OutputZoo, SklearnAlgorithm, TrainFunction, as_algorithm, same_recipe,
                             train_outputs)
from gmia.algorithms.base import describe_text
from gmia.base.errors import GmiaError
from gmia.models.foreign import PROBA_FLOOR, proba_logits
from gmia.stats.signals import log_loss
from gmia.zoo import ZooStore

HGB = '{"max_iter": 10}'


@pytest.fixture(scope="module")
def sets(cancer):
    return np.sort(np.random.default_rng(0).choice(len(cancer), (4, 150)), axis=1)


def _train(alg, data, sets, root, workers=1, seed=3, **kw):
    return train_outputs(alg, data, sets, seed, ZooStore(root, workers=workers), **kw)


def test_named_algorithms_take_json_parameters_and_refuse_bad_ones():
    alg = as_algorithm("hist-gradient-boosting", HGB)
    assert isinstance(alg, SklearnAlgorithm) and alg.estimator.max_iter == 10
    assert describe_text(alg.describe()) == "HistGradientBoostingClassifier(max_iter=10)"
    assert as_algorithm("svc").estimator.probability  # SVC gives probabilities only with probability=True
    assert as_algorithm(None) is None and as_algorithm("gmia") is None
    # The same recipe named twice is one algorithm: configurations resolved from the CLI and Python compare equal.
    assert as_algorithm("hist-gradient-boosting", HGB) == alg and as_algorithm("hist-gradient-boosting") != alg
    assert gmia.ReproduceConfig.resolve("cancer", algorithm="random-forest") == \
        gmia.ReproduceConfig.resolve("cancer", algorithm="random-forest", algorithm_params="{}")
    with pytest.raises(GmiaError, match="unknown training algorithm 'boosted'"):
        as_algorithm("boosted")
    with pytest.raises(GmiaError, match="not JSON"):
        as_algorithm("random-forest", "{n_estimators: 3}")
    with pytest.raises(GmiaError, match="do not fit RandomForestClassifier"):
        as_algorithm("random-forest", {"n_estimator": 3})
    with pytest.raises(GmiaError, match="no factory"):
        as_algorithm("models.py")


@pytest.mark.slow
def test_models_are_seeded_the_same_in_one_or_two_workers_and_reused(tmp_path, cancer, sets):
    alg = as_algorithm("hist-gradient-boosting", HGB)
    one = _train(alg, cancer, sets, tmp_path / "a", workers=1)
    two = _train(alg, cancer, sets, tmp_path / "b", workers=2)
    assert one.outputs.shape == (4, len(cancer), 2) and np.array_equal(one.outputs, two.outputs)
    assert not np.array_equal(one.outputs[0], one.outputs[1])  # each model has its own seed and index set
    other_seed = _train(alg, cancer, sets, tmp_path / "a", seed=4)
    assert other_seed.key != one.key

    ticks = []
    def progress(description, total, done, unit=None):
        ticks.append((total, done, unit))
        return lambda n: ticks.append(n)

    (tmp_path / "b" / two.key / "model_00002.safetensors").unlink()  # an interrupted run: one model missing
    again = _train(alg, cancer, sets, tmp_path / "b", workers=2, progress=progress)
    assert ticks == [(4, 3, "models"), 1] and np.array_equal(again.outputs, one.outputs)
    ticks.clear()
    _train(alg, cancer, sets, tmp_path / "b", workers=2, progress=progress)
    assert ticks == []  # all stored: nothing trains


def test_output_zoo_reads_records_by_their_rows_and_refuses_new_rows(tmp_path, cancer, sets):
    zoo = _train(as_algorithm("logistic-regression"), cancer, sets, tmp_path)
    assert isinstance(zoo, OutputZoo) and zoo.membership.shape == (4, len(cancer))
    assert zoo.membership[0, sets[0]].all() and zoo.membership[0].sum() == len(np.unique(sets[0]))
    rows = [10, 3, 3, 600]
    assert np.array_equal(zoo.logits(cancer.x[rows]), zoo.outputs[:, rows])
    assert np.array_equal(zoo.subset([2]).logits(cancer.x)[0], zoo.outputs[2])
    with pytest.raises(GmiaError, match="row 1 asked of the sklearn reference models is not a record"):
        zoo.logits(np.stack([cancer.x[0], cancer.x[0] + 0.5]))


def test_probabilities_of_zero_and_one_give_finite_losses(tmp_path, cancer, sets):
    forest = _train(as_algorithm("random-forest", {"n_estimators": 5}), cancer, sets, tmp_path)
    proba = np.exp(forest.outputs.astype(np.float64))
    proba /= proba.sum(-1, keepdims=True)
    assert (proba.min() < 1e-9) and (proba.max() > 1 - 1e-9)  # a forest of 5 trees says 0 and 1
    loss = log_loss(forest.outputs, cancer.y)
    assert np.isfinite(loss).all() and loss.max() == pytest.approx(-np.log(PROBA_FLOOR), rel=1e-4)
    z = proba_logits(np.array([[0.0, 1.0], [0.25, 0.75]]))
    assert np.allclose(z.sum(-1), 0) and np.allclose(np.exp(z[1]) / np.exp(z[1]).sum(), [0.25, 0.75])


@pytest.mark.slow
def test_a_pipeline_on_the_original_columns_trains_on_class_names(tmp_path):
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    adult = gmia.load_dataset("adult")
    data = gmia.Dataset("adult-small", adult.x[:1500], adult.y[:1500], adult.schema)
    cats = [g for g, idx in data.schema.groups().items() if data.schema.features[idx[0]].kind == "onehot"]
    pipe = Pipeline([("encode", ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), cats)],
                                                  remainder=StandardScaler())),
                     ("model", LogisticRegression(max_iter=300))])
    alg = as_algorithm(pipe)
    assert alg.reads_frame(data.schema)
    sets = np.sort(np.random.default_rng(1).choice(len(data), (2, 600)), axis=1)
    zoo = _train(alg, data, sets, tmp_path)
    # Model 0, fitted here on the frame with labels "<=50K"/">50K", gives the same probabilities.
    raw = data.raw()
    frame, labels = raw.drop(columns=[data.schema.label]), raw[data.schema.label]
    own = alg.seeded(0).fit(frame.iloc[sets[0]], labels.iloc[sets[0]])
    assert list(own.classes_) == list(data.schema.classes)
    assert np.allclose(zoo.outputs[0], proba_logits(own.predict_proba(frame)), atol=1e-5)


def test_a_class_missing_from_a_sample_gets_probability_zero(tmp_path, cancer):
    benign = np.flatnonzero(cancer.y == 0)[:100]
    mixed = np.sort(np.concatenate([benign[:60], np.flatnonzero(cancer.y == 1)[:40]]))
    from sklearn.dummy import DummyClassifier

    zoo = _train(as_algorithm(DummyClassifier(strategy="prior")), cancer, np.stack([benign, mixed]), tmp_path)
    z = zoo.outputs
    assert (z[0, :, 0] > z[0, :, 1]).all() and np.isfinite(log_loss(z, cancer.y)).all()
    assert np.allclose(np.exp(z[1, 0]) / np.exp(z[1, 0]).sum(), [0.6, 0.4], atol=1e-6)


FACTORY = '''
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression


class Shrunk(ClassifierMixin, BaseEstimator):
    """A class defined in the user's own file: workers import the file again to build it."""

    def __init__(self, c=1.0, random_state=None):
        self.c, self.random_state = c, random_state

    def fit(self, x, y):
        self.inner_ = LogisticRegression(C=self.c, max_iter=500).fit(x, y)
        self.classes_ = self.inner_.classes_
        return self

    def predict_proba(self, x):
        return self.inner_.predict_proba(x)


def build(c=1.0):
    return Shrunk(c=c)


def train(x, y, seed):
    return LogisticRegression(max_iter=500).fit(x, y)


def trainer():
    return train
'''


@pytest.mark.slow
def test_a_factory_file_builds_estimators_and_train_functions_in_every_worker(tmp_path, cancer, sets):
    path = tmp_path / "models.py"
    path.write_text(FACTORY)
    alg = as_algorithm(f"{path}:build", {"c": 0.5})
    assert isinstance(alg, FactoryAlgorithm) and alg.describe()["source"] == "models.py:build"
    two = _train(alg, cancer, sets, tmp_path / "a", workers=2)
    one = _train(alg, cancer, sets, tmp_path / "b", workers=1)
    assert np.array_equal(one.outputs, two.outputs)
    fn = _train(as_algorithm(f"{path}:trainer"), cancer, sets, tmp_path / "c", workers=2)
    assert fn.outputs.shape == (4, len(cancer), 2)
    before = as_algorithm(f"{path}:trainer").key()
    path.write_text(FACTORY.replace("def train(x, y, seed):\n    return LogisticRegression(max_iter=500)",
                                    "def train(x, y, seed):\n    return LogisticRegression(max_iter=400)"))
    assert as_algorithm(f"{path}:trainer").key() != before  # changed code: its stored models are not reused
    with pytest.raises(GmiaError, match="has no function 'missing'"):
        as_algorithm(f"{path}:missing")
    with pytest.raises(GmiaError, match="does not exist"):
        as_algorithm(f"{tmp_path / 'none.py'}:build")


@pytest.mark.slow
def test_a_torch_train_function_may_return_a_module_of_logits(tmp_path, cancer, sets):
    import torch

    def train(x, y, seed):
        torch.manual_seed(seed)
        net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 8), torch.nn.BatchNorm1d(8), torch.nn.GELU(),
                                  torch.nn.Linear(8, 2))
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        for _ in range(30):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(xt), yt).backward()
            opt.step()
        return net

    alg = as_algorithm(train)
    assert isinstance(alg, TrainFunction) and alg.describe()["source_sha256"]
    zoo = _train(alg, cancer, sets[:2], tmp_path)
    acc = (zoo.outputs.argmax(-1) == cancer.y).mean()
    assert acc > 0.85
    with pytest.raises(GmiaError, match="answered values outside"):
        TrainFunction(lambda x, y, s: _Bad()).fit_proba(cancer.x[:5], cancer.y[:5], cancer.schema, 0, cancer.x[:3])


class _Bad:
    def predict_proba(self, x):
        return np.full((len(x), 2), 2.0)


def test_recipes_match_whatever_the_seed_and_threads():
    from sklearn.ensemble import RandomForestClassifier

    a = SklearnAlgorithm(RandomForestClassifier(n_estimators=50, random_state=1, n_jobs=4)).describe()
    b = SklearnAlgorithm(RandomForestClassifier(n_estimators=50)).describe()
    c = SklearnAlgorithm(RandomForestClassifier(n_estimators=60)).describe()
    assert same_recipe(a, b) is True and same_recipe(a, c) is False and same_recipe(a, {"kind": "unknown"}) is None


def test_worker_warnings_are_reported_once_with_the_messages_kept(tmp_path, cancer, sets, capfd, caplog):
    """An MLP stopped after 3 iterations warns in every worker; the run prints one summary line
    and keeps the messages in the models' folder, instead of each worker flooding stderr."""
    alg = as_algorithm("mlp", '{"max_iter": 3, "hidden_layer_sizes": [4]}')
    with caplog.at_level("WARNING", logger="gmia"):
        zoo = _train(alg, cancer, sets, tmp_path, workers=2, name="references")
    err = capfd.readouterr().err
    assert "ConvergenceWarning" not in err  # no worker printed its own
    summary = [r.getMessage() for r in caplog.records if r.name == "gmia"]
    assert len(summary) == 1 and "training references: 4 ConvergenceWarnings" in summary[0]
    log = (tmp_path / zoo.key / "warnings.log").read_text().splitlines()
    assert len(log) == 4 and all(line.startswith("ConvergenceWarning: ") for line in log)


def test_a_pipeline_is_described_by_its_steps_not_by_nested_lists():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(C=0.5))])
    text = describe_text(SklearnAlgorithm(pipe).describe())
    assert text == "Pipeline(scale: StandardScaler() → clf: LogisticRegression(C=0.5))"
    assert "[" not in text
