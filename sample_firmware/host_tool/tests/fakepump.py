"""A fake pump on the other end of the radio: it checks every frame as the firmware does."""

from __future__ import annotations

from dataclasses import dataclass, field

from host_tool.frames import SOF, crc16_ccitt

KEY = 0x5EC2E7A1  # the pairing key of the firmware's own tests (tests/test_cmd.c)


@dataclass
class FakePump:
    """Accepts frames with a good CRC and a newer sequence number; answers status requests."""

    status_reply: bytes = b""
    frames: list[bytes] = field(default_factory=list)
    last_seq: int = 0

    def __call__(self, frame: bytes) -> bytes:
        assert frame[0] == SOF
        assert frame[1] + 4 == len(frame)
        assert crc16_ccitt(frame[1:-2]) == int.from_bytes(frame[-2:], "big")
        seq = int.from_bytes(frame[2:4], "big")
        assert 0 < (seq - self.last_seq) % 0x10000 <= 0x7FFF, "replayed sequence number"
        self.last_seq = seq
        self.frames.append(frame)
        return self.status_reply
