"""Targets of any kind: scikit-learn estimators and Pipelines, LightGBM, torch modules, ONNX files.

Each wrapper must give the model's own probabilities, in the data set's class order, for gmia's
encoded rows, whatever the model reads (encoded rows or the original columns) and however its
labels were named. Small data: Cancer (699 records) and 2,000 Adult records.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys
import warnings

import joblib
import numpy as np
import pytest
import torch
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from gmia.cli import main
from gmia.cli.tools import _target
from gmia.data import decode_records, load_bundled
from gmia.base.errors import GmiaError
from gmia.models.foreign import proba_logits
from gmia.models.onnx_file import OnnxModel, save_onnx
from gmia.targets.policy import OutputPolicy, model_id
from gmia.stats.signals import proba_loss
from gmia.targets import CountingTarget, LocalTarget, SklearnTarget, TorchTarget, as_target

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def adult():
    """2,000 Adult records: encoded rows, the original columns and the string labels."""
    data = load_bundled("adult")
    rows = np.random.default_rng(0).choice(len(data.x), 2000, replace=False)
    raw = data.raw().iloc[rows].reset_index(drop=True)
    return {"data": data, "rows": rows, "x": data.x[rows], "frame": raw.drop(columns=[data.schema.label]),
            "labels": raw[data.schema.label]}


@pytest.fixture(scope="module")
def pipeline(adult):
    schema = adult["data"].schema
    cats = [g for g, idx in schema.groups().items() if schema.features[idx[0]].kind == "onehot"]
    pipe = Pipeline([("columns", ColumnTransformer([("onehot", OneHotEncoder(handle_unknown="ignore"), cats)],
                                                   remainder="passthrough")),
                     ("model", LogisticRegression(max_iter=200))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return pipe.fit(adult["frame"], adult["labels"])


@pytest.fixture(scope="module")
def histgb(cancer):
    return HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(cancer.x, cancer.y)


@pytest.fixture(scope="module")
def onnx_files(tmp_path_factory, cancer, histgb, adult, pipeline):
    root = tmp_path_factory.mktemp("onnx")
    return {"histgb": save_onnx(histgb, cancer.schema, root / "histgb.onnx"),
            "pipeline": save_onnx(pipeline, adult["data"].schema, root / "pipeline.onnx"), "root": root}


def one_sentence(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and "expected" in text, text
    return text


def test_histgb_on_encoded_rows(cancer, histgb):
    target = SklearnTarget(histgb, cancer.schema)
    assert np.array_equal(target.predict_proba(cancer.x), histgb.predict_proba(cancer.x))
    assert target.sent == len(np.unique(cancer.x, axis=0))  # identical rows asked once
    about = target.describe()
    assert about["kind"] == "sklearn" and about["reads"] == "encoded rows"
    assert about["estimator"] == "sklearn.ensemble.HistGradientBoostingClassifier"
    assert about["params"]["max_iter"] == 30 and about["params"]["random_state"] == 0
    assert json.loads(json.dumps(about)) == about
    digest = hashlib.sha256((json.dumps(about, sort_keys=True) + joblib.hash(histgb)).encode()).hexdigest()[:12]
    assert target.model_id == f"HistGradientBoostingClassifier-{digest}" == SklearnTarget(histgb, cancer.schema).model_id
    assert target.estimator is histgb


@pytest.mark.slow
def test_pipeline_on_original_columns_with_string_labels(adult, pipeline):
    schema = adult["data"].schema
    assert list(pipeline.classes_) == ["<=50K", ">50K"]
    target = SklearnTarget(pipeline, schema)
    assert target.describe()["reads"] == "frame" and target.describe()["estimator"] == "sklearn.pipeline.Pipeline"
    theirs = pipeline.predict_proba(adult["frame"])
    assert np.array_equal(target.predict_proba(adult["x"]), theirs)
    # With the classes listed the other way round, the columns must follow the names.
    flipped = dataclasses.replace(schema, classes=(">50K", "<=50K"))
    assert np.array_equal(SklearnTarget(pipeline, flipped).predict_proba(adult["x"][:300]), theirs[:300, ::-1])


def test_lightgbm_with_class_names_on_encoded_rows(cancer):
    from lightgbm import LGBMClassifier

    names = np.asarray(cancer.schema.classes)[cancer.y]
    model = LGBMClassifier(n_estimators=20, verbose=-1, random_state=0).fit(cancer.x, names)
    target = as_target(model, cancer.schema)
    assert isinstance(target, SklearnTarget) and target.describe()["estimator"] == "lightgbm.LGBMClassifier"
    got = target.predict_proba(cancer.x)
    assert np.array_equal(got, model.predict_proba(cancer.x))
    assert (got.argmax(1) == cancer.y).mean() > 0.95


def test_random_forest_certainty_stays_finite_through_the_audits_loss(cancer):
    forest = RandomForestClassifier(n_estimators=30, random_state=0).fit(cancer.x[:300], cancer.y[:300])
    target = as_target(forest, cancer.schema)
    proba = target.predict_proba(cancer.x)
    assert (proba == 1.0).any() and (proba == 0.0).any()  # the case that would give an infinite loss
    wrong = 1 - cancer.y
    loss = proba_loss(proba, wrong)  # what the audit computes from the target's answers
    assert np.isfinite(loss).all() and loss.max() > 100
    logits = proba_logits(proba)  # the logit features of a model without logits
    assert np.isfinite(logits).all() and np.abs(logits).max() <= -np.log(1e-12) / 2 + 1e-3
    assert target.model_id.startswith("RandomForestClassifier-")


def small_net(schema, softmax: bool = False) -> torch.nn.Module:
    torch.manual_seed(0)
    layers = [torch.nn.Linear(schema.n_features, 16), torch.nn.BatchNorm1d(16), torch.nn.GELU(),
              torch.nn.Linear(16, len(schema.classes))]
    return torch.nn.Sequential(*layers, *([torch.nn.Softmax(dim=-1)] if softmax else []))


def test_torch_module_with_batchnorm_and_gelu(cancer):
    net = small_net(cancer.schema)
    x = torch.from_numpy(cancer.x.copy())
    net.train()
    net(x)  # moves BatchNorm's running statistics away from their initial 0 and 1
    target = as_target(net, cancer.schema)
    assert isinstance(target, TorchTarget)
    got = target.predict_proba(cancer.x)
    assert net.training  # the caller's mode is restored
    with torch.no_grad():
        want = torch.softmax(net.eval()(x).double(), dim=-1).numpy()
    net.train()
    np.testing.assert_allclose(got, want, atol=1e-6)
    single = TorchTarget(net, cancer.schema, block=1).predict_proba(cancer.x[:3])  # BatchNorm in train mode fails on 1 row
    np.testing.assert_allclose(single, got[:3], atol=1e-6)
    about = target.describe()
    assert about == {"kind": "torch", "module": "torch.nn.Sequential", "outputs": "logits",
                     "parameters": sum(p.numel() for p in net.parameters())}
    assert target.model_id.startswith("Sequential-")
    other = small_net(cancer.schema)
    with torch.no_grad():
        other[0].weight.add_(1.0)
    assert TorchTarget(other, cancer.schema).model_id != target.model_id  # same architecture, other weights

    ends_in_softmax = small_net(cancer.schema, softmax=True)
    probabilities = TorchTarget(ends_in_softmax, cancer.schema, outputs="probabilities").predict_proba(cancer.x[:20])
    with torch.no_grad():
        np.testing.assert_allclose(probabilities, ends_in_softmax.eval()(x[:20]).double().numpy(), atol=1e-7)


def test_torch_module_with_the_wrong_output_shape(cancer):
    wide = torch.nn.Linear(cancer.schema.n_features, 3)
    with pytest.raises(GmiaError, match=r"answered \(5, 3\) for 5 records; expected a tensor \(5, 2\)") as exc:
        TorchTarget(wide, cancer.schema).predict_proba(cancer.x[:5])
    one_sentence(exc)
    with pytest.raises(GmiaError, match="unknown torch output kind 'softmax'"):
        TorchTarget(wide, cancer.schema, outputs="softmax")


@pytest.mark.slow
def test_onnx_round_trip_of_histgb(cancer, histgb, onnx_files):
    path = onnx_files["histgb"]
    model = OnnxModel.load(path)
    assert model.schema == cancer.schema and model.n_classes == 2 and model.reads == "encoded rows"
    got = model.predict_proba(cancer.x)
    assert got.dtype == np.float64 and got.shape == (len(cancer.x), 2)
    np.testing.assert_allclose(got, histgb.predict_proba(cancer.x), atol=1e-5, rtol=0)
    assert np.array_equal(np.concatenate([model.predict_proba(cancer.x[i : i + 1]) for i in range(20)]), got[:20])
    assert model.fingerprint() == hashlib.sha256(path.read_bytes()).hexdigest()
    assert model.info["source"] == "onnx" and model.info["estimator"] == SklearnTarget(histgb, cancer.schema).describe()
    target = as_target(model, cancer.schema, budget=50)
    assert isinstance(target, LocalTarget) and target.model_id == model_id(model, OutputPolicy())
    assert np.array_equal(target.predict_proba(cancer.x[:10]), got[:10])


def test_onnx_round_trip_of_a_column_pipeline(adult, pipeline, onnx_files):
    model = OnnxModel.load(onnx_files["pipeline"])
    assert model.reads == "frame" and model.schema == adult["data"].schema
    got = model.predict_proba(adult["x"][:500])
    np.testing.assert_allclose(got, pipeline.predict_proba(adult["frame"].iloc[:500]), atol=1e-5, rtol=0)
    assert model.info["estimator"]["reads"] == "frame"
    # Converted elsewhere, without gmia's metadata: inputs are matched to columns by name
    # (skl2onnx wrote education-num as education_num), classes taken in the schema's order.
    import onnx

    bare = onnx.load(onnx_files["pipeline"])
    del bare.metadata_props[:]
    path = onnx_files["root"] / "bare-pipeline.onnx"
    onnx.save(bare, path)
    again = OnnxModel.load(path, schema=adult["data"].schema)
    assert "education_num" in {i.name for i in again._session.get_inputs()}
    assert np.array_equal(again.predict_proba(adult["x"][:50]), got[:50])
    assert again.info["estimator"] is None and "assumed" in again.info["classes"]


def test_onnx_without_schema_needs_one_and_reads_a_zipmap(cancer, tmp_path):
    import skl2onnx
    from skl2onnx.common.data_types import FloatTensorType

    clf = LogisticRegression(max_iter=500).fit(cancer.x, cancer.y)
    onx = skl2onnx.to_onnx(clf, initial_types=[("input", FloatTensorType([None, cancer.schema.n_features]))])
    path = tmp_path / "bare.onnx"
    path.write_bytes(onx.SerializeToString())  # ZipMap output, no gmia metadata
    with pytest.raises(GmiaError, match="has no 'gmia.schema' metadata and no schema was given") as exc:
        OnnxModel.load(path)
    one_sentence(exc)
    model = OnnxModel.load(path, schema=cancer.schema)
    np.testing.assert_allclose(model.predict_proba(cancer.x), clf.predict_proba(cancer.x), atol=1e-5, rtol=0)
    target = _target(None, None, path, tmp_path / "q.sqlite", None, 100, 0, 1.0, schema=cancer.schema)
    assert isinstance(target, LocalTarget) and isinstance(target.model, OnnxModel)
    with pytest.raises(GmiaError, match="no schema was given"):
        _target(None, None, path, tmp_path / "q.sqlite", None, 100, 0, 1.0)


def test_serving_an_onnx_file(adult, pipeline, onnx_files, tmp_path):
    from fastapi.testclient import TestClient

    from gmia.serve import KeyRing, Ledger, ServeConfig, create_app, load_model
    from gmia.serve.keys import ApiKey, digest

    model = load_model(onnx_files["pipeline"])
    assert isinstance(model, OnnxModel)
    policy = OutputPolicy(decimals=4)
    ledger = Ledger(tmp_path / "usage.sqlite")
    app = create_app(model, KeyRing([ApiKey("a", digest("k"), budget=10)]), ledger, ServeConfig(policy=policy))
    auth = {"Authorization": "Bearer k"}
    with TestClient(app) as client:
        doc = client.get("/v1/schema", headers=auth).json()
        assert doc["model"] == model_id(model, policy) and doc["classes"] == ["<=50K", ">50K"]
        assert [f["name"] for f in doc["features"]][:3] == ["age", "workclass", "fnlwgt"]
        x = adult["x"][:6]
        resp = client.post("/v1/predict", json={"records": decode_records(x, model.schema)}, headers=auth)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["probabilities"] == policy.apply(model.predict_proba(x)).tolist()
        assert body["queries"] == {"used": 6, "budget": 10, "remaining": 4}
        assert client.post("/v1/predict", json={"records": decode_records(adult["x"][:5], model.schema)},
                           headers=auth).status_code == 429
    ledger.close()


def test_serving_an_onnx_file_without_schema_is_one_sentence(cancer, tmp_path, capsys):
    import socket

    import skl2onnx
    from skl2onnx.common.data_types import FloatTensorType

    clf = LogisticRegression(max_iter=200).fit(cancer.x, cancer.y)
    path = tmp_path / "bare.onnx"
    path.write_bytes(skl2onnx.to_onnx(clf, initial_types=[("x", FloatTensorType([None, 9]))]).SerializeToString())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    keys = tmp_path / "keys.json"
    assert main(["keys", "add", str(keys), "--name", "auditor"]) == 0  # the keys are checked first, and pass
    capsys.readouterr()
    assert main(["serve", str(path), "--api-keys", str(keys), "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert "no 'gmia.schema' metadata" in err and "Traceback" not in err


def test_as_target_dispatch(cancer, histgb, onnx_files):
    from gmia.models.file_format import from_sklearn

    gmia_model = from_sklearn(LogisticRegression(max_iter=300).fit(cancer.x, cancer.y), cancer.schema)
    assert type(as_target(gmia_model, cancer.schema)) is LocalTarget
    assert type(as_target(OnnxModel.load(onnx_files["histgb"]), cancer.schema)) is LocalTarget
    assert type(as_target(small_net(cancer.schema), cancer.schema)) is TorchTarget
    assert type(as_target(histgb, cancer.schema)) is SklearnTarget

    class Mine:
        def predict_proba(self, x):
            return np.full((len(x), 2), 0.5)

    mine = as_target(Mine(), cancer.schema)
    assert type(mine) is CountingTarget and mine.model_id.endswith("Mine")
    assert as_target(mine, cancer.schema) is mine
    with pytest.raises(GmiaError, match="LogisticRegression is not fitted") as exc:
        as_target(LogisticRegression(), cancer.schema)
    one_sentence(exc)


def test_models_that_do_not_fit_the_data_set(cancer, adult, pipeline):
    labels = np.asarray(cancer.schema.classes + ("unsure",))[np.arange(len(cancer.y)) % 3]
    three = LogisticRegression(max_iter=200).fit(cancer.x, labels)
    with pytest.raises(GmiaError, match="the model's class 'unsure' is not one of the data set's classes") as exc:
        SklearnTarget(three, cancer.schema)
    one_sentence(exc)
    with pytest.raises(GmiaError, match="the model's class 'unsure'"):
        save_onnx(three, cancer.schema, "never-written.onnx")

    renamed = adult["frame"].rename(columns={"age": "years"})
    other = Pipeline(pipeline.steps[:1] + [("model", LogisticRegression(max_iter=50))]).fit(renamed, adult["labels"])
    with pytest.raises(GmiaError, match=r"fitted on columns \['years'.*first missing: 'age'") as exc:
        SklearnTarget(other, adult["data"].schema)
    one_sentence(exc)

    narrow = LogisticRegression(max_iter=200).fit(cancer.x[:, :5], cancer.y)
    with pytest.raises(GmiaError, match="fitted on 5 features but the data set's encoding has 9") as exc:
        SklearnTarget(narrow, cancer.schema)
    one_sentence(exc)


@pytest.mark.slow
def test_importing_the_onnx_module_loads_no_onnx_package():
    code = ("import sys, gmia.models.onnx_file, gmia.targets; "
            "assert not {'onnxruntime', 'skl2onnx', 'onnx', 'sklearn'} & set(sys.modules), sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_scikit_learn_targets_id_is_a_fingerprint_of_the_fitted_model(cancer):
    """Two fits of one class with the same parameters on other rows are two models; the same
    fitted object keeps its id."""
    from sklearn.linear_model import LogisticRegression

    from gmia.targets.sklearn import SklearnTarget

    first = LogisticRegression(max_iter=500).fit(cancer.x[:300], cancer.y[:300])
    second = LogisticRegression(max_iter=500).fit(cancer.x[300:600], cancer.y[300:600])
    ids = [SklearnTarget(m, cancer.schema).model_id for m in (first, second, first)]
    assert ids[0] != ids[1] and ids[0] == ids[2] and ids[0].startswith("LogisticRegression-")


def _fitted(kind: str, cancer):
    """A model of ``kind`` fitted on Cancer's encoded rows, or (``raw``) on its original columns."""
    x, y = cancer.x[:400], cancer.y[:400]
    if kind == "random-forest-on-columns":
        return RandomForestClassifier(n_estimators=10, random_state=0).fit(cancer.raw().iloc[:400].drop(
            columns=[cancer.schema.label]), y), "frame"
    if kind == "lightgbm":
        from lightgbm import LGBMClassifier

        return LGBMClassifier(n_estimators=20, random_state=0, verbose=-1).fit(x, y), "encoded rows"
    if kind == "xgboost":
        xgboost = pytest.importorskip("xgboost")
        return xgboost.XGBClassifier(n_estimators=20, random_state=0).fit(x, y), "encoded rows"
    return RandomForestClassifier(n_estimators=10, random_state=0).fit(x, y), "encoded rows"


@pytest.mark.parametrize("kind", ["random-forest", "random-forest-on-columns", "lightgbm", "xgboost"])
def test_save_onnx_gives_the_models_own_probabilities(kind, cancer, tmp_path):
    """Each model kind the docs list: onnxruntime's probabilities equal predict_proba within 1e-5."""
    import gmia
    from gmia.models.foreign import model_inputs

    model, reads = _fitted(kind, cancer)
    path = gmia.save_onnx(model, cancer.schema, tmp_path / f"{kind}.onnx")
    loaded = OnnxModel.load(path)
    assert loaded.reads == ("frame" if reads == "frame" else "encoded rows")
    want = model.predict_proba(model_inputs(cancer.x, cancer.schema, reads == "frame"))
    np.testing.assert_allclose(loaded.predict_proba(cancer.x), want, atol=1e-5, rtol=0)
    assert loaded.info["estimator"]["estimator"].endswith(type(model).__name__)


def test_save_onnx_refuses_what_it_cannot_convert_in_one_sentence(cancer, tmp_path):
    import gmia
    from sklearn.semi_supervised import LabelSpreading

    model = LabelSpreading().fit(cancer.x[:100], cancer.y[:100])
    with pytest.raises(GmiaError, match="the LabelSpreading cannot be converted to ONNX") as exc:
        gmia.save_onnx(model, cancer.schema, tmp_path / "x.onnx")
    one_sentence(exc)
