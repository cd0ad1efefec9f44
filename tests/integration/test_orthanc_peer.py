"""Orthanc as a peer pushing to openvna with its DICOMweb client (``/dicom-web/servers/{name}/
stow``): its multipart boundary is two UUIDs joined by '-' (73 characters, over RFC 2046's 70),
which openvna must accept as real peers send it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from openvna.dicom.part10 import part10_bytes
from openvna.dicom.uid import generate_uid
from tests.factories import make_instance
from tests.orthanc import orthanc_process

pytestmark = pytest.mark.integration


def test_orthanc_stows_a_study_to_openvna(live_server, tmp_path: Path) -> None:
    study = generate_uid()
    sent = {}
    with orthanc_process(tmp_path / "orthanc", {"openvna": live_server.dicomweb + "/"}) as peer:
        for number in range(1, 4):
            ds = make_instance(study_uid=study, InstanceNumber=number)
            sent[ds.SOPInstanceUID] = data = part10_bytes(ds)
            uploaded = httpx.post(peer.url + "/instances", content=data, timeout=30)
            assert uploaded.status_code == 200, uploaded.text
        orthanc_study = uploaded.json()["ParentStudy"]
        pushed = httpx.post(
            peer.url + "/dicom-web/servers/openvna/stow",
            json={"Resources": [orthanc_study], "Synchronous": True},
            timeout=60,
        )
        assert pushed.status_code == 200, pushed.text
    stored = live_server.archive.retrieve(study)
    assert {instance.sop_uid for instance in stored} == set(sent)
    for instance in stored:
        assert instance.file().read() == sent[instance.sop_uid]
