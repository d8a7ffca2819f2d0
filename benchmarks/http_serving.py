"""The prediction service on loopback: throughput, exactness, and correctness under load.

What it measures
----------------
A model with the paper's Adult architecture (hidden 10 and 5 tanh units; weights from
torch.nn.Linear's initialisation, since training does not change the cost of a query) is written
as a gmia model file and served by a real ``gmia serve`` subprocess on 127.0.0.1.

1. Throughput: for each batch size (default 1, 10, 100, 1000 records per request) one client
   (``httpx.Client`` with keep-alive, JSON records keyed by feature name) sends distinct Adult
   records for about ``--seconds`` seconds; records per second and requests per second are
   printed beside the same model's local ``predict_proba`` on the same batches, and the ratio.
2. Exactness: ``HttpTarget.predict_proba`` on ``--exact`` Adult records (default 5,000) against
   ``LocalTarget.predict_proba`` in this process: the number of rows that differ in any bit.
3. Load: ``--clients`` processes (default 8), each sending ``--requests`` requests (default
   1,000) at once: 70% with a valid key and 5 random records (the answer is checked against the
   local model, bit for bit), 15% with a wrong key and 15% with none (each must get 401 and no
   probabilities). Prints every outcome count, the wall time, requests per second and latency
   percentiles. Any request answered for a wrong or missing key, or answered wrongly, is counted
   and makes the script exit 1.

Run: ``.venv/bin/python benchmarks/http_serving.py [--json out.json]``. These are shared 2-core
machines: the server, the clients and the local baseline compete for the same cores, so the
absolute numbers are a floor; the ratios between batch sizes are the stable part.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")

import httpx  # noqa: E402
import torch  # noqa: E402

from gmia.data import decode_records, load_bundled  # noqa: E402
from gmia.models.file_format import Model  # noqa: E402
from gmia.targets import HttpTarget, LocalTarget  # noqa: E402
from gmia.zoo import TrainSpec, stacked  # noqa: E402

KEY = "bench-key"


def make_model(folder: Path) -> Path:
    data = load_bundled("adult")
    spec = TrainSpec(hidden=(10, 5), activation="tanh")
    params = stacked.init_params(spec, 1, data.x.shape[1], data.n_classes, torch.Generator().manual_seed(0))
    path = folder / "adult.safetensors"
    Model(params=params, activation="tanh", schema=data.schema).save(path)
    (folder / "keys.json").write_text(json.dumps({"keys": [{"name": "bench", "key": KEY}]}))
    return path


def start_server(folder: Path, model: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "gmia.cli", "serve", str(model), "--api-keys",
                             str(folder / "keys.json"), "--port", str(port), "--access-log", str(folder / "access.log")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not start: {proc.stderr.read() if proc.poll() is not None else ''}")


def throughput(url: str, model: Model, records: list[dict], x: np.ndarray, batch: int, seconds: float) -> dict:
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(headers=headers, timeout=60) as client:
        sent = requests = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            s = (sent % (len(records) - batch))
            resp = client.post(url + "/v1/predict", json={"records": records[s : s + batch]})
            resp.raise_for_status()
            sent += batch
            requests += 1
        http_s = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(requests):
        s = (i * batch) % (len(records) - batch)
        model.predict_proba(x[s : s + batch])
    local_s = time.perf_counter() - start
    return {"batch": batch, "requests": requests, "records_per_s": sent / http_s, "requests_per_s": requests / http_s,
            "local_records_per_s": sent / local_s, "local_over_http": (sent / local_s) / (sent / http_s)}


def client_worker(args) -> dict:
    url, model_path, n_requests, seed = args
    data = load_bundled("adult")
    model = Model.load(model_path)
    rng = np.random.default_rng(seed)
    out = {"ok": 0, "wrong_answer": 0, "refused_401": 0, "answered_bad_key": 0, "other": 0, "latency": []}
    with httpx.Client(timeout=60) as client:
        for _ in range(n_requests):
            kind = rng.choice(["valid", "wrong", "missing"], p=[0.7, 0.15, 0.15])
            rows = rng.integers(0, len(data.x), 5)
            headers = {"valid": {"Authorization": f"Bearer {KEY}"}, "wrong": {"Authorization": f"Bearer {KEY}x"},
                       "missing": {}}[kind]
            t0 = time.perf_counter()
            resp = client.post(url + "/v1/predict", json={"records": decode_records(data.x[rows], data.schema)}, headers=headers)
            out["latency"].append(time.perf_counter() - t0)
            body = resp.json()
            if kind == "valid":
                if resp.status_code != 200:
                    out["other"] += 1
                elif np.array_equal(np.asarray(body["probabilities"]), model.predict_proba(data.x[rows])):
                    out["ok"] += 1
                else:
                    out["wrong_answer"] += 1
            elif resp.status_code == 401 and "probabilities" not in body:
                out["refused_401"] += 1
            else:
                out["answered_bad_key"] += 1
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batches", default="1,10,100,1000")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--exact", type=int, default=5000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(1)
    result: dict = {"python": sys.version.split()[0], "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = make_model(folder)
        model = Model.load(path)
        data = load_bundled("adult")
        records = decode_records(data.x[:20000], data.schema)
        proc, url = start_server(folder, path)
        try:
            print(f"gmia serve on {url}, model with hidden (10, 5) on Adult's {data.x.shape[1]} encoded features")
            result["throughput"] = []
            for batch in (int(b) for b in args.batches.split(",")):
                row = throughput(url, model, records, data.x[:20000], batch, args.seconds)
                result["throughput"].append(row)
                print(f"batch {batch:>5}: {row['records_per_s']:>9.0f} records/s over HTTP ({row['requests_per_s']:.0f} requests/s); "
                      f"local predict_proba {row['local_records_per_s']:.0f} records/s ({row['local_over_http']:.1f}x)")
            remote = HttpTarget(url, KEY, folder / "cache.sqlite", batch_size=1000)
            x = data.x[: args.exact]
            differ = int((remote.predict_proba(x) != LocalTarget(model).predict_proba(x)).any(axis=1).sum())
            remote.close()
            result["exact"] = {"rows": len(x), "rows_differing": differ}
            print(f"exactness: {differ} of {len(x)} rows differ between HttpTarget and LocalTarget")
            t0 = time.perf_counter()
            with mp.get_context("spawn").Pool(args.clients) as pool:
                parts = pool.map(client_worker, [(url, str(path), args.requests, s) for s in range(args.clients)])
            wall = time.perf_counter() - t0
        finally:
            proc.terminate()
            proc.wait()
    lat = np.concatenate([p.pop("latency") for p in parts])
    load = {k: sum(p[k] for p in parts) for k in parts[0]}
    load.update(clients=args.clients, requests=args.clients * args.requests, wall_s=wall,
                requests_per_s=args.clients * args.requests / wall,
                latency_ms={q: float(np.percentile(lat, q) * 1000) for q in (50, 90, 99)})
    result["load"] = load
    print(f"load: {args.clients} clients x {args.requests} requests in {wall:.1f} s ({load['requests_per_s']:.0f} requests/s; "
          f"latency p50 {load['latency_ms'][50]:.1f} ms, p99 {load['latency_ms'][99]:.1f} ms): {load['ok']} valid answered "
          f"correctly, {load['wrong_answer']} answered wrongly, {load['other']} valid refused, {load['refused_401']} bad-key "
          f"refused with 401, {load['answered_bad_key']} bad-key answered")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    bad = load["wrong_answer"] + load["other"] + load["answered_bad_key"] + result["exact"]["rows_differing"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
