"""FHIR search against a live server over the demo (issue 10, priority 2): each parameter of the
issue, Bundle searchset mechanics (total, links, paging, fullUrl, search.mode), _include,
_revinclude, _sort, _summary, _elements, POST _search, Prefer: handling, and bad values.
Every Bundle validates with the R4B models; fhirclient drives search and paging."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fhirclient import client
from fhirclient.models.imagingstudy import ImagingStudy
from fhirclient.models.patient import Patient

from openvna.demo import load_demo
from openvna.demo.patients import (
    CATALOGUE,
    JOE_PA_SERIES_UID,
    JOE_PA_SOP_UID,
    JOE_STUDY_UID,
    THOMPSON_STUDY_UID,
)
from tests.conftest import LiveServer
from tests.fhir_check import SUBSETTED_CODE, validate, validate_xml
from tests.fhir_demo import API_KEY, HEADERS, fhir, fhir_demo_dir, fhir_server, get, outcome

pytestmark = pytest.mark.integration
__all__ = ["fhir_demo_dir", "fhir_server"]

JOE_STUDY = "a257132503242682"
ANDY_PET = "a956893214499959"  # 2001-06-18, CT + PT, chest
ANDY_BODY = "a411079800582267"  # 2002-01-14, CT, whole body
THOMPSON = "11235813"  # 2013-04-09, CT, abdomen
ALL_STUDIES = {JOE_STUDY, ANDY_PET, ANDY_BODY, THOMPSON}


def search(server: LiveServer, path: str, status: int = 200, **headers: str) -> dict[str, Any]:
    response = get(server, path, **headers)
    assert response.status_code == status, response.text
    bundle = response.json()
    validate(bundle)
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset"
    return bundle


def ids(bundle: dict[str, Any], mode: str = "match") -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == mode]


@pytest.mark.engines("sqlite")
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("_id=siimjoe", {"siimjoe"}),
        ("identifier=siimjoe", {"siimjoe"}),
        ("identifier=12345,TCGA-50-5072", {"12345", "TCGA-50-5072"}),
        ("name=siim", {"siimjoe", "TCGA-50-5072"}),
        ("name=joe", {"siimjoe"}),
        ("name=oe", set()),
        ("name:contains=oe", {"siimjoe"}),
        ("name:exact=thomp", set()),
        ("name:exact=thompson", {"12345"}),
        ("family=SIIM", {"siimjoe", "TCGA-50-5072"}),
        ("family:exact=SII", set()),
        ("given=andy", {"TCGA-50-5072"}),
        ("birthdate=1975", {"siimjoe"}),
        ("birthdate=lt1950", {"TCGA-50-5072"}),
        ("birthdate=ge1967-07-01&birthdate=le1975-03-15", {"12345", "siimjoe"}),
        ("gender=male", {"siimjoe", "TCGA-50-5072", "12345"}),
        ("gender=female", set()),
        ("gender=unknown", set()),
        ("gender=female,unknown", set()),
        ("gender=female,male", {"siimjoe", "TCGA-50-5072", "12345"}),
        ("birthdate=ne1975", {"TCGA-50-5072", "12345"}),
        ("name=siim&gender=male&birthdate=gt1970", {"siimjoe"}),
    ],
)
def test_patient_search(fhir_server: LiveServer, query: str, expected: set[str]):
    bundle = search(fhir_server, f"/Patient?{query}")
    assert set(ids(bundle)) == expected
    assert bundle["total"] == len(expected)


@pytest.mark.engines("sqlite")
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("_id=a257132503242682", {JOE_STUDY}),
        (f"_id={THOMPSON_STUDY_UID}", {THOMPSON}),
        ("patient=siimjoe", {JOE_STUDY}),
        ("patient=Patient/TCGA-50-5072", {ANDY_PET, ANDY_BODY}),
        ("subject=Patient/12345", {THOMPSON}),
        ("subject=Group/12345", set()),
        ("patient=nobody", set()),
        (f"identifier=urn:dicom:uid|urn:oid:{JOE_STUDY_UID}", {JOE_STUDY}),
        (f"identifier=urn:oid:{JOE_STUDY_UID}", {JOE_STUDY}),
        (f"identifier=urn:oid:{JOE_STUDY_UID},urn:oid:{THOMPSON_STUDY_UID}", {JOE_STUDY, THOMPSON}),
        ("identifier=a257132503242682", {JOE_STUDY}),
        ("identifier=http://ris.example|11235813", {THOMPSON}),
        (
            "identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|ACSN|11235813",
            {THOMPSON},
        ),
        ("started=2018-05-28", {JOE_STUDY}),
        ("started=2001", {ANDY_PET}),
        ("started=ge2013", {JOE_STUDY, THOMPSON}),
        ("started=lt2002-01-14", {ANDY_PET}),
        ("started=sa2001-06-18&started=eb2013-04-09", {ANDY_BODY}),
        ("started=le2002-01-14", {ANDY_PET, ANDY_BODY}),
        ("started=ne2018", {ANDY_PET, ANDY_BODY, THOMPSON}),
        ("started=ne2001-06&started=ne2013-04-09", {JOE_STUDY, ANDY_BODY}),
        ("started=ap2002-01", {ANDY_PET, ANDY_BODY}),
        ("modality=CT", {ANDY_PET, ANDY_BODY, THOMPSON}),
        ("modality=PT", {ANDY_PET}),
        ("modality=http://dicom.nema.org/resources/ontology/DCM|CR", {JOE_STUDY}),
        ("modality=CR,PT", {JOE_STUDY, ANDY_PET}),
        (f"series={JOE_PA_SERIES_UID}", {JOE_STUDY}),
        (f"instance={JOE_PA_SOP_UID}", {JOE_STUDY}),
        ("dicom-class=urn:ietf:rfc:3986|urn:oid:1.2.840.10008.5.1.4.1.1.1", {JOE_STUDY}),
        ("dicom-class=1.2.840.10008.5.1.4.1.1.128", {ANDY_PET}),
        ("bodysite=ABDOMEN", {THOMPSON}),
        ("bodysite=chest", {JOE_STUDY, ANDY_PET}),
        ("status=available", ALL_STUDIES),
        ("status=cancelled", set()),
        ("endpoint=Endpoint/wado-rs", ALL_STUDIES),
        ("endpoint=Endpoint/iid", set()),
        ("patient=TCGA-50-5072&modality=PT", {ANDY_PET}),
    ],
)
def test_imaging_study_search(fhir_server: LiveServer, query: str, expected: set[str]):
    bundle = search(fhir_server, f"/ImagingStudy?{query}")
    assert set(ids(bundle)) == expected
    assert bundle["total"] == len(expected)


@pytest.mark.engines("sqlite")
def test_entries_carry_full_urls_and_the_self_link_the_parameters_used(fhir_server: LiveServer):
    bundle = search(fhir_server, "/ImagingStudy?patient=siimjoe&unknown=1&_format=json")
    (entry,) = bundle["entry"]
    assert entry["fullUrl"] == f"{fhir(fhir_server)}/ImagingStudy/{JOE_STUDY}"
    assert entry["search"] == {"mode": "match"}
    (self_link,) = [link["url"] for link in bundle["link"] if link["relation"] == "self"]
    params = parse_qs(urlsplit(self_link).query)
    assert params["patient"] == ["siimjoe"]
    assert "unknown" not in params  # lenient: ignored, and not reported as used
    assert params["_format"] == ["json"]


@pytest.mark.engines("sqlite")
def test_paging_follows_next_links_to_every_study(fhir_server: LiveServer):
    seen: list[str] = []
    url: str | None = f"{fhir(fhir_server)}/ImagingStudy?_count=1"
    pages = 0
    while url is not None:
        response = httpx.get(url, headers=HEADERS)
        bundle = response.json()
        validate(bundle)
        assert bundle["total"] == 4
        seen += ids(bundle)
        links = {link["relation"]: link["url"] for link in bundle["link"]}
        assert ("previous" in links) == (pages > 0)
        url = links.get("next")
        pages += 1
    assert pages == 4
    assert sorted(seen) == sorted(ALL_STUDIES)


@pytest.mark.engines("sqlite")
def test_sort_by_started_both_ways(fhir_server: LiveServer):
    newest = ids(search(fhir_server, "/ImagingStudy?_sort=-started"))
    oldest = ids(search(fhir_server, "/ImagingStudy?_sort=started"))
    assert newest == [JOE_STUDY, THOMPSON, ANDY_BODY, ANDY_PET]
    assert oldest == list(reversed(newest))
    second_page = ids(search(fhir_server, "/ImagingStudy?_sort=started&_count=2&_offset=2"))
    assert second_page == [THOMPSON, JOE_STUDY]


@pytest.mark.engines("sqlite")
def test_summary_and_elements(fhir_server: LiveServer):
    counted = search(fhir_server, "/ImagingStudy?_summary=count")
    assert counted["total"] == 4 and "entry" not in counted
    summary = search(fhir_server, f"/ImagingStudy?_id={THOMPSON}&_summary=true")
    (study,) = [e["resource"] for e in summary["entry"]]
    assert SUBSETTED_CODE in [t["code"] for t in study["meta"]["tag"]]
    assert study["series"] and all("instance" not in s for s in study["series"])
    elements = search(fhir_server, f"/ImagingStudy?_id={THOMPSON}&_elements=identifier,started")
    (study,) = [e["resource"] for e in elements["entry"]]
    assert set(study) == {
        "resourceType",
        "id",
        "meta",
        "identifier",
        "started",
        "status",
        "subject",
    }
    read = get(fhir_server, "/Patient/siimjoe?_elements=gender").json()
    assert "gender" in read and "name" not in read


@pytest.mark.engines("sqlite")
def test_include_and_revinclude(fhir_server: LiveServer):
    bundle = search(
        fhir_server,
        "/ImagingStudy?patient=TCGA-50-5072&_include=ImagingStudy:subject"
        "&_include=ImagingStudy:endpoint",
    )
    assert set(ids(bundle)) == {ANDY_PET, ANDY_BODY}
    assert sorted(ids(bundle, "include")) == ["TCGA-50-5072", "wado-rs"]
    assert bundle["total"] == 2  # includes are not counted
    patients = search(fhir_server, "/Patient?family=SIIM&_revinclude=ImagingStudy:patient")
    assert set(ids(patients)) == {"siimjoe", "TCGA-50-5072"}
    assert set(ids(patients, "include")) == {JOE_STUDY, ANDY_PET, ANDY_BODY}


@pytest.mark.engines("sqlite")
def test_post_search_equals_get(fhir_server: LiveServer):
    posted = httpx.post(
        f"{fhir(fhir_server)}/ImagingStudy/_search?_sort=started",
        headers=HEADERS,
        data={"modality": "CT"},
    )
    assert posted.status_code == 200, posted.text
    validate(posted.json())
    assert ids(posted.json()) == ids(search(fhir_server, "/ImagingStudy?modality=CT&_sort=started"))


@pytest.mark.engines("sqlite")
def test_strict_handling_refuses_unknown_parameters(fhir_server: LiveServer):
    outcome(get(fhir_server, "/ImagingStudy?foo=bar", Prefer="handling=strict"), 400)
    outcome(get(fhir_server, "/Patient?name:fuzzy=x", Prefer="handling=strict"), 400)
    outcome(get(fhir_server, "/Patient?_sort=name", Prefer="handling=strict"), 400)
    lenient = search(fhir_server, "/ImagingStudy?foo=bar", Prefer="handling=lenient")
    assert lenient["total"] == 4


@pytest.mark.engines("sqlite")
@pytest.mark.parametrize(
    "query",
    [
        "ImagingStudy?started=2020-13",
        "ImagingStudy?started=xx2018",
        "ImagingStudy?_lastUpdated=2026-12-04T25:00:00Z",
        "ImagingStudy?_lastUpdated=ge2026&_lastUpdated=lt2027,gt2028",
        "ImagingStudy?started=yesterday",
        "ImagingStudy?identifier=urn:oid:1.2.abc",
        "ImagingStudy?identifier=urn:dicom:uid|1.2.3",
        "ImagingStudy?identifier:of-type=http://loinc.org|X|11235813",
        "ImagingStudy?identifier:of-type=11235813",
        "ImagingStudy?series=not-a-uid",
        "ImagingStudy?dicom-class=http://x|1.2.3",
        "ImagingStudy?status=done",
        "ImagingStudy?modality=http://loinc.org|CT",
        "ImagingStudy?_count=-1",
        "ImagingStudy?_count=99999999999999999999",
        "ImagingStudy?_offset=x",
        "ImagingStudy?_summary=maybe",
        "ImagingStudy?_count=1&_count=2",
        "Patient?gender=unknow",
        "Patient?birthdate=1975-02-30",
        "Patient?identifier=|",
        "Patient?name=a,b",
    ],
)
def test_malformed_values_are_400(fhir_server: LiveServer, query: str):
    body = outcome(get(fhir_server, f"/{query}"), 400)
    assert body["issue"][0]["code"] == "invalid"


@pytest.mark.engines("sqlite")
def test_a_huge_count_is_capped(fhir_server: LiveServer):
    bundle = search(fhir_server, "/ImagingStudy?_count=100000")
    (self_link,) = [link["url"] for link in bundle["link"] if link["relation"] == "self"]
    assert parse_qs(urlsplit(self_link).query)["_count"] == ["1000"]
    assert len(ids(bundle)) == 4


@pytest.mark.engines("sqlite")
def test_a_fhir_client_searches_pages_and_reads(fhir_server: LiveServer):
    smart = client.FHIRClient(
        settings={"app_id": "openvna-tests", "api_base": fhir(fhir_server) + "/"}
    )
    smart.server.session.headers["apikey"] = API_KEY
    search_ = ImagingStudy.where(struct={"_count": "1", "_sort": "started"})
    studies = list(search_.perform_resources_iter(smart.server))
    assert [s.id for s in studies] == [ANDY_PET, ANDY_BODY, THOMPSON, JOE_STUDY]
    joe = Patient.read("siimjoe", smart.server)
    assert joe.name[0].family == "SIIM"
    theirs = ImagingStudy.where(struct={"patient": joe.id}).perform_resources_iter(smart.server)
    (study,) = list(theirs)
    assert study.subject.reference == "Patient/siimjoe"
    assert [i.uid for s in study.series for i in s.instance if i.uid == JOE_PA_SOP_UID]


@pytest.mark.engines("sqlite")
def test_stored_and_deleted_studies_show_at_once(fhir_server: LiveServer):
    before = search(fhir_server, "/ImagingStudy?patient=siimjoe")
    assert before["total"] == 1
    deleted = httpx.delete(f"{fhir_server.dicomweb}/studies/{JOE_STUDY_UID}", headers=HEADERS)
    assert deleted.status_code in (200, 202, 204), deleted.text
    assert search(fhir_server, "/ImagingStudy?patient=siimjoe")["total"] == 0
    outcome(get(fhir_server, f"/ImagingStudy/{JOE_STUDY}"), 404)
    joe = tuple(s for s in CATALOGUE if s.uid == JOE_STUDY_UID)
    load_demo(fhir_server.archive, joe)
    assert ids(search(fhir_server, "/ImagingStudy?patient=siimjoe")) == [JOE_STUDY]


@pytest.mark.engines("postgresql")
def test_search_on_postgresql(live_server_factory: Callable[..., LiveServer]) -> None:
    server = live_server_factory(auth={"api_keys": [API_KEY]})
    load_demo(server.archive, tuple(s for s in CATALOGUE if s.patient.name.startswith("SIIM^")))
    assert set(ids(search(server, "/ImagingStudy?modality=CT"))) == {ANDY_PET, ANDY_BODY}
    assert ids(search(server, "/ImagingStudy?_sort=started&started=ge2001-06-18")) == [
        ANDY_PET,
        ANDY_BODY,
        JOE_STUDY,
    ]
    assert set(ids(search(server, "/Patient?name=siim"))) == {"siimjoe", "TCGA-50-5072"}
    assert ids(search(server, "/ImagingStudy?bodysite=WHOLEBODY")) == [ANDY_BODY]
    paged = search(server, "/ImagingStudy?_count=2&_offset=2")
    assert paged["total"] == 3 and len(ids(paged)) == 1


@pytest.mark.engines("sqlite")
def test_reason_searches_the_studies_reason_codes(fhir_server: LiveServer):
    from pydicom import Dataset

    from openvna.archive.outcome import Origin
    from tests.factories import make_instance

    reason = Dataset()
    reason.CodeValue = "29857009"
    reason.CodingSchemeDesignator = "SCT"
    reason.CodeMeaning = "Chest pain"
    ds = make_instance(patient_id="REASON-1", AccessionNumber="R0001")
    ds.ReasonForPerformedProcedureCodeSequence = [reason]
    assert fhir_server.archive.store_dataset(ds, Origin.local("test")).ok
    for query in ("reason=http://snomed.info/sct|29857009", "reason=29857009"):
        bundle = search(fhir_server, f"/ImagingStudy?{query}")
        assert ids(bundle) == ["R0001"], query
        (study,) = [e["resource"] for e in bundle["entry"]]
        assert study["reasonCode"] == [
            {
                "coding": [
                    {
                        "system": "http://snomed.info/sct",
                        "code": "29857009",
                        "display": "Chest pain",
                    }
                ]
            }
        ]
    assert search(fhir_server, "/ImagingStudy?reason=http://loinc.org|29857009")["total"] == 0
    assert search(fhir_server, "/ImagingStudy?reason=1234")["total"] == 0


@pytest.mark.engines("sqlite")
def test_bundles_as_xml(fhir_server: LiveServer):
    response = get(
        fhir_server,
        "/ImagingStudy?patient=TCGA-50-5072&_include=ImagingStudy:subject&_format=xml",
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+xml")
    bundle = validate_xml(response.content)
    assert bundle.total == 2
    kinds = sorted(type(e.resource).__name__ for e in bundle.entry)
    assert kinds == ["ImagingStudy", "ImagingStudy", "Patient"]
