"""The SIIM hands-on exercise (shared seed 000), its DICOMweb steps verbatim against a local server
loaded with the demo data and the exercise's API key.

The FHIR and WADO-URI steps come with their own doors and are not tested here; the QIDO-RS step of
the DICOMweb quick start guide (shared seed 002) is, on the same server. The server holds a
copy of an archive the demo was loaded into once per session (SQLite); PostgreSQL gets one test
that loads the SIIM patients' studies itself and walks the whole exercise.
"""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from pydicom import dcmread

from openvna.demo import load_demo
from openvna.demo.patients import (
    CATALOGUE,
    JOE_PA_SERIES_UID,
    JOE_PA_SOP_UID,
    JOE_STUDY_UID,
    THOMPSON_STUDY_UID,
)
from openvna.runtime import build_archive
from openvna.settings import load_settings
from tests.conftest import LiveServer

pytestmark = pytest.mark.integration

API_KEY = "HackathonOrientationSession"
HEADERS = {"apikey": API_KEY}
STUDY = JOE_STUDY_UID
SERIES = JOE_PA_SERIES_UID
SOP = JOE_PA_SOP_UID
ANDY_STUDIES = {study.uid for study in CATALOGUE if study.patient.name == "SIIM^Andy"}
SOP_INSTANCE_UID, MODALITY, RETRIEVE_URL = "00080018", "00080060", "00081190"
SERIES_NUMBER, INSTANCE_NUMBER = "00200011", "00200013"
STUDY_INSTANCE_UID, PATIENT_ID = "0020000D", "00100020"


@pytest.fixture(scope="session")
def demo_archive_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory (blobs + SQLite index) with the demo loaded, made once per session."""
    root = tmp_path_factory.mktemp("seed") / "demo"
    archive = build_archive(load_settings(None, {"storage": {"data_dir": root}}, environ={}))
    try:
        load_demo(archive)
    finally:
        archive.close()
    return root


@pytest.fixture
def server(
    live_server_factory: Callable[..., LiveServer],
    demo_archive_dir: Path,
    tmp_path: Path,
) -> LiveServer:
    data = tmp_path / "seed-copy"
    shutil.copytree(demo_archive_dir, data)
    return live_server_factory(
        storage={"data_dir": data},
        index={"url": f"sqlite:///{data / 'index.sqlite'}"},
        auth={"api_keys": [API_KEY]},
    )


def _parts(response: httpx.Response) -> list[tuple[dict[str, str], bytes]]:
    """The body parts of a multipart/related response (RFC 2387), with their headers."""
    content_type = response.headers["content-type"]
    assert content_type.lower().startswith("multipart/related"), content_type
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    assert match, content_type
    delimiter = b"--" + match.group(1).encode()
    body = response.content
    assert body.rstrip().endswith(delimiter + b"--")
    parts = []
    for chunk in body.split(delimiter)[1:-1]:
        head, _, payload = chunk.partition(b"\r\n\r\n")
        headers = {}
        for line in head.decode("latin-1").strip().splitlines():
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        parts.append((headers, payload.removesuffix(b"\r\n")))
    return parts


def _value(dataset: dict, tag: str):
    return dataset[tag]["Value"][0]


def _check_instances(server: LiveServer, response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    datasets = response.json()
    assert len(datasets) == 2
    assert {_value(ds, SOP_INSTANCE_UID) for ds in datasets} >= {SOP}
    for ds in datasets:
        assert _value(ds, MODALITY) == "CR"
        assert _value(ds, SERIES_NUMBER) in (1, 2)
        assert _value(ds, INSTANCE_NUMBER) == 1
        url = _value(ds, RETRIEVE_URL)
        assert url.startswith(f"{server.dicomweb}/studies/{STUDY}/series/")
        assert url.endswith(f"/instances/{_value(ds, SOP_INSTANCE_UID)}")


@pytest.mark.engines("sqlite")
def test_study_instances_default_to_json(server: LiveServer):
    response = httpx.get(f"{server.dicomweb}/studies/{STUDY}/instances", headers=HEADERS)
    assert response.headers["content-type"].startswith("application/dicom+json")
    _check_instances(server, response)


@pytest.mark.engines("sqlite")
def test_study_instances_as_application_json(server: LiveServer):
    headers = {**HEADERS, "Accept": "application/json"}
    response = httpx.get(f"{server.dicomweb}/studies/{STUDY}/instances", headers=headers)
    assert "json" in response.headers["content-type"]
    _check_instances(server, response)


@pytest.mark.engines("sqlite")
def test_study_instances_as_xml_come_in_one_part_each(server: LiveServer):
    """ "DICOMweb returns 'chunks' of data as an HTTP multipart response when returning XML"."""
    headers = {**HEADERS, "Accept": 'multipart/related; type="application/dicom+xml"'}
    response = httpx.get(f"{server.dicomweb}/studies/{STUDY}/instances", headers=headers)
    assert response.status_code == 200, response.text
    parts = _parts(response)
    assert len(parts) == 2
    for part_headers, payload in parts:
        assert part_headers["content-type"].startswith("application/dicom+xml")
        assert b"NativeDicomModel" in payload
    assert SOP.encode() in b"".join(payload for _, payload in parts)


@pytest.mark.engines("sqlite")
def test_frame_as_dicom_jpeg(server: LiveServer):
    url = f"{server.dicomweb}/studies/{STUDY}/series/{SERIES}/instances/{SOP}/frames/1"
    headers = {**HEADERS, "Accept": "multipart/related; type=image/dicom+jpeg"}
    response = httpx.get(url, headers=headers)
    assert response.status_code == 200, response.text
    parts = _parts(response)
    assert len(parts) == 1
    part_headers, jpeg = parts[0]
    # PS3.18 Table 8.7.3-2 names JPEG Baseline frames image/jpeg; the exercise's server called
    # them image/dicom+jpeg, the name of the draft it implemented. Either label is honest.
    assert part_headers["content-type"].split(";")[0] in ("image/jpeg", "image/dicom+jpeg")
    assert jpeg[:2] == b"\xff\xd8"
    assert jpeg.rstrip(b"\0")[-2:] == b"\xff\xd9"


@pytest.mark.engines("sqlite")
def test_search_by_patient_name(server: LiveServer):
    response = httpx.get(f"{server.dicomweb}/studies/?PatientName=SIIM^Joe", headers=HEADERS)
    assert response.status_code == 200, response.text
    studies = response.json()
    assert [_value(study, STUDY_INSTANCE_UID) for study in studies] == [STUDY]
    assert _value(studies[0], PATIENT_ID) == "siimjoe"


@pytest.mark.engines("sqlite")
def test_search_by_last_name_finds_both_siim_patients(server: LiveServer):
    response = httpx.get(f"{server.dicomweb}/studies/?PatientName=SIIM*", headers=HEADERS)
    assert response.status_code == 200, response.text
    studies = response.json()
    assert {_value(study, STUDY_INSTANCE_UID) for study in studies} == {STUDY, *ANDY_STUDIES}
    assert {_value(study, PATIENT_ID) for study in studies} == {"siimjoe", "TCGA-50-5072"}


@pytest.mark.engines("sqlite")
def test_bulk_retrieval_of_the_study_gives_two_part10_files(server: LiveServer):
    response = httpx.get(f"{server.dicomweb}/studies/{STUDY}", headers=HEADERS)
    assert response.status_code == 200, response.text
    parts = _parts(response)
    assert len(parts) == 2
    sops = set()
    for part_headers, payload in parts:
        assert part_headers["content-type"].startswith("application/dicom")
        assert payload[128:132] == b"DICM"
        ds = dcmread(io.BytesIO(payload))
        assert ds.StudyInstanceUID == STUDY
        sops.add(ds.SOPInstanceUID)
    assert SOP in sops


@pytest.mark.engines("sqlite")
def test_requests_without_the_api_key_are_refused(server: LiveServer):
    for path in (
        f"/studies/{STUDY}/instances",
        "/studies/?PatientName=SIIM^Joe",
        f"/studies/{STUDY}",
    ):
        response = httpx.get(server.dicomweb + path)
        assert response.status_code == 401, path
        assert response.json()["status"] == 401


@pytest.mark.engines("postgresql")
def test_exercise_on_postgresql(
    live_server_factory: Callable[..., LiveServer],
) -> None:
    server = live_server_factory(auth={"api_keys": [API_KEY]})
    siim_studies = tuple(study for study in CATALOGUE if study.patient.name.startswith("SIIM^"))
    assert load_demo(server.archive, siim_studies) == 146
    _check_instances(
        server, httpx.get(f"{server.dicomweb}/studies/{STUDY}/instances", headers=HEADERS)
    )
    siim = httpx.get(f"{server.dicomweb}/studies/?PatientName=SIIM*", headers=HEADERS).json()
    assert {_value(study, STUDY_INSTANCE_UID) for study in siim} == {STUDY, *ANDY_STUDIES}
    frame_url = f"{server.dicomweb}/studies/{STUDY}/series/{SERIES}/instances/{SOP}/frames/1"
    headers = {**HEADERS, "Accept": "multipart/related; type=image/dicom+jpeg"}
    assert len(_parts(httpx.get(frame_url, headers=headers))) == 1
    assert len(_parts(httpx.get(f"{server.dicomweb}/studies/{STUDY}", headers=HEADERS))) == 2
    assert httpx.get(f"{server.dicomweb}/studies/{STUDY}").status_code == 401


@pytest.mark.engines("sqlite")
def test_quick_start_guide_query_finds_thompson_abdomen_ct(server: LiveServer):
    """Shared seed 002's QIDO-RS step: the study-level answer it shows, with the demo's counts."""
    url = f"{server.dicomweb}/studies/?00100010=THOMPSON&includefield=00081030"
    response = httpx.get(url, headers={**HEADERS, "Accept": "application/json"})
    assert response.status_code == 200, response.text
    (study,) = response.json()
    expected = {
        "00080020": "20130409",
        "00080030": "131600",
        "00080050": "11235813",
        "00080061": "CT",
        "00081030": "Abdomen CT",
        "00100020": "12345",
        "00100030": "19670701",
        "00100040": "M",
        "0020000D": THOMPSON_STUDY_UID,
        "00200010": "11235813",
        "00201206": 4,
        "00201208": 85,
        "00081190": f"{server.dicomweb}/studies/{THOMPSON_STUDY_UID}",
    }
    assert {tag: _value(study, tag) for tag in expected} == expected
    assert _value(study, "00080090") == {"Alphabetic": "SMITH^KAREN"}
    assert _value(study, "00100010") == {"Alphabetic": "THOMPSON^ALEX"}
