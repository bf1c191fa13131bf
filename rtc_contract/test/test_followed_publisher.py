"""FollowedPublisher: the driver (and the executor) follows one publisher of the configured node, by GID."""
from __future__ import annotations

from rtc_contract.followed_publisher import UNKNOWN_NODE, FollowedPublisher, Publisher

EXECUTOR = Publisher(b"e" * 16, "/rtc_executor", "/so100/command")
ROGUE = Publisher(b"r" * 16, "/rogue", "/so100/command")
IMPOSTOR = Publisher(b"i" * 16, "/other_ns/rtc_executor", "/so100/command_array")


def graph(*publishers: Publisher) -> dict[bytes, Publisher]:
    return {p.gid: p for p in publishers}


def test_follows_the_writer_and_refuses_everyone_else() -> None:
    writer = FollowedPublisher("rtc_executor")
    now = graph(EXECUTOR, ROGUE)
    assert not writer.admit(ROGUE.gid, lambda: now)
    assert writer.admit(EXECUTOR.gid, lambda: now)
    assert writer.followed_node == "/rtc_executor"
    assert not writer.admit(ROGUE.gid, lambda: now)
    writer.observe(graph(EXECUTOR, ROGUE, IMPOSTOR))  # a second node of the writer's name: an intruder too
    assert set(writer.stats.intruders) == {ROGUE.gid, IMPOSTOR.gid}
    assert not writer.admit(IMPOSTOR.gid, lambda: now)
    assert (writer.stats.accepted, writer.stats.refused) == (1, 3)


def test_the_followed_publisher_leaving_frees_its_place() -> None:
    writer = FollowedPublisher("/rtc_executor")
    assert writer.admit(EXECUTOR.gid, lambda: graph(EXECUTOR))
    restarted = Publisher(b"n" * 16, "/rtc_executor", "/so100/command")
    assert not writer.admit(restarted.gid, lambda: graph(EXECUTOR, restarted))
    writer.observe(graph(restarted))
    assert not writer.followed and not writer.stats.intruders
    assert writer.admit(restarted.gid, lambda: graph(restarted))
    assert not FollowedPublisher("/rtc_executor").admit(IMPOSTOR.gid, lambda: graph(IMPOSTOR))  # exact name


def test_a_publisher_of_a_node_not_yet_discovered_waits() -> None:
    writer = FollowedPublisher("rtc_executor")
    early = Publisher(EXECUTOR.gid, f"/{UNKNOWN_NODE}", "/so100/command")
    assert not writer.admit(EXECUTOR.gid, lambda: graph(early))
    writer.observe(graph(early))
    assert not writer.stats.intruders
    assert writer.admit(EXECUTOR.gid, lambda: graph(EXECUTOR))


def test_the_followed_node_may_command_on_both_topics_one_publisher_each() -> None:
    writer = FollowedPublisher("rtc_executor")
    array = Publisher(b"a" * 16, "/rtc_executor", "/so100/command_array")
    second = Publisher(b"s" * 16, "/rtc_executor", "/so100/command")
    now = graph(EXECUTOR, array, second)
    assert writer.admit(EXECUTOR.gid, lambda: now) and writer.admit(array.gid, lambda: now)
    assert not writer.admit(second.gid, lambda: now)
    writer.observe(now)
    assert set(writer.stats.intruders) == {second.gid}


def test_no_writer_named_follows_the_first_publisher_heard() -> None:
    writer = FollowedPublisher("")
    assert writer.admit(ROGUE.gid, lambda: graph(ROGUE, EXECUTOR))
    assert not writer.admit(EXECUTOR.gid, lambda: graph(ROGUE, EXECUTOR))
