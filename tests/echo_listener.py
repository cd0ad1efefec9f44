"""A listener that is not HTTP, for the supervisor's tests: it answers each connection with its
process id and what it read, on the socket the supervisor forks it with (the listener contract
of ``server.supervisor``: ``preload`` and ``serve``)."""

from __future__ import annotations

import os
import signal
import socket
import sys


def preload() -> None:
    """Nothing to import beforehand."""


def serve(sock: socket.socket, supervisor: int) -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        conn, _ = sock.accept()
        with conn:
            conn.sendall(f"{os.getpid()}:".encode() + conn.recv(1024))
