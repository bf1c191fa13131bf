"""The runner's argument errors: one line on stderr and exit code 2, before any node starts."""
from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("arguments, message", [
    (["namespace:=arm1", "--record", "/tmp/never"], "--record records the root namespace"),
    (["namespace:=arm-1"], "namespace"),
    (["--remap", "so100/command"], "is not FROM:=TO"),
    (["driver:=false"], "driver:=false needs sim:=false"),
    (["--foxglove", "99999"], "foxglove_port"),
])
def test_bad_runner_arguments_are_one_line_and_exit_2(arguments, message):
    result = subprocess.run([sys.executable, "-m", "rtc_bringup.run", *arguments], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert message in lines[-1] and "Traceback" not in result.stderr and "starting" not in result.stdout


def test_foxglove_option_takes_an_optional_port_and_leaves_launch_arguments_alone():
    from rtc_bringup.run import parse_args

    assert parse_args(["--sim", "--foxglove"])[1] == {"sim": "true", "foxglove": "true", "foxglove_port": "8765"}
    assert parse_args(["--foxglove", "9001"])[1] == {"foxglove": "true", "foxglove_port": "9001"}
    assert parse_args(["--foxglove", "seed:=3"])[1] == {"seed": "3", "foxglove": "true", "foxglove_port": "8765"}
    assert "foxglove" not in parse_args(["--sim"])[1]
