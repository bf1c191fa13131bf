"""Which resolved topics actuate the arm (rtc_play leaves them out by default), in any namespace."""
from __future__ import annotations

import pytest

from rtc_contract.topics import COMMAND_TOPICS, actuates


@pytest.mark.parametrize("topic", ["/so100/command", "/arm1/so100/command_array", "/so100/joint_trajectory",
                                   "/joint_states", "/arm1/joint_states", "/rtc/executor_status",
                                   "/arm1/rtc/executor_status", *COMMAND_TOPICS.values()])
def test_command_joint_state_and_status_topics_actuate(topic):
    assert actuates(topic)


@pytest.mark.parametrize("topic", ["/rtc/action_chunk", "/rtc/timing", "/diagnostics", "/camera/front/image_raw",
                                   "/my_joint_states", "/so100/command_echo", "/tf"])
def test_other_topics_do_not(topic):
    assert not actuates(topic)
