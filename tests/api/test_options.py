"""Every option declared once (`gmia.settings.options`) works the same way from the command line
and from Python: for each command and each option, the configuration the CLI resolves with
``--flag VALUE`` is the one the Python verb resolves with ``key=VALUE``, and it differs from the
configuration without the option (so the option reaches the configuration at all)."""

from __future__ import annotations

import inspect

import pytest

import gmia
from gmia.cli import main
from gmia.settings.options import COMMANDS
from test_api import Captured, capture, model_file  # noqa: F401  (fixtures: every engine stood in for; a model file)


def _verb(command: str, model_file):
    """The Python call of ``command`` (with its required arguments) as ``call(**options)``."""
    if command in ("table1", "table2", "table3", "table4", "table5", "table7"):
        return lambda **kw: gmia.reproduce(command, "cancer", **kw)
    if command == "audit":
        return lambda **kw: gmia.audit(gmia.Model.load(model_file), "cancer", **kw)
    return {"compare": lambda **kw: gmia.compare("cancer", **kw), "defend": lambda **kw: gmia.defend("cancer", **kw),
            "audit-dp": lambda **kw: gmia.audit_dp("cancer", **kw)}[command]


def _argv(command: str, model_file, options: dict) -> list[str]:
    words = {"audit-dp": ["audit-dp"], "compare": ["compare"], "defend": ["defend"], "audit": ["audit"]}.get(
        command, ["reproduce", command])
    argv = [*words, "--dataset", "cancer"] + (["--target-model", str(model_file)] if command == "audit" else [])
    declared = {o.key: o for o in COMMANDS[command]}
    for key, value in options.items():
        for one in (value if declared[key].repeat else (value,)):
            argv += [declared[key].cli, str(one)]
    return argv


def _required(command: str) -> dict:
    return {o.key: o.example for o in COMMANDS[command] if o.required and not o.where}


def _config(call, capture, **options) -> dict:
    with pytest.raises(Captured):
        call(**options)
    return capture.pop().to_dict()


CASES = [(command, o.key) for command, options in COMMANDS.items() if command != "model train"
         for o in options if not o.where]


@pytest.mark.slow
@pytest.mark.parametrize(("command", "key"), CASES, ids=[f"{c}:{k}" for c, k in CASES])
def test_an_option_gives_the_same_configuration_from_the_cli_and_from_python(command, key, capture, model_file, tmp_path):
    option = next(o for o in COMMANDS[command] if o.key == key)
    assert option.example is not None, f"{command} --{key} has no example value to test with"
    given = {**_required(command), key: option.example}
    if key == "algorithm_params":
        given["algorithm"] = "logistic-regression"  # parameters belong to an algorithm
    where = dict(cache_dir=tmp_path / "cache", out=tmp_path / "out", progress=False)
    call = _verb(command, model_file)
    from_python = _config(call, capture, **where, **given)
    with pytest.raises(Captured):
        main(_argv(command, model_file, given) + ["--cache-dir", str(where["cache_dir"]), "--out", str(where["out"])])
    from_cli = capture.pop().to_dict()
    assert from_cli == from_python
    if not option.required:  # a required option is in the configuration without it too
        without = _config(call, capture, **where, **_required(command))
        assert from_python != without, f"{command}: {option.cli} changed nothing in the configuration"


@pytest.mark.parametrize("command", [c for c in COMMANDS if c != "model train"])
def test_every_verb_takes_the_runners_options(command, model_file):
    """The options the runner takes (store, run folder, progress) are keywords of every verb."""
    verb = {"audit": gmia.audit, "compare": gmia.compare, "defend": gmia.defend, "audit-dp": gmia.audit_dp}.get(
        command, gmia.reproduce)
    keywords = set(inspect.signature(verb).parameters)
    runner = {o.key for o in COMMANDS[command] if o.where and not o.cli_only} - {"dataset", "schema", "scale"}
    assert runner <= keywords, sorted(runner - keywords)
    assert {"workers", "cache_dir", "executor", "ray_address", "device", "out", "progress", "store"} <= keywords


def test_model_train_and_train_target_take_the_same_options():
    keywords = set(inspect.signature(gmia.train_target).parameters)
    cli = {o.key for o in COMMANDS["model train"] if not o.cli_only} - {"dataset", "schema", "out"}
    assert cli <= keywords | {"steps", "hidden", "optimizer", "lr", "batch_size", "l2", "dropout"}, sorted(cli - keywords)


def test_compare_takes_workers_from_python():
    """Was refused while `gmia compare --workers 2` worked (the verbs had drifted apart)."""
    assert "workers" in inspect.signature(gmia.compare).parameters


def test_each_option_is_declared_once():
    """An option several commands take is `OPTIONS[key]` (at most with its own help or default
    there); one declared inside a command's list is that command's alone."""
    from collections import Counter

    from gmia.settings.options import OPTIONS

    local = Counter()
    for command, options in COMMANDS.items():
        for o in options:
            if o.key in OPTIONS:
                shared = OPTIONS[o.key]
                assert (o.type, o.flag, o.repeat, o.cli_only) == (shared.type, shared.flag, shared.repeat, shared.cli_only), \
                    f"{command}: {o.cli} redeclares {o.key}"
            else:
                local[o.key] += 1
    assert not [k for k, n in local.items() if n > 1], [k for k, n in local.items() if n > 1]
