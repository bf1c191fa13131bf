"""The fault campaign (bench/faults.py) as tests: every attack against the nodes started as the
bringup starts them (separate processes, real DDS, the driver on the emulated bus), each with its
expected outcome asserted by the script, no command outside the executor's guard on the command topic
or written to the servos, and no uncontrolled stop."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.ros, pytest.mark.slow]

BENCH = Path(__file__).resolve().parents[2] / "bench" / "faults.py"


def campaign(tmp_path: Path, attacks: list[str], timeout_s: float) -> dict[str, dict]:
    out = tmp_path / "rows.json"
    result = subprocess.run([sys.executable, str(BENCH), "--attacks", ",".join(attacks), "--json", str(out),
                             "--logs", str(tmp_path / "logs")], capture_output=True, text=True, timeout=timeout_s)
    assert out.exists(), result.stdout + result.stderr
    rows = {row["attack"]: row for row in json.loads(out.read_text())}
    for name, row in rows.items():
        assert row["outside"] == 0, f"{name}: {row}"
        assert row["failures"] == [], f"{name}: {row}\n{result.stdout}"
    assert result.returncode == 0, result.stdout + result.stderr
    assert list(rows) == attacks
    return rows


# Each test starts graphs (the real policy node imports torch and LeRobot): longer than the default timeout.
@pytest.mark.timeout(500)
def test_dangerous_and_malformed_chunks_and_floods_never_reach_the_arm(tmp_path):
    rows = campaign(tmp_path, ["limits_one_joint", "limits_every_joint", "jump_one_rad", "zigzag", "long_chunk",
                               "id_zero", "decreasing_id", "malformed", "flood_other_source",
                               "flood_same_source", "rogue_second_publisher"], timeout_s=480)
    assert "limits" in rows["limits_one_joint"]["outcome"] and "step" in rows["jump_one_rad"]["outcome"]
    assert "too_long" in rows["long_chunk"]["outcome"]
    assert "other_source" in rows["flood_other_source"]["outcome"]
    assert "no lockout" in rows["flood_same_source"]["outcome"]
    assert "ignored" in rows["rogue_second_publisher"]["outcome"]


@pytest.mark.timeout(300)
def test_a_same_source_lockout_without_keys_holds_and_is_an_error_on_diagnostics(tmp_path):
    row = campaign(tmp_path, ["flood_same_source_unsigned"], timeout_s=280)["flood_same_source_unsigned"]
    assert "locked out" in row["outcome"] and row["controlled_stop"] == "no: running", row


@pytest.mark.timeout(700)
def test_stalls_kills_bugs_and_bad_starts_of_the_executor_and_driver_end_in_a_known_state(tmp_path):
    rows = campaign(tmp_path, ["stall_executor", "stall_driver", "sigkill_executor", "sigkill_driver",
                               "sigterm_driver", "executor_bug", "bad_calibration", "missing_port"], timeout_s=680)
    for name in ("sigkill_executor", "sigterm_driver", "executor_bug"):
        assert rows[name]["controlled_stop"] == "yes", rows[name]


@pytest.mark.timeout(600)
def test_the_driver_bounds_any_writer_and_ends_every_fault_in_a_controlled_stop(tmp_path):
    rows = campaign(tmp_path, ["rogue_first_step", "rogue_speed", "rogue_reversal", "driver_bug", "bus_loss",
                               "overload", "slow_start"], timeout_s=580)
    assert "rejected whole" in rows["rogue_first_step"]["outcome"]
    assert rows["rogue_speed"]["max_speed"] <= 4.6 * 1.1
    for name in ("driver_bug", "bus_loss", "overload"):
        assert rows[name]["controlled_stop"] == "yes", rows[name]


@pytest.mark.timeout(900)
def test_faults_around_the_real_policy_node(tmp_path):
    rows = campaign(tmp_path, ["stall_policy", "stall_executor_real", "bad_encoding"], timeout_s=850)
    assert "ERROR" in rows["bad_encoding"]["outcome"]


@pytest.mark.timeout(600)
def test_killing_the_policy_or_its_camera_leaves_the_arm_holding_under_the_executor(tmp_path):
    rows = campaign(tmp_path, ["sigkill_policy", "sigkill_camera"], timeout_s=580)
    for row in rows.values():
        assert "holds" in row["outcome"] and row["controlled_stop"] == "no: running", row


@pytest.mark.timeout(900)
def test_a_played_bag_spoofed_status_and_oversized_images_neither_move_the_arm_nor_stop_the_policy(tmp_path):
    rows = campaign(tmp_path, ["played_bag", "nan_executor_status", "oversized_image"], timeout_s=850)
    assert "left out" in rows["played_bag"]["outcome"]
    for name in ("nan_executor_status", "oversized_image"):
        assert "policy up" in rows[name]["outcome"], rows[name]


@pytest.mark.timeout(600)
def test_spoofed_state_replay_across_restarts_and_a_blocked_joint_move_nothing(tmp_path):
    rows = campaign(tmp_path, ["spoofed_joint_states_at_start", "replay_after_restart", "tracking_error"], timeout_s=580)
    assert "held the real pose" in rows["spoofed_joint_states_at_start"]["outcome"]
    assert "other_session" in rows["replay_after_restart"]["outcome"]
    assert "tracking fault, holding" in rows["tracking_error"]["outcome"]
