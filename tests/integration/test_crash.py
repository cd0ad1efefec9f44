"""Crash safety: the whole server tree killed with SIGKILL in the middle of a 1,000-instance
STOW-RS from two clients, at three moments placed by counting acknowledged requests, and the
same during C-STOREs on two associations. After a restart every acknowledged instance is
retrievable byte for byte, ``openvna check`` finds nothing (the restart removed what the crash
left) and no spool file remains."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydicom import dcmread
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian
from pynetdicom import AE

from openvna.dicom.part10 import part10_bytes
from openvna.dicom.uid import generate_uid
from tests.factories import make_instance
from tests.integration.test_wado import parts
from tests.processes import free_port, serve_process
from tests.spool import spool_left

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


def _tree_killer(process: subprocess.Popen[bytes]) -> None:
    for pid in _tree(process.pid):
        os.kill(pid, signal.SIGKILL)


def _stored_after_restart(data: Path, studies: list[str]) -> dict[str, bytes]:
    """SOP UID -> stored Part 10 bytes of ``studies``, from a restarted server (WADO-RS)."""
    stored: dict[str, bytes] = {}
    with serve_process(data, "--workers", "2") as (url, _):
        for study in studies:
            response = httpx.get(f"{url}/studies/{study}", headers={"Accept": STUDY_PARTS})
            if response.status_code == 404:
                continue
            for _, blob in parts(response):
                stored[dcmread(BytesIO(blob)).SOPInstanceUID] = blob
    return stored


def _assert_clean(data: Path) -> None:
    result = _check(data)
    assert result.returncode == 0, result.stdout
    assert "0 problem(s)" in result.stdout
    assert spool_left(data / "spool") == []


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
        _tree_killer(process)
        killed.set()
        for client in clients:
            client.join(60)
    assert len(acked) < CLIENTS * REQUESTS  # the kill came mid-run
    expected = {sop: blob for instances in acked for sop, blob in instances.items()}
    stored = _stored_after_restart(data, [study for study, _ in workload])
    assert {sop: stored.get(sop) for sop in expected} == expected
    assert set(stored) >= set(expected)  # and maybe instances of the request cut short
    _assert_clean(data)


def _c_store(
    port: int,
    study: str,
    acked: list[tuple[str, bytes]],
    lock: threading.Lock,
    kill: threading.Event,
    kill_at: int,
) -> None:
    """C-STOREs on one association until the server dies; each success noted with the data
    set's bytes as sent (explicit VR little endian)."""
    ae = AE(ae_title="CRASHSCU")
    ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
    deadline = time.monotonic() + 60  # the DIMSE processes start beside the HTTP ones
    while not (association := ae.associate("127.0.0.1", port, ae_title="OPENVNA")).is_established:
        if time.monotonic() > deadline:
            return
        time.sleep(0.2)
    try:
        for _ in range(CLIENTS * REQUESTS * PER_REQUEST // CLIENTS):
            ds = make_instance(study_uid=study, rows=32, columns=32)
            status = association.send_c_store(ds)
            if not association.is_established or status.get("Status") != 0x0000:
                return
            with lock:
                acked.append((ds.SOPInstanceUID, _dataset_bytes(ds)))
                if len(acked) >= kill_at:
                    kill.set()
    finally:
        association.abort()


def _dataset_bytes(ds: Any) -> bytes:
    buffer = DicomBytesIO()
    buffer.is_little_endian, buffer.is_implicit_VR = True, False  # explicit VR little endian
    write_dataset(buffer, ds)
    return buffer.getvalue()


@pytest.mark.parametrize("kill_at", [20, 150])
def test_a_server_killed_during_c_stores_loses_nothing_it_acknowledged(
    tmp_path: Path, kill_at: int
) -> None:
    data, port = tmp_path / "data", free_port()
    studies = [generate_uid() for _ in range(CLIENTS)]
    acked: list[tuple[str, bytes]] = []
    lock, kill = threading.Lock(), threading.Event()
    options = ("--workers", "1", "--dimse-port", str(port))
    environ = {"OPENVNA_DIMSE__PROCESSES": "2"}
    with serve_process(data, *options, environ=environ) as (_, process):
        clients = [
            threading.Thread(target=_c_store, args=(port, study, acked, lock, kill, kill_at))
            for study in studies
        ]
        for client in clients:
            client.start()
        assert kill.wait(90), f"only {len(acked)} C-STOREs were acknowledged"
        _tree_killer(process)
        for client in clients:
            client.join(60)
    stored = _stored_after_restart(data, studies)
    for sop, sent in acked:
        assert sop in stored, f"acknowledged {sop} is lost"
        assert stored[sop].endswith(sent)  # the data set as received, behind our File Meta
    _assert_clean(data)
