"""The runner's argument errors: one line on stderr and exit code 2, before any node starts."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("arguments, message", [
    (["namespace:=arm1", "--record", "/tmp/never"], "--record records the root namespace"),
    (["namespace:=arm-1"], "namespace"),
    (["--remap", "so100/command"], "is not FROM:=TO"),
    (["driver:=false"], "driver:=false needs sim:=false"),
    (["sim:=false"], "run: argument policy_path is required with sim:=false"),
    (["--foxglove", "99999"], "foxglove_port"),
    (["--sim", "discovery_range:=WAN"], "discovery_range"),
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


def test_nodes_selects_part_of_the_graph_in_its_order_and_refuses_unknown_names(tmp_path):
    from rtc_bringup.graph import build_graph
    from rtc_bringup.run import select_nodes

    share = Path(__file__).resolve().parents[1]
    specs = build_graph({"sim": "true"}, share)
    assert [s.name for s in select_nodes(specs, "rtc_executor,so100_driver")] == ["so100_driver", "rtc_executor"]
    policy = select_nodes(specs, "rtc_policy")[0]
    assert policy == next(s for s in specs if s.name == "rtc_policy")  # same parameters as in the whole graph
    assert select_nodes(specs, None) == specs
    for names in ("rtc_policy,camera", ""):
        with pytest.raises(ValueError, match="--nodes"):
            select_nodes(specs, names)


def test_dds_profile_takes_a_shipped_name_or_a_file(tmp_path):
    from rtc_bringup.run import dds_profile_path

    share = Path(__file__).resolve().parents[1]
    assert dds_profile_path("lossy_link", share) == (share / "config" / "fastdds_lossy_link.xml").resolve()
    own = tmp_path / "mine.xml"
    own.write_text("<dds/>")
    assert dds_profile_path(str(own), share) == own.resolve()
    with pytest.raises(ValueError, match="--dds-profile"):
        dds_profile_path("fast", share)


def test_unknown_nodes_are_one_line_and_exit_2():
    result = subprocess.run([sys.executable, "-m", "rtc_bringup.run", "--sim", "--nodes", "camera"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "--nodes 'camera'" in result.stderr.strip().splitlines()[-1]


@pytest.mark.ros
def test_the_shipped_dds_profile_loads_without_fast_dds_errors():
    """Fast DDS reports a bad element on stderr and goes on without the profile: none may be reported."""
    import os

    from rtc_bringup.run import dds_profile_path

    share = Path(__file__).resolve().parents[1]
    code = ("import rclpy; from std_msgs.msg import String; rclpy.init(); n = rclpy.create_node('profile_check'); "
            "n.create_publisher(String, 'x', 10); n.create_subscription(String, 'x', print, 10); "
            "n.destroy_node(); rclpy.shutdown(); print('done')")
    env = {**os.environ, "FASTDDS_DEFAULT_PROFILES_FILE": str(dds_profile_path("lossy_link", share))}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert result.stdout.strip() == "done" and "XMLPARSER" not in result.stderr and "Error" not in result.stderr, \
        result.stderr


@pytest.mark.ros
def test_a_policy_that_exits_does_not_stop_the_rest_of_the_graph():
    """The policy node fails at start (a bad parameter): the runner says so, the camera runs on until
    --duration, and the run's status is 1."""
    result = subprocess.run([sys.executable, "-m", "rtc_bringup.run", "--sim", "--nodes", "rtc_policy,sim_camera",
                             "--duration", "4", "max_guidance_weight:=-5"], capture_output=True, text=True, timeout=60)
    assert "rtc_policy exited (code 2); the arm holds and the rest of the graph runs on" in result.stdout
    assert "stopping the graph" not in result.stdout and result.returncode == 1, result.stdout + result.stderr
