"""`openvna serve` as a process of its own, on a free loopback port, stopped at the end."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve_process(
    data_dir: Path,
    *options: str,
    headers: dict[str, str] | None = None,
    environ: dict[str, str] | None = None,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Yield the DICOMweb root URL and the process once it answers QIDO (sent with ``headers``,
    e.g. the API key of ``--demo``); ``environ`` adds to its environment."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "openvna",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            *options,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "OPENVNA_INDEX__URL": "", **(environ or {})},
    )
    url = f"http://127.0.0.1:{port}/dicomweb"
    try:
        if not _answers(url, process, headers):
            process.terminate()
            pytest.fail(
                "openvna serve did not start: " + process.communicate(timeout=10)[1].decode()
            )
        yield url, process
    finally:
        process.terminate()
        process.wait(20)


def _answers(url: str, process: subprocess.Popen[bytes], headers: dict[str, str] | None) -> bool:
    """Whether QIDO answers 200 within a minute (a start may load the demo data first)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(url + "/studies", headers=headers, timeout=1).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    return False
