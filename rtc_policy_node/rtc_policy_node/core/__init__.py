"""Pure RTC core (no rclpy): guidance, prefix schedules, flow sampler, action queue, delay,
executor clock, seam metrics, command guard, chunk signatures and admission, the executor's decisions,
interpolated control.

Names are resolved lazily, so `from rtc_policy_node.core import ActionQueue` (numpy only) does
not import torch; RTCGuidance and sample_flow import it on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "RTCGuidance": "guidance",
    "GuidanceMode": "modes",
    "guidance_weight": "guidance",
    "PrefixSchedule": "schedules",
    "prefix_weights": "schedules",
    "sample_flow": "sampler",
    "ActionQueue": "action_queue",
    "MergeMode": "modes",
    "MergeResult": "action_queue",
    "PopResult": "action_queue",
    "Leftover": "action_queue",
    "RejectReason": "action_queue",
    "QueueCounters": "action_queue",
    "MissedRows": "action_queue",
    "CommandGuard": "command_guard",
    "GuardLimits": "command_guard",
    "ChunkAdmission": "chunk_admission",
    "ChunkSigner": "chunk_signature",
    "ChunkVerifier": "chunk_signature",
    "ExecutorCore": "executor_core",
    "Interpolator": "interpolation",
    "InterpolationMode": "interpolation",
    "DelayEstimator": "delay",
    "ExecutorClock": "executor_clock",
    "seam_and_inner_steps": "seams",
    "seam_ratio": "seams",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from rtc_policy_node.core.action_queue import (
        ActionQueue,
        Leftover,
        MergeResult,
        MissedRows,
        PopResult,
        QueueCounters,
        RejectReason,
    )
    from rtc_policy_node.core.chunk_admission import ChunkAdmission
    from rtc_policy_node.core.chunk_signature import ChunkSigner, ChunkVerifier
    from rtc_policy_node.core.command_guard import CommandGuard, GuardLimits
    from rtc_policy_node.core.delay import DelayEstimator
    from rtc_policy_node.core.executor_core import ExecutorCore
    from rtc_policy_node.core.executor_clock import ExecutorClock
    from rtc_policy_node.core.interpolation import InterpolationMode, Interpolator
    from rtc_policy_node.core.guidance import RTCGuidance, guidance_weight
    from rtc_policy_node.core.modes import GuidanceMode, MergeMode
    from rtc_policy_node.core.sampler import sample_flow
    from rtc_policy_node.core.schedules import PrefixSchedule, prefix_weights
    from rtc_policy_node.core.seams import seam_and_inner_steps, seam_ratio


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
