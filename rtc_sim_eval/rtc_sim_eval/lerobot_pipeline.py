"""LeRobot 0.4.4's own RTC pipeline on the simulated task, for a side-by-side comparison with ours.

Its ActionQueue, LatencyTracker and RTCProcessor are wired as LeRobot's real-robot example
(`examples/rtc/eval_with_real_robot.py`, tag v0.4.4) wires them, on simulated ticks instead of two
threads and a wall clock. The lines mirrored, by line number in that file:

- 234-236: `latency_tracker = LatencyTracker()`, `time_per_chunk = 1.0 / fps`;
- 256-262: infer when `action_queue.qsize() <= action_queue_size_to_get_new_actions` (RTC on);
- 324-326: otherwise poll again after `time.sleep(0.1)` (`POLL_INTERVAL_S`);
- 264-268: at the start of an inference `action_index_before_inference = get_action_index()`,
  `prev_actions = get_left_over()` and `inference_delay = ceil(latency_tracker.max() / time_per_chunk)`:
  the largest latency ever measured, the first (cold) one included;
- 299-310: `predict_action_chunk(obs, inference_delay=, prev_chunk_left_over=)`, guidance by the
  policy's RTCProcessor (472-476: `policy.config.rtc_config = cfg.rtc; policy.init_rtc_processor()`),
  the output before postprocessing kept as `original_actions` for later leftovers;
- 312-314: `new_delay = ceil(new_latency / time_per_chunk)`, `latency_tracker.add(new_latency)`;
- 321-323: `action_queue.merge(original_actions, postprocessed_actions, new_delay,
  action_index_before_inference)`: the queue becomes the chunk from row new_delay on;
- 356-371 (actor): one `action_queue.get()` per period; `None` sends nothing, so the arm holds;
- 498: `ActionQueue(cfg.rtc)`.

What the simulation fixes: a chunk whose true delay is L ticks (from the latency profile) started
before the pop of tick k and is merged before the pop of tick k + L, so L actions were consumed
meanwhile; its measured latency is taken as L - 1/2 periods (ready within the last period before
the merge), which LeRobot's ceil turns back into L. The actor runs exactly once per tick (the
example's `sleep(interval - dt - 1 ms)` runs it slightly fast on a real machine: not modelled). The
parameters the example takes from its config (threshold, execution horizon, guidance weight and
schedule, fps) are given the values our pipeline runs with, so the comparison is of the mechanisms.

`lerobot_main` runs the same loop with LeRobot main's rules instead (rtc_sim_eval.lerobot_main: the
merge skips only what was consumed, the leftover handed to guidance is held at its last action, the
first inference does not count toward the delay estimate, the queue is checked every tick). The
latency estimate (`tracker`) may be carried from episode to episode, as in a process that runs them all.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from rtc_contract.modes import GuidanceMode
from so100_driver.sim import Scene, joint_limits

from rtc_sim_eval.latency_profiles import ChunkStart, LatencyProfile
from rtc_sim_eval.lerobot_main import POLL_TICKS, MainActionQueue, MainLatency, guidance_prefix
from rtc_sim_eval.rollout import (CONTROL_RATE_HZ, ChunkDelay, EpisodeRecord, EvalMode, LoopSettings, MergedChunk,
                                  chunk_noise, held, move_arm, start_episode)
from rtc_sim_eval.sim_policy import SimPolicy
from rtc_sim_eval.twin_task import PickPlaceScene, TwinPickPlace

LEROBOT_MODES = (EvalMode.LEROBOT, EvalMode.LEROBOT_MAIN)
POLL_INTERVAL_S = 0.1  # the example's get_actions thread sleeps this long between queue checks


class LeRobot044Queue:
    """LeRobot 0.4.4's ActionQueue (RTC on) behind MainActionQueue's numpy interface."""

    def __init__(self, rtc_config) -> None:
        from lerobot.policies.rtc.action_queue import ActionQueue

        self.queue = ActionQueue(rtc_config)

    def get(self) -> np.ndarray | None:
        action = self.queue.get()
        return None if action is None else action.numpy().astype(np.float64)

    def qsize(self) -> int:
        return self.queue.qsize()

    def get_action_index(self) -> int:
        return self.queue.get_action_index()

    def get_left_over(self) -> np.ndarray | None:
        left = self.queue.get_left_over()
        return None if left is None else left.numpy()

    def merge(self, original: np.ndarray, processed: np.ndarray, real_delay: int, index_before: int) -> None:
        self.queue.merge(torch.from_numpy(original), torch.from_numpy(processed), real_delay, index_before)


class LeRobot044Latency:
    """LeRobot 0.4.4's LatencyTracker as the example reads it: ceil(max() / period), the cold start included."""

    def __init__(self) -> None:
        from lerobot.policies.rtc.latency_tracker import LatencyTracker

        self.tracker = LatencyTracker()

    def add(self, latency_s: float) -> None:
        self.tracker.add(latency_s)

    def delay_ticks(self, period_s: float) -> int:
        return math.ceil(self.tracker.max() / period_s)


def new_latency_estimate(variant: str) -> LeRobot044Latency | MainLatency:
    """A fresh delay estimate of `variant` (a process that starts)."""
    return MainLatency() if variant == EvalMode.LEROBOT_MAIN else LeRobot044Latency()


def run_lerobot_episode(
    policy: SimPolicy,
    scene: Scene | PickPlaceScene,
    latency: LatencyProfile,
    settings: LoopSettings,
    seed: int,
    episode: int,
    variant: EvalMode | str = EvalMode.LEROBOT,
    tracker: LeRobot044Latency | MainLatency | None = None,
) -> EpisodeRecord:
    """One episode through LeRobot's pipeline (`variant`: 0.4.4's or main's rules), on the same scene,
    noise and latencies as ours; `tracker` carries the delay estimate from earlier episodes."""
    variant = EvalMode(variant)
    guidance = settings.guidance(GuidanceMode.IDENTITY)  # enabled; LeRobot's RTCProcessor guides
    rtc_config = policy.policy(guidance).rtc_config  # enabled, with the run's horizon, weight, schedule
    main = variant is EvalMode.LEROBOT_MAIN
    queue = MainActionQueue() if main else LeRobot044Queue(rtc_config)
    tracker = tracker or new_latency_estimate(variant)
    time_per_chunk = 1.0 / CONTROL_RATE_HZ
    threshold = settings.scheduler.trigger_remaining
    poll_ticks = POLL_TICKS if main else max(1, math.ceil(POLL_INTERVAL_S * CONTROL_RATE_HZ - 1e-9))
    limits = joint_limits(policy.units.calibration)
    arm, q, view = start_episode(scene, settings.world, policy.units.calibration, seed)
    record = EpisodeRecord(scene, variant.value, latency.spec, [q])
    pending: tuple[MergedChunk, int, int] | None = None  # (chunk, true delay, action_index_before_inference)
    next_check, served_chunk, chunk_count, anything_served = 0, -1, 0, False

    for tick in range(settings.max_ticks):
        for _ in range(2):  # a chunk due now is merged before the next check, a zero-delay one right after it
            if pending is not None and pending[0].arrival_step <= tick:
                chunk, true_delay, index_before = pending
                new_latency = max(0.0, true_delay - 0.5) * time_per_chunk  # ready within the last period
                new_delay = math.ceil(new_latency / time_per_chunk)
                tracker.add(new_latency)
                queue.merge(chunk.model_output, chunk.actions, new_delay, index_before)
                record.merged.append(chunk)
                served_chunk, pending, next_check = chunk.chunk_id, None, tick  # the loop checks again at once
            if pending is None and tick >= next_check:
                if queue.qsize() > threshold:
                    next_check = tick + poll_ticks
                    continue
                index_before = queue.get_action_index()
                leftover = queue.get_left_over()
                if main:
                    leftover = guidance_prefix(leftover, rtc_config.execution_horizon)
                inference_delay = tracker.delay_ticks(time_per_chunk)
                noise = chunk_noise(seed, episode, chunk_count, (policy.chunk_size, policy.action_dim))
                delay = latency.delay(ChunkStart(seed, episode, chunk_count, tick, settings.max_ticks))
                actions, sampled = policy.infer(guidance, q, view, noise, leftover, inference_delay, lerobot_rtc=True)
                chunk_count += 1
                chunk = MergedChunk(chunk_count, tick, tick + delay, actions, sampled.model_output)
                pending = (chunk, delay, index_before)
                record.delays.append(ChunkDelay(inference_delay, delay, leftover is not None and len(leftover) > 0))

        action = queue.get()
        if action is None:
            command, chunk_id = held(record), -1
            record.underruns += anything_served
        else:
            command, chunk_id, anything_served = action, served_chunk, True
        q = move_arm(record, command, chunk_id, limits, tick, arm)
        if record.collided or record.success:
            break
    if isinstance(arm, TwinPickPlace):
        arm.close()
    return record
