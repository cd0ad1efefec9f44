"""Real peers of the admin REST SCU tests: DCMTK's storescp (it answers C-ECHO too: Debian's
dcmtk ships no echoscp), started on a free port and waited for until it accepts connections;
and a job of ``/api/jobs`` followed until it ends."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.integration.dimse.conftest import free_port

_DEADLINE = 60.0  # seconds a peer may take to listen, or a job to end, on a loaded machine


@dataclass(frozen=True)
class Storescp:
    aet: str
    port: int
    received: Path

    def node(self, **rights: bool) -> dict[str, Any]:
        """Its entry in ``dimse.remotes``."""
        return {"aet": self.aet, "host": "127.0.0.1", "port": self.port, **rights}


@contextlib.contextmanager
def storescp(directory: Path, aet: str = "STORESCP", *options: str) -> Iterator[Storescp]:
    """DCMTK's storescp, bit-preserving (``+B``), writing what it receives to ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = ["storescp", "-aet", aet, "+B", "+xa", *options, "-od", str(directory), str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_listening(port, process)
        yield Storescp(aet, port, directory)
    finally:
        process.terminate()
        process.wait(10)


def _wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + _DEADLINE
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"storescp did not listen on port {port}")
        time.sleep(0.05)


def finished_job(base: str, accepted: httpx.Response, headers: dict[str, str]) -> dict[str, Any]:
    """Follow the ``Location`` of a 202 until the job is Success or Failure; its body."""
    assert accepted.status_code == 202, accepted.text
    location = accepted.headers["Location"]
    assert accepted.json()["url"] == location
    deadline = time.monotonic() + _DEADLINE
    while True:
        job: dict[str, Any] = httpx.get(base + location, headers=headers, timeout=30).json()
        if job["state"] in ("Success", "Failure"):
            return job
        assert time.monotonic() < deadline, f"job still {job['state']}: {job}"
        time.sleep(0.1)
