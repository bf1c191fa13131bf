"""The topics and services of the policy and executor nodes, relative (they follow the node's namespace).

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
# The executor's std_srvs/Trigger services, private to its node (docs/executor.md, "Runtime control").
EXECUTOR_SERVICES = ("~/hold", "~/resume", "~/reset")
