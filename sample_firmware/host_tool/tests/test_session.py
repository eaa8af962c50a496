"""Commands through a session: sequence numbers, limits checked before anything is sent."""

from __future__ import annotations

import pytest
from host_tool.frames import Opcode, crc16_ccitt
from host_tool.session import CommandRefused, Session

from tests.fakepump import KEY, FakePump


@pytest.mark.verifies("PUMP-SRS-027")
def test_sequence_numbers_increase_and_wrap(pump: FakePump) -> None:
    pump.last_seq = 0xFFFE
    session = Session(KEY, pump, last_seq=0xFFFE)
    session.suspend()
    session.resume()
    session.suspend()
    assert [int.from_bytes(f[2:4], "big") for f in pump.frames] == [0xFFFF, 0x0000, 0x0001]


@pytest.mark.verifies("PUMP-SRS-026")
def test_suspend_and_resume_frames(pump: FakePump) -> None:
    session = Session(KEY, pump)
    session.suspend()
    session.resume()
    assert [f[8] for f in pump.frames] == [Opcode.SUSPEND, Opcode.RESUME]
    assert all(f[1] == 7 for f in pump.frames)


@pytest.mark.verifies("PUMP-SRS-030")
def test_status_through_the_radio(pump: FakePump) -> None:
    reply = bytes([0xA5, 9, 0x81, 3, 0, 0x03, 0xE8, 0, 0, 0, 0x32])
    pump.status_reply = reply + crc16_ccitt(reply[1:]).to_bytes(2, "big")
    status = Session(KEY, pump).status()
    assert (status.state, status.reservoir_cu, status.insulin_on_board_cu) == (3, 1000, 50)


@pytest.mark.verifies("PUMP-SRS-028")
def test_bolus_within_the_limits_is_sent(pump: FakePump) -> None:
    Session(KEY, pump).bolus(300, 120)
    assert pump.frames[0][8] == Opcode.BOLUS
    assert pump.frames[0][9:13] == bytes([0x01, 0x2C, 0x00, 0x78])


@pytest.mark.verifies("PUMP-SRS-028")
@pytest.mark.parametrize(("amount", "glucose"), [(0, 120), (1001, 120), (300, 19), (300, 601)])
def test_bolus_outside_the_limits_is_refused(pump: FakePump, amount: int, glucose: int) -> None:
    with pytest.raises(CommandRefused):
        Session(KEY, pump).bolus(amount, glucose)
    assert pump.frames == []


@pytest.mark.verifies("PUMP-SRS-031")
def test_temp_basal_within_the_ranges_is_sent(pump: FakePump) -> None:
    Session(KEY, pump).temp_basal(150, 120)
    assert pump.frames[0][8:12] == bytes([Opcode.TEMP_BASAL, 150, 0, 120])


@pytest.mark.verifies("PUMP-SRS-031")
@pytest.mark.parametrize(("percent", "minutes"), [(201, 120), (150, 29), (150, 721)])
def test_temp_basal_outside_the_ranges_is_refused(pump: FakePump, percent: int, minutes: int) -> None:
    with pytest.raises(CommandRefused):
        Session(KEY, pump).temp_basal(percent, minutes)
    assert pump.frames == []
