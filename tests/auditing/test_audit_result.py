"""An audit's records are typed and frozen, and read as results.json has them."""

import dataclasses

import pytest

from gmia.auditing.result import AuditRecord

ROW = {"record": 7, "class": "benign", "features": {"a": 1}, "neighbours": 0, "expected_neighbours": 0.01,
       "target_loss": 0.2, "reference_loss_median": 0.5, "reference_losses": [0.4, 0.6], "p_direct": 0.004,
       "p_raw": 0.003, "p_calibrated": 0.004, "p_interval": [0.0, 0.1], "verdict": "member"}


def test_a_record_round_trips_through_its_dict_with_absent_fields_left_out():
    r = AuditRecord.from_dict({**ROW, "member": True})
    assert r.to_dict() == {**ROW, "member": True}
    assert r.class_name == "benign" and r["class"] == "benign" and r.p_direct == 0.004
    assert "p_indirect" not in r and r.get("p_indirect") is None and "member" in r
    with pytest.raises(KeyError):
        r["null_calls"]
    assert "to_dict" not in r and "keys" not in r and "class_name" not in r  # fields only, by their file names


def test_a_record_is_frozen_and_refuses_unknown_fields():
    r = AuditRecord.from_dict(ROW)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.verdict = "no evidence"
    with pytest.raises(ValueError, match="unknown fields"):
        AuditRecord.from_dict({**ROW, "p_typo": 1.0})
