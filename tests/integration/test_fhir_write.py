"""FHIR write-back against a live server over the demo (issue 10, priority 4): Patient
demographics over the DICOM ones, DiagnosticReport and ServiceRequest linked to studies,
versioning (versionId, ETag, If-Match, vread, _history), and bodies that must store nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fhirclient import client
from fhirclient.models.diagnosticreport import DiagnosticReport
from fhirclient.models.servicerequest import ServiceRequest

from openvna.demo import load_demo
from openvna.demo.patients import CATALOGUE, JOE_STUDY_UID
from tests.conftest import LiveServer
from tests.fhir_check import validate, validate_xml
from tests.fhir_demo import API_KEY, HEADERS, fhir, fhir_demo_dir, fhir_server, get, outcome

pytestmark = pytest.mark.integration
__all__ = ["fhir_demo_dir", "fhir_server"]

JSON = {**HEADERS, "Content-Type": "application/fhir+json"}
JOE_STUDY = "a257132503242682"
ACSN = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "ACSN"}]}


def put(server: LiveServer, path: str, body: Any, **headers: str) -> httpx.Response:
    return httpx.put(fhir(server) + path, json=body, headers={**JSON, **headers})


def post(server: LiveServer, path: str, body: Any, **headers: str) -> httpx.Response:
    return httpx.post(fhir(server) + path, json=body, headers={**JSON, **headers})


def _order(server: LiveServer) -> dict[str, Any]:
    response = post(
        server,
        "/ServiceRequest",
        {
            "resourceType": "ServiceRequest",
            "status": "active",
            "intent": "order",
            "subject": {"reference": "Patient/siimjoe"},
            "identifier": [{"type": ACSN, "value": JOE_STUDY}],
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


def _report(server: LiveServer, order_id: str, study: str = JOE_STUDY) -> httpx.Response:
    return post(
        server,
        "/DiagnosticReport",
        {
            "resourceType": "DiagnosticReport",
            "status": "preliminary",
            "code": {"text": "XR chest 2 views"},
            "subject": {"reference": "Patient/siimjoe"},
            "basedOn": [{"reference": f"ServiceRequest/{order_id}"}],
            "imagingStudy": [{"reference": f"ImagingStudy/{study}"}],
            "identifier": [{"system": "urn:example:ris", "value": "R-1"}],
            "conclusion": "No acute findings.",
        },
    )


@pytest.mark.engines("sqlite")
def test_patient_demographics_override_the_dicom_ones(fhir_server: LiveServer):
    body = {
        "resourceType": "Patient",
        "id": "siimjoe",
        "name": [{"family": "Smith", "given": ["Joseph"]}],
        "telecom": [{"system": "phone", "value": "+1 555 0100"}],
    }
    first = put(fhir_server, "/Patient/siimjoe", body)
    assert first.status_code == 200, first.text  # the DICOM patient existed: an update
    assert first.headers["etag"] == 'W/"1"'
    assert first.headers["content-location"].endswith("/fhir/Patient/siimjoe/_history/1")
    read = get(fhir_server, "/Patient/siimjoe")
    patient = read.json()
    validate(patient)
    assert read.headers["etag"] == 'W/"1"'
    assert patient["name"] == [{"family": "Smith", "given": ["Joseph"]}]
    assert patient["identifier"][0]["value"] == "siimjoe"  # from DICOM, kept
    assert patient["gender"] == "male" and patient["birthDate"] == "1975-03-15"
    assert patient["meta"]["versionId"] == "1"
    found = get(fhir_server, "/Patient?identifier=siimjoe").json()
    assert found["entry"][0]["resource"]["name"][0]["family"] == "Smith"
    # ImagingStudy still points at the same Patient.
    study = get(fhir_server, f"/ImagingStudy/{JOE_STUDY}").json()
    assert study["subject"]["reference"] == "Patient/siimjoe"


@pytest.mark.engines("sqlite")
def test_versions_if_match_vread_and_history(fhir_server: LiveServer):
    body: dict[str, Any] = {"resourceType": "Patient", "id": "siimjoe", "gender": "other"}
    assert put(fhir_server, "/Patient/siimjoe", body).status_code == 200
    second = put(
        fhir_server, "/Patient/siimjoe", {**body, "gender": "male"}, **{"If-Match": 'W/"1"'}
    )
    assert second.status_code == 200, second.text
    assert second.headers["etag"] == 'W/"2"'
    stale = put(
        fhir_server, "/Patient/siimjoe", {**body, "gender": "female"}, **{"If-Match": 'W/"1"'}
    )
    outcome(stale, 412)
    assert get(fhir_server, "/Patient/siimjoe").json()["gender"] == "male"
    first = get(fhir_server, "/Patient/siimjoe/_history/1")
    assert first.status_code == 200 and first.json()["gender"] == "other"
    assert first.headers["etag"] == 'W/"1"'
    history = get(fhir_server, "/Patient/siimjoe/_history").json()
    validate(history)
    assert history["type"] == "history"
    assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == ["2", "1"]
    outcome(get(fhir_server, "/Patient/siimjoe/_history/3"), 404)
    outcome(get(fhir_server, "/Patient/siimjoe/_history/x"), 404)
    outcome(put(fhir_server, "/Patient/siimjoe", body, **{"If-Match": "yesterday"}), 400)


@pytest.mark.engines("sqlite")
def test_post_patient_is_matched_by_identifier(fhir_server: LiveServer):
    joe = post(
        fhir_server,
        "/Patient",
        {"resourceType": "Patient", "identifier": [{"value": "siimjoe"}], "gender": "male"},
    )
    assert joe.status_code == 200, joe.text
    assert joe.json()["id"] == "siimjoe"
    new = post(
        fhir_server,
        "/Patient",
        {
            "resourceType": "Patient",
            "identifier": [{"system": "urn:oid:1.2.3.4", "value": "MRN-9"}],
            "name": [{"family": "Newman"}],
        },
    )
    assert new.status_code == 201, new.text
    created = new.json()
    validate(created)
    assert new.headers["location"].endswith(f"/Patient/{created['id']}/_history/1")
    assert get(fhir_server, f"/Patient/{created['id']}").json()["name"][0]["family"] == "Newman"
    again = post(
        fhir_server,
        "/Patient",
        {
            "resourceType": "Patient",
            "identifier": [{"system": "urn:oid:1.2.3.4", "value": "MRN-9"}],
        },
    )
    assert again.status_code == 200 and again.json()["id"] == created["id"]
    assert again.json()["meta"]["versionId"] == "2"
    outcome(post(fhir_server, "/Patient", {"resourceType": "Patient", "gender": "male"}), 400)
    # Found by search as well, though no study names it; the DICOM patient written over once.
    for query in ("identifier=urn:oid:1.2.3.4|MRN-9", "identifier=MRN-9", f"_id={created['id']}"):
        bundle = get(fhir_server, f"/Patient?{query}").json()
        validate(bundle)
        assert [e["resource"]["id"] for e in bundle["entry"]] == [created["id"]], query
        assert bundle["total"] == 1
    joe_found = get(fhir_server, "/Patient?identifier=siimjoe").json()
    assert [e["resource"]["id"] for e in joe_found["entry"]] == ["siimjoe"]
    assert get(fhir_server, "/Patient?name=Newman").json()["total"] == 0  # names: DICOM only


@pytest.mark.engines("sqlite")
def test_reports_and_orders_are_found_from_either_side(fhir_server: LiveServer):
    order = _order(fhir_server)
    validate(order)
    report = _report(fhir_server, order["id"])
    assert report.status_code == 201, report.text
    report_id = report.json()["id"]
    # The study from the order, and the order on the study.
    studies = get(fhir_server, f"/ImagingStudy?basedon=ServiceRequest/{order['id']}").json()
    assert [e["resource"]["id"] for e in studies["entry"]] == [JOE_STUDY]
    study = get(fhir_server, f"/ImagingStudy/{JOE_STUDY}").json()
    validate(study)
    assert study["basedOn"] == [{"reference": f"ServiceRequest/{order['id']}"}]
    # The report from the study, by its id or its Study Instance UID.
    for value in (f"ImagingStudy/{JOE_STUDY}", JOE_STUDY_UID, f"ImagingStudy/{JOE_STUDY_UID}"):
        bundle = get(fhir_server, f"/DiagnosticReport?imaging-study={value}").json()
        validate(bundle)
        assert [e["resource"]["id"] for e in bundle["entry"]] == [report_id], value
    for query in (
        f"based-on=ServiceRequest/{order['id']}",
        "patient=siimjoe",
        "subject=Patient/siimjoe",
        "identifier=urn:example:ris|R-1",
        "status=preliminary",
        f"_id={report_id}",
    ):
        bundle = get(fhir_server, f"/DiagnosticReport?{query}").json()
        assert bundle["total"] == 1, query
    assert get(fhir_server, "/DiagnosticReport?status=final").json()["total"] == 0
    assert get(fhir_server, f"/ServiceRequest?identifier={JOE_STUDY}").json()["total"] == 1
    outcome(get(fhir_server, "/DiagnosticReport?foo=1", Prefer="handling=strict"), 400)


@pytest.mark.engines("sqlite")
def test_report_update_with_if_match_and_its_xml(fhir_server: LiveServer):
    order = _order(fhir_server)
    report = _report(fhir_server, order["id"]).json()
    final = {**report, "status": "final"}
    del final["meta"]
    updated = put(fhir_server, f"/DiagnosticReport/{report['id']}", final, **{"If-Match": 'W/"1"'})
    assert updated.status_code == 200, updated.text
    assert updated.json()["meta"]["versionId"] == "2"
    as_xml = get(fhir_server, f"/DiagnosticReport/{report['id']}", Accept="application/fhir+xml")
    model = validate_xml(as_xml.content)
    assert model.status == "final"
    assert get(fhir_server, f"/DiagnosticReport/{report['id']}/_history/1").json()["status"] == (
        "preliminary"
    )
    xml_body = model.model_dump_xml()
    created = httpx.post(
        fhir(fhir_server) + "/DiagnosticReport",
        content=xml_body,
        headers={**HEADERS, "Content-Type": "application/fhir+xml"},
    )
    assert created.status_code == 201, created.text
    assert created.json()["id"] != report["id"]  # a create assigns its own id


ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE Patient [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Patient xmlns="http://hl7.org/fhir"><id value="siimjoe"/><gender value="&xxe;"/></Patient>"""
BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE Patient [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>
<Patient xmlns="http://hl7.org/fhir"><id value="siimjoe"/><gender value="&d;"/></Patient>"""


@pytest.mark.engines("sqlite")
@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("application/fhir+json", b"{not json", 400),
        ("application/fhir+json", b"[]", 400),
        ("application/fhir+json", b'{"resourceType":"Observation","id":"siimjoe"}', 400),
        ("application/fhir+json", b'{"resourceType":"Patient","id":"other"}', 400),
        ("application/fhir+json", b'{"resourceType":"Patient"}', 400),
        ("application/fhir+json", b'{"resourceType":"Patient","id":"siimjoe","name":"x"}', 400),
        ("application/fhir+xml", ENTITY, 400),
        ("application/fhir+xml", BOMB, 400),
        ("application/fhir+xml", b"<Patient xmlns='http://hl7.org/fhir'>", 400),
        ("text/plain", b"siimjoe", 415),
        (
            "application/fhir+json",
            b'{"resourceType":"Patient","id":"siimjoe","x":"' + b"a" * 2_000_000 + b'"}',
            413,
        ),
    ],
)
def test_bad_bodies_store_nothing(
    fhir_server: LiveServer, content_type: str, body: bytes, status: int
):
    response = httpx.put(
        fhir(fhir_server) + "/Patient/siimjoe",
        content=body,
        headers={**HEADERS, "Content-Type": content_type},
    )
    outcome(response, status)
    outcome(get(fhir_server, "/Patient/siimjoe/_history"), 404)
    assert "meta" not in get(fhir_server, "/Patient/siimjoe").json()


@pytest.mark.engines("sqlite")
def test_writes_on_derived_resources_are_405(fhir_server: LiveServer):
    study = get(fhir_server, f"/ImagingStudy/{JOE_STUDY}").json()
    outcome(put(fhir_server, f"/ImagingStudy/{JOE_STUDY}", study), 405)
    outcome(post(fhir_server, "/Endpoint", {"resourceType": "Endpoint"}), 405)
    outcome(get(fhir_server, f"/ImagingStudy/{JOE_STUDY}/_history"), 404)


@pytest.mark.engines("sqlite")
def test_a_fhir_client_writes_back(fhir_server: LiveServer):
    smart = client.FHIRClient(
        settings={"app_id": "openvna-tests", "api_base": fhir(fhir_server) + "/"}
    )
    smart.server.session.headers["apikey"] = API_KEY
    order = ServiceRequest(
        {
            "resourceType": "ServiceRequest",
            "status": "active",
            "intent": "order",
            "subject": {"reference": "Patient/siimjoe"},
            "identifier": [{"type": ACSN, "value": JOE_STUDY}],
        }
    )
    created = order.create(smart.server)
    assert created is not None and created["resourceType"] == "ServiceRequest"
    order_id = created["id"]
    read = ServiceRequest.read(order_id, smart.server)
    assert read.identifier[0].value == JOE_STUDY
    report = DiagnosticReport(
        {
            "resourceType": "DiagnosticReport",
            "status": "final",
            "code": {"text": "XR chest"},
            "imagingStudy": [{"reference": f"ImagingStudy/{JOE_STUDY}"}],
            "basedOn": [{"reference": f"ServiceRequest/{order_id}"}],
        }
    )
    report_id = report.create(smart.server)["id"]
    found = DiagnosticReport.where(struct={"imaging-study": JOE_STUDY_UID}).perform_resources_iter(
        smart.server
    )
    assert [r.id for r in found] == [report_id]
    report = DiagnosticReport.read(report_id, smart.server)
    report.conclusion = "Normal chest."
    report.update(smart.server)
    assert DiagnosticReport.read(report_id, smart.server).meta.versionId == "2"


@pytest.mark.engines("postgresql")
def test_write_back_on_postgresql(live_server_factory: Callable[..., LiveServer]) -> None:
    server = live_server_factory(auth={"api_keys": [API_KEY]})
    load_demo(server.archive, tuple(s for s in CATALOGUE if s.uid == JOE_STUDY_UID))
    order = _order(server)
    report = _report(server, order["id"]).json()
    assert get(server, f"/DiagnosticReport?imaging-study={JOE_STUDY_UID}").json()["total"] == 1
    updated = put(server, f"/DiagnosticReport/{report['id']}", report, **{"If-Match": 'W/"1"'})
    assert updated.status_code == 200, updated.text
    outcome(put(server, f"/DiagnosticReport/{report['id']}", report, **{"If-Match": 'W/"1"'}), 412)
    history = get(server, f"/DiagnosticReport/{report['id']}/_history").json()
    assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == ["2", "1"]
    assert get(server, f"/ImagingStudy/{JOE_STUDY}").json()["basedOn"][0]["reference"] == (
        f"ServiceRequest/{order['id']}"
    )
