"""The policy side of RTC as one pure state machine: when to infer, from which tick, with which
leftover and which delay, when to wait, pause or back off.

The policy node and `rtc_sim_eval` both drive it (the node with ROS messages and the monotonic
clock, the simulator with simulated ticks and a simulated clock), so the evaluation measures what
ships. No rclpy, no torch; the clock is whatever time the caller passes in, in seconds.

Decisions, in the order `decide` takes them:
1. after an inference error, back off for `error_backoff_s` (`Phase.BACKING_OFF`);
2. without any executor status there is nothing to anchor a chunk to (`WAITING_FOR_EXECUTOR`);
3. after publishing, wait until the executor merged or rejected that chunk, at most `merge_wait_s`
   (`AWAITING_MERGE`): a second chunk built on the old leftover would be wrong;
4. the trigger: infer when the executor's queue is empty or holds at most `trigger_remaining`
   actions at the tick now (`IDLE` otherwise); with a `frame_input`, already at that input's last
   frame before the trigger (`core.frame_clock`), so the frame has not waited for the inference;
5. at start-up, wait until every input has been fresh once (`WAITING_FOR_INPUTS`) and the chunk
   topic's readers are matched, at most `match_wait_s` once one is (`WAITING_FOR_READERS`);
6. an input older than `observation_timeout_s` pauses inference (`PAUSED`, counted once per pause);
7. otherwise infer (`INFERRING`) with a `Plan`.

The delay a plan assumes is the executor's merge rule applied ahead: the executor skips
min(d_real, rows consumed since source_step), and it can consume at most the rows it has queued, so
the plan's delay is min(estimate, rows queued at source_step): 0 for a chunk planned while the arm
holds with nothing queued (a start, an underrun), the queued rows when fewer than the estimate. While
the executor is on hold (`ExecutorStatus.on_hold`) its rows do not advance between statuses. A
change of the executor's `epoch` (its ~/reset) forgets the chunk awaiting a decision, and `current`
tells the caller that an inference planned before it must not be published.

The delay estimate: each chunk contributes one sample, its executor-measured `d_real` when the
executor reports the merge (it counts inference, transport and tick phase, on the executor's own
timeline) and its wall-clock latency otherwise (a rejected chunk, or no report within
`merge_wait_s`). So a wall-clock latency that under-counts (transport, a late status) is corrected by
the first merged chunk's d_real; the estimator's windowed maximum then holds it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Protocol
from collections.abc import Iterable

import numpy as np

from rtc_policy_node.core.chunk_history import ChunkHistory
from rtc_policy_node.core.delay import DelayEstimator
from rtc_policy_node.core.executor_clock import ExecutorClock
from rtc_policy_node.core.frame_clock import FrameClock, starts_at_this_frame

__all__ = ["FIRST_CHUNK_GUIDANCE", "ExecutorReport", "InferenceScheduler", "Phase", "Plan", "SchedulerSettings"]

FIRST_CHUNK_GUIDANCE = ("executed", "free", "follow")


class Phase(Enum):
    """What the scheduler is doing. The value reads as a message with `detail` appended;
    `problem` phases are reported as WARN (ERROR for BACKING_OFF)."""

    WAITING_FOR_EXECUTOR = "waiting for executor status"
    WAITING_FOR_INPUTS = "waiting for the first message on"
    WAITING_FOR_READERS = "waiting for the chunk topic's readers to match:"
    IDLE = "running: waiting for the trigger"
    AWAITING_MERGE = "running: waiting for the executor to take the last chunk"
    INFERRING = "running: inferring"
    PAUSED = "paused: no recent message on"
    BACKING_OFF = "inference failed:"

    @property
    def problem(self) -> bool:
        return self not in (Phase.IDLE, Phase.AWAITING_MERGE, Phase.INFERRING)


class ExecutorReport(Protocol):
    """The fields of rtc_msgs/ExecutorStatus the scheduler reads."""

    step: int
    control_rate_hz: float
    active_chunk_id: int
    index_in_chunk: int
    remaining: int
    merged_count: int
    rejected_count: int
    last_d_real: int
    on_hold: bool
    epoch: int
    session: int


@dataclass(frozen=True)
class SchedulerSettings:
    """The policy node's scheduling parameters (same names as its ROS parameters)."""

    trigger_remaining: int = 25
    observation_timeout_s: float = 0.5
    delay_window: int = 10
    delay_warmup: int = 1
    delay_margin_ticks: int = 1
    delay_percentile: float = 0.0  # 0: the windowed maximum
    merge_wait_s: float = 2.0
    match_wait_s: float = 2.0
    error_backoff_s: float = 1.0
    # How the chunk after the first one after start or rest is guided. That first chunk had no motion
    # to continue and can be a hesitant plan between two ways around an obstacle (docs/builtin_policy.md):
    # "executed" follows it only over the rows the arm runs before the new chunk arrives (the delay:
    # a smooth seam, the rest chosen freely), "free" not at all (a jump at the seam, as unguided
    # sampling), "follow" like any other leftover.
    first_chunk_guidance: str = "executed"
    # With "executed": that chunk is also sampled unguided from the same noise, and the unguided one
    # is used when the two differ by more than this from the delay's row on (normalised units,
    # core.mode_choice.keep_or_follow): the executed rows drag the guided one off the policy's new
    # plan. 0: never.
    first_chunk_max_disagreement: float = 0.1

    def __post_init__(self) -> None:
        for name in ("trigger_remaining", "delay_window", "delay_warmup", "delay_margin_ticks"):
            value = getattr(self, name)
            if int(value) != value or value < (1 if name == "delay_window" else 0):
                raise ValueError(f"{name} must be a {'positive' if name == 'delay_window' else 'non-negative'} "
                                 f"integer, got {value!r}")
        for name in ("observation_timeout_s", "merge_wait_s", "match_wait_s", "error_backoff_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a non-negative number of seconds, got {value!r}")
        if not (math.isfinite(self.first_chunk_max_disagreement) and self.first_chunk_max_disagreement >= 0):
            raise ValueError(f"first_chunk_max_disagreement must be a non-negative number, "
                             f"got {self.first_chunk_max_disagreement!r}")
        if self.first_chunk_guidance not in FIRST_CHUNK_GUIDANCE:
            raise ValueError(f"first_chunk_guidance must be one of {', '.join(FIRST_CHUNK_GUIDANCE)}, "
                             f"got {self.first_chunk_guidance!r}")
        if not 0 <= self.delay_percentile <= 100:
            raise ValueError(f"delay_percentile must be in [0, 100] (0: maximum), got {self.delay_percentile!r}")


@dataclass(frozen=True)
class Plan:
    """One inference to run: row 0 of its chunk is meant for tick `source_step`."""

    source_step: int
    delay: int  # ticks the chunk is expected to be late on arrival (the guidance's inference_delay)
    # the rows guidance follows: the executor's unexecuted rows from source_step on, policy space; None
    # at start or rest; only the delay's rows or none while the active chunk is the first after rest
    # (first_chunk_guidance)
    leftover: np.ndarray | None
    prev_chunk_id: int  # the chunk the leftover comes from; 0 without one
    prev_chunk_row: int  # the row of that chunk the leftover starts at; 0 without one
    in_motion: bool  # a chunk of ours had rows left (followed or not): this one is not the first after rest
    # > 0: also sample unguided and use that if the guided chunk differs more than this from the
    # delay's row on (core.mode_choice.keep_or_follow); 0: use the guided chunk
    max_disagreement: float
    status_behind_ticks: int  # ticks the executor ran since the status the plan started from
    merged_before: int  # the executor's merged and rejected counts when planned: the next
    rejected_before: int  # change of either is its decision on this chunk
    epoch: int = 0  # the executor's epoch when planned: a chunk of an older one is not published
    session: int = 0  # the executor run planned for (ExecutorStatus.session): signed into the chunk


@dataclass
class SchedulerCounts:
    chunks: int = 0
    errors: int = 0
    paused: int = 0
    d_real_samples: int = 0
    latency_samples: int = 0


@dataclass
class _Sent:
    plan: Plan
    sent_at: float
    latency_s: float

    def decided(self, status: ExecutorReport) -> bool:
        return status.merged_count + status.rejected_count > self.plan.merged_before + self.plan.rejected_before


class InferenceScheduler:
    """Feed it executor statuses (`on_status`), input arrivals (`on_input`), what you published
    (`on_published`) and errors (`on_error`); ask it what to do (`decide`). `frame_input`: the
    input (a camera) whose arrivals may start an inference before the trigger; None: ticks only."""

    def __init__(self, settings: SchedulerSettings, inputs: Iterable[str], status_input: str = "executor status",
                 chunk_output: str = "the chunk topic", history_keep: int = 8, frame_input: str | None = None) -> None:
        self.settings = settings
        self.inputs = tuple(inputs)
        self.frame_input = frame_input
        self.frames = FrameClock()
        self.status_input = status_input  # how stale_inputs names the executor status
        self.chunk_output = chunk_output  # how notices name the chunk topic
        self.notices: list[str] = []  # one-off warnings for the caller to log (and clear)
        self.history = ChunkHistory(keep=history_keep)
        self.clock = ExecutorClock()
        self.counts = SchedulerCounts()
        self.phase = Phase.WAITING_FOR_EXECUTOR
        self.detail = ""  # what the phase is about: stale inputs, the error, ...
        self.last_error = ""
        self.estimator: DelayEstimator | None = None
        self._status: ExecutorReport | None = None
        self._status_at = -math.inf
        self._arrivals: dict[str, float] = {}
        self._inputs_seen = False
        self._match_wait_since: float | None = None
        self._sent: _Sent | None = None
        self._backoff_until = -math.inf
        self._epoch = 0

    # ----- inputs ------------------------------------------------------------------------------
    def on_status(self, status: ExecutorReport, arrived: float) -> None:
        """An executor status arrived at local time `arrived`."""
        if status.control_rate_hz <= 0:
            return
        period = 1.0 / status.control_rate_hz
        self.clock.observe(status.step, period, arrived)
        if self.estimator is None or self.estimator.control_period_s != period:
            s = self.settings
            self.estimator = DelayEstimator(period, window=s.delay_window, warmup=s.delay_warmup,
                                            margin_ticks=s.delay_margin_ticks,
                                            percentile=s.delay_percentile or None)
        self._status, self._status_at = status, arrived
        if int(status.epoch) != self._epoch:  # a reset: the chunk awaiting a decision is refused or dropped
            self._epoch, self._sent = int(status.epoch), None
        self._take_delay_feedback(status)

    def current(self, plan: Plan) -> bool:
        """False once the executor was reset after `plan` was made: drop its chunk unpublished."""
        return plan.epoch == self._epoch

    def on_input(self, name: str, arrived: float) -> None:
        """An observation input (`name` from `inputs`) arrived at local time `arrived`."""
        self._arrivals[name] = arrived
        if name == self.frame_input:
            self.frames.observe(arrived)

    def next_chunk_id(self) -> int:
        """The id `on_published` will give the chunk being built."""
        return self.history.last_id + 1

    def on_published(self, plan: Plan, model_output: np.ndarray, plan_started: float, published: float) -> int:
        """The chunk of `plan` went out; returns its id. `model_output` is kept for later leftovers."""
        chunk_id = self.history.add(model_output, in_motion=plan.in_motion)
        self._sent = _Sent(plan, published, published - plan_started)
        self.counts.chunks += 1
        self.phase, self.detail = Phase.AWAITING_MERGE, ""
        if self._status is not None:  # the executor may have decided before we got here
            self._take_delay_feedback(self._status)
        return chunk_id

    def on_error(self, message: str, now: float) -> bool:
        """An inference failed; returns True the first time this message is seen in a row (log the
        traceback then, count it afterwards)."""
        first = message != self.last_error
        self.counts.errors += 1
        self.last_error = message
        self._backoff_until = now + self.settings.error_backoff_s
        self.phase, self.detail = Phase.BACKING_OFF, message
        return first

    # ----- the decision ------------------------------------------------------------------------
    def decide(self, now: float, readers: tuple[int, int] = (1, 1)) -> Plan | None:
        """A Plan if an inference should start now, else None (see `phase` and `detail` for why).

        readers: (subscribers of the chunk topic known to the graph, those matched with our
        publisher); only consulted before the first chunk.
        """
        if now < self._backoff_until:
            return None
        status = self._status
        if status is None:
            return self._wait(Phase.WAITING_FOR_EXECUTOR, "")
        if self._sent is not None:
            decided = self._sent.decided(status)
            if not decided and now - self._sent.sent_at < self.settings.merge_wait_s:
                return self._wait(Phase.AWAITING_MERGE, "")
            if not decided:  # no word from the executor: count the wall-clock latency
                self._add_latency(self._sent)
                self._sent = None
        step_now = self.clock.step_at(now)
        behind = 0 if step_now is None else max(0, step_now - status.step)
        played = 0 if status.on_hold else min(behind, int(status.remaining))  # rows consumed since the status
        trigger_at = self.clock.time_of(status.step + status.remaining - self.settings.trigger_remaining)
        if status.active_chunk_id != 0 and not starts_at_this_frame(
                status.remaining - played, self.settings.trigger_remaining, trigger_at, self.frames.next_arrival()):
            return self._wait(Phase.IDLE, "")
        stale = self.stale_inputs(now)
        if not self._inputs_seen:
            if stale:
                return self._wait(Phase.WAITING_FOR_INPUTS, ", ".join(stale))
            if not self._readers_ready(now, readers):
                return self._wait(Phase.WAITING_FOR_READERS, f"{readers[1]} of {readers[0]} matched")
            self._inputs_seen = True
        if stale:
            if self.phase is not Phase.PAUSED:
                self.counts.paused += 1
            return self._wait(Phase.PAUSED, ", ".join(stale))
        self.phase, self.detail = Phase.INFERRING, ""
        source_step = status.step + behind
        leftover, row = None, status.index_in_chunk + played
        if status.active_chunk_id != 0:
            leftover = self.history.leftover(status.active_chunk_id, row)
        in_motion = leftover is not None
        # the executor skips at most the rows it consumes, and it consumes at most those queued
        delay = min(self.estimator.estimate(), int(status.remaining) - played)
        max_disagreement = 0.0
        if in_motion and not self.history.in_motion(status.active_chunk_id):  # the first chunk after rest
            guidance = self.settings.first_chunk_guidance
            leftover = None if guidance == "free" else leftover[:max(delay, 1)] if guidance == "executed" else leftover
            if guidance == "executed":
                max_disagreement = self.settings.first_chunk_max_disagreement
        return Plan(source_step=source_step, delay=delay, leftover=leftover, in_motion=in_motion,
                    max_disagreement=max_disagreement,
                    prev_chunk_id=status.active_chunk_id if leftover is not None else 0,
                    prev_chunk_row=row if leftover is not None else 0,
                    status_behind_ticks=behind, merged_before=int(status.merged_count),
                    rejected_before=int(status.rejected_count), epoch=self._epoch,
                    session=int(getattr(status, "session", 0)))

    def stale_inputs(self, now: float) -> list[str]:
        """Inputs (and the executor status) older than observation_timeout_s at `now`."""
        timeout = self.settings.observation_timeout_s
        stale = [name for name in self.inputs if now - self._arrivals.get(name, -math.inf) > timeout]
        if now - self._status_at > timeout:
            stale.append(self.status_input)
        return stale

    def input_ages(self, now: float) -> dict[str, float]:
        """Seconds since each observation input last arrived (inf: never)."""
        return {name: now - self._arrivals.get(name, -math.inf) for name in self.inputs}

    @property
    def last_status(self) -> ExecutorReport | None:
        return self._status

    @property
    def delay_estimate(self) -> int | None:
        return None if self.estimator is None else self.estimator.estimate()

    # ----- internals ---------------------------------------------------------------------------
    def _wait(self, phase: Phase, detail: str) -> None:
        self.phase, self.detail = phase, detail
        return None

    def _readers_ready(self, now: float, readers: tuple[int, int]) -> bool:
        graph, matched = readers
        if graph and matched >= graph:
            return True
        self._match_wait_since = self._match_wait_since if self._match_wait_since is not None else now
        if matched and now - self._match_wait_since > self.settings.match_wait_s:
            self.notices.append(f"{graph - matched} of {graph} subscribers of {self.chunk_output} did not match in "
                                f"{self.settings.match_wait_s} s (incompatible QoS?); publishing anyway")
            return True
        return False

    def _take_delay_feedback(self, status: ExecutorReport) -> None:
        sent = self._sent
        if sent is None or not sent.decided(status):
            return
        if status.merged_count > sent.plan.merged_before and status.last_d_real >= 0:
            self.estimator.add_ticks(int(status.last_d_real))
            self.counts.d_real_samples += 1
        else:  # rejected: its latency still tells how long inference takes
            self._add_latency(sent)
        self._sent = None

    def _add_latency(self, sent: _Sent) -> None:
        self.estimator.add(max(0.0, sent.latency_s))
        self.counts.latency_samples += 1
