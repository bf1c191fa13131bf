"""The thread names of a graph's node processes, read from /proc (Fast DDS names its threads by
transport: dds.shm.PORT for shared memory, dds.udp.PORT for UDP)."""
from __future__ import annotations

import re
from pathlib import Path

from rtc_bringup.graph import CONTROL_LOOP_NODES

_NODE = re.compile(r"__node:=(\S+)")


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def node_processes(root_pid: int) -> dict[str, int]:
    """{node name: pid} for every node process under `root_pid` (its `__node:=` remapping)."""
    found, todo = {}, [root_pid]
    while todo:
        pid = todo.pop()
        todo += _children(pid)
        try:
            match = _NODE.search((Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            continue
        if match:
            found[match.group(1)] = pid
    return found


def node_threads(root_pid: int) -> dict[str, set[str]]:
    """{node name: its process's thread names} for every node process under `root_pid`."""
    found = {}
    for node, pid in node_processes(root_pid).items():
        try:
            found[node] = {(task / "comm").read_text().strip() for task in (Path("/proc") / str(pid) / "task").iterdir()}
        except OSError:
            continue
    return found


def assert_control_loops_use_udp_only(threads: dict[str, set[str]]) -> None:
    """The driver and the executor have UDP receive threads and no shared-memory ones (their chunks and
    commands flowed, so they talk); a node outside the control loops keeps shared memory."""
    for node in CONTROL_LOOP_NODES:
        assert any(t.startswith("dds.udp") for t in threads[node]), threads
        assert not any(t.startswith("dds.shm") for t in threads[node]), threads
    assert any(t.startswith("dds.shm") for t in threads["rtc_policy"]), threads
