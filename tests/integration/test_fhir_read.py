"""FHIR read, content negotiation, errors and API keys against a live server over the demo
(issue 10, priority 1). Every resource and OperationOutcome validates with the R4B models."""

from __future__ import annotations

import httpx
import pytest

from openvna.demo.patients import JOE_STUDY_UID, THOMPSON_STUDY_UID
from tests.conftest import LiveServer
from tests.fhir_check import child_names, validate, validate_xml
from tests.fhir_demo import HEADERS, fhir, fhir_demo_dir, fhir_server, get, get_json, outcome

pytestmark = [pytest.mark.integration, pytest.mark.engines("sqlite")]
__all__ = ["fhir_demo_dir", "fhir_server"]

# R4 ImagingStudy's elements in the specification's order (imagingstudy.html#resource).
IMAGING_STUDY_ORDER = [
    "id",
    "meta",
    "implicitRules",
    "language",
    "text",
    "contained",
    "extension",
    "modifierExtension",
    "identifier",
    "status",
    "modality",
    "subject",
    "encounter",
    "started",
    "basedOn",
    "referrer",
    "interpreter",
    "endpoint",
    "numberOfSeries",
    "numberOfInstances",
    "procedureReference",
    "procedureCode",
    "location",
    "reasonCode",
    "reasonReference",
    "note",
    "description",
    "series",
]


def test_patient_read_with_a_trailing_slash(fhir_server: LiveServer):
    patient = get_json(fhir_server, "/Patient/siimjoe/")
    validate(patient)
    assert patient["id"] == "siimjoe"
    assert patient["identifier"] == [{"use": "usual", "value": "siimjoe"}]
    assert patient["name"][0]["family"] == "SIIM"
    assert patient["name"][0]["given"] == ["Joe"]
    assert patient["gender"] == "male"
    assert patient["birthDate"] == "1975-03-15"


def test_imaging_study_read_as_xml_keeps_the_element_order(fhir_server: LiveServer):
    response = get(fhir_server, "/ImagingStudy/a257132503242682/", Accept="text/xml")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+xml")
    model = validate_xml(response.content)
    assert model.id == "a257132503242682"
    names = child_names(response.content)
    positions = [IMAGING_STUDY_ORDER.index(name) for name in names]
    assert positions == sorted(positions), names
    assert f"urn:oid:{JOE_STUDY_UID}".encode() in response.content


def test_imaging_study_read_by_study_uid_when_it_has_an_accession(fhir_server: LiveServer):
    study = get_json(fhir_server, f"/ImagingStudy/{JOE_STUDY_UID}")
    assert study["id"] == "a257132503242682"
    thompson = get_json(fhir_server, "/ImagingStudy/11235813")
    validate(thompson)
    assert thompson["identifier"][0]["value"] == f"urn:oid:{THOMPSON_STUDY_UID}"
    assert thompson["numberOfSeries"] == 4
    assert thompson["numberOfInstances"] == 85
    assert sum(len(s["instance"]) for s in thompson["series"]) == 85
    assert [s["number"] for s in thompson["series"]] == sorted(
        s["number"] for s in thompson["series"]
    )


def test_endpoint_points_at_the_dicomweb_root(fhir_server: LiveServer):
    endpoint = get_json(fhir_server, "/Endpoint/wado-rs")
    validate(endpoint)
    assert endpoint["address"] == fhir_server.dicomweb
    assert endpoint["connectionType"]["code"] == "dicom-wado-rs"
    iid = get_json(fhir_server, "/Endpoint/iid")
    assert iid["address"] == fhir_server.url + "/IHEInvokeImageDisplay"
    found = get_json(fhir_server, "/Endpoint")
    validate(found)
    assert {e["resource"]["connectionType"]["code"] for e in found["entry"]} == {
        "dicom-wado-rs",
        "dicom-qido-rs",
        "dicom-stow-rs",
        "dicom-wado-uri",
        "ihe-iid",
    }


def test_endpoint_address_follows_the_forwarded_host(fhir_server: LiveServer):
    response = get(
        fhir_server,
        "/Endpoint/wado-rs",
        **{"X-Forwarded-Host": "pacs.example.org", "X-Forwarded-Proto": "https"},
    )
    assert response.json()["address"] == "https://pacs.example.org/dicomweb"


@pytest.mark.parametrize(
    ("format_", "accept", "xml"),
    [
        ("xml", "application/fhir+json", True),
        ("application/fhir+xml", "", True),
        ("json", "text/xml", False),
        (None, "application/xml", True),
        (None, "application/json", False),
        (None, "*/*", False),
        (None, "text/html,application/xml;q=0.9,*/*;q=0.8", True),
    ],
)
def test_format_overrides_accept(
    fhir_server: LiveServer, format_: str | None, accept: str, xml: bool
):
    query = f"?_format={format_}" if format_ else ""
    response = get(fhir_server, f"/Patient/siimjoe{query}", Accept=accept)
    assert response.status_code == 200, response.text
    kind = response.headers["content-type"]
    if xml:
        assert kind.startswith("application/fhir+xml")
        validate_xml(response.content)
    else:
        assert kind.startswith("application/fhir+json")
        validate(response.json())


def test_pretty(fhir_server: LiveServer):
    compact = get(fhir_server, "/Patient/siimjoe")
    pretty = get(fhir_server, "/Patient/siimjoe?_pretty=true")
    assert b"\n" not in compact.content
    assert b'\n  "id": "siimjoe"' in pretty.content
    assert pretty.json() == compact.json()
    xml = get(fhir_server, "/Patient/siimjoe?_pretty=true&_format=xml")
    assert b'\n  <id value="siimjoe"/>' in xml.content


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/Patient/siimjoe", {"Accept": "image/png"}),
        ("/Patient/siimjoe?_format=html", {}),
        ("/Patient/siimjoe?_format=ttl", {}),
    ],
)
def test_unacceptable_formats_are_406(fhir_server: LiveServer, path: str, headers: dict[str, str]):
    outcome(get(fhir_server, path, **headers), 406)


@pytest.mark.parametrize(
    "path",
    [
        "/Patient/nobody",
        "/ImagingStudy/1.2.3",
        "/ImagingStudy/not-an-accession",
        "/Endpoint/ftp",
        "/Observation/1",
        "/Observation",
        "/Patient/siimjoe/_history/1/extra",
        "/Patient/bad%20id",
        "/",
    ],
)
def test_unknown_ids_and_types_are_404(fhir_server: LiveServer, path: str):
    body = outcome(get(fhir_server, path), 404)
    assert body["issue"][0]["code"] == "not-found"


def test_errors_come_in_the_format_asked_for(fhir_server: LiveServer):
    response = get(fhir_server, "/Patient/nobody", Accept="application/fhir+xml")
    assert response.status_code == 404
    model = validate_xml(response.content)
    assert model.issue[0].code == "not-found"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/Patient/siimjoe"),
        ("PATCH", "/ImagingStudy/a257132503242682"),
        ("DELETE", "/ImagingStudy"),
        ("POST", "/metadata"),
        ("GET", "/ImagingStudy/_search"),
    ],
)
def test_interactions_not_offered_are_405(fhir_server: LiveServer, method: str, path: str):
    response = httpx.request(method, fhir(fhir_server) + path, headers=HEADERS)
    body = outcome(response, 405)
    assert body["issue"][0]["code"] == "not-supported"


def test_search_post_needs_a_form(fhir_server: LiveServer):
    response = httpx.post(
        fhir(fhir_server) + "/Patient/_search",
        headers={**HEADERS, "Content-Type": "application/json"},
        content=b"{}",
    )
    outcome(response, 415)


def test_api_keys_protect_fhir_but_not_its_metadata(fhir_server: LiveServer):
    refused = httpx.get(fhir(fhir_server) + "/Patient/siimjoe")
    body = outcome(refused, 401)
    assert body["issue"][0]["code"] == "login"
    wrong = httpx.get(fhir(fhir_server) + "/ImagingStudy", headers={"apikey": "nope"})
    outcome(wrong, 401)
    bearer = httpx.get(
        fhir(fhir_server) + "/Patient/siimjoe",
        headers={"Authorization": f"Bearer {HEADERS['apikey']}"},
    )
    assert bearer.status_code == 200
    metadata = httpx.get(fhir(fhir_server) + "/metadata/")
    assert metadata.status_code == 200
    validate(metadata.json())


def test_capability_statement_lists_what_is_served(fhir_server: LiveServer):
    statement = get_json(fhir_server, "/metadata")
    validate(statement)
    assert statement["fhirVersion"] == "4.0.1"
    assert statement["kind"] == "instance"
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert set(resources) == {
        "Patient",
        "ImagingStudy",
        "Endpoint",
        "DiagnosticReport",
        "ServiceRequest",
    }
    study = resources["ImagingStudy"]
    assert {i["code"] for i in study["interaction"]} == {"read", "search-type"}
    written = {"read", "vread", "update", "create", "search-type", "history-instance"}
    for kind in ("Patient", "DiagnosticReport", "ServiceRequest"):
        assert {i["code"] for i in resources[kind]["interaction"]} == written
        assert resources[kind]["versioning"] == "versioned-update"
    assert {"imaging-study", "based-on"} <= {
        p["name"] for p in resources["DiagnosticReport"]["searchParam"]
    }
    names = {p["name"] for p in study["searchParam"]}
    assert {"patient", "identifier", "started", "modality", "series", "dicom-class"} <= names
    assert "ImagingStudy:patient" in study["searchInclude"]
    assert "ImagingStudy:patient" in resources["Patient"]["searchRevInclude"]
    xml = httpx.get(fhir(fhir_server) + "/metadata", headers={"Accept": "application/fhir+xml"})
    validate_xml(xml.content)
