"""A listener that is not HTTP, for the supervisor's tests: it answers each connection with its
process id and what it read, on the socket the supervisor passes down (``FD PID`` arguments, as
the HTTP workers get them)."""

from __future__ import annotations

import os
import signal
import socket
import sys


def main() -> None:
    sock = socket.socket(fileno=int(sys.argv[1]))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        conn, _ = sock.accept()
        with conn:
            conn.sendall(f"{os.getpid()}:".encode() + conn.recv(1024))


if __name__ == "__main__":
    main()
