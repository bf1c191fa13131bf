"""The vendor SDK (scservo_sdk) as a client of the emulator: proof that it speaks the real protocol."""

from __future__ import annotations

import time

import pytest

scs = pytest.importorskip("scservo_sdk")

from so100_driver.emulator import ServoBusEmulator  # noqa: E402
from so100_driver.registers import REGISTERS, STS3215_MODEL_NUMBER  # noqa: E402
from so100_driver.worlds import WORLD_NAMES  # noqa: E402

pytestmark = pytest.mark.parametrize("world_name", WORLD_NAMES)  # the kinematic world and the twin


@pytest.fixture
def sdk(bus_emulator: ServoBusEmulator, monkeypatch: pytest.MonkeyPatch):
    # The SDK waits 2 x its USB latency timer (16 ms) for a reply; the emulator is a thread of a test
    # process on a busy machine, not an adapter. Wait longer: this test is about bytes, not timing.
    monkeypatch.setattr(scs.port_handler, "LATENCY_TIMER", 100)
    port = scs.PortHandler(bus_emulator.port)
    assert port.openPort()
    assert port.setBaudRate(1_000_000)
    try:
        yield port, scs.PacketHandler(0)
    finally:
        port.closePort()


def test_ping_every_servo(sdk) -> None:
    port, handler = sdk
    for motor_id in range(1, 7):
        model, result, error = handler.ping(port, motor_id)
        assert (model, result, error) == (STS3215_MODEL_NUMBER, scs.COMM_SUCCESS, 0)
    _, result, _ = handler.ping(port, 9)
    assert result == scs.COMM_RX_TIMEOUT


def test_read_and_write(sdk, bus_emulator: ServoBusEmulator) -> None:
    port, handler = sdk
    position, result, error = handler.read2ByteTxRx(port, 2, REGISTERS["Present_Position"].address)
    assert result == scs.COMM_SUCCESS and error == 0
    assert position == bus_emulator.register(2, "Present_Position")
    result, error = handler.write1ByteTxRx(port, 2, REGISTERS["P_Coefficient"].address, 16)
    assert result == scs.COMM_SUCCESS and error == 0
    assert bus_emulator.register(2, "P_Coefficient") == 16


def test_sync_read_and_sync_write_move_the_servos(sdk, bus_emulator: ServoBusEmulator) -> None:
    port, handler = sdk
    start = bus_emulator.positions()
    for motor_id in range(1, 7):
        assert handler.write1ByteTxRx(port, motor_id, REGISTERS["Torque_Enable"].address, 1) == (scs.COMM_SUCCESS, 0)
    writer = scs.GroupSyncWrite(port, handler, REGISTERS["Goal_Position"].address, 2)
    goals = {motor_id: start[motor_id] + 40 for motor_id in range(1, 7)}
    for motor_id, goal in goals.items():
        assert writer.addParam(motor_id, [scs.SCS_LOBYTE(goal), scs.SCS_HIBYTE(goal)])
    assert writer.txPacket() == scs.COMM_SUCCESS

    reader = scs.GroupSyncRead(port, handler, REGISTERS["Present_Position"].address, 2)
    for motor_id in range(1, 7):
        assert reader.addParam(motor_id)
    # A servo under load holds its goal with a steady error (none in the kinematic world)
    tolerance = dict(zip(range(1, 7), bus_emulator.world.holding_error_ticks(32)))
    deadline = time.monotonic() + 5.0
    while True:
        assert reader.txRxPacket() == scs.COMM_SUCCESS
        read = {m: reader.getData(m, REGISTERS["Present_Position"].address, 2) for m in range(1, 7)}
        if all(abs(read[m] - goals[m]) <= tolerance[m] for m in goals) or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert all(abs(read[m] - goals[m]) <= tolerance[m] for m in goals), (read, goals, tolerance)
