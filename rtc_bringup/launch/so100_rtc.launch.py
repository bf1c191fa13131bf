"""Launch the SO-100 RTC graph.

    ros2 launch rtc_bringup so100_rtc.launch.py                      # simulated arm, built-in policy
    ros2 launch rtc_bringup so100_rtc.launch.py sim:=false port:=/dev/ttyACM0 \
        calibration_file:=$HOME/.cache/huggingface/lerobot/calibration/robots/so100_follower/arm.json \
        policy_path:=/path/to/pretrained_model device:=cuda

Nodes, parameters and remappings come from rtc_bringup.graph, which the runner (`run`) uses too.
trace:=true records an LTTng trace of the run around the nodes (docs/tracing.md).
"""
from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from rtc_bringup.graph import ARGUMENTS, build_graph, trace_dir
from rtc_bringup.trace_session import TraceSession
from rtc_runtime.tracing import TRACE_ENV


def _nodes(context):
    arguments = {a.name: LaunchConfiguration(a.name).perform(context) for a in ARGUMENTS}
    share_dir = Path(get_package_share_directory("rtc_bringup"))
    specs = build_graph(arguments, share_dir)
    actions, env = [], {}
    traced_into = trace_dir(arguments)
    if traced_into:
        from launch.actions import RegisterEventHandler
        from launch.event_handlers import OnShutdown

        session = TraceSession(traced_into)
        session.start()
        env = {TRACE_ENV: "1"}
        actions.append(RegisterEventHandler(OnShutdown(on_shutdown=lambda _event, _context: session.stop())))
    return actions + [
        Node(package=spec.package, executable=spec.executable, name=spec.name, additional_env=env,
             parameters=[spec.parameters], remappings=list(spec.remappings), output="screen")
        for spec in specs
    ]


def generate_launch_description():
    declared = [DeclareLaunchArgument(a.name, default_value=a.default, description=a.description)
                for a in ARGUMENTS]
    return LaunchDescription([*declared, OpaqueFunction(function=_nodes)])
