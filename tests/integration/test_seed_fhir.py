"""The SIIM hands-on exercise (shared seed 000), its FHIR steps verbatim, then down to the pixels:
Patient → ImagingStudy (as XML, ``Accept: text/xml``) → Endpoint → QIDO-RS → WADO-RS of every
instance the ImagingStudy lists. On SQLite over the whole demo, and on PostgreSQL over the SIIM
patients' studies."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from lxml import etree

from openvna.demo import load_demo
from openvna.demo.patients import CATALOGUE
from tests.conftest import LiveServer
from tests.fhir_check import FHIR_NS, validate, validate_xml
from tests.fhir_demo import API_KEY, HEADERS, fhir_demo_dir, fhir_server
from tests.processes import serve_process

pytestmark = pytest.mark.integration
__all__ = ["fhir_demo_dir", "fhir_server"]

STUDY_UID = "1.3.6.1.4.1.14519.5.2.1.7777.9002.198875685720513246512710453733"


def _walk(base: str) -> None:
    # "http://hackathon.siim.org/fhir/Patient/siimjoe/"
    patient = httpx.get(f"{base}/fhir/Patient/siimjoe/", headers={"apikey": API_KEY})
    assert patient.status_code == 200, patient.text
    validate(patient.json())
    assert patient.json()["identifier"][0]["value"] == "siimjoe"
    as_xml = httpx.get(
        f"{base}/fhir/Patient/siimjoe/", headers={"apikey": API_KEY, "Accept": "text/xml"}
    )
    assert as_xml.headers["content-type"].startswith("application/fhir+xml")
    validate_xml(as_xml.content)

    # "http://hackathon.siim.org/fhir/ImagingStudy/a257132503242682/" with Accept: text/xml
    response = httpx.get(
        f"{base}/fhir/ImagingStudy/a257132503242682/",
        headers={"apikey": API_KEY, "Accept": "text/xml"},
    )
    assert response.status_code == 200, response.text
    study = validate_xml(response.content)
    assert study.subject.reference == "Patient/siimjoe"
    uids = [i.value for i in study.identifier if i.system == "urn:dicom:uid"]
    assert uids == [f"urn:oid:{STUDY_UID}"]
    root = etree.fromstring(response.content)
    assert root.tag == f"{FHIR_NS}ImagingStudy"

    # The endpoint the study points at is the DICOMweb root the next steps use.
    (reference,) = [e.reference for e in study.endpoint]
    endpoint = httpx.get(f"{base}/fhir/{reference}", headers=HEADERS).json()
    validate(endpoint)
    assert endpoint["connectionType"]["code"] == "dicom-wado-rs"
    dicomweb = endpoint["address"]
    assert dicomweb == f"{base}/dicomweb"

    # QIDO-RS: the study's instances are those the ImagingStudy lists.
    listed = {(s.uid, i.uid) for s in study.series for i in s.instance}
    qido = httpx.get(
        f"{dicomweb}/studies/{STUDY_UID}/instances",
        headers={**HEADERS, "Accept": "application/json"},
    )
    assert qido.status_code == 200, qido.text
    found = {(ds["0020000E"]["Value"][0], ds["00080018"]["Value"][0]) for ds in qido.json()}
    assert found == listed and len(listed) == study.numberOfInstances == 2

    # WADO-RS: each listed instance is retrievable from the endpoint's address.
    for series_uid, sop_uid in sorted(listed):
        url = f"{dicomweb}/studies/{STUDY_UID}/series/{series_uid}/instances/{sop_uid}"
        wado = httpx.get(
            url, headers={**HEADERS, "Accept": "multipart/related; type=application/dicom"}
        )
        assert wado.status_code == 200, wado.text
        assert sop_uid.encode() in wado.content


@pytest.mark.engines("sqlite")
def test_exercise_from_fhir_to_the_pixels(fhir_server: LiveServer):
    _walk(fhir_server.url)


@pytest.mark.engines("postgresql")
def test_exercise_from_fhir_to_the_pixels_on_postgresql(
    live_server_factory: Callable[..., LiveServer],
) -> None:
    server = live_server_factory(auth={"api_keys": [API_KEY]})
    siim = tuple(study for study in CATALOGUE if study.patient.name.startswith("SIIM^"))
    load_demo(server.archive, siim)
    _walk(server.url)


def test_exercise_against_openvna_serve_demo_with_two_workers(tmp_path: Path) -> None:
    """Verbatim against ``openvna serve --demo`` (two worker processes, one index): each step
    answers the same from either worker, so the ids are the same in every process."""
    with serve_process(tmp_path / "data", "--workers", "2", "--demo", headers=HEADERS) as (url, _):
        base = url.removesuffix("/dicomweb")
        _walk(base)
        seen = set()
        for _ in range(6):  # new connections: both workers answer
            with httpx.Client(headers=HEADERS) as client_:
                bundle = client_.get(f"{base}/fhir/ImagingStudy?patient=siimjoe").json()
                seen.add(tuple(e["fullUrl"] for e in bundle["entry"]))
        assert seen == {(f"{base}/fhir/ImagingStudy/a257132503242682",)}
