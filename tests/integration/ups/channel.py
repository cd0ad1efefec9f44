"""A UPS event subscriber for the tests: a real WebSocket client (``websockets``) on
``/subscribers/{AETitle}`` and the messages it has received, plus which server process holds its
connection (found in /proc, so two subscribers can be placed on different workers)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import orjson
from websockets.sync.client import ClientConnection, connect

__all__ = ["Subscriber", "worker_holding"]


class Subscriber:
    """One open event channel and the events it received, in order."""

    def __init__(self, dicomweb: str, ae_title: str, headers: dict[str, str] | None = None) -> None:
        self.ae_title = ae_title
        url = dicomweb.replace("http://", "ws://", 1) + f"/subscribers/{ae_title}"
        self.connection: ClientConnection = connect(
            url, proxy=None, open_timeout=10, legacy=True, additional_headers=headers
        )
        self.received: list[dict[str, Any]] = []

    def wait_for(self, uid: str, event_type: int, state: str | None = None) -> dict[str, Any]:
        """The first event of that type about ``uid`` (and state), waiting up to 10 s."""
        deadline = time.monotonic() + 10
        while True:
            for message in self.received:
                if _is(message, uid, event_type, state):
                    return message
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"{self.ae_title} got no event {event_type} {state or ''} for {uid}: "
                    f"{self.received}"
                )
            self.received.append(orjson.loads(self.connection.recv(timeout=left)))

    def close(self) -> None:
        self.connection.close()


def _is(message: dict[str, Any], uid: str, event_type: int, state: str | None) -> bool:
    def first(tag: str) -> Any:
        return (message.get(tag, {}).get("Value") or [None])[0]

    return (
        first("00001000") == uid
        and first("00001002") == event_type
        and (state is None or first("00741000") == state)
    )


def worker_holding(connection: ClientConnection, pids: list[int]) -> int:
    """The pid among ``pids`` whose process holds the server side of ``connection``."""
    local_host, local_port = connection.socket.getsockname()[:2]
    server_port = connection.socket.getpeername()[1]
    wanted = f"{_hex_address(local_host, local_port)}"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        inode = _server_inode(server_port, wanted)
        if inode:
            for pid in pids:
                for fd in Path(f"/proc/{pid}/fd").iterdir():
                    try:
                        if os.readlink(fd) == f"socket:[{inode}]":
                            return pid
                    except OSError:
                        continue
        time.sleep(0.05)
    raise AssertionError("no worker holds the connection")


def _hex_address(host: str, port: int) -> str:
    packed = bytes(int(part) for part in host.split("."))
    return f"{int.from_bytes(packed, 'little'):08X}:{port:04X}"


def _server_inode(server_port: int, remote: str) -> str | None:
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, peer, inode = fields[1], fields[2], fields[9]
        if local.endswith(f":{server_port:04X}") and peer == remote:
            return inode
    return None
