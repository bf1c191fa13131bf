"""One publisher followed: of the messages on a topic, take those of one publisher, named by its
node, and ignore every other publisher's. The driver follows one command writer on its command
topics (`command_writer`), the executor one driver on /joint_states (`state_publisher`).

Why by publisher GID: every DDS message carries its writer's GID (rclpy's `MessageInfo.publisher_gid`),
and the ROS graph maps each publisher GID to the node that created it; so a subscriber can tell, message
by message, which publisher sent it, at no cost to the writer and with no field in the message.
A signed, sequenced command would authenticate the writer but costs a signature per command on the
driver's 100 Hz path and a key on the arm's computer; node names are not authenticated (any process
may call its node `rtc_executor`), which is what SROS2 permissions add (docs/safety.md).

The rules, pure (the node feeds it the graph and each message's GID):
- a message from the followed GID is accepted;
- with no followed publisher, the first message from a publisher of the configured writer node is
  accepted and its GID followed from then on (a second publisher of that name is still refused);
- every other message is refused, and its publisher is an intruder (ERROR on /diagnostics);
- the followed publisher leaving the graph (its node restarted) frees the place for the next one.
A publisher whose node the graph does not know yet (node names arrive after endpoints) is refused
until it does, and is not yet called an intruder.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


UNKNOWN_NODE = "_NODE_NAME_UNKNOWN_"  # rmw's node name for an endpoint whose node is not discovered yet


@dataclass(frozen=True)
class Publisher:
    """One publisher endpoint on a followed topic, as the graph lists it."""

    gid: bytes
    node: str  # fully qualified node name, e.g. /rtc_executor
    topic: str

    @property
    def known(self) -> bool:
        return UNKNOWN_NODE not in self.node


@dataclass
class WriterStats:
    accepted: int = 0
    refused: int = 0  # messages from another publisher than the followed one
    intruders: dict[bytes, Publisher] = field(default_factory=dict)  # every other publisher seen (sending or not)


def qualified(name: str, namespace: str) -> str:
    return (namespace.rstrip("/") + "/" + name) if namespace else "/" + name


class FollowedPublisher:
    """Which publisher is followed, one per topic, all of one node. `writer` is a node
    name: "/ns/name" matches exactly, a plain "name" matches that node name in any namespace; empty:
    the first publisher heard."""

    def __init__(self, writer: str) -> None:
        self.writer = writer.strip()
        self.followed: dict[str, Publisher] = {}  # by topic
        self.stats = WriterStats()

    @property
    def followed_node(self) -> str:
        return next(iter(self.followed.values())).node if self.followed else ""

    def is_writer(self, publisher: Publisher) -> bool:
        if self.followed:  # a second topic's publisher must belong to the node already followed
            return publisher.node == self.followed_node
        if not self.writer:
            return True
        if self.writer.startswith("/"):
            return publisher.node == self.writer
        return publisher.node.rsplit("/", 1)[-1] == self.writer

    def _may_follow(self, publisher: Publisher) -> bool:
        return publisher.known and publisher.topic not in self.followed and self.is_writer(publisher)

    def admit(self, gid: bytes, publishers: Callable[[], dict[bytes, Publisher]]) -> bool:
        """True when a message from `gid` is followed; `publishers()`: the followed topics'
        publishers by GID, as the graph lists them now (asked only for a GID not yet followed)."""
        if any(p.gid == gid for p in self.followed.values()):
            self.stats.accepted += 1
            return True
        publisher = self.stats.intruders.get(gid) or publishers().get(gid)
        if publisher is not None and self._may_follow(publisher):
            self.followed[publisher.topic] = publisher
            self.stats.intruders.pop(gid, None)
            self.stats.accepted += 1
            return True
        self.stats.refused += 1
        if publisher is not None and publisher.known:
            self.stats.intruders[gid] = publisher
        return False

    def observe(self, publishers: dict[bytes, Publisher]) -> None:
        """The graph's publishers on the followed topics now: a followed one leaving frees its place; every other
        publisher is an intruder unless it could still be followed (a writer not heard yet)."""
        self.followed = {t: p for t, p in self.followed.items() if p.gid in publishers}
        followed = {p.gid for p in self.followed.values()}
        self.stats.intruders = {gid: p for gid, p in publishers.items()
                                if p.known and gid not in followed and not self._may_follow(p)}
