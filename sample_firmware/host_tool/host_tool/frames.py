"""The pump's wireless command frames, byte for byte as the firmware parses them (src/cmd.h).

Frame: ``A5 | LEN | SEQ(2) | TOKEN(4) | OPCODE | ARGS | CRC(2)``, big-endian; LEN counts SEQ to
the end of ARGS (7 to 32 bytes); the CRC is CRC-16/CCITT-FALSE over LEN..ARGS; the token mixes
the pairing key and the sequence number as the firmware's ``cmd_token()`` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

SOF = 0xA5
HEADER_LEN = 7  # SEQ, TOKEN, OPCODE
MAX_LEN = 32
RESPONSE_FLAG = 0x80
STATUS_RESPONSE_LEN = 13
_MASK32 = 0xFFFFFFFF


class Opcode(IntEnum):
    """The documented commands of the pump."""

    STATUS = 0x01
    BOLUS = 0x02
    SUSPEND = 0x03
    RESUME = 0x04
    TEMP_BASAL = 0x05


class FrameError(ValueError):
    """A frame that cannot be built, or a response that is not what the pump sends."""


@dataclass(frozen=True)
class PumpStatus:
    """The pump's answer to a status command."""

    state: int  # 0 idle, 1 priming, 2 delivering, 3 suspended, 4 alarm
    alarm: int  # 0 none, 1 occlusion, 2 reservoir empty, 3 fault
    reservoir_cu: int
    insulin_on_board_cu: int


# Feed a buffer into CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF), as the firmware's crc16.c.
# @req PUMP-SRS-014
def crc16_ccitt(data: bytes) -> int:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _bit in range(8):
            crc <<= 1
            if crc & 0x10000:
                crc ^= 0x11021  # the polynomial 0x1021, and bit 16 shifted out
    return crc


def command_token(key: int, seq: int) -> int:
    """The 32-bit authentication token of a command: four xorshift rounds over the pairing key
    and the sequence number (the firmware's ``cmd_token()``, in 32-bit arithmetic).

    @req PUMP-SRS-027
    """
    x = key ^ ((seq << 16) | seq)
    for _round in range(4):
        x ^= (x << 13) & _MASK32
        x ^= x >> 17
        x ^= (x << 5) & _MASK32
        x = (x + key) & _MASK32
    return x


# One command frame, signed with the pairing key.
# @req PUMP-SRS-026
def build_frame(key: int, seq: int, opcode: int, args: bytes = b"") -> bytes:
    if not (0 <= key <= _MASK32 and 0 <= seq <= 0xFFFF and 0 <= opcode <= 0xFF):
        raise FrameError(f"key, sequence number or opcode out of range: {key:#x}, {seq}, {opcode:#x}")
    length = HEADER_LEN + len(args)
    if length > MAX_LEN:
        raise FrameError(f"{len(args)} argument bytes do not fit a frame (at most {MAX_LEN - HEADER_LEN})")
    body = bytes([length]) + seq.to_bytes(2, "big") + command_token(key, seq).to_bytes(4, "big")
    body += bytes([opcode]) + args
    return bytes([SOF]) + body + crc16_ccitt(body).to_bytes(2, "big")


# The pump's status response: A5 | 9 | 81 | state | alarm | reservoir(2) | IOB(4) | CRC(2).
# @req PUMP-SRS-030
def decode_status(frame: bytes) -> PumpStatus:
    if len(frame) != STATUS_RESPONSE_LEN or frame[0] != SOF or frame[1] != STATUS_RESPONSE_LEN - 4:
        raise FrameError(f"not a status response: {frame.hex()}")
    if frame[2] != Opcode.STATUS | RESPONSE_FLAG:
        raise FrameError(f"a response to opcode {frame[2] & 0x7F:#04x}, not to the status command")
    if crc16_ccitt(frame[1:11]) != int.from_bytes(frame[11:13], "big"):
        raise FrameError("the status response's CRC does not match: corrupted on the air")
    return PumpStatus(
        state=frame[3],
        alarm=frame[4],
        reservoir_cu=int.from_bytes(frame[5:7], "big"),
        insulin_on_board_cu=int.from_bytes(frame[7:11], "big"),
    )
