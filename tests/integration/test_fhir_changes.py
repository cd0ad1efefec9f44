"""FHIR search that follows what changes, on both index engines (issue 10): ``meta.lastUpdated``
and ``_lastUpdated`` of ImagingStudy after STOW-RS, C-STORE's ingest, DELETE and a ServiceRequest
written back; ``ne`` dates; ``gender=unknown``; Patient search on written-back demographics.

Change times are made old by the test (one UPDATE of the index) before each change, so every
assertion compares a fixed old time with the change's, never two moments of the test run."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fhirclient import client
from fhirclient.models.imagingstudy import ImagingStudy
from fhirclient.models.patient import Patient
from pydicom import Dataset
from sqlalchemy import text

from openvna.archive import Origin
from openvna.dicom.part10 import part10_bytes
from tests.conftest import LiveServer
from tests.factories import make_instance
from tests.fhir_check import validate
from tests.fhir_demo import API_KEY, HEADERS, fhir, get

pytestmark = pytest.mark.integration

OLD = "2000-01-01T00:00:00.000Z"
JSON = {**HEADERS, "Content-Type": "application/fhir+json"}
BOUNDARY = "openvna-fhir-changes"


@pytest.fixture
def server(live_server_factory: Callable[..., LiveServer]) -> LiveServer:
    return live_server_factory(auth={"api_keys": [API_KEY]})


def _store(server: LiveServer, *datasets: Dataset) -> None:
    """C-STORE's and the importer's way in: the archive's ingest of a dataset."""
    for ds in datasets:
        assert server.archive.store_dataset(ds, Origin.local()).ok


def _stow(server: LiveServer, ds: Dataset) -> None:
    body = (
        f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode()
        + part10_bytes(ds)
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    content_type = f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'
    response = httpx.post(
        f"{server.dicomweb}/studies",
        content=body,
        headers={**HEADERS, "Content-Type": content_type},
    )
    assert response.status_code == 200, response.text


def _age(server: LiveServer) -> None:
    """Every study last changed long ago."""
    with server.archive.index.engine.begin() as conn:
        conn.execute(text("UPDATE studies SET updated = :old"), {"old": OLD})


def _read(server: LiveServer, path: str) -> dict[str, Any]:
    response = get(server, path)
    assert response.status_code == 200, response.text
    resource: dict[str, Any] = response.json()
    validate(resource)
    return resource


def _last_updated(server: LiveServer, study: str) -> str:
    changed: str = _read(server, f"/ImagingStudy/{study}")["meta"]["lastUpdated"]
    return changed


def _found(server: LiveServer, path: str) -> set[str]:
    bundle = _read(server, path)
    assert bundle["total"] == len(bundle.get("entry", []))
    return {e["resource"]["id"] for e in bundle.get("entry", [])}


def test_last_updated_follows_stores_deletes_and_orders(server: LiveServer) -> None:
    first = make_instance(AccessionNumber="A1")
    second = make_instance(AccessionNumber="A2", patient_id="P2")
    _store(server, first, second)
    read = get(server, "/ImagingStudy/A1")
    assert read.headers["last-modified"].endswith(" GMT")
    assert _last_updated(server, "A1") > OLD

    _age(server)
    assert _last_updated(server, "A1") == OLD
    assert _found(server, f"/ImagingStudy?_lastUpdated={OLD}") == {"A1", "A2"}
    assert _found(server, "/ImagingStudy?_lastUpdated=2000-01") == {"A1", "A2"}
    assert _found(server, "/ImagingStudy?_lastUpdated=gt2000") == set()

    # STOW-RS of a new series into A1: A1 changed, A2 did not.
    added = make_instance(study_uid=first.StudyInstanceUID, AccessionNumber="A1", SeriesNumber=2)
    _stow(server, added)
    stowed = _last_updated(server, "A1")
    assert stowed > OLD and _last_updated(server, "A2") == OLD
    assert _found(server, "/ImagingStudy?_lastUpdated=gt2000") == {"A1"}
    assert _found(server, "/ImagingStudy?_lastUpdated=sa2000-01-01T00:00:00Z") == {"A1"}
    assert _found(server, "/ImagingStudy?_lastUpdated=ne2000-01-01") == {"A1"}
    assert _found(server, f"/ImagingStudy?_lastUpdated=le{OLD}") == {"A2"}
    assert _found(server, "/ImagingStudy?_lastUpdated=eb2000-01-01T00:00:00.001Z") == {"A2"}
    both = f"_lastUpdated=ge{stowed}&_lastUpdated=le{stowed}"
    assert _found(server, f"/ImagingStudy?{both}&_sort=-started") == {"A1"}
    # An offset names the same moment (01:00 at +01:00 is midnight UTC).
    assert _found(server, "/ImagingStudy?_lastUpdated=2000-01-01T01:00:00%2B01:00") == {"A2"}

    # DELETE of that series changes A1 again.
    _age(server)
    series = f"{server.dicomweb}/studies/{first.StudyInstanceUID}/series/{added.SeriesInstanceUID}"
    assert httpx.delete(series, headers=HEADERS).status_code == 204
    assert _found(server, "/ImagingStudy?_lastUpdated=gt2000") == {"A1"}
    assert _read(server, "/ImagingStudy/A1")["numberOfSeries"] == 1

    # The ingest C-STORE uses, into A2; a copy stored again without replacing changes nothing.
    _age(server)
    _store(server, make_instance(study_uid=second.StudyInstanceUID, AccessionNumber="A2"))
    assert _found(server, "/ImagingStudy?_lastUpdated=gt2000") == {"A2"}

    # A ServiceRequest naming A2's accession number changes A2's ImagingStudy (basedOn).
    _age(server)
    order = {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/P2"},
        "identifier": [{"value": "A2"}],
    }
    response = httpx.post(fhir(server) + "/ServiceRequest", json=order, headers=JSON)
    assert response.status_code == 201, response.text
    study = _read(server, "/ImagingStudy/A2")
    assert study["basedOn"] == [{"reference": f"ServiceRequest/{response.json()['id']}"}]
    assert study["meta"]["lastUpdated"] > OLD and _last_updated(server, "A1") == OLD

    smart = client.FHIRClient(settings={"app_id": "openvna-tests", "api_base": fhir(server) + "/"})
    smart.server.session.headers["apikey"] = API_KEY
    search = ImagingStudy.where(struct={"_lastUpdated": "gt2000"})
    changed = list(search.perform_resources_iter(smart.server))
    assert [s.id for s in changed] == ["A2"]
    moment = dt.datetime.fromisoformat(study["meta"]["lastUpdated"])
    assert changed[0].meta.lastUpdated.datetime == moment


def test_ne_dates_and_unknown_gender(server: LiveServer) -> None:
    _store(
        server,
        make_instance(AccessionNumber="S1", study_date="20240102", PatientSex="O"),
        make_instance(AccessionNumber="S2", study_date="20230505", patient_id="P2", PatientSex=""),
        make_instance(AccessionNumber="S3", study_date="", patient_id="P3", PatientSex="X"),
    )
    assert _found(server, "/ImagingStudy?started=ne2024") == {"S2"}
    assert _found(server, "/ImagingStudy?started=ne2023-05-05T10:15:00") == {"S1"}
    assert _found(server, "/ImagingStudy?started=ne2023-05-05T10:16:00") == {"S1", "S2"}
    assert _found(server, "/ImagingStudy?started=ne2024&started=ne2023") == set()
    assert _found(server, "/ImagingStudy?started=2024-01-02T10:15:00") == {"S1"}
    assert _found(server, "/Patient?gender=unknown") == {"P2", "P3"}
    assert _found(server, "/Patient?gender=other,unknown") == {"P1", "P2", "P3"}
    assert _found(server, "/Patient?gender=other") == {"P1"}
    assert _found(server, "/Patient?gender=male,female") == set()
    assert _found(server, "/Patient?birthdate=ne1970") == set()
    assert _read(server, "/Patient/P3")["gender"] == "unknown"


def test_patient_search_matches_written_back_demographics(server: LiveServer) -> None:
    _store(
        server,
        make_instance(patient_id="P1", patient_name="DOE^JOHN", PatientSex="M"),
        make_instance(patient_id="P2", patient_name="DOE^JANE", PatientSex="F"),
    )
    written = {
        "resourceType": "Patient",
        "id": "P1",
        "name": [{"family": "Smith", "given": ["Joseph"]}],
        "birthDate": "1980-02-03",
        "gender": "other",
    }
    response = httpx.put(fhir(server) + "/Patient/P1", json=written, headers=JSON)
    assert response.status_code == 200, response.text
    newcomer = {
        "resourceType": "Patient",
        "identifier": [{"value": "P9"}],
        "name": [{"family": "Newman", "given": ["Ann"]}],
        "gender": "female",
    }
    response = httpx.post(fhir(server) + "/Patient", json=newcomer, headers=JSON)
    assert response.status_code == 201, response.text
    cases = {
        "name=doe": {"P2"},
        "name=smith": {"P1"},
        "name=jos": {"P1"},
        "family=Smith": {"P1"},
        "family:exact=smit": set(),
        "given=joseph": {"P1"},
        "given:contains=sep": {"P1"},
        "name=newman": {"P9"},
        "gender=female": {"P2", "P9"},
        "gender=male": set(),
        "gender=other": {"P1"},
        "birthdate=1980-02": {"P1"},
        "birthdate=1970": {"P2"},
        "birthdate=ne1980": {"P2"},
        "name=smith&birthdate=lt1980": set(),
        "name=smith&identifier=P1": {"P1"},
    }
    for query, expected in cases.items():
        assert _found(server, f"/Patient?{query}") == expected, query
    pages = [_read(server, f"/Patient?gender=other,female&_count=2&_offset={at}") for at in (0, 2)]
    assert [[e["resource"]["id"] for e in page["entry"]] for page in pages] == [
        ["P9", "P1"],
        ["P2"],
    ]
    assert [page["total"] for page in pages] == [3, 3]
    assert [link["relation"] for link in pages[0]["link"]] == ["self", "next"]
    both = _read(server, "/Patient?family=smith&_revinclude=ImagingStudy:patient")
    modes = sorted((e["search"]["mode"], e["resource"]["resourceType"]) for e in both["entry"])
    assert modes == [("include", "ImagingStudy"), ("match", "Patient")]
    smart = client.FHIRClient(settings={"app_id": "openvna-tests", "api_base": fhir(server) + "/"})
    smart.server.session.headers["apikey"] = API_KEY
    found = list(Patient.where(struct={"family": "smith"}).perform_resources_iter(smart.server))
    assert [(p.id, p.name[0].family, p.gender) for p in found] == [("P1", "Smith", "other")]


def _coded(value: str, scheme: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, "Reason"
    return item


def test_reason_and_bodysite_are_indexed(server: LiveServer) -> None:
    chest = make_instance(
        AccessionNumber="C1",
        BodyPartExamined="CHEST",
        ReasonForPerformedProcedureCodeSequence=[_coded("29857009", "SCT")],
    )
    local = make_instance(
        AccessionNumber="C2",
        patient_id="P2",
        BodyPartExamined="KNEE",
        ReasonForPerformedProcedureCodeSequence=[_coded("K1", "99LOCAL"), _coded("K2", "99LOCAL")],
    )
    _store(server, chest, local)
    cases = {
        "reason=29857009": {"C1"},
        "reason=http://snomed.info/sct|29857009": {"C1"},
        "reason=http://loinc.org|29857009": set(),
        "reason=http://example.org|K1": set(),
        "reason=|K2": {"C2"},
        "reason=|29857009": set(),
        "reason=K1,29857009": {"C1", "C2"},
        "bodysite=chest": {"C1"},
        "bodysite=KNEE,CHEST": {"C1", "C2"},
        "bodysite=HEAD": set(),
        "bodysite=knee&reason=K2": {"C2"},
    }
    for query, expected in cases.items():
        assert _found(server, f"/ImagingStudy?{query}") == expected, query
    # QIDO-RS matches the same columns (a nested key in any item, PS3.4 C.2.2.2.6).
    qido = httpx.get(
        f"{server.dicomweb}/studies",
        params={"ReasonForPerformedProcedureCodeSequence.CodeValue": "K2"},
        headers=HEADERS,
    )
    assert [s["00080050"]["Value"] for s in qido.json()] == [["C2"]]
    # A newer instance of C2 without reasons is the study's state now; a deleted study is gone.
    _store(server, make_instance(study_uid=local.StudyInstanceUID, AccessionNumber="C2"))
    assert _found(server, "/ImagingStudy?reason=|K2") == set()
    study = f"{server.dicomweb}/studies/{chest.StudyInstanceUID}"
    assert httpx.delete(study, headers=HEADERS).status_code == 204
    assert _found(server, "/ImagingStudy?reason=29857009") == set()
    assert _found(server, "/ImagingStudy?bodysite=CHEST") == set()


def test_written_resources_search_takes_summary_and_elements(server: LiveServer) -> None:
    for accession in ("X1", "X2"):
        order = {
            "resourceType": "ServiceRequest",
            "status": "active",
            "intent": "order",
            "subject": {"reference": "Patient/P1"},
            "identifier": [{"value": accession}],
            "note": [{"text": "urgent"}],
        }
        response = httpx.post(fhir(server) + "/ServiceRequest", json=order, headers=JSON)
        assert response.status_code == 201, response.text
    counted = _read(server, "/ServiceRequest?_summary=count")
    assert counted["total"] == 2 and "entry" not in counted
    subset = _read(server, "/ServiceRequest?identifier=X1&_elements=identifier")
    (entry,) = subset["entry"]
    resource = entry["resource"]
    assert set(resource) == {
        "resourceType",
        "id",
        "meta",
        "identifier",
        "status",
        "intent",
        "subject",
    }
    assert resource["meta"]["tag"][0]["code"] == "SUBSETTED"
    strict = get(server, "/ServiceRequest?_sort=status", Prefer="handling=strict")
    assert strict.status_code == 400
