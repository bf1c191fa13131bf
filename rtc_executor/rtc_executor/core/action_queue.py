"""The executor's action queue: one row per control tick, merged from chunks by tick arithmetic.

numpy only (the executor must not import torch). A chunk's row 0 is meant for tick
`source_step`; on arrival at tick `step_now` its real delay is d_real = step_now - source_step.

Modes:
- RTC: the queue becomes chunk[skip:] with skip = min(d_real, rows consumed since source_step):
  rows the arm executed while the chunk was inferred are skipped, and only those. In steady state
  every tick consumes a row, skip = d_real and the row popped at tick k is row k - source_step of
  its chunk (never an action from the past). Ticks that consumed nothing (before the first chunk,
  underrun, `hold`) move the arm nowhere, so their rows are not skipped: the first chunk after a
  start plays from row 0, whatever its inference took. A chunk with skip >= length has nothing
  left to play and is rejected as stale. This is LeRobot main's rule (PR 4454 clamps its skip to
  `min(real_delay, indexes_diff)`; LeRobot 0.4.4 and huggingface/lerobot@7427f318
  src/lerobot/policies/rtc/action_queue.py `_check_and_resolve_delays` skip `real_delay` whatever
  was consumed, which made SO-101 arms jump at a cold start, issue 4223). Rows consumed are counted
  for the last `CONSUMED_HISTORY_TICKS` ticks; an older source_step counts as fully consumed.
- APPEND: the chunk is queued after what remains (no skipping; the lag grows with latency).
- REPLACE: the queue becomes the whole chunk, row 0 first (naive switching, lags by d_real).

In every mode a chunk older than the last merged one (smaller source_step, or the same chunk
again), one from the future (source_step > step_now) or one with NaN/Inf is rejected, and the
reason is counted. `merge` can also be given a seam check (the command guard's): it sees the first
row the chunk would play and the queued row before it, and refuses the chunk with reason `step`.
On underrun `pop()` returns no action and the last action as the command to hold.

Stalls: the step counts wall ticks. `pop(missed=n)` first advances the step over n missed ticks and,
with `missed_rows="discard"` (default), drops the n rows they would have played, so the row popped
at tick k stays row k - source_step; with "keep" those rows are played late, one per tick (the queue
then lags the wall clock by n until the next rtc merge re-anchors it). After `stall_ticks` or more
missed ticks at once the queue is emptied (the executor holds) and chunks built before the stall
ended (source_step below the resume tick) are rejected as `pre_stall`: only a fresh chunk moves the
arm again. `hold()` stops consuming until `resume()`: each tick then holds the last action (counted
as held, not as an underrun, and consuming no row). `reset()` empties the queue and refuses chunks
built before it (`pre_reset`), as after a stall. Thread safety: one producer (merge) and one
consumer (pop, leftover) share one lock; a merge copies O(remaining + length) rows.
"""

from __future__ import annotations

import threading
from collections import Counter
from enum import Enum
from typing import NamedTuple
from collections.abc import Callable

import numpy as np
from rtc_runtime.profiling import profile_method

from rtc_contract.modes import MergeMode
from rtc_contract.rejections import RejectionCode


class MissedRows(str, Enum):
    """What happens to the rows of ticks the control loop missed."""

    DISCARD = "discard"  # dropped: the row popped at tick k stays row k - source_step
    KEEP = "keep"  # played late, one per tick


# Ticks whose consumed-row count is kept for the merge's skip (about 2 min at 30 Hz).
CONSUMED_HISTORY_TICKS = 4096

# seam_check(first_row, row_before or None for "the last command") -> detail when refused, else None
SeamCheck = Callable[[np.ndarray, "np.ndarray | None"], "str | None"]


class MergeResult(NamedTuple):
    accepted: bool
    d_real: int
    reason: RejectionCode | None = None
    detail: str = ""  # the seam check's words, for STEP
    skipped: int = 0  # rows of the chunk skipped (RTC: min(d_real, rows consumed since source_step))


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
    missed: int  # ticks advanced without a pop (the control loop missed them)
    dropped: int  # rows dropped for missed ticks, or emptied after a stall
    stalls: int  # stalls of stall_ticks or more: the queue was emptied
    held: int = 0  # ticks held by `hold()` (not underruns)
    resets: int = 0


class ActionQueue:
    """Queue of future actions for one executor. `start_step` is the tick of the first pop.

    `step_now` in `merge` defaults to the queue's own tick count (the tick of the next pop),
    which is race-free when merges come from another thread than pops; pass it only if the
    caller counts ticks itself and merges between pops.
    """

    def __init__(self, action_dim: int, mode: MergeMode | str = MergeMode.RTC, start_step: int = 0,
                 missed_rows: MissedRows | str = MissedRows.DISCARD, stall_ticks: int | None = None) -> None:
        if int(action_dim) != action_dim or action_dim < 1:
            raise ValueError(f"action_dim must be a positive integer, got {action_dim!r}")
        try:
            self.mode = MergeMode(mode)
        except ValueError:
            valid = ", ".join(m.value for m in MergeMode)
            raise ValueError(f"unknown merge mode {mode!r}; expected one of {valid}") from None
        try:
            self.missed_rows = MissedRows(missed_rows)
        except ValueError:
            valid = ", ".join(m.value for m in MissedRows)
            raise ValueError(f"unknown missed_rows {missed_rows!r}; expected one of {valid}") from None
        if stall_ticks is not None and stall_ticks < 1:
            raise ValueError(f"stall_ticks must be >= 1 or None, got {stall_ticks}")
        self.stall_ticks = stall_ticks
        self.action_dim = int(action_dim)
        self._lock = threading.Lock()
        self._actions = np.empty((0, self.action_dim))
        self._chunk_ids = np.empty(0, dtype=np.uint64)  # chunk ids are uint64 (ActionChunk.chunk_id)
        self._rows = np.empty(0, dtype=np.int64)
        self._head = 0
        self._step = int(start_step)
        self._last_action: np.ndarray | None = None
        self._last_merged: tuple[int, int] | None = None  # (source_step, chunk_id)
        self._merged = 0
        self._rejected: Counter[str] = Counter()
        self._underruns = 0
        self._pops = 0
        self._missed = 0
        self._dropped = 0
        self._stalls = 0
        # chunks with a source_step below this predate a stall or a reset, and are refused for that reason
        self._fresh_from: tuple[int, RejectionCode] | None = None
        self._consumed = 0  # rows played or dropped for missed ticks since start
        self._consumed_at = np.zeros(CONSUMED_HISTORY_TICKS, dtype=np.int64)  # _consumed when tick t began
        self._history_from = self._step  # the first tick _consumed_at knows
        self._on_hold = False
        self._held = 0
        self._resets = 0

    @profile_method(name="get_actions.action_queue_merge")
    def merge(self, chunk_id: int, actions: np.ndarray, source_step: int, step_now: int | None = None,
              seam_check: SeamCheck | None = None) -> MergeResult:
        """Merge a (length, action_dim) chunk whose row 0 is meant for tick `source_step`;
        `seam_check` may refuse it from the first row it would play (see the module docstring)."""
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
            skip = min(d_real, self._consumed_since(source_step, now)) if self.mode is MergeMode.RTC else 0
            reason = self._rejection(chunk_id, source_step, d_real, skip, len(chunk), finite)
            detail = ""
            if reason is None and seam_check is not None:
                queued = self.mode is MergeMode.APPEND and self._head < len(self._actions)
                detail = seam_check(chunk[skip], self._actions[-1] if queued else None) or ""
                reason = RejectionCode.STEP if detail else None
            if reason is not None:
                self._rejected[reason.value] += 1
                return MergeResult(False, d_real, reason, detail, max(skip, 0))
            actions_new = chunk[skip:]
            ids_new = np.full(len(actions_new), chunk_id, dtype=np.uint64)
            rows_new = np.arange(skip, len(chunk), dtype=np.int64)
            if self.mode is MergeMode.APPEND:
                head = self._head
                actions_new = np.concatenate([self._actions[head:], actions_new])
                ids_new = np.concatenate([self._chunk_ids[head:], ids_new])
                rows_new = np.concatenate([self._rows[head:], rows_new])
            self._actions, self._chunk_ids, self._rows, self._head = actions_new, ids_new, rows_new, 0
            self._last_merged = (source_step, chunk_id)
            self._merged += 1
            return MergeResult(True, d_real, skipped=skip)

    def _consumed_since(self, source_step: int, now: int) -> int:
        """Rows consumed in ticks [source_step, now): d_real when source_step is out of the history
        (or in the future, which is rejected anyway)."""
        if not self._history_from <= source_step <= now or now - source_step >= CONSUMED_HISTORY_TICKS:
            return now - source_step
        if now == self._step:
            return self._consumed - int(self._consumed_at[source_step % CONSUMED_HISTORY_TICKS])
        return now - source_step  # a caller-counted step_now: the queue cannot know what it consumed

    def _rejection(
        self, chunk_id: int, source_step: int, d_real: int, skip: int, length: int, finite: bool
    ) -> RejectionCode | None:
        if not finite:
            return RejectionCode.NON_FINITE
        if d_real < 0:
            return RejectionCode.FUTURE
        if self._fresh_from is not None and source_step < self._fresh_from[0]:
            return self._fresh_from[1]
        if self._last_merged is not None:
            last_source, last_id = self._last_merged
            if source_step < last_source or chunk_id == last_id:
                return RejectionCode.OUT_OF_ORDER
        if self.mode is MergeMode.RTC and skip >= length:
            return RejectionCode.STALE
        return None

    def pop(self, missed: int = 0) -> PopResult:
        """Serve one tick, after `missed` ticks the control loop skipped: the next action, or on
        underrun None and the last action to hold."""
        with self._lock:
            if missed:
                self._skip(int(missed))
            step = self._step
            self._pops += 1
            head = self._head
            if head < len(self._actions) and not self._on_hold:
                self._head = head + 1
                self._consumed += 1
                self._advance(1)
                action = self._actions[head].copy()
                self._last_action = action
                return PopResult(action, action.copy(), step, int(self._chunk_ids[head]), int(self._rows[head]))
            self._advance(1)
            held = None
            if self._on_hold:
                self._held += 1
            if self._last_action is not None:
                self._underruns += not self._on_hold
                held = self._last_action.copy()
            return PopResult(None, held, step, None, None)

    def _advance(self, ticks: int, dropped: int = 0) -> None:
        """Move the step on by `ticks`, the first `dropped` of them each consuming a row, and record
        the consumed count at the start of every tick passed."""
        first = self._step + 1
        self._step += ticks
        known = max(first, self._step - CONSUMED_HISTORY_TICKS + 1)
        counts = self._consumed - dropped + np.minimum(np.arange(known - first + 1, self._step - first + 2), dropped)
        self._consumed_at[np.arange(known, self._step + 1) % CONSUMED_HISTORY_TICKS] = counts

    def _skip(self, missed: int) -> None:
        self._missed += missed
        queued = 0 if self._on_hold else len(self._actions) - self._head
        if self.stall_ticks is not None and missed >= self.stall_ticks:
            self._stalls += 1
            self._head += queued
            self._dropped += queued
            self._advance(missed)
            self._fresh_from = (self._step, RejectionCode.PRE_STALL)
            return
        drop = min(missed, queued) if self.missed_rows is MissedRows.DISCARD else 0
        self._head += drop
        self._dropped += drop
        self._consumed += drop
        self._advance(missed, drop)

    def hold(self) -> None:
        """Stop consuming: every tick holds the last action until `resume()` (the queue is kept)."""
        with self._lock:
            self._on_hold = True

    def resume(self) -> None:
        """Consume again from the row the hold stopped at."""
        with self._lock:
            self._on_hold = False

    @property
    def on_hold(self) -> bool:
        with self._lock:
            return self._on_hold

    def reset(self) -> None:
        """Empty the queue (the arm holds the last action) and refuse every chunk built before now:
        those from the status this tick published too, so only a chunk planned after the reset merges."""
        with self._lock:
            self._dropped += len(self._actions) - self._head
            self._head = len(self._actions)
            self._fresh_from = (self._step + 1, RejectionCode.PRE_RESET)
            self._resets += 1

    def leftover(self) -> Leftover:
        """Atomic view of what the next pop serves (for ExecutorStatus and the policy's leftover)."""
        with self._lock:
            head, size = self._head, len(self._actions)
            if head < size:
                return Leftover(self._step, int(self._chunk_ids[head]), int(self._rows[head]), size - head)
            return Leftover(self._step, None, 0, 0)

    def upcoming(self, count: int) -> np.ndarray:
        """Copies of the next `count` queued rows (fewer when fewer are queued): what interpolated
        control moves toward between pops."""
        with self._lock:
            return self._actions[self._head:self._head + count].copy()

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
            return QueueCounters(self._merged, dict(self._rejected), self._underruns, self._pops,
                                 self._missed, self._dropped, self._stalls, self._held, self._resets)
