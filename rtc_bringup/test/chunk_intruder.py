"""A third party on the DDS domain that tries to move the arm: `python chunk_intruder.py KEY OUT.json`.

Run by test_system_two_hosts.py in its own network namespace. It waits for the policy's signed
chunks to merge, then publishes valid-looking chunks (the newest genuine one made to look like the
next, 0.02 rad off): unsigned, signed by KEY (a key the executor does not trust), and a recorded
genuine chunk sent again, each until the executor has counted it. It watches the executor for a
while and writes what it saw as JSON: the executor's rejections by reason and how often each was sent,
the chunk ids the executor played after the attack, its own ids and the policy's ids.
"""
from __future__ import annotations

import copy
import json
import sys
import time
from pathlib import Path

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rtc_msgs.msg import ActionChunk, ExecutorStatus
from rtc_contract.chunk_signature import ChunkSigner, load_private_key
from rtc_contract.topics import EXECUTOR_CONTROL_LOOP_STATUS

RELIABLE = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
ID_OFFSET = 100_000  # the intruder's chunk ids: far above any the policy reaches in a test
REASONS = ("unsigned", "unknown_key", "replay")  # the executor's refusal of each attack chunk
RESENDS, RESEND_AFTER_S = 30, 1.0


def main(key_file: str, out: str) -> int:
    rclpy.init()
    node = rclpy.create_node("chunk_intruder")
    genuine: list[ActionChunk] = []
    statuses: list[ExecutorStatus] = []
    diag: dict[str, str] = {}

    def on_diag(msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name == EXECUTOR_CONTROL_LOOP_STATUS:
                diag.update({kv.key: kv.value for kv in status.values})

    pub = node.create_publisher(ActionChunk, "/rtc/action_chunk", RELIABLE)
    node.create_subscription(ActionChunk, "/rtc/action_chunk", genuine.append, RELIABLE)
    node.create_subscription(ExecutorStatus, "/rtc/executor_status", statuses.append, RELIABLE)
    node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, 50)

    def spin_until(condition, timeout_s: float) -> bool:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end and not condition():
            rclpy.spin_once(node, timeout_sec=0.05)
        return condition()

    def counted() -> dict[str, int]:
        items = [item.split("=") for item in diag.get("rejected_by_reason", "").split(", ") if item]
        return {code: int(dict(items).get(code, 0)) for code in REASONS}

    result: dict = {"ready": spin_until(lambda: len(genuine) >= 2 and statuses and statuses[-1].merged_count >= 3
                                        and pub.get_subscription_count() >= 2, 150)}  # the executor and us
    if result["ready"]:
        recorded = copy.deepcopy(genuine[-2])

        def attack(n: int) -> ActionChunk:
            chunk = copy.deepcopy(genuine[-1])
            chunk.chunk_id += ID_OFFSET + n
            chunk.source_step = statuses[-1].step
            chunk.actions = (np.asarray(chunk.actions, dtype=np.float32) + np.float32(0.02)).tolist()
            return chunk

        unsigned, other_key = attack(0), attack(1)
        unsigned.key_id, unsigned.signature = "", b""
        other_key.signature = ChunkSigner(load_private_key(Path(key_file))).sign(other_key)
        before = len(statuses)
        sent = dict.fromkeys(REASONS, 0)
        # Each until the executor counts it: on the lossy link the executor's reader may not have matched
        # this writer yet when our writer has matched it, and a volatile reader drops what came before.
        for code, chunk in zip(REASONS, (unsigned, other_key, recorded)):
            while sent[code] < RESENDS and not counted()[code]:
                pub.publish(chunk)
                sent[code] += 1
                spin_until(lambda code=code: counted()[code] > 0, RESEND_AFTER_S)
        spin_until(lambda: counted() == sent, 3 * RESEND_AFTER_S)  # a copy counted after its resend went
        result.update(counted=counted(), sent=sent)
        spin_until(lambda: False, 3.0)  # the executor keeps playing
        after = statuses[before:]
        result.update(
            served=sorted({s.served_chunk_id for s in after} | {s.active_chunk_id for s in after}),
            intruder_ids=[unsigned.chunk_id, other_key.chunk_id],
            genuine_ids=sorted({c.chunk_id for c in genuine if c.chunk_id < ID_OFFSET}),
            merged_during=after[-1].merged_count - after[0].merged_count if after else 0)
    result["rejected_by_reason"] = diag.get("rejected_by_reason", "")
    Path(out).write_text(json.dumps(result))
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
