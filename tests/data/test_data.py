"""Tests for gmia.data: bundled sets, CSV loading and its errors, splits, schema."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from gmia.data import (
    DATASETS,
    Dataset,
    Schema,
    duplicate_groups,
    load_csv,
    load_csv_with_schema,
    load_bundled,
    paper_split,
)
from gmia.data import bundled
from gmia.base.errors import GmiaError


# ----------------------------------------------------------------- bundled sets
@pytest.mark.slow
def test_adult_shape_and_balance(adult):
    assert adult.x.shape == (48842, 108)
    assert adult.x.dtype == np.float32 and adult.y.dtype == np.int64
    assert adult.schema.classes == ("<=50K", ">50K")
    assert adult.y.mean() == pytest.approx(0.2393, abs=0.002)
    assert adult.n_classes == 2 and len(adult) == 48842


def test_adult_onehot_groups_sum_to_one(adult):
    groups = adult.schema.groups()
    assert list(groups)[:3] == ["age", "workclass", "fnlwgt"]
    onehot = {g: idx for g, idx in groups.items() if len(idx) > 1}
    assert len(onehot) == 8
    assert "workclass=?" in adult.schema.names  # "?" kept as its own category
    for g, idx in onehot.items():
        assert np.all(adult.x[:, idx].sum(axis=1) == 1.0), g
        assert set(np.unique(adult.x[:, idx])) == {0.0, 1.0}


def test_adult_numeric_normalised(adult):
    num = [i for i, f in enumerate(adult.schema.features) if f.kind == "numeric"]
    assert len(num) == 6
    cols = adult.x[:, num].astype(np.float64)
    np.testing.assert_allclose(cols.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(cols.std(axis=0), 1.0, atol=1e-5)
    for i in num:
        f = adult.schema.features[i]
        assert f.low == adult.x[:, i].min() and f.high == adult.x[:, i].max()


def test_adult_raw_decodes_first_record(adult):
    row = adult.raw().iloc[0]
    assert row["age"] == 39 and row["workclass"] == "State-gov" and row["fnlwgt"] == 77516
    assert row["income"] == "<=50K"


def test_cancer_shape_grid_and_classes(cancer):
    assert cancer.x.shape == (699, 9)
    assert np.bincount(cancer.y).tolist() == [458, 241]
    assert cancer.schema.classes == ("benign", "malignant")
    assert cancer.x.min() >= 0.0 and cancer.x.max() <= 1.0
    grid = cancer.x.astype(np.float64) * 9
    np.testing.assert_allclose(grid, np.round(grid), atol=1e-5)
    assert all(f.integer and f.low == 0.0 and f.high == 1.0 for f in cancer.schema.features)
    assert cancer.raw()["V1"].between(1, 10).all()


def test_cancer_duplicate_groups(cancer):
    groups = duplicate_groups(cancer.x)
    assert groups.dtype == np.int64 and groups.shape == (699,)
    counts = np.bincount(groups)
    assert len(counts) == 457  # distinct feature rows
    assert (counts > 1).sum() == 46  # groups with twins
    assert counts[counts > 1].sum() == 288  # records that have a twin
    # twins really are identical rows
    i, j = np.flatnonzero(groups == groups[np.argmax(counts[groups])])[:2]
    assert np.array_equal(cancer.x[i], cancer.x[j])


def test_checksum_failure_raises(monkeypatch):
    real = bundled._checksums()
    fake = {k: dict(v) for k, v in real.items()}
    fake["adult.data"]["md5"] = "0" * 32
    fake["biopsy.csv"]["sha256"] = "f" * 64
    monkeypatch.setattr(bundled, "_checksums", lambda: fake)
    with pytest.raises(GmiaError, match=r"bundled file adult\.data is corrupt: md5 5d7c39d7b8804f071cdd1f2a7c460872, expected 0{32}; reinstall gmia"):
        load_bundled("adult")
    with pytest.raises(GmiaError, match=r"bundled file biopsy\.csv is corrupt: sha256 "):
        load_bundled("cancer")


def test_unknown_dataset():
    with pytest.raises(GmiaError) as exc:
        load_bundled("foo")
    assert str(exc.value) == "unknown data set 'foo'; expected one of: adult, cancer"
    assert load_bundled(" Cancer ").name == "cancer"


def test_datasets_registry():
    assert DATASETS["adult"]["pool_size"] == 20000 and DATASETS["cancer"]["pool_size"] == 200
    assert all({"description", "citation"} <= set(v) for v in DATASETS.values())


def test_fingerprint_stable_and_sensitive(cancer):
    again = load_bundled("cancer")
    assert cancer.fingerprint() == again.fingerprint()
    y = cancer.y.copy()
    y[0] = 1 - y[0]
    assert Dataset("cancer", cancer.x, y, cancer.schema).fingerprint() != cancer.fingerprint()


# ----------------------------------------------------------------------- splits
def test_paper_split_sizes_and_determinism(adult, cancer):
    for ds, pool, adv in ((adult, 20000, 28842), (cancer, 200, 499)):
        s = paper_split(ds, seed=3)
        assert len(s.pool) == pool and len(s.adversary) == adv
        assert s.pool.dtype == np.int64 and s.seed == 3
        assert np.all(np.diff(s.pool) > 0) and np.all(np.diff(s.adversary) > 0)
        assert np.array_equal(np.union1d(s.pool, s.adversary), np.arange(len(ds)))
        assert len(np.intersect1d(s.pool, s.adversary)) == 0
    a, b, c = paper_split(cancer, seed=1), paper_split(cancer, seed=1), paper_split(cancer, seed=2)
    assert np.array_equal(a.pool, b.pool) and not np.array_equal(a.pool, c.pool)


def test_paper_split_csv_default_and_errors(tmp_path, cancer):
    ds = load_csv(_write(tmp_path, SMALL), label="y", numeric=["a"], categorical=["c"], ignore=["b"])
    assert len(paper_split(ds).pool) == 2  # 5 records -> half rounded down to even
    for bad in (3, 0, 699, 700, -2):
        with pytest.raises(GmiaError, match=rf"pool size {bad} is invalid"):
            paper_split(cancer, pool_size=bad)
    with pytest.raises(GmiaError, match="seed -1"):
        paper_split(cancer, seed=-1)


# -------------------------------------------------------------------------- CSV
SMALL = "a,b,c,y\n1,2.5,red,yes\n2,3.5,blue,no\n3,,red,no\n4,1.0,green,yes\n5,2.0,red,no\n"


def _write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_load_csv_happy_path(tmp_path):
    ds = load_csv(_write(tmp_path, SMALL), label="y", numeric=["a"], categorical=["c"], ignore=["b"])
    assert ds.name == "data" and ds.x.shape == (5, 4)
    assert ds.schema.names == ["a", "c=blue", "c=green", "c=red"]
    assert ds.schema.classes == ("no", "yes") and ds.y.tolist() == [1, 0, 0, 1, 0]
    assert ds.x[:, 0].mean() == pytest.approx(0.0, abs=1e-6) and ds.x[:, 0].std() == pytest.approx(1.0, abs=1e-6)
    assert ds.schema.features[0].integer
    assert ds.raw()["a"].tolist() == [1, 2, 3, 4, 5] and ds.raw()["c"].tolist()[:2] == ["red", "blue"]


@pytest.mark.parametrize(
    "impute, rows, b3", [("median", 5, 2.25), ("mode", 5, 1.0), ("drop", 4, None)]
)
def test_load_csv_impute(tmp_path, impute, rows, b3):
    ds = load_csv(_write(tmp_path, SMALL), label="y", numeric=["a", "b"], impute=impute, ignore=["c"])
    assert len(ds) == rows
    if b3 is not None:
        assert ds.raw()["b"].iloc[2] == pytest.approx(b3, abs=1e-5)


def test_load_csv_with_schema(tmp_path):
    spec = _write(tmp_path, json.dumps({"label": "y", "numeric": ["a", "b"], "ignore": ["c"], "impute": "drop"}), "s.json")
    assert len(load_csv_with_schema(_write(tmp_path, SMALL), spec)) == 4
    bad = _write(tmp_path, json.dumps({"label": "y", "impute": "mean"}), "bad.json")
    with pytest.raises(GmiaError, match=r"'impute'.*'mean'"):
        load_csv_with_schema(tmp_path / "data.csv", bad)
    extra = _write(tmp_path, json.dumps({"label": "y", "numbers": ["a"]}), "extra.json")
    with pytest.raises(GmiaError, match="numbers"):
        load_csv_with_schema(tmp_path / "data.csv", extra)
    notjson = _write(tmp_path, "{label", "nj.json")
    with pytest.raises(GmiaError, match="not readable JSON"):
        load_csv_with_schema(tmp_path / "data.csv", notjson)


@pytest.mark.parametrize(
    "text, kwargs, pattern",
    [
        (None, dict(label="y", numeric=["a"]), r"'.*nope\.csv' does not exist"),
        (SMALL, dict(label="y", numeric=["zz"]), r"column 'zz' is not in data\.csv; expected one of its columns: a, b, c, y"),
        (SMALL, dict(label="label", numeric=["a"]), r"column 'label' is not in"),
        ("a,y\n1,p\nx7,q\n", dict(label="y", numeric=["a"]), r"column 'a' has non-numeric value 'x7' in row 2"),
        (SMALL, dict(label="y", numeric=["b"], ignore=["a", "c"]),
         r'column \'b\' has 1 missing values; .*set "impute": "median", "mode" or "drop" in the schema file'),
        ("a,y\n1,p\n2,p\n", dict(label="y", numeric=["a"]), r"label column 'y' has the single class 'p'"),
        (SMALL, dict(label="y", numeric=["a"], impute="mean"), r"unknown impute choice 'mean'"),
        (SMALL, dict(label="y", numeric=["a"], categorical=["a"]), r"column 'a' is declared both numeric and categorical"),
        (SMALL, dict(label="y", numeric=["a", "y"]), r"label column 'y' is also declared as a feature"),
        (SMALL, dict(label="y"), r"no feature columns"),
        ("", dict(label="y", numeric=["a"]), r"is empty"),
        ("a,y\n1,\n2,p\n3,q\n", dict(label="y", numeric=["a"], impute="median"), r"label column 'y' has 1 missing"),
    ],
)
def test_load_csv_errors(tmp_path, text, kwargs, pattern):
    path = tmp_path / "nope.csv" if text is None else _write(tmp_path, text)
    with pytest.raises(GmiaError, match=pattern) as exc:
        load_csv(path, **kwargs)
    assert "\n" not in str(exc.value)


def test_load_csv_unreadable(tmp_path):
    with pytest.raises(GmiaError, match="could not be read"):
        load_csv(tmp_path, label="y", numeric=["a"])  # a directory


def test_undeclared_columns_are_an_error_unless_ignored(tmp_path):
    path = _write(tmp_path, SMALL)
    with pytest.raises(GmiaError) as exc:
        load_csv(path, label="y", numeric=["a"], categorical=["c"])
    text = str(exc.value)
    assert text.startswith("CSV file 'data.csv' has column 'b', which the schema does not declare; ") and "\n" not in text
    assert '"ignore"' in text
    with pytest.raises(GmiaError, match=r"has columns 'b', 'c', which the schema does not declare; .*\"ignore\""):
        load_csv(path, label="y", numeric=["a"])
    # Ignored on purpose: not encoded, and its missing value (b, row 3) is not an error.
    ds = load_csv(path, label="y", numeric=["a"], categorical=["c"], ignore=["b"])
    assert "b" not in ds.schema.names and len(ds) == 5


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        (dict(numeric=["a"], categorical=["c"], ignore=["b", "zz"]),
         r"ignored column 'zz' is not in data\.csv; expected one of its columns: a, b, c, y"),
        (dict(numeric=["a"], categorical=["c"], ignore=["b", "b"]), r"column 'b' is listed in \"ignore\" more than once"),
        (dict(numeric=["a", "b"], categorical=["c"], ignore=["b"]),
         r"column 'b' is declared numeric and also listed in \"ignore\""),
        (dict(numeric=["a", "b"], categorical=["c"], ignore=["c"]),
         r"column 'c' is declared categorical and also listed in \"ignore\""),
        (dict(numeric=["a", "b"], categorical=["c"], ignore=["y"]), r"label column 'y' is also listed in \"ignore\""),
    ],
)
def test_ignore_list_errors(tmp_path, kwargs, pattern):
    with pytest.raises(GmiaError, match=pattern) as exc:
        load_csv(_write(tmp_path, SMALL), label="y", **kwargs)
    assert "\n" not in str(exc.value) and "expected" in str(exc.value)


def test_ignore_in_the_schema_file(tmp_path):
    data = _write(tmp_path, SMALL)
    spec = _write(tmp_path, json.dumps({"label": "y", "numeric": ["a"], "categorical": ["c"], "ignore": ["b"]}), "s.json")
    assert load_csv_with_schema(data, spec).schema.names == ["a", "c=blue", "c=green", "c=red"]
    without = _write(tmp_path, json.dumps({"label": "y", "numeric": ["a"], "categorical": ["c"]}), "w.json")
    with pytest.raises(GmiaError, match=r"column 'b', which the schema does not declare"):
        load_csv_with_schema(data, without)
    bad = _write(tmp_path, json.dumps({"label": "y", "numeric": ["a"], "ignore": "b"}), "bad.json")
    with pytest.raises(GmiaError, match=r"bad field 'ignore'") as exc:
        load_csv_with_schema(data, bad)
    assert '"ignore": [str]' in str(exc.value)


def test_schema_file_error_shows_the_expected_shape_with_brackets(tmp_path):
    bad = _write(tmp_path, json.dumps({"label": "y", "numeric": "a"}), "bad.json")
    with pytest.raises(GmiaError) as exc:
        load_csv_with_schema(_write(tmp_path, SMALL), bad)
    text = str(exc.value)
    assert "[str]" in text and '"numeric": [str]' in text and '"categorical": [str]' in text and "\n" not in text


def test_missing_value_errors_point_to_the_schema_key(tmp_path):
    with pytest.raises(GmiaError) as exc:
        load_csv(_write(tmp_path, SMALL), label="y", numeric=["a", "b"], categorical=["c"])
    text = str(exc.value)
    assert text == ('column \'b\' has 1 missing values; expected none, or set "impute": "median", "mode" or "drop" '
                    "in the schema file")
    assert "--impute" not in text
    with pytest.raises(GmiaError) as exc:
        load_csv(_write(tmp_path, "a,y\n1,\n2,p\n3,q\n"), label="y", numeric=["a"], impute="median")
    text = str(exc.value)
    assert text == ("label column 'y' has 1 missing values; expected none, or set \"impute\": \"drop\" in the schema "
                    "file to drop those records")
    assert "--impute" not in text


def test_undeclared_column_through_the_command_line(tmp_path, capsys):
    from gmia.cli import main

    data = _write(tmp_path, SMALL)
    spec = _write(tmp_path, json.dumps({"label": "y", "numeric": ["a"], "categorical": ["c"]}), "s.json")
    code = main(["reproduce", "table1", "--dataset", str(data), "--schema", str(spec), "--cache-dir", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "column 'b', which the schema does not declare" in err and '"ignore"' in err, err


# ----------------------------------------------------------------------- schema
def test_schema_round_trip(adult, cancer):
    for ds in (adult, cancer):
        d = ds.schema.to_dict()
        back = Schema.from_dict(json.loads(json.dumps(d)))
        assert back == ds.schema and back.to_dict() == d
        assert back.groups() == ds.schema.groups()
    with pytest.raises(GmiaError, match="expected the output of Schema.to_dict"):
        Schema.from_dict({"features": []})


@pytest.mark.parametrize("field,value,words", [
    ("low", "abc", "features.0.low='abc': input should be a valid number"),
    ("high", None, "features.0.high=None"),
    ("high", float("inf"), "features.0.high=inf"),
    ("integer", 1, "features.0.integer=1: input should be a valid boolean"),
    ("kind", "text", "features.0.kind='text'"),
])
def test_a_schema_from_outside_is_checked_against_its_declared_shape(cancer, field, value, words):
    """A model file's, an ONNX file's or a service's schema: refused in one sentence naming where
    it came from and the bad field, not inside numpy later."""
    d = cancer.schema.to_dict()
    d["features"][0][field] = value
    with pytest.raises(GmiaError, match="the schema in ONNX file 'm.onnx' has " + re.escape(words)):
        Schema.from_dict(d, "the schema in ONNX file 'm.onnx'")
