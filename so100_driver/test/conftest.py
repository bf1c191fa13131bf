"""Fixtures of the so100_driver tests: a calibrated SO-100 servo bus emulated on a pty."""

from __future__ import annotations

from pathlib import Path
from collections.abc import Iterator

import pytest

from so100_driver.arm import Calibration, default_calibration_path, load_calibration
from so100_driver.emulator import ServoBusEmulator
from so100_driver.worlds import make_world


@pytest.fixture
def calibration() -> Calibration:
    return load_calibration(default_calibration_path())


@pytest.fixture
def world_name() -> str:
    """The world behind `bus_emulator`; a test module parametrizes it to run over every world."""
    return "kinematic"


@pytest.fixture
def bus_transport() -> str:
    """How `bus_emulator` is reached (so100_driver.emulator.TRANSPORTS); a test module parametrizes it."""
    return "pty"


@pytest.fixture
def bus_emulator(calibration: Calibration, tmp_path: Path, world_name: str,
                 bus_transport: str) -> Iterator[ServoBusEmulator]:
    """Six STS3215 servos (ids 1..6) behind a pty linked at ``tmp_path/so100`` (or a loopback socket),
    calibrated with the shipped simulation calibration and resting at their range midpoints (in the
    twin: where the unpowered arm came to rest from there)."""
    link = tmp_path / "so100" if bus_transport == "pty" else None
    emulator = ServoBusEmulator.for_arm(calibration, link=link, world=make_world(world_name, calibration),
                                        transport=bus_transport)
    with emulator:
        yield emulator


@pytest.fixture
def peer():
    """A ROS node of the tests' own (test_driver_node_ros.Peer): commands the driver (which follows it
    as its command writer), records its joint states and diagnostics."""
    from test_driver_node_ros import Peer

    node = Peer()
    try:
        yield node
    finally:
        node.close()
