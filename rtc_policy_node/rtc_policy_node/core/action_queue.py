"""The executor's action queue: one row per control tick, merged from chunks by tick arithmetic.

numpy only (the executor must not import torch). A chunk's row 0 is meant for tick
`source_step`; on arrival at tick `step_now` its real delay is d_real = step_now - source_step.

Modes:
- RTC: the queue becomes chunk[d_real:]: rows whose tick has passed are skipped, so the row
  popped at tick k is always row k - source_step of its chunk (never an action from the past).
  A chunk with d_real >= length has nothing left for the future and is rejected as stale.
- APPEND: the chunk is queued after what remains (no skipping; the lag grows with latency).
- REPLACE: the queue becomes the whole chunk, row 0 first (naive switching, lags by d_real).

In every mode a chunk older than the last merged one (smaller source_step, or the same chunk
again), one from the future (source_step > step_now) or one with NaN/Inf is rejected, and the
reason is counted. On underrun `pop()` returns no action and the last action as the command to
hold. Thread safety: one producer (merge) and one consumer (pop, leftover) share one lock; a
merge copies O(remaining + length) rows.
"""

from __future__ import annotations

import threading
from collections import Counter
from enum import Enum
from typing import NamedTuple

import numpy as np
from rtc_runtime.profiling import profile_method

from rtc_policy_node.core.modes import MergeMode


class RejectReason(str, Enum):
    STALE = "stale"  # RTC: d_real >= length, every row's tick has passed
    FUTURE = "future"  # source_step > step_now: not a step of this queue's timeline yet
    OUT_OF_ORDER = "out_of_order"  # older than, or the same as, the chunk merged last
    NON_FINITE = "non_finite"  # NaN or Inf in the actions


class MergeResult(NamedTuple):
    accepted: bool
    d_real: int
    reason: RejectReason | None = None


class PopResult(NamedTuple):
    action: np.ndarray | None  # None on underrun
    command: np.ndarray | None  # the action, or on underrun the last one (hold); None before any
    step: int  # the tick this pop served
    chunk_id: int | None
    index: int | None  # row of chunk_id


class Leftover(NamedTuple):
    """What the next pop serves: the policy node slices chunk `chunk_id` from `index` on."""

    step: int  # tick of the next pop: use it as the next chunk's source_step
    chunk_id: int | None  # None when the queue is empty
    index: int  # row of chunk_id that the next pop returns (0 when empty)
    remaining: int  # rows queued (in APPEND mode they may span several chunks)


class QueueCounters(NamedTuple):
    merged: int
    rejected: dict[str, int]
    underruns: int  # pops with nothing queued after the first action was served
    pops: int


class ActionQueue:
    """Queue of future actions for one executor. `start_step` is the tick of the first pop.

    `step_now` in `merge` defaults to the queue's own tick count (the tick of the next pop),
    which is race-free when merges come from another thread than pops; pass it only if the
    caller counts ticks itself and merges between pops.
    """

    def __init__(self, action_dim: int, mode: MergeMode | str = MergeMode.RTC, start_step: int = 0) -> None:
        if int(action_dim) != action_dim or action_dim < 1:
            raise ValueError(f"action_dim must be a positive integer, got {action_dim!r}")
        try:
            self.mode = MergeMode(mode)
        except ValueError:
            valid = ", ".join(m.value for m in MergeMode)
            raise ValueError(f"unknown merge mode {mode!r}; expected one of {valid}") from None
        self.action_dim = int(action_dim)
        self._lock = threading.Lock()
        self._actions = np.empty((0, self.action_dim))
        self._chunk_ids = np.empty(0, dtype=np.int64)
        self._rows = np.empty(0, dtype=np.int64)
        self._head = 0
        self._step = int(start_step)
        self._last_action: np.ndarray | None = None
        self._last_merged: tuple[int, int] | None = None  # (source_step, chunk_id)
        self._merged = 0
        self._rejected: Counter[str] = Counter()
        self._underruns = 0
        self._pops = 0

    @profile_method(name="get_actions.action_queue_merge")
    def merge(self, chunk_id: int, actions: np.ndarray, source_step: int, step_now: int | None = None) -> MergeResult:
        """Merge a (length, action_dim) chunk whose row 0 is meant for tick `source_step`."""
        chunk = np.array(actions, dtype=np.float64)
        if chunk.ndim != 2 or chunk.shape[0] == 0 or chunk.shape[1] != self.action_dim:
            raise ValueError(
                f"chunk {chunk_id}: actions must be (length >= 1, {self.action_dim}), got shape {chunk.shape}"
            )
        finite = bool(np.isfinite(chunk).all())
        chunk_id, source_step = int(chunk_id), int(source_step)
        with self._lock:
            now = self._step if step_now is None else int(step_now)
            d_real = now - source_step
            reason = self._rejection(chunk_id, source_step, d_real, len(chunk), finite)
            if reason is not None:
                self._rejected[reason.value] += 1
                return MergeResult(False, d_real, reason)
            skip = d_real if self.mode is MergeMode.RTC else 0
            actions_new = chunk[skip:]
            ids_new = np.full(len(actions_new), chunk_id, dtype=np.int64)
            rows_new = np.arange(skip, len(chunk), dtype=np.int64)
            if self.mode is MergeMode.APPEND:
                head = self._head
                actions_new = np.concatenate([self._actions[head:], actions_new])
                ids_new = np.concatenate([self._chunk_ids[head:], ids_new])
                rows_new = np.concatenate([self._rows[head:], rows_new])
            self._actions, self._chunk_ids, self._rows, self._head = actions_new, ids_new, rows_new, 0
            self._last_merged = (source_step, chunk_id)
            self._merged += 1
            return MergeResult(True, d_real)

    def _rejection(
        self, chunk_id: int, source_step: int, d_real: int, length: int, finite: bool
    ) -> RejectReason | None:
        if not finite:
            return RejectReason.NON_FINITE
        if d_real < 0:
            return RejectReason.FUTURE
        if self._last_merged is not None:
            last_source, last_id = self._last_merged
            if source_step < last_source or chunk_id == last_id:
                return RejectReason.OUT_OF_ORDER
        if self.mode is MergeMode.RTC and d_real >= length:
            return RejectReason.STALE
        return None

    def pop(self) -> PopResult:
        """Serve one tick: the next action, or on underrun None and the last action to hold."""
        with self._lock:
            step = self._step
            self._step += 1
            self._pops += 1
            head = self._head
            if head < len(self._actions):
                self._head = head + 1
                action = self._actions[head].copy()
                self._last_action = action
                return PopResult(action, action.copy(), step, int(self._chunk_ids[head]), int(self._rows[head]))
            held = None
            if self._last_action is not None:
                self._underruns += 1
                held = self._last_action.copy()
            return PopResult(None, held, step, None, None)

    def leftover(self) -> Leftover:
        """Atomic view of what the next pop serves (for ExecutorStatus and the policy's leftover)."""
        with self._lock:
            head, size = self._head, len(self._actions)
            if head < size:
                return Leftover(self._step, int(self._chunk_ids[head]), int(self._rows[head]), size - head)
            return Leftover(self._step, None, 0, 0)

    @property
    def step(self) -> int:
        """Tick of the next pop."""
        with self._lock:
            return self._step

    @property
    def last_action(self) -> np.ndarray | None:
        with self._lock:
            return None if self._last_action is None else self._last_action.copy()

    def counters(self) -> QueueCounters:
        with self._lock:
            return QueueCounters(self._merged, dict(self._rejected), self._underruns, self._pops)
