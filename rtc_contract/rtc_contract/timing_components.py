"""The component names of the policy node's per-chunk timings, by their /rtc/timing field.

One table for the policy node (it records each field under its component name with
rtc_runtime.profiling, for its shutdown summary) and the run report (it builds the same summary
from a recorded /rtc/timing), so both speak the names of docs/profiling.md. `obs_to_chunk` is the
whole; the components listed after it add up to it (rtc_msgs/msg/InferenceTiming.msg).
"""
from __future__ import annotations

WHOLE = "obs_to_chunk"

COMPONENTS = {  # InferenceTiming field -> component name
    "end_to_end_ms": WHOLE,
    "observation_age_ms": "observation_age.image",
    "image_transport_ms": "observation_age.image_transport",
    "image_wait_ms": "observation_age.image_wait",
    "joint_state_age_ms": "observation_age.joint_states",
    "trigger_wait_ms": "trigger_wait",
    "preprocessing_ms": "get_actions.preprocessing",
    "policy_inference_ms": "get_actions.policy_inference",
    "guidance_ms": "rtc.guidance",
    "extra_latency_wait_ms": "extra_latency",
    "postprocessing_ms": "get_actions.postprocessing",
    "publish_ms": "chunk.publish",
}

# The fields whose sum is end_to_end_ms.
PARTS = ("observation_age_ms", "preprocessing_ms", "policy_inference_ms", "extra_latency_wait_ms",
         "postprocessing_ms", "publish_ms")
