"""The built-in small flow-matching policy (policy type `small_flow`).

The policy node loads it without LeRobot (`loading.load_small_flow`, `flow_model.SmallFlowModel`);
LeRobot sees it as its own policy type once `configuration_small_flow` is imported
(`modeling_small_flow.SmallFlowPolicy`, `processor_small_flow`: training, LeRobot's factory). This
package's own import needs no LeRobot.
"""

from rtc_policy_node.builtin_policy.checkpoint import CheckpointError, default_checkpoint_path
from rtc_policy_node.builtin_policy.flow_model import CAMERA_KEY, POLICY_TYPE

__all__ = ["CAMERA_KEY", "POLICY_TYPE", "CheckpointError", "default_checkpoint_path"]
