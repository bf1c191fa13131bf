"""Why the executor refuses an ActionChunk: one code per rule, the one vocabulary of every refusal.

The executor judges a chunk in stages, each with its own module (rtc_executor.core): admission
(signature, length, id, source, rate), the chunk contract (shape, joints by name, finite values),
the command guard (limits, steps) and the action queue (timing). Each refuses with a member of
`RejectionCode`; the executor counts them by code (`rejected_by_reason` on /diagnostics), logs
"code: detail", and the tests and tools read the same names. No rclpy, no numpy.
"""
from __future__ import annotations

from enum import Enum

__all__ = ["RejectionCode"]


class RejectionCode(str, Enum):
    """A refusal's code; its value is the text on /diagnostics and in logs."""

    # admission (rtc_executor.core.chunk_admission, signatures by rtc_contract.chunk_signature)
    UNSIGNED = "unsigned"  # trusted keys are set and the chunk carries no signature
    UNKNOWN_KEY = "unknown_key"  # signed by a key that is not trusted
    BAD_SIGNATURE = "bad_signature"  # the signature does not cover these fields
    REPLAY = "replay"  # a signed chunk seen before
    TOO_LONG = "too_long"  # more rows than max_chunk_length
    OTHER_SESSION = "other_session"  # made for another executor run (ExecutorStatus.session)
    BAD_ID = "bad_id"  # id 0, or not above the last id merged from its source
    OTHER_SOURCE = "other_source"  # another source than the one followed
    RATE = "rate"  # a second chunk of a source within one control tick
    # contract (rtc_executor.core.chunk_contract)
    NOT_READY = "not_ready"  # no complete joint state yet: the position to hold is unknown
    EMPTY = "empty"
    SIZE_MISMATCH = "size_mismatch"
    DIM_MISMATCH = "dim_mismatch"
    DUPLICATE_JOINT = "duplicate_joint"
    UNKNOWN_JOINT = "unknown_joint"
    MISSING_JOINT = "missing_joint"
    NON_FINITE = "non_finite"  # NaN or Inf in the actions
    # command guard (rtc_executor.core.command_guard)
    LIMITS = "limits"  # a position outside the joint limits
    STEP = "step"  # a step beyond max_step, inside the chunk or at the seam
    # action queue (rtc_executor.core.action_queue)
    STALE = "stale"  # RTC: d_real >= length, every row's tick has passed
    FUTURE = "future"  # source_step > step_now: not a step of the queue's timeline yet
    OUT_OF_ORDER = "out_of_order"  # older than, or the same as, the chunk merged last
    PRE_STALL = "pre_stall"  # built before the stall the queue was emptied for
    PRE_RESET = "pre_reset"  # built before the reset the queue was emptied for

    def __str__(self) -> str:  # "stale", not "RejectionCode.STALE", in logs and f-strings
        return self.value
