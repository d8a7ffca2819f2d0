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


def _dataset(name: str, schema: Optional[Path]):
    from gmia.data import load_csv_with_schema, load_dataset

    if name.lower().endswith(".csv"):
        if schema is None:
            raise GmiaError(f"data file {name!r} needs a schema; pass --schema FILE.json with its label, numeric and categorical columns")
        return load_csv_with_schema(name, schema)
    return load_dataset(name)


def _run_table(table: str, dataset: str, schema, k, targets, steps, delta, beta, cutoff, scaling, tail,
               seed, seeds, pool_size, chunk_size, cache_dir, out, hidden, optimizer, lr, batch_size, l2, dropout,
               reference_sampling, selection_features):
    from gmia.experiments.paper import PRESETS
    from gmia.experiments.render import render
    from gmia.experiments.reproduce import paper_settings, reproduce
    from gmia.progress import StepProgress
    from gmia.zoo import TrainSpec, ZooStore
    from gmia.zoo.store import atomic_write_json

    # Wide enough for the side-by-side tables when output goes to a file or CI log.
    console = Console() if sys.stdout.isatty() else Console(width=170)
    store = ZooStore(cache_dir)
    if out is not None:
        _check_writable(out)
    data = _dataset(dataset, schema)
    preset = PRESETS.get(data.name)
    base = preset.spec if preset else TrainSpec()
    overrides = {key: val for key, val in dict(
        steps=steps, optimizer=optimizer, lr=lr, batch_size=batch_size, l2=l2, dropout=dropout,
        hidden=None if hidden is None else _parse_hidden(hidden)).items() if val is not None}
    spec = TrainSpec.build(**{**base.model_dump(), **overrides})
    if delta is not None or beta is not None:
        default = preset.table1 if preset else None
        d = delta if delta is not None else (default.delta if default else 0.1)
        b = beta if beta is not None else (default.beta if default else 0.1)
        settings = ((d, b),)
    elif preset:
        settings = tuple((s.delta, s.beta) for s in paper_settings(table, data.name))
    else:
        settings = ((0.1, 0.1),)
    if cutoff:
        cutoffs = tuple(cutoff)
    elif preset and table == "table1":
        cutoffs = tuple(r.cutoff for r in preset.table1.rows)
    else:
        cutoffs = (0.01,)
    with StepProgress(console) as progress:
        result = reproduce(
            table, data, spec, store, settings=settings, cutoffs=cutoffs, k=k, n_targets=targets,
            scaling=scaling, tail=tail, seed=seed, seeds=seeds, pool_size=pool_size, chunk_size=chunk_size,
            reference_sampling=reference_sampling, features=selection_features, progress=progress.task, on_stage=progress.stage,
        )
    render(result, console)
    if out is not None:
        path = Path(out) / "result.json"
        atomic_write_json(path, result.to_dict())
        console.print(f"Results written to {path}")
    console.print(f"Trained models cached in {store.root}")


def _parse_hidden(text: str) -> tuple[int, ...]:
    text = text.strip()
    if text in ("", "none", "0"):
        return ()
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise GmiaError(f"hidden sizes {text!r} are not a comma-separated list of integers; expected e.g. 10,5 (or none)") from None


def _check_writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".gmia-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise GmiaError(f"output folder {str(folder)!r} cannot be written ({exc.strerror}); expected a writable folder") from None


def _table_command(table: str):
    def command(
        dataset: Annotated[str, typer.Option(help="adult, cancer, or a CSV file (with --schema)")],
        schema: Annotated[Optional[Path], typer.Option(help="JSON schema of a CSV data set")] = None,
        k: Annotated[int, typer.Option("--k", help="reference models")] = 100,
        targets: Annotated[int, typer.Option(help="target models (even: each pool split trains two)")] = 100,
        steps: Annotated[Optional[int], typer.Option(help="training steps (default: the paper's)")] = None,
        delta: Annotated[Optional[float], typer.Option(help="neighbour threshold δ (cosine distance)")] = None,
        beta: Annotated[Optional[float], typer.Option(help="probability threshold β on E[N_n]")] = None,
        cutoff: Annotated[Optional[list[float]], typer.Option(help="p-value cutoff; repeat for several")] = None,
        scaling: Annotated[str, typer.Option(help="E[N_n] scaling: n_over_nprime (N'_n·N/N') or nprime_over_n (as printed)")] = "n_over_nprime",
        tail: Annotated[str, typer.Option(help="p-value rule below the smallest reference loss: pchip, zero, gaussian")] = "pchip",
        seed: Annotated[int, typer.Option(help="first seed")] = 0,
        seeds: Annotated[int, typer.Option(help="repeat the whole protocol with this many seeds")] = 1,
        pool_size: Annotated[Optional[int], typer.Option(help="target pool size (default: the paper's)")] = None,
        chunk_size: Annotated[int, typer.Option(help="models trained and stored per chunk")] = 100,
        cache_dir: Annotated[Optional[Path], typer.Option(help="where trained models are stored (default ~/.cache/gmia)")] = None,
        out: Annotated[Optional[Path], typer.Option(help="folder for result.json")] = None,
        hidden: Annotated[Optional[str], typer.Option(help="hidden layer sizes, e.g. 10,5; none = softmax regression")] = None,
        optimizer: Annotated[Optional[str], typer.Option(help="sgd or adam")] = None,
        lr: Annotated[Optional[float], typer.Option(help="learning rate")] = None,
        batch_size: Annotated[Optional[int], typer.Option(help="batch size")] = None,
        l2: Annotated[Optional[float], typer.Option(help="L2 penalty λ")] = None,
        dropout: Annotated[Optional[float], typer.Option(help="dropout probability")] = None,
        reference_sampling: Annotated[str, typer.Option(help="reference training sets: bootstrap (the paper's) or subsample (without replacement)")] = "bootstrap",
        selection_features: Annotated[str, typer.Option(help="features for neighbour counting: logits (the paper's), centred-logits, or raw (target structure hidden)")] = "logits",
    ):
        _run_table(table, dataset, schema, k, targets, steps, delta, beta, cutoff, scaling, tail, seed, seeds,
                   pool_size, chunk_size, cache_dir, out, hidden, optimizer, lr, batch_size, l2, dropout,
                   reference_sampling, selection_features)

    command.__doc__ = {
        "table1": "Direct inference at the paper's δ, β and cutoffs (its Table 1).",
        "table2": "Direct inference at the paper's other selection thresholds (its Table 2), at cutoff 0.01.",
    }[table]
    return command


reproduce_app.command("table1")(_table_command("table1"))
reproduce_app.command("table2")(_table_command("table2"))


@reproduce_app.command("table3")
def table3(
    dataset: Annotated[str, typer.Option(help="adult or cancer")],
    record: Annotated[Optional[int], typer.Option(help="record index to attack (default: the most isolated pool record)")] = None,
    theta: Annotated[Optional[float], typer.Option(help="influence threshold θ (default: the paper's)")] = None,
    candidates: Annotated[int, typer.Option(help="random queries generated")] = 5000,
    clusters: Annotated[int, typer.Option(help="medoids kept after clustering")] = 50,
    sigma: Annotated[Optional[float], typer.Option(help="Gaussian noise around the record instead of uniform queries")] = None,
    positive_steps: Annotated[int, typer.Option(help="further-training steps of the positive reference models")] = 1000,
    correlation: Annotated[str, typer.Option(help="ρ for Kost's method: losses or features")] = "losses",
    k: Annotated[int, typer.Option("--k", help="reference models")] = 100,
    targets: Annotated[int, typer.Option(help="target models")] = 100,
    seed: Annotated[int, typer.Option(help="seed")] = 0,
    cutoff: Annotated[Optional[list[float]], typer.Option(help="p-value cutoff; repeat for several")] = None,
    cache_dir: Annotated[Optional[Path], typer.Option(help="where trained models are stored")] = None,
    out: Annotated[Optional[Path], typer.Option(help="folder for result.json")] = None,
):
    """Indirect inference on one record, never querying it, against direct inference (the paper's Table 3)."""
    from gmia.attacks.indirect import IndirectConfig
    from gmia.data import load_dataset
    from gmia.experiments.paper import PRESETS
    from gmia.experiments.table3 import render_table3, run_table3
    from gmia.progress import StepProgress
    from gmia.zoo import ZooStore
    from gmia.zoo.store import atomic_write_json

    console = Console() if sys.stdout.isatty() else Console(width=170)
    store = ZooStore(cache_dir)
    if out is not None:
        _check_writable(out)
    data = load_dataset(dataset)
    preset = PRESETS[data.name]
    cfg = IndirectConfig(theta=preset.theta if theta is None else theta, n_candidates=candidates, n_clusters=clusters,
                         sigma=sigma, positive_steps=positive_steps, correlation=correlation)
    with StepProgress(console) as progress:
        result = run_table3(data, preset.spec, store, cfg, record=record, k=k, n_targets=targets, seed=seed,
                            cutoffs=tuple(cutoff) if cutoff else (0.01, 0.1), delta=preset.table1.delta,
                            beta=preset.table1.beta, out=out, progress=progress.task, on_stage=progress.stage)
    render_table3(result, console)
    if out is not None:
        path = Path(out) / "result.json"
        atomic_write_json(path, result.to_dict())
        console.print(f"Results written to {path}")


def main(argv: list[str] | None = None) -> int:
    try:
        app(args=argv, standalone_mode=False)
    except GmiaError as exc:
        err_console.print(f"error: {exc}", highlight=False, soft_wrap=True)
        return 2
    except typer.Abort:
        err_console.print("aborted")
        return 130
    except KeyboardInterrupt:
        err_console.print("interrupted: trained chunks are kept and the next run resumes from them")
        return 130
    except Exception as exc:  # click usage errors carry their own exit code
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            return exc.exit_code
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
