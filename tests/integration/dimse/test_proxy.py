"""Proxy mode (issue 9): a DIMSE SCP in front of a DICOMweb server, with DCMTK as the SCU, in
front of openvna's own DICOMweb and in front of Orthanc's DICOMweb plugin."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydicom import dcmread

from openvna.archive import Origin
from openvna.archive.remotes import RemoteRegistry
from openvna.dimse.proxy import DicomwebBackend, serve_proxy
from openvna.server.supervisor import listen
from openvna.settings import RemoteNode
from tests.factories import make_instance
from tests.integration.dimse.conftest import AE_TITLE, DimseNode, free_port
from tests.integration.dimse.peers import dataset_bytes, fresh_copy, send_file, stored_file
from tests.orthanc import orthanc_process
from tests.tools import needs_dcmtk

pytestmark = [pytest.mark.integration, needs_dcmtk]


class Proxy:
    def __init__(self, port: int) -> None:
        self.host, self.port = "127.0.0.1", port

    def dcmtk(self, tool: str, *args: str | Path, files: tuple[Path, ...] = ()) -> Any:
        command = [tool, "-aec", AE_TITLE, *map(str, args), self.host, str(self.port)]
        command += map(str, files)
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def proxy_factory(tmp_path: Path) -> Iterator[Callable[..., Proxy]]:
    running: list[Any] = []

    def start(root: str, remotes: list[RemoteNode] = (), headers: tuple = ()) -> Proxy:  # type: ignore[assignment]
        sock = listen("127.0.0.1", 0)
        registry = RemoteRegistry(list(remotes), tmp_path / "proxy", True)
        server = serve_proxy(DicomwebBackend(root, headers), registry, AE_TITLE, sock)
        running.append((server, sock))
        return Proxy(sock.getsockname()[1])

    yield start
    for server, sock in running:
        server.shutdown()
        server.server_close()
        sock.close()


def _study(node: DimseNode, count: int, **attributes: Any) -> list[Any]:
    first = make_instance(**attributes)
    instances = [first] + [
        make_instance(
            study_uid=first.StudyInstanceUID, series_uid=first.SeriesInstanceUID, **attributes
        )
        for _ in range(count - 1)
    ]
    for ds in instances:
        assert node.archive.store_dataset(ds, Origin.local()).ok
    return instances


def _keys(*attributes: str) -> list[str]:
    return [arg for attribute in attributes for arg in ("-k", attribute)]


def _find(proxy: Any, out: Path, model: str, *keys: str) -> list[Any]:
    """findscu through the proxy (``model``: -P patient root, -S study root); the answers."""
    out.mkdir()
    found = proxy.dcmtk("findscu", model, "-X", "-od", out, *_keys(*keys))
    assert found.returncode == 0, found.stderr
    return [dcmread(p) for p in out.glob("rsp*.dcm")]


def _get(proxy: Any, out: Path, study_uid: str) -> list[Path]:
    """getscu of one study through the proxy; the files received."""
    out.mkdir()
    keys = _keys("QueryRetrieveLevel=STUDY", f"StudyInstanceUID={study_uid}")
    result = proxy.dcmtk("getscu", "-S", "-od", out, *keys)
    assert result.returncode == 0, result.stdout + result.stderr
    return sorted(out.iterdir())


def test_echo_store_find_get_through_openvna_dicomweb(
    dimse: DimseNode, proxy_factory, tmp_path: Path
) -> None:
    proxy = proxy_factory(dimse.web.dicomweb)
    assert proxy.dcmtk("echoscu").returncode == 0
    # C-STORE -> STOW-RS, stored byte for byte
    path = fresh_copy("CT_small.dcm", tmp_path)
    status = send_file(proxy, path)  # type: ignore[arg-type]
    assert status.Status == 0x0000
    assert dataset_bytes(stored_file(dimse, dcmread(path))) == dataset_bytes(path)
    # C-FIND -> QIDO-RS
    study = _study(dimse, 3, patient_id="PROXY1", patient_name="VIA^PROXY")
    [answer] = _find(
        proxy,
        tmp_path / "find",
        "-S",
        "QueryRetrieveLevel=STUDY",
        "PatientName=VIA*",
        "StudyInstanceUID",
        "NumberOfStudyRelatedInstances",
    )
    assert answer.StudyInstanceUID == study[0].StudyInstanceUID
    assert int(answer.NumberOfStudyRelatedInstances) == 3
    assert "PatientName" in answer and "AccessionNumber" not in answer
    patients = _find(
        proxy, tmp_path / "patients", "-P", "QueryRetrieveLevel=PATIENT", "PatientID=PROXY1"
    )
    assert len(patients) == 1
    # C-GET -> QIDO-RS + WADO-RS, then C-STORE of the files as WADO-RS sent them
    received = _get(proxy, tmp_path / "got", study[0].StudyInstanceUID)
    assert len(received) == 3
    assert {dataset_bytes(p) for p in received} == {
        dataset_bytes(stored_file(dimse, ds)) for ds in study
    }


def test_move_through_the_proxy(dimse: DimseNode, proxy_factory, storescp) -> None:
    title, port, inbox = storescp
    proxy = proxy_factory(dimse.web.dicomweb, [RemoteNode(aet=title, host="127.0.0.1", port=port)])
    study = _study(dimse, 2)
    keys = _keys("QueryRetrieveLevel=STUDY", f"StudyInstanceUID={study[0].StudyInstanceUID}")
    moved = proxy.dcmtk("movescu", "-S", "-aem", title, *keys)
    assert moved.returncode == 0, moved.stderr
    assert len(list(inbox.iterdir())) == 2
    unknown = proxy.dcmtk("movescu", "-S", "-aem", "NOWHERE", *keys)
    assert "MoveDestinationUnknown" in unknown.stderr


def test_in_front_of_orthanc(proxy_factory, tmp_path: Path) -> None:
    with orthanc_process(tmp_path / "orthanc") as orthanc:
        proxy = proxy_factory(orthanc.url + "/dicom-web")
        path = fresh_copy("CT_small.dcm", tmp_path, PatientID="ORTHPROXY")
        sent = dcmread(path)
        stored = proxy.dcmtk("storescu", files=(path,))
        assert stored.returncode == 0, stored.stderr
        assert len(httpx.get(orthanc.url + "/instances").json()) == 1
        [answer] = _find(
            proxy,
            tmp_path / "find",
            "-S",
            "QueryRetrieveLevel=STUDY",
            "PatientID=ORTHPROXY",
            "StudyInstanceUID",
        )
        assert answer.StudyInstanceUID == sent.StudyInstanceUID
        [received] = _get(proxy, tmp_path / "got", sent.StudyInstanceUID)
        assert dcmread(received).SOPInstanceUID == sent.SOPInstanceUID


def test_the_proxy_command(dimse: DimseNode, tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "openvna",
            "proxy",
            "--dicomweb",
            dimse.web.dicomweb,
            "--header",
            "apikey: not-needed",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path),
        ],
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        proxy = Proxy(port)
        while time.monotonic() < deadline:
            if proxy.dcmtk("echoscu").returncode == 0:
                break
            time.sleep(0.2)
        else:
            pytest.fail("openvna proxy did not answer")
    finally:
        process.terminate()
        assert process.wait(20) == 0
