"""The pump's event log export: one record a line, ``SEQ,TIME_S,EVENT,VALUE,CRC``.

CRC is the CRC-16/CCITT-FALSE of the text before the last comma, four hex digits.  Blank lines
and lines starting with ``#`` (the export's header) are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from host_tool.frames import crc16_ccitt

EVENTS = frozenset({"BOLUS", "BASAL", "TEMP_BASAL", "SUSPEND", "RESUME", "ALARM"})


class LogError(ValueError):
    """A log record that cannot be used."""


@dataclass(frozen=True)
class LogRecord:
    seq: int
    time_s: int
    event: str
    value: int


@dataclass
class LogReport:
    records: list[LogRecord] = field(default_factory=list)
    corrupted: list[tuple[int, str]] = field(default_factory=list)  # line number, why


# @req PUMP-SRS-029
def parse_record(line: str) -> LogRecord:
    """One record; :class:`LogError` says why a line is not one."""
    body, comma, crc_text = line.rpartition(",")
    if not comma:
        raise LogError("no CRC field")
    if f"{crc16_ccitt(body.encode('utf-8')):04X}" != crc_text.strip().upper():
        raise LogError("CRC mismatch: the record is corrupted")
    fields = body.split(",")
    if len(fields) != 4:
        raise LogError(f"{len(fields)} fields before the CRC, expected 4")
    seq, time_s, event, value = (f.strip() for f in fields)
    if event not in EVENTS:
        raise LogError(f"unknown event {event!r}")
    try:
        return LogRecord(int(seq), int(time_s), event, int(value))
    except ValueError:
        raise LogError("SEQ, TIME_S and VALUE must be integers") from None


# @req PUMP-SRS-029
def read_log(text: str) -> LogReport:
    """Every record of an export; corrupted ones are reported with their line, never used."""
    report = LogReport()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            report.records.append(parse_record(line))
        except LogError as exc:
            report.corrupted.append((number, str(exc)))
    return report
