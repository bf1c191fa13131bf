"""One closed-loop episode in simulated ticks: the executor's queue and the policy node's own
`InferenceScheduler`, as the ROS graph runs them.

Per tick k: a chunk whose inference finished arrives and is merged with d_real = k - source_step
(skipping the min(d_real, rows consumed since source_step) rows the arm executed meanwhile, the
executor's rule: none for the first chunk, which arrives while the arm holds);
the scheduler gets the executor status of tick k (on a simulated clock, k control periods) and
decides, with the node's parameters (trigger_remaining, the delay estimator), whether an inference
starts now, from which tick and with which leftover and assumed delay; then the executor pops one
action and the arm moves to it. Inference is instantaneous in wall time and takes the ticks its
latency profile gives that chunk in simulated time (the true latency; the scheduler only learns it
from d_real), so runs are deterministic and faster than real time.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from types import SimpleNamespace
from typing import TYPE_CHECKING

import numpy as np
from rtc_contract.modes import LEROBOT_MODE, GuidanceMode, MergeMode
from rtc_executor.core.action_queue import ActionQueue
from rtc_policy_node.core.delay import DelayEstimator
from rtc_policy_node.core.inference_scheduler import InferenceScheduler, SchedulerSettings
from rtc_policy_node.lerobot_policy import GuidanceSettings
from so100_driver.sim import Scene, at_target, joint_limits, segment_hits_obstacle, start_joint_positions, tool_tip

from rtc_sim_eval.latency_profiles import ChunkStart, LatencyProfile
from rtc_sim_eval.rollforward import rolled_forward_state
from rtc_sim_eval.sim_policy import SimPolicy
from rtc_sim_eval.twin_task import PickPlaceScene, TwinPickPlace

if TYPE_CHECKING:
    from so100_driver.twin.task import Outcome

CONTROL_RATE_HZ = 30.0


class EvalMode(str, Enum):
    """The loops rtc_sim_eval compares: ours under a merge and a guidance mode (EVAL_MODES), or
    LeRobot's own RTC pipeline (rtc_sim_eval.lerobot_pipeline)."""

    SYNC = "sync"  # stop, infer, run; the classic loop
    NAIVE = "naive"  # async, plain replace, no guidance
    OFF = "off"  # async, skip the d_real stale rows, no guidance
    IDENTITY = "identity"
    VJP = "vjp"
    PREFIX = "prefix"
    ROLLFORWARD = "rollforward"  # the default guidance; the policy sees the state at the chunk's first executed row
    LEROBOT = LEROBOT_MODE  # LeRobot 0.4.4's ActionQueue, LatencyTracker and RTCProcessor
    LEROBOT_MAIN = "lerobot_main"  # LeRobot main's rules (rtc_sim_eval.lerobot_main)


@dataclass(frozen=True)
class ModeSpec:
    """How a mode merges chunks and guides sampling; `waits` holds the arm while inference runs."""

    merge: MergeMode
    guidance: GuidanceMode
    waits: bool = False
    rolls_forward: bool = False  # the policy sees the state at the chunk's first executed row (rollforward.py)


EVAL_MODES: dict[EvalMode, ModeSpec] = {
    EvalMode.SYNC: ModeSpec(MergeMode.REPLACE, GuidanceMode.OFF, waits=True),
    EvalMode.NAIVE: ModeSpec(MergeMode.REPLACE, GuidanceMode.OFF),
    EvalMode.OFF: ModeSpec(MergeMode.RTC, GuidanceMode.OFF),
    EvalMode.IDENTITY: ModeSpec(MergeMode.RTC, GuidanceMode.IDENTITY),
    EvalMode.VJP: ModeSpec(MergeMode.RTC, GuidanceMode.VJP),
    EvalMode.PREFIX: ModeSpec(MergeMode.RTC, GuidanceMode.PREFIX),
    EvalMode.ROLLFORWARD: ModeSpec(MergeMode.RTC, GuidanceSettings.mode, rolls_forward=True),  # the default guidance, VLASH's state
}


OBSERVATION = "simulated camera and joint states"


@dataclass(frozen=True)
class LoopSettings:
    """The policy node's parameters, under their names, with its defaults."""

    max_ticks: int = 240
    scheduler: SchedulerSettings = SchedulerSettings()  # trigger_remaining, the delay estimator, ...
    guidance_settings: GuidanceSettings = GuidanceSettings()  # execution_horizon, weight, schedule, ...; its mode
    #                                                           is each run's (`guidance`)
    world: str = "kinematic"  # what moves the arm: kinematic (it is where commanded) or mujoco (the twin)

    def guidance(self, mode: GuidanceMode | str) -> GuidanceSettings:
        return replace(self.guidance_settings, mode=GuidanceMode(mode))


@dataclass(frozen=True)
class MergedChunk:
    chunk_id: int
    source_step: int
    arrival_step: int
    actions: np.ndarray  # (H, 6) radians, row 0 meant for tick source_step
    model_output: np.ndarray  # (H, 6) the policy's own output space, where leftovers are taken


@dataclass(frozen=True)
class ChunkDelay:
    """One chunk's delays in ticks: what the policy side assumed, what it really was."""

    assumed: int  # the delay guidance was given (the scheduler's estimate)
    true: int  # from the latency profile: d_real when the chunk is merged
    follows_leftover: bool  # guided toward an earlier chunk's leftover: the delay was a promise


@dataclass
class EpisodeRecord:
    scene: Scene | PickPlaceScene
    mode: str
    latency: str  # the latency profile's spec
    positions: list[np.ndarray]  # row 0: start; row k + 1: where the arm got at tick k (kinematic: the command)
    delays: list[ChunkDelay] = field(default_factory=list)  # per chunk started, in order
    chunk_ids: list[int] = field(default_factory=list)  # per tick; -1 while holding
    merged: list[MergedChunk] = field(default_factory=list)
    underruns: int = 0  # ticks with nothing queued after the first action (the arm held)
    rejected: int = 0  # chunks that arrived with nothing left for the future (true delay >= length)
    commands: list[np.ndarray] = field(default_factory=list)  # per tick: what the arm was commanded
    success: bool = False
    collided: bool = False
    ticks_to_target: int | None = None
    outcome: Outcome | None = None  # the twin's task outcome (drops, contact force); None in the reaching task
    estimator: DelayEstimator | None = None  # the scheduler's delay estimate at the end (to carry over)


def chunk_noise(seed: int, episode: int, chunk_index: int, shape: tuple[int, int]) -> np.ndarray:
    """The same noise for the same (seed, episode, chunk index) in every mode: paired comparisons."""
    return np.random.default_rng([seed, episode, chunk_index]).standard_normal(shape).astype(np.float32)


def _status(queue: ActionQueue, last_d_real: int) -> SimpleNamespace:
    """The ExecutorStatus fields the scheduler reads (core.inference_scheduler.ExecutorReport), as
    the executor reports them."""
    view, counters = queue.leftover(), queue.counters()
    return SimpleNamespace(step=view.step, control_rate_hz=CONTROL_RATE_HZ, active_chunk_id=view.chunk_id or 0,
                           index_in_chunk=view.index, remaining=view.remaining, merged_count=counters.merged,
                           rejected_count=sum(counters.rejected.values()), last_d_real=last_d_real,
                           on_hold=queue.on_hold, epoch=0)


class KinematicArm:
    """The kinematic world: the arm is where it was commanded, one tick later."""

    def step(self, command: np.ndarray, dt: float) -> np.ndarray:
        return command


def make_arm(world: str, start: np.ndarray, calibration, seed: int):
    """The arm of one episode in `world`: kinematic, or the MuJoCo twin's arm alone (servos, mass,
    gravity; no table or objects: this task's obstacle and target are geometric) stepped in simulated time."""
    if world == "kinematic":
        return KinematicArm()
    from so100_driver.twin.arm import ServoArm

    return ServoArm(calibration, start, seed=seed, with_task=False)


def start_episode(scene: Scene | PickPlaceScene, world: str, calibration, seed: int):
    """(arm, where it is at the start, what the camera shows: the scene, or the live twin task)."""
    if isinstance(scene, PickPlaceScene):
        task = TwinPickPlace(scene, calibration)
        return task, task.step(task.arm.measured(), 0.0), task
    q = start_joint_positions(scene)
    arm = make_arm(world, q, calibration, seed)
    return arm, arm.step(q, 0.0), scene


def held(record: EpisodeRecord) -> np.ndarray:
    """What the arm holds with nothing to execute: its last command (the executor's hold), else the start."""
    return record.commands[-1] if record.commands else record.positions[0]


def move_arm(record: EpisodeRecord, command: np.ndarray, chunk_id: int, limits: np.ndarray, tick: int,
             arm=None) -> np.ndarray:
    """The arm is commanded `command` (clipped to the joint limits) at `tick` and moves for one tick:
    where it got is recorded, with a collision or reaching the target marked (either ends the
    episode). Returns the new joint positions (the measured ones in the twin)."""
    q = record.positions[-1]
    command = np.clip(command, limits[:, 0], limits[:, 1])
    reached = (arm or KinematicArm()).step(command, 1.0 / CONTROL_RATE_HZ)
    record.commands.append(command)
    record.positions.append(reached)
    record.chunk_ids.append(chunk_id)
    if isinstance(record.scene, PickPlaceScene):
        record.outcome = arm.outcome
        if arm.success:
            record.success, record.ticks_to_target = True, tick + 1
    elif segment_hits_obstacle(tool_tip(q), tool_tip(reached), record.scene):
        record.collided = True
    elif at_target(tool_tip(reached), record.scene):
        record.success, record.ticks_to_target = True, tick + 1
    return reached


def run_episode(
    policy: SimPolicy,
    scene: Scene | PickPlaceScene,
    mode: EvalMode | str,
    latency: LatencyProfile,
    settings: LoopSettings,
    seed: int,
    episode: int,
    estimator: DelayEstimator | None = None,
) -> EpisodeRecord:
    """One episode; `latency` gives each chunk's true delay in ticks (the scheduler estimates it);
    `estimator`: the scheduler's delay estimate carried over from earlier episodes (updated in place)."""
    mode = EvalMode(mode)
    spec = EVAL_MODES[mode]
    guidance = settings.guidance(spec.guidance)
    limits = joint_limits(policy.units.calibration)
    period = 1.0 / CONTROL_RATE_HZ
    arm, q, view = start_episode(scene, settings.world, policy.units.calibration, seed)
    record = EpisodeRecord(scene, mode.value, latency.spec, [q])
    queue = ActionQueue(policy.action_dim, spec.merge)
    scheduler = InferenceScheduler(settings.scheduler, inputs=[OBSERVATION])
    scheduler.estimator = estimator
    pending: MergedChunk | None = None
    last_d_real = -1

    for tick in range(settings.max_ticks):
        # The executor's timeline: one period per tick it ran (sync holds the queue while inferring).
        for _ in range(2):  # a chunk due now arrives before a start, and a zero-delay one right after it
            if pending is not None and pending.arrival_step <= tick:
                result = queue.merge(pending.chunk_id, pending.actions, pending.source_step)
                if result.accepted:  # else stale (d_real >= length): counted, the scheduler re-plans
                    record.merged.append(pending)
                    last_d_real = result.d_real
                pending = None
            now = queue.step * period
            scheduler.on_status(_status(queue, last_d_real), now)
            scheduler.on_input(OBSERVATION, now)
            plan = scheduler.decide(now) if pending is None else None
            if plan is not None:
                chunk_id = scheduler.next_chunk_id()
                noise = chunk_noise(seed, episode, chunk_id - 1, (policy.chunk_size, policy.action_dim))
                delay = latency.delay(ChunkStart(seed, episode, chunk_id - 1, tick, settings.max_ticks))
                state = rolled_forward_state(record.merged, plan) if spec.rolls_forward else None
                actions, sampled = policy.infer(guidance, q, view, noise, plan.leftover, plan.delay,
                                                plan.max_disagreement, state_positions=state)
                scheduler.on_published(plan, sampled.model_output, now, now + delay * period)
                pending = MergedChunk(chunk_id, plan.source_step, tick + delay, actions, sampled.model_output)
                followed = plan.leftover is not None and not sampled.unguided_instead
                record.delays.append(ChunkDelay(plan.delay, delay, followed))

        if spec.waits and pending is not None:
            command, chunk_id = held(record), -1
        else:
            popped = queue.pop()
            command = held(record) if popped.command is None else popped.command
            chunk_id = -1 if popped.chunk_id is None else popped.chunk_id
        q = move_arm(record, command, chunk_id, limits, tick, arm)
        if record.collided or record.success:
            break
    if isinstance(arm, TwinPickPlace):
        arm.close()
    counters = queue.counters()
    record.underruns, record.rejected = counters.underruns, sum(counters.rejected.values())
    record.estimator = scheduler.estimator
    return record


