"""LeRobot main's RTC merge and latency rules, as plain functions and a queue (no I/O, no threads).

LeRobot has moved since the 0.4.4 pipeline `rtc_sim_eval.lerobot_pipeline` runs with its own classes:
after user reports of violent jumps on SO-101 arms (huggingface/lerobot issue 4223) the fix of
PR 4454 changes three rules. Read from the fix's commit 6d0e72c5c7944b6bc64427ba51d7e112da68ec1a
("fix(rtc): chunk-splice jump and mean-action seam", branch fix/rtc-chunking-seams); the snapshot of
main read beside it (7427f31801f944f5ec9ce53cda02862ce7d1638b, 2026-08-23) has the same files without
these three changes:

- `src/lerobot/policies/rtc/action_queue.py`, `ActionQueue._check_and_resolve_delays`: when the
  rows consumed during the inference (`last_index - action_index_before_inference`) differ from
  `real_delay`, the merge skips `min(real_delay, consumed)` rows of the new chunk, not `real_delay`
  ("never discard more than was actually consumed"); `_replace_actions_queue` clamps that to the
  chunk's length and the queue becomes the rest of the chunk (`merge_skip`, `MainActionQueue`);
- `src/lerobot/rollout/inference/rtc.py`, `_normalize_prev_actions_length`: the leftover handed to
  guidance is cut or padded to `execution_horizon` rows, padded by holding its last action instead
  of zeros (zeros decode to the dataset mean inside the guided region) (`guidance_prefix`);
- same file, `_rtc_loop`: the first inference (`latency_warmup_required = max(1, compile warm-ups)`)
  resets the `LatencyTracker` instead of adding to it, so a cold start does not set the delay
  estimate; the estimate is `ceil(LatencyTracker.max() / time_per_step)`, the largest latency since
  then (`max()` is not bounded by the tracker's window), 0 before any (`MainLatency`).

Unchanged from 0.4.4 and kept as the pipeline runs it: `new_delay = ceil(latency / time_per_step)`
passed as `real_delay`, the refill when `qsize() <= threshold`, `get_left_over()` (the policy's own
output from the consumption index on), guidance by LeRobot's `RTCProcessor`. Main's loop polls the
queue every `_RTC_IDLE_SLEEP_S` = 10 ms, faster than the control period (`POLL_TICKS`).
One deviation: main raises on an empty leftover ("Cannot pad an empty prefix", then retries the
inference after 0.5 s); here an empty leftover is no leftover (an unguided chunk), which only makes
main's pipeline look better after an underrun.
"""

from __future__ import annotations

import math

import numpy as np

LEROBOT_MAIN_MODE = "lerobot_main"
POLL_TICKS = 1  # main's inference loop sleeps 10 ms between queue checks: every control tick at 30 Hz
LATENCY_WARMUP_INFERENCES = 1  # main: max(1, compile warm-ups); no torch.compile here


def merge_skip(real_delay: int, consumed: int, length: int) -> int:
    """Rows of a new chunk of `length` rows that main's merge skips: min(real_delay, consumed),
    within [0, length]."""
    return max(0, min(int(real_delay), int(consumed), int(length)))


def guidance_prefix(leftover: np.ndarray | None, execution_horizon: int) -> np.ndarray | None:
    """The leftover as main hands it to guidance: its first `execution_horizon` rows, or all of it
    followed by its last row repeated up to `execution_horizon` rows. None when nothing is left."""
    if leftover is None or len(leftover) == 0:
        return None
    leftover = np.asarray(leftover)
    if len(leftover) >= execution_horizon:
        return leftover[:execution_horizon].copy()
    hold = np.repeat(leftover[-1:], execution_horizon - len(leftover), axis=0)
    return np.concatenate([leftover, hold])


class MainLatency:
    """Main's delay estimate: the largest latency measured after the first LATENCY_WARMUP_INFERENCES
    inferences of the process, in whole control periods (ceil), 0 before any."""

    def __init__(self, warmup: int = LATENCY_WARMUP_INFERENCES) -> None:
        self.warmup = warmup
        self.inferences = 0
        self.max_latency_s = 0.0

    def add(self, latency_s: float) -> None:
        """One inference's measured latency (s); the warm-up ones reset the estimate instead."""
        self.inferences += 1
        if self.inferences <= self.warmup:
            self.max_latency_s = 0.0
        elif latency_s >= 0:  # LatencyTracker.add ignores negative samples
            self.max_latency_s = max(self.max_latency_s, float(latency_s))

    def delay_ticks(self, period_s: float) -> int:
        return math.ceil(self.max_latency_s / period_s) if self.max_latency_s else 0


class MainActionQueue:
    """Main's ActionQueue with RTC on, in numpy: `merge` replaces the queue by the new chunk from
    row `merge_skip(real_delay, consumed)` on; `get` pops one processed action (None when empty)."""

    def __init__(self) -> None:
        self.original: np.ndarray | None = None  # the policy's output: what leftovers are taken from
        self.processed: np.ndarray | None = None  # what the robot executes
        self.last_index = 0

    def get(self) -> np.ndarray | None:
        if self.processed is None or self.last_index >= len(self.processed):
            return None
        self.last_index += 1
        return self.processed[self.last_index - 1].copy()

    def qsize(self) -> int:
        return 0 if self.processed is None else len(self.processed) - self.last_index

    def get_action_index(self) -> int:
        return self.last_index

    def get_left_over(self) -> np.ndarray | None:
        return None if self.original is None else self.original[self.last_index:].copy()

    def merge(self, original: np.ndarray, processed: np.ndarray, real_delay: int, index_before: int) -> int:
        """Install a chunk; returns the rows skipped."""
        consumed = max(0, self.last_index - index_before)
        skip = merge_skip(real_delay, consumed, min(len(original), len(processed)))
        self.original, self.processed = np.array(original[skip:]), np.array(processed[skip:])
        self.last_index = 0
        return skip
