"""Orthanc (Debian ``orthanc`` with its DICOMweb plugin) as a real peer in integration tests:
its own SQLite index and storage in a temporary directory, loopback ports, stopped at the end."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.processes import free_port

__all__ = ["PLUGIN", "RunningOrthanc", "orthanc_process"]

PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")


@dataclass(frozen=True)
class RunningOrthanc:
    url: str  # its REST API root
    dicom_port: int
    aet: str = "ORTHANC"


@contextlib.contextmanager
def orthanc_process(
    home: Path,
    dicomweb_servers: dict[str, str] | None = None,
    modalities: dict[str, tuple[str, str, int]] | None = None,
) -> Iterator[RunningOrthanc]:
    """Orthanc answering on free loopback ports, knowing ``dicomweb_servers`` (name -> URL) and
    ``modalities`` (name -> AE title, host, port)."""
    if shutil.which("Orthanc") is None or not PLUGIN.exists():
        pytest.fail(
            "Orthanc and its DICOMweb plugin are needed (apt-get install orthanc "
            "orthanc-dicomweb; .ci/run installs them)"
        )
    home.mkdir(parents=True, exist_ok=True)
    http_port, dicom_port = free_port(), free_port()
    config = {
        "Name": "test",
        "StorageDirectory": str(home / "db"),
        "IndexDirectory": str(home / "db"),
        "HttpPort": http_port,
        "DicomPort": dicom_port,
        "DicomAet": "ORTHANC",
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "DicomCheckCalledAet": False,
        "DicomAlwaysAllowStore": True,
        "DicomAlwaysAllowFind": True,
        "DicomAlwaysAllowMove": True,
        "DicomAlwaysAllowGet": True,
        "Plugins": [str(PLUGIN)],
        "DicomWeb": {
            "Enable": True,
            "Root": "/dicom-web/",
            "Servers": {name: [url] for name, url in (dicomweb_servers or {}).items()},
        },
        "DicomModalities": {name: list(node) for name, node in (modalities or {}).items()},
    }
    path = home / "orthanc.json"
    path.write_text(json.dumps(config))
    log = (home / "orthanc.log").open("wb")
    process = subprocess.Popen(["Orthanc", str(path)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{http_port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/system", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("Orthanc did not start: " + (home / "orthanc.log").read_text()[-2000:])
            time.sleep(0.1)
        yield RunningOrthanc(url, dicom_port)
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
