"""The process model hosts more than HTTP: the supervisor binds every listener's socket, keeps
each listener's processes running and stops them all (the DIMSE door will be such a listener)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from openvna.server.supervisor import WORKER_SETTINGS
from openvna.settings import Settings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
_DEADLINE = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _supervise(tmp_path: Path, http_port: int, echo_port: int) -> subprocess.Popen[str]:
    """A supervisor of the HTTP listener and an echo listener (``tests/echo_listener.py``)."""
    code = (
        "import sys\n"
        "from openvna.server.supervisor import CannotListen, Listener, bind, supervise\n"
        f"http = Listener('http', 'openvna.server.http', '127.0.0.1', {http_port})\n"
        f"echo = Listener('echo', 'tests.echo_listener', '127.0.0.1', {echo_port})\n"
        "try:\n"
        "    bound = bind([http, echo])\n"
        "except CannotListen as exc:\n"
        "    sys.exit(str(exc))\n"
        "sys.exit(supervise(bound))\n"
    )
    settings = Settings(storage={"data_dir": tmp_path / "data"}, server={"port": http_port})
    env = {**os.environ, WORKER_SETTINGS: settings.model_dump_json()}
    return subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True
    )


def _echo(port: int) -> tuple[int, bytes] | None:
    """(process id, echoed bytes) of the echo listener, or None while it does not answer."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            conn.sendall(b"ping")
            pid, _, data = conn.recv(1024).partition(b":")
            return int(pid), data
    except (OSError, ValueError):
        return None


def _until(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + _DEADLINE
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _http_answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/dicomweb/studies").status_code == 200
    except httpx.HTTPError:
        return False


def test_a_second_listener_is_served_restarted_and_stopped(tmp_path: Path) -> None:
    http_port, echo_port = _free_port(), _free_port()
    supervisor = _supervise(tmp_path, http_port, echo_port)
    try:
        _until(lambda: _http_answers(http_port), "the HTTP listener")
        first_pid, data = _until(lambda: _echo(echo_port), "the echo listener")
        assert data == b"ping"
        os.kill(first_pid, signal.SIGKILL)
        again = _until(
            lambda: (found := _echo(echo_port)) and found[0] != first_pid and found,
            "a new echo process",
        )
        assert again[1] == b"ping"
        assert _http_answers(http_port)  # the HTTP listener was left alone
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(_DEADLINE) == 0
        assert _echo(echo_port) is None
        assert not _http_answers(http_port)
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait()


def test_a_listener_whose_port_is_taken_fails_binding_naming_it(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        echo_port = taken.getsockname()[1]
        http_port = _free_port()
        supervisor = _supervise(tmp_path, http_port, echo_port)
        _, stderr = supervisor.communicate(timeout=_DEADLINE)
    assert supervisor.returncode == 1
    assert f"cannot listen for echo on 127.0.0.1:{echo_port}" in stderr
    with socket.socket() as again:  # all or none: the HTTP port bound first was let go
        again.bind(("127.0.0.1", http_port))
