"""Model files, records, output policies and API keys: the pieces of the service that need no server."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

from gmia.data import RecordError, decode_records, encode_records, load_bundled
from gmia.base.errors import GmiaError
from gmia.models.file_format import Model, from_sklearn, from_torch
from gmia.targets.policy import OutputPolicy
from gmia.serve import KeyRing, add_key
from gmia.serve.limits import Ledger, RateLimiter


@pytest.mark.slow
@pytest.mark.parametrize("name", ["cancer", "adult"])
def test_records_round_trip_bit_for_bit(name):
    data = load_bundled(name)
    x = data.x[:2000]
    assert np.array_equal(encode_records(decode_records(x, data.schema), data.schema), x)


def test_record_errors_name_the_record_and_feature():
    data = load_bundled("adult")
    rec = decode_records(data.x[:1], data.schema)[0]
    with pytest.raises(RecordError, match=r"record 0: feature 'workclass' is 'Astronaut'; expected one of: .*Private"):
        encode_records([{**rec, "workclass": "Astronaut"}], data.schema)
    with pytest.raises(RecordError, match="feature 'age' is nan; expected a finite number"):
        encode_records([{**rec, "age": float("nan")}], data.schema)
    with pytest.raises(RecordError, match="feature 'age' is True"):
        encode_records([{**rec, "age": True}], data.schema)


@pytest.mark.slow
def test_sklearn_models_convert_to_the_same_probabilities(cancer, tmp_path):
    for est in (LogisticRegression(max_iter=500), MLPClassifier((6,), activation="tanh", max_iter=2000, random_state=0)):
        est.fit(cancer.x, cancer.y)
        model = Model.load(from_sklearn(est, cancer.schema).save(tmp_path / "m.safetensors"))
        assert np.allclose(model.predict_proba(cancer.x), est.predict_proba(cancer.x), atol=1e-6)


def test_torch_sequential_converts(cancer):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(9, 5), torch.nn.ReLU(), torch.nn.Dropout(0.1), torch.nn.Linear(5, 2)).eval()
    with torch.no_grad():
        want = torch.softmax(net(torch.as_tensor(cancer.x)), -1).numpy()
    assert np.allclose(from_torch(net, cancer.schema).predict_proba(cancer.x), want, atol=1e-6)
    with pytest.raises(GmiaError, match="torch layer 1 \\(Conv1d\\) is not supported"):
        from_torch(torch.nn.Sequential(torch.nn.Linear(9, 2), torch.nn.Conv1d(1, 1, 1)), cancer.schema)


def test_model_files_refuse_pickles_and_mismatches(cancer, tmp_path):
    pkl = tmp_path / "model.pkl"
    pkl.write_bytes(pickle.dumps(LogisticRegression()))
    with pytest.raises(GmiaError, match="is not a safetensors file"):
        Model.load(pkl)
    with pytest.raises(GmiaError, match="maps 9 inputs to 3 classes but its schema has 9 features and 2 classes"):
        Model(params={"w0": torch.zeros(1, 9, 3), "b0": torch.zeros(1, 3)}, activation="tanh", schema=cancer.schema)
    with pytest.raises(GmiaError, match="estimator type 'KMeans' is not supported"):
        from sklearn.cluster import KMeans

        km = KMeans(2, n_init=1).fit(cancer.x)
        km.classes_ = np.array([0, 1])
        from_sklearn(km, cancer.schema)


def test_output_policies():
    p = np.array([[0.123456, 0.7, 0.176544]])
    assert np.array_equal(OutputPolicy(top_k=1).apply(p), [[0, 0.7, 0]])
    assert np.array_equal(OutputPolicy(decimals=2).apply(p), [[0.12, 0.7, 0.18]])
    assert np.array_equal(OutputPolicy(label_only=True).apply(p), [[0, 1, 0]])
    assert np.array_equal(OutputPolicy(top_k=2, decimals=1).apply(p), [[0, 0.7, 0.2]])
    with pytest.raises(GmiaError, match="rounding to 20 decimals"):
        OutputPolicy(decimals=20)


def test_keys_file_holds_digests_and_verifies_in_full(tmp_path):
    path = tmp_path / "keys.json"
    a = add_key(path, "alice", budget=10, rate=None, burst=None)
    b = add_key(path, "bob", budget=None, rate=2.0, burst=4)
    text = path.read_text()
    assert a not in text and b not in text
    ring = KeyRing.load(path)
    assert ring.verify(a).name == "alice" and ring.verify(b).name == "bob"
    assert ring.verify(a[:-1]) is None and ring.verify("") is None and ring.verify(None) is None
    with pytest.raises(GmiaError, match="'alice' appears more than once"):
        add_key(path, "alice", None, None, None)
    path.write_text(json.dumps({"keys": [{"name": "x", "key": "k", "quota": 3}]}))
    with pytest.raises(GmiaError, match="unknown field 'quota'"):
        KeyRing.load(path)
    # Values of the wrong type are refused, not coerced: true is no rate, "10" no budget.
    for entry, words in (({"rate": True}, "rate=True"), ({"budget": "10"}, "budget='10'"), ({"burst": 0}, "burst=0")):
        path.write_text(json.dumps({"keys": [{"name": "x", "key": "k", **entry}]}))
        with pytest.raises(GmiaError, match=f"entry 0 of API keys file .* has {words}"):
            KeyRing.load(path)


def test_ledger_never_passes_a_budget_and_survives_reopening(tmp_path):
    ledger = Ledger(tmp_path / "usage.sqlite")
    assert ledger.charge("a", 4, 5) == (True, 4)
    assert ledger.charge("a", 2, 5) == (False, 4)
    assert ledger.charge("a", 1, 5) == (True, 5)
    ledger.close()
    assert Ledger(tmp_path / "usage.sqlite").used("a") == 5


def test_rate_limiter_token_bucket():
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    assert [limiter.acquire("a", 2.0, 2) for _ in range(2)] == [0.0, 0.0]
    assert limiter.acquire("a", 2.0, 2) == pytest.approx(0.5)
    now[0] = 0.5
    assert limiter.acquire("a", 2.0, 2) == 0.0
    assert limiter.acquire("b", None, None) == 0.0


def test_keys_file_rejects_a_malformed_digest(tmp_path):
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"keys": [{"name": "x", "sha256": "abc"}]}))
    with pytest.raises(GmiaError, match=r"has sha256='abc'; expected name, sha256 \(64 hex digits\)"):
        KeyRing.load(path)
