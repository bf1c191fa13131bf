"""Chunk admission: which chunks the executor looks at at all, before their content is checked.

One policy drives the arm at a time. A chunk is refused, with a reason code, when:

- `too_long`: it has more rows than `max_length` (one chunk must not queue minutes of motion), or
  its arrays are larger than those rows and joints can fill (`size_mismatch`): checked first, by
  counting, so no signature is verified over an oversized chunk;
- `other_session`: it names another executor run than this one (`session`, from ExecutorStatus):
  made for an earlier run and replayed, or by a policy that has not yet seen this run's status. A
  signed chunk must name this session; an unsigned one may name none (0) when it may merge unsigned;
- `unsigned`, `unknown_key`, `bad_signature`, `replay`: with trusted keys, it is not signed by one of
  them, or is a signed chunk seen before (`chunk_signature`; checked before anything the chunk's
  content or id decides, so nothing else about a chunk of unknown origin is looked at);
- `bad_id`: its id is 0 (the message spec reserves it for "none") or not above the last id
  merged from the same source (ids increase strictly per source). LOCKOUT_REFUSALS such chunks of
  one source in a row, with nothing merged since, are a lockout (`lockout`): chunks under its name
  with higher ids were merged (without trusted keys anyone can send them) or its ids went back, and
  it stays refused until it restarts as a new source; the executor reports it as an ERROR;
- `other_source`: it comes from another source than the one followed, while the followed one has
  had a chunk merged within `source_timeout_s` (with `follow_one_source`);
- `rate`: the same source already had a chunk merged since the last control tick (the merge is
  still pending: nothing of it has been played), so a flood merges at most one chunk per tick.

A source is the chunk's `source` string (`rtc_contract.chunk_source.run_source`: the publishing
node's name and a random run id), so a restarted policy node is a new source whose ids start
again from 1. (The publisher's DDS GID would need no field, but rclpy's EventsExecutor, which the executor spins for its latency,
cannot pass a subscription's MessageInfo.) Refusals move nothing; the executor counts and
reports them. Thread-safe (chunks arrive on the ROS thread, ticks on the control thread). No rclpy.
"""
from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from typing import NamedTuple

from rtc_contract.chunk_signature import SOURCES_KEPT, ChunkVerifier, SignedFields
from rtc_contract.rejections import RejectionCode

LOCKOUT_REFUSALS = 3  # chunks of one source in a row refused as not above its last merged id: locked out


class Refusal(NamedTuple):
    code: RejectionCode
    detail: str

    @property
    def reason(self) -> str:
        return f"{self.code}: {self.detail}"


class ChunkAdmission:
    def __init__(self, max_length: int, follow_one_source: bool = True, source_timeout_s: float = 2.0,
                 verifier: ChunkVerifier | None = None, session: int = 0, max_joints: int = 64) -> None:
        if max_length < 1:
            raise ValueError(f"max_chunk_length must be >= 1, got {max_length}")
        if not source_timeout_s > 0:
            raise ValueError(f"source_timeout_s must be positive, got {source_timeout_s}")
        self.max_length = int(max_length)
        self.follow_one_source = bool(follow_one_source)
        self.source_timeout_s = float(source_timeout_s)
        self.verifier = verifier or ChunkVerifier(())  # no trusted keys: chunks are not authenticated
        self.session = int(session)  # this executor run (ExecutorStatus.session); 0: none checked
        self.max_joints = int(max_joints)  # most columns a chunk may have (its joints)
        self._lock = threading.Lock()
        self._last_ids: OrderedDict[str, int] = OrderedDict()
        self._followed: str | None = None
        self._followed_at = 0.0
        self._pending: set[str] = set()
        self._behind: tuple[str, int, int, int] | None = None  # (source, refused in a row, latest id, its last)
        self.refused: Counter[str] = Counter()
        self.source_changes = 0

    def admit(self, source: str, chunk_id: int, length: int, now_s: float,
              signed: SignedFields | None = None) -> Refusal | None:
        """Judge one chunk (`now_s`: a monotonic clock, seconds); a refusal is counted. `signed`: the
        whole chunk, whose sizes and session are checked, then its signature verified when keys are
        trusted (None counts as unsigned)."""
        refusal = self._sizes(int(length), signed) or self._other_session(signed)
        if refusal is None:  # outside the lock: control ticks never wait for a verification
            refusal = self._authenticity(signed)
        with self._lock:
            if refusal is None:
                refusal = self._refusal(source, int(chunk_id), now_s)
            if refusal is not None:
                self.refused[refusal.code] += 1
            return refusal

    def merged(self, source: str, chunk_id: int, now_s: float) -> None:
        """An admitted chunk passed every later check and was merged: `source` is now followed,
        `chunk_id` its last id, and its merge pending until the next tick. Only merged chunks count,
        so chunks rejected later (content, timing) never take the arm from the followed source."""
        with self._lock:
            if source != self._followed:
                self.source_changes += self._followed is not None
                self._followed = source
            self._followed_at = now_s
            self._behind = None  # its ids in order again, or another source followed
            self._last_ids[source] = int(chunk_id)
            self._last_ids.move_to_end(source)
            while len(self._last_ids) > SOURCES_KEPT:
                self._last_ids.popitem(last=False)
            self._pending.add(source)

    def _sizes(self, length: int, chunk: SignedFields | None) -> Refusal | None:
        """Counting only: more rows than max_length, or arrays larger than the rows and joints fill."""
        if length > self.max_length:
            return Refusal(RejectionCode.TOO_LONG, f"{length} rows > max_chunk_length {self.max_length}")
        if chunk is None:
            return None
        names, values, dim = len(chunk.joint_names), len(chunk.actions), int(chunk.action_dim)
        if names > self.max_joints or dim > self.max_joints or values != length * dim:
            return Refusal(RejectionCode.SIZE_MISMATCH, f"{values} actions for {length} rows x action_dim {dim} "
                                          f"({names} joint names, at most {self.max_joints})")
        return None

    def _other_session(self, chunk: SignedFields | None) -> Refusal | None:
        if chunk is None or not self.session:
            return None
        session = int(getattr(chunk, "session", 0))
        unsigned = not bytes(chunk.signature) and not str(chunk.key_id)
        if session == self.session or (session == 0 and unsigned):
            return None
        return Refusal(RejectionCode.OTHER_SESSION, f"chunk {int(chunk.chunk_id)} is for executor session "
                                                    f"{session:016x}, this run is {self.session:016x}")

    def _authenticity(self, signed: SignedFields | None) -> Refusal | None:
        if not self.verifier.enabled:
            return None
        if signed is None:
            return None if self.verifier.allow_unsigned else Refusal(RejectionCode.UNSIGNED, "no chunk fields to verify")
        verdict = self.verifier.refusal(signed)
        return None if verdict is None else Refusal(*verdict)

    def _refusal(self, source: str, chunk_id: int, now_s: float) -> Refusal | None:
        if chunk_id == 0:
            return Refusal(RejectionCode.BAD_ID, "chunk id 0 is reserved")
        if (self.follow_one_source and self._followed is not None and source != self._followed
                and now_s - self._followed_at < self.source_timeout_s):
            return Refusal(RejectionCode.OTHER_SOURCE, f"following source {self._followed} (heard "
                                         f"{now_s - self._followed_at:.2f} s ago), not {source}")
        last = self._last_ids.get(source)
        if last is not None and chunk_id <= last:
            in_a_row = self._behind[1] + 1 if self._behind and self._behind[0] == source else 1
            self._behind = (source, in_a_row, chunk_id, last)
            return Refusal(RejectionCode.BAD_ID, f"id {chunk_id} is not above {last}, the last one from {source}")
        if source in self._pending:
            return Refusal(RejectionCode.RATE, f"{source} already has a chunk merged since the last tick")
        return None

    def tick(self) -> None:
        """A control tick ran: the merges before it are no longer pending."""
        with self._lock:
            self._pending.clear()

    def lockout(self) -> str:
        """What locks a source out and what to do, or "" (see the module's `bad_id`)."""
        with self._lock:
            behind = self._behind
        if behind is None or behind[1] < LOCKOUT_REFUSALS:
            return ""
        source, in_a_row, chunk_id, last = behind
        if not self.verifier.enabled:
            why = ("chunks are not authenticated (no trusted_keys), so anyone can send them under its name: "
                   "configure trusted_keys (docs/authentication.md)")
        elif self.verifier.allow_unsigned:
            why = ("unsigned chunks are allowed (allow_unsigned), so anyone can send them under its name: sign "
                   "the policy's chunks and drop allow_unsigned (docs/authentication.md)")
        else:
            why = "its chunk ids went back"
        return (f"{source} locked out: {in_a_row} chunks in a row refused as bad_id (id {chunk_id} is not above "
                f"{last}, the last merged under its name); {why}; restart the policy node to resume")

    @property
    def followed(self) -> str | None:
        with self._lock:
            return self._followed

    def counters(self) -> dict[str, int]:
        with self._lock:
            return dict(self.refused)
