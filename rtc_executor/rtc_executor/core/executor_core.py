"""Everything the executor decides, without ROS: which chunk merges, and what each tick commands.

A chunk goes through, in order: admission (its signature when keys are trusted, length, ids per
source, one source followed, one merge per tick: `chunk_admission`), the content contract
(`chunk_contract`), the command guard's chunk check (rows beyond the limits or steps beyond max_step
by more than the tolerance: `limits`, `step`), then the action queue's merge with the guard's seam
check (`step`) and its timing rules (`future`, `stale`, `out_of_order`, `pre_stall`). The first
refusal names the reason; a refused chunk moves nothing. Each policy tick pops one row (after the
ticks the loop missed) and the guard turns it, or on underrun the last command, into the command:
whatever the source of a row, the command is inside the guard's envelope. With interpolation N
(`core.interpolation`) the executor ticks N times per policy tick: the first sub-tick pops the row
and starts a segment toward the next queued one, and every sub-tick commands the segment's point,
through the guard (whose bounds are then per sub-tick). Queue steps, d_real and merges stay in
policy ticks. With `speed_scale` s < 1 the rows are played over a stretched time base: a row lasts
interpolation / s sub-ticks (a rational number: the sub-tick of each pop and the fraction of the row
each sub-tick commands are exact integer arithmetic), rows are always interpolated, and a "policy
tick" (the queue's step, d_real, the rows consumed) is one row's stretched period. Runtime control:
`hold` stops consuming rows (the arm holds, the queue is kept), `resume` goes on from the row it
stopped at, `reset` empties the queue, refuses every chunk built before it (`pre_reset`) and bumps
the `epoch` the status carries, so that the policy side can drop an inference still in flight.
Measured positions (the followed driver's) go to the tracking monitor (`core.tracking_monitor`): a
sustained tracking error holds the arm like `hold`, and no `resume` ends that hold (a restart does).
The node wires this to topics, services and threads and reports its counters.
"""
from __future__ import annotations

import threading
from collections import Counter
from fractions import Fraction
from typing import NamedTuple, Protocol
from collections.abc import Sequence

import numpy as np

from rtc_executor.core.chunk_contract import NOT_READY, ChunkRejected, chunk_actions
from rtc_executor.core.action_queue import ActionQueue, MergeResult, PopResult, RejectReason
from rtc_executor.core.chunk_admission import ChunkAdmission
from rtc_executor.core.command_guard import CommandGuard
from rtc_executor.core.interpolation import Interpolator
from rtc_executor.core.tracking_monitor import TrackingFault, TrackingMonitor


class Chunk(Protocol):
    """The ActionChunk fields the executor reads (any object with these names)."""

    chunk_id: int
    source: str
    source_step: int
    joint_names: Sequence[str]
    length: int
    action_dim: int
    actions: Sequence[float]


class Decision(NamedTuple):
    merged: bool
    code: str  # "" when merged, else the reason code (counted per code)
    reason: str  # "" when merged, else code and detail for the log
    d_real: int | None  # when the queue judged the timing
    skipped: int = 0  # rows of the chunk skipped at the merge (min(d_real, rows consumed since source_step))


class Tick(NamedTuple):
    command: np.ndarray | None  # None until a measured position is known
    served: PopResult  # the pop of this policy tick (the latest one on a sub-tick without a pop)
    clamped_by: tuple[str, ...]  # guard bounds that moved this tick's command
    seam: bool  # this tick served the first row of a chunk
    popped: bool = True  # this tick started a policy tick (always, without interpolation)


def check_speed_scale(value: float) -> Fraction:
    """speed_scale as an exact fraction (denominator at most 1000); a ValueError unless in (0, 1]."""
    if isinstance(value, bool) or not 0.001 <= float(value) <= 1.0:
        raise ValueError(f"speed_scale must be in [0.001, 1] (1: the chunk's own speed), got {value!r}")
    return Fraction(float(value)).limit_denominator(1000)


def _queue_detail(result: MergeResult, chunk: Chunk) -> str:
    reason = result.reason
    if reason is RejectReason.STEP:
        return result.detail
    return {
        RejectReason.STALE: f"d_real {result.d_real} >= length {chunk.length}",
        RejectReason.FUTURE: f"source_step {chunk.source_step} is {-result.d_real} ticks in the future",
        RejectReason.OUT_OF_ORDER: f"chunk {chunk.chunk_id} (source_step {chunk.source_step}) is not "
                                   "newer than the last merged one",
        RejectReason.NON_FINITE: "non-finite actions",
        RejectReason.PRE_STALL: f"source_step {chunk.source_step} is from before the stall the executor "
                                "held for; waiting for a fresh chunk",
        RejectReason.PRE_RESET: f"source_step {chunk.source_step} is from before the executor's reset; "
                                "waiting for a chunk planned after it",
    }[reason]


class ExecutorCore:
    """Thread-safe like its parts: `receive` runs on the ROS thread, `tick` on the control thread."""

    def __init__(self, joints: Sequence[str], queue: ActionQueue, guard: CommandGuard,
                 admission: ChunkAdmission, interpolator: Interpolator | None = None,
                 speed_scale: float = 1.0, tracking: TrackingMonitor | None = None) -> None:
        self.joints = tuple(joints)
        self.queue = queue
        self.guard = guard
        self.admission = admission
        self.interpolator = interpolator or Interpolator(1)
        # rows per sub-tick = speed_scale / interpolation, as an exact fraction
        self._rows_per_sub_tick = check_speed_scale(speed_scale) / self.interpolator.factor
        self._sub_ticks = -1  # sub-ticks since start, missed ones included (the last one run)
        self._served: PopResult | None = None  # the last pop
        self._lock = threading.Lock()
        self._refused: Counter[str] = Counter()  # by admission, contract and guard (the queue counts its own)
        self._last_served_chunk: int | None = None
        self.seam_clamps = 0  # seams whose first row the guard clamped
        self.epoch = 0  # resets since start (ExecutorStatus.epoch)
        self.tracking = tracking or TrackingMonitor(self.joints, [float("inf")], 0.0)  # default: off

    def start_from(self, position: np.ndarray) -> np.ndarray:
        """The measured position to hold until the first chunk (moved inside the limits)."""
        return self.guard.reset(position)

    @property
    def ready(self) -> bool:
        return self.guard.ready

    def receive(self, chunk: Chunk, now_s: float) -> Decision:
        """Judge and merge one chunk (`now_s`: monotonic seconds, for the source timeout)."""
        source = str(getattr(chunk, "source", ""))
        refusal = self.admission.admit(source, chunk.chunk_id, chunk.length, now_s, signed=chunk)
        if refusal is not None:
            return self._refuse(refusal.code, refusal.reason, counted_by_admission=True)
        try:
            if not self.guard.ready:
                raise ChunkRejected(NOT_READY, "no complete /joint_states yet, the position to hold is unknown")
            rows = chunk_actions(chunk, self.joints)
        except ChunkRejected as rejected:
            return self._refuse(rejected.code, rejected.reason)
        verdict = self.guard.check_chunk(rows)
        if verdict is not None:
            code, detail = verdict
            return self._refuse(code, f"{code}: {detail}")
        result = self.queue.merge(chunk.chunk_id, rows, chunk.source_step, seam_check=self.guard.check_seam)
        if not result.accepted:
            code = result.reason.value
            return Decision(False, code, f"{code}: {_queue_detail(result, chunk)}", result.d_real)
        self.admission.merged(source, chunk.chunk_id, now_s)
        return Decision(True, "", "", result.d_real, result.skipped)

    def hold(self) -> bool:
        """Stop consuming rows: the arm holds its last command. False if it was holding already."""
        was = self.queue.on_hold
        self.queue.hold()
        return not was

    def measured(self, position: np.ndarray, now_s: float) -> TrackingFault | None:
        """A measured position of the followed driver (`now_s`: monotonic seconds): the tracking
        fault, if any; the first one holds the arm for good."""
        if not self.guard.ready or self.tracking.fault is not None:
            return self.tracking.fault
        fault = self.tracking.check(self.guard.last_command, position, now_s)
        if fault is not None:
            self.queue.hold()
        return fault

    def resume(self) -> bool:
        """Consume again from the row `hold` stopped at. False if it was not holding, or holds for a
        tracking fault (which only a restart clears)."""
        was = self.queue.on_hold
        if self.tracking.fault is not None:
            return False
        self.queue.resume()
        return was

    def reset(self) -> int:
        """Empty the queue (the arm holds), refuse the chunks built before now; returns the new epoch.
        A hold stays on: reset then resume starts the next chunk from rest."""
        with self._lock:
            self.queue.reset()
            self.epoch += 1
            return self.epoch

    def _refuse(self, code: str, reason: str, counted_by_admission: bool = False) -> Decision:
        if not counted_by_admission:
            with self._lock:
                self._refused[code] += 1
        return Decision(False, code, reason, None)

    def tick(self, missed: int = 0) -> Tick:
        """One (sub-)tick after `missed` skipped ones: on a policy tick pop (the policy ticks skipped
        count as missed), then interpolate toward the next queued row and guard (hold on underrun)."""
        ratio = self._rows_per_sub_tick
        before_ticks, self._sub_ticks = self._sub_ticks, self._sub_ticks + 1 + int(missed)
        row_now = self._sub_ticks * ratio.numerator
        policy_ticks = row_now // ratio.denominator - before_ticks * ratio.numerator // ratio.denominator
        interpolated = ratio != 1
        popped = policy_ticks > 0
        if popped:
            played_before = self._served is not None and self._served.action is not None
            served = self._served = self.queue.pop(policy_ticks - 1)
            self.admission.tick()
            if interpolated:
                self.interpolator.start(served.action, self.queue.upcoming(2),
                                        continuous=played_before and policy_ticks == 1)
        served = self._served
        if not self.guard.ready:
            return Tick(None, served, (), False, popped)
        seam = popped and served.chunk_id is not None and served.chunk_id != self._last_served_chunk
        if popped and served.chunk_id is not None:
            self._last_served_chunk = served.chunk_id
        target = self.interpolator.at(row_now % ratio.denominator / ratio.denominator) if interpolated \
            else served.action
        guarded = self.guard.apply(target)
        if seam and guarded.clamped_by:
            self.seam_clamps += 1
        return Tick(guarded.command, served, guarded.clamped_by, seam, popped)

    def rejected_by_reason(self) -> dict[str, int]:
        """Every refusal since start, by reason code: admission, contract, guard and queue."""
        with self._lock:
            refused = Counter(self._refused)
        refused.update(self.admission.counters())
        refused.update(self.queue.counters().rejected)
        return dict(refused)
