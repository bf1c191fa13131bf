"""Reading a rosbag2 (MCAP or sqlite3) for the report, the replay and the player, where a hostile bag
is one clear line (BagError), never a traceback.

Hostile means: not a bag directory, a truncated or corrupt storage file, a message type nobody can
decode, a topic that is missing or has another type than expected, bytes that do not decode. Out of
order stamps are not an error: readers index messages by step, chunk id and header stamp.
"""
from __future__ import annotations

import sqlite3
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rosbags.rosbag2 import Reader, ReaderError
from rosbags.typesys import TypesysError
from rosbags.typesys.store import Typestore

from rtc_tools.bag_types import bag_typestore

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
    reader = Reader(path)
    try:
        reader.open()
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


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."
