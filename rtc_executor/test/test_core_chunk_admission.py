"""ChunkAdmission: length, ids per source, one source followed at a time, one merge per tick."""
from __future__ import annotations

import pytest

from rtc_contract.rejections import RejectionCode
from rtc_contract.chunk_signature import ChunkVerifier, generate_key_pair, load_public_key
from rtc_executor.core.chunk_admission import LOCKOUT_REFUSALS, SOURCES_KEPT, ChunkAdmission


def admit_and_merge(admission: ChunkAdmission, source: str, chunk_id: int, now: float, length: int = 10):
    refusal = admission.admit(source, chunk_id, length, now)
    if refusal is None:
        admission.merged(source, chunk_id, now)
    return refusal


def test_length_and_id_zero_are_refused():
    admission = ChunkAdmission(max_length=50)
    assert admission.admit("a", 1, 51, 0.0).code == RejectionCode.TOO_LONG
    refusal = admission.admit("a", 0, 10, 0.0)
    assert refusal.code == RejectionCode.BAD_ID and refusal.reason == "bad_id: chunk id 0 is reserved"
    assert admit_and_merge(admission, "a", 1, 0.0, length=50) is None
    assert admission.counters() == {RejectionCode.TOO_LONG: 1, RejectionCode.BAD_ID: 1}


def test_ids_increase_strictly_per_source():
    admission = ChunkAdmission(max_length=50, follow_one_source=False)
    assert admit_and_merge(admission, "a", 5, 0.0) is None
    admission.tick()
    assert admission.admit("a", 5, 10, 0.1).code == RejectionCode.BAD_ID
    assert "not above 5" in admission.admit("a", 3, 10, 0.1).detail
    assert admit_and_merge(admission, "b", 1, 0.1) is None  # another source has its own ids
    assert admit_and_merge(admission, "a", 6, 0.1) is None


def test_a_source_whose_ids_fall_behind_is_a_lockout_said_with_what_to_do():
    """Without keys, chunks under the policy's name with a huge id lock the policy out (its ids stay
    below); the admission says so, and why, once it is more than one stray chunk."""
    admission = ChunkAdmission(max_length=50)
    assert admit_and_merge(admission, "policy", 1, 0.0) is None
    admission.tick()
    assert admit_and_merge(admission, "policy", 2**64 - 1, 0.01) is None  # an intruder under its name
    for n in range(2, 2 + LOCKOUT_REFUSALS):
        admission.tick()
        assert admission.lockout() == ""  # one or two late chunks are not yet a lockout
        assert admission.admit("policy", n, 10, 0.02 * n).code == RejectionCode.BAD_ID
    lockout = admission.lockout()
    assert lockout.startswith(f"policy locked out: {LOCKOUT_REFUSALS} chunks in a row refused as bad_id")
    assert "configure trusted_keys" in lockout and "restart the policy node" in lockout
    assert admit_and_merge(admission, "restarted policy", 1, 5.0) is None  # a new source: over
    assert admission.lockout() == ""


def test_a_lockout_ends_when_the_source_merges_again_and_names_allow_unsigned(tmp_path):
    _, public, _ = generate_key_pair(tmp_path / "policy")
    admission = ChunkAdmission(max_length=50, verifier=ChunkVerifier([load_public_key(public)], allow_unsigned=True))
    assert admit_and_merge(admission, "policy", 9, 0.0) is None  # unsigned, allowed
    for n in range(1, 1 + LOCKOUT_REFUSALS):
        admission.tick()
        assert admission.admit("policy", n, 10, 0.1).code == RejectionCode.BAD_ID
    assert "drop allow_unsigned" in admission.lockout() and "configure trusted_keys" not in admission.lockout()
    admission.tick()
    assert admit_and_merge(admission, "policy", 10, 0.2) is None  # its ids in order again
    assert admission.lockout() == ""


def test_a_refused_or_unmerged_chunk_uses_no_id_and_takes_no_arm():
    admission = ChunkAdmission(max_length=50)
    assert admission.admit("attacker", 1, 10, 0.0) is None  # admitted, then rejected by content
    assert admit_and_merge(admission, "policy", 1, 0.0) is None
    assert admission.followed == "policy"


def test_one_source_is_followed_until_it_falls_silent():
    admission = ChunkAdmission(max_length=50, source_timeout_s=2.0)
    assert admit_and_merge(admission, "policy", 1, 0.0) is None
    admission.tick()
    refusal = admission.admit("intruder", 1, 10, 1.0)
    assert refusal.code == RejectionCode.OTHER_SOURCE and "following source policy" in refusal.detail
    assert admit_and_merge(admission, "policy", 2, 1.5) is None
    assert admission.admit("intruder", 2, 10, 3.4).code == RejectionCode.OTHER_SOURCE  # heard at 1.5
    assert admit_and_merge(admission, "restarted policy", 1, 3.6) is None
    assert admission.followed == "restarted policy" and admission.source_changes == 1


def test_a_second_chunk_before_the_next_tick_is_refused():
    admission = ChunkAdmission(max_length=50)
    assert admit_and_merge(admission, "policy", 1, 0.0) is None
    flood = [admission.admit("policy", i, 10, 0.0) for i in range(2, 100)]
    assert {r.code for r in flood} == {RejectionCode.RATE}
    admission.tick()
    assert admit_and_merge(admission, "policy", 100, 0.01) is None
    assert admission.counters() == {RejectionCode.RATE: 98}


def test_known_sources_are_bounded():
    admission = ChunkAdmission(max_length=50, follow_one_source=False)
    for i in range(SOURCES_KEPT + 10):
        assert admit_and_merge(admission, f"s{i}", 1, 0.0) is None
    assert len(admission._last_ids) == SOURCES_KEPT


@pytest.mark.parametrize("kwargs", [dict(max_length=0), dict(max_length=5, source_timeout_s=0.0)])
def test_bad_parameters(kwargs):
    with pytest.raises(ValueError):
        ChunkAdmission(**kwargs)
