"""Reading a rosbag2 (MCAP or sqlite3) for the report, the replay and the player, where a hostile bag
is one clear line (BagError), never a traceback.

Hostile means: not a bag directory, a truncated or corrupt storage file, a message type nobody can
decode, a topic that is missing or has another type than expected, bytes that do not decode. Out of
order stamps are not an error: readers index messages by step, chunk id and header stamp.

A compression bomb is hostile too: every MCAP chunk is decompressed with an output cap (the size the
chunk claims, itself at most MAX_CHUNK_BYTES), so a chunk that claims or inflates to more is one
line instead of the memory of the machine. rosbag2's own file and message compression (zstd of whole
files or single messages, which rosbags inflates without a cap) is refused, naming the command that
undoes it.
"""
from __future__ import annotations

import sqlite3
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml
from lz4.frame import LZ4FrameDecompressor
from rosbags.rosbag2 import Reader, ReaderError, storage_mcap
from rosbags.typesys import TypesysError
from rosbags.typesys.store import Typestore

from rtc_tools.bag_types import bag_typestore

MAX_CHUNK_BYTES = 512 * 2**20  # an MCAP chunk's uncompressed size; MCAP writers close chunks at 768 KiB by default
UNCAPPED_COMPRESSION = ("file", "message")  # rosbag2 compression modes rosbags inflates without a cap


class OversizedChunk(ReaderError):
    """An MCAP chunk that claims, or decompresses to, more than the reader allows."""


def _capped(decompressor: type):
    """An MCAP chunk decompressor (rosbags' signature: data, claimed size) that never produces
    more than the claimed size, nor a claim over MAX_CHUNK_BYTES."""
    def decompress(data: bytes, size: int) -> bytes:
        if size > MAX_CHUNK_BYTES:
            raise OversizedChunk(f"an MCAP chunk claims {size} bytes uncompressed, over the reader's cap of "
                                 f"{MAX_CHUNK_BYTES} (a compression bomb?)")
        raw = decompressor().decompress(data, max_length=size + 1)
        if len(raw) > size:
            raise OversizedChunk(f"an MCAP chunk decompresses to more than the {size} bytes it claims "
                                 "(a compression bomb?)")
        return raw
    return decompress


# rosbags looks its chunk decompressors up in this table at every chunk: these are the capped ones.
# zstd: the module rosbags picked (compression.zstd, or backports.zstd before Python 3.14).
storage_mcap.DECOMPRESSORS.update(lz4=_capped(LZ4FrameDecompressor), zstd=_capped(storage_mcap.zstd.ZstdDecompressor))

# What rosbags and its storage plugins raise on a damaged file or message.
DAMAGE = (ReaderError, TypesysError, sqlite3.Error, OSError, EOFError, struct.error, ValueError, KeyError,
          IndexError, AssertionError, TypeError)


class BagError(Exception):
    """A bag that cannot be used, with a message that says why in one line."""


@contextmanager
def open_bag(path: Path) -> Iterator[tuple[Reader, Typestore]]:
    """An open Reader of the bag directory `path` and the typestore to decode it."""
    if not (Path(path) / "metadata.yaml").is_file():
        raise BagError(f"{path} is not a rosbag2 directory (no metadata.yaml)")
    mode = _compression_mode(Path(path) / "metadata.yaml")
    if mode in UNCAPPED_COMPRESSION:
        raise BagError(f"{path} is compressed by rosbag2 ({mode} mode), which is not read here (no output cap "
                       "on its decompression); decompress it first (ros2 bag convert, output without compression)")
    reader = Reader(path)
    try:
        reader.open()
    except OversizedChunk as exc:  # a bag without a summary is scanned, chunks inflated, at open
        raise BagError(f"cannot open {path}: {exc}") from None
    except DAMAGE as exc:
        raise BagError(f"cannot open {path} (truncated, or never closed by its recorder?): {_one_line(exc)}") from None
    try:
        try:
            store = bag_typestore(reader)
        except DAMAGE as exc:
            raise BagError(f"{path}: a message definition in the bag does not parse: {_one_line(exc)}") from None
        yield reader, store
    finally:
        reader.close()


def decoded(reader: Reader, store: Typestore, expected: dict[str, str]) -> Iterator[tuple[str, int, object]]:
    """(topic, receive time ns, message) of the topics in `expected` (topic -> message type), in
    the order the storage returns them. A topic of another type, or a message that does not
    decode, is a BagError; a topic absent from the bag yields nothing (see `require_topics`)."""
    connections = []
    for connection in reader.connections:
        wanted = expected.get(connection.topic)
        if wanted is None:
            continue
        if connection.msgtype != wanted:
            raise BagError(f"topic {connection.topic} has type {connection.msgtype} in this bag; expected {wanted}")
        if connection.msgtype not in store.fielddefs:
            raise BagError(f"topic {connection.topic}: no definition of {connection.msgtype} in the bag or installed")
        connections.append(connection)
    if not connections:
        return
    for connection, stamp_ns, raw in raw_messages(reader, connections):
        try:
            msg = store.deserialize_cdr(raw, connection.msgtype)
        except DAMAGE as exc:
            raise BagError(f"a {connection.msgtype} message on {connection.topic} does not decode: "
                           f"{_one_line(exc)}") from None
        yield connection.topic, stamp_ns, msg


def raw_messages(reader: Reader, connections: list, start_ns: int | None = None) -> Iterator[tuple]:
    """(connection, receive time ns, serialized bytes) of `connections` from `start_ns` on; a
    storage file that breaks off is a BagError."""
    iterator = reader.messages(connections=connections, start=start_ns)
    count = 0
    while True:
        try:
            item = next(iterator)
        except StopIteration:
            return
        except OversizedChunk as exc:
            raise BagError(f"{exc}, after {count} messages") from None
        except DAMAGE as exc:
            raise BagError(f"the bag is damaged (truncated?) after {count} messages: {_one_line(exc)}") from None
        count += 1
        yield item


def require_topics(reader: Reader, topics: list[str], what: str) -> None:
    """BagError naming the topics of `topics` that have no message in the bag."""
    counts = {t: 0 for t in topics}
    for connection in reader.connections:
        if connection.topic in counts:
            counts[connection.topic] += connection.msgcount
    missing = [t for t, n in counts.items() if n == 0]
    if missing:
        raise BagError(f"the bag has no messages on {', '.join(missing)}; {what} needs them")


def _compression_mode(metadata: Path) -> str:
    """rosbag2's compression_mode of the bag ("" for none); damage is left for the Reader to report."""
    try:
        info = yaml.safe_load(metadata.read_text()).get("rosbag2_bagfile_information", {})
        return str(info.get("compression_mode", "")).lower()
    except (yaml.YAMLError, AttributeError, OSError, UnicodeDecodeError):
        return ""


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."
