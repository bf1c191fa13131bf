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
