"""Host tool of the sample insulin pump (nothing here is medical software).

``frames``   the pump's wireless command frames: CRC, authentication token, status response
``session``  a paired session with one pump: sequence numbers, commands with their limits
``pumplog``  the pump's event log export, record by record, with a CRC per record
"""

from __future__ import annotations

__version__ = "1.4.0"
