"""gmia's Python API: audit a model, reproduce the paper, compare attacks, try defences, audit DP.

Every function takes its options as keywords; an option left as `None` is the preset's for
the data set and command (`gmia.settings.presets`), exactly as on the command line. Options are
validated before any model trains. Trained models are cached (`cache_dir`, default
`~/.cache/gmia` or `$GMIA_CACHE`), so a second call reuses them; with `out=` a run folder
(results.json, records.parquet, report.html) is written too.

The quick start is the README's "Python" section; docs/python-api.md walks through every verb.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np

from gmia.auditing.run import AuditConfig, AuditResult, run_audit
from gmia.canaries import AuditDpConfig, AuditDpResult, run_audit_dp
from gmia.comparison.config import CompareConfig
from gmia.settings.config import ProtocolConfig
from gmia.comparison.run import CompareResult, run_compare
from gmia.data import Dataset
from gmia.defenses.config import DefendConfig, paper_rows
from gmia.defenses.run import DefendResult, run_defend
from gmia.base.errors import GmiaError
from gmia.experiments.reproduce import ReproduceConfig, run_reproduce
from gmia.experiments.table3 import Table3Config, run_table3
from gmia.models.file_format import Model
from gmia.auditing.roles import resolve_roles
from gmia.targets import as_target
from gmia.protocol.deployed import train_pool_target
from gmia.api.resources import _checked_out, _data, _members, _progress, _run, load_dataset, make_store  # noqa: F401
from gmia.zoo import ZooStore

TABLES = ("table1", "table2", "table3", "table4", "table5", "table7")

# The keywords every verb that trains models takes, with the same meaning and default (see `audit`).
WHERE = ("cache_dir", "executor", "ray_address", "device", "workers", "store", "out", "progress")


def _where(scope: dict) -> dict:
    """The `WHERE` keywords of a verb's call, taken from its ``locals()``."""
    return {name: scope[name] for name in WHERE}


def _execute(data: Dataset, cfg, engine, write, *, cache_dir, executor, ray_address, device, workers, store, out,
             progress, out_to_engine: bool = False, **engine_kwargs):
    """The one body of every verb: check the run folder, make the store, run ``engine`` with
    progress as asked, and write the run folder with ``write(out, result)``."""
    out = _checked_out(out)
    store = store or make_store(cache_dir, executor, ray_address, device, workers)
    if out_to_engine:
        engine_kwargs["out"] = out
    result = _run(engine, data, store, cfg, progress, **engine_kwargs)
    if out is not None:
        write(out, result)
    return result


def _write(command: str, data: Dataset, extra=None, frame=None):
    """``write(out, result)``: results.json from ``result.to_dict()`` and ``extra(result)``, the
    records frame from ``frame()`` if given, and the report."""

    def write(out: Path, result) -> None:
        from gmia.report import write_run

        payload = {**result.to_dict(), **(extra(result) if extra else {})}
        write_run(out, command, payload, frame() if frame else None, classes=data.schema.classes)

    return write


def train_target(data: Dataset | str, *, seed: int = 0, half: int = 0, pool_size: int | None = None,
                 cache_dir: str | Path | None = None, executor: str = "local", ray_address: str | None = None,
                 device: str = "cpu", scale: str | None = None, progress=True, algorithm=None,
                 algorithm_params=None, **spec_options) -> tuple[Model, np.ndarray]:
    """Train one target the way the paper's protocol does: the preset's model on half of the target pool.

    Parameters
    ----------
    data : Dataset or str
        The data set, or its name.
    seed : int
        The protocol's seed: which split of the pool (the same as `reproduce` and `audit` use).
    half : int
        Which half of the split trains the model (0 or 1).
    pool_size : int, optional
        Records in the target pool (default: the paper's).
    cache_dir, executor, ray_address, device : see `make_store`
    scale : str, optional
        Image sets: `"paper"` (the paper's CNN) or `"cpu"` (the reduced setup).
    algorithm, algorithm_params : optional
        Train a scikit-learn estimator instead of gmia's model: an unfitted estimator or
        Pipeline, or a name such as `"hist-gradient-boosting"` with its parameters
        (`gmia.algorithms`); it is fitted exactly as the protocol's target of this half.
    **spec_options
        steps, hidden, activation, optimizer, lr, batch_size, l2, dropout: changes to the
        preset's training spec.

    Returns
    -------
    tuple of (Model or estimator, numpy.ndarray)
        The model (`predict_proba`; `model.save(path)` writes a model file for `gmia serve`;
        a fitted estimator is written with `gmia.save_onnx`) and the sorted indices of the
        records it trained on.
    """
    data = _data(data, cache_dir)
    cfg = ProtocolConfig.resolve(data.name, command="train", scale=scale, device=device, seed=seed, pool_size=pool_size,
                                 algorithm=algorithm, algorithm_params=algorithm_params, **spec_options)
    store = make_store(cache_dir, executor, ray_address, device)
    with _progress(progress) as bar:
        model, members, _ = train_pool_target(data, cfg.spec, store, seed=cfg.seed, half=half, pool_size=cfg.pool_size,
                                              progress=bar.task if bar else None, algorithm=cfg.algorithm)
    return model, members


def audit(target, data: Dataset | str, *, members=None, candidates=None, population=None, budget: int | None = None,
          config: AuditConfig | None = None,
          cache_dir: str | Path | None = None, executor: str = "local", ray_address: str | None = None,
          device: str = "cpu", scale: str | None = None, out: str | Path | None = None, progress=True,
          store: ZooStore | None = None, workers: int | None = None, **options) -> AuditResult:
    """Audit one model: select the vulnerable records, query the target, one verdict per record.

    Parameters
    ----------
    target : Target
        The model under audit: anything with `predict_proba(x)` on the data set's encoded rows
        (`gmia.targets.Target`): a `gmia.Model`, a fitted scikit-learn classifier, a
        `gmia.targets.HttpTarget` for a prediction API, or an object of your own.
    data : Dataset or str
        The data set, or its name. Its pool holds the candidate records; the rest are the
        adversary's reference records (the paper's split, seeded by `seed`).
    members : array of int, DataFrame, or str or Path, optional
        The records the target truly trained on (indices, a table of rows, a CSV of rows, or a
        members file from `gmia model train`), to score the verdicts against the truth. A
        population record among them is refused (`gmia.auditing.roles`).
    candidates : array of int, DataFrame, or str or Path, optional
        The records to test (indices, rows, or a CSV of rows of `data`); default: the paper
        split's pool.
    population : array of int, DataFrame, or str or Path, optional
        The adversary's records, known not to be the target's training rows, that train the
        references and calibrate the p-values: indices into `data`, or rows with the label (a
        table or a CSV in the data set's columns), which are appended to the data set.
        Default: every record that is not a candidate.
    budget : int, optional
        The most records the audit may send to the target, whatever kind of target it is.
    config : AuditConfig, optional
        A ready configuration; otherwise one is built from `options`.
    cache_dir, executor, ray_address, device, workers, store : see make_store
        Where reference models are cached and trained: a cache folder (default
        `~/.cache/gmia`), `"local"` or `"ray"`, a Ray address, `"cpu"` or `"cuda"`, worker
        processes for models that are not gmia stacks; or a ready store.
    scale : str, optional
        Image sets: `"paper"` (the paper's CNN) or `"cpu"` (the reduced setup).
    out : str or Path, optional
        Write a run folder (results.json, report.html) there.
    progress : bool
        Show progress on stderr.
    **options
        `AuditConfig` fields: algorithm (how the references train: by default the target's own
        algorithm when it says what it is, see `gmia.auditing.matching`; a scikit-learn estimator or
        Pipeline, a ``train(X, y, seed)`` function, a name such as `"hist-gradient-boosting"`
        or `"FILE.py:factory"`), algorithm_params (a dict or JSON object for a name or
        factory), attack (`"direct"`, `"indirect"`, `"both"`), k, delta, beta,
        cutoff, features, scaling, tail, seed, pool_size, train_size, reference_sampling,
        max_records, indirect_records, theta, null_records, pvalues (`"calibrated"`, the
        default, or `"raw"`), calibration_size, calibration_queries, references
        (`"exchangeable"`, the default, or `"paper"`), out_references, fdr_q, attacks (registered
        attack names scored on every candidate; default all); and the training spec's steps,
        hidden, activation, optimizer, lr, batch_size, l2, dropout.

    Returns
    -------
    AuditResult
        `.summary()`, `.to_frame()` (one row per candidate, the tested ones first with the
        verdict's p-value, the paper design's beside it, the interval and the verdict; every
        candidate's exchangeable p-values, FDR call and every attack's score), `.tested_frame()`
        (the tested records only),
        `.attacks` (per attack: AUC, TPR at low FPR and ε bound when the members are known)
        and `.to_dict()`.
    """
    data = _data(data, cache_dir)
    cfg = config or AuditConfig.resolve(data.name, scale=scale, device=device, **options)
    wrapped = as_target(target, data.schema, budget)  # a bad budget fails before any model trains
    if isinstance(members, np.ndarray | list | tuple):
        members = _members(members, data)
    roles = resolve_roles(data, candidates=candidates, population=population, members=members, pool_size=cfg.pool_size,
                          seed=cfg.seed)
    return _execute(data, cfg, lambda d, s, c, **kw: run_audit(d, wrapped, s, c, roles=roles, **kw),
                    _write("audit", data), **_where(locals()))


def reproduce(table: str = "table1", dataset: Dataset | str = "cancer", *, cache_dir: str | Path | None = None,
              executor: str = "local", ray_address: str | None = None, device: str = "cpu", scale: str | None = None,
              out: str | Path | None = None, progress=True, config=None, store: ZooStore | None = None,
              workers: int | None = None, **options):
    """Reproduce one of the paper's tables on a data set.

    Parameters
    ----------
    table : str
        `table1` or `table2`: direct inference at the paper's thresholds (a `ReproduceResult`);
        `table3`: indirect inference on one record (a `Table3Result`); `table4`, `table5`:
        training length and L2 as defences (a `DefendResult`); `table7`: Shokri's attack on
        GMIA's records (a `CompareResult`).
    dataset : Dataset or str
        The data set, or its name.
    **options
        Fields of the table's config class (`ReproduceConfig`, `Table3Config`, `DefendConfig`,
        `CompareConfig`): k, n_targets, seed, seeds, delta, beta, cutoffs, algorithm and
        algorithm_params (table1/table2: targets and references of another training
        algorithm, `gmia.algorithms`), and the training spec's; the other keywords are those of `audit`.

    Returns
    -------
    ReproduceResult, Table3Result, DefendResult or CompareResult
        Each with `.summary()`, `.to_frame()` and `.to_dict()`.
    """
    if table not in TABLES:
        raise GmiaError(f"unknown table {table!r}; expected one of: {', '.join(TABLES)}")
    where = {**_where(locals()), "scale": scale}
    if table == "table7":
        return compare(dataset, command="table7", config=config, **where, **options)
    if table in ("table4", "table5"):
        return defend(dataset, command=table, config=config, **where, **options)
    data = _data(dataset, cache_dir)
    _checked_out(out)  # a bad folder fails before the configuration is resolved, as it always did
    if table == "table3":
        from gmia.settings.paper import PRESETS

        cfg = config or Table3Config.resolve(data.name, scale=scale, device=device, **options)
        paper = {"decision_cutoff": min(cfg.cutoffs), "paper_table3": [asdict(r) for r in PRESETS[data.name].table3]}
        return _execute(data, cfg, run_table3, _write("table3", data, lambda r: {"cards": [r.card], **paper}),
                        out_to_engine=True, **_where(locals()))
    cfg = config or ReproduceConfig.resolve(data.name, table=table, scale=scale, device=device, **options)
    recorder = None
    if out is not None:
        from gmia.protocol.records import RunRecorder

        recorder = RunRecorder(cutoff=max(cfg.cutoffs))
    write = _write(table, data, lambda r: {"cards": recorder.cards, "decision_cutoff": recorder.cutoff}, recorder and recorder.frame)
    return _execute(data, cfg, run_reproduce, write, on_seed=recorder, **_where(locals()))


def compare(dataset: Dataset | str, *, command: str = "compare", cache_dir: str | Path | None = None,
            executor: str = "local", ray_address: str | None = None, device: str = "cpu", scale: str | None = None,
            out: str | Path | None = None, progress=True, config: CompareConfig | None = None, store: ZooStore | None = None,
            workers: int | None = None, **options) -> CompareResult:
    """GMIA beside Shokri's shadow models, the loss threshold, LiRA and RMIA, on the same models.

    Parameters
    ----------
    dataset : Dataset or str
        The data set, or its name.
    command : str
        `"compare"`, or `"table7"` for the paper's Table 7 defaults (GMIA and Shokri only).
    **options
        `CompareConfig` fields: attacks (registered names, default all), k, n_targets,
        n_inout, delta, beta, cutoffs, n_bootstrap, n_population, shokri_confidence, seed, and
        the training spec's; the other keywords are those of `audit`.

    Returns
    -------
    CompareResult
        `.summary()`, `.to_frame()` (one row per attack: AUC, TPR at low FPR, precision and
        recall on GMIA's records) and `.to_dict()`.
    """
    data = _data(dataset, cache_dir)
    cfg = config or CompareConfig.resolve(data.name, command=command, scale=scale, device=device, **options)
    return _execute(data, cfg, run_compare, _write(command, data), **_where(locals()))


def defend(dataset: Dataset | str, sweep=(), *, command: str = "defend", cache_dir: str | Path | None = None,
           executor: str = "local", ray_address: str | None = None, device: str = "cpu", scale: str | None = None,
           out: str | Path | None = None, progress=True, config: DefendConfig | None = None, store: ZooStore | None = None,
           workers: int | None = None, **options) -> DefendResult:
    """Defences swept over the paper's protocol: utility against GMIA's success, per setting.

    Parameters
    ----------
    dataset : Dataset or str
        The data set, or its name.
    sweep : str or list of str
        `"NAME=V1,V2,..."` strings (l2, dropout, steps, dp-epsilon, dp-noise, dp-clip, dp-delta,
        top-k, round, label-only, drop-vulnerable); every combination is one setting.
    command : str
        `"defend"`, or `"table4"`/`"table5"` for the paper's sweeps.
    **options
        `DefendConfig` fields (delta, beta, cutoff, dp_clip, dp_delta, accountant, k, ...);
        the other keywords are those of `audit`. With `out` the run folder gets the trade-off
        figure (PNG and SVG) too.

    Returns
    -------
    DefendResult
        `.summary()`, `.to_frame()` (one row per setting) and `.to_dict()`.
    """
    data = _data(dataset, cache_dir)
    if sweep:
        options["sweep"] = (sweep,) if isinstance(sweep, str) else tuple(sweep)
    cfg = config or DefendConfig.resolve(data.name, command=command, scale=scale, device=device, **options)

    def write(out: Path, result: DefendResult) -> None:
        from gmia.report.tradeoff import tradeoff_figure

        out.mkdir(parents=True, exist_ok=True)
        tradeoff_figure(result, out)
        _write(command, data, lambda r: {"paper": paper_rows(command, cfg) or {}})(out, result)

    return _execute(data, cfg, run_defend, write, **_where(locals()))


def audit_dp(dataset: Dataset | str, *, cache_dir: str | Path | None = None, executor: str = "local",
             ray_address: str | None = None, device: str = "cpu", scale: str | None = None, out: str | Path | None = None,
             progress=True, config: AuditDpConfig | None = None, store: ZooStore | None = None,
             workers: int | None = None, **options) -> AuditDpResult:
    """One-run privacy audit (Steinke et al. 2023): one target trained once with m canaries, ε lower bounds.

    Per canary source, m pool records are canaries, each in the target's training set with
    probability 1/2 beside N other pool records; the target trains once (with DP-SGD at
    `dp_epsilon`, or without), GMIA direct, LiRA offline and RMIA offline score the canaries
    with the protocol's reference models (none of which holds a canary), and the scores give
    ε lower bounds to set beside the accountant's ε (`gmia.privacy.one_run_bound`).

    Parameters
    ----------
    dataset : Dataset or str
        The data set, or its name.
    **options
        `AuditDpConfig` fields: canaries (m, default 1,000 or as many as the pool holds), sources (`"gmia"`, `"random"`,
        `"mislabelled"`; default all three), dp_epsilon (default inf: no DP), dp_clip, dp_delta,
        accountant, confidence, delta, beta, k, seed, pool_size, n_population, and the training
        spec's; the other keywords are those of `audit`.

    Returns
    -------
    AuditDpResult
        `.summary()`, `.to_frame()` (one row per source × attack: the bounds, the guesses that
        made them, the accountant's ε and the source's wall time) and `.to_dict()`.
    """
    data = _data(dataset, cache_dir)
    cfg = config or AuditDpConfig.resolve(data.name, scale=scale, device=device, **options)
    return _execute(data, cfg, run_audit_dp, _write("audit-dp", data), **_where(locals()))
