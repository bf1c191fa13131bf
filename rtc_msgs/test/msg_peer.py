"""One side of the ActionChunk round trip, run as its own OS process by test_msgs_roundtrip.py.

`msg_peer.py pub` publishes the reference chunk until killed; `msg_peer.py sub` prints the first
chunk it receives as JSON (float32 actions as their exact bit patterns) and exits.
"""
from __future__ import annotations

import json
import sys

import numpy as np
import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy, DurabilityPolicy
from rtc_msgs.msg import ActionChunk

TOPIC = "/rtc/test_chunk"
QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE)
JOINTS = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]


def reference_chunk() -> ActionChunk:
    rng = np.random.default_rng(7)
    actions = rng.standard_normal((50, 6)).astype(np.float32)
    actions[0, 0] = np.float32(np.pi)  # values that must survive bit-exactly
    actions[0, 1] = np.nextafter(np.float32(1.0), np.float32(2.0))
    msg = ActionChunk()
    msg.header.stamp.sec, msg.header.stamp.nanosec = 1_700_000_000, 123_456_789
    msg.header.frame_id = "base_link"
    msg.chunk_id = 2**40 + 3
    msg.source_step = 987_654_321
    msg.inference_delay = 6
    msg.execution_horizon = 25
    msg.guidance_mode = ActionChunk.MODE_VJP
    msg.prev_chunk_id = 2**40 + 2
    msg.joint_names = JOINTS
    msg.length, msg.action_dim = actions.shape
    msg.actions = actions.ravel().tolist()
    msg.inference_start.sec, msg.inference_start.nanosec = 1_700_000_000, 200_000_000
    msg.inference_end.sec, msg.inference_end.nanosec = 1_700_000_000, 999_999_999
    msg.prev_chunk_row = 17
    msg.state_stamp.sec, msg.state_stamp.nanosec = 1_699_999_999, 987_654_321
    msg.noise_seed = 2**40 + 5
    msg.key_id = "0123456789abcdef"
    msg.signature = bytes(range(64))
    return msg


def as_dict(msg: ActionChunk) -> dict:
    """Every field, with float32 actions as uint32 bit patterns so equality means bit-exact."""
    return {
        "stamp": [msg.header.stamp.sec, msg.header.stamp.nanosec],
        "frame_id": msg.header.frame_id,
        "chunk_id": msg.chunk_id,
        "source_step": msg.source_step,
        "inference_delay": msg.inference_delay,
        "execution_horizon": msg.execution_horizon,
        "guidance_mode": msg.guidance_mode,
        "prev_chunk_id": msg.prev_chunk_id,
        "joint_names": list(msg.joint_names),
        "length": msg.length,
        "action_dim": msg.action_dim,
        "actions_bits": np.asarray(msg.actions, dtype=np.float32).view(np.uint32).tolist(),
        "inference_start": [msg.inference_start.sec, msg.inference_start.nanosec],
        "inference_end": [msg.inference_end.sec, msg.inference_end.nanosec],
        "prev_chunk_row": msg.prev_chunk_row,
        "state_stamp": [msg.state_stamp.sec, msg.state_stamp.nanosec],
        "noise_seed": msg.noise_seed,
        "key_id": msg.key_id,
        "signature": list(msg.signature),
    }


def main() -> None:
    role = sys.argv[1]
    rclpy.init()
    node = rclpy.create_node(f"msg_peer_{role}")
    if role == "pub":
        pub = node.create_publisher(ActionChunk, TOPIC, QOS)
        msg = reference_chunk()
        node.create_timer(0.05, lambda: pub.publish(msg))
        rclpy.spin(node)
    else:
        received: list[ActionChunk] = []
        node.create_subscription(ActionChunk, TOPIC, received.append, QOS)
        while not received:
            rclpy.spin_once(node, timeout_sec=0.1)
        print(json.dumps(as_dict(received[0])), flush=True)
    node.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
