"""`ros2 launch ... world:=mujoco`: the twin serves the bus, the driver starts once its link exists and
publishes the twin's joints, and the launch stops cleanly (the twin keeps the bus up for the driver's
shutdown sequence)."""
from __future__ import annotations

import pytest
from test_launch_ros import Watcher, launch_env, ros2_launch, spin_until, test_node  # noqa: F401

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def test_launch_with_world_mujoco_drives_the_twin(processes, launch_env, test_node):  # noqa: F811
    launch = ros2_launch(processes, launch_env, "launch_twin", "world:=mujoco", "robot_description:=false",
                         "device:=cpu")
    watcher = Watcher(test_node)
    spin_until(test_node, lambda: watcher.joints is not None and watcher.status is not None, 240,
               "the driver's joint states and the executor", [launch], processes)
    assert list(watcher.joints.name)[:2] == ["shoulder_pan", "shoulder_lift"]
    log = processes.log(launch)
    assert "twin: bus ready on" in log and "connected to" in log
    assert processes.stop(launch) == 0, processes.log(launch)[-3000:]
    assert "Traceback" not in processes.log(launch).split("sending signal")[-1], processes.log(launch)[-3000:]
