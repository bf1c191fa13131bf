"""The topics of so100_driver's nodes, relative (they follow the node's namespace) unless absolute, and
the driver's /diagnostics status names.

Plain constants, no rclpy, so the nodes and the graph's access-control policy
(rtc_bringup.sros2_policy) name the same topics."""

JOINT_STATES_TOPIC = "joint_states"  # driver publishes; sim camera, policy and executor read
COMMAND_TOPIC = "so100/command"  # sensor_msgs/JointState, the executor's command
COMMAND_ARRAY_TOPIC = "so100/command_array"  # std_msgs/Float64MultiArray, the executor's command
IMAGE_TOPIC = "camera/front/image_raw"  # sim camera publishes

CAMERA_TOPICS = {  # the twin's cameras (sensor_msgs/Image); front is the simulated camera's topic too
    "front": IMAGE_TOPIC,
    "wrist": "camera/wrist/image_raw",
}

# The driver's node name and its /diagnostics statuses, named "<node name>: <component>"
# (rtc_runtime.diagnostics): the components it adds, and the full names under its default node name.
DRIVER_NODE = "so100_driver"
BUS_COMPONENT = "bus"
CONTROL_LOOP_COMPONENT = "control loop"
COMMAND_WRITER_COMPONENT = "command writer"
DRIVER_BUS_STATUS = f"{DRIVER_NODE}: {BUS_COMPONENT}"
DRIVER_CONTROL_LOOP_STATUS = f"{DRIVER_NODE}: {CONTROL_LOOP_COMPONENT}"
DRIVER_COMMAND_WRITER_STATUS = f"{DRIVER_NODE}: {COMMAND_WRITER_COMPONENT}"
