"""Every option of the commands that train models, declared once.

An `Option` names its Python keyword (the verbs' keyword and the config field, e.g.
``n_targets``), its command-line flag (``--targets``), its type, its help text and, where the
paper fixes it, the paper's value. `COMMANDS` lists each command's options in ``--help`` order.
From these the command line builds its commands (`gmia.cli.build`), the Python verbs take the
same keywords (`gmia.api.verbs`), and docs/cli.md's option tables are written
(`scripts/cli_reference.py`). Defaults that depend on the data set and command live in the
presets (`gmia.settings.presets`): ``default=None`` here means "the preset's".

Options the runner takes rather than the configuration (where the data and models are:
``dataset``, ``schema``, ``cache_dir``, ``executor``, ``ray_address``, ``device``,
``workers``, ``scale``, ``out``) are declared here too, with ``where=True``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path


@dataclass(frozen=True)
class Option:
    """One option. ``key``: the Python keyword; ``flag``: the command-line flag without dashes
    (default: ``key`` with ``-`` for ``_``); ``repeat``: repeatable on the command line, a tuple
    in Python; ``default``: None for the preset's; ``where``: taken by the runner (data, store,
    run folder), not by the command's configuration; ``required``: the command needs it;
    ``example``: a valid value other than the default, for tests and docs; ``doc``: what
    docs/cli.md says beyond the help text; ``cli_only``: the
    command line's way to give what Python callers hand over as an object (a target's URL or
    file, the HTTP client's settings)."""

    key: str
    help: str
    type: type = str
    flag: str = ""
    repeat: bool = False
    default: object = None
    paper: str = ""
    where: bool = False
    required: bool = False
    example: object = None
    cli_only: bool = False
    doc: str = ""  # more than --help says, for docs/cli.md (Markdown)

    @property
    def cli(self) -> str:
        return "--" + (self.flag or self.key.replace("_", "-"))

    def but(self, **changes) -> "Option":
        """This option as one command has it (another help text, default or example)."""
        return replace(self, **changes)


def _declare(*options: Option) -> dict[str, Option]:
    return {o.key: o for o in options}


OPTIONS = _declare(
    # Where the data and the models are (the runner's).
    Option("dataset", "adult, cancer, census, mnist, fashion-mnist, cifar10 (from the cache: gmia data fetch NAME), or a "
           "CSV file (with --schema)", where=True, required=True, example="cancer"),
    Option("schema", "JSON schema of a CSV data set", Path, where=True),
    Option("cache_dir", "where trained models are stored (default ~/.cache/gmia)", Path, where=True),
    Option("executor", "where models train: local (this process) or ray (a Ray cluster)", default="local", where=True),
    Option("ray_address", "Ray cluster: auto, HOST:PORT, or local to start one here (default: $RAY_ADDRESS or auto)",
           where=True),
    Option("device", "where models train and run: cpu or cuda (cuda:N); training on cuda uses mixed precision",
           default="cpu", where=True),
    Option("scale", "image data: paper (the paper's CNN, 100 targets) or cpu (a reduced setup a CPU runs in minutes); "
           "default: cpu unless --device cuda", where=True),
    Option("out", "run folder for results.json, records.parquet and report.html (default runs/COMMAND-DATASET)", Path,
           where=True),
    Option("workers", "worker processes training models that are not gmia stacks (default: one per core)", int,
           where=True, example=1),
    # The protocol's sizes and seed.
    Option("k", "GMIA reference models (default: 100, or the --scale's)", int, paper="100", example=8),
    Option("n_targets", "target models, even: each pool split trains two (default: 100, or the --scale's)", int,
           flag="targets", paper="100", example=4),
    Option("seed", "seed (default 0)", int, example=3),
    Option("seeds", "repeat the whole protocol with this many seeds (default 1)", int, example=2),
    Option("pool_size", "target pool size (default: the paper's)", int, example=100),
    Option("chunk_size", "models trained and stored per chunk (default 100)", int, example=4),
    # How every model trains.
    Option("steps", "training steps (default: the paper's)", int, example=50),
    Option("hidden", "hidden layer sizes, e.g. 10,5; none = softmax regression", example="4"),
    Option("optimizer", "sgd or adam", example="sgd"),
    Option("lr", "learning rate", float, example=0.01),
    Option("batch_size", "batch size", int, example=20),
    Option("l2", "L2 penalty λ", float, example=0.001),
    Option("dropout", "dropout probability", float, example=0.1),
    Option("reference_sampling", "reference training sets: bootstrap (the paper's, default) or subsample (without "
           "replacement)", example="subsample"),
    Option("algorithm", "how targets and references train: gmia (the stacked trainer, default), a scikit-learn name "
           "(hist-gradient-boosting, random-forest, gradient-boosting, extra-trees, logistic-regression, mlp, svc, lightgbm, "
           "xgboost) or FILE.py:FACTORY (a function returning an unfitted estimator or a train(X, y, seed) function)",
           example="logistic-regression",
           doc="`gmia audit`: by default the target's own algorithm when it says (a gmia model file's architecture, an "
               "ONNX file's recorded estimator), and the audit prints whether they match "
               "([matching](algorithms.md#matching-is-the-default-and-it-is-shown)); "
               "[Auditing your own model](algorithms.md)"),
    Option("algorithm_params", "the algorithm's parameters as a JSON object, e.g. '{\"max_iter\": 200}'",
           example='{"max_iter": 50}'),
    # Selection and the direct test.
    Option("delta", "neighbour threshold δ (cosine distance)", float, paper="0.1 (Cancer), 0.05 (Adult)", example=0.2,
           doc="the paper's for its data sets (`gmia audit` on raw features: always derived); for other data δ is "
               "derived from the data so that 1% of the adversary's own records would be selected (the rule and the value "
               "are printed; [The algorithm](algorithm.md#a-derived-for-data-the-paper-did-not-run))"),
    Option("beta", "probability threshold β on E[N_n]", float, paper="0.1 (Cancer), 0.01 (Adult)", example=0.5),
    Option("cutoffs", "p-value cutoff; repeat for several", float, flag="cutoff", repeat=True,
           paper="0.008, 0.01 (Cancer)", example=(0.05,)),
    Option("cutoff", "p-value cutoff of a member call (default 0.01)", float, example=0.05),
    Option("scaling", "E[N_n] scaling: n_over_nprime (N'_n·N/N', default) or nprime_over_n (as printed)",
           example="nprime_over_n"),
    Option("tail", "p-value rule below the smallest reference loss: gaussian (default), pchip (the paper's extrapolation "
           "made monotone), zero", example="zero"),
    Option("features", "features for neighbour counting: centred-logits (default), logits (the paper's), raw (target "
           "structure hidden), or label-logits (each reference's centred logit of the record's own class)",
           flag="selection-features", paper="logits", example="logits"),
    Option("pvalues", "p-value of the verdicts: calibrated (on held-out population records; default) or raw (the "
           "paper's); both are shown", example="raw",
           doc="[Calibrated p-values](algorithm.md#calibrated-p-values)"),
    Option("references", "what the direct test ranks the target against: paper (the adversary-trained references, "
           "default) or exchangeable (also the other targets that did not train on the record, beside it)",
           example="exchangeable", doc="[Exchangeable references](algorithm.md#exchangeable-references)"),
    Option("out_references", "exchangeable references that leave out each candidate, in expectation (default 50); "
           "the number trained is this × candidates / (candidates − N)", int, example=20),
    Option("fdr_q", "false-discovery level q of the member calls over all candidates (default 0.1)", float,
           flag="fdr-q", example=0.05),
    Option("calibration_size", "adversary records held out of the references to calibrate p-values (default: a quarter, "
           "1,000 to half of them; 0: raw p-values only)", int, example=100),
    # The indirect attack.
    Option("theta", "influence threshold θ (default: the paper's)", float, paper="0.95 (Cancer), 0.9 (Adult)",
           example=0.8),
    Option("null_records", "population records run through the indirect test in place of the record, to check its null "
           "(default: enough pairs to support the cutoff, 299 at 0.01; 0: off)", int, example=0,
           doc="their queries count against `--budget`; when they are called significantly more often than the cutoff, "
               "the indirect verdict is \"test not calibrated on this data\"; otherwise the output says \"not rejected\" "
               "with the 95% upper bound of the null call rate"),
    # The comparison.
    Option("n_inout", "in/out shadow models for LiRA, RMIA and Shokri (even; each pool record in half; default 64)", int,
           flag="inout", example=8),
    Option("n_bootstrap", "bootstrap resamples (targets and records) for the 95% intervals; 0 = none (default 200)", int,
           flag="bootstrap", example=10),
    Option("n_population", "RMIA population records drawn from the adversary's records (default 5000)", int,
           flag="population", example=100),
    Option("shokri_confidence", "Shokri threshold on P(in) (default: the paper's Table 7)", float, flag="confidence",
           paper="0.8 (Cancer), 0.6 (Adult)", example=0.7),
    # --attacks, not --attack: the audit's --attack is the GMIA test (direct, indirect, both).
    Option("attacks", "attack to run; repeat for several (default: all; gmia-direct is always needed)", flag="attacks",
           repeat=True, example=("gmia-direct", "loss")),
    # Privacy.
    Option("dp_clip", "DP-SGD clipping norm C, unless swept (default 1)", float, example=2.0),
    Option("dp_delta", "DP delta, unless swept; must be below 1/N (default 1e-5)", float, example=1e-4),
    Option("accountant", "privacy accountant: rdp (default) or prv (Opacus)", example="prv"),
)


def _of(key: str, **changes) -> Option:
    return OPTIONS[key].but(**changes) if changes else OPTIONS[key]


_SPEC = ("steps", "hidden", "optimizer", "lr", "batch_size", "l2", "dropout")
_STORE = ("cache_dir", "executor", "ray_address", "device", "scale", "out")
_ALGORITHM = ("algorithm", "algorithm_params", "workers")

# Each command's options, in --help order (the order each command has always listed them).
COMMANDS: dict[str, tuple[Option, ...]] = {}
for _table in ("table1", "table2"):
    COMMANDS[_table] = tuple(_of(k) for k in (
        "dataset", "schema", "k", "n_targets", "steps", "delta", "beta", "cutoffs", "scaling", "tail", "seed", "seeds",
        "pool_size", "chunk_size", "cache_dir", "executor", "ray_address", "device", "scale", "out", "hidden",
        "optimizer", "lr", "batch_size", "l2", "dropout", "reference_sampling", "features", "pvalues",
        "calibration_size", "references", *_ALGORITHM))
COMMANDS["table3"] = (
    _of("dataset", help="adult, cancer, mnist, fashion-mnist or cifar10"),
    Option("record", "record index to attack (default: the most isolated pool record)", int, example=5),
    _of("theta"),
    Option("n_candidates", "random queries generated (default 5000)", int, flag="candidates", example=300),
    Option("n_clusters", "medoids kept after clustering (default 50)", int, flag="clusters", example=10),
    Option("sigma", "Gaussian noise around the record instead of uniform queries", float, example=0.1),
    Option("positive_steps", "further-training steps of the positive reference models (default 1000)", int, example=50),
    Option("record_rate", "expected copies of the record per batch while training them (default 1)", float, example=2.0),
    Option("correlation", "ρ for Kost's method: losses (default) or features", example="features"),
    _of("null_records"), _of("k"), _of("n_targets"), _of("seed"), _of("cutoffs"),
    *(_of(k) for k in _STORE),
)
for _view in ("compare", "table7"):
    COMMANDS[_view] = tuple(_of(k) for k in (
        "dataset", "schema", "k", "n_targets", "n_inout", "steps", "delta", "beta")) + (
        _of("cutoffs", help="GMIA p-value cutoff, also the FPR other attacks are set to; repeat for several"),
    ) + tuple(_of(k) for k in (
        "scaling", "tail", "seed", "pool_size", "chunk_size", *_STORE, "hidden", "optimizer", "lr", "batch_size", "l2",
        "dropout", "reference_sampling", "features", "n_bootstrap", "n_population", "shokri_confidence", "attacks",
        "calibration_size", *_ALGORITHM))
_SWEEP = Option("sweep", "NAME=V1,V2,...; repeat for a grid. Names: l2, dropout, steps, dp-epsilon, dp-noise, dp-clip, "
                "dp-delta, top-k, round, label-only, drop-vulnerable", repeat=True, required=True, example=("l2=0.01",))
COMMANDS["defend"] = (
    _of("dataset"), _SWEEP, _of("schema"), _of("k"), _of("n_targets"), _of("delta"), _of("beta"), _of("cutoff"),
    _of("features"), _of("dp_clip"), _of("dp_delta"), _of("accountant"), _of("scaling"), _of("tail"), _of("seed"),
    _of("pool_size"), _of("chunk_size"), *(_of(k) for k in _STORE), *(_of(k) for k in _SPEC), _of("pvalues"),
    _of("calibration_size"), _of("workers"),
)
for _table in ("table4", "table5"):
    COMMANDS[_table] = (
        _of("dataset", help="adult, cancer, mnist (the paper's), fashion-mnist or cifar10", default="adult",
            required=False),
        _of("k"), _of("n_targets"), _of("seed"), *(_of(k) for k in _STORE), _of("features"), _of("workers"),
    )
COMMANDS["audit-dp"] = (
    _of("dataset"),
    Option("canaries", "canaries per source, each in the target's training set with probability 1/2 (default 1000, or "
           "as many as the pool holds beside the target's other records)", int, example=20),
    Option("sources", "canary source: gmia (GMIA's most isolated records), random, mislabelled; repeat for several "
           "(default: all three)", flag="source", repeat=True, example=("random",)),
    Option("dp_epsilon", "the target's DP-SGD budget epsilon; inf trains without DP", float, default=float("inf"),
           example=4.0),
    _of("dp_clip", help="DP-SGD clipping norm C (default 1)"),
    _of("dp_delta", help="DP delta, also the delta of the bounds; below 1/N (default 1e-5)"),
    _of("accountant"),
    Option("confidence", "confidence of the epsilon lower bounds (default 0.95)", float, example=0.9),
    _of("n_population", help="RMIA population records drawn from the calibration records (default 5000)"),
    *(_of(k) for k in ("schema", "k", "delta", "beta", "features", "scaling", "tail", "seed", "pool_size", "chunk_size",
                       "calibration_size", *_STORE)),
    *(_of(k) for k in _SPEC), _of("reference_sampling"), _of("workers"),
)
_HTTP = dict(where=True, cli_only=True)
COMMANDS["audit"] = (
    _of("dataset"),
    Option("target_url", "prediction service to audit, e.g. http://127.0.0.1:8000", **_HTTP),
    Option("api_key_file", "file holding the service's API key", Path, **_HTTP),
    Option("target_model", "or: a local model file to audit in this process", Path,
           doc="see [Model files](model-format.md)", **_HTTP),
    Option("members", "the target's training rows, to score the verdicts against the truth: a members file (.json) or a "
           "CSV of rows", Path, where=True),
    Option("candidates", "the records to test: a CSV of rows of the data set (default: the paper split's pool)", Path,
           where=True),
    Option("population", "the adversary's records, known non-members: a CSV in the data set's columns with the label "
           "(default: every record not a candidate)", Path, where=True, doc="see [data roles](algorithms.md#data-roles)"),
    *(_of(k) for k in ("schema", "k", "delta", "beta")),
    _of("cutoff", help="p-value below which a record is called a member (default 0.01)"),
    _of("features", help="raw (target structure hidden; default), logits or centred-logits", paper=""),
    Option("attack", "direct (default), indirect (never queries the record) or both", example="both"),
    Option("indirect_records", "records, most isolated first, attacked indirectly (default 1)", int, example=2),
    _of("theta", help="indirect influence threshold θ (default: the paper's)"),
    _of("null_records"),
    Option("max_records", "test at most this many selected records, most isolated first", int, example=3),
    Option("budget", "most records ever sent to the target, cached answers included", int, where=True, example=100000),
    Option("batch_records", "records per request", int, default=100, **_HTTP),
    Option("retries", "retries on 429, 5xx and connection errors", int, default=5, **_HTTP),
    Option("timeout", "seconds to wait for one answer", float, default=30.0, **_HTTP),
    Option("query_cache", "SQLite cache of the target's answers (default: queries.sqlite in the cache dir, shared by "
           "every audit)", Path, **_HTTP),
    Option("train_size", "N, the target's training-set size (default: half the pool)", int, example=50),
    *(_of(k) for k in ("scaling", "tail", "seed", "pool_size", "reference_sampling", *_SPEC, *_STORE, "pvalues",
                       "calibration_size")),
    Option("calibration_queries", "calibration records the target is asked for calibrated p-values (default 1000)", int,
           example=500),
    _of("references", help="what the direct test ranks the target against: exchangeable (default: references each "
        "trained on a random N of the candidates, a record tested against those that left it out) or paper (the "
        "adversary-trained references; selection uses them in both)", example="paper"),
    _of("out_references"), _of("fdr_q"),
    _of("attacks", help="attack scored on every candidate; repeat for several (default: every registered "
        "attack with exchangeable references: gmia-direct, gmia-exchangeable, shokri, loss, LiRA, RMIA)",
        example=("loss", "lira-offline")),
    *(_of(k) for k in _ALGORITHM),
    Option("export", "also write the verdicts, one row per tested record with its features, to this .csv or .parquet "
           "file", Path, **_HTTP),
)
COMMANDS["model train"] = (
    _of("dataset"),
    _of("out", help="model file to write: .safetensors (a gmia model) or .onnx (with --algorithm); the members file goes "
        "beside it", required=True),
    _of("schema"),
    _of("seed", help="seed", default=0),
    Option("half", "which half of the seed's pool split trains the model (0 or 1)", int, default=0, where=True, example=1),
    _of("pool_size"), *(_of(k) for k in _SPEC), *(_of(k) for k in ("cache_dir", "executor", "ray_address", "device",
                                                                   "scale")),
    _of("algorithm"), _of("algorithm_params"),
)


def config_options(command: str, values: dict) -> dict:
    """The values of ``command``'s configuration options (not the runner's), by Python keyword;
    repeatable ones as tuples, those not given (None) left out."""
    out = {}
    for o in COMMANDS[command]:
        if o.where or o.key not in values or values[o.key] is None:
            continue
        out[o.key] = tuple(values[o.key]) if o.repeat else values[o.key]
    return out
