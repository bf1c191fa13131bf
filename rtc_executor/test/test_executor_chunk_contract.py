"""chunk_contract: each broken rule is rejected with its own code; columns are reordered by name."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from rtc_contract.rejections import RejectionCode
from rtc_executor.core import chunk_contract as cc

JOINTS = ("a", "b", "c")


def chunk(**overrides):
    fields = dict(joint_names=["c", "a", "b"], length=2, action_dim=3,
                  actions=[3.0, 1.0, 2.0, 30.0, 10.0, 20.0])
    fields.update(overrides)
    return SimpleNamespace(**fields)


def test_valid_chunk_is_reordered_into_the_executor_joint_order():
    rows = cc.chunk_actions(chunk(), JOINTS)
    np.testing.assert_array_equal(rows, [[1.0, 2.0, 3.0], [10.0, 20.0, 30.0]])
    assert rows.dtype == np.float64


def test_float32_array_input_as_rclpy_gives_it():
    import array
    rows = cc.chunk_actions(chunk(actions=array.array("f", [3, 1, 2, 30, 10, 20])), JOINTS)
    assert rows.shape == (2, 3)


@pytest.mark.parametrize("overrides, code", [
    (dict(length=0, actions=[]), RejectionCode.EMPTY),
    (dict(length=3), RejectionCode.SIZE_MISMATCH),
    (dict(actions=[1.0] * 5), RejectionCode.SIZE_MISMATCH),
    (dict(joint_names=["c", "a"]), RejectionCode.DIM_MISMATCH),
    (dict(joint_names=["a", "a", "b"]), RejectionCode.DUPLICATE_JOINT),
    (dict(joint_names=["c", "a", "elbow"]), RejectionCode.UNKNOWN_JOINT),
    (dict(joint_names=["a", "b"], action_dim=2, actions=[1.0] * 4), RejectionCode.MISSING_JOINT),
    (dict(actions=[3.0, 1.0, float("nan"), 30.0, 10.0, 20.0]), RejectionCode.NON_FINITE),
    (dict(actions=[3.0, 1.0, 2.0, 30.0, float("inf"), 20.0]), RejectionCode.NON_FINITE),
])
def test_broken_rule_is_rejected_with_its_code(overrides, code):
    with pytest.raises(cc.ChunkRejected) as caught:
        cc.chunk_actions(chunk(**overrides), JOINTS)
    assert caught.value.code == code
    assert caught.value.reason.startswith(code + ": ") and len(caught.value.detail) > 0


def test_reason_names_the_offending_joint_and_row():
    with pytest.raises(cc.ChunkRejected) as caught:
        cc.chunk_actions(chunk(actions=[3.0, 1.0, 2.0, 30.0, float("nan"), 20.0]), JOINTS)
    assert "row 1" in caught.value.detail and "'a'" in caught.value.detail
    with pytest.raises(cc.ChunkRejected) as caught:
        cc.chunk_actions(chunk(joint_names=["c", "a", "elbow"]), JOINTS)
    assert "elbow" in caught.value.detail

