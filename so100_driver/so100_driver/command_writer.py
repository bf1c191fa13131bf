"""One writer: the driver follows the commands of one publisher, named by its node, and ignores every
other publisher on its command topics.

Why by publisher GID: every DDS message carries its writer's GID (rclpy's `MessageInfo.publisher_gid`),
and the ROS graph maps each publisher GID to the node that created it; so the driver can tell, message
by message, which publisher sent a command, at no cost to the writer and with no field in the message.
A signed, sequenced command would authenticate the writer but costs a signature per command on the
driver's 100 Hz path and a key on the arm's computer; node names are not authenticated (any process
may call its node `rtc_executor`), which is what SROS2 permissions add (docs/safety.md).

The rules, pure (the node feeds it the graph and each message's GID):
- a message from the followed GID is accepted;
- with no followed publisher, the first message from a publisher of the configured writer node is
  accepted and its GID followed from then on (a second publisher of that name is still refused);
- every other message is refused, and its publisher is an intruder (ERROR on /diagnostics);
- the followed publisher leaving the graph (its node restarted) frees the place for the next one.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Publisher:
    """One publisher endpoint on a command topic, as the graph lists it."""

    gid: bytes
    node: str  # fully qualified node name, e.g. /rtc_executor
    topic: str


@dataclass
class WriterStats:
    accepted: int = 0
    refused: int = 0  # messages from another publisher than the followed one
    intruders: dict[bytes, Publisher] = field(default_factory=dict)  # every other publisher seen (sending or not)


def qualified(name: str, namespace: str) -> str:
    return (namespace.rstrip("/") + "/" + name) if namespace else "/" + name


class CommandWriter:
    """Which publisher the driver follows. `writer` is a node name: "/ns/name" matches exactly, a
    plain "name" matches that node name in any namespace; empty: the first publisher heard."""

    def __init__(self, writer: str) -> None:
        self.writer = writer.strip()
        self.followed: Publisher | None = None
        self.stats = WriterStats()

    def is_writer(self, publisher: Publisher) -> bool:
        if not self.writer:
            return True
        if self.writer.startswith("/"):
            return publisher.node == self.writer
        return publisher.node.rsplit("/", 1)[-1] == self.writer

    def admit(self, gid: bytes, publishers: Callable[[], dict[bytes, Publisher]]) -> bool:
        """True when a message from `gid` may command the arm; `publishers()`: the command topics'
        publishers by GID, as the graph lists them now (asked only for a GID not yet judged)."""
        if self.followed is not None and gid == self.followed.gid:
            self.stats.accepted += 1
            return True
        publisher = self.stats.intruders.get(gid) or publishers().get(gid)
        if self.followed is None and publisher is not None and self.is_writer(publisher):
            self.followed = publisher
            self.stats.intruders.pop(gid, None)
            self.stats.accepted += 1
            return True
        self.stats.refused += 1
        if publisher is not None:
            self.stats.intruders[gid] = publisher
        return False

    def observe(self, publishers: dict[bytes, Publisher]) -> None:
        """The graph's command publishers now: the followed one leaving frees its place; every
        publisher that is not the followed one and not a writer waiting to be followed is an intruder."""
        if self.followed is not None and self.followed.gid not in publishers:
            self.followed = None
        for gid, publisher in publishers.items():
            followed = self.followed is not None and gid == self.followed.gid
            if not followed and (self.followed is not None or not self.is_writer(publisher)):
                self.stats.intruders[gid] = publisher
        for gid in [g for g in self.stats.intruders if g not in publishers]:
            del self.stats.intruders[gid]
