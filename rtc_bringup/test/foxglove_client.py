"""A minimal Foxglove WebSocket client, written from the protocol spec (not foxglove-sdk), for tests
and bench/foxglove.py: what the Foxglove app does to show a topic.

Protocol (foxglove/ws-protocol, "foxglove.websocket.v1"; foxglove-sdk and foxglove_bridge >= 3 name
the same protocol "foxglove.sdk.v1", so both are offered): the server sends JSON text frames
`serverInfo` and `advertise` (channels: id, topic, encoding, schemaName, schemaEncoding, schema);
the client answers `subscribe` (subscriptions: its own id and a channelId); the server then sends
binary frames: opcode 0x01 (message data), u32 subscription id, u64 log time (ns), the payload; all
little-endian.
"""
from __future__ import annotations

import asyncio
import json
import socket
import struct
import time
from collections.abc import Collection
from dataclasses import dataclass, field

import websockets

SUBPROTOCOLS = ["foxglove.websocket.v1", "foxglove.sdk.v1"]
MESSAGE_DATA = 0x01
_MESSAGE_HEADER = struct.Struct("<BIQ")


@dataclass
class Received:
    channels: dict[str, dict] = field(default_factory=dict)  # topic -> its advertised channel
    messages: dict[str, list[bytes]] = field(default_factory=dict)  # topic -> payloads, in arrival order
    counts: dict[str, int] = field(default_factory=dict)  # topic -> messages received (kept or not)
    server_info: dict = field(default_factory=dict)


async def _receive(url: str, until: float, wanted: Collection[str] | None, per_topic: int,
                   keep: bool) -> Received:
    got = Received()
    subscribed: dict[int, str] = {}  # our subscription id -> topic
    async with websockets.connect(url, subprotocols=SUBPROTOCOLS, max_size=None) as ws:
        while time.monotonic() < until:
            if wanted is not None and all(got.counts.get(t, 0) >= per_topic for t in wanted):
                break
            try:
                frame = await asyncio.wait_for(ws.recv(), timeout=max(0.01, min(0.5, until - time.monotonic())))
            except TimeoutError:
                continue
            except websockets.ConnectionClosed:  # the server stopped: what arrived so far is the answer
                break
            if isinstance(frame, bytes):
                opcode, subscription, _log_time = _MESSAGE_HEADER.unpack_from(frame)
                if opcode == MESSAGE_DATA and subscription in subscribed:
                    topic = subscribed[subscription]
                    got.counts[topic] = got.counts.get(topic, 0) + 1
                    if keep:
                        got.messages.setdefault(topic, []).append(frame[_MESSAGE_HEADER.size:])
                continue
            message = json.loads(frame)
            if message["op"] == "serverInfo":
                got.server_info = message
            elif message["op"] == "advertise":
                subscriptions = []
                for channel in message["channels"]:
                    got.channels[channel["topic"]] = channel
                    subscription = len(subscribed) + 1
                    subscribed[subscription] = channel["topic"]
                    subscriptions.append({"id": subscription, "channelId": channel["id"]})
                await ws.send(json.dumps({"op": "subscribe", "subscriptions": subscriptions}))
    return got


def receive(port: int, timeout: float, wanted: Collection[str] | None = None, per_topic: int = 1,
            host: str = "127.0.0.1", keep: bool = True) -> Received:
    """Subscribe to every channel the server advertises and collect messages until each `wanted`
    topic has `per_topic` of them, or for `timeout` s (always, when `wanted` is None). `keep=False`
    only counts them (a long run's client, bench/soak.py)."""
    return asyncio.run(_receive(f"ws://{host}:{port}", time.monotonic() + timeout, wanted, per_topic, keep))


def connect_with_retry(port: int, timeout: float) -> None:
    """Wait until the server accepts WebSocket connections (a graph takes a few seconds to start)."""
    until = time.monotonic() + timeout
    while True:
        try:
            receive(port, timeout=0.1)
            return
        except OSError:
            if time.monotonic() > until:
                raise
            time.sleep(0.5)


def free_port() -> int:
    """A TCP port nothing listens on now (for a server started next)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
