"""A DIMSE process of ``openvna serve``: the SCP on the listening socket the supervisor bound
and forked it with (the DIMSE listener of ``server.supervisor``: ``preload`` there, ``serve``
here).

Several such processes share the socket (``dimse.processes``), the kernel handing each
connection to one of them: pynetdicom runs an association's reactor loop and handlers in Python
threads under one interpreter lock, so one process is bounded by one core however many peers
store at once. Each process builds its own archive from the settings in the environment (the
index is shared as the HTTP workers share it).

SIGTERM (the supervisor stopping) stops accepting associations and lets those under way finish
for up to ``DRAIN_TIMEOUT`` seconds; a process whose supervisor was killed stops itself.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from types import FrameType

from openvna.logs import configure_logging
from openvna.settings import Settings

__all__ = ["DRAIN_TIMEOUT", "preload", "serve"]

log = logging.getLogger("openvna.dimse")

# The supervisor's name for the settings in the environment (``server.supervisor``, which this
# package may not import: the server sits above the doors).
_WORKER_SETTINGS = "_OPENVNA_WORKER_SETTINGS"
DRAIN_TIMEOUT = 25.0  # under the supervisor's 30 s before it kills
_ORPHAN_CHECK = 0.5


def preload() -> None:
    """Import what a DIMSE process runs (pynetdicom, the archive), in the supervisor that forks
    them."""
    import openvna.dimse.scp
    import openvna.runtime  # noqa: F401


def serve(sock: socket.socket, supervisor: int) -> None:
    """Serve ``sock`` until SIGTERM, or until the supervisor (process ``supervisor``) is gone."""
    settings = Settings.model_validate_json(os.environ[_WORKER_SETTINGS])
    configure_logging(settings.server.log_level)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)

    from openvna.dimse.scp import start
    from openvna.runtime import build_archive

    archive = build_archive(settings)
    server = start(settings, archive, sock)
    while not stop.wait(_ORPHAN_CHECK):
        if os.getppid() != supervisor:
            log.warning("the supervisor (process %d) is gone: stopping", supervisor)
            break
    server.shutdown()  # no new associations
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while server.active_associations and time.monotonic() < deadline:
        time.sleep(0.1)
    server.server_close()
    archive.close()
