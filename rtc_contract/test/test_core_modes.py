"""The mode names have one Python source (core.modes), equal to the rtc_msgs constants."""
from __future__ import annotations

import pytest

from rtc_contract.modes import GuidanceMode, MergeMode


def _constants(message) -> set[str]:
    return {getattr(message, name) for name in dir(message) if name.startswith("MODE_")}


@pytest.mark.ros
def test_guidance_and_merge_modes_are_the_message_constants():
    from rtc_msgs.msg import ActionChunk, ExecutorStatus

    assert {m.value for m in GuidanceMode} == _constants(ActionChunk)
    assert {m.value for m in MergeMode} == _constants(ExecutorStatus)
