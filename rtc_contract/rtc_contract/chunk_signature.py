"""Authenticated chunks: the policy node signs each ActionChunk, the executor merges only chunks
signed by a key it trusts (docs/authentication.md).

Transport-independent: the signature (Ed25519) covers `signed_bytes`, a canonical encoding of every
field the executor or a replay reads (source, ids, steps, delays, guidance, joints, shape, the
actions as float64 little-endian, the stamps, the seed, the task) and the key id, after a prefix naming the
format and its version, so no bytes signed for another purpose verify as a chunk. A key is named
by its id: the first 16 hex digits of the SHA-256 of its raw public key; several trusted keys at
once make rotation a matter of configuration.

A genuine chunk sent again must not move the arm again. Across executor runs the session does
it: every chunk carries, signed, the `session` of the executor run it was made for (the random id
in ExecutorStatus), and the executor refuses another session's chunks before verifying them
(`chunk_admission`), so chunks recorded from an earlier run are refused after a restart. Within a
run the chunk ids do it: per key and source (one policy node run), a chunk whose id is not above the
highest one verified is a replay. Neither rule reads a clock, so a signer whose clock steps back or
forward (NTP, a manual change) is never refused for it. Refusal codes: `unsigned`, `unknown_key`,
`bad_signature`, `replay`. No rclpy: a chunk is any object with the ActionChunk field names.
"""
from __future__ import annotations

import hashlib
import os
import struct
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

UNSIGNED = "unsigned"
UNKNOWN_KEY = "unknown_key"
BAD_SIGNATURE = "bad_signature"
REPLAY = "replay"

FORMAT = b"rtc-ros2/ActionChunk/ed25519/v3\0"  # domain separation and version of `signed_bytes`
KEY_ID_HEX = 16
SIGNATURE_BYTES = 64
SOURCES_KEPT = 64  # replay state kept for this many recent sources per key (a flood of sources cannot grow it)
PRIVATE_SUFFIX, PUBLIC_SUFFIX = ".key", ".pub"


class Stamp(Protocol):
    sec: int
    nanosec: int


class SignedFields(Protocol):
    """The ActionChunk fields a signature covers."""

    header: object  # .stamp (Stamp), .frame_id (str)
    chunk_id: int
    source: str
    source_step: int
    inference_delay: int
    execution_horizon: int
    guidance_mode: str
    prev_chunk_id: int
    joint_names: Sequence[str]
    length: int
    action_dim: int
    actions: Sequence[float]
    inference_start: Stamp
    inference_end: Stamp
    prev_chunk_row: int
    state_stamp: Stamp
    noise_seed: int
    task: str
    session: int
    key_id: str
    signature: Sequence[int]


def _text(value: str) -> bytes:
    data = str(value).encode("utf-8")
    return struct.pack("<I", len(data)) + data


def _stamp(stamp: Stamp) -> bytes:
    return struct.pack("<iI", int(stamp.sec), int(stamp.nanosec))


def signed_bytes(chunk: SignedFields) -> bytes:
    """The canonical bytes a chunk's signature covers: every field but `signature`, each with its
    length or fixed width (no two different chunks encode alike), integers and float64 values
    little-endian."""
    actions = np.asarray(chunk.actions, dtype="<f8").ravel()
    names = list(chunk.joint_names)
    return b"".join((
        FORMAT,
        _text(chunk.key_id),
        _text(chunk.source),
        struct.pack("<QQIIQ", int(chunk.chunk_id), int(chunk.source_step), int(chunk.inference_delay),
                    int(chunk.execution_horizon), int(chunk.prev_chunk_id)),
        _text(chunk.guidance_mode),
        struct.pack("<I", len(names)), *(_text(n) for n in names),
        struct.pack("<IIQ", int(chunk.length), int(chunk.action_dim), actions.size),
        actions.tobytes(),
        _stamp(chunk.header.stamp), _text(chunk.header.frame_id),
        _stamp(chunk.inference_start), _stamp(chunk.inference_end), _stamp(chunk.state_stamp),
        struct.pack("<Iq", int(chunk.prev_chunk_row), int(chunk.noise_seed)),
        _text(chunk.task),  # v2
        struct.pack("<Q", int(chunk.session)),  # v3
    ))


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:KEY_ID_HEX]


class KeyFileError(ValueError):
    """A key file that cannot be read or is no Ed25519 key; the text names the file."""


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as err:
        raise KeyFileError(f"cannot read private key {path}: {err}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} is a {type(key).__name__}, not an Ed25519 private key")
    return key


def load_public_key(path: str | Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError, TypeError) as err:
        raise KeyFileError(f"cannot read public key {path}: {err}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{path} is a {type(key).__name__}, not an Ed25519 public key")
    return key


def public_key_files(entries: Iterable[str]) -> list[Path]:
    """The trusted_keys parameter's files: each entry a .pub file, or a directory whose *.pub files
    all count. KeyFileError for an entry that is neither, or a directory without any."""
    files: list[Path] = []
    for entry in entries:
        path = Path(entry).expanduser()
        if path.is_dir():
            found = sorted(path.glob(f"*{PUBLIC_SUFFIX}"))
            if not found:
                raise KeyFileError(f"no *{PUBLIC_SUFFIX} file in directory {path}")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise KeyFileError(f"{path} is neither a public key file nor a directory")
    return files


def generate_key_pair(out_prefix: str | Path) -> tuple[Path, Path, str]:
    """Write a new key pair: OUT_PREFIX.key (PEM PKCS#8, mode 0600, created so) and OUT_PREFIX.pub
    (PEM); return both paths and the key id. Existing files are never overwritten (FileExistsError)."""
    private_path = Path(f"{out_prefix}{PRIVATE_SUFFIX}")
    public_path = Path(f"{out_prefix}{PUBLIC_SUFFIX}")
    for path in (private_path, public_path):
        if path.exists():
            raise FileExistsError(f"{path} exists; choose another prefix (keys are never overwritten)")
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(private_pem)
    public_path.write_bytes(public_pem)
    return private_path, public_path, key_id(key.public_key())


class ChunkSigner:
    """Signs chunks with one private key (the policy node's `signing_key_file`)."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.key_id = key_id(private_key.public_key())

    def sign(self, chunk: SignedFields) -> bytes:
        """Set `chunk.key_id`, sign every other field and return the 64-byte signature (the caller
        stores it in `chunk.signature`: message classes want their own sequence types)."""
        chunk.key_id = self.key_id
        return self._key.sign(signed_bytes(chunk))


class ChunkVerifier:
    """Judges a chunk's signature against the trusted public keys, and replays per key and source.

    `allow_unsigned`: unsigned chunks pass (no trusted keys: every chunk passes unverified). The
    session is the admission's to check, before this. Thread-safe."""

    def __init__(self, public_keys: Iterable[Ed25519PublicKey], allow_unsigned: bool = False) -> None:
        self.keys = {key_id(k): k for k in public_keys}
        self.allow_unsigned = bool(allow_unsigned)
        self._lock = threading.Lock()
        # (key id, source) -> highest chunk id verified, the most recent sources last
        self._last_ids: OrderedDict[tuple[str, str], int] = OrderedDict()

    @property
    def enabled(self) -> bool:
        """Chunks are verified at all (some key is trusted)."""
        return bool(self.keys)

    def refusal(self, chunk: SignedFields) -> tuple[str, str] | None:
        """(code, detail) why `chunk` is not authentic, or None. A chunk that passes is remembered
        for the replay check."""
        if not self.keys:
            return None
        signature = bytes(chunk.signature)
        claimed = str(chunk.key_id)
        if not signature and not claimed:
            return None if self.allow_unsigned else (UNSIGNED, "chunk carries no signature")
        key = self.keys.get(claimed)
        if key is None:
            return UNKNOWN_KEY, f"key id {claimed[:KEY_ID_HEX + 8]!r} is not among the trusted keys {sorted(self.keys)}"
        if len(signature) != SIGNATURE_BYTES:
            return BAD_SIGNATURE, f"signature has {len(signature)} bytes, not {SIGNATURE_BYTES}"
        try:
            key.verify(signature, signed_bytes(chunk))
        except InvalidSignature:
            return BAD_SIGNATURE, f"signature does not verify with key {claimed}"
        replay_key, chunk_id = (claimed, str(chunk.source)), int(chunk.chunk_id)
        with self._lock:
            last = self._last_ids.get(replay_key)
            if last is not None and chunk_id <= last:
                return REPLAY, (f"chunk {chunk_id} from key {claimed} and source {chunk.source} is not above "
                                f"{last}, the highest one verified from them in this session")
            self._last_ids[replay_key] = chunk_id
            self._last_ids.move_to_end(replay_key)
            while len(self._last_ids) > SOURCES_KEPT:
                self._last_ids.popitem(last=False)
        return None
