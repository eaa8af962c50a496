"""A paired session with one pump: sequence numbers, and every command with the pump's limits.

The radio is any callable that sends a frame and returns the pump's answer (empty when the
command has none): the serial dongle in the product, a fake in the tests.
"""

from __future__ import annotations

from collections.abc import Callable

from host_tool.frames import Opcode, PumpStatus, build_frame, decode_status

Radio = Callable[[bytes], bytes]

MAX_BOLUS_CU = 1000  # 10.00 U, the pump's default maximum bolus
GLUCOSE_RANGE_MGDL = (20, 600)
TEMP_BASAL_PERCENT = (0, 200)
TEMP_BASAL_MINUTES = (30, 720)


class CommandRefused(ValueError):
    """A command the host tool refuses to send (outside the pump's limits)."""


class Session:
    """Commands to one paired pump."""

    # @req PUMP-SRS-027
    def __init__(
        self, key: int, radio: Radio, *, last_seq: int = 0, max_bolus_cu: int = MAX_BOLUS_CU
    ) -> None:
        self.key = key
        self.radio = radio
        self.last_seq = last_seq
        self.max_bolus_cu = max_bolus_cu

    # The next sequence number: one newer than the last, modulo 2^16 (the pump's replay window).
    # @req PUMP-SRS-027
    def next_seq(self) -> int:
        self.last_seq = (self.last_seq + 1) & 0xFFFF
        return self.last_seq

    # @req PUMP-SRS-026
    def _send(self, opcode: int, args: bytes = b"") -> bytes:
        return self.radio(build_frame(self.key, self.next_seq(), opcode, args))

    # @req PUMP-SRS-030
    def status(self) -> PumpStatus:
        return decode_status(self._send(Opcode.STATUS))

    # A remote bolus, refused here already when the pump would refuse it.
    # @req PUMP-SRS-028
    def bolus(self, amount_cu: int, glucose_mgdl: int) -> None:
        if not 0 < amount_cu <= self.max_bolus_cu:
            raise CommandRefused(f"bolus of {amount_cu} cU outside 1..{self.max_bolus_cu} cU")
        low, high = GLUCOSE_RANGE_MGDL
        if not low <= glucose_mgdl <= high:
            raise CommandRefused(f"glucose {glucose_mgdl} mg/dL outside {low}..{high} mg/dL")
        self._send(Opcode.BOLUS, amount_cu.to_bytes(2, "big") + glucose_mgdl.to_bytes(2, "big"))

    # @req PUMP-SRS-026
    def suspend(self) -> None:
        self._send(Opcode.SUSPEND)

    # @req PUMP-SRS-026
    def resume(self) -> None:
        self._send(Opcode.RESUME)

    # @req PUMP-SRS-031
    def temp_basal(self, percent: int, minutes: int) -> None:
        if not TEMP_BASAL_PERCENT[0] <= percent <= TEMP_BASAL_PERCENT[1]:
            raise CommandRefused(f"temporary basal of {percent} % outside 0..200 %")
        if not TEMP_BASAL_MINUTES[0] <= minutes <= TEMP_BASAL_MINUTES[1]:
            raise CommandRefused(f"temporary basal for {minutes} min outside 30..720 min")
        self._send(Opcode.TEMP_BASAL, bytes([percent]) + minutes.to_bytes(2, "big"))

    # Engineering mode: run the motor for a dose on the bench.
    def engineering_dose(self, amount_cu: int) -> None:
        self._send(0xF7, amount_cu.to_bytes(2, "big"))
