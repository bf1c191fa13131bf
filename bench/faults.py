"""The fault campaign: attack the executor and the driver over DDS and print what reached the arm.

Each attack starts the driver and the executor as separate processes (the bringup's nodes and
parameters: rtc_bringup.graph, config/so100_sim.yaml; their DDS over UDP only, as the runner and the
launch file give them: rtc_bringup.control_loop_transport), with this process as their neighbour: it runs
the servo-bus emulator the driver talks to (the real protocol on a pty, the driver as on a real arm),
a well-behaved stand-in policy that publishes smooth chunks from the executor's status (its own
`source`), and the attacker. Everything the executor commands, every ExecutorStatus and every goal
written to the servos is recorded, and each attack's row says:

  attack | outcome | commands outside the guard | max step | max speed | controlled stop

- commands outside the guard: the executor's commands on /so100/command that leave the guard's
  envelope (its configured limits, step and acceleration; `GuardLimits.violations`), counted between
  consecutive ticks (a command the recording missed is found from the status of its tick), plus the
  goals written to the servos (read from the emulator) that leave the same envelope at the driver's
  rate, from any source (the second figure);
- max step: the largest change of one joint between consecutive commands, rad;
- max speed: the largest joint speed the driver measured (/joint_states velocity), rad/s;
- controlled stop: at the end of the row, torque off on every servo with the arm at the rest pose
  ("yes"), torque on ("no: running"), or torque off elsewhere ("NO").

Each attack also has its expected outcome (reasons, counters, diagnostics, exit codes); the script
exits 1 if any expectation fails and prints which.

Usage (in the project's environment, `source tools/env.sh`):
  python bench/faults.py                       # every attack
  python bench/faults.py --attacks flood_other_source,stall_executor [--json OUT]
  python bench/faults.py --list
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable

import numpy as np
import rclpy
from ament_index_python.packages import get_package_share_directory
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rtc_msgs.msg import ActionChunk, ExecutorStatus
from sensor_msgs.msg import JointState

from rtc_bringup.control_loop_transport import control_loop_transport
from rtc_bringup.graph import CAMERA_TOPIC, CONTROL_LOOP_NODES, build_graph, effective_parameters
from rtc_bringup.run import node_command
from rtc_contract.chunk_signature import ChunkSigner, generate_key_pair, load_private_key
from rtc_contract.topics import EXECUTOR_CONTROL_LOOP_STATUS, EXECUTOR_MEASURED_STATE_STATUS
from rtc_executor.core.command_guard import GuardLimits
from rtc_runtime.scheduling import GIL_SWITCH_INTERVAL_S
from so100_driver.arm import (JOINT_NAMES, MOTOR_IDS, RADIANS_PER_TICK, default_calibration_path,  # the bench knows
                              load_calibration)  # the arm; the executor does not
from so100_driver.emulator import ServoBusEmulator
from so100_driver.protocol import StatusError
from so100_driver.safety import parse_pose
from so100_driver.sim import scene_for_seed, start_position_ticks
from so100_driver.topics import DRIVER_BUS_STATUS, DRIVER_COMMAND_WRITER_STATUS, DRIVER_CONTROL_LOOP_STATUS

RELIABLE = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
STARTUP_TIMEOUT_S = 30.0
REAL_POLICY_TIMEOUT_S = 120.0  # the policy node imports torch and LeRobot, and loads its checkpoint
STAND_IN, REAL, NONE = "stand-in", "real", "none"  # which policy drives the arm during an attack
SETTLE_S = 1.0  # recorded after each attack
MERGE_WAIT_S = 5.0  # at most, for a fresh chunk to merge after an attack
LOCKOUT_WAIT_S = 60.0  # at most, for the lockout on /diagnostics (a loaded machine; ends as soon as it is said)
FLOOD_IDS_FROM = 10_000_000
FAULTY_NODE = Path(__file__).resolve().parent / "faulty_node.py"
TICK_TOLERANCE = 2 * RADIANS_PER_TICK  # goals are whole ticks: a step differs from the driver's by up to one each end
REST_TOLERANCE = 0.05  # rad: "at the rest pose"
STOP_WAIT_S = 30.0  # at most, for a controlled stop to end
STILL_WAIT_S = 5.0  # at most, for the arm to come to rest once the executor holds
AMPLITUDE = 0.15  # rad: the stand-in policy's sine around the start pose
PERIOD_S = 4.0


def stamp_ns(stamp) -> int:
    return stamp.sec * 1_000_000_000 + stamp.nanosec


@dataclass
class Recording:
    commands: list[tuple[int, np.ndarray]] = field(default_factory=list)  # (stamp ns, positions)
    statuses: list[ExecutorStatus] = field(default_factory=list)
    speeds: list[tuple[float, float]] = field(default_factory=list)  # (monotonic s, max |velocity|)
    diagnostics: list[tuple[float, DiagnosticStatus]] = field(default_factory=list)


class Neighbour:
    """This process's node: records the graph's outputs; publishes the stand-in policy's and the
    attacker's chunks."""

    def __init__(self, joints: list[str], rate_hz: float, limits: GuardLimits) -> None:
        self.rate_hz = rate_hz
        self.limits = limits
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node("fault_campaign", context=self.context)
        self.joints = joints
        self.lock = threading.Lock()
        self.rec = Recording()
        self.policy_source = f"/bench_policy {secrets.token_hex(4)}"
        self.policy_on = False
        self.policy_id = 0
        self.anchor: tuple[int, np.ndarray] | None = None  # (tick, position) the stand-in's sine starts at
        self.last_command: np.ndarray | None = None
        self.awaiting: tuple[int, float] | None = None  # decisions count expected, deadline
        self.start_pose: np.ndarray | None = None
        self.latest_status: ExecutorStatus | None = None  # kept across recording windows
        self.command_sources: dict[bytes, bool] = {}  # publisher GID: is it the executor's
        self.signer: ChunkSigner | None = None  # with a keyed graph: the stand-in's key (attackers have none)
        self.sent: list[ActionChunk] | None = None  # a list: the stand-in's chunks are kept here (a recorder)
        self.chunk_pub = self.node.create_publisher(ActionChunk, "/rtc/action_chunk", RELIABLE)
        self.node.create_subscription(JointState, "/so100/command", self._on_command, RELIABLE)
        self.node.create_subscription(ExecutorStatus, "/rtc/executor_status", self._on_status, RELIABLE)
        self.node.create_subscription(JointState, "/joint_states", self._on_joint_state, 10)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 50)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.executor.shutdown()
        self.thread.join(5.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)

    # --- recording -----------------------------------------------------------------------------
    def _from_executor(self, info) -> bool:
        """Whether a command came from the executor (the attackers' own commands are not recorded)."""
        gid = bytes(info["publisher_gid"]["data"])
        if gid not in self.command_sources:
            node = next((p.node_name for p in self.node.get_publishers_info_by_topic("/so100/command")
                         if bytes(p.endpoint_gid) == gid), None)
            if node is None or node == "_NODE_NAME_UNKNOWN_":
                return False
            self.command_sources[gid] = node == "rtc_executor"
        return self.command_sources[gid]

    def _on_command(self, msg: JointState, info) -> None:
        if not self._from_executor(info) or not set(self.joints) <= set(msg.name):
            return
        index = [list(msg.name).index(j) for j in self.joints]
        with self.lock:
            self.last_command = np.asarray(msg.position)[index]
            self.rec.commands.append((stamp_ns(msg.header.stamp), self.last_command))

    def _on_joint_state(self, msg: JointState) -> None:
        if self.start_pose is None:
            self.start_pose = np.array([msg.position[list(msg.name).index(j)] for j in self.joints])
        speed = float(np.max(np.abs(msg.velocity))) if len(msg.velocity) else 0.0
        with self.lock:
            self.rec.speeds.append((time.monotonic(), speed))

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        with self.lock:
            for status in msg.status:
                self.rec.diagnostics.append((time.monotonic(), status))

    def _on_status(self, msg: ExecutorStatus) -> None:
        with self.lock:
            self.rec.statuses.append(msg)
            self.latest_status = msg
        if self.policy_on:
            self._policy_step(msg)

    # --- the stand-in policy -------------------------------------------------------------------
    def _policy_step(self, status: ExecutorStatus) -> None:
        """Publish the next chunk when the queue runs low and the previous one was decided."""
        decided = status.merged_count + status.rejected_count
        if self.awaiting is not None and decided < self.awaiting[0] and time.monotonic() < self.awaiting[1]:
            return
        if status.remaining > 8 and status.active_chunk_id != 0:
            return
        if status.active_chunk_id == 0 or self.anchor is None:  # (re)start from where the arm is sent
            with self.lock:
                self.anchor = (status.step, self.last_command if self.last_command is not None else self.start_pose)
        self.policy_id += 1
        self.publish(self.policy_id, status.step, self.policy_rows(status.step, 30), self.policy_source)
        self.awaiting = (decided + 1, time.monotonic() + 0.5)

    def policy_rows(self, first_tick: int, length: int) -> np.ndarray:
        """The stand-in's plan: a slow sine of every joint from its anchor, one row per tick (like a
        real policy, it continues from where the arm was sent when it started)."""
        anchor_tick, anchor = self.anchor if self.anchor is not None else (first_tick, self.start_pose)
        ticks = first_tick - anchor_tick + np.arange(length)
        phase = 2 * np.pi * ticks / (PERIOD_S * self.rate_hz)
        room = np.minimum(self.limits.upper - anchor, anchor - self.limits.lower)  # stay inside the limits
        amplitude = np.clip(room, 0.0, AMPLITUDE)
        return anchor + np.sin(phase)[:, None] * amplitude

    def publish(self, chunk_id: int, source_step: int, rows: np.ndarray, source: str,
                names: list[str] | None = None, length: int | None = None, sign: bool = True) -> None:
        """One chunk for the executor's current session, signed with the stand-in's key (when the graph
        has keys and `sign`)."""
        rows = np.asarray(rows, dtype=np.float32)
        msg = ActionChunk(chunk_id=int(chunk_id), source=source, source_step=max(0, int(source_step)),
                          joint_names=names or self.joints, action_dim=rows.shape[1])
        msg.length = rows.shape[0] if length is None else length
        msg.actions = rows.ravel().tolist() if rows.size < 10_000 else rows.ravel()
        msg.inference_end = self.node.get_clock().now().to_msg()
        status = self.last_status()
        msg.session = status.session if status is not None else 0
        if self.signer is not None and sign:
            msg.signature = self.signer.sign(msg)
            if self.sent is not None:
                self.sent.append(msg)
        self.chunk_pub.publish(msg)

    # --- views ---------------------------------------------------------------------------------
    def last_status(self) -> ExecutorStatus | None:
        with self.lock:
            return self.latest_status

    def reset_recording(self) -> None:
        with self.lock:
            self.rec = Recording()

    def wait_for(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if condition():
                return
            time.sleep(0.02)
        raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


class Graph:
    """The bringup's nodes (sim, seed 0), each in its own process group; normal scheduling, so the
    campaign does not compete with other real-time work on the machine."""

    def __init__(self, log_dir: Path, driver_overrides: dict | None = None, bug: Bug | None = None,
                 executor_overrides: dict | None = None) -> None:
        specs = build_graph({"sim": "true", "seed": "0"}, Path(get_package_share_directory("rtc_bringup")))
        overrides = {"so100_driver": {"realtime": False, **(driver_overrides or {})},
                     "rtc_executor": {"realtime": False, **(executor_overrides or {})}}
        self.bug = bug  # the node that runs as bench/faulty_node.py, if any
        self.specs = {s.name: dataclasses.replace(s, overrides={**s.overrides, **overrides.get(s.name, {})})
                      for s in specs}
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen] = {}
        # the control loops' transport of a user's graph (the range: this process's, LOCALHOST in the tests)
        self.control_env = {**os.environ, **control_loop_transport("udp", os.environ).environment(log_dir)}

    @property
    def executor_spec(self):
        return self.specs["rtc_executor"]

    @property
    def driver_spec(self):
        return self.specs["so100_driver"]

    def start(self, which: tuple[str, ...]) -> None:
        for name in which:
            log = open(self.log_dir / f"{name}.log", "w")
            command = node_command(self.specs[name], self.log_dir)
            if self.bug and name == self.bug.node:
                command = [sys.executable, str(FAULTY_NODE), name, str(self.bug.after_s), *command[1:]]
            self.procs[name] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                                env=self.control_env if name in CONTROL_LOOP_NODES else None)

    def send(self, name: str, sig: int) -> None:
        os.killpg(self.procs[name].pid, sig)

    def stop(self, name: str, sig: int = signal.SIGINT, timeout: float = 15.0) -> int:
        proc = self.procs[name]
        if proc.poll() is None:
            os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        return proc.returncode

    def stop_all(self) -> dict[str, int]:
        return {name: self.stop(name) for name in reversed(list(self.procs))}

    def log(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text(errors="replace")


@dataclass
class Row:
    attack: str
    outcome: str
    outside: int  # executor commands and servo goals outside the guard's envelope
    max_step: float
    max_speed: float
    failures: list[str]
    servo_outside: int = 0  # of which servo goals
    controlled_stop: str = ""


class Run:
    """One attack's emulated arm, graph, neighbour and window of recordings."""

    def __init__(self, log_dir: Path, driver_overrides: dict | None = None, bug: Bug | None = None,
                 keys: bool = False) -> None:
        """`keys`: the executor trusts a key of the stand-in policy's, which signs its chunks."""
        self.calibration = load_calibration(default_calibration_path())
        start = start_position_ticks(scene_for_seed(0), self.calibration)  # the simulated task's, seed 0
        self.emulator = ServoBusEmulator.for_arm(self.calibration, positions=start, baudrate=1_000_000).start()
        # It stands in for the servos, which answer whatever the load: under SCHED_FIFO (when permitted),
        # so that neither the machine's load nor this process's own attack loops (a flood, a rogue at
        # 200 Hz) starve it into a bus the driver must give up (a fatal stop that is no outcome of the attack).
        self.emulator.serve_realtime()
        arm = {"sim": False, "port": self.emulator.port, "calibration_file": str(default_calibration_path())}
        key_file = generate_key_pair(log_dir / f"bench_policy_{secrets.token_hex(4)}")[:2] if keys else None
        self.graph = Graph(log_dir, {**arm, **(driver_overrides or {})}, bug,
                           {"trusted_keys": [str(key_file[1])]} if key_file else None)
        params = effective_parameters(self.graph.executor_spec)
        self.joints = list(params.get("joint_names", JOINT_NAMES))
        self.rate = float(params["control_rate_hz"])
        self.limits = GuardLimits.from_parameters(
            len(self.joints), self.rate, params["position_lower_limits"], params["position_upper_limits"],
            params["max_velocity"], params["max_acceleration"])
        driver = effective_parameters(self.graph.driver_spec)
        self.driver_rate = float(driver["rate_hz"])
        self.servo_limits = GuardLimits.from_parameters(  # the same envelope, per driver cycle
            len(self.joints), self.driver_rate, params["position_lower_limits"], params["position_upper_limits"],
            params["max_velocity"], params["max_acceleration"])
        self.rest_pose = parse_pose(driver.get("rest_pose", "hold"), self.calibration) or {}
        self.peer = Neighbour(self.joints, self.rate, self.limits)
        if key_file:
            self.peer.signer = ChunkSigner(load_private_key(key_file[0]))
        self.failures: list[str] = []

    def start(self, policy: str = STAND_IN) -> None:
        """Start the driver and the executor, and the policy: the stand-in, the real policy node
        with the simulated camera, or none."""
        nodes = ("so100_driver", "rtc_executor") + (("sim_camera", "rtc_policy") if policy == REAL else ())
        self.graph.start(nodes)
        self.peer.wait_for(lambda: self.peer.last_status() is not None and self.peer.start_pose is not None
                           and self.peer.rec.commands, STARTUP_TIMEOUT_S, "the executor commanding")
        if policy != NONE:
            self.peer.policy_on = policy == STAND_IN
            self.peer.wait_for(lambda: self.peer.last_status().merged_count >= 2,
                               REAL_POLICY_TIMEOUT_S if policy == REAL else 10.0, "a policy's chunks")
        self.begin()

    def start_driver_only(self) -> None:
        """Only the driver: nothing commands the arm until an attacker does."""
        self.graph.start(("so100_driver",))
        self.peer.wait_for(lambda: self.peer.start_pose is not None, STARTUP_TIMEOUT_S, "the driver's joint states")
        time.sleep(0.5)
        self.peer.reset_recording()
        self.emulator.goal_writes = []
        self.failures = []

    def begin(self) -> None:
        """Start a recording window, with the stand-in (if it drives) just past a merge."""
        if self.peer.policy_on:
            merged = self.status().merged_count
            self.peer.wait_for(lambda: self.status().merged_count > merged, 10.0, "the stand-in's next chunk")
        time.sleep(0.3)
        self.peer.reset_recording()
        self.emulator.goal_writes = []
        self.failures = []

    def expect(self, ok: bool, what: str) -> None:
        if not ok:
            self.failures.append(what)

    def status(self) -> ExecutorStatus:
        return self.peer.last_status()

    def executor_diagnostics(self) -> list[tuple[float, DiagnosticStatus]]:
        with self.peer.lock:
            return [(t, s) for t, s in self.peer.rec.diagnostics if s.name.startswith("rtc_executor")]

    def policy_diagnostics(self) -> list[tuple[float, DiagnosticStatus]]:
        with self.peer.lock:
            return [(t, s) for t, s in self.peer.rec.diagnostics if s.name.startswith("rtc_policy")]

    def statuses(self, name: str) -> list[DiagnosticStatus]:
        """Every /diagnostics status named `name` (a node's status constant) received so far, oldest first."""
        return [s for _, s in self.timed_statuses(name)]

    def timed_statuses(self, name: str) -> list[tuple[float, DiagnosticStatus]]:
        with self.peer.lock:
            return [(t, s) for t, s in self.peer.rec.diagnostics if s.name == name]

    def servo_goals(self) -> np.ndarray:
        """The goals written to the servos in the window, radians, one row per write (joints in order)."""
        with self.emulator.lock:
            writes = list(self.emulator.goal_writes or [])
        rows = [[self.calibration.ticks_to_radians(j, ticks[MOTOR_IDS[j]]) for j in self.joints]
                for _, ticks in writes if len(ticks) == len(self.joints)]
        return np.array(rows).reshape(-1, len(self.joints))

    def servo_outside(self) -> int:
        """Goals written to the servos outside the guard's envelope at the driver's rate (limits, step,
        acceleration; one tick of rounding allowed), from whatever source."""
        goals = self.servo_goals()
        lim = self.servo_limits
        outside = ((goals < lim.lower - TICK_TOLERANCE) | (goals > lim.upper + TICK_TOLERANCE)).any(axis=1)
        steps = np.diff(goals, axis=0)
        outside[1:] |= (np.abs(steps) > lim.max_step + TICK_TOLERANCE).any(axis=1)
        if len(steps) >= 2:
            before, after, change = steps[:-1], steps[1:], lim.max_step_change + 2 * TICK_TOLERANCE
            low = np.minimum(before - change, np.minimum(before, 0.0) - TICK_TOLERANCE)
            high = np.maximum(before + change, np.maximum(before, 0.0) + TICK_TOLERANCE)
            outside[2:] |= ((after < low) | (after > high)).any(axis=1)
        return int(np.count_nonzero(outside))

    def controlled_stop(self) -> str:
        """yes: torque off everywhere, at the rest pose; no: torque on (running); NO: torque off elsewhere."""
        if any(self.emulator.torque_enabled().values()):
            return "no: running"
        positions = self.emulator.positions()
        off = {j: self.calibration.ticks_to_radians(j, positions[MOTOR_IDS[j]]) - v for j, v in self.rest_pose.items()}
        far = {j: round(d, 3) for j, d in off.items() if abs(d) > REST_TOLERANCE}
        return "yes" if not far else f"NO: torque off away from the rest pose {far}"

    def wait_for_stop(self, what: str) -> str:
        """Wait for the controlled stop to end; expect it."""
        try:
            self.peer.wait_for(lambda: self.controlled_stop() == "yes", STOP_WAIT_S, what)
        except TimeoutError:
            pass
        stop = self.controlled_stop()
        self.expect(stop == "yes", f"controlled stop at the rest pose after {what} ({stop})")
        return stop

    def driver_stopped(self) -> str:
        """Why the driver stopped the arm ('' while it runs): its logged controlled stop or fatal error."""
        lines = self.graph.log("so100_driver").splitlines()
        said = [line for line in lines if "controlled stop" in line or "fatal" in line]
        exited = self.graph.procs["so100_driver"].poll()
        if not said and exited is None:
            return ""
        return "; ".join(said[:2]) + (f" (exit code {exited})" if exited is not None else "")

    def driver_follows(self, node: str) -> bool:
        """Whether the driver's latest command-writer status names `node` as followed."""
        statuses = self.statuses(DRIVER_COMMAND_WRITER_STATUS)
        return bool(statuses) and any(v.key == "followed" and v.value == node for v in statuses[-1].values)

    def driver_says(self, status: str, level: int, *words: str) -> bool:
        return any(s.level == level and all(w in s.message for w in words) for s in self.statuses(status))

    def measure(self) -> tuple[int, float, float]:
        """(commands outside the guard, max step rad, max speed rad/s) over the window."""
        with self.peer.lock:
            commands = list(self.peer.rec.commands)
            statuses = list(self.peer.rec.statuses)
            speeds = [s for _, s in self.peer.rec.speeds]
        tick_stamps = np.array(sorted(stamp_ns(s.header.stamp) for s in statuses))
        outside, max_step = 0, 0.0
        previous, previous_step = None, None
        for stamp, q in commands:
            if previous is not None:
                before_stamp, before_q = previous
                between = np.count_nonzero((tick_stamps > before_stamp) & (tick_stamps < stamp))
                if between == 0:  # consecutive ticks: every bound applies
                    bad = self.limits.violations(q[None], previous=before_q, previous_step=previous_step)
                    outside += int(bad[0])
                    previous_step = q - before_q
                    max_step = max(max_step, float(np.max(np.abs(previous_step))))
                else:  # the recording missed `between` commands: positions only
                    outside += int(self.limits.violations(q[None])[0])
                    previous_step = None
            else:
                outside += int(self.limits.violations(q[None])[0])
            previous = (stamp, q)
        return outside, max_step, max(speeds, default=0.0)

    def close(self) -> dict[str, int]:
        codes = self.graph.stop_all()
        self.peer.close()
        self.emulator.stop()
        return codes


# --- the attacks -------------------------------------------------------------------------------
def far_chunk(run: Run, offset: np.ndarray | float, length: int = 30) -> np.ndarray:
    base = run.peer.policy_rows(run.status().step, length)
    return base + offset


def attack_from_policy(run: Run, rows: np.ndarray, reason: str) -> str:
    """The followed policy itself sends `rows` (a buggy or hijacked policy)."""
    before = run.status()
    run.peer.policy_on = False
    time.sleep(0.1)
    run.peer.policy_id += 1
    run.peer.publish(run.peer.policy_id, run.status().step, rows, run.peer.policy_source)
    time.sleep(SETTLE_S)
    after = run.status()
    run.expect(after.last_reject_reason.startswith(reason + ":"), f"rejected as {reason}, got "
               f"{after.last_reject_reason!r}")
    run.expect(after.merged_count == before.merged_count, "nothing merged")
    return f"rejected ({after.last_reject_reason.split(':')[0]}); holding"


def limits_one_joint(run: Run) -> str:
    offset = np.zeros(6)
    offset[0] = 100.0
    return attack_from_policy(run, far_chunk(run, offset), "limits")


def limits_every_joint(run: Run) -> str:
    return attack_from_policy(run, np.full((30, 6), -100.0), "limits")


def jump_one_rad(run: Run) -> str:
    offset = np.zeros(6)
    offset[1] = 1.0
    return attack_from_policy(run, far_chunk(run, offset), "step")


def zigzag(run: Run) -> str:
    offset = np.zeros((30, 6))
    offset[::2, 0], offset[1::2, 0] = 0.5, -0.5
    return attack_from_policy(run, far_chunk(run, offset), "step")


def long_chunk(run: Run) -> str:
    rows = np.repeat(run.peer.policy_rows(run.status().step, 1), 166_666, axis=0)
    return attack_from_policy(run, rows, "too_long")


def id_zero(run: Run) -> str:
    before = run.status()
    run.peer.policy_on = False
    run.peer.publish(0, run.status().step, far_chunk(run, 0.0), run.peer.policy_source)
    time.sleep(SETTLE_S)
    after = run.status()
    run.expect(after.last_reject_reason.startswith("bad_id:"), f"bad_id, got {after.last_reject_reason!r}")
    run.expect(after.active_chunk_id != 0 or after.holding, "status consistent")
    run.expect(after.merged_count == before.merged_count, "nothing merged")
    return "rejected (bad_id)"


def decreasing_id(run: Run) -> str:
    before = run.status()
    run.peer.policy_on = False
    run.peer.publish(max(1, run.peer.policy_id - 1), run.status().step, far_chunk(run, 0.0), run.peer.policy_source)
    time.sleep(SETTLE_S)
    after = run.status()
    run.expect(after.last_reject_reason.startswith("bad_id:"), f"bad_id, got {after.last_reject_reason!r}")
    run.expect(after.merged_count == before.merged_count, "nothing merged")
    return "rejected (bad_id)"


def malformed(run: Run) -> str:
    run.peer.policy_on = False
    step = run.status().step
    rows = far_chunk(run, 0.0)
    cases = []
    bad = rows.copy()
    bad[3, 2] = np.nan
    run.peer.publish(9001, step, bad, run.peer.policy_source)
    cases.append("non_finite")
    run.peer.publish(9002, step, rows, run.peer.policy_source, length=29)
    cases.append("size_mismatch")
    run.peer.publish(9003, step, rows, run.peer.policy_source, names=run.joints[:5] + ["elbow"])
    cases.append("unknown_joint")
    time.sleep(SETTLE_S)
    diag = run.timed_statuses(EXECUTOR_CONTROL_LOOP_STATUS)
    by_reason = dict(kv.split("=") for kv in next(
        (v.value for v in diag[-1][1].values if v.key == "rejected_by_reason"), "").split(", ") if "=" in kv) if diag else {}
    for case in cases:
        run.expect(case in by_reason, f"{case} counted in /diagnostics ({by_reason})")
    return "rejected (" + ", ".join(cases) + ")"


def flood(run: Run, same_source: bool, first_id: int = FLOOD_IDS_FROM) -> str:
    """1000 chunks/s for 3 s, ids from `first_id` up; the stand-in policy keeps publishing."""
    source = run.peer.policy_source if same_source else f"/intruder {secrets.token_hex(4)}"
    before = run.status()
    started = time.monotonic()
    chunk_id = first_id
    sent = 0
    while time.monotonic() - started < 3.0:
        for _ in range(10):
            chunk_id += 1
            run.peer.publish(chunk_id, run.status().step, far_chunk(run, 0.0, 20), source, sign=False)
            sent += 1
        time.sleep(0.01)
    time.sleep(SETTLE_S)
    after = run.status()
    flagged = [t - started for t, s in run.executor_diagnostics()
               if s.level >= DiagnosticStatus.WARN and "reject" in s.message]
    run.expect(bool(flagged) and flagged[0] <= 1.0 + 0.2, f"WARN/ERROR on /diagnostics within 1 s (at {flagged[:1]})")
    merged = after.merged_count - before.merged_count
    ticks = after.step - before.step
    if same_source:
        run.expect(merged <= ticks, f"at most one merge per tick ({merged} merges, {ticks} ticks)")
    else:
        run.expect(merged >= 2, f"the followed policy kept merging ({merged})")
        run.expect(after.last_reject_reason.startswith("other_source:") or merged >= 2,
                   f"refused as other_source, got {after.last_reject_reason!r}")
    return f"{sent} sent, {merged} merged in {ticks} ticks; " + (after.last_reject_reason.split(":")[0] or "-")


def flood_other_source(run: Run) -> str:
    return flood(run, same_source=False)


def flood_same_source(run: Run) -> str:
    """The flood names the stand-in's own source with ids far above its own (without keys, its first
    merge would leave the real policy `bad_id` until it restarts). With keys and session ids it
    cannot sign, so nothing of it is admitted and the stand-in's next ids merge as before."""
    outcome = flood(run, same_source=True)
    reason = run.status().last_reject_reason
    run.expect(reason.startswith("unsigned:"), f"refused as unsigned, got {reason!r}")
    merged = run.status().merged_count
    run.peer.wait_for(lambda: run.status().merged_count > merged + 1, MERGE_WAIT_S, "the stand-in merging again")
    by_reason = rejected_by_reason(run)
    run.expect(by_reason.get("bad_id", 0) == 0, f"no bad_id lockout ({by_reason})")
    return outcome + f"; refused {by_reason.get('unsigned', 0)} unsigned; the policy merges on, no lockout"


def flood_same_source_unsigned(run: Run) -> str:
    """Without keys nothing tells the flood from the policy: chunks naming the stand-in's source, the last
    with id 2^64-1, merge (at most one per tick, through the guard), and the stand-in's own ids are
    refused as bad_id from then on, until it restarts as a new source. Not masked: the executor holds
    when the flood's last chunk ends and says on /diagnostics (ERROR) who is locked out, why and what to
    do (trusted_keys, restart the policy)."""
    top = 2**64 - 1
    outcome = flood(run, same_source=True, first_id=top - FLOOD_IDS_FROM)
    run.peer.publish(top, run.status().step, far_chunk(run, 0.0, 20), run.peer.policy_source)
    run.peer.wait_for(lambda: run.status().active_chunk_id == top, MERGE_WAIT_S, "the id 2^64-1 chunk merged")

    def said() -> bool:
        return any(s.level == DiagnosticStatus.ERROR and "locked out" in s.message and "trusted_keys" in s.message
                   for s in run.statuses(EXECUTOR_CONTROL_LOOP_STATUS))
    try:  # said at the executor's next 1 Hz report once the policy's next chunks are refused; ends early
        run.peer.wait_for(lambda: said() or run.driver_stopped(), LOCKOUT_WAIT_S, "the lockout as an ERROR on /diagnostics")
    except TimeoutError as exc:
        run.expect(False, f"{exc} ({rejected_by_reason(run)})")
    run.expect(not run.driver_stopped(), f"the driver kept running (it stopped: {run.driver_stopped()})")
    merged = run.status().merged_count
    run.peer.wait_for(lambda: run.status().holding, 10.0, "the executor holding once the flood's chunk ended")
    time.sleep(SETTLE_S)
    by_reason = rejected_by_reason(run)
    run.expect(run.status().merged_count == merged, "nothing of the locked-out policy merges")
    run.expect(by_reason.get("bad_id", 0) >= 3, f"the policy's chunks refused as bad_id ({by_reason})")
    return (outcome + f"; id 2^64-1 merged; the policy locked out ({by_reason.get('bad_id', 0)} bad_id), "
            "holding, ERROR on /diagnostics: configure trusted_keys, restart the policy")


def rejected_by_reason(run: Run) -> dict[str, int]:
    """The executor's rejections by reason code, from its latest /diagnostics."""
    diag = run.statuses(EXECUTOR_CONTROL_LOOP_STATUS)
    text = next((v.value for v in diag[-1].values if v.key == "rejected_by_reason"), "") if diag else ""
    return {k: int(v) for k, v in (kv.split("=") for kv in text.split(", ") if "=" in kv)}


def spoofed_joint_states_at_start(run: Run) -> str:
    """A spoofer publishes joint states 1 rad from the arm's pose at 100 Hz as the executor starts: the
    executor follows the driver's /joint_states (by publisher GID) and holds the real pose."""
    real = run.peer.start_pose.copy()
    spoofed = JointState(name=run.joints, position=(real + 1.0).tolist())
    publisher = run.peer.node.create_publisher(JointState, "/joint_states", 10)
    stop = threading.Event()

    def spoof() -> None:
        while not stop.is_set():
            publisher.publish(spoofed)
            time.sleep(0.01)
    spoofer = threading.Thread(target=spoof, daemon=True)
    spoofer.start()
    try:
        time.sleep(0.5)
        run.graph.start(("rtc_executor",))
        run.peer.wait_for(lambda: bool(run.peer.rec.commands), STARTUP_TIMEOUT_S, "the executor commanding")
        time.sleep(2.0)
    finally:
        stop.set()
        spoofer.join()
    with run.peer.lock:
        commands = np.array([q for _, q in run.peer.rec.commands])
    moved = float(np.max(np.abs(run.servo_goals() - real), initial=0.0))
    off = float(np.max(np.abs(commands - real)))
    warned = [s for s in run.statuses(EXECUTOR_MEASURED_STATE_STATUS) if "fault_campaign" in s.message]
    run.expect(off < 0.01, f"the executor holds the real pose (its commands {off:.3f} rad from it)")
    run.expect(moved < 0.02, f"the arm did not move ({moved:.3f} rad)")
    run.expect(bool(warned), "the ignored publisher named on /diagnostics (rtc_executor: measured state)")
    return f"held the real pose (commands within {off:.3f} rad); arm moved {moved:.3f} rad; spoofer ignored, WARN"


def replay_after_restart(run: Run) -> str:
    """Signed chunks recorded from one executor run, replayed after the executor restarted: refused as
    another session; the stand-in's chunks for the new session merge."""
    run.peer.sent = []
    time.sleep(2.0)
    recorded, run.peer.sent = run.peer.sent, None
    run.peer.policy_on = False
    old_session = run.status().session
    code = run.graph.stop("rtc_executor")
    run.expect(code == 0, f"executor exit 0 ({code})")
    run.graph.start(("rtc_executor",))
    run.peer.wait_for(lambda: run.status().session != old_session, STARTUP_TIMEOUT_S, "the new executor's status")
    run.peer.wait_for(lambda: run.status().step > 10, STARTUP_TIMEOUT_S, "the new executor ticking")
    for msg in recorded:
        run.peer.chunk_pub.publish(msg)
        time.sleep(0.01)
    try:
        run.peer.wait_for(lambda: rejected_by_reason(run).get("other_session", 0) >= len(recorded), 5.0,
                          "the rejections in /diagnostics")
    except TimeoutError:
        pass  # reported by the expectation below
    after = run.status()
    by_reason = rejected_by_reason(run)
    run.expect(len(recorded) >= 2, f"chunks recorded ({len(recorded)})")
    run.expect(after.merged_count == 0, f"nothing of the replay merged ({after.merged_count})")
    run.expect(by_reason.get("other_session", 0) == len(recorded), f"every replayed chunk refused as other_session "
               f"({by_reason}, {len(recorded)} replayed)")
    run.peer.anchor = None
    run.peer.policy_on = True
    run.peer.wait_for(lambda: run.status().merged_count >= 2, MERGE_WAIT_S * 2, "the stand-in merging in the new session")
    return f"{len(recorded)} replayed chunks refused (other_session); the policy merges in the new session"


def tracking_error(run: Run) -> str:
    """shoulder_pan's servo blocked (it no longer moves), then the policy sends it 0.8 rad away over
    1.5 s: the executor sees the tracking error, holds and reports ERROR."""
    joint = run.joints.index("shoulder_pan")
    servo = run.emulator.servos[MOTOR_IDS["shoulder_pan"]]
    servo.advance = lambda _dt: servo.sync_registers()  # blocked: the motor turns no further
    run.peer.policy_on = False
    time.sleep(0.2)
    rows = 45  # 1.5 s: within the bringup's max_chunk_length
    ramp = np.zeros((rows, len(run.joints)))
    ramp[:, joint] = np.linspace(0.0, 0.8, rows) * np.sign(-run.peer.start_pose[joint] or 1.0)  # inward
    base = np.repeat(run.peer.last_command[None], rows, axis=0)
    run.peer.policy_id += 1
    run.peer.publish(run.peer.policy_id, run.status().step, base + ramp, run.peer.policy_source)
    run.peer.wait_for(lambda: run.status().tracking_fault, 10.0, "the tracking fault")
    time.sleep(SETTLE_S)
    after = run.status()
    errors = [s for s in run.statuses(EXECUTOR_MEASURED_STATE_STATUS)
              if s.level >= DiagnosticStatus.ERROR and "tracking" in s.message]
    run.expect(after.on_hold and after.holding, "the executor holds")
    run.expect(bool(errors), "ERROR on /diagnostics (rtc_executor: measured state)")
    return f"tracking fault, holding; ERROR ({errors[0].message[:60] if errors else '-'})"


def stall_executor(run: Run) -> str:
    run.graph.send("rtc_executor", signal.SIGSTOP)
    time.sleep(2.0)
    before = run.status()
    run.graph.send("rtc_executor", signal.SIGCONT)
    run.peer.wait_for(lambda: run.status().step > before.step + 40, 10.0, "ticks after the stall")
    time.sleep(SETTLE_S)
    try:  # the stand-in policy answers the first statuses after the stall; on a loaded machine it can take a while
        run.peer.wait_for(lambda: run.status().merged_count > before.merged_count, MERGE_WAIT_S, "a fresh chunk")
    except TimeoutError:
        pass  # reported by the expectation below
    after = run.status()
    missed = after.missed_tick_count - before.missed_tick_count
    run.expect(missed >= 50, f"missed ticks counted ({missed})")
    run.expect(after.step - before.step >= missed, "the step counts the missed ticks")
    run.expect(after.merged_count > before.merged_count, "a fresh chunk merged after the stall")
    return f"{missed} missed ticks counted in step; held, then a fresh chunk"


def stall_driver(run: Run) -> str:
    run.graph.send("so100_driver", signal.SIGSTOP)
    time.sleep(1.0)
    run.graph.send("so100_driver", signal.SIGCONT)
    time.sleep(SETTLE_S)
    run.expect(run.graph.procs["so100_driver"].poll() is None, "the driver runs on")
    return "driver resumed from the newest command"


def driver_parks(run: Run) -> str:
    """The executor stopped commanding: the driver's watchdog holds, then parks at the rest pose and stays up."""
    time.sleep(2.5)
    diag = run.statuses(DRIVER_BUS_STATUS)
    last = diag[-1] if diag else None
    silences = next((v.value for v in last.values if v.key == "command_silences"), "0") if last else "0"
    run.expect(int(silences) >= 1, f"driver watchdog counted the silence ({silences})")
    run.expect(last is not None and last.level >= DiagnosticStatus.WARN, "driver diagnostics WARN")
    with run.peer.lock:
        recent = [s for t, s in run.peer.rec.speeds if t > time.monotonic() - 0.5]
    run.expect(bool(recent) and max(recent) < 0.05, f"the arm holds still ({max(recent, default=-1):.3f} rad/s)")
    run.wait_for_stop("the command silence")
    run.expect(run.driver_says(DRIVER_CONTROL_LOOP_STATUS, DiagnosticStatus.ERROR, "no command for"), "driver ERROR: parked")
    run.expect(run.graph.procs["so100_driver"].poll() is None, "the driver stays up (parked)")
    return "driver held, then parked at the rest pose, torque off; stays up, ERROR"


def sigkill_executor(run: Run) -> str:
    run.graph.send("rtc_executor", signal.SIGKILL)
    return driver_parks(run)


def executor_bug(run: Run) -> str:
    """bench/faulty_node.py: the executor's control loop raises 8 s after its first tick (mid-motion)."""
    code = run.graph.procs["rtc_executor"].wait(STOP_WAIT_S)
    run.expect(code == 1, f"executor exit code 1 ({code})")
    run.expect("control loop failed: RuntimeError" in run.graph.log("rtc_executor"), "the exception logged")
    run.expect(any(s.level == DiagnosticStatus.ERROR and "RuntimeError" in s.message
                   for s in run.statuses(EXECUTOR_CONTROL_LOOP_STATUS)),
               "executor ERROR on /diagnostics with the exception")
    return f"executor ERROR, exit {code}; " + driver_parks(run)


def sigkill_driver(run: Run) -> str:
    run.graph.send("so100_driver", signal.SIGKILL)
    time.sleep(1.5)
    run.expect(run.graph.procs["so100_driver"].wait(5) == -signal.SIGKILL, "driver killed")
    run.expect(run.graph.procs["rtc_executor"].poll() is None, "the executor runs on")
    return "nothing in software acts: servos keep the last goal with torque on (docs/safety.md)"


def sigterm_driver(run: Run) -> str:
    started = time.monotonic()
    code = run.graph.stop("so100_driver", signal.SIGTERM)
    took = time.monotonic() - started
    log = run.graph.log("so100_driver")
    hold = float(effective_parameters(run.graph.driver_spec).get("shutdown_hold_s", 1.0))
    run.expect(code == 0, f"exit code 0 ({code})")
    run.expect(took >= hold, f"held {hold} s with torque on before exiting (took {took:.2f} s)")
    run.expect("torque off" in log and "Traceback" not in log, "torque off at the end, no traceback")
    run.wait_for_stop("SIGTERM")
    return f"held, ramped to the rest pose, torque off in {took:.1f} s; exit {code}"


class Rogue:
    """A node of its own (any name, `rtc_executor` too: names are not authenticated) publishing
    commands on /so100/command."""

    def __init__(self, name: str) -> None:
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node(name, context=self.context)
        self.publisher = self.node.create_publisher(JointState, "/so100/command", 10)

    def wait_until_heard(self) -> None:
        """Until the driver's subscription matched and had time to learn this node's name."""
        end = time.monotonic() + 10.0
        while self.publisher.get_subscription_count() == 0 and time.monotonic() < end:
            time.sleep(0.05)
        time.sleep(1.0)

    def send(self, targets: dict[str, float]) -> None:
        self.publisher.publish(JointState(name=list(targets), position=list(targets.values())))

    def start_stream(self, targets: dict[str, float], followed: Callable[[], bool]) -> None:
        """A near first command at 200 Hz until the driver follows this node (it takes none before it
        knows the node's name), at most 15 s."""
        end = time.monotonic() + 15.0
        while not followed() and time.monotonic() < end:
            self.send(targets)
            time.sleep(0.005)

    def close(self) -> None:
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def measured(run: Run, joint: str) -> float:
    positions = run.emulator.positions()
    return run.calibration.ticks_to_radians(joint, positions[MOTOR_IDS[joint]])


def rogue_second_publisher(run: Run) -> str:
    """Another node drives wrist_roll toward its limit at 200 Hz for 3 s, 0.1 rad ahead of the arm each
    time, while the executor drives (the issue's attack). Followed, it would take wrist_roll ever further
    beyond the executor's commands; ignored, every servo goal of wrist_roll lies between the arm's first
    goal and the executor's commands (the driver's gate moves toward the last of them), so the bound is
    the span of what the executor commanded in the window, not an assumption about the policy's plan."""
    index = run.joints.index("wrist_roll")
    rogue = Rogue("rogue")
    try:
        end = time.monotonic() + 3.0
        while time.monotonic() < end:
            rogue.send({"wrist_roll": measured(run, "wrist_roll") + 0.1})
            time.sleep(0.005)
        time.sleep(1.2)
        error = run.driver_says(DRIVER_COMMAND_WRITER_STATUS, DiagnosticStatus.ERROR, "/rogue")
    finally:
        rogue.close()
    goals = run.servo_goals()[:, index]
    with run.peer.lock:
        commanded = np.array([q[index] for _, q in run.peer.rec.commands] + list(goals[:1]))  # and where it was
    # a command the recording missed lies within one guard step of a recorded one
    slack = float(run.limits.max_step[index]) + TICK_TOLERANCE
    beyond = float(max(goals.max() - commanded.max(), commanded.min() - goals.min(), 0.0)) if len(goals) else np.nan
    stopped = run.driver_stopped()
    run.expect(error, "driver ERROR on /diagnostics naming /rogue")
    run.expect(not stopped, f"the driver kept running under the executor (it stopped: {stopped})")
    ignored = len(goals) > 0 and beyond <= slack
    run.expect(ignored, f"wrist_roll's servo goals within the executor's commands "
               f"(beyond them by {beyond:.3f} rad, {len(goals)} goals, {len(commanded)} commands)")
    return (f"{'ignored' if ignored else 'FOLLOWED'}, {'ERROR' if error else 'no ERROR'} on /diagnostics; wrist_roll's "
            f"goals within {beyond:.3f} rad of the executor's commands (span {np.ptp(commanded):.2f} rad)")


def impostor(drive: Callable[[Rogue], None]) -> None:
    """`drive` a rogue named like the executor (not running: the name is free)."""
    rogue = Rogue("rtc_executor")
    try:
        rogue.wait_until_heard()
        drive(rogue)
    finally:
        rogue.close()


def rogue_first_step(run: Run) -> str:
    """An impostor of the executor's name, its first command 1 rad from the arm, 200 Hz for 1 s, and on
    (5 s at most) until the driver's diagnostics count a rejection: on a loaded machine the driver may
    learn the impostor's node name from discovery only after its first commands."""
    def first_rejections() -> int:
        bus = run.statuses(DRIVER_BUS_STATUS)
        return next((int(v.value) for v in bus[-1].values if v.key == "first_commands_rejected"), 0) if bus else 0

    def drive(rogue: Rogue) -> None:
        target = measured(run, "wrist_roll") + 1.0
        start = time.monotonic()
        while time.monotonic() - start < 1.0 or (first_rejections() == 0 and time.monotonic() - start < 5.0):
            rogue.send({"wrist_roll": target})
            time.sleep(0.005)
    impostor(drive)
    time.sleep(1.2)
    goals = run.servo_goals()
    moved = float(np.max(np.abs(goals - goals[0]), initial=0.0)) if len(goals) else 0.0
    rejected = first_rejections()
    run.expect(rejected >= 1, f"first command rejected ({rejected} counted)")
    run.expect(moved < 0.01, f"the arm did not move ({moved:.3f} rad)")
    return f"rejected whole ({rejected} first commands counted); arm moved {moved:.3f} rad"


def rogue_speed(run: Run) -> str:
    """An impostor starts near the arm, then commands wrist_roll to its upper limit at 200 Hz for 2 s."""
    def drive(rogue: Rogue) -> None:
        rogue.start_stream({"wrist_roll": measured(run, "wrist_roll") + 0.05}, lambda: run.driver_follows("/rtc_executor"))
        end = time.monotonic() + 2.0
        while time.monotonic() < end:
            rogue.send({"wrist_roll": float(run.limits.upper[run.joints.index("wrist_roll")])})
            time.sleep(0.005)
    impostor(drive)
    time.sleep(0.5)
    with run.peer.lock:
        speed = max((s for _, s in run.peer.rec.speeds), default=0.0)
    limit = float(run.servo_limits.max_step[run.joints.index("wrist_roll")] * run.driver_rate)
    run.expect(speed <= limit * 1.1, f"measured speed within the driver's max_velocity ({speed:.2f} > {limit:.2f})")
    run.expect(speed > 1.0, f"the impostor's commands were followed ({speed:.2f} rad/s)")
    return f"followed within the driver's limits: {speed:.2f} rad/s measured (max_velocity {limit:.1f})"


def rogue_reversal(run: Run) -> str:
    """An impostor starts near the arm, then alternates wrist_roll +-0.5 rad every message at 200 Hz for 2 s."""
    def drive(rogue: Rogue) -> None:
        here = measured(run, "wrist_roll")
        rogue.start_stream({"wrist_roll": here}, lambda: run.driver_follows("/rtc_executor"))
        end, k = time.monotonic() + 2.0, 0
        while time.monotonic() < end:
            k += 1
            rogue.send({"wrist_roll": here + (0.5 if k % 2 else -0.5)})
            time.sleep(0.005)
    impostor(drive)
    time.sleep(0.5)
    with run.peer.lock:
        speed = max((s for _, s in run.peer.rec.speeds), default=0.0)
    run.expect(speed > 0.2, f"the impostor's commands were followed ({speed:.2f} rad/s)")
    return f"reversals bounded by the driver's acceleration limit: {speed:.2f} rad/s measured"


def fatal_stop(run: Run, what: str, logged: str) -> str:
    """The driver ends in a controlled stop at the rest pose, ERROR (`logged` in its log), exit 1."""
    code = run.graph.procs["so100_driver"].wait(STOP_WAIT_S)
    stop = run.wait_for_stop(what)
    run.expect(code == 1, f"driver exit code 1 ({code})")
    run.expect(logged in run.graph.log("so100_driver"), f"{logged!r} logged")
    return f"ERROR, controlled stop ({stop}), exit {code}"


def driver_bug(run: Run) -> str:
    """bench/faulty_node.py: the driver's control loop raises 8 s after its first cycle (mid-motion)."""
    return fatal_stop(run, "the control-loop exception", "control loop failed: RuntimeError")


def bus_loss(run: Run) -> str:
    """Every servo off the bus mid-motion until the driver gives the bus up (max_failed_cycles failed
    cycles in a row), then back: the bus answers again, so the arm can still be stopped under control."""
    run.emulator.vanish(STOP_WAIT_S)
    run.peer.wait_for(lambda: "fatal bus error" in run.graph.log("so100_driver"), STOP_WAIT_S, "the fatal bus error")
    run.emulator.vanish(0.0)
    return "fatal bus error, the bus back: " + fatal_stop(run, "the bus loss", "fatal bus error")


def overload(run: Run) -> str:
    """wrist_flex reports OVERLOAD mid-motion (the bit stays set)."""
    run.emulator.set_error_bits(MOTOR_IDS["wrist_flex"], int(StatusError.OVERLOAD))
    return fatal_stop(run, "the overload bit", "wrist_flex OVERLOAD")


def slow_start(run: Run) -> str:
    """The servos answer nothing for the first 6 s (powering up, a loaded machine): bring-up waits."""
    log = run.graph.log("so100_driver")
    run.expect("waiting up to" in log, "the driver waited for the servos")
    run.expect(run.status().merged_count >= 2, "the graph came up and the policy drives")
    return "bring-up waited for the servos; the graph came up"


def stall_policy(run: Run) -> str:
    """The real policy node stops for 2 s: the executor plays out its queue, holds, and merges the
    policy's chunks again once it runs."""
    run.graph.send("rtc_policy", signal.SIGSTOP)
    time.sleep(2.0)
    stopped = run.status()
    run.graph.send("rtc_policy", signal.SIGCONT)
    run.expect(stopped.holding, "the executor held while the policy was stopped")
    run.peer.wait_for(lambda: run.status().merged_count > stopped.merged_count + 1, 20.0, "chunks after SIGCONT")
    return "executor drained and held; the policy's chunks merged again after SIGCONT"


def stall_executor_real(run: Run) -> str:
    """The executor stops for 2 s under the real policy: its step counts the missed ticks, so the
    policy's next fresh chunk is anchored right and merges."""
    run.graph.send("rtc_executor", signal.SIGSTOP)
    time.sleep(2.0)
    before = run.status()
    run.graph.send("rtc_executor", signal.SIGCONT)
    run.peer.wait_for(lambda: run.status().merged_count > before.merged_count, 10.0, "a chunk after the stall")
    merged = run.status()
    time.sleep(SETTLE_S)
    missed = merged.missed_tick_count - before.missed_tick_count
    held = merged.underrun_count - before.underrun_count
    run.expect(missed >= 50, f"missed ticks counted ({missed})")
    run.expect(merged.step - before.step >= missed, "the step counts the missed ticks")
    # How long it holds is the policy's inference time (the machine's load), reported, not asserted.
    return f"{missed} missed ticks counted; {held} ticks held until a fresh chunk"


def upstream_killed(run: Run, node: str) -> str:
    """SIGKILL `node`, upstream of the executor: the executor plays out its queue and holds the arm
    still, commanding on (the driver's watchdog stays fed); executor and driver stay up."""
    run.graph.send(node, signal.SIGKILL)
    run.expect(run.graph.procs[node].wait(5) == -signal.SIGKILL, f"{node} killed")
    try:
        run.peer.wait_for(lambda: run.status().holding, 10.0, "the executor holding")
    except TimeoutError:
        pass  # reported by the expectation below
    held, held_at = run.status(), time.monotonic()

    def still() -> bool:
        with run.peer.lock:
            recent = [s for t, s in run.peer.rec.speeds if t > time.monotonic() - 0.5]
        return bool(recent) and max(recent) < 0.05
    try:
        run.peer.wait_for(still, STILL_WAIT_S, "the arm still")
    except TimeoutError:
        pass  # reported by the expectation below
    settled_s = time.monotonic() - held_at
    run.expect(held.holding and run.status().holding, "the executor drained its queue and holds")
    run.expect(still(), f"the arm comes to rest within {STILL_WAIT_S:.0f} s of the executor holding")
    run.expect(run.graph.procs["rtc_executor"].poll() is None, "the executor stays up")
    run.expect(run.graph.procs["so100_driver"].poll() is None, "the driver stays up")
    run.expect(run.controlled_stop() == "no: running", "torque on, holding (not parked)")
    merged = run.status().merged_count - held.merged_count
    return (f"executor drained and holds ({merged} chunks merged since), the arm still {settled_s:.1f} s later; "
            "driver and executor up, torque on")


def sigkill_policy(run: Run) -> str:
    return upstream_killed(run, "rtc_policy")


def sigkill_camera(run: Run) -> str:
    outcome = upstream_killed(run, "sim_camera")
    run.expect(run.graph.procs["rtc_policy"].poll() is None, "the policy node stays up without images")
    return outcome


def bad_encoding(run: Run) -> str:
    """Camera images the policy cannot decode for 3 s (the simulated camera paused), then good ones."""
    from sensor_msgs.msg import Image
    from rclpy.qos import qos_profile_sensor_data

    cameras = effective_parameters(run.graph.specs["rtc_policy"]).get("camera_topics", [f"front={CAMERA_TOPIC}"])
    topic = cameras[0].split("=", 1)[1]
    camera = run.peer.node.create_publisher(Image, topic, qos_profile_sensor_data)
    run.graph.send("sim_camera", signal.SIGSTOP)
    end = time.monotonic() + 3.0
    while time.monotonic() < end:
        msg = Image(height=96, width=96, encoding="mono16", step=192, data=bytes(96 * 192))
        msg.header.stamp = run.peer.node.get_clock().now().to_msg()
        camera.publish(msg)
        time.sleep(1 / 30)
    errors = [s for _, s in run.policy_diagnostics() if s.level >= DiagnosticStatus.ERROR]
    stopped = run.status()
    run.graph.send("sim_camera", signal.SIGCONT)
    run.expect(bool(errors), "the policy reports ERROR on /diagnostics")
    run.expect(run.graph.procs["rtc_policy"].poll() is None, "the policy node stays up")
    run.expect(stopped.holding, "the executor held")
    run.peer.wait_for(lambda: run.status().merged_count > stopped.merged_count + 1, 20.0, "recovery")
    return f"policy ERROR ({errors[0].message[:40] if errors else '-'}); held; recovered with good images"


def played_bag(run: Run) -> str:
    """A bag recorded from this graph a moment ago (rtc_record: commands, joint states, executor
    status) played back into it with rtc_play's defaults: the actuating topics stay unpublished."""
    bag = run.graph.log_dir / "played_bag"
    recorder = subprocess.Popen([sys.executable, "-m", "rtc_tools.recorder", str(bag)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(4.0)
    recorder.send_signal(signal.SIGINT)
    recorder.communicate(timeout=30)
    before = run.status()
    play = subprocess.run([sys.executable, "-m", "rtc_tools.play", str(bag)], capture_output=True, text=True,
                          timeout=60)
    notice = next((line for line in play.stderr.splitlines() if "not publishing" in line), "")
    skipped = notice.removeprefix("rtc_play: not publishing ").split(" (")[0]
    run.expect(play.returncode == 0, f"rtc_play exit 0 ({play.returncode}: {play.stderr[-200:]})")
    run.expect(all(t in skipped for t in ("/so100/command", "/rtc/executor_status")),
               f"rtc_play names the recorded commands and statuses among the topics it left out ({notice!r})")
    intruders = [s for s in run.statuses(DRIVER_COMMAND_WRITER_STATUS) if s.level >= DiagnosticStatus.ERROR]
    run.expect(not intruders, "the driver saw no second command publisher")
    after = run.status()
    run.expect(after.merged_count > before.merged_count, "the policy's chunks kept merging")
    published = play.stdout.strip().splitlines()[-1] if play.stdout.strip() else "-"
    return f"{skipped} left out; {published.removeprefix('rtc_play: ')}; no intruder on the driver"


def _policy_keeps_running(run: Run, attack: Callable[[], None], what: str) -> str:
    """Run `attack` for 3 s against the real policy node: it stays up, WARNs on /diagnostics and its
    chunks keep merging."""
    before = run.status()
    end = time.monotonic() + 3.0
    while time.monotonic() < end:
        attack()
        time.sleep(0.02)
    run.peer.wait_for(lambda: run.status().merged_count > before.merged_count + 1, 20.0, "chunks after the attack")
    warned = [s for _, s in run.policy_diagnostics() if "dropped a message on" in s.message]
    run.expect(run.graph.procs["rtc_policy"].poll() is None, "the policy node stays up")
    run.expect(bool(warned), "the policy reports the dropped messages on /diagnostics")
    merged = run.status().merged_count - before.merged_count
    return f"{what} dropped, WARN on /diagnostics; policy up, {merged} chunks merged meanwhile"


def nan_executor_status(run: Run) -> str:
    """Spoofed executor statuses (NaN, infinite, negative control rate; a step past 2^53) beside the
    executor's own, at 50 Hz for 3 s."""
    publisher = run.peer.node.create_publisher(ExecutorStatus, "/rtc/executor_status", RELIABLE)
    spoofs = [ExecutorStatus(control_rate_hz=float("nan")), ExecutorStatus(control_rate_hz=float("inf")),
              ExecutorStatus(control_rate_hz=-30.0), ExecutorStatus(control_rate_hz=30.0, step=2**64 - 1)]

    def attack() -> None:
        for spoof in spoofs:
            publisher.publish(spoof)
    return _policy_keeps_running(run, attack, "NaN/inf/negative rate and huge step statuses")


def oversized_image(run: Run) -> str:
    """Camera images claiming 9000 x 9000 pixels (81 Mpixel, about 250 MB decoded) beside the
    camera's own, at 50 Hz for 3 s."""
    from sensor_msgs.msg import Image
    from rclpy.qos import qos_profile_sensor_data

    cameras = effective_parameters(run.graph.specs["rtc_policy"]).get("camera_topics", [f"front={CAMERA_TOPIC}"])
    camera = run.peer.node.create_publisher(Image, cameras[0].split("=", 1)[1], qos_profile_sensor_data)
    oversized = Image(height=9000, width=9000, encoding="rgb8", step=27000)
    return _policy_keeps_running(run, lambda: camera.publish(oversized), "9000 x 9000 images")


def bad_start(run: Run, overrides: dict, what: str) -> str:
    graph = Graph(run.graph.log_dir, overrides)
    graph.start(("so100_driver",))
    code = graph.procs["so100_driver"].wait(60)
    log = graph.log("so100_driver")
    run.expect(code not in (0, None), f"non-zero exit ({code})")
    run.expect("Traceback" not in log, "no traceback")
    return f"{what}: exit {code}, " + (log.strip().splitlines() or ["(no output)"])[-1][:70]


def bad_calibration(run: Run) -> str:
    path = run.graph.log_dir / "bad_calibration.json"
    path.write_text('{"shoulder_pan": {"id": 1}}')
    return bad_start(run, {"calibration_file": str(path)}, "bad calibration")


def missing_port(run: Run) -> str:
    return bad_start(run, {"sim": False, "port": "/dev/rtc-no-such-port",
                           "calibration_file": str(default_calibration_path())}, "missing port")


SHARED, FRESH, NO_GRAPH, DRIVER_ONLY = "shared", "fresh", "no graph", "driver only"  # where an attack runs
# (REAL: fresh, real policy)


@dataclass(frozen=True)
class Bug:
    """A node whose control loop raises once, `after_s` after its first cycle (bench/faulty_node.py)."""

    node: str
    after_s: float


@dataclass(frozen=True)
class Attack:
    run: Callable[[Run], str]
    description: str
    setup: str = SHARED  # SHARED: one graph for all such attacks (each leaves it as it found it)
    bug: Bug | None = None  # a node run as bench/faulty_node.py
    silent_servos_s: float = 0.0  # > 0: the servos answer nothing this long from the start
    keys: bool = False  # the executor trusts the stand-in's key (which signs its chunks)


ATTACKS: dict[str, Attack] = {
    "limits_one_joint": Attack(limits_one_joint, "the followed policy sends 100 rad on one joint"),
    "limits_every_joint": Attack(limits_every_joint, "-100 rad on every joint"),
    "jump_one_rad": Attack(jump_one_rad, "a chunk starting 1 rad from the last command"),
    "zigzag": Attack(zigzag, "rows alternating +-0.5 rad"),
    "long_chunk": Attack(long_chunk, "one chunk of 166,666 rows (92 minutes)"),
    "id_zero": Attack(id_zero, "chunk id 0"),
    "decreasing_id": Attack(decreasing_id, "a chunk id below the last one"),
    "malformed": Attack(malformed, "NaN, size mismatch, unknown joint"),
    "flood_other_source": Attack(flood_other_source, "chunks as fast as this process can send, from another publisher"),
    "flood_same_source": Attack(flood_same_source, "chunks as fast as this process can send, naming the followed "
                                "source with ids above its own (the stand-in signs; the executor trusts its key)",
                                FRESH, keys=True),
    "flood_same_source_unsigned": Attack(flood_same_source_unsigned, "without keys: chunks as fast as this process "
                                         "can send, naming the followed source, ids up to 2^64-1", FRESH),
    "spoofed_joint_states_at_start": Attack(spoofed_joint_states_at_start, "a spoofer publishes joint states 1 rad "
                                            "from the arm's pose as the executor starts", DRIVER_ONLY),
    "replay_after_restart": Attack(replay_after_restart, "signed chunks recorded, the executor restarted, the "
                                   "chunks replayed", FRESH, keys=True),
    "tracking_error": Attack(tracking_error, "shoulder_pan's servo blocked, the policy sends it 0.8 rad away",
                             FRESH),
    "rogue_second_publisher": Attack(rogue_second_publisher, "another node on /so100/command drives wrist_roll to "
                                     "its limit at 200 Hz for 3 s"),
    "rogue_first_step": Attack(rogue_first_step, "a node named rtc_executor (executor down): first command 1 rad "
                               "away", DRIVER_ONLY),
    "rogue_speed": Attack(rogue_speed, "a node named rtc_executor (executor down): wrist_roll to its limit at once",
                          DRIVER_ONLY),
    "rogue_reversal": Attack(rogue_reversal, "a node named rtc_executor (executor down): +-0.5 rad reversals at "
                             "200 Hz", DRIVER_ONLY),
    "stall_executor": Attack(stall_executor, "SIGSTOP the executor for 2 s", FRESH),
    "stall_driver": Attack(stall_driver, "SIGSTOP the driver for 1 s", FRESH),
    "sigkill_executor": Attack(sigkill_executor, "SIGKILL the executor", FRESH),
    "sigkill_driver": Attack(sigkill_driver, "SIGKILL the driver", FRESH),
    "sigterm_driver": Attack(sigterm_driver, "SIGTERM the driver (controlled stop)", FRESH),
    "driver_bug": Attack(driver_bug, "an exception in the driver's control loop", FRESH,
                         bug=Bug("so100_driver", 8.0)),
    "executor_bug": Attack(executor_bug, "an exception in the executor's control loop", FRESH,
                           bug=Bug("rtc_executor", 8.0)),
    "bus_loss": Attack(bus_loss, "the servos off the bus mid-motion until the driver gives up, then back", FRESH),
    "overload": Attack(overload, "a servo's OVERLOAD status bit mid-motion", FRESH),
    "slow_start": Attack(slow_start, "servos silent for the first 6 s (slow power-up, loaded machine)", FRESH,
                         silent_servos_s=6.0),
    "stall_policy": Attack(stall_policy, "SIGSTOP the real policy node for 2 s", REAL),
    "stall_executor_real": Attack(stall_executor_real, "SIGSTOP the executor for 2 s under the real policy", REAL),
    "sigkill_policy": Attack(sigkill_policy, "SIGKILL the real policy node", REAL),
    "sigkill_camera": Attack(sigkill_camera, "SIGKILL the camera node under the real policy", REAL),
    "bad_encoding": Attack(bad_encoding, "camera images the policy cannot decode (mono16), then good ones", REAL),
    "played_bag": Attack(played_bag, "rtc_play (defaults) of a bag recorded from this graph, into it"),
    "nan_executor_status": Attack(nan_executor_status, "spoofed ExecutorStatus (NaN/inf/negative control_rate_hz, "
                                  "step 2^64-1) at the real policy node", REAL),
    "oversized_image": Attack(oversized_image, "camera images claiming 9000 x 9000 pixels at the real policy node",
                              REAL),
    "bad_calibration": Attack(bad_calibration, "driver with a malformed calibration file", NO_GRAPH),
    "missing_port": Attack(missing_port, "driver on a serial port that does not exist", NO_GRAPH),
}


def _row(name: str, run: Run, attack: Attack) -> Row:
    servo_outside, stop = 0, ""
    try:
        outcome = attack.run(run)
        outside, max_step, max_speed = run.measure()
        servo_outside = run.servo_outside()
        outside += servo_outside
        stop = run.controlled_stop() if attack.setup != NO_GRAPH else "-"
    except Exception as exc:  # an attack that cannot even be measured is a failed row
        outcome, outside, max_step, max_speed = f"error: {exc}", -1, float("nan"), float("nan")
        run.failures.append(str(exc))
    if outside != 0:
        run.failures.append(f"{outside} commands outside the guard ({servo_outside} of them written to the servos)")
    if stop.startswith("NO"):
        run.failures.append(f"uncontrolled stop: {stop}")
    return Row(name, outcome, outside, max_step, max_speed, list(run.failures), servo_outside, stop)


def run_campaign(names: list[str], log_root: Path, report: Callable[[Row], None]) -> list[Row]:
    """Shared attacks first, on one graph; then each other attack on its own graph."""
    rows: dict[str, Row] = {}
    shared = [n for n in names if ATTACKS[n].setup == SHARED]
    if shared:
        (log_root / "shared").mkdir(parents=True, exist_ok=True)
        run = Run(log_root / "shared")
        try:
            run.start(STAND_IN)
            for name in shared:
                run.peer.policy_on = True
                run.begin()
                rows[name] = _row(name, run, ATTACKS[name])
                report(rows[name])
        finally:
            run.close()
    for name in (n for n in names if ATTACKS[n].setup != SHARED):
        attack = ATTACKS[name]
        (log_root / name).mkdir(parents=True, exist_ok=True)
        run = Run(log_root / name, bug=attack.bug, keys=attack.keys)
        try:
            if attack.silent_servos_s:
                run.emulator.vanish(attack.silent_servos_s)
            if attack.setup == DRIVER_ONLY:
                run.start_driver_only()
            elif attack.setup != NO_GRAPH:
                run.start(REAL if attack.setup == REAL else STAND_IN)
            rows[name] = _row(name, run, attack)
        except Exception as exc:
            rows[name] = Row(name, f"error: {exc}", -1, float("nan"), float("nan"), [str(exc)])
        finally:
            run.close()
        report(rows[name])
    return [rows[n] for n in names]


def print_table(rows: list[Row]) -> None:
    print("| attack | outcome | commands outside the guard (of them servo goals) | max step (rad) "
          "| max measured speed (rad/s) | controlled stop |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row.attack} | {row.outcome} | {row.outside} ({row.servo_outside}) | {row.max_step:.3f} "
              f"| {row.max_speed:.2f} | {row.controlled_stop} |")
    for row in rows:
        for failure in row.failures:
            print(f"FAILED {row.attack}: {failure}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--attacks", default=",".join(ATTACKS), help="comma-separated attack names")
    parser.add_argument("--list", action="store_true", help="list the attacks and exit")
    parser.add_argument("--json", type=Path, help="write the rows as JSON here")
    parser.add_argument("--logs", type=Path, help="keep the nodes' logs here (default: a temp dir)")
    args = parser.parse_args(argv)
    if args.list:
        for name, attack in ATTACKS.items():
            print(f"{name:20s} {attack.description}")
        return 0
    names = [n for n in args.attacks.split(",") if n]
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)  # the emulator's thread gets the GIL from an attack loop promptly
    unknown = [n for n in names if n not in ATTACKS]
    if unknown:
        parser.error(f"unknown attacks {unknown}; --list shows them")
    log_root = args.logs or Path(tempfile.mkdtemp(prefix="faults-"))
    rows = run_campaign(names, log_root, lambda row: print(f"{row.attack}: {row.outcome}", file=sys.stderr,
                                                            flush=True))
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps([dataclasses.asdict(r) for r in rows], indent=1))
    return 1 if any(r.failures for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
