"""What authenticating a chunk costs: the policy node's signing and the executor's verification of
one 50x6 rtc_msgs/ActionChunk, as the nodes do it (docs/authentication.md).

Per chunk, interleaved so that background load hits every part alike: the canonical bytes alone
(`signed_bytes`), signing (`ChunkSigner.sign`, bytes included) and verification with the replay
check (`ChunkVerifier.refusal`, bytes included), each chunk a fresh one (new inference_end), with
three trusted keys as during a rotation.

Usage (in the project's environment, `source tools/env.sh`):
  python bench/chunk_signature.py --chunks 5000
"""
from __future__ import annotations

import argparse
import array
import tempfile
import time
from pathlib import Path

import numpy as np
from rtc_msgs.msg import ActionChunk

from rtc_contract.chunk_signature import (ChunkSigner, ChunkVerifier, generate_key_pair, load_private_key,
                                                  load_public_key, signed_bytes)

JOINTS = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]


def chunk(rows: np.ndarray, chunk_id: int) -> ActionChunk:
    msg = ActionChunk(chunk_id=chunk_id, source="/rtc_policy 3f9a0c1e", source_step=1000 + chunk_id,
                      inference_delay=4, execution_horizon=25, guidance_mode="identity", prev_chunk_id=chunk_id - 1,
                      joint_names=JOINTS, length=rows.shape[0], action_dim=rows.shape[1])
    msg.actions = array.array("f", rows.astype(np.float32).tobytes())  # as the policy node fills it
    msg.inference_end.sec, msg.inference_end.nanosec = 1_800_000_000 + chunk_id // 1000, (chunk_id % 1000) * 1000
    return msg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=5000)
    parser.add_argument("--length", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        pairs = [generate_key_pair(Path(tmp) / f"key{i}") for i in range(3)]
        signer = ChunkSigner(load_private_key(pairs[0][0]))
        verifier = ChunkVerifier([load_public_key(p[1]) for p in pairs])
    rng = np.random.default_rng(0)
    times = {"signed_bytes": [], "sign": [], "verify": []}
    for i in range(1, args.chunks + 1):
        msg = chunk(rng.standard_normal((args.length, len(JOINTS))), i)
        t0 = time.perf_counter_ns()
        signed_bytes(msg)
        t1 = time.perf_counter_ns()
        msg.signature = signer.sign(msg)
        t2 = time.perf_counter_ns()
        refusal = verifier.refusal(msg)
        t3 = time.perf_counter_ns()
        assert refusal is None, refusal
        times["signed_bytes"].append(t1 - t0)
        times["sign"].append(t2 - t1)
        times["verify"].append(t3 - t2)
    print(f"{args.chunks} chunks of {args.length}x{len(JOINTS)}; microseconds per chunk")
    print(f"{'part':<14}{'p50':>9}{'p99':>9}{'mean':>9}")
    for name, values in times.items():
        us = np.asarray(values[10:]) / 1000.0  # the first few warm caches up
        print(f"{name:<14}{np.percentile(us, 50):9.1f}{np.percentile(us, 99):9.1f}{us.mean():9.1f}")


if __name__ == "__main__":
    main()
