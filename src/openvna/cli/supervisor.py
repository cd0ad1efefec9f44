"""The supervisor of ``openvna serve --workers N``: it holds the listening socket and starts,
restarts and stops the workers, and does nothing else.

``serve`` prepares the index (and the demo data) in its own process, then replaces itself with
this module (``os.execv``, same process id, same signals). The supervisor binds the port and
starts N processes of ``python -m openvna.cli.worker``, which inherit the socket and serve it
with uvicorn; the kernel spreads the connections among them. It imports neither the archive's
libraries nor uvicorn: about 15 MB resident. uvicorn's own process manager, which it replaces,
held 26 MB and needed multiprocessing's resource tracker (12 MB more), which spawning workers
through multiprocessing always starts.

A worker that dies is started again; SIGTERM or SIGINT stops the workers (SIGTERM, uvicorn's
graceful shutdown; SIGKILL after ``STOP_TIMEOUT``) and then the supervisor.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from types import FrameType

from openvna.logs import configure_logging

__all__ = ["BACKLOG", "STOP_TIMEOUT", "WORKER_SETTINGS", "main"]

# The environment variable through which ``serve`` hands the settings to the supervisor and the
# workers.
WORKER_SETTINGS = "_OPENVNA_WORKER_SETTINGS"
BACKLOG = 2048  # uvicorn's default
STOP_TIMEOUT = 30.0  # seconds a worker has to finish its requests once told to stop
_RESTART_PAUSE = 1.0  # a worker that keeps dying is started again at most this often
_WORKER = "openvna.cli.worker"

log = logging.getLogger("openvna")


def listen(host: str, port: int) -> socket.socket:
    """The server's listening socket, inheritable by the workers."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except BaseException:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class Supervisor:
    def __init__(self, sock: socket.socket, workers: int) -> None:
        self.sock = sock
        self.slots: list[tuple[subprocess.Popen[bytes], float]] = []
        self.count = workers
        self.stopping = False

    def run(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._stop)
        self.slots = [self._start() for _ in range(self.count)]
        while not self.stopping:
            for index, (process, started) in enumerate(self.slots):
                code = process.poll()
                if code is None or self.stopping:
                    continue
                if time.monotonic() - started < _RESTART_PAUSE:
                    continue  # started again on a later round, not in a tight loop
                log.warning("worker %d exited with status %d: starting another", process.pid, code)
                self.slots[index] = self._start()
            time.sleep(0.1)
        self._stop_workers()

    def _start(self) -> tuple[subprocess.Popen[bytes], float]:
        fd = self.sock.fileno()
        command = [sys.executable, "-m", _WORKER, str(fd), str(os.getpid())]
        return subprocess.Popen(command, pass_fds=(fd,)), time.monotonic()

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping = True

    def _stop_workers(self) -> None:
        processes = [process for process, _ in self.slots]
        for process in processes:
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in processes:
            try:
                process.wait(max(deadline - time.monotonic(), 0))
            except subprocess.TimeoutExpired:
                log.warning("worker %d did not stop in %.0f s: killed", process.pid, STOP_TIMEOUT)
                process.kill()
                process.wait()


def main() -> None:
    server = json.loads(os.environ[WORKER_SETTINGS])["server"]
    configure_logging(server["log_level"])
    try:
        sock = listen(server["host"], server["port"])
    except OSError as exc:
        log.error("cannot listen on %s:%s: %s", server["host"], server["port"], exc.strerror)
        sys.exit(1)
    with sock:
        Supervisor(sock, server["workers"]).run()


if __name__ == "__main__":
    main()
