"""Launch the SO-100 RTC graph.

    ros2 launch rtc_bringup so100_rtc.launch.py                      # simulated arm, built-in policy
    ros2 launch rtc_bringup so100_rtc.launch.py world:=mujoco        # on the MuJoCo twin (docs/twin.md)
    ros2 launch rtc_bringup so100_rtc.launch.py sim:=false port:=/dev/ttyACM0 robot_id:=my_arm \
        policy_path:=/path/to/pretrained_model device:=cuda \
        cameras:="{front: {type: opencv, index_or_path: 0, width: 640, height: 480, fps: 30}}"   # docs/real_arm.md
    ros2 launch rtc_bringup so100_rtc.launch.py namespace:=arm1 config_file:=my_params.yaml

Every topic is relative: remap one for the whole graph by including this file after a
launch_ros.actions.SetRemap (docs/bringup.md, "ros2_control").

Nodes, parameter files and namespace come from rtc_bringup.graph, which the runner
(`run`) uses too. Any node that exits ends the launch, but the policy node (the executor and the
driver then hold the arm); if it failed (non-zero exit), the launch exits non-zero too, so a
half-running graph never drives the arm.
trace:=true records an LTTng trace of the run around the nodes (docs/tracing.md).
enclaves:=true runs each node in its SROS2 enclave (docs/sros2.md; ROS 2 from apt only).
discovery_range:=SUBNET lets other hosts of the subnet take part (default LOCALHOST; docs/multi_host.md).
foxglove:=true (foxglove_port:=8765) adds a Foxglove WebSocket server that forwards the topics to the
Foxglove app (docs/foxglove.md); with ROS from apt, foxglove_bridge does the same.
"""
import os
import tempfile
from functools import partial
from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, LogInfo, OpaqueFunction, RegisterEventHandler, TimerAction
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from rtc_bringup.control_loop_transport import control_loop_transport
from rtc_bringup.graph import (ARGUMENTS, CONTROL_LOOP_NODES, OUTLIVED_NODES, build_graph, discovery_environment,
                               guard_envelope, overrides_file_text, trace_dir)
from rtc_tools.trace_session import TraceSession
from rtc_runtime.tracing import TRACE_ENV


WAIT_FOR_PATH_S = 60.0


class NodeFailed(RuntimeError):
    """Raised from the exit handler: launch then shuts everything down and returns 1."""


def _on_node_exit(node_name, event, context):
    if context.is_shutdown:  # stopping anyway (Ctrl-C, or another node ended the launch)
        return None
    if node_name.rsplit("/", 1)[-1] in OUTLIVED_NODES:  # the arm holds; the rest runs on
        return [LogInfo(msg=f"{node_name} exited with code {event.returncode}; the arm holds and the rest "
                            "of the graph runs on (Ctrl-C stops it)")]
    if event.returncode != 0:
        raise NodeFailed(f"{node_name} exited with code {event.returncode}; stopping the graph")
    return [EmitEvent(event=Shutdown(reason=f"{node_name} exited; stopping the graph"))]


def _nodes(context):
    arguments = {a.name: LaunchConfiguration(a.name).perform(context) for a in ARGUMENTS}
    pushed = context.launch_configurations.get("ros_namespace", "") or ""  # PushRosNamespace
    arguments["namespace"] = "/".join(p.strip("/") for p in (pushed, arguments["namespace"]) if p.strip("/"))
    share_dir = Path(get_package_share_directory("rtc_bringup"))
    params_dir = Path(tempfile.mkdtemp(prefix="rtc_launch_params_"))
    entities, env = [], discovery_environment(arguments, os.environ)
    traced_into = trace_dir(arguments)
    if traced_into:
        from launch.event_handlers import OnShutdown

        session = TraceSession(traced_into)
        session.start()
        env[TRACE_ENV] = "1"
        entities.append(RegisterEventHandler(OnShutdown(on_shutdown=lambda _event, _context: session.stop())))
    specs = build_graph(arguments, share_dir)
    transport = control_loop_transport(arguments["control_loop_transport"], {**os.environ, **env})
    control_env = {**env, **transport.environment(params_dir)}
    entities += [LogInfo(msg=guard_envelope(specs)), LogInfo(msg=transport.describe())]
    for spec in specs:
        overrides = params_dir / f"{spec.name}.yaml"
        overrides.write_text(overrides_file_text(spec))
        node = Node(package=spec.package, executable=spec.executable, name=spec.name,
                    namespace=f"/{spec.namespace}" if spec.namespace else None,
                    additional_env=control_env if spec.name in CONTROL_LOOP_NODES else env,
                    parameters=[*spec.parameter_files, overrides], output="screen",
                    ros_arguments=["--enclave", spec.enclave] if spec.enclave else None)
        on_exit = partial(_on_node_exit, spec.fully_qualified_name)
        started = [node, RegisterEventHandler(OnProcessExit(target_action=node, on_exit=on_exit))]
        entities += _once_exists(spec.waits_for, started) if spec.waits_for else started
    return entities


def _once_exists(path, entities, waited_s=0.0):
    """`entities` once `path` exists (the twin's bus link, for the driver), polled without blocking launch."""
    if os.path.lexists(path):
        return entities
    if waited_s > WAIT_FOR_PATH_S:
        raise NodeFailed(f"{path} did not appear within {WAIT_FOR_PATH_S:.0f} s; stopping the graph")
    return [TimerAction(period=0.1, actions=[OpaqueFunction(
        function=lambda _context: _once_exists(path, entities, waited_s + 0.1))])]


def generate_launch_description():
    declared = [DeclareLaunchArgument(a.name, default_value=a.default, description=a.description)
                for a in ARGUMENTS]
    return LaunchDescription([*declared, OpaqueFunction(function=_nodes)])
