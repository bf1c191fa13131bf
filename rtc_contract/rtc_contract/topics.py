"""The topics and services of the policy and executor nodes, relative (they follow the node's namespace),
and the executor's /diagnostics status names.

Plain constants, no rclpy, so the nodes and the graph's access-control policy
(rtc_bringup.sros2_policy) name the same topics."""

ACTION_CHUNK_TOPIC = "rtc/action_chunk"  # policy publishes, executor merges
EXECUTOR_STATUS_TOPIC = "rtc/executor_status"  # executor publishes, policy plans with it
TIMING_TOPIC = "rtc/timing"  # policy publishes rtc_msgs/InferenceTiming
JOINT_STATES_TOPIC = "joint_states"  # both read the arm's joint states
TASK_TOPIC = "rtc/task"  # std_msgs/String: the policy's language instruction from its next inference on
# The executor's command topic for each command_type.
COMMAND_TOPICS = {
    "joint_state": "so100/command",
    "float64_array": "so100/command_array",
    "trajectory": "so100/joint_trajectory",
}
DIAGNOSTICS_TOPIC = "/diagnostics"  # global: every node's diagnostic_msgs/DiagnosticArray
ROBOT_DESCRIPTION_TOPIC = "robot_description"  # std_msgs/String, transient local: the URDF
IMAGE_TYPE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE_TYPE = "sensor_msgs/msg/CompressedImage"
# The type ("pkg/msg/Name") our nodes publish on each topic: the one table the recorder, the report,
# the replay and the Foxglove server read. Camera topics are the policy's own (`image_type`).
TOPIC_TYPES = {
    JOINT_STATES_TOPIC: "sensor_msgs/msg/JointState",
    COMMAND_TOPICS["joint_state"]: "sensor_msgs/msg/JointState",
    COMMAND_TOPICS["float64_array"]: "std_msgs/msg/Float64MultiArray",
    COMMAND_TOPICS["trajectory"]: "trajectory_msgs/msg/JointTrajectory",
    ACTION_CHUNK_TOPIC: "rtc_msgs/msg/ActionChunk",
    EXECUTOR_STATUS_TOPIC: "rtc_msgs/msg/ExecutorStatus",
    TIMING_TOPIC: "rtc_msgs/msg/InferenceTiming",
    TASK_TOPIC: "std_msgs/msg/String",
    DIAGNOSTICS_TOPIC: "diagnostic_msgs/msg/DiagnosticArray",
    ROBOT_DESCRIPTION_TOPIC: "std_msgs/msg/String",
}
# The executor's std_srvs/Trigger services, private to its node (docs/executor.md, "Runtime control").
EXECUTOR_SERVICES = ("~/hold", "~/resume", "~/reset")
# What moves the arm or corrupts the executor's and the policy's view of it when published by
# anything but the graph's own nodes (rtc_play leaves them out unless --allow-actuation).
ACTUATING_TOPICS = (*COMMAND_TOPICS.values(), JOINT_STATES_TOPIC, EXECUTOR_STATUS_TOPIC)


def actuates(topic: str) -> bool:
    """Whether the resolved `topic` (in any namespace) is one of ACTUATING_TOPICS."""
    return any(topic.rstrip("/").endswith("/" + relative) or topic == relative for relative in ACTUATING_TOPICS)


def image_type(topic: str) -> str:
    """A camera topic's type, by the policy node's rule: ending in /compressed, a CompressedImage."""
    return COMPRESSED_IMAGE_TYPE if topic.rstrip("/").endswith("/compressed") else IMAGE_TYPE


def in_root(topic: str) -> str:
    """`topic` resolved in the root namespace, as a bag of a graph run without a namespace names it."""
    return topic if topic.startswith("/") else "/" + topic


def root_types(*topics: str) -> dict[str, str]:
    """{topic in the root namespace: its type} for `topics` (names of TOPIC_TYPES), in their order."""
    return {in_root(topic): TOPIC_TYPES[topic] for topic in topics}

# The executor's node name and its /diagnostics statuses, named "<node name>: <component>"
# (rtc_runtime.diagnostics): the components it adds, and the full names under its default node name.
EXECUTOR_NODE = "rtc_executor"
CONTROL_LOOP_COMPONENT = "control loop"
MEASURED_STATE_COMPONENT = "measured state"
EXECUTOR_CONTROL_LOOP_STATUS = f"{EXECUTOR_NODE}: {CONTROL_LOOP_COMPONENT}"
EXECUTOR_MEASURED_STATE_STATUS = f"{EXECUTOR_NODE}: {MEASURED_STATE_COMPONENT}"
