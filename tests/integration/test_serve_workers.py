"""`openvna serve --workers 2`: processes sharing one port and one index, each answering, forked
from a supervisor that imported the archive's libraries once (they share its pages), which
replaces a worker that dies and stops them all."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from pathlib import Path

import httpx
import pytest

from bench.servers import tree_memory
from openvna.cli.options import DEMO_API_KEY
from openvna.demo.patients import JOE_STUDY_UID
from openvna.runtime import build_archive
from openvna.settings import load_settings
from tests.factories import make_instance
from tests.processes import serve_process

pytestmark = pytest.mark.integration

STUDY = "2.25.271828182845904523536"
# Shared objects of libraries the supervisor loads for its workers, found in /proc/<pid>/maps
# (SQLAlchemy may come without its compiled extensions, so it is not among them).
LIBRARY_FILES = {"/numpy/", "/PIL/", "/pydantic_core/"}
PRIVATE = ("Private_Clean", "Private_Dirty")  # a process's own pages, in smaps_rollup


def _stow(url: str, number: int) -> int:
    ds = make_instance(study_uid=STUDY, series_uid=f"2.25.{number % 3 + 1}", InstanceNumber=number)
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    body = b"--b\r\nContent-Type: application/dicom\r\n\r\n" + buffer.getvalue() + b"\r\n--b--\r\n"
    headers = {"Content-Type": 'multipart/related; type="application/dicom"; boundary=b'}
    return httpx.post(url + "/studies", content=body, headers=headers, timeout=30).status_code


def _loaded(pid: int) -> set[str]:
    maps = Path(f"/proc/{pid}/maps").read_text()
    return {name for name in LIBRARY_FILES if name in maps}


def _children(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task").iterdir()
    return [int(child) for task in tasks for child in (task / "children").read_text().split()]


def test_two_workers_store_and_find_the_same_study(tmp_path) -> None:
    with serve_process(tmp_path / "data", "--workers", "2") as (url, _):
        with ThreadPoolExecutor(4) as pool:
            statuses = list(pool.map(lambda n: _stow(url, n), range(40)))
        assert statuses == [200] * 40
        for _ in range(4):  # successive connections reach either worker: all see one index
            [study] = httpx.get(url + "/studies", params={"StudyInstanceUID": STUDY}).json()
            assert study["00201208"]["Value"] == [40]
            assert study["00201206"]["Value"] == [3]


def test_the_demo_is_served_by_workers_that_share_the_supervisors_libraries(tmp_path) -> None:
    key = {"Authorization": f"Bearer {DEMO_API_KEY}"}
    options = ("--workers", "2", "--demo")
    with serve_process(tmp_path / "data", *options, headers=key) as (url, process):
        assert _loaded(process.pid) == LIBRARY_FILES
        workers = _children(process.pid)
        assert len(workers) == 2
        for worker in workers:
            # Forked after the imports: most of a worker's memory is the supervisor's pages.
            own = sum(tree_memory(worker, kind, "smaps_rollup") for kind in PRIVATE)
            resident = tree_memory(worker, "Rss", "smaps_rollup")
            assert own < resident / 2, (own, resident)
        found = httpx.get(url + "/studies", params={"PatientName": "SIIM^Joe"}, headers=key)
        assert [s["0020000D"]["Value"] for s in found.json()] == [[JOE_STUDY_UID]]
        assert httpx.get(url + "/studies").status_code == 401


def test_the_demo_without_its_key_is_an_open_server(tmp_path) -> None:
    with serve_process(tmp_path / "data", "--workers", "1", "--demo", "--no-demo-key") as (url, _):
        found = httpx.get(url + "/studies", params={"PatientName": "SIIM^Joe"})
        assert [s["0020000D"]["Value"] for s in found.json()] == [[JOE_STUDY_UID]]


def test_an_index_of_another_schema_is_one_line_and_exit_1_with_workers(tmp_path) -> None:
    data = tmp_path / "data"
    build_archive(load_settings(None, {"storage": {"data_dir": data}}, environ={})).close()
    with sqlite3.connect(data / "index.sqlite") as connection:
        connection.execute("UPDATE openvna_schema SET version = 999")
    result = _serve_until_exit("--port", "0", "--data-dir", str(data))
    assert result.returncode == 1
    assert result.stderr.startswith("openvna: the index at sqlite")
    assert "schema version 999" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def _workers(pid: int) -> list[int]:
    """The supervisor's processes (forked: their command line is the supervisor's; these tests
    serve no DIMSE listener, so every one is an HTTP worker)."""
    return _children(pid)


def _command(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def _wait_for(condition: Callable[[], bool], seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_worker_that_dies_is_replaced_and_stop_ends_every_process(tmp_path) -> None:
    with serve_process(tmp_path / "data", "--workers", "2") as (url, process):
        assert "openvna.server.supervisor" in _command(process.pid)
        first = _workers(process.pid)
        assert len(first) == 2
        os.kill(first[0], signal.SIGKILL)
        assert _wait_for(lambda: len(set(_workers(process.pid)) - set(first)) == 1)
        assert all(httpx.get(url + "/studies").status_code == 200 for _ in range(6))
        workers = _workers(process.pid)
        process.send_signal(signal.SIGTERM)
        assert process.wait(40) == 0
        assert _wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers))


def test_workers_of_a_killed_supervisor_stop_by_themselves(tmp_path) -> None:
    with serve_process(tmp_path / "data", "--workers", "2") as (url, process):
        workers = _workers(process.pid)
        assert len(workers) == 2
        process.kill()
        process.wait(10)
        assert _wait_for(lambda: not any(_running(pid) for pid in workers))
        with pytest.raises(httpx.TransportError):
            httpx.get(url + "/studies", timeout=2)


def _running(pid: int) -> bool:
    """Alive and not a zombie (a reparented worker that exited may wait to be reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_port_in_use_is_one_line_and_exit_1_with_workers(tmp_path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _serve_until_exit("--port", str(port), "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 1
    assert f"cannot listen for http on 127.0.0.1:{port}: Address already in use" in result.stderr


def _serve_until_exit(*options: str) -> subprocess.CompletedProcess[str]:
    """``openvna serve --workers 2`` with ``options``, for a start that must fail."""
    return subprocess.run(
        [sys.executable, "-m", "openvna", "serve", "--workers", "2", *options],
        capture_output=True,
        text=True,
        env={**os.environ, "OPENVNA_INDEX__URL": ""},
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_port_in_use_is_one_line_and_exit_1_before_anything_is_loaded(
    tmp_path: Path, workers: str
) -> None:
    data = tmp_path / "data"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = _serve_until_exit("--port", port, "--data-dir", str(data), "--workers", workers)
    assert result.returncode == 1
    assert (
        result.stderr
        == f"openvna: cannot listen for http on 127.0.0.1:{port}: Address already in use\n"
    )
    assert "listening" not in result.stdout
    assert not data.exists()  # the index was not opened
