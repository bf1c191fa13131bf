"""ParameterSpec: every kind of bad value is refused with the parameter's name and what it allows."""
from __future__ import annotations

import math

import pytest

from rtc_runtime.parameters import ParameterError, ParameterSpec, markdown_table, validate

SPECS = (
    ParameterSpec("rate_hz", 30.0, "tick rate", unit="Hz", minimum=0.0, above_minimum=True, maximum=1000.0),
    ParameterSpec("mode", "rtc", "merge mode", choices=("rtc", "append")),
    ParameterSpec("joint_names", [], "the arm's joints", non_empty=True, unique=True),
    ParameterSpec("priority", 50, "SCHED_FIFO priority", minimum=11, maximum=99),
    ParameterSpec("realtime", True, "ask for SCHED_FIFO"),
    ParameterSpec("latencies_ms", [0.0], "added latency per chunk", unit="ms", minimum=0.0, non_empty=True),
)


@pytest.mark.parametrize("name, value, says", [
    ("rate_hz", 0.0, "must be > 0 and <= 1000"),
    ("rate_hz", -5.0, "must be > 0"),
    ("rate_hz", math.nan, "a finite number"),
    ("mode", "sideways", "one of rtc, append"),
    ("joint_names", [], "is required: the arm's joints"),
    ("joint_names", ["a", "a"], "without repeats"),
    ("priority", 5, ">= 11 and <= 99"),
    ("latencies_ms", [10.0, -1.0], ">= 0 for each element"),
    ("latencies_ms", [math.nan], ">= 0 for each element"),
    ("latencies_ms", [], "is required"),
])
def test_a_bad_value_names_the_parameter_and_what_is_allowed(name, value, says):
    with pytest.raises(ParameterError, match=name) as error:
        validate(SPECS, {name: value})
    assert says in str(error.value)


def test_good_values_pass_unchanged():
    values = {"rate_hz": 100.0, "mode": "append", "joint_names": ["a", "b"], "priority": 11, "realtime": False,
              "latencies_ms": [0.0, 200.0]}
    assert validate(SPECS, dict(values)) == values


def test_the_docs_table_shows_defaults_units_and_choices():
    table = markdown_table(SPECS).splitlines()
    assert table[0] == "| parameter | default | unit / allowed | meaning |"
    assert "| `rate_hz` | `30.0` | Hz, > 0 and <= 1000 | tick rate |" in table
    assert "| `mode` | `rtc` | `rtc`, `append` | merge mode |" in table
    assert "| `joint_names` | (required) |  | the arm's joints |" in table
    assert "| `realtime` | `true` |  | ask for SCHED_FIFO |" in table


def test_lerobot_names_map_to_ours_and_a_disagreement_names_both():
    from rtc_runtime.lerobot_names import LEROBOT_NAMES, lerobot_names_of, with_our_names

    assert with_our_names({"prefix_attention_schedule": "EXP", "task": "t"}) == {"schedule": "EXP", "task": "t"}
    assert with_our_names({"queue_threshold": 30, "trigger_remaining": 30}) == {"trigger_remaining": 30}
    with pytest.raises(ValueError, match="parameter trigger_remaining is given twice, as queue_threshold = 30 and "
                                         "action_queue_size_to_get_new_actions = 20: give one of them"):
        with_our_names({"queue_threshold": 30, "action_queue_size_to_get_new_actions": 20})
    assert set(lerobot_names_of("trigger_remaining")) == {"queue_threshold", "action_queue_size_to_get_new_actions"}
    assert not set(LEROBOT_NAMES) & set(LEROBOT_NAMES.values())  # no name is both theirs and ours


def test_what_a_ros_range_cannot_say_is_in_the_constraints():
    assert SPECS[0].constraints() == "> 0; finite"
    assert SPECS[1].constraints() == "one of rtc, append"
    assert SPECS[2].constraints() == "required (not empty); no repeats"
    assert SPECS[5].constraints() == "each element >= 0; required (not empty); finite"
    assert ParameterSpec("task", "", "instruction", settable=True).constraints() == "settable while running"
