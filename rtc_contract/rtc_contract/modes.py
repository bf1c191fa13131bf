"""The names of the guidance and merge modes: the one Python source of them (no torch, no rclpy).

Their values are the MODE_* constants of rtc_msgs/ActionChunk (guidance) and
rtc_msgs/ExecutorStatus (merge); a test keeps the two in agreement.
"""
from __future__ import annotations

from enum import Enum

__all__ = ["LEROBOT_MODE", "GuidanceMode", "MergeMode"]


class GuidanceMode(str, Enum):
    """How a new chunk is made to continue the leftover (rtc_msgs/ActionChunk MODE_*)."""

    OFF = "off"
    IDENTITY = "identity"
    VJP = "vjp"
    PREFIX = "prefix"


class MergeMode(str, Enum):
    """How a new chunk enters the executor's queue (rtc_msgs/ExecutorStatus MODE_*)."""

    RTC = "rtc"
    APPEND = "append"
    REPLACE = "replace"


# Not a mode a chunk carries: LeRobot 0.4.4's own RTCProcessor (or its whole RTC pipeline) in place of
# ours, the comparison rtc_profile (--compare_lerobot) and rtc_sim_eval (EvalMode.LEROBOT) run.
LEROBOT_MODE = "lerobot"
