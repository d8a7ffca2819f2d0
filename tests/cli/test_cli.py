"""The command line: bad input gets one sentence and exit code 2; a small run end to end."""

import json
import subprocess
import sys

import numpy as np
import pytest

from gmia.cli import main

FAST = ["--k", "6", "--targets", "4", "--steps", "50"]


@pytest.fixture
def csv_case(tmp_path):
    def make(text: str, schema: dict):
        data = tmp_path / "records.csv"
        data.write_text(text)
        spec = tmp_path / "schema.json"
        spec.write_text(json.dumps(schema))
        return ["--dataset", str(data), "--schema", str(spec)]

    return make


SCHEMA = {"label": "y", "numeric": ["a", "b"], "categorical": ["c"]}


def run(args, capsys, tmp_path):
    code = main(["reproduce", "table1", *args, "--cache-dir", str(tmp_path / "cache")])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_sentence(code, err, *words):
    assert code == 2
    assert "Traceback" not in err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    for w in words:
        assert w in err, err


@pytest.mark.parametrize(
    "args,words",
    [
        (["--dataset", "nope"], ["'nope'", "adult", "cancer"]),
        (["--dataset", "cancer", "--delta", "0"], ["delta=0.0", "(0, 2)"]),
        (["--dataset", "cancer", "--delta", "3"], ["delta=3.0"]),
        (["--dataset", "cancer", "--beta", "-0.5"], ["beta=-0.5"]),
        (["--dataset", "cancer", "--k", "1"], ["k=1", "k >= 2"]),
        (["--dataset", "cancer", "--cutoff", "1.5"], ["cutoff 1.5", "(0, 1)"]),
        (["--dataset", "cancer", "--cutoff", "0"], ["cutoff 0.0"]),
        (["--dataset", "cancer", "--targets", "3"], ["targets 3", "even"]),
        (["--dataset", "cancer", "--tail", "magic"], ["'magic'", "pchip"]),
        (["--dataset", "cancer", "--scaling", "magic"], ["'magic'", "n_over_nprime"]),
        (["--dataset", "cancer", "--hidden", "a,b"], ["'a,b'"]),
        (["--dataset", "cancer", "--lr", "-1"], ["lr=-1.0"]),
    ],
)
@pytest.mark.slow
def test_bad_options(args, words, capsys, tmp_path):
    code, _, err = run(args, capsys, tmp_path)
    assert_one_sentence(code, err, *words)


def test_unwritable_cache_dir(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code = main(["reproduce", "table1", "--dataset", "cancer", "--cache-dir", str(blocker / "sub")])
    assert_one_sentence(code, capsys.readouterr().err, "cannot be written")


@pytest.mark.parametrize(
    "text,schema,words",
    [
        ("a,b,y\n1,2,0\n3,4,1\n", SCHEMA, ["'c'"]),  # declared column missing
        ("a,b,c,y\n1,x,u,0\n3,4,v,1\n", SCHEMA, ["'b'", "'x'"]),  # non-numeric value
        ("a,b,c,y\n1,,u,0\n3,4,v,1\n", SCHEMA, ["'b'", "impute"]),  # missing value, no imputation
        ("a,b,c,y\n1,2,u,0\n3,4,v,0\n", SCHEMA, ["single class"]),  # one class only
    ],
    ids=["missing-column", "non-numeric", "missing-value", "single-class"],
)
def test_bad_csv(text, schema, words, csv_case, capsys, tmp_path):
    code, _, err = run(csv_case(text, schema), capsys, tmp_path)
    assert_one_sentence(code, err, *words)


def test_csv_without_schema(capsys, tmp_path):
    code, _, err = run(["--dataset", str(tmp_path / "x.csv")], capsys, tmp_path)
    assert_one_sentence(code, err, "--schema")


@pytest.mark.slow
def test_console_script_exit_code_and_no_traceback():
    proc = subprocess.run([sys.executable, "-m", "gmia.cli", "reproduce", "table1", "--dataset", "imagenet"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "imagenet" in proc.stderr


@pytest.mark.slow
def test_small_cancer_run_end_to_end_and_rerun_reuses_models(capsys, tmp_path):
    out = tmp_path / "run"
    args = ["--dataset", "cancer", *FAST, "--out", str(out), "--seeds", "2"]
    code, stdout, _ = run(args, capsys, tmp_path)
    assert code == 0, stdout
    result = json.loads((out / "results.json").read_text())
    assert result["schema_version"] == 2 and len(result["runs"]) == 2
    ev = result["runs"][0]["evaluations"][0]
    assert set(ev["count_by_scaling"]) == {"n_over_nprime", "nprime_over_n"}
    assert {r["cutoff"] for r in ev["rows"]} == {0.008, 0.01}
    assert set(ev["roc"]) == {"auc", "auc_ci", "tpr", "tpr_ci"} and set(ev["roc"]["tpr"]) == {"0.001", "0.01"}
    assert ev["roc"]["tpr"]["0.001"] <= ev["roc"]["tpr"]["0.01"] <= 1.0
    for name in ("target_train", "target_test", "reference_train", "reference_test"):
        assert 0.5 < result["runs"][0]["accuracies"][name] <= 1.0
    pooled = result["pooled"][0]["rows"][0]
    assert pooled["tp"] == sum(r["evaluations"][0]["rows"][0]["tp"] for r in result["runs"])
    assert "paper" in stdout and "88.89%" in stdout and "Results written to" in stdout
    # Second run: every stack comes from the cache.
    code, _, err = run(args, capsys, tmp_path)
    assert code == 0 and "model-steps" not in err
    again = json.loads((out / "results.json").read_text())
    assert np.allclose(again["runs"][0]["evaluations"][0]["roc"]["auc"], ev["roc"]["auc"])


@pytest.mark.parametrize("argv,words", [
    (["reproduce", "table9", "--dataset", "cancer"], "No such command"),
    (["reproduce", "table1", "--dataset", "cancer", "--k", "abc"], "--k"),
    (["reproduce", "table1"], "--dataset"),
    (["report"], "run_dir"),
])
def test_usage_errors_exit_2_without_traceback(argv, words, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_console_script_usage_error_has_no_traceback():
    proc = subprocess.run([sys.executable, "-m", "gmia.cli", "reproduce", "table1", "--dataset", "cancer", "--k", "x"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "--k" in proc.stderr


def test_unwritable_run_folder_fails_before_any_work(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code = main(["reproduce", "table1", "--dataset", "cancer", "--cache-dir", str(tmp_path / "c"),
                 "--out", str(blocker / "run")])
    assert_one_sentence(code, capsys.readouterr().err, "output folder", "cannot be written")
    assert not (tmp_path / "c").exists() or not any((tmp_path / "c").iterdir())


@pytest.mark.parametrize("argv,words", [
    (["defend", "--dataset", "cancer", "--sweep", "l2=abc"], ["l2='abc'", "an L2 penalty >= 0"]),
    (["defend", "--dataset", "cancer", "--sweep", "dp-epsilon=abc"], ["dp-epsilon='abc'", "epsilon > 0"]),
    (["defend", "--dataset", "cancer", "--sweep", "label-only=maybe"], ["label-only='maybe'", "true or false"]),
    (["model", "train", "--dataset", "cancer", "--out", "{tmp}/y.onnx"], ["'.onnx'", ".safetensors", "--algorithm"]),
    (["model", "train", "--dataset", "cancer", "--out", "{tmp}/x.pkl"], ["'.pkl'", ".safetensors"]),
    (["model", "train", "--dataset", "cancer", "--algorithm", "random-forest", "--out", "{tmp}/x.safetensors"],
     ["'.safetensors'", ".onnx"]),
    (["reproduce", "table1", "--dataset", "cancer", "--k", "100000"], ["k=100000", "250 reference records", "k <= 250"]),
    (["audit-dp", "--dataset", "cancer", "--k", "100000"], ["k=100000", "k <= 250"]),
])
@pytest.mark.slow
def test_bad_values_are_one_sentence_before_any_training(argv, words, capsys, tmp_path):
    cache = tmp_path / "cache"
    code = main([a.format(tmp=tmp_path) for a in argv] + ["--cache-dir", str(cache)])
    err = capsys.readouterr().err
    # A protocol run may say what it starts before the split shows too few reference records.
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and "Traceback" not in err and len(errors) == 1, err
    assert all(w in errors[0] for w in words), err
    assert not list(cache.glob("*/meta.json"))  # nothing trained
    assert not list(tmp_path.glob("*.onnx")) and not list(tmp_path.glob("*.pkl"))


def test_python_verbs_refuse_the_same_values_in_one_sentence():
    import gmia
    from gmia.settings.config import check_k
    from gmia.base.errors import GmiaError
    from gmia.models.file_format import Model

    with pytest.raises(GmiaError, match=r"defence l2='abc' is invalid"):
        gmia.defend("cancer", sweep=["l2=abc"], progress=False)
    with pytest.raises(GmiaError, match=r"k=1.5 is not a whole number"):
        check_k(1.5)
    with pytest.raises(GmiaError, match=r"suffix '.onnx'; expected a .safetensors path"):
        Model.save(object.__new__(Model), "model.onnx")


def test_version(capsys):
    import gmia

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"gmia {gmia.__version__}"


def test_a_ctrl_c_during_a_run_exits_130_not_0(capsys, tmp_path, monkeypatch):
    """click, out of standalone mode, returns 130 for a KeyboardInterrupt instead of raising it:
    a run interrupted mid-training must not exit 0 as if it had finished."""
    import gmia.api

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(gmia.api, "reproduce", interrupted)
    code = main(["reproduce", "table1", "--dataset", "cancer", "--cache-dir", str(tmp_path / "c"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 130 and "interrupted: trained chunks are kept" in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [["reproduce", "table1", "--dataset", "cancer", "--k", "1"],
                                  ["reproduce", "table3", "--dataset", "cancer", "--theta", "2"],
                                  ["compare", "--dataset", "cancer", "--k", "1"],
                                  ["defend", "--dataset", "cancer", "--sweep", "l2=abc"],
                                  ["audit-dp", "--dataset", "cancer", "--canaries", "0"],
                                  ["audit", "--dataset", "cancer", "--target-model", "m.safetensors", "--k", "1"]])
def test_a_bad_option_is_refused_before_torch_loads(argv, tmp_path):
    """Bad input fails fast: the options are checked before the engine, and so torch, is imported."""
    code = ("import sys; from gmia.cli import main; rc = main(sys.argv[1:]); "
            "assert rc == 2, rc; assert 'torch' not in sys.modules, 'torch was imported before the options were checked'")
    proc = subprocess.run([sys.executable, "-c", code, *argv], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
