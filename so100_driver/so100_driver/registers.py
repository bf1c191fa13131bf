"""STS3215 control table: every register the SO-100 driver and emulator use.

Addresses, sizes and sign-magnitude bits follow the STS/SMS series manual (and LeRobot's
``lerobot/motors/feetech/tables.py``). Multi-byte values are little-endian; positions and
velocities use bit 15 as sign, Homing_Offset bit 11, Present_Load bit 10.
"""

from __future__ import annotations

from dataclasses import dataclass

STS3215_MODEL_NUMBER = 777


@dataclass(frozen=True)
class Register:
    name: str
    address: int
    size: int
    sign_bit: int | None = None
    read_only: bool = False

    def encode(self, value: int) -> bytes:
        """Value -> little-endian bytes, applying sign-magnitude where the register uses it."""
        if self.sign_bit is not None:
            if abs(value) >= 1 << self.sign_bit:
                raise ValueError(f"value {value} does not fit register {self.name} (|value| < {1 << self.sign_bit})")
            raw = encode_sign_magnitude(value, self.sign_bit)
        else:
            raw = value
        if not 0 <= raw < 1 << (8 * self.size):
            raise ValueError(f"value {value} does not fit register {self.name} ({self.size} byte(s))")
        return raw.to_bytes(self.size, "little")

    def decode(self, data: bytes | bytearray) -> int:
        if len(data) != self.size:
            raise ValueError(f"register {self.name} needs {self.size} byte(s), got {len(data)}")
        raw = int.from_bytes(data, "little")
        return decode_sign_magnitude(raw, self.sign_bit) if self.sign_bit is not None else raw

    def slice_of(self, block: bytes | bytearray, block_address: int) -> bytes:
        """This register's bytes out of a block read starting at ``block_address``."""
        offset = self.address - block_address
        if offset < 0 or offset + self.size > len(block):
            raise ValueError(f"register {self.name} is not inside the block at {block_address}+{len(block)}")
        return bytes(block[offset : offset + self.size])


def encode_sign_magnitude(value: int, sign_bit: int) -> int:
    magnitude = abs(value)
    if magnitude >= 1 << sign_bit:
        raise ValueError(f"magnitude {magnitude} does not fit below sign bit {sign_bit}")
    return magnitude | (1 << sign_bit) if value < 0 else magnitude


def decode_sign_magnitude(raw: int, sign_bit: int) -> int:
    magnitude = raw & ((1 << sign_bit) - 1)
    return -magnitude if raw & (1 << sign_bit) else magnitude


_TABLE = (
    # EEPROM
    Register("Firmware_Major_Version", 0, 1, read_only=True),
    Register("Firmware_Minor_Version", 1, 1, read_only=True),
    Register("Model_Number", 3, 2, read_only=True),
    Register("ID", 5, 1),
    Register("Baud_Rate", 6, 1),
    Register("Return_Delay_Time", 7, 1),
    Register("Response_Status_Level", 8, 1),
    Register("Min_Position_Limit", 9, 2),
    Register("Max_Position_Limit", 11, 2),
    Register("Max_Temperature_Limit", 13, 1),
    Register("Max_Voltage_Limit", 14, 1),
    Register("Min_Voltage_Limit", 15, 1),
    Register("Max_Torque_Limit", 16, 2),
    Register("P_Coefficient", 21, 1),
    Register("D_Coefficient", 22, 1),
    Register("I_Coefficient", 23, 1),
    Register("Protection_Current", 28, 2),
    Register("Homing_Offset", 31, 2, sign_bit=11),
    Register("Operating_Mode", 33, 1),
    Register("Overload_Torque", 36, 1),
    # SRAM
    Register("Torque_Enable", 40, 1),
    Register("Acceleration", 41, 1),
    Register("Goal_Position", 42, 2, sign_bit=15),
    Register("Goal_Time", 44, 2),
    Register("Goal_Velocity", 46, 2, sign_bit=15),
    Register("Torque_Limit", 48, 2),
    Register("Lock", 55, 1),
    Register("Present_Position", 56, 2, sign_bit=15, read_only=True),
    Register("Present_Velocity", 58, 2, sign_bit=15, read_only=True),
    Register("Present_Load", 60, 2, sign_bit=10, read_only=True),
    Register("Present_Voltage", 62, 1, read_only=True),
    Register("Present_Temperature", 63, 1, read_only=True),
    Register("Status", 65, 1, read_only=True),
    Register("Moving", 66, 1, read_only=True),
    Register("Present_Current", 69, 2, read_only=True),
    Register("Maximum_Acceleration", 85, 1),
)

REGISTERS: dict[str, Register] = {reg.name: reg for reg in _TABLE}
TABLE_SIZE = 128  # bytes of register space per servo (addresses 0..127)


def register(name: str) -> Register:
    """Look a register up by its LeRobot/manual name; unknown names are a clear error."""
    try:
        return REGISTERS[name]
    except KeyError:
        raise KeyError(f"unknown STS3215 register {name!r}; known: {', '.join(REGISTERS)}") from None
