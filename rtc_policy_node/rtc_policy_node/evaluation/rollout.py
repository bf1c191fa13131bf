"""One closed-loop episode in simulated ticks: the queue and delay contract of the real system.

Per tick k: a chunk whose inference finished arrives and is merged with d_real = k - source_step;
a new inference may start (observation and leftover taken now, source_step = k, arriving d ticks
later); then the executor pops one action and the arm moves to it. Inference is instantaneous in
wall time and takes exactly `delay` ticks in simulated time, so runs are deterministic and faster
than real time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from so100_driver.sim import Scene, at_target, joint_limits, segment_hits_obstacle, start_joint_positions, tool_tip

from rtc_policy_node.core import ActionQueue, MergeMode
from rtc_policy_node.evaluation.sim_policy import SimPolicy
from rtc_policy_node.lerobot_policy import GuidanceSettings

CONTROL_RATE_HZ = 30.0


@dataclass(frozen=True)
class ModeSpec:
    """How a mode merges chunks and guides sampling; `waits` holds the arm while inference runs."""

    merge: MergeMode
    guidance: str  # GuidanceSettings.mode
    waits: bool = False


EVAL_MODES: dict[str, ModeSpec] = {
    "sync": ModeSpec(MergeMode.REPLACE, "off", waits=True),  # stop, infer, run; the classic loop
    "naive": ModeSpec(MergeMode.REPLACE, "off"),  # async, plain replace, no guidance
    "off": ModeSpec(MergeMode.RTC, "off"),  # async, skip the d_real stale rows, no guidance
    "identity": ModeSpec(MergeMode.RTC, "identity"),
    "vjp": ModeSpec(MergeMode.RTC, "vjp"),
    "prefix": ModeSpec(MergeMode.RTC, "prefix"),
}


@dataclass(frozen=True)
class LoopSettings:
    max_ticks: int = 240
    inference_every: int = 10  # ticks between inference starts (async) or executed per chunk (sync)
    guidance_horizon: int = 25  # leftover rows guidance looks at (RTCConfig.execution_horizon)
    max_guidance_weight: float = 10.0
    schedule: str = "LINEAR"
    mode_candidates: int = GuidanceSettings.mode_candidates
    max_mode_disagreement: float = GuidanceSettings.max_mode_disagreement

    def guidance(self, mode: str) -> GuidanceSettings:
        return GuidanceSettings(mode, self.guidance_horizon, self.max_guidance_weight, self.schedule,
                                self.mode_candidates, self.max_mode_disagreement)


@dataclass(frozen=True)
class MergedChunk:
    chunk_id: int
    source_step: int
    arrival_step: int
    actions: np.ndarray  # (H, 6) radians, row 0 meant for tick source_step
    model_output: np.ndarray  # (H, 6) the policy's own output space, where leftovers are taken


@dataclass
class EpisodeRecord:
    scene: Scene
    mode: str
    delay: int
    positions: list[np.ndarray]  # row 0: start; row k + 1: the command executed at tick k
    chunk_ids: list[int] = field(default_factory=list)  # per tick; -1 while holding
    merged: list[MergedChunk] = field(default_factory=list)
    success: bool = False
    collided: bool = False
    ticks_to_target: int | None = None


def chunk_noise(seed: int, episode: int, chunk_index: int, shape: tuple[int, int]) -> np.ndarray:
    """The same noise for the same (seed, episode, chunk index) in every mode: paired comparisons."""
    return np.random.default_rng([seed, episode, chunk_index]).standard_normal(shape).astype(np.float32)


def run_episode(
    policy: SimPolicy,
    scene: Scene,
    mode: str,
    delay: int,
    settings: LoopSettings,
    seed: int,
    episode: int,
) -> EpisodeRecord:
    spec = EVAL_MODES[mode]
    if delay < 0:
        raise ValueError(f"delay must be >= 0 ticks, got {delay}")
    guidance = settings.guidance(spec.guidance)
    limits = joint_limits(policy.units.calibration)
    q = start_joint_positions(scene)
    record = EpisodeRecord(scene, mode, delay, [q])
    queue = ActionQueue(policy.action_dim, spec.merge)
    model_outputs: dict[int, np.ndarray] = {}
    pending: MergedChunk | None = None
    last_start: int | None = None
    popped_since_merge = 0
    next_id = 0

    for tick in range(settings.max_ticks):
        for _ in range(2):  # a chunk due now arrives before a start, and a zero-delay one right after it
            if pending is not None and pending.arrival_step <= tick:
                result = queue.merge(pending.chunk_id, pending.actions, pending.source_step, step_now=tick)
                if not result.accepted:
                    raise RuntimeError(f"{mode} d={delay}: chunk {pending.chunk_id} rejected ({result.reason})")
                record.merged.append(pending)
                pending, popped_since_merge = None, 0
            due = last_start is None or (
                popped_since_merge >= settings.inference_every if spec.waits else tick - last_start >= settings.inference_every
            )
            if pending is None and due:
                noise = chunk_noise(seed, episode, next_id, (policy.chunk_size, policy.action_dim))
                actions, sampled = policy.infer(guidance, q, scene, noise, _leftover(queue, model_outputs), delay)
                model_outputs = {next_id: sampled.model_output, **{k: v for k, v in model_outputs.items() if k >= next_id - 2}}
                pending = MergedChunk(next_id, tick, tick + delay, actions, sampled.model_output)
                last_start, next_id = tick, next_id + 1

        if spec.waits and pending is not None:
            command, chunk_id = q, -1
        else:
            popped = queue.pop()
            command = q if popped.command is None else popped.command
            chunk_id = -1 if popped.chunk_id is None else popped.chunk_id
            popped_since_merge += popped.action is not None
        command = np.clip(command, limits[:, 0], limits[:, 1])
        hit = segment_hits_obstacle(tool_tip(q), tool_tip(command), scene)
        q = command
        record.positions.append(q)
        record.chunk_ids.append(chunk_id)
        if hit:
            record.collided = True
            break
        if at_target(tool_tip(q), scene):
            record.success, record.ticks_to_target = True, tick + 1
            break
    return record


def _leftover(queue: ActionQueue, model_outputs: dict[int, np.ndarray]) -> np.ndarray | None:
    """What the executor will run next, in the policy's output space; None if nothing is queued."""
    view = queue.leftover()
    if view.chunk_id is None or view.remaining == 0:
        return None
    return model_outputs[view.chunk_id][view.index :]
