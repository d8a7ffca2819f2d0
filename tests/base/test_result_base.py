"""The base of every result: to_dict with the schema version, save as strict JSON, load checked."""

from dataclasses import dataclass

import numpy as np
import pytest

from gmia.base.errors import GmiaError
from gmia.base.result import RESULT_SCHEMA_VERSION, Result


@dataclass(frozen=True)
class Toy(Result):
    auc: float
    counts: tuple


def test_save_writes_strict_json_and_load_reads_it_back(tmp_path):
    path = Toy(float("nan"), (np.int64(3), 4)).save(tmp_path / "results.json")
    assert Result.load(path) == {"schema_version": RESULT_SCHEMA_VERSION, "auc": None, "counts": [3, 4]}


def test_load_refuses_another_schema_version_in_one_sentence(tmp_path):
    path = tmp_path / "results.json"
    path.write_text('{"schema_version": 99}')
    with pytest.raises(GmiaError, match=r"schema version 99; expected 2 \(or 1, which is read by upgrading\)"):
        Result.load(path)


def test_a_result_without_a_frame_says_so():
    with pytest.raises(NotImplementedError, match="Toy has no to_frame"):
        Toy(0.5, ()).to_frame()
