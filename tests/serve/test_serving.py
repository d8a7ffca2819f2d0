"""`gmia serve` and the HTTP target, over real loopback HTTP (no mocked transport).

One server (a `gmia serve` subprocess) answers most tests; the restart and label-only tests start
their own. Models are tiny Cancer softmax regressions so the whole file runs in seconds.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from gmia.auditing.run import AuditConfig, run_audit
from gmia.cli import main
from gmia.data import decode_records, load_bundled
from gmia.base.errors import GmiaError
from gmia.protocol.deployed import train_pool_target, write_target
from gmia.targets import HttpTarget, LocalTarget, QueryBudgetExhausted, TargetUnreachable
from gmia.zoo import TrainSpec, ZooStore

SPEC = TrainSpec(hidden=(), optimizer="adam", lr=1e-2, steps=300, batch_size=10)
KEYS = {
    "auditor": {"key": "key-auditor"},
    "tiny": {"key": "key-tiny", "budget": 5},
    "slow": {"key": "key-slow", "rate": 1.0, "burst": 2},
    "cli": {"key": "key-cli", "budget": 3},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model: Path, keys: Path, port: int, *extra: str, log: Path | None = None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "gmia.cli", "serve", str(model), "--api-keys", str(keys), "--port", str(port), *extra]
    if log is not None:
        cmd += ["--access-log", str(log)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start in 60 s")


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("serving")
    data = load_bundled("cancer")
    store = ZooStore(root / "cache")
    model, members, _ = train_pool_target(data, SPEC, store)
    path = root / "cancer.safetensors"
    write_target(model, members, path, data)
    keys = root / "keys.json"
    keys.write_text(json.dumps({"keys": [{"name": n, **v} for n, v in KEYS.items()]}))
    port = free_port()
    log = root / "access.log"
    proc = start_server(path, keys, port, "--max-batch", "700", "--max-body-mb", "0.2", log=log)
    yield {"root": root, "data": data, "store": store, "model": model, "members": members, "path": path,
           "keys": keys, "url": f"http://127.0.0.1:{port}", "log": log}
    stop(proc)


def post(setup, body, key="key-auditor", raw: bytes | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if raw is not None:
        return httpx.post(setup["url"] + "/v1/predict", content=raw, headers={**headers, "Content-Type": "application/json"})
    return httpx.post(setup["url"] + "/v1/predict", json=body, headers=headers)


def records(setup, rows) -> list[dict]:
    return decode_records(setup["data"].x[rows], setup["data"].schema)


def target(setup, key="key-auditor", name="cache.sqlite", **kw) -> HttpTarget:
    return HttpTarget(setup["url"], key, setup["root"] / name, **kw)


@pytest.mark.slow
def test_health_and_schema(setup):
    assert httpx.get(setup["url"] + "/healthz").json()["status"] == "ok"
    assert httpx.get(setup["url"] + "/v1/schema").status_code == 401
    doc = httpx.get(setup["url"] + "/v1/schema", headers={"Authorization": "Bearer key-auditor"}).json()
    assert doc["classes"] == ["benign", "malignant"]
    assert [f["name"] for f in doc["features"]] == [f"V{i}" for i in range(1, 10)]
    assert doc["features"][0] == {"name": "V1", "type": "integer", "min": 1.0, "max": 10.0}


@pytest.mark.slow
@pytest.mark.parametrize("key", [None, "wrong-key", "key-auditorX", ""])
def test_missing_or_wrong_key_is_refused_without_an_answer(setup, key):
    resp = post(setup, {"records": records(setup, [0])}, key=key)
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == "Bearer"
    body = resp.json()
    assert set(body) == {"error"} and body["error"]["code"] == "unauthorized"
    assert "Authorization: Bearer" in body["error"]["message"]


def test_answers_equal_the_local_model_bit_for_bit(setup):
    x = setup["data"].x
    remote = target(setup, name="equal.sqlite", batch_size=100)
    got = remote.predict_proba(x)
    assert remote.sent == len(np.unique(x, axis=0))  # duplicates are asked once
    assert np.array_equal(got, LocalTarget(setup["model"]).predict_proba(x))
    again = remote.predict_proba(x)  # all from the cache now
    assert remote.sent == len(np.unique(x, axis=0)) and np.array_equal(again, got)
    remote.close()


@pytest.mark.parametrize("raw, status, code, words", [
    (b'{"records": [', 400, "malformed_json", "not valid JSON"),
    (b"\xff\xfe", 400, "malformed_json", "not valid JSON"),
    (b'{"rows": []}', 422, "invalid_request", '"records" list'),
    (b'{"records": [42]}', 422, "invalid_record", "record 0: is a int"),
])
def test_malformed_bodies(setup, raw, status, code, words):
    resp = post(setup, None, raw=raw)
    assert resp.status_code == status, resp.text
    assert resp.json()["error"]["code"] == code and words in resp.json()["error"]["message"]


def test_unknown_missing_and_bad_features(setup):
    good = records(setup, [0, 1])
    bad = [dict(good[0]), {**good[1], "V10": 3}]
    resp = post(setup, {"records": bad})
    assert resp.status_code == 422 and resp.json()["error"]["message"].startswith("record 1: unknown feature 'V10'")
    missing = {k: v for k, v in good[0].items() if k != "V4"}
    resp = post(setup, {"records": [missing]})
    assert resp.status_code == 422 and "feature 'V4' is missing" in resp.json()["error"]["message"]
    resp = post(setup, {"records": [{**good[0], "V2": "seven"}]})
    assert resp.status_code == 422 and "feature 'V2' is 'seven'; expected a finite number" in resp.json()["error"]["message"]


def test_oversized_batch_and_body(setup):
    resp = post(setup, {"records": records(setup, np.arange(699)) + records(setup, [0, 1])})
    assert resp.status_code == 413 and "701 records" in resp.json()["error"]["message"]
    resp = post(setup, None, raw=b'{"records": [' + b" " * 300_000 + b"]}")
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "body_too_large"


def test_budget_exhausted(setup):
    ok = post(setup, {"records": records(setup, [0, 1, 2])}, key="key-tiny")
    assert ok.status_code == 200 and ok.json()["queries"] == {"used": 3, "budget": 5, "remaining": 2}
    resp = post(setup, {"records": records(setup, [3, 4, 5])}, key="key-tiny")
    assert resp.status_code == 429 and "retry-after" not in resp.headers
    assert resp.json()["error"]["code"] == "budget_exhausted"
    remote = target(setup, key="key-tiny", name="tiny.sqlite", batch_size=2, backoff=0.0)
    with pytest.raises(QueryBudgetExhausted, match="budget for this key is spent.*rerunning the same command resumes"):
        remote.predict_proba(setup["data"].x[10:20])
    answered = remote.answered(setup["data"].x[10:20])
    assert (~np.isnan(answered[:, 0])).sum() == 2  # the last two queries the service allowed
    remote.close()


def test_client_budget_stops_then_resumes_without_asking_twice(setup):
    x = setup["data"].x[np.unique(setup["data"].x, axis=0, return_index=True)[1][:25]]
    remote = target(setup, name="client-budget.sqlite", budget=10, batch_size=4)
    with pytest.raises(QueryBudgetExhausted, match="budget of 10 records is spent with 15 records still to ask"):
        remote.predict_proba(x)
    assert remote.sent == 10
    remote.close()
    resumed = target(setup, name="client-budget.sqlite", budget=25, batch_size=4)
    assert np.array_equal(resumed.predict_proba(x), LocalTarget(setup["model"]).predict_proba(x))
    assert resumed.sent == 15 and resumed.cache_hits == 10
    resumed.close()


@pytest.mark.slow
def test_rate_limit_gives_retry_after_and_the_client_waits(setup):
    statuses = [post(setup, {"records": records(setup, [i])}, key="key-slow") for i in range(3)]
    assert [r.status_code for r in statuses[:2]] == [200, 200]
    assert statuses[2].status_code == 429 and int(statuses[2].headers["retry-after"]) >= 1
    assert statuses[2].json()["error"]["code"] == "rate_limited"
    waits = []
    remote = target(setup, key="key-slow", name="slow.sqlite", batch_size=1,
                    sleep=lambda s: (waits.append(s), time.sleep(s)))
    x = setup["data"].x[[20, 30, 40]]
    assert np.array_equal(remote.predict_proba(x), LocalTarget(setup["model"]).predict_proba(x))
    assert waits and all(w >= 1 for w in waits)  # honoured Retry-After, not the 0.5 s backoff
    remote.close()


def test_access_log_counts_queries_and_never_answers_a_bad_key(setup):
    post(setup, {"records": records(setup, [5, 6])})
    post(setup, {"records": records(setup, [5])}, key="nope")
    lines = setup["log"].read_text().splitlines()
    assert any("key=auditor status=200 records=2" in ln for ln in lines)
    refused = [ln for ln in lines if "key=-" in ln]
    assert refused and all("status=401 records=0" in ln for ln in refused)


@pytest.mark.slow
def test_audit_over_http_resumes_after_a_server_restart_with_the_local_numbers(setup, tmp_path):
    data, store = setup["data"], setup["store"]
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"keys": [{"name": "a", "key": "k"}]}))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cfg = AuditConfig(spec=SPEC, k=20, delta=0.1, beta=0.1, features="logits")
    local = run_audit(data, LocalTarget(setup["model"]), store, cfg, members=setup["members"])
    assert local.n_tested >= 3
    proc = start_server(setup["path"], keys, port)
    remote = HttpTarget(url, "k", tmp_path / "q.sqlite", batch_size=1, max_retries=2, backoff=0.01)
    remote.on_batch = lambda n: stop(proc)  # the server goes down after the first answer
    first = run_audit(data, remote, store, cfg)
    remote.close()
    assert first.stopped and "gave no answer" in first.stopped and "resumes" in first.stopped
    verdicts = [r["verdict"] for r in first.records]
    assert verdicts[0] != "not queried" and verdicts[1:] == ["not queried"] * (len(verdicts) - 1)
    # Stopped before the calibration records were asked: the raw p-value is the local one, and the
    # exchangeable test (the default) runs without the target's shift removed, and says so.
    assert first.records[0]["p_raw"] == local.records[0]["p_raw"]
    assert first.exchangeable["shift"] is None and first.records[0]["verdict"] in ("member", "no evidence")
    assert "not removed (no calibration answers)" in first.summary()

    proc = start_server(setup["path"], keys, port)
    try:
        remote = HttpTarget(url, "k", tmp_path / "q.sqlite", batch_size=1)
        second = run_audit(data, remote, store, cfg, members=setup["members"])
        used = remote.server_queries["used"]
        remote.close()
    finally:
        stop(proc)
    assert second.stopped is None
    assert [r["p_direct"] for r in second.records] == [r["p_direct"] for r in local.records]
    assert [r["p_interval"] for r in second.records] == [r["p_interval"] for r in local.records]
    assert json.dumps(second.truth, sort_keys=True) == json.dumps(local.truth, sort_keys=True)  # NaN precision when no call
    # Every record (tested and calibration) asked exactly once over both runs, the usage kept over the restart.
    assert used == local.queries["sent"] > local.n_tested


@pytest.mark.slow
def test_label_only_service_and_what_the_audit_makes_of_it(setup, tmp_path):
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"keys": [{"name": "a", "key": "k"}]}))
    port = free_port()
    proc = start_server(setup["path"], keys, port, "--label-only")
    try:
        remote = HttpTarget(f"http://127.0.0.1:{port}", "k", tmp_path / "q.sqlite")
        p = remote.predict_proba(setup["data"].x[:50])
        assert set(np.unique(p)) == {0.0, 1.0} and np.all(p.sum(axis=1) == 1)
        assert remote.policy.label_only
        with pytest.raises(GmiaError, match="indirect attack needs full probability vectors"):
            run_audit(setup["data"], remote, setup["store"], AuditConfig(spec=SPEC, k=20, attack="both"))
        remote.close()
    finally:
        stop(proc)


@pytest.mark.slow
def test_cli_audit_stops_on_budget_with_exit_3_then_resumes(setup, tmp_path, capsys):
    key_file = tmp_path / "cli.key"
    key_file.write_text("key-cli\n")
    common = ["audit", "--dataset", "cancer", "--target-url", setup["url"], "--api-key-file", str(key_file),
              "--k", "20", "--steps", "300", "--lr", "0.01", "--selection-features", "logits",
              "--cache-dir", str(setup["root"] / "cache"), "--out", str(tmp_path / "run"),
              "--members", str(setup["path"].with_suffix(".members.json")), "--batch-records", "2"]
    assert main(common + ["--budget", "2"]) == 3
    out = capsys.readouterr()
    assert "budget of 2 records is spent" in out.err and "Traceback" not in out.err
    partial = json.loads((tmp_path / "run" / "results.json").read_text())
    assert partial["stopped"] and [r["verdict"] for r in partial["records"]].count("not queried") == partial["n_tested"] - 2
    # The service's own budget (3 for this key) stops the rerun one record later.
    assert main(common) == 3
    assert "service's query budget for this key is spent" in capsys.readouterr().err
    done = json.loads((tmp_path / "run" / "results.json").read_text())
    assert [r["verdict"] for r in done["records"]].count("not queried") == done["n_tested"] - 3


@pytest.mark.parametrize("args, words", [
    (["serve", "missing.safetensors", "--api-keys", "keys.json"], "cannot be read"),
    (["serve", "{model}", "--api-keys", "missing.json"], "API keys file"),
    (["serve", "{model}", "--api-keys", "{keys}", "--top-k", "0"], "top-k 0 is not positive"),
    (["serve", "{model}", "--api-keys", "{keys}", "--port", "70000"], "port 70000 is out of range"),
    (["audit", "--dataset", "cancer"], "give exactly one target"),
    (["audit", "--dataset", "cancer", "--target-url", "ftp://x", "--api-key-file", "{keys}"], "not an http(s) URL"),
    (["audit", "--dataset", "cancer", "--target-url", "http://127.0.0.1:9"], "needs an API key"),
    (["audit", "--dataset", "cancer", "--target-model", "{model}", "--attack", "sideways"], "unknown attack 'sideways'"),
])
@pytest.mark.slow
def test_bad_input_exits_2_with_one_sentence(setup, args, words, capsys, tmp_path):
    args = [a.format(model=setup["path"], keys=setup["keys"]) for a in args]
    assert main(args + (["--out", str(tmp_path / "o")] if args[0] == "audit" else [])) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_serving_on_a_port_in_use_fails_before_loading(setup, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert main(["serve", str(setup["path"]), "--api-keys", str(setup["keys"]), "--port", str(port)]) == 2
    assert "cannot listen on 127.0.0.1" in capsys.readouterr().err


def test_a_url_that_never_answered_is_an_error_about_the_url(tmp_path):
    """Nothing was received, so nothing can be resumed: one sentence about the URL, not exit 3;
    two tries at most, whatever --retries says. (A target lost mid-run stays resumable: the
    server-restart test.)"""
    url = f"http://127.0.0.1:{free_port()}"
    sleeps = []
    with pytest.raises(GmiaError, match=f"target URL {url} did not answer .*ConnectError.*expected a gmia prediction service") as info:
        HttpTarget(url, "k", tmp_path / "q.sqlite", max_retries=5, backoff=0.0, sleep=sleeps.append)
    assert not isinstance(info.value, TargetUnreachable) and len(sleeps) == 1
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(GmiaError, match="is not a positive number of seconds"):
            HttpTarget(url, "k", tmp_path / "q.sqlite", timeout=bad)


class LosesFirstReply(httpx.HTTPTransport):
    """The real transport, except that the first POST's reply is lost after the server answered it."""

    def __init__(self):
        super().__init__()
        self.lost, self.keys = 0, []

    def handle_request(self, request):
        response = super().handle_request(request)
        if request.method == "POST":
            self.keys.append(request.headers.get("idempotency-key"))
            if not self.lost:
                self.lost += 1
                response.read()
                raise httpx.ReadTimeout("reply lost on the way back", request=request)
        return response


@pytest.mark.slow
def test_a_lost_reply_is_retried_and_charged_once(setup, tmp_path):
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"keys": [{"name": "a", "key": "k", "budget": 100}]}))
    port = free_port()
    proc = start_server(setup["path"], keys, port)
    try:
        transport = LosesFirstReply()
        remote = HttpTarget(f"http://127.0.0.1:{port}", "k", tmp_path / "q.sqlite", batch_size=10, backoff=0.0,
                            transport=transport)
        p = remote.predict_proba(setup["data"].x[:10])
        used = HttpTarget(f"http://127.0.0.1:{port}", "k", tmp_path / "other.sqlite").server_queries["used"]
        # The same key on the retry, and the replayed answer is the model's own.
        assert transport.lost == 1 and len(transport.keys) == 2 and transport.keys[0] == transport.keys[1]
        assert used == 10  # charged once, not twice
        local = LocalTarget(setup["model"]).predict_proba(setup["data"].x[:10])
        np.testing.assert_allclose(p, local, rtol=0, atol=1e-12)
        # The same key with another body is refused rather than answered with the stored reply.
        rows = records(setup, [20])
        r = httpx.post(f"http://127.0.0.1:{port}/v1/predict", json={"records": rows},
                       headers={"Authorization": "Bearer k", "Idempotency-Key": transport.keys[0]})
        assert r.status_code == 422 and r.json()["error"]["code"] == "idempotency_key_reused"
        remote.close()
    finally:
        stop(proc)


@pytest.mark.slow
def test_indirect_audit_over_http_equals_local(setup, tmp_path):
    from gmia.attacks.indirect import IndirectConfig

    cfg = AuditConfig(spec=SPEC, k=20, delta=0.1, beta=0.1, features="logits", attack="both", max_records=2,
                      indirect=IndirectConfig(theta=0.6, n_candidates=400, n_clusters=15, positive_steps=200, opt_steps=50))
    local = run_audit(setup["data"], LocalTarget(setup["model"]), setup["store"], cfg)
    remote = target(setup, name="indirect.sqlite")
    over_http = run_audit(setup["data"], remote, setup["store"], cfg)
    sent = remote.cache.count(remote.model_id)
    remote.close()
    first = over_http.records[0]
    assert first["n_enhancing"] > 0 and 0.0 <= first["p_indirect"] <= 1.0
    assert [r.get("p_indirect") for r in over_http.records] == [r.get("p_indirect") for r in local.records]
    assert "p_indirect" not in over_http.records[1]  # --indirect-records 1: only the most isolated
    # The direct queries (every candidate, for the exchangeable test's calls over all of them), the
    # calibration records, the enhancing queries and the null check's (identical rows are cached
    # once), nothing else.
    assert over_http.calibration["answered"] > 0 and over_http.exchangeable["fdr"]["tested"] == over_http.n_candidates
    assert sent <= (over_http.n_candidates + over_http.calibration["answered"] + first["n_enhancing"]
                    + first["null_queries"])
    assert sent >= 2 + first["n_enhancing"]


@pytest.mark.slow
def test_an_onnx_file_audited_over_http_matches_and_gives_the_in_process_pvalues(tmp_path, cancer):
    """The service publishes the estimator its ONNX file records, so an HTTP audit trains the same
    references as `--target-model` on the file, and every p-value is the same."""
    import gmia
    from sklearn.ensemble import HistGradientBoostingClassifier

    from gmia.data import paper_split
    from gmia.models.onnx_file import OnnxModel

    pool = paper_split(cancer).pool
    members = np.sort(np.random.default_rng(0).permutation(pool)[: len(pool) // 2])
    hgb = HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(cancer.x[members], cancer.y[members])
    path = tmp_path / "hgb.onnx"
    gmia.save_onnx(hgb, cancer.schema, path)
    kw = dict(k=8, cache_dir=tmp_path / "cache", progress=False, members=members, delta=0.3, beta=5.0, out_references=10)
    local = gmia.audit(OnnxModel.load(path), cancer, **kw)
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"keys": [{"name": "a", "key": "k"}]}))
    port = free_port()
    proc = start_server(path, keys, port)
    try:
        remote = HttpTarget(f"http://127.0.0.1:{port}", "k", tmp_path / "q.sqlite")
        assert remote.training["estimator"].endswith("HistGradientBoostingClassifier")
        over_http = gmia.audit(remote, cancer, **kw)
        remote.close()
    finally:
        stop(proc)
    assert over_http.algorithms["match"] is True and "published by" not in over_http.algorithms["note"]
    assert local.algorithms["match"] is True and over_http.algorithms["references"] == local.algorithms["references"]
    assert [r["record"] for r in over_http.records] == [r["record"] for r in local.records] and local.records
    for key in ("p_direct", "p_raw", "p_calibrated", "p_paper"):
        assert [r[key] for r in over_http.records] == [r[key] for r in local.records], key
    assert [c["p_exchangeable"] for c in over_http.candidates] == [c["p_exchangeable"] for c in local.candidates]
