"""Our bus client against the emulator, with every kind of injected fault, over the pty and the loopback socket."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from so100_driver.bus import BusCorruption, BusPortError, BusTimeout, FeetechBus
from so100_driver.emulator import BUS_PRIORITY, TRANSPORTS, ServoBusEmulator
from so100_driver.protocol import StatusError
from so100_driver.registers import REGISTERS

POSITION = REGISTERS["Present_Position"]
IDS = [1, 2, 3, 4, 5, 6]


@pytest.fixture(params=TRANSPORTS)
def bus_transport(request: pytest.FixtureRequest) -> str:
    """Every test here runs over both transports: the protocol and its fault handling do not depend on it."""
    return request.param


@pytest.fixture
def bus(bus_emulator: ServoBusEmulator) -> Iterator[FeetechBus]:
    with FeetechBus(bus_emulator.port, timeout_s=0.02, retries=2) as client:
        yield client


def test_ping_read_write_sync(bus: FeetechBus, bus_emulator: ServoBusEmulator) -> None:
    assert bus.ping(3).error == 0
    assert bus.read(3, REGISTERS["Model_Number"]) == 777
    bus.write(3, REGISTERS["P_Coefficient"], 16)
    assert bus_emulator.register(3, "P_Coefficient") == 16
    assert bus.sync_read(POSITION, IDS) == bus_emulator.positions()
    bus.sync_write(REGISTERS["Goal_Position"], {m: 1000 + m for m in IDS})
    bus.ping(1)  # no reply to SYNC_WRITE: a round trip after it shows it was served
    assert [bus_emulator.register(m, "Goal_Position") for m in IDS] == [1000 + m for m in IDS]
    assert bus.stats.retries == 0 and bus.stats.failed_transactions == 0


@pytest.mark.parametrize(
    "inject",
    [
        lambda emu: emu.drop_replies(1, motor_id=4),
        lambda emu: emu.corrupt_replies(1, motor_id=2),
        lambda emu: emu.delay_replies(0.05, motor_id=6),
        lambda emu: emu.inject_garbage(b"\x00\xff\xff\x07\x09garbage\xff"),
    ],
    ids=["drop", "corrupt", "late", "garbage"],
)
def test_single_faults_are_retried_with_correct_data(bus: FeetechBus, bus_emulator: ServoBusEmulator, inject) -> None:
    expected = bus_emulator.positions()
    inject(bus_emulator)
    assert bus.sync_read(POSITION, IDS) == expected
    # The next transaction is clean again (stale bytes of a late reply are flushed).
    assert bus.sync_read(POSITION, IDS) == expected
    assert bus.stats.failed_transactions == 0


def test_a_late_reply_is_never_taken_as_the_answer_to_the_next_request(bus: FeetechBus,
                                                                       bus_emulator: ServoBusEmulator) -> None:
    """Status packets do not name the register: a reply that comes after its request gave up must
    not be read as the next register's value (seen as 'different firmware versions' under load)."""
    bus_emulator.delay_replies(0.03, count=2, motor_id=3)  # both the first try and its retry are late
    assert bus.read(3, REGISTERS["Firmware_Major_Version"]) == 3
    assert bus.read(3, REGISTERS["Firmware_Minor_Version"]) == 9
    assert bus.read(3, REGISTERS["Model_Number"]) == 777


def test_faults_counted(bus: FeetechBus, bus_emulator: ServoBusEmulator) -> None:
    bus_emulator.drop_replies(1, motor_id=1)
    bus_emulator.corrupt_replies(1, motor_id=1)
    bus.read(1, POSITION)
    assert bus.stats.retries == 2
    assert bus.stats.timeouts == 1
    assert bus.stats.checksum_errors == 1


def test_vanished_motor_is_named(bus: FeetechBus, bus_emulator: ServoBusEmulator) -> None:
    bus_emulator.vanish(1.0, motor_ids=[5])
    with pytest.raises(BusTimeout, match=r"SYNC_READ Present_Position .*no reply from motor\(s\) \[5\]") as info:
        bus.sync_read(POSITION, IDS)
    assert "after 3 attempt(s)" in str(info.value)
    assert bus.stats.failed_transactions == 1


def test_persistent_corruption_names_motor_and_bytes(bus: FeetechBus, bus_emulator: ServoBusEmulator) -> None:
    bus_emulator.corrupt_replies(3, motor_id=2)
    with pytest.raises(BusCorruption, match=r"READ Present_Position \(addr 56, 2 bytes\) from motor 2: motor 2: checksum"):
        bus.read(2, POSITION)


def test_servo_error_bits_are_reported_not_raised(bus: FeetechBus, bus_emulator: ServoBusEmulator) -> None:
    bus_emulator.set_error_bits(3, StatusError.OVERHEAT)
    replies = bus.sync_read_block(POSITION.address, POSITION.size, IDS)
    assert replies[3].error == StatusError.OVERHEAT
    assert bus.stats.servo_errors[3] == StatusError.OVERHEAT
    assert bus.stats.servo_error_replies == 1


def test_bus_comes_back_after_vanishing(bus: FeetechBus, bus_emulator: ServoBusEmulator) -> None:
    bus_emulator.vanish(10.0)
    with pytest.raises(BusTimeout):
        bus.ping(1)
    bus_emulator.vanish(0.0)  # back
    assert bus.ping(1).error == 0


def test_the_emulator_serves_under_sched_fifo_when_permitted(bus: FeetechBus, bus_emulator: ServoBusEmulator,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The stand-in for servo hardware asks for SCHED_FIFO for its own threads only, and says what it got."""
    calls: list[tuple[int, int]] = []
    monkeypatch.setattr("os.sched_setscheduler", lambda tid, policy, param: calls.append((tid, param.sched_priority)))
    assert bus_emulator.scheduling.policy == "SCHED_OTHER"  # nothing asked yet
    got = bus_emulator.serve_realtime()
    assert calls == [(tid, BUS_PRIORITY) for tid in bus_emulator.native_thread_ids()] and calls
    assert got == bus_emulator.scheduling and got.policy == "SCHED_FIFO" and got.priority == BUS_PRIORITY

    def refuse(tid: int, policy: int, param: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr("os.sched_setscheduler", refuse)
    refused = bus_emulator.serve_realtime()
    assert refused.policy == "SCHED_OTHER" and "refused" in refused.detail and bus_emulator.scheduling == refused
    assert bus.ping(1).error == 0  # serving on, under normal scheduling


def test_the_socket_transport_serves_one_client_at_a_time_and_the_next_after_a_hang_up(calibration) -> None:
    with ServoBusEmulator.for_arm(calibration, transport="socket") as emulator:
        assert emulator.port.startswith("socket://127.0.0.1:")
        with FeetechBus(emulator.port, timeout_s=0.02, retries=0) as first:
            assert first.sync_read(POSITION, IDS) == emulator.positions()
        with FeetechBus(emulator.port, timeout_s=0.02, retries=2) as second:  # the first hung up
            assert second.ping(2).error == 0
            assert second.stats.retries == 0


def test_the_socket_transport_takes_no_link_and_a_closed_one_is_a_port_error(calibration, tmp_path) -> None:
    with pytest.raises(ValueError, match="link"):
        ServoBusEmulator.for_arm(calibration, link=tmp_path / "so100", transport="socket")
    with pytest.raises(ValueError, match="transport"):
        ServoBusEmulator.for_arm(calibration, transport="usb")
    with ServoBusEmulator.for_arm(calibration, transport="socket") as emulator:
        url = emulator.port
    with pytest.raises(BusPortError, match="cannot open"):  # nobody listens there any more
        FeetechBus(url).open()
