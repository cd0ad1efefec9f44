"""The supervisor of ``openvna serve``: it holds the listening sockets and starts, restarts and
stops the processes that serve them, and does nothing else.

The unit is a ``Listener``: a name, an address the supervisor binds, the module its processes run
and how many processes share the socket (the kernel spreads the connections among them). Such a
module has two functions: ``preload()`` imports what its processes need, and ``serve(sock,
supervisor)`` serves the listening socket ``sock`` until told to stop (SIGTERM) or until the
supervisor, process ``supervisor``, is gone. The HTTP door is one listener (``server.http``,
``--workers`` processes); the DIMSE door adds its own by returning one more from ``listeners``,
without touching the supervisor.

``serve`` binds every listener's address first, then prepares the index (and the demo data) in
its own process, then replaces itself with this module (``os.execv``, same process id, same
signals), the settings and the bound sockets' descriptors in the environment.

The supervisor runs every listener's ``preload()`` once, moves what it made out of the garbage
collector's sight (``gc.freeze``: a collection in a process would otherwise write to every page
of it), and then forks each process from itself: the processes share the imported libraries'
pages instead of each importing its own copy. Measured on an idle tree of 2 HTTP and 2 DIMSE
processes, whose libraries (pydicom with numpy and Pillow, SQLAlchemy, pydantic, Starlette,
pynetdicom) are ~65 MB of heap in each process: proportional set size (PSS, shared pages
counted once) 316 MB when each process was started as ``python -m MODULE`` and imported its own,
~150 MB forked from a preloaded supervisor, each process keeping ~12 MB of its own (bench/RESULTS).
gunicorn's ``--preload`` is the same design. The supervisor starts no thread before it forks.

A process that dies is started again (at most once a ``_RESTART_PAUSE``); SIGTERM or SIGINT stops
them all (SIGTERM, a graceful shutdown; SIGKILL after ``STOP_TIMEOUT``) and then the supervisor.
A listener whose address cannot be bound ends ``serve`` with status 1 and one line naming it,
before anything is loaded.
"""

from __future__ import annotations

import gc
import importlib
import json
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import FrameType, ModuleType
from typing import Any

from openvna.logs import configure_logging
from openvna.server.idle import release_when_idle

__all__ = [
    "BACKLOG",
    "LISTEN_FDS",
    "MALLOC_SETTINGS",
    "STOP_TIMEOUT",
    "WORKER_SETTINGS",
    "CannotListen",
    "Listener",
    "Supervisor",
    "bind",
    "hand_down",
    "inherited",
    "listen",
    "listeners",
    "main",
    "supervisor_environment",
]

# The environment variable through which ``serve`` hands the settings to the supervisor and its
# processes.
WORKER_SETTINGS = "_OPENVNA_WORKER_SETTINGS"
# The environment variable through which ``serve`` hands its bound sockets to the supervisor:
# JSON, listener name -> descriptor.
LISTEN_FDS = "_OPENVNA_LISTEN_FDS"
BACKLOG = 2048  # uvicorn's default
STOP_TIMEOUT = 30.0  # seconds a process has to finish its requests once told to stop
_RESTART_PAUSE = 1.0  # a process that keeps dying is started again at most this often
# glibc's malloc settings for the supervisor and so for every process it forks (environment
# variables glibc reads when a program starts; a value the operator set wins). By default glibc
# returns memory to the kernel once a few MB lie free at the top of the heap and maps blocks over
# its dynamic threshold on their own. A STOW-RS body passes through such blocks (uvicorn's body
# chunks, joined up to ``zerocopy.BODY_BUFFER``), so a worker took ~100 page faults per 512 KB
# instance (perf: two thirds in that join, one third in httptools' body copies). With blocks up to
# 8 MB kept in the heap and 32 MB kept at its top: 5 faults per instance; in the bench's 2 clients
# x 10 CT row, back to back, server CPU per instance 2.70 -> 2.27 ms and 1.22x -> 1.45x Orthanc.
# The price is that memory: the peak RSS row (after the ingest rows) 245 -> 288 MB for two workers.
MALLOC_SETTINGS = {"MALLOC_MMAP_THRESHOLD_": str(8 << 20), "MALLOC_TRIM_THRESHOLD_": str(32 << 20)}

log = logging.getLogger("openvna")


@dataclass(frozen=True)
class Listener:
    """One door's listening socket and the processes that serve it."""

    name: str
    module: str
    host: str
    port: int
    processes: int = 1


def listeners(settings: dict[str, Any]) -> list[Listener]:
    """The listeners the settings ask for (the settings as JSON: no pydantic in this process)."""
    server = settings["server"]
    http = Listener(
        "http", "openvna.server.http", server["host"], server["port"], server["workers"]
    )
    dimse = settings.get("dimse") or {}
    if not dimse.get("processes"):
        return [http]
    # The DIMSE door (issue 9): its SCP processes on their own port, same host.
    scp = Listener(
        "dimse", "openvna.dimse.worker", server["host"], dimse["port"], dimse["processes"]
    )
    return [http, scp]


def listen(host: str, port: int) -> socket.socket:
    """A listening socket, inheritable by the processes that serve it."""
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


class _Child:
    """A forked process: whether it still runs, and the means to stop it."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.status: int | None = None

    def poll(self) -> int | None:
        """Its exit status once it has ended (a signal's death as minus the signal), else None."""
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
        return self.status

    def signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def wait(self, timeout: float) -> bool:
        """Whether it ended within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True


@dataclass
class _Slot:
    """One process of a listener: what runs there now, and since when."""

    listener: Listener
    sock: socket.socket
    process: _Child
    started: float


class Supervisor:
    """Starts every listener's processes on their sockets and keeps them running."""

    def __init__(self, bound: Sequence[tuple[Listener, socket.socket]]) -> None:
        self.bound = list(bound)
        self.slots: list[_Slot] = []
        self.stopping = False
        self.modules: dict[str, ModuleType] = {}

    def run(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._stop)
        self._preload()
        self.slots = [
            self._start(listener, sock)
            for listener, sock in self.bound
            for _ in range(listener.processes)
        ]
        while not self.stopping:
            for index, slot in enumerate(self.slots):
                code = slot.process.poll()
                if code is None or self.stopping:
                    continue
                if time.monotonic() - slot.started < _RESTART_PAUSE:
                    continue  # started again on a later round, not in a tight loop
                log.warning(
                    "%s process %d exited with status %d: starting another",
                    slot.listener.name,
                    slot.process.pid,
                    code,
                )
                self.slots[index] = self._start(slot.listener, slot.sock)
            time.sleep(0.1)
        self._stop_all()

    def _preload(self) -> None:
        """Import what every listener's processes need, once, here, then freeze it (see the
        module's docstring)."""
        for listener, _ in self.bound:
            if listener.module not in self.modules:
                module = importlib.import_module(listener.module)
                module.preload()
                self.modules[listener.module] = module
        gc.collect()
        gc.freeze()

    def _start(self, listener: Listener, sock: socket.socket) -> _Slot:
        supervisor = os.getpid()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            self._serve(listener, sock, supervisor)
        return _Slot(listener, sock, _Child(pid), time.monotonic())

    def _serve(self, listener: Listener, sock: socket.socket, supervisor: int) -> None:
        """In a forked process: serve ``sock`` with the listener's module, then exit (never
        return into the supervisor's loop)."""
        code = 1
        try:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, signal.SIG_DFL)
            for _, other in self.bound:
                if other is not sock:
                    other.close()
            release_when_idle()
            self.modules[listener.module].serve(sock, supervisor)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            log.exception("%s process %d failed", listener.name, os.getpid())
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping = True

    def _stop_all(self) -> None:
        processes = [slot.process for slot in self.slots]
        for process in processes:
            process.signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in processes:
            if not process.wait(max(deadline - time.monotonic(), 0)):
                log.warning("process %d did not stop in %.0f s: killed", process.pid, STOP_TIMEOUT)
                process.signal(signal.SIGKILL)
                process.wait(STOP_TIMEOUT)


def supervisor_environment(environment: Mapping[str, str]) -> dict[str, str]:
    """The environment the supervisor is started with: ``environment``, with
    ``MALLOC_SETTINGS`` where the operator set none (its processes, forked, keep them)."""
    return {**MALLOC_SETTINGS, **environment}


class CannotListen(Exception):
    """A listener's address cannot be bound; the message is the one line the operator sees."""


def bind(wanted: Sequence[Listener]) -> list[tuple[Listener, socket.socket]]:
    """Bind every listener, all or none: ``serve`` does it before it opens the index or loads
    anything, so a port in use ends the command at once, before any "listening" line."""
    bound: list[tuple[Listener, socket.socket]] = []
    for listener in wanted:
        try:
            bound.append((listener, listen(listener.host, listener.port)))
        except OSError as exc:
            for _, sock in bound:
                sock.close()
            raise CannotListen(
                f"cannot listen for {listener.name} on {listener.host}:{listener.port}: "
                f"{exc.strerror}"
            ) from exc
    return bound


def hand_down(bound: Sequence[tuple[Listener, socket.socket]]) -> None:
    """Leave the bound sockets' descriptors in the environment for the supervisor that
    ``serve`` becomes (``os.execv`` keeps inheritable descriptors)."""
    os.environ[LISTEN_FDS] = json.dumps({listener.name: sock.fileno() for listener, sock in bound})


def inherited(wanted: Sequence[Listener]) -> list[tuple[Listener, socket.socket]]:
    """The sockets ``serve`` bound and handed down, by listener."""
    fds = json.loads(os.environ.pop(LISTEN_FDS))
    return [(listener, socket.socket(fileno=fds[listener.name])) for listener in wanted]


def supervise(bound: Sequence[tuple[Listener, socket.socket]]) -> int:
    """Run the bound listeners until told to stop; the exit status."""
    try:
        Supervisor(bound).run()
        return 0
    finally:
        for _, sock in bound:
            sock.close()


def main() -> None:
    settings = json.loads(os.environ[WORKER_SETTINGS])
    configure_logging(settings["server"]["log_level"])
    sys.exit(supervise(inherited(listeners(settings))))


if __name__ == "__main__":
    main()
