"""Crash safety: the whole server tree killed with SIGKILL in the middle of a 1,000-instance
STOW-RS from two clients, at three moments placed by counting acknowledged requests. After a
restart every acknowledged instance is retrievable byte for byte, ``openvna check`` finds
nothing (the restart removed what the crash left) and no spool file remains."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from io import BytesIO
from pathlib import Path

import httpx
import pytest
from pydicom import dcmread

from openvna.dicom.part10 import part10_bytes
from openvna.dicom.uid import generate_uid
from tests.factories import make_instance
from tests.integration.test_wado import parts
from tests.processes import serve_process

pytestmark = pytest.mark.integration

CLIENTS = 2
REQUESTS = 50  # per client
PER_REQUEST = 10
STUDY_PARTS = 'multipart/related; type="application/dicom"; transfer-syntax=*'


def _requests(study: str) -> list[tuple[bytes, dict[str, bytes]]]:
    """(body, SOP UID -> Part 10 bytes) of each request of one client, all in ``study``."""
    out = []
    for _ in range(REQUESTS):
        instances = {}
        body = b""
        for _ in range(PER_REQUEST):
            ds = make_instance(study_uid=study, rows=32, columns=32)
            data = part10_bytes(ds)
            instances[ds.SOPInstanceUID] = data
            body += b"--b\r\nContent-Type: application/dicom\r\n\r\n" + data + b"\r\n"
        out.append((body + b"--b--\r\n", instances))
    return out


@pytest.fixture(scope="module")
def workload() -> list[tuple[str, list[tuple[bytes, dict[str, bytes]]]]]:
    studies = [generate_uid() for _ in range(CLIENTS)]
    return [(study, _requests(study)) for study in studies]


def _tree(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found += _tree(int(child))
    return found


def _stow(
    url: str,
    requests: list[tuple[bytes, dict[str, bytes]]],
    acked: list[dict[str, bytes]],
    lock: threading.Lock,
    killed: threading.Event,
    kill: threading.Event,
    kill_at: int,
) -> None:
    headers = {"Content-Type": 'multipart/related; type="application/dicom"; boundary=b'}
    for body, instances in requests:
        try:
            response = httpx.post(url + "/studies", content=body, headers=headers, timeout=30)
        except httpx.TransportError:
            return  # the server is gone
        if response.status_code != 200:
            return
        with lock:
            acked.append(instances)
            if len(acked) >= kill_at:
                kill.set()
        if killed.is_set():
            return


def _check(data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "openvna", "check", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        env={**os.environ, "OPENVNA_INDEX__URL": ""},
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("kill_at", [3, 30, 70])
def test_a_killed_server_loses_nothing_it_acknowledged(tmp_path: Path, workload, kill_at) -> None:
    data = tmp_path / "data"
    acked: list[dict[str, bytes]] = []
    lock, kill, killed = threading.Lock(), threading.Event(), threading.Event()
    with serve_process(data, "--workers", "2") as (url, process):
        clients = [
            threading.Thread(target=_stow, args=(url, requests, acked, lock, killed, kill, kill_at))
            for _, requests in workload
        ]
        for client in clients:
            client.start()
        assert kill.wait(120), f"only {len(acked)} requests were acknowledged"
        for pid in _tree(process.pid):
            os.kill(pid, signal.SIGKILL)
        killed.set()
        for client in clients:
            client.join(60)
    assert len(acked) < CLIENTS * REQUESTS  # the kill came mid-run
    expected = {sop: blob for instances in acked for sop, blob in instances.items()}

    with serve_process(data, "--workers", "2") as (url, _):
        stored: dict[str, bytes] = {}
        for study, _ in workload:
            response = httpx.get(f"{url}/studies/{study}", headers={"Accept": STUDY_PARTS})
            if response.status_code == 404:
                continue
            for _, blob in parts(response):
                stored[dcmread(BytesIO(blob)).SOPInstanceUID] = blob
    assert {sop: stored.get(sop) for sop in expected} == expected
    assert set(stored) >= set(expected)  # and maybe instances of the request cut short

    result = _check(data)
    assert result.returncode == 0, result.stdout
    assert "0 problem(s)" in result.stdout
    assert [p for p in (data / "spool").rglob("*") if p.is_file()] == []
