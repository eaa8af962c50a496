"""The pump log export: good records read, corrupted ones reported by line and never used."""

from __future__ import annotations

import pytest
from host_tool.frames import crc16_ccitt
from host_tool.pumplog import LogError, parse_record, read_log


def record(body: str) -> str:
    return f"{body},{crc16_ccitt(body.encode()):04X}"


# @verifies PUMP-SRS-029
def test_good_records_are_read_and_corrupted_ones_reported() -> None:
    text = "\n".join(
        [
            "# pump SN 0042 event log",
            record("1,3600,BOLUS,300"),
            "",
            record("2,3660,SUSPEND,0").replace("SUSPEND", "SUSPENT"),  # one bit off on the wire
            record("3,3720,RESUME,0"),
        ]
    )
    report = read_log(text)
    assert [(r.seq, r.event, r.value) for r in report.records] == [(1, "BOLUS", 300), (3, "RESUME", 0)]
    assert report.corrupted == [(4, "CRC mismatch: the record is corrupted")]


# @verifies PUMP-SRS-029
@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("1 3600 BOLUS 300", "no CRC field"),
        (record("1,3600,BOLUS"), "3 fields before the CRC"),
        (record("1,3600,PRIME,50"), "unknown event"),
        (record("1,noon,BOLUS,300"), "must be integers"),
    ],
)
def test_malformed_records_are_refused(line: str, why: str) -> None:
    with pytest.raises(LogError, match=why):
        parse_record(line)
