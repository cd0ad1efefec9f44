"""The explorer at /ui in headless Chromium: search with paging, patients, upload through STOW-RS
with progress, a study's series thumbnails, an instance's tags, links, anonymize into a new
study, the ZIP with its DICOMDIR, delete, send a study or a series to a remote modality (DCMTK's
storescp); and without the key, a credentials page and 401s."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, Route, expect
from pydicom import dcmread
from pydicom.uid import generate_uid

from openvna.demo.patients import JOE_STUDY_UID
from tests.browser.conftest import KEY, TIMEOUT_MS
from tests.factories import make_instance
from tests.integration.dimse.conftest import free_port
from tests.integration.dimse.scu_peers import storescp
from tests.tools import needs_dcmtk

pytestmark = pytest.mark.browser


def _enter(page: Page, base: str) -> None:
    page.goto(f"{base}/ui?apikey={KEY}")
    assert page.url == f"{base}/ui"  # the key left the address bar for a session cookie
    expect(page.locator("#studies tbody tr").first).to_be_visible(timeout=TIMEOUT_MS)


def test_search_with_paging(page: Page, demo_server) -> None:
    base, _ = demo_server
    _enter(page, base)
    page.fill("input[name=name]", "siim")
    page.select_option("select[name=size]", "2")
    page.click("form.search button[type=submit]")
    rows = page.locator("#studies tbody tr")
    expect(rows).to_have_count(2)
    first_page = rows.all_inner_texts()
    assert all("SIIM^" in row for row in first_page)
    page.click("#next")
    expect(page.locator("#page")).to_have_text("Page 2")
    expect(rows.first).to_be_visible()
    assert rows.all_inner_texts() != first_page
    assert all("SIIM^" in row for row in rows.all_inner_texts())
    page.fill("input[name=modality]", "CR")
    page.fill("input[name=name]", "")
    page.fill("input[name=from]", "2018-01-01")
    page.click("form.search button[type=submit]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("SIIM^Joe")


def test_patients_lead_to_their_studies(page: Page, demo_server) -> None:
    base, _ = demo_server
    _enter(page, base)
    page.click("text=Patients")
    expect(page.locator("#patients")).to_be_visible()  # the studies form (also 'name') is gone
    page.fill("input[name=name]", "SIIM")
    page.click("form.search button[type=submit]")
    patient = page.locator("#patients tbody tr", has_text="siimjoe")
    expect(patient).to_be_visible()
    patient.click()
    expect(page.locator("#studies tbody tr")).to_have_count(1)
    expect(page.locator("#studies tbody tr").first).to_contain_text("XR CHEST PA AND LATERAL")


def test_a_view_left_behind_does_not_show_over_the_next(page: Page, demo_server) -> None:
    """The list of all patients still loading when the address changes to a search, the user
    picks a patient and gets their studies: when the first list arrives at last, the studies
    stay (seen in CI: a late patients list covered the studies view, and the click on a patient
    found the list being replaced)."""
    base, _ = demo_server
    held: list[Route] = []

    def hold(route: Route) -> None:  # Playwright cannot take a bound builtin as a handler
        held.append(route)

    page.route("**/fhir/Patient?_count=25", hold)  # the list of all patients, held back
    _enter(page, base)
    with page.expect_request("**/fhir/Patient?_count=25"):
        page.click("text=Patients")  # its list does not come
    page.evaluate("location.hash = '#/patients?name=SIIM'")  # the address changed meanwhile
    page.locator("#patients tbody tr", has_text="siimjoe").click()
    studies = page.locator("#studies tbody tr")
    expect(studies).to_have_count(1)
    [late] = held
    with page.expect_response(lambda response: response.url.endswith("/fhir/Patient?_count=25")):
        late.continue_()
    page.wait_for_load_state("networkidle")
    expect(page.locator("#patients")).to_have_count(0)
    expect(studies).to_have_count(1)


def test_study_links_thumbnails_and_tags(page: Page, demo_server) -> None:
    base, _ = demo_server
    _enter(page, base)
    page.locator(f"tr[data-study='{JOE_STUDY_UID}']").click()
    thumbnails = page.locator("#series .card img")
    expect(thumbnails).to_have_count(2)
    page.wait_for_function(
        "() => [...document.querySelectorAll('#series .card img')]"
        ".every(i => i.complete && i.naturalWidth > 0)",
        timeout=TIMEOUT_MS,
    )
    iid = page.locator("input[data-link=IID]").input_value()
    assert iid == f"{base}/IHEInvokeImageDisplay?requestType=STUDY&studyUID={JOE_STUDY_UID}"
    wado = page.locator("input[data-link=WADO-RS]").input_value()
    assert httpx.get(wado + "/metadata", headers={"apikey": KEY}).status_code == 200
    fhir = page.locator("input[data-link=FHIR]").input_value()
    bundle = httpx.get(fhir, headers={"apikey": KEY, "Accept": "application/fhir+json"}).json()
    assert bundle["entry"][0]["resource"]["resourceType"] == "ImagingStudy"
    viewer = page.locator("#open-viewer").get_attribute("href")
    assert viewer == f"/viewer/viewer?StudyInstanceUIDs={JOE_STUDY_UID}"
    thumbnails.first.click()
    page.locator("#instances .card").first.click()
    tags = page.locator("#tags")
    expect(tags).to_contain_text("PatientName")
    expect(tags).to_contain_text("SIIM^Joe")
    expect(tags).to_contain_text("(0010,0010)")


def test_upload_anonymize_download_delete(page: Page, demo_server, tmp_path: Path) -> None:
    base, _ = demo_server
    study = generate_uid()
    ds = make_instance(
        study_uid=study, patient_name="UPLOAD^ME", patient_id="UP-1", rows=64, columns=64
    )
    path = tmp_path / "upload.dcm"
    ds.save_as(path, enforce_file_format=True)
    _enter(page, base)
    page.set_input_files("#files", str(path))
    expect(page.locator("#upload-status")).to_have_text(
        "1 stored, 0 failed (HTTP 200)", timeout=TIMEOUT_MS
    )
    assert page.locator("#upload-progress").get_attribute("value") == "100"
    page.fill("input[name=id]", "UP-1")
    page.click("form.search button[type=submit]")
    page.locator(f"tr[data-study='{study}']").click()
    expect(page.locator("#series .card")).to_have_count(1)

    with page.expect_download(timeout=TIMEOUT_MS) as download:
        page.click("#download")
    with zipfile.ZipFile(download.value.path()) as archive:
        names = archive.namelist()
        assert "DICOMDIR" in names
        dicomdir = dcmread(io.BytesIO(archive.read("DICOMDIR")))
        records = [r.DirectoryRecordType for r in dicomdir.DirectoryRecordSequence]
        assert records == ["PATIENT", "STUDY", "SERIES", "IMAGE"]
        image = next(n for n in names if n != "DICOMDIR")
        assert dcmread(io.BytesIO(archive.read(image))).SOPInstanceUID == ds.SOPInstanceUID

    page.click("#anonymize")
    page.wait_for_url(lambda url: "#/study/" in url and study not in url, timeout=TIMEOUT_MS)
    copy = page.url.rsplit("/", 1)[1]
    expect(page.locator("h2")).not_to_contain_text("UPLOAD^ME")
    anonymized = httpx.get(
        f"{base}/dicomweb/studies/{copy}/metadata", headers={"apikey": KEY}
    ).json()[0]
    assert anonymized["00100010"]["Value"][0]["Alphabetic"] != "UPLOAD^ME"
    assert anonymized["00100020"]["Value"][0] != "UP-1"

    page.goto(f"{base}/ui#/study/{study}")
    expect(page.locator("h2")).to_contain_text("UPLOAD^ME")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#delete")
    page.wait_for_url(f"{base}/ui#/", timeout=TIMEOUT_MS)
    gone = httpx.get(f"{base}/dicomweb/studies?StudyInstanceUID={study}", headers={"apikey": KEY})
    assert gone.status_code in (200, 204)
    assert gone.content in (b"", b"[]")
    kept = httpx.get(f"{base}/dicomweb/studies?StudyInstanceUID={copy}", headers={"apikey": KEY})
    assert len(kept.json()) == 1


@needs_dcmtk
def test_send_a_study_and_a_series_to_a_remote_modality(
    page: Page, demo_server, tmp_path: Path
) -> None:
    base, _ = demo_server
    api = f"{base}/api/remotes"
    with storescp(tmp_path / "received") as peer:
        nodes = {"STORESCP": peer.port, "DOWN": free_port()}
        for aet, port in nodes.items():
            node = {"host": "127.0.0.1", "port": port}
            assert httpx.put(f"{api}/{aet}", json=node, headers={"apikey": KEY}).is_success
        try:
            _enter(page, base)
            page.locator(f"tr[data-study='{JOE_STUDY_UID}']").click()
            expected = _instances(base, JOE_STUDY_UID)
            status = page.locator("#send-status")
            page.select_option("#send-remote", "STORESCP")
            page.click("#send")
            expect(status).to_have_text(
                f"Sent {len(expected)} instance(s) to STORESCP", timeout=TIMEOUT_MS
            )
            assert _received(peer.received) == expected
            page.select_option("#send-remote", "DOWN")
            page.click("#send")
            expect(status).to_contain_text("Sending to DOWN failed", timeout=TIMEOUT_MS)
            expect(status).to_contain_text("did not answer")

            page.locator("#series .card").first.click()
            shown = page.locator("#instances .card")
            expect(shown.first).to_be_visible()
            page.select_option("#send-remote", "STORESCP")
            page.click("#send")
            expect(status).to_have_text(
                f"Sent {shown.count()} instance(s) to STORESCP", timeout=TIMEOUT_MS
            )
        finally:
            for aet in nodes:
                httpx.delete(f"{api}/{aet}", headers={"apikey": KEY})


def _instances(base: str, study: str) -> set[str]:
    found = httpx.get(f"{base}/dicomweb/studies/{study}/instances", headers={"apikey": KEY})
    return {item["00080018"]["Value"][0] for item in found.json()}


def _received(directory: Path) -> set[str]:
    """The SOP Instance UIDs of storescp's files (named <modality>.<SOP Instance UID>)."""
    return {path.name.split(".", 1)[1] for path in directory.iterdir()}


def test_without_the_key(page: Page, demo_server) -> None:
    base, _ = demo_server
    response = page.goto(f"{base}/ui")
    assert response is not None and response.status == 401
    expect(page.get_by_role("heading", name="Credentials required")).to_be_visible()
    tags = f"{base}/ui/api/studies/{JOE_STUDY_UID}/archive"
    assert page.request.get(tags).status == 401
    assert page.request.get(f"{base}/dicomweb/studies").status == 401
    page.fill("input[name=apikey]", KEY)
    page.click("button[type=submit]")
    expect(page.locator("#studies tbody tr").first).to_be_visible(timeout=TIMEOUT_MS)
