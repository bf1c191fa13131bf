"""chunk_signature: what a signature covers, which chunks verify, replays (per key and source, no
clock), keys on disk; and the executor's admission: sizes by counting, then the session, then the
signature, before anything else."""
from __future__ import annotations

import copy
import stat
from types import SimpleNamespace

import numpy as np
import pytest

from rtc_executor.core.chunk_admission import BAD_ID, OTHER_SESSION, TOO_LONG, ChunkAdmission
from rtc_executor.core.chunk_contract import SIZE_MISMATCH
from rtc_contract.chunk_signature import (BAD_SIGNATURE, FORMAT, REPLAY, UNKNOWN_KEY, UNSIGNED, ChunkSigner,
                                                  ChunkVerifier, KeyFileError, generate_key_pair, key_id,
                                                  load_private_key, load_public_key, public_key_files, signed_bytes)

SESSION = 0x5E5510_0000_0001  # the executor run the chunks are made for
JOINTS = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]


def stamp(sec: int, nanosec: int) -> SimpleNamespace:
    return SimpleNamespace(sec=sec, nanosec=nanosec)


def make_chunk(chunk_id: int = 7, end_sec: int = 1_700_000_010) -> SimpleNamespace:
    """An ActionChunk-shaped object, every field set to something distinct."""
    actions = np.random.default_rng(chunk_id).standard_normal((50, 6)).astype(np.float32)
    return SimpleNamespace(
        header=SimpleNamespace(stamp=stamp(1_700_000_000, 5), frame_id=""), chunk_id=chunk_id,
        source="/rtc_policy 3f9a0c1e", source_step=1234, inference_delay=4, execution_horizon=25,
        guidance_mode="vjp", prev_chunk_id=chunk_id - 1, joint_names=list(JOINTS), length=50, action_dim=6,
        actions=actions.ravel().tolist(), inference_start=stamp(end_sec - 1, 100), inference_end=stamp(end_sec, 200),
        prev_chunk_row=3, state_stamp=stamp(1_700_000_000, 4), noise_seed=11, task="pick up the cube", session=SESSION,
        key_id="", signature=b"")


def signed(signer: ChunkSigner, chunk: SimpleNamespace) -> SimpleNamespace:
    chunk.signature = signer.sign(chunk)
    return chunk


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    directory = tmp_path_factory.mktemp("keys")
    return {name: generate_key_pair(directory / name) for name in ("policy", "other")}


def signer_of(keys, name: str) -> ChunkSigner:
    return ChunkSigner(load_private_key(keys[name][0]))


def verifier_of(keys, *names: str, allow_unsigned: bool = False) -> ChunkVerifier:
    return ChunkVerifier([load_public_key(keys[n][1]) for n in names], allow_unsigned)


# Every field a signature covers, and a change to it that a forger might make.
TAMPERING = {
    "chunk_id": lambda c: setattr(c, "chunk_id", c.chunk_id + 1),
    "source": lambda c: setattr(c, "source", "/rtc_policy 00000000"),
    "source_step": lambda c: setattr(c, "source_step", c.source_step + 1),
    "inference_delay": lambda c: setattr(c, "inference_delay", 0),
    "execution_horizon": lambda c: setattr(c, "execution_horizon", 10),
    "guidance_mode": lambda c: setattr(c, "guidance_mode", "off"),
    "prev_chunk_id": lambda c: setattr(c, "prev_chunk_id", 0),
    "joint_names (order)": lambda c: setattr(c, "joint_names", [JOINTS[1], JOINTS[0], *JOINTS[2:]]),
    "joint_names (text)": lambda c: setattr(c, "joint_names", [n.upper() for n in c.joint_names]),
    "length and action_dim": lambda c: (setattr(c, "length", 60), setattr(c, "action_dim", 5)),
    "actions (one value, one ulp)": lambda c: c.actions.__setitem__(
        17, float(np.nextafter(np.float32(c.actions[17]), np.float32(np.inf)))),
    "actions (rows swapped)": lambda c: setattr(c, "actions", c.actions[6:12] + c.actions[:6] + c.actions[12:]),
    "header.stamp": lambda c: setattr(c.header.stamp, "nanosec", 6),
    "header.frame_id": lambda c: setattr(c.header, "frame_id", "base_link"),
    "inference_start": lambda c: setattr(c.inference_start, "sec", 0),
    "inference_end": lambda c: setattr(c.inference_end, "nanosec", 201),
    "prev_chunk_row": lambda c: setattr(c, "prev_chunk_row", 4),
    "state_stamp": lambda c: setattr(c.state_stamp, "sec", 1),
    "noise_seed": lambda c: setattr(c, "noise_seed", -1),
    "task": lambda c: setattr(c, "task", "throw the cube"),
    "session": lambda c: setattr(c, "session", c.session + 1),
    "signature (one bit)": lambda c: setattr(c, "signature", bytes([c.signature[0] ^ 1]) + c.signature[1:]),
    "signature (truncated)": lambda c: setattr(c, "signature", c.signature[:63]),
}


def test_a_signed_chunk_verifies_once(keys):
    chunk = signed(signer_of(keys, "policy"), make_chunk())
    assert chunk.key_id == keys["policy"][2] and len(chunk.signature) == 64
    verifier = verifier_of(keys, "other", "policy")
    assert verifier.refusal(chunk) is None
    code, detail = verifier.refusal(copy.deepcopy(chunk))  # the same chunk again
    assert code == REPLAY and "chunk 7" in detail and keys["policy"][2] in detail


@pytest.mark.parametrize("field", sorted(TAMPERING))
def test_changing_any_signed_field_breaks_the_signature(keys, field):
    chunk = signed(signer_of(keys, "policy"), make_chunk())
    tampered = copy.deepcopy(chunk)
    TAMPERING[field](tampered)
    assert signed_bytes(tampered) != signed_bytes(chunk) or tampered.signature != chunk.signature
    code, detail = verifier_of(keys, "policy").refusal(tampered)
    assert code == BAD_SIGNATURE and detail.startswith("signature ")


def test_the_signed_bytes_are_versioned_and_carry_actions_as_float64():
    chunk = make_chunk()
    data = signed_bytes(chunk)
    assert data.startswith(FORMAT)
    assert np.asarray(chunk.actions, dtype="<f8").tobytes() in data
    # length-prefixed text: moving a character from one joint name to the next changes the bytes
    moved = copy.deepcopy(chunk)
    moved.joint_names = ["shoulder_pa", "nshoulder_lift", *JOINTS[2:]]
    assert signed_bytes(moved) != data


def test_unsigned_unknown_key_and_claimed_key_are_refused(keys):
    verifier = verifier_of(keys, "policy")
    assert verifier.refusal(make_chunk()) == (UNSIGNED, "chunk carries no signature")
    code, detail = verifier.refusal(signed(signer_of(keys, "other"), make_chunk()))
    assert code == UNKNOWN_KEY and keys["other"][2] in detail and keys["policy"][2] in detail
    forged = make_chunk()  # signed by another key while claiming the trusted one
    forged.signature = signer_of(keys, "other").sign(forged)
    forged.key_id = keys["policy"][2]
    assert verifier.refusal(forged)[0] == BAD_SIGNATURE


def test_allow_unsigned_passes_unsigned_chunks_but_still_checks_signed_ones(keys):
    verifier = verifier_of(keys, "policy", allow_unsigned=True)
    assert verifier.refusal(make_chunk()) is None
    assert verifier.refusal(signed(signer_of(keys, "other"), make_chunk()))[0] == UNKNOWN_KEY


def test_without_trusted_keys_nothing_is_verified(keys):
    verifier = ChunkVerifier(())
    assert not verifier.enabled
    assert verifier.refusal(make_chunk()) is None
    assert verifier.refusal(signed(signer_of(keys, "other"), make_chunk())) is None


def test_replay_is_per_key_and_source_and_reads_no_clock(keys):
    policy, other = signer_of(keys, "policy"), signer_of(keys, "other")
    verifier = verifier_of(keys, "policy", "other")
    first = signed(policy, make_chunk(5, end_sec=100))
    assert verifier.refusal(first) is None
    assert verifier.refusal(first)[0] == REPLAY
    assert verifier.refusal(signed(policy, make_chunk(4, end_sec=200)))[0] == REPLAY  # an older id, a later clock
    restarted = make_chunk(1, end_sec=101)  # a restarted policy node: a new source, ids from 1 again
    restarted.source = "/rtc_policy 77aa00bb"
    assert verifier.refusal(signed(policy, restarted)) is None
    assert verifier.refusal(signed(other, make_chunk(5, end_sec=100))) is None  # another key's own history


@pytest.mark.parametrize("step_s", [-3600, +3600], ids=["clock steps back", "clock steps forward"])
def test_a_signer_whose_clock_steps_is_not_locked_out(keys, step_s):
    """The signing clock is covered by the signature but judged by nothing: NTP stepping the policy
    host's clock either way (and back) never refuses its next chunks."""
    policy, verifier = signer_of(keys, "policy"), verifier_of(keys, "policy")
    ends = [1000, 1001, 1001 + step_s, 1002 + step_s, 1003]  # the step, then corrected
    for chunk_id, end in enumerate(ends, start=1):
        assert verifier.refusal(signed(policy, make_chunk(chunk_id, end_sec=end))) is None, (chunk_id, end)


def test_rotation_trusts_old_and_new_key_at_once(keys):
    verifier = verifier_of(keys, "policy", "other")
    assert verifier.refusal(signed(signer_of(keys, "policy"), make_chunk(1, end_sec=100))) is None
    assert verifier.refusal(signed(signer_of(keys, "other"), make_chunk(2, end_sec=101))) is None
    after = verifier_of(keys, "other")  # the old .pub removed
    assert after.refusal(signed(signer_of(keys, "policy"), make_chunk(3, end_sec=102)))[0] == UNKNOWN_KEY


def test_admission_counts_sizes_then_session_then_verifies_and_counts_each_reason(keys):
    admission = ChunkAdmission(max_length=10, verifier=verifier_of(keys, "policy"), session=SESSION)
    too_long_and_unsigned = make_chunk()
    refusal = admission.admit(too_long_and_unsigned.source, 7, 50, 0.0, signed=too_long_and_unsigned)
    assert refusal.code == TOO_LONG  # by counting, before any signature is verified
    oversized = make_chunk()
    oversized.actions = oversized.actions * 1000  # the rows and joints it claims are few
    assert admission.admit(oversized.source, 7, 5, 0.0, signed=oversized).code == SIZE_MISMATCH
    small = make_chunk()
    small.length, small.actions = 5, small.actions[:30]
    assert admission.admit(small.source, 7, 5, 0.0, signed=small).reason == "unsigned: chunk carries no signature"
    assert admission.admit("x", 1, 5, 0.0).code == UNSIGNED  # no fields to verify
    chunk = signed(signer_of(keys, "policy"), copy.deepcopy(small))
    assert admission.admit(chunk.source, chunk.chunk_id, 5, 0.0, signed=chunk) is None
    admission.merged(chunk.source, chunk.chunk_id, 0.0)
    admission.tick()
    assert admission.admit(chunk.source, chunk.chunk_id, 5, 0.1, signed=chunk).code == REPLAY
    assert admission.admit(chunk.source, chunk.chunk_id, 5, 0.1).code == UNSIGNED
    assert admission.counters() == {TOO_LONG: 1, SIZE_MISMATCH: 1, UNSIGNED: 3, REPLAY: 1}


def test_a_chunk_of_another_session_is_refused_replay_after_an_executor_restart(keys):
    """Chunks signed for one executor run, replayed into the next (same keys, a new session): refused
    before verification, as another session; the policy's next chunk, for the new session, merges."""
    policy = signer_of(keys, "policy")
    recorded = [signed(policy, make_chunk(i)) for i in (1, 2)]
    before = ChunkAdmission(max_length=60, verifier=verifier_of(keys, "policy"), session=SESSION)
    assert before.admit(recorded[0].source, 1, 50, 0.0, signed=recorded[0]) is None
    after = ChunkAdmission(max_length=60, verifier=verifier_of(keys, "policy"), session=SESSION + 1)
    for chunk in recorded:
        refusal = after.admit(chunk.source, chunk.chunk_id, 50, 0.0, signed=chunk)
        assert refusal.code == OTHER_SESSION and f"{SESSION:016x}" in refusal.detail
    fresh = make_chunk(3)
    fresh.session = SESSION + 1
    assert after.admit(fresh.source, 3, 50, 0.0, signed=signed(policy, fresh)) is None
    unsigned_none = make_chunk(4)
    unsigned_none.session = 0  # a signed chunk must name this session; 0 is for unsigned ones only
    assert after.admit(unsigned_none.source, 4, 50, 0.0, signed=signed(policy, unsigned_none)).code == OTHER_SESSION
    assert after.counters() == {OTHER_SESSION: 3}


def test_without_keys_a_chunk_naming_another_session_is_refused_and_none_is_accepted():
    admission = ChunkAdmission(max_length=60, session=SESSION)
    chunk = make_chunk()
    assert admission.admit(chunk.source, 7, 50, 0.0, signed=chunk) is None
    stale = make_chunk(8)
    stale.session = SESSION - 1
    assert admission.admit(stale.source, 8, 50, 0.0, signed=stale).code == OTHER_SESSION
    legacy = make_chunk(9)
    legacy.session = 0
    admission.tick()
    assert admission.admit(legacy.source, 9, 50, 0.0, signed=legacy) is None


def test_admission_without_keys_is_unchanged():
    admission = ChunkAdmission(max_length=60)
    chunk = make_chunk()
    assert admission.admit(chunk.source, 7, 50, 0.0, signed=chunk) is None
    admission.merged(chunk.source, 7, 0.0)
    admission.tick()
    assert admission.admit(chunk.source, 7, 50, 0.1, signed=chunk).code == BAD_ID


def test_key_files(tmp_path):
    private_path, public_path, kid = generate_key_pair(tmp_path / "policy_a")
    assert (private_path.name, public_path.name) == ("policy_a.key", "policy_a.pub")
    assert stat.S_IMODE(private_path.stat().st_mode) == 0o600
    assert private_path.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert public_path.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert len(kid) == 16 and key_id(load_public_key(public_path)) == kid
    assert ChunkSigner(load_private_key(private_path)).key_id == kid
    with pytest.raises(FileExistsError, match="never overwritten"):
        generate_key_pair(tmp_path / "policy_a")
    with pytest.raises(KeyFileError, match="cannot read public key"):
        load_public_key(private_path)
    with pytest.raises(KeyFileError, match="cannot read private key"):
        load_private_key(public_path)
    generate_key_pair(tmp_path / "policy_b")
    assert [p.name for p in public_key_files([str(tmp_path)])] == ["policy_a.pub", "policy_b.pub"]
    assert public_key_files([str(public_path)]) == [public_path]
    with pytest.raises(KeyFileError, match="neither"):
        public_key_files([str(tmp_path / "missing.pub")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(KeyFileError, match="no \\*.pub file"):
        public_key_files([str(tmp_path / "empty")])
