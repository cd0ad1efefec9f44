"""A DIMSE provider that writes to a recorded socket: what the direct-write paths of
``dimse.encoding`` send, without a peer."""

from __future__ import annotations

import socket
import threading
from types import SimpleNamespace
from typing import Any

from openvna.dimse.reactor import WakingDUL


class Transport:
    """A connected socket's ``sendall``, recorded."""

    family = socket.AF_INET

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, int]] = []

    def sendall(self, data: bytes, flags: int = 0) -> None:
        self.sent.append((bytes(data), flags))


def sending_dimse(transport: Transport, max_pdu: int = 0, handlers: bool = False) -> Any:
    """A DIMSE provider whose DUL is transferring data (Sta6) on ``transport``; ``handlers``:
    a handler is bound to every event."""
    dul = WakingDUL.__new__(WakingDUL)
    dul._send_lock = threading.Lock()
    dul._data_queued = 0
    dul.state_machine = SimpleNamespace(current_state="Sta6")
    dul.socket = SimpleNamespace(socket=transport)
    assoc = SimpleNamespace(get_handlers=lambda event: [print] if handlers else [])
    return SimpleNamespace(dul=dul, assoc=assoc, maximum_pdu_size=max_pdu)
