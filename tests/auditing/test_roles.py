"""An audit's records (`gmia.auditing.roles`): defaults, matching given rows, the appended population, every refusal."""

import json

import numpy as np
import pytest

from gmia.data import load_csv, load_bundled, paper_split
from gmia.data.bundled import ADULT_CATEGORICAL, ADULT_NUMERIC
from gmia.base.errors import GmiaError
from gmia.auditing.roles import Roles, resolve_roles


def _twins(ds, i):
    """Records whose encoded row (and class) equal record i's."""
    return np.flatnonzero((ds.x == ds.x[i]).all(axis=1) & (ds.y == ds.y[i]))


@pytest.mark.parametrize("pool_size, seed", [(None, 0), (None, 3), (100, 1)])
def test_nothing_given_is_exactly_the_paper_split(cancer, pool_size, seed):
    roles = resolve_roles(cancer, pool_size=pool_size, seed=seed)
    split = paper_split(cancer, pool_size=pool_size, seed=seed)
    assert isinstance(roles, Roles) and roles.dataset is cancer and roles.members is None and roles.notes == ()
    np.testing.assert_array_equal(roles.candidates, split.pool)
    np.testing.assert_array_equal(roles.population, split.adversary)
    assert roles.candidates.dtype == roles.population.dtype == np.int64
    assert roles.source == f"paper split, seed {seed}"


def test_candidates_given_as_indices_take_every_other_record_as_the_population(cancer):
    roles = resolve_roles(cancer, candidates=[40, 3, 3, 17])
    np.testing.assert_array_equal(roles.candidates, [3, 17, 40])
    np.testing.assert_array_equal(roles.population, np.setdiff1d(np.arange(699), [3, 17, 40]))


def test_candidate_csv_rows_match_their_records_and_a_duplicate_row_matches_all_its_twins(cancer, tmp_path):
    raw = cancer.raw()
    twins = next(_twins(cancer, i) for i in range(699) if _twins(cancer, i).size > 1)
    single = next(i for i in range(699) if _twins(cancer, i).size == 1)
    chosen = [single, int(twins[0])]
    raw.iloc[chosen].to_csv(tmp_path / "with_label.csv", index=False)
    for given in (tmp_path / "with_label.csv", str(tmp_path / "with_label.csv"), raw.iloc[chosen]):
        roles = resolve_roles(cancer, candidates=given)
        np.testing.assert_array_equal(roles.candidates, np.union1d([single], twins))
        assert any("1 row matches several identical records" in n for n in roles.notes)
        assert not np.isin(roles.population, roles.candidates).any()
    # without the label a row matches every record with its features, whatever the class
    raw.iloc[chosen].drop(columns="class").to_csv(tmp_path / "no_label.csv", index=False)
    same = np.flatnonzero((cancer.x == cancer.x[twins[0]]).all(axis=1))
    np.testing.assert_array_equal(resolve_roles(cancer, candidates=tmp_path / "no_label.csv").candidates,
                                  np.union1d([single], same))


def test_members_from_a_csv_a_members_file_and_a_json_list(cancer, tmp_path):
    raw = cancer.raw()
    single = [i for i in range(699) if _twins(cancer, i).size == 1][:4]
    raw.iloc[single].to_csv(tmp_path / "train.csv", index=False)
    (tmp_path / "m.members.json").write_text(json.dumps({"dataset": "cancer", "data_fingerprint": cancer.fingerprint(),
                                                         "records": single}))
    (tmp_path / "list.json").write_text(json.dumps(single[::-1]))
    candidates = np.arange(300)
    for given in (tmp_path / "train.csv", tmp_path / "m.members.json", tmp_path / "list.json", np.array(single)):
        roles = resolve_roles(cancer, candidates=candidates, members=given)
        np.testing.assert_array_equal(roles.members, single)
        assert "members:" in roles.source
    (tmp_path / "other.json").write_text(json.dumps({"data_fingerprint": "0" * 64, "records": single}))
    with pytest.raises(GmiaError, match="belongs to another data set than 'cancer'"):
        resolve_roles(cancer, members=tmp_path / "other.json")


@pytest.mark.slow
def test_a_population_csv_is_appended_and_encoded_bit_for_bit_as_the_data_set(cancer, adult, tmp_path):
    for ds, rows in ((cancer, [5, 77, 698]), (adult, [0, 1, 2, 48841])):
        raw = ds.raw()
        path = tmp_path / f"{ds.name}_population.csv"
        raw.iloc[rows].to_csv(path, index=False)
        roles = resolve_roles(ds, candidates=np.arange(10, 40), population=path)
        n = len(ds)
        assert roles.dataset.name == f"{ds.name}+population" and len(roles.dataset) == n + len(rows)
        assert roles.dataset.schema == ds.schema
        np.testing.assert_array_equal(roles.population, np.arange(n, n + len(rows)))
        assert roles.dataset.x[n:].tobytes() == ds.x[rows].tobytes()  # float32, bit for bit
        np.testing.assert_array_equal(roles.dataset.y[n:], ds.y[rows])
        np.testing.assert_array_equal(roles.candidates, np.arange(10, 40))
        assert "appended" in roles.source


def test_a_population_for_a_user_csv_is_scaled_with_that_files_own_encoding(adult, tmp_path):
    raw = adult.raw().sample(60, random_state=0)
    raw.iloc[:40].to_csv(tmp_path / "mine.csv", index=False)
    ds = load_csv(tmp_path / "mine.csv", label="income", numeric=ADULT_NUMERIC, categorical=ADULT_CATEGORICAL)
    own = ds.raw()  # rows copied from the data set's own frame encode to its rows
    roles = resolve_roles(ds, candidates=np.arange(20), population=own.iloc[20:40])
    assert roles.dataset.x[40:].tobytes() == ds.x[20:40].tobytes()
    # population rows equal to candidates are dropped, with a note
    roles = resolve_roles(ds, candidates=np.arange(25), population=own.iloc[20:40])
    assert len(roles.population) == 15 and any("removed from the population" in n for n in roles.notes)


def test_population_only_makes_every_other_record_a_candidate(cancer):
    roles = resolve_roles(cancer, population=np.arange(500, 699))
    np.testing.assert_array_equal(roles.candidates, np.arange(500))
    np.testing.assert_array_equal(roles.population, np.arange(500, 699))


def test_candidates_in_the_population_are_removed_from_it_with_a_note(cancer):
    roles = resolve_roles(cancer, candidates=[1, 2, 3], population=[2, 3, 4, 5])
    np.testing.assert_array_equal(roles.population, [4, 5])
    assert roles.notes and "records 2, 3 are candidates and were removed from the population" in roles.notes[0]


def test_a_candidate_row_not_in_the_data_set_names_the_row(cancer, tmp_path):
    raw = cancer.raw().iloc[:3].copy()
    raw["V1"] = [raw["V1"].iloc[0], 11, raw["V1"].iloc[2]]
    raw.to_csv(tmp_path / "c.csv", index=False)
    with pytest.raises(GmiaError, match=r"candidates file 'c.csv': row 2 \(first data row is 1\) is not a record of data set "
                                        r"'cancer' with that class \(row 2: V1=11"):
        resolve_roles(cancer, candidates=tmp_path / "c.csv")
    # the label, when given, is checked: the features of a record with the other class are not found
    unique = next(i for i in range(699) if (cancer.x == cancer.x[i]).all(axis=1).sum() == 1)
    flipped = cancer.raw().iloc[[unique]].copy()
    flipped["class"] = "malignant" if flipped["class"].iloc[0] == "benign" else "benign"
    with pytest.raises(GmiaError, match=r"the candidates table: row 1 \(first data row is 1\) is not a record of data set "
                                        "'cancer' with that class"):
        resolve_roles(cancer, candidates=flipped)


def test_a_population_record_in_the_targets_training_rows_is_refused(cancer, tmp_path):
    with pytest.raises(GmiaError, match=r"population records 7, 9 are in the target's training rows \(members\); expected "
                                        "only records known not to be in the target's training set"):
        resolve_roles(cancer, candidates=[1, 2], population=[5, 7, 9], members=[1, 7, 9])
    raw = cancer.raw()
    raw.iloc[[20, 21, 22]].to_csv(tmp_path / "pop.csv", index=False)
    with pytest.raises(GmiaError, match=r"population file 'pop.csv': row 2 \(first data row is 1\) equals a record of the "
                                        r"target's training rows \(members\)"):
        resolve_roles(cancer, candidates=[1, 2], population=tmp_path / "pop.csv", members=[21])
    # the default split refuses a members file whose records are in the adversary's part too
    split = paper_split(cancer)
    with pytest.raises(GmiaError, match=f"population record {split.adversary[0]} is in the target's training rows"):
        resolve_roles(cancer, members=[int(split.pool[0]), int(split.adversary[0])])
    # a member that is also a candidate leaves the population first, and is no error
    roles = resolve_roles(cancer, candidates=[1, 2], population=[2, 5, 6], members=[2])
    np.testing.assert_array_equal(roles.population, [5, 6])


def test_members_not_in_the_data_are_refused(cancer, tmp_path):
    raw = cancer.raw().iloc[[0]].copy()
    raw["V2"] = 0
    raw.to_csv(tmp_path / "train.csv", index=False)
    with pytest.raises(GmiaError, match=r"members file 'train.csv': row 1 \(first data row is 1\) is not a record of data set 'cancer'"):
        resolve_roles(cancer, members=tmp_path / "train.csv")
    with pytest.raises(GmiaError, match="record indices given as members include 699, outside the data set"):
        resolve_roles(cancer, members=[3, 699])
    (tmp_path / "bad.json").write_text('{"records": "all"}')
    with pytest.raises(GmiaError, match="holds no list of integer record indices"):
        resolve_roles(cancer, members=tmp_path / "bad.json")


def test_empty_candidates_and_a_too_small_population_are_refused(cancer):
    with pytest.raises(GmiaError, match="no candidate records are left to test in data set 'cancer'"):
        resolve_roles(cancer, candidates=[])
    with pytest.raises(GmiaError, match="no candidate records are left to test"):
        resolve_roles(cancer, population=np.arange(699))
    with pytest.raises(GmiaError, match="the population holds 1 record after the candidates are removed from it .*expected "
                                        "at least 2"):
        resolve_roles(cancer, candidates=[1, 2], population=[2, 3])
    with pytest.raises(GmiaError, match="the population holds 1 record"):
        resolve_roles(cancer, candidates=np.arange(698))


def test_an_unknown_category_or_class_in_the_population_names_value_column_and_row(adult, cancer, tmp_path):
    raw = adult.raw().iloc[:4].copy()
    raw.loc[raw.index[2], "workclass"] = "Astronaut"
    raw.to_csv(tmp_path / "pop.csv", index=False)
    with pytest.raises(GmiaError, match=r"population file 'pop.csv': column 'workclass' has 'Astronaut' in row 3 \(first data "
                                        r"row is 1\), a category data set 'adult' does not know; expected one of: \?, Federal-gov"):
        resolve_roles(adult, population=tmp_path / "pop.csv")
    c = cancer.raw().iloc[:3].copy()
    c["class"] = ["benign", "benign", "unsure"]
    with pytest.raises(GmiaError, match=r"label column 'class' has 'unsure' in row 3 .*expected one of: benign, malignant"):
        resolve_roles(cancer, population=c)
    c = cancer.raw().iloc[:3].copy().astype({"V4": object})
    c.loc[c.index[1], "V4"] = "ten"
    with pytest.raises(GmiaError, match=r"column 'V4' has 'ten' in row 2 .*expected a finite number"):
        resolve_roles(cancer, population=c)


def test_a_population_file_needs_the_source_columns_and_the_label(cancer, tmp_path):
    raw = cancer.raw().iloc[:5]
    raw.drop(columns="class").to_csv(tmp_path / "nolabel.csv", index=False)
    with pytest.raises(GmiaError, match="population file 'nolabel.csv' has no column 'class'; expected the columns"):
        resolve_roles(cancer, population=tmp_path / "nolabel.csv")
    raw.drop(columns="V3").to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(GmiaError, match="has no column 'V3'"):
        resolve_roles(cancer, population=tmp_path / "short.csv")
    raw.assign(ID=range(5)).to_csv(tmp_path / "extra.csv", index=False)
    roles = resolve_roles(cancer, population=tmp_path / "extra.csv")
    assert any("column 'ID' is not in the data set's schema and was ignored" in n for n in roles.notes)
    raw.to_csv(tmp_path / "pop.txt", index=False)
    with pytest.raises(GmiaError, match=r"population file .*pop.txt' has suffix '.txt'; expected a .csv file"):
        resolve_roles(cancer, population=tmp_path / "pop.txt")
    with pytest.raises(GmiaError, match="does not exist"):
        resolve_roles(cancer, candidates=tmp_path / "missing.csv")
