"""The driver as the arm's last line of defence, in its own process over DDS against the emulator in
this process: one command writer (another publisher is ERROR and ignored), its own velocity bound,
no start on a real arm without max_relative_target, and every fault ending in a controlled stop at the
rest pose (a command silence, an overload bit, a bug in the control loop, a bus lost mid-motion), a
slow bring-up waited for."""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path

import pytest

rclpy = pytest.importorskip("rclpy")
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402

from so100_driver.arm import MOTOR_IDS, RADIANS_PER_TICK, Calibration, default_calibration_path  # noqa: E402
from rtc_contract.topics import DIAGNOSTICS_TOPIC  # noqa: E402
from so100_driver.driver_node import COMMAND_TOPIC  # noqa: E402
from so100_driver.emulator import ServoBusEmulator  # noqa: E402
from test_driver_node_ros import Peer, _near, _start_driver  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]
FAULTY_NODE = Path(__file__).resolve().parents[2] / "bench" / "faulty_node.py"
REST = {"shoulder_lift": -0.5, "elbow_flex": 0.4}  # a rest pose near the midpoints: short ramps
REST_PARAM = "rest_pose:=shoulder_lift=-0.5, elbow_flex=0.4"


class Statuses:
    """Every driver status on /diagnostics, by component, recorded by a node of its own name."""

    def __init__(self, peer: Peer) -> None:
        self.lock = threading.Lock()
        self.seen: list[DiagnosticStatus] = []
        peer.node.create_subscription(DiagnosticArray, DIAGNOSTICS_TOPIC, self._on, 10)

    def _on(self, msg: DiagnosticArray) -> None:
        with self.lock:
            self.seen += [s for s in msg.status if s.name.startswith("so100_driver")]

    def latest(self, component: str) -> DiagnosticStatus | None:
        with self.lock:
            return next((s for s in reversed(self.seen) if s.name == f"so100_driver: {component}"), None)

    def error(self, component: str, *words: str) -> bool:
        status = self.latest(component)
        return status is not None and status.level == DiagnosticStatus.ERROR and all(w in status.message for w in words)


def _at_rest_torque_off(bus_emulator: ServoBusEmulator, calibration: Calibration) -> bool:
    positions = bus_emulator.positions()
    at_rest = all(abs(calibration.ticks_to_radians(j, positions[MOTOR_IDS[j]]) - v) < 0.02 for j, v in REST.items())
    return at_rest and not any(bus_emulator.torque_enabled().values())


def _move_a_little(peer: Peer, proc, processes) -> None:
    target = {"elbow_flex": 0.15}
    assert peer.wait_for(lambda: _near(peer, target), 15.0, keep_sending=target), processes.log(proc)


def test_a_second_publisher_is_error_and_ignored(processes, peer: Peer, bus_emulator: ServoBusEmulator) -> None:
    statuses = Statuses(peer)
    proc = _start_driver(processes, bus_emulator, "command_silence_rest_s:=60.0")
    assert peer.wait_for_driver(30.0), processes.log(proc)
    _move_a_little(peer, proc, processes)
    rogue_context = rclpy.Context()
    rclpy.init(context=rogue_context)
    rogue = rclpy.create_node("rogue", context=rogue_context)
    try:
        command = rogue.create_publisher(JointState, COMMAND_TOPIC, 10)
        held = dict(peer.latest())
        end = time.monotonic() + 3.0
        while time.monotonic() < end:  # toward the wrist_roll limit, near the arm each time
            here = peer.latest()["wrist_roll"]
            command.publish(JointState(name=["wrist_roll"], position=[here + 0.1]))
            peer.send({"elbow_flex": 0.15})  # the writer goes on commanding
            time.sleep(0.01)
        # the driver names the rogue once discovery gave it the rogue's node name (slow on a loaded machine)
        assert peer.wait_for(lambda: statuses.error("command writer", "/rogue"), 30.0), statuses.latest("command writer")
        assert abs(peer.latest()["wrist_roll"] - held["wrist_roll"]) < 0.003
        values = {kv.key: kv.value for kv in statuses.latest("command writer").values}
        assert int(values["commands_ignored"]) > 0 and values["followed"] == "/so100_driver_test_peer"
    finally:
        rogue.destroy_node()
        rclpy.try_shutdown(context=rogue_context)
    assert processes.stop(proc, signal.SIGTERM) == 0, processes.log(proc)


def test_the_drivers_own_velocity_bound_holds_whatever_the_writer_sends(processes, peer: Peer,
                                                                        bus_emulator: ServoBusEmulator,
                                                                        calibration: Calibration) -> None:
    proc = _start_driver(processes, bus_emulator, "max_velocity:=1.0", "max_relative_target:=0.25")
    assert peer.wait_for_driver(30.0), processes.log(proc)
    _move_a_little(peer, proc, processes)
    bus_emulator.goal_writes = []
    for k in range(150):  # reversals every command, 1 rad away
        peer.send({"elbow_flex": 1.2 if k % 2 else -0.9})
        time.sleep(0.01)
    goals = [calibration.ticks_to_radians("elbow_flex", ticks[MOTOR_IDS["elbow_flex"]])
             for _, ticks in bus_emulator.goal_writes]
    steps = [abs(b - a) for a, b in zip(goals, goals[1:])]
    assert steps and max(steps) > 0.005  # it moved
    assert max(steps) <= 1.0 / 100.0 + 2 * RADIANS_PER_TICK  # 1 rad/s at 100 Hz, goals in whole ticks
    assert processes.stop(proc, signal.SIGTERM) == 0, processes.log(proc)


def test_a_real_arm_refuses_to_start_without_max_relative_target(processes, bus_emulator: ServoBusEmulator) -> None:
    proc = _start_driver(processes, bus_emulator, "max_relative_target:=0.0")
    assert proc.wait(timeout=60) == 2
    log = processes.log(proc)
    assert "max_relative_target must be positive on a real arm" in log and "Traceback" not in log
    assert not any(bus_emulator.torque_enabled().values())  # refused before bring-up


@pytest.mark.parametrize("fault", ["silence", "overload", "bug", "bus_loss"])
def test_every_fault_ends_in_a_controlled_stop_at_the_rest_pose(processes, peer: Peer, bus_emulator: ServoBusEmulator,
                                                              calibration: Calibration, fault: str) -> None:
    statuses = Statuses(peer)
    params = (REST_PARAM, "command_silence_rest_s:=1.0" if fault == "silence" else "command_silence_rest_s:=60.0")
    if fault == "bug":
        args = [sys.executable, str(FAULTY_NODE), "so100_driver", "3.0", "--ros-args"]
        for param in (f"port:={bus_emulator.port}", f"calibration_file:={default_calibration_path()}",
                      "command_writer:=so100_driver_test_peer", *params):
            args += ["-p", param]
        proc = processes.start(args, name="faulty_driver")
    else:
        proc = _start_driver(processes, bus_emulator, *params)
    assert peer.wait_for_driver(30.0), processes.log(proc)
    _move_a_little(peer, proc, processes)
    if fault == "overload":
        bus_emulator.set_error_bits(MOTOR_IDS["wrist_flex"], 0x20)
    elif fault == "bus_loss":  # mid-motion, for longer than max_failed_cycles, then the bus answers again
        peer.send({"elbow_flex": 0.35})
        time.sleep(0.05)
        bus_emulator.vanish(1.0)
    words = {"silence": ("no command for",), "overload": ("OVERLOAD", "wrist_flex"), "bug": ("RuntimeError",),
             "bus_loss": ("fatal bus error",)}[fault]
    assert peer.wait_for(lambda: statuses.error("control loop", *words), 20.0), (statuses.latest("control loop"),
                                                                                  processes.log(proc)[-3000:])
    assert peer.wait_for(lambda: _at_rest_torque_off(bus_emulator, calibration), 20.0), processes.log(proc)[-3000:]
    if fault == "silence":  # parked: the driver stays up, reading, and ignores commands
        time.sleep(0.5)
        assert proc.poll() is None and peer.latest() is not None
        peer.send({"elbow_flex": REST["elbow_flex"] + 0.01})
        time.sleep(0.3)
        assert not any(bus_emulator.torque_enabled().values())
        assert processes.stop(proc, signal.SIGTERM) == 0, processes.log(proc)
    else:
        assert proc.wait(timeout=20) == 1, processes.log(proc)


def test_a_slow_start_is_waited_for(processes, peer: Peer, bus_emulator: ServoBusEmulator) -> None:
    bus_emulator.vanish(6.0)  # the servos answer nothing for 6 s (still powering up); bring-up waits 10 s
    proc = _start_driver(processes, bus_emulator)
    assert peer.wait_for_driver(40.0), processes.log(proc)
    assert all(bus_emulator.torque_enabled().values())
    assert "waiting up to" in processes.log(proc)
    assert processes.stop(proc, signal.SIGTERM) == 0, processes.log(proc)
