"""Authenticated chunks over DDS: the simulated graph runs from the runner with a signing key and the
matching trusted key, and this test process, a third party on the same DDS domain, publishes
valid-looking chunks that are unsigned, signed by another key, forged, tampered and replayed. The
policy's chunks merge; none of the intruder's is ever played, and the executor's /diagnostics count
each one under its reason."""
from __future__ import annotations

import copy
import subprocess
import sys
import time

import numpy as np
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rtc_msgs.msg import ActionChunk, ExecutorStatus
from rtc_contract.topics import EXECUTOR_CONTROL_LOOP_STATUS

pytestmark = [pytest.mark.ros, pytest.mark.slow]

RELIABLE = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
ID_OFFSET = 100_000  # the intruder's chunk ids: far above any the policy reaches in this test


def keygen(prefix) -> str:
    """Run the installed `rtc_keygen`; its key id."""
    from ament_index_python.packages import get_package_prefix

    script = get_package_prefix("rtc_contract") + "/lib/rtc_contract/rtc_keygen"
    out = subprocess.run([script, str(prefix)], check=True, capture_output=True, text=True).stdout
    return out.split()[2].rstrip(":")


class Intruder:
    """Records the policy's chunks, publishes its own, watches the executor."""

    def __init__(self) -> None:
        self.node = rclpy.create_node("chunk_intruder")
        self.pub = self.node.create_publisher(ActionChunk, "/rtc/action_chunk", RELIABLE)
        self.genuine: list[ActionChunk] = []
        self.statuses: list[ExecutorStatus] = []
        self.executor_diag: dict[str, str] = {}
        self.node.create_subscription(ActionChunk, "/rtc/action_chunk", self.genuine.append, RELIABLE)
        self.node.create_subscription(ExecutorStatus, "/rtc/executor_status", self.statuses.append, RELIABLE)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, 50)

    def _on_diag(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name == EXECUTOR_CONTROL_LOOP_STATUS:
                self.executor_diag = {"message": status.message, **{kv.key: kv.value for kv in status.values}}

    def spin_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            rclpy.spin_once(self.node, timeout_sec=0.02)

    def wait_for(self, condition, timeout: float, what: str, graph, processes) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if condition():
                return
            assert graph.poll() is None, "graph exited:\n" + processes.log(graph)
            self.spin_for(0.1)
        pytest.fail(f"timed out waiting for {what}; executor diagnostics {self.executor_diag}\n"
                    + processes.log(graph)[-4000:])


@pytest.fixture
def intruder():
    rclpy.init()
    node = Intruder()
    try:
        yield node
    finally:
        node.node.destroy_node()
        rclpy.try_shutdown()


def test_only_chunks_signed_by_a_trusted_key_move_the_arm(processes, intruder, tmp_path):
    from rtc_contract.chunk_signature import ChunkSigner, load_private_key

    policy_id = keygen(tmp_path / "policy")
    intruder_id = keygen(tmp_path / "intruder")
    intruder_key = ChunkSigner(load_private_key(tmp_path / "intruder.key"))
    graph = processes.start([sys.executable, "-m", "rtc_bringup.run", "--sim",
                             f"signing_key:={tmp_path / 'policy.key'}", f"trusted_keys:={tmp_path / 'policy.pub'}"],
                            name="graph")

    # The policy's signed chunks merge.
    intruder.wait_for(lambda: intruder.statuses and intruder.statuses[-1].merged_count >= 3, 120,
                      "three merged chunks", graph, processes)
    intruder.wait_for(lambda: "chunk_authentication" in intruder.executor_diag, 30, "executor diagnostics",
                      graph, processes)
    assert intruder.executor_diag["chunk_authentication"] == f"keys {policy_id}"
    assert all(c.key_id == policy_id and len(c.signature) == 64 for c in intruder.genuine)
    recorded = copy.deepcopy(intruder.genuine[-1])
    intruder.spin_for(0.5)  # the executor has verified the recorded chunk

    def attack(n: int) -> ActionChunk:
        """The newest genuine chunk, made to look like the next one, moved 0.02 rad (within the guard)."""
        chunk = copy.deepcopy(intruder.genuine[-1])
        chunk.chunk_id += ID_OFFSET + n
        chunk.source_step = intruder.statuses[-1].step
        chunk.actions = (np.asarray(chunk.actions, dtype=np.float32) + np.float32(0.02)).tolist()
        return chunk

    unsigned, other_key, forged, tampered = (attack(n) for n in range(4))
    unsigned.key_id, unsigned.signature = "", b""
    other_key.signature = intruder_key.sign(other_key)
    forged.signature = intruder_key.sign(forged)
    forged.key_id = policy_id  # claims the trusted key
    # tampered: the policy's signature kept over moved actions (attack() changed them after signing)
    intruder_ids = {c.chunk_id for c in (unsigned, other_key, forged, tampered)}
    before = intruder.statuses[-1]
    for chunk in (unsigned, other_key, forged, tampered, recorded):
        intruder.pub.publish(chunk)
        intruder.spin_for(0.1)

    expected = {"unsigned": 1, "unknown_key": 1, "bad_signature": 2, "replay": 1}

    def counted() -> dict[str, int]:
        text = intruder.executor_diag.get("rejected_by_reason", "")
        counts = dict(item.split("=") for item in text.split(", ") if item)
        return {code: int(counts.get(code, 0)) for code in expected}

    intruder.wait_for(lambda: counted() == expected, 30, f"rejections {expected}", graph, processes)
    intruder.wait_for(lambda: intruder.statuses[-1].merged_count > before.merged_count + 2, 30,
                      "more merged policy chunks", graph, processes)
    after = intruder.statuses[intruder.statuses.index(before):]
    served = {s.served_chunk_id for s in after} | {s.active_chunk_id for s in after}
    assert not served & intruder_ids, "an intruder's chunk was played"
    genuine_ids = {c.chunk_id for c in intruder.genuine if c.key_id == policy_id and c.chunk_id < ID_OFFSET}
    assert served - {0} <= genuine_ids
    assert counted() == expected  # nothing else was refused for authenticity
    assert "bad_signature" in intruder.executor_diag["rejected_by_reason"]
    assert intruder.executor_diag["chunk_authentication"] == f"keys {policy_id}"
    assert intruder_id not in intruder.executor_diag["chunk_authentication"]
