"""Command frames, the token and the status response, against values of the firmware's C code
(src/crc16.c, src/cmd.c, compiled with gcc)."""

from __future__ import annotations

import pytest
from host_tool.frames import FrameError, Opcode, build_frame, command_token, crc16_ccitt, decode_status

KEY = 0x5EC2E7A1


@pytest.mark.verifies("PUMP-SRS-014")
def test_crc_of_the_standard_check_string() -> None:
    assert crc16_ccitt(b"123456789") == 0x29B1
    assert crc16_ccitt(b"") == 0xFFFF


@pytest.mark.verifies("PUMP-SRS-027")
@pytest.mark.parametrize(
    ("key", "seq", "token"),
    [
        (KEY, 1, 0xE0514A4F),
        (KEY, 0xFFFF, 0x5FC0124B),
        (0xFFFFFFFF, 0x1234, 0x50EBF013),
        (0x12345678, 42, 0xAC9B970D),
    ],
)
def test_token_is_the_firmwares(key: int, seq: int, token: int) -> None:
    assert command_token(key, seq) == token


@pytest.mark.verifies("PUMP-SRS-026")
def test_frame_layout_is_the_firmwares() -> None:
    frame = build_frame(KEY, 1, Opcode.BOLUS, bytes([0x01, 0x2C, 0x00, 0x78]))
    assert frame[:2] == bytes([0xA5, 11])
    assert frame[2:4] == b"\x00\x01"
    assert frame[4:8] == (0xE0514A4F).to_bytes(4, "big")
    assert frame[8] == Opcode.BOLUS
    assert frame[9:13] == bytes([0x01, 0x2C, 0x00, 0x78])
    assert int.from_bytes(frame[13:], "big") == crc16_ccitt(frame[1:13])
    assert len(build_frame(KEY, 2, Opcode.STATUS)) == 11


@pytest.mark.verifies("PUMP-SRS-026")
@pytest.mark.parametrize(
    ("key", "seq", "opcode", "args"),
    [(-1, 1, 1, b""), (KEY, 0x10000, 1, b""), (KEY, 1, 0x100, b""), (KEY, 1, 1, bytes(26))],
)
def test_frames_that_do_not_fit_are_refused(key: int, seq: int, opcode: int, args: bytes) -> None:
    with pytest.raises(FrameError):
        build_frame(key, seq, opcode, args)


def status_response(body: bytes) -> bytes:
    frame = bytes([0xA5, 9, 0x81]) + body
    return frame + crc16_ccitt(frame[1:]).to_bytes(2, "big")


@pytest.mark.verifies("PUMP-SRS-030")
def test_status_response_is_decoded() -> None:
    status = decode_status(status_response(bytes([2, 0, 0x75, 0x30, 0, 0, 0x01, 0x2C])))
    assert (status.state, status.alarm, status.reservoir_cu, status.insulin_on_board_cu) == (2, 0, 30000, 300)


@pytest.mark.verifies("PUMP-SRS-030")
@pytest.mark.parametrize(
    "frame",
    [
        status_response(bytes(8))[:-1],  # too short
        bytes([0xA5, 9, 0x82]) + bytes(10),  # the answer to another command
        status_response(bytes(8))[:-1] + b"\x00",  # CRC damaged
    ],
)
def test_wrong_status_responses_are_rejected(frame: bytes) -> None:
    with pytest.raises(FrameError):
        decode_status(frame)
