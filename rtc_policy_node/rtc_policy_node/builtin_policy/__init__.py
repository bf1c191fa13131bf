"""The built-in small flow-matching policy (LeRobot policy type `small_flow`).

Importing this package registers the type with LeRobot, after which LeRobot's own loading code
(`PreTrainedConfig.from_pretrained`, `get_policy_class`, `make_pre_post_processors`) handles it;
`rtc_policy_node.lerobot_policy.LeRobotPolicy` is the one place that loads and samples it.
"""

from rtc_policy_node.builtin_policy.checkpoint import CheckpointError, default_checkpoint_path, read_policy_config
from rtc_policy_node.builtin_policy.configuration_small_flow import CAMERA_KEY, POLICY_TYPE, SmallFlowConfig

__all__ = ["CAMERA_KEY", "POLICY_TYPE", "CheckpointError", "SmallFlowConfig", "default_checkpoint_path",
           "read_policy_config"]
