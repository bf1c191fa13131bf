"""driver_node in its own process over DDS, against the emulator in this process.

Commands by name (and as an array) move the emulated servos and /joint_states follow; injected
faults show up as retries (or servo error bits) in /diagnostics and never as a motion;
SIGTERM/SIGINT leave torque off; a servo that stays off the bus is fatal: torque off and exit
code 1. In sim mode the node runs its own emulator, started at the simulated task's start pose
for ``sim_task_seed``.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from collections.abc import Callable

import pytest

rclpy = pytest.importorskip("rclpy")
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402
from rtc_runtime.ros_peer import RosPeer  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402
from std_msgs.msg import Float64MultiArray  # noqa: E402

from so100_driver.arm import JOINT_NAMES, MOTOR_IDS, RADIANS_PER_TICK, Calibration, default_calibration_path  # noqa: E402
from so100_driver.driver_node import (  # noqa: E402
    COMMAND_ARRAY_TOPIC,
    COMMAND_TOPIC,
    JOINT_STATES_TOPIC,
)
from rtc_contract.topics import DIAGNOSTICS_TOPIC  # noqa: E402
from so100_driver.emulator import TRANSPORTS, ServoBusEmulator  # noqa: E402
from so100_driver.sim import scene_for_seed, start_joint_positions  # noqa: E402
from so100_driver.topics import DRIVER_BUS_STATUS  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]
PACKAGE_DIR = Path(__file__).resolve().parents[1]


class Peer(RosPeer):
    """The test's own ROS node: publishes commands, records joint states and diagnostics."""

    def __init__(self) -> None:
        super().__init__("so100_driver_test_peer")
        self.states: list[JointState] = []
        self.diagnostics: list[dict[str, str]] = []
        self.levels: list[int] = []
        self.messages: list[str] = []
        self.node.create_subscription(JointState, JOINT_STATES_TOPIC, self._on_state, 50)
        self.node.create_subscription(DiagnosticArray, DIAGNOSTICS_TOPIC, self._on_diag, 10)
        self.command = self.node.create_publisher(JointState, COMMAND_TOPIC, 10)
        self.command_array = self.node.create_publisher(Float64MultiArray, COMMAND_ARRAY_TOPIC, 10)
        self.spin()

    def wait_for_driver(self, timeout: float) -> bool:
        """First joint state received, both command topics matched with the driver, and its node known
        to the graph (the driver ignores commands from a publisher whose node it does not know yet)."""
        return self.wait_for(
            lambda: self.latest() is not None
            and self.command.get_subscription_count() > 0
            and self.command_array.get_subscription_count() > 0
            and "so100_driver" in self.node.get_node_names(),
            timeout,
        )

    def _on_state(self, msg: JointState) -> None:
        with self.lock:
            self.states.append(msg)

    def _on_diag(self, msg: DiagnosticArray) -> None:
        with self.lock:
            for status in msg.status:
                if status.name == DRIVER_BUS_STATUS:
                    self.diagnostics.append({kv.key: kv.value for kv in status.values})
                    self.levels.append(status.level)
                    self.messages.append(status.message)

    def latest(self) -> dict[str, float] | None:
        with self.lock:
            if not self.states:
                return None
            msg = self.states[-1]
        return dict(zip(msg.name, msg.position))

    def send(self, targets: dict[str, float]) -> None:
        self.command.publish(JointState(name=list(targets), position=list(targets.values())))

    def wait_for(self, condition: Callable[[], bool], timeout: float, keep_sending: dict[str, float] | None = None) -> bool:
        return super().wait_for(condition, timeout, poll_s=0.03,
                                every_poll=None if keep_sending is None else lambda: self.send(keep_sending))


def _start_driver(processes, emulator: ServoBusEmulator | None, *params: str):
    """driver_node on ``emulator``'s port, or in sim mode (its own emulator) when it is None; it
    follows the test's peer as its command writer."""
    params = ("command_writer:=so100_driver_test_peer", *params)
    if emulator is not None:
        params = (f"port:={emulator.port}", f"calibration_file:={default_calibration_path()}",
                  "bus_timeout_s:=0.005", "max_failed_cycles:=20", *params)
    args = ["python", "-m", "so100_driver.driver_node", "--ros-args"]
    for param in params:
        args += ["-p", param]
    pythonpath = os.pathsep.join(filter(None, [str(PACKAGE_DIR), os.environ.get("PYTHONPATH")]))
    return processes.start(args, name="driver_node", env={"PYTHONPATH": pythonpath})


def _near(peer: Peer, targets: dict[str, float], tol: float = 0.01) -> bool:
    state = peer.latest()
    return state is not None and all(abs(state[j] - v) < tol for j, v in targets.items())


@pytest.mark.parametrize("bus_transport", TRANSPORTS)  # port:= a tty, or socket://127.0.0.1:PORT
def test_node_moves_arm_survives_faults_and_turns_torque_off(processes, peer: Peer, bus_emulator: ServoBusEmulator,
                                                              calibration: Calibration) -> None:
    proc = _start_driver(processes, bus_emulator, "command_silence_rest_s:=60.0")
    assert peer.wait_for_driver(30.0), processes.log(proc)
    assert all(bus_emulator.torque_enabled().values())
    start = peer.latest()
    assert all(abs(start[j]) < 0.002 for j in JOINT_NAMES)  # resting at range midpoints

    target = {"elbow_flex": 0.2, "gripper": -0.2}  # the first command: near the present position
    assert peer.wait_for(lambda: _near(peer, target), 15.0, keep_sending=target), processes.log(proc)
    elbow = calibration.ticks_to_radians("elbow_flex", bus_emulator.positions()[MOTOR_IDS["elbow_flex"]])
    assert elbow == pytest.approx(0.2, abs=0.01)

    array_target = [0.1, 0.0, 0.3, 0.0, 0.0, -0.2]
    peer.command_array.publish(Float64MultiArray(data=array_target))
    assert peer.wait_for(lambda: _near(peer, {"shoulder_pan": 0.1}), 5.0), processes.log(proc)

    # Stop commanding: the stale command must not be replayed; the arm holds where it is.
    time.sleep(0.7)
    hold = dict(peer.latest())
    goals = {m: bus_emulator.register(m, "Goal_Position") for m in MOTOR_IDS.values()}
    with peer.lock:
        seen = len(peer.states)
    for inject in (
        lambda: bus_emulator.drop_replies(1, motor_id=3),
        lambda: bus_emulator.corrupt_replies(1, motor_id=5),
        lambda: bus_emulator.delay_replies(0.02, motor_id=1),
        lambda: bus_emulator.inject_garbage(b"\xff\xff\x02\x30noise"),
        lambda: bus_emulator.vanish(0.05),
    ):
        inject()
        time.sleep(0.2)
    def counted() -> bool:
        diag = peer.diagnostics[-1] if peer.diagnostics else None
        return diag is not None and int(diag["bus_retries"]) >= 5 and int(diag["bus_timeouts"]) >= 1 \
            and int(diag["bus_checksum_errors"]) >= 1

    deadline = time.monotonic() + 15.0
    while not peer.wait_for(counted, 1.0) and time.monotonic() < deadline:
        # On a loaded machine a corrupted reply can arrive after its cycle gave up waiting; the next
        # cycle flushes it uncounted. Corrupt another one until the node has counted one.
        bus_emulator.corrupt_replies(1, motor_id=5)
    assert counted(), peer.diagnostics[-1] if peer.diagnostics else "no diagnostics"
    with peer.lock:
        during = [dict(zip(m.name, m.position)) for m in peer.states[seen:]]
    assert during
    for state in during:  # never a wrong or sudden motion
        assert all(abs(state[j] - hold[j]) < 0.003 for j in JOINT_NAMES), state
    assert {m: bus_emulator.register(m, "Goal_Position") for m in MOTOR_IDS.values()} == goals
    diag = peer.diagnostics[-1]
    assert float(diag["loop_rate_hz"]) > 50.0
    assert "Hz vs 100 Hz target" in diag["cadence"] and "headroom" in diag["cadence"]
    assert "shoulder_pan_temperature_c" in diag and "gripper_voltage_v" in diag

    # A servo reporting an error bit (other than overload and overheat, which stop the arm) is a WARN
    # naming the servo and the bit, and still no motion (once the bus errors above are out of the
    # report period).
    bus_emulator.set_error_bits(3, 0x01)
    assert peer.wait_for(lambda: peer.diagnostics[-1].get("servo_3_error") == "VOLTAGE"
                         and peer.levels[-1] == DiagnosticStatus.WARN, 5.0), peer.messages[-3:]
    assert all(abs(peer.latest()[j] - hold[j]) < 0.003 for j in JOINT_NAMES)
    bus_emulator.set_error_bits(3, 0)

    assert processes.stop(proc, signal.SIGTERM) == 0, processes.log(proc)
    assert not any(bus_emulator.torque_enabled().values())


def test_node_bad_commands_rejected_and_sigint_turns_torque_off(processes, peer: Peer,
                                                                bus_emulator: ServoBusEmulator) -> None:
    proc = _start_driver(processes, bus_emulator, "max_relative_target:=0.05")
    assert peer.wait_for_driver(30.0), processes.log(proc)
    def rejected() -> int:
        return int(peer.diagnostics[-1]["commands_rejected"]) if peer.diagnostics else 0

    # unknown joint name: rejected whole (sent until counted: the first may precede discovery)
    assert peer.wait_for(lambda: rejected() >= 1, 30.0, keep_sending={"elbow": 1.0})
    for _ in range(3):
        peer.command.publish(JointState(name=["gripper", "elbow_flex"], position=[0.1]))  # sizes differ
    assert peer.wait_for(lambda: rejected() >= 2, 5.0)
    assert all(abs(v) < 0.002 for v in peer.latest().values())

    # A far target is approached in steps of at most max_relative_target ahead of the present position
    # (after a first command near it: a far first command is rejected whole).
    peer.send({"shoulder_lift": 0.6})
    assert peer.wait_for(lambda: int(peer.diagnostics[-1]["first_commands_rejected"]) >= 1, 5.0)
    assert all(abs(v) < 0.002 for v in peer.latest().values())
    first = {"shoulder_lift": 0.04}
    assert peer.wait_for(lambda: _near(peer, first), 15.0, keep_sending=first), processes.log(proc)
    with peer.lock:
        seen = len(peer.states)
    target = {"shoulder_lift": 0.6}
    assert peer.wait_for(lambda: _near(peer, target), 15.0, keep_sending=target), processes.log(proc)
    with peer.lock:
        path = [dict(zip(m.name, m.position))["shoulder_lift"] for m in peer.states[seen:]]
    assert max(abs(b - a) for a, b in zip(path, path[1:])) < 0.06
    assert processes.stop(proc, signal.SIGINT) == 0, processes.log(proc)
    assert not any(bus_emulator.torque_enabled().values())


def test_servo_off_the_bus_is_fatal_with_torque_off(processes, peer: Peer, bus_emulator: ServoBusEmulator) -> None:
    proc = _start_driver(processes, bus_emulator)
    assert peer.wait_for_driver(30.0), processes.log(proc)
    bus_emulator.vanish(60.0, motor_ids=[4])
    proc.wait(timeout=40.0)  # max_failed_cycles failed cycles, then as many trying the controlled stop
    assert proc.returncode == 1, processes.log(proc)
    assert "fatal bus error" in processes.log(proc)
    enabled = bus_emulator.torque_enabled()
    assert not any(v for m, v in enabled.items() if m != 4)


@pytest.mark.parametrize("sim_bus", TRANSPORTS)
def test_sim_starts_at_the_task_start_pose_of_the_seed(processes, peer: Peer, sim_bus: str) -> None:
    seed = 3
    proc = _start_driver(processes, None, "sim:=true", f"sim_task_seed:={seed}", f"sim_bus:={sim_bus}")
    assert peer.wait_for_driver(30.0), processes.log(proc)
    assert ("emulated STS3215 bus on socket://127.0.0.1:" in processes.log(proc)) == (sim_bus == "socket")
    pose = dict(zip(JOINT_NAMES, start_joint_positions(scene_for_seed(seed))))
    assert max(abs(v) for v in pose.values()) > 0.1  # not the range midpoints
    state = peer.latest()
    for joint, expected in pose.items():  # by name, to within the rounding to whole ticks
        assert abs(state[joint] - expected) <= RADIANS_PER_TICK / 2 + 1e-9, joint
    node_topics = {(topic, kind) for topic, kinds in peer.node.get_topic_names_and_types() for kind in kinds}
    assert {(f"/{JOINT_STATES_TOPIC}", "sensor_msgs/msg/JointState"),  # resolved in the root namespace
            (DIAGNOSTICS_TOPIC, "diagnostic_msgs/msg/DiagnosticArray")} <= node_topics
    assert peer.wait_for(lambda: bool(peer.diagnostics), 30.0)
    assert peer.diagnostics[-1]["scheduling"].startswith(("SCHED_FIFO", "normal"))
    assert peer.diagnostics[-1]["emulator_scheduling"].startswith(("SCHED_FIFO", "SCHED_OTHER"))  # said, not guessed
    # run_node times the collections after start-up (a steady loop frees what it allocates: often none)
    assert peer.diagnostics[-1]["gc_pauses"] == "no collection yet" or \
        "collections, longest" in peer.diagnostics[-1]["gc_pauses"]
    assert float(peer.diagnostics[-1]["gc_pause_max_ms"]) >= 0.0
    assert processes.stop(proc, signal.SIGINT) == 0, processes.log(proc)


def _level_becomes(peer: Peer, level: int, words: tuple[str, ...], processes, proc) -> None:
    """Wait until the driver's latest bus status has `level` and a message with every word (up to 30 s: the
    emulated bus in this test's process answers late on a loaded machine, and its late replies count)."""
    def seen() -> bool:
        with peer.lock:
            message = peer.messages[-1] if peer.messages else ""
            return bool(peer.levels) and peer.levels[-1] == level and all(w in message for w in words)
    assert peer.wait_for(seen, 30.0), (level, words, peer.messages[-3:], processes.log(proc)[-2000:])


def test_bus_diagnostics_thresholds_raise_the_level_and_it_recovers(processes, peer: Peer,
                                                                    bus_emulator: ServoBusEmulator) -> None:
    """Temperature, voltage and servo error bits each raise the level by their threshold, and the level
    is OK again once the value is back. The bus counter thresholds are off here (a loaded machine's
    own misses would interleave with these steps); the next test drives them."""
    proc = _start_driver(processes, bus_emulator, *(f"threshold.bus_{what}_in_period.{level}:=-1.0"
                                                    for what in ("errors", "retries", "timeouts")
                                                    for level in ("warn", "error")))
    assert peer.wait_for_driver(30.0), processes.log(proc)

    def level_becomes(level: int, *words: str) -> None:
        _level_becomes(peer, level, words, processes, proc)

    def set_register(motor_id: int, name: str, value: int) -> None:
        with bus_emulator.lock:
            bus_emulator.servos[motor_id].set(name, value)

    level_becomes(DiagnosticStatus.OK)
    set_register(2, "Present_Temperature", 60)
    level_becomes(DiagnosticStatus.WARN, "max_temperature_c 60 >= 55")
    set_register(2, "Present_Temperature", 66)
    level_becomes(DiagnosticStatus.ERROR, "max_temperature_c 66 >= 65")
    set_register(2, "Present_Temperature", 32)
    level_becomes(DiagnosticStatus.OK)

    set_register(4, "Present_Voltage", 43)
    level_becomes(DiagnosticStatus.WARN, "min_voltage_v 4.3 <= 4.5")
    set_register(4, "Present_Voltage", 74)
    level_becomes(DiagnosticStatus.OK)

    bus_emulator.set_error_bits(3, 0x02)
    level_becomes(DiagnosticStatus.WARN, "servos_with_error_bits 1 >= 1", "ANGLE")
    bus_emulator.set_error_bits(3, 0)
    level_becomes(DiagnosticStatus.OK)
    assert processes.stop(proc, signal.SIGTERM) == 0, processes.log(proc)


@pytest.mark.parametrize("fault, words", [
    ("corrupt_replies", ("bus_errors_in_period", "bus_retries_in_period")),
    ("drop_replies", ("bus_timeouts_in_period", "bus_retries_in_period")),
])
def test_bus_counter_thresholds_raise_the_level_and_it_recovers(processes, peer: Peer, bus_emulator: ServoBusEmulator,
                                                                fault: str, words: tuple[str, ...]) -> None:
    """One reply in every 40 ms corrupted (checksum) or dropped: each costs a retry, which succeeds,
    so the arm keeps moving, and the counts per report cross their WARN bounds; once the faults stop
    the level is OK again. The bounds (10 per period) sit above what the emulator misses on its own
    on a test machine, the faults (about 25 per second) well above them."""
    bounds = [f"threshold.bus_{what}_in_period.{level}:={value}" for what in ("errors", "retries", "timeouts")
              for level, value in (("warn", 10.0), ("error", -1.0))]
    proc = _start_driver(processes, bus_emulator, *bounds)
    assert peer.wait_for_driver(30.0), processes.log(proc)
    _level_becomes(peer, DiagnosticStatus.OK, (), processes, proc)
    inject = getattr(bus_emulator, fault)
    stop = threading.Event()

    def faults() -> None:
        # One fault every 40 ms, longer than a transaction with both retries takes (3 x 5 ms timeout):
        # a retry's reply is never the next victim, so no cycle fails (20 failed cycles in a row are
        # fatal by max_failed_cycles).
        while not stop.wait(0.04):
            inject(1)

    thread = threading.Thread(target=faults, daemon=True)
    thread.start()
    try:
        _level_becomes(peer, DiagnosticStatus.WARN, words, processes, proc)
    finally:
        stop.set()
        thread.join()
    _level_becomes(peer, DiagnosticStatus.OK, (), processes, proc)
    assert proc.poll() is None, "a retried fault must not end the driver:\n" + processes.log(proc)
    assert processes.stop(proc, signal.SIGTERM) == 0, processes.log(proc)
