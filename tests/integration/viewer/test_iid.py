"""IHE Invoke Image Display (RAD-106) over HTTP: parameters, matching, redirects into OHIF,
error pages that reflect nothing, the session cookie and the frame-ancestors policy; the
viewer's files with their gzip copies."""

from __future__ import annotations

import gzip
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from openvna.archive.outcome import Origin
from openvna.web.session import SESSION_COOKIE
from tests.factories import make_instance

pytestmark = pytest.mark.integration

KEY = "iid-test-key-0123456789"
IID = "/IHEInvokeImageDisplay"
KOS = "1.2.840.10008.5.1.4.1.1.88.59"
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}  # a browser's navigation


@pytest.fixture
def viewer_root(tmp_path: Path) -> Path:
    """An installed viewer's layout (``current`` naming a directory with index.html)."""
    root = tmp_path / "viewer"
    (root / "9.9.9").mkdir(parents=True)
    (root / "9.9.9" / "index.html").write_text("<!doctype html><title>OHIF</title>")
    (root / "current").write_text("9.9.9\n")
    return root


def _store(server, **attributes) -> Dataset:
    ds = make_instance(**attributes)
    assert server.archive.store_dataset(ds, Origin.local("test")).ok
    return ds


@pytest.fixture
def server(live_server_factory, viewer_root):
    """A keyed server with three studies of patient P7 (issuer HOSP), one of P8."""
    server = live_server_factory(auth={"api_keys": [KEY]}, viewer={"dir": viewer_root})
    server.old = _store(
        server, patient_id="P7", IssuerOfPatientID="HOSP", study_date="20200105", modality="MR"
    )
    server.mid = _store(
        server, patient_id="P7", IssuerOfPatientID="HOSP", study_date="20220310", modality="CT"
    )
    server.new = _store(
        server,
        patient_id="P7",
        IssuerOfPatientID="HOSP",
        study_date="20240720",
        modality="CT",
        AccessionNumber="ACC-NEW",
    )
    server.other = _store(server, patient_id="P8", study_date="20240101", AccessionNumber="A8")
    return server


def _get(server, **params: str) -> httpx.Response:
    return httpx.get(server.url + IID, params=params, headers={"apikey": KEY})


def _studies(response: httpx.Response) -> list[str]:
    assert response.status_code == 303, response.text
    target = urlsplit(response.headers["location"])
    assert target.path == "/viewer/viewer"
    return parse_qs(target.query)["StudyInstanceUIDs"][0].split(",")


def test_study_by_uid_list_and_accession(server) -> None:
    uids = [server.old.StudyInstanceUID, server.other.StudyInstanceUID]
    assert _studies(_get(server, requestType="STUDY", studyUID=uids[0])) == [uids[0]]
    both = _studies(_get(server, requestType="STUDY", studyUID=",".join(uids)))
    assert sorted(both) == sorted(uids)
    semicolons = _studies(_get(server, requestType="STUDY", studyUID=";".join(uids)))
    assert sorted(semicolons) == sorted(uids)
    by_accession = _studies(_get(server, requestType="STUDY", accessionNumber="ACC-NEW,A8"))
    assert sorted(by_accession) == sorted([server.new.StudyInstanceUID, uids[1]])


def test_patient_filters(server) -> None:
    old, mid, new = (s.StudyInstanceUID for s in (server.old, server.mid, server.new))
    assert _studies(_get(server, requestType="PATIENT", patientID="P7")) == [new, mid, old]
    assert _studies(_get(server, requestType="PATIENT", patientID="P7^^^HOSP")) == [new, mid, old]
    elsewhere = _get(server, requestType="PATIENT", patientID="P7^^^ELSEWHERE")
    assert elsewhere.status_code == 404
    recent = _get(server, requestType="PATIENT", patientID="P7", mostRecentResults="2")
    assert _studies(recent) == [new, mid]
    ct = _get(server, requestType="PATIENT", patientID="P7", modalitiesInStudy="CT")
    assert _studies(ct) == [new, mid]
    ranged = _get(
        server,
        requestType="PATIENT",
        patientID="P7",
        lowerDateTime="2021-01-01T00:00:00",
        upperDateTime="2023-12-31T23:59:59",
    )
    assert _studies(ranged) == [mid]
    since = _get(server, requestType="PATIENT", patientID="P7", lowerDateTime="2022-03-10")
    assert _studies(since) == [new, mid]
    flags = _get(
        server,
        requestType="PATIENT",
        patientID="P7",
        viewerType="IHE_BIR",
        diagnosticQuality="true",
        keyImagesOnly="false",
    )
    assert _studies(flags) == [new, mid, old]


def test_key_images_only(server) -> None:
    study = server.mid
    kos = Dataset()
    kos.SOPClassUID = KOS
    kos.SOPInstanceUID = generate_uid()
    kos.StudyInstanceUID = study.StudyInstanceUID
    kos.SeriesInstanceUID = generate_uid()
    kos.Modality = "KO"
    for keyword in ("PatientID", "PatientName", "StudyDate", "StudyTime", "AccessionNumber"):
        setattr(kos, keyword, getattr(study, keyword))
    kos.SeriesNumber = 99
    kos.InstanceNumber = 1
    sop = Dataset()
    sop.ReferencedSOPClassUID = study.SOPClassUID
    sop.ReferencedSOPInstanceUID = study.SOPInstanceUID
    series = Dataset()
    series.SeriesInstanceUID = study.SeriesInstanceUID
    series.ReferencedSOPSequence = [sop]
    evidence = Dataset()
    evidence.StudyInstanceUID = study.StudyInstanceUID
    evidence.ReferencedSeriesSequence = [series]
    kos.CurrentRequestedProcedureEvidenceSequence = [evidence]
    kos.file_meta = Dataset()
    kos.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.1"
    outcome = server.archive.store_dataset(kos, Origin.local("test"))
    assert outcome.ok, outcome.message
    response = _get(
        server, requestType="STUDY", studyUID=study.StudyInstanceUID, keyImagesOnly="true"
    )
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["SeriesInstanceUIDs"] == [study.SeriesInstanceUID]
    assert query["initialSOPInstanceUID"] == [study.SOPInstanceUID]
    none = _get(
        server, requestType="STUDY", studyUID=server.old.StudyInstanceUID, keyImagesOnly="true"
    )
    assert none.status_code == 404
    assert "Key Object Selection" in none.text


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({}, "requestType is missing"),
        ({"requestType": "SERIES"}, "requestType must be STUDY or PATIENT"),
        ({"requestType": "STUDY"}, "exactly one of studyUID and accessionNumber"),
        ({"requestType": "STUDY", "studyUID": "1.2", "accessionNumber": "A"}, "exactly one"),
        ({"requestType": "STUDY", "studyUID": "1.2.abc"}, "not a valid DICOM UID"),
        ({"requestType": "PATIENT"}, "needs patientID"),
        ({"requestType": "PATIENT", "patientID": "*"}, "patient identifier"),
        ({"requestType": "PATIENT", "patientID": "P?^^^HOSP"}, "patient identifier"),
        ({"requestType": "PATIENT", "patientID": "^^^HOSP"}, "patient identifier"),
        ({"requestType": "PATIENT", "patientID": "P7", "mostRecentResults": "0"}, "positive"),
        ({"requestType": "PATIENT", "patientID": "P7", "lowerDateTime": "yesterday"}, "date-time"),
        ({"requestType": "PATIENT", "patientID": "P7", "studyUID": "1.2"}, "cannot be used"),
        ({"requestType": "STUDY", "studyUID": "1.2", "keyImagesOnly": "yes"}, "true or false"),
        ({"requestType": "STUDY", "studyUID": "1.2", "viewerType": "WEASIS"}, "viewerType"),
        ({"requestType": "STUDY", "studyUID": "1.2", "colour": "red"}, "unknown parameter"),
    ],
)
def test_bad_requests_are_400_pages(server, params, says) -> None:
    response = _get(server, **params)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert says in response.text


def test_markup_is_never_reflected(server) -> None:
    attack = "<script>alert(1)</script>"
    for params in (
        {"requestType": attack},
        {"requestType": "STUDY", "studyUID": attack},
        {"requestType": "PATIENT", "patientID": attack},
        {"requestType": "STUDY", "accessionNumber": attack[:16]},
        {"requestType": "STUDY", "studyUID": "1.2", attack: "x"},
    ):
        response = _get(server, **params)
        assert response.status_code in (400, 404)
        assert "<script>" not in response.text
    keyless = httpx.get(
        server.url + IID, params={"requestType": "STUDY", "studyUID": attack}, headers=HTML
    )
    assert keyless.status_code == 401
    assert "<script>" not in keyless.text
    assert "&lt;script&gt;" in keyless.text  # kept for the form, escaped


def test_no_match_is_a_404_page(server) -> None:
    response = _get(server, requestType="STUDY", studyUID="1.2.3.4.5.6.7")
    assert response.status_code == 404
    assert "No matching study" in response.text


def test_key_in_url_becomes_a_session_cookie(server) -> None:
    entry = {"requestType": "STUDY", "studyUID": server.old.StudyInstanceUID, "apikey": KEY}
    with httpx.Client(base_url=server.url) as browser:
        first = browser.get(IID, params=entry)
        assert first.status_code == 303
        assert "apikey" not in first.headers["location"]
        cookie = first.headers["set-cookie"]
        assert cookie.startswith(SESSION_COOKIE + "=")
        assert KEY not in cookie
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie
        assert "Path=/" in cookie
        second = browser.get(first.headers["location"])
        assert second.status_code == 303
        assert second.headers["location"].startswith("/viewer/viewer?StudyInstanceUIDs=")
        # the viewer's own requests: no key, only the cookie
        assert browser.get("/dicomweb/studies").status_code == 200
        assert browser.get("/viewer/viewer").status_code == 200
    assert httpx.get(server.dicomweb + "/studies").status_code == 401
    forged = {SESSION_COOKIE: "9999999999.forged"}
    assert httpx.get(server.dicomweb + "/studies", cookies=forged).status_code == 401


def test_authorization_header_at_an_entry_sets_the_cookie(server) -> None:
    response = httpx.get(
        server.url + IID,
        params={"requestType": "STUDY", "studyUID": server.old.StudyInstanceUID},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert response.status_code == 303
    assert response.headers["set-cookie"].startswith(SESSION_COOKIE + "=")
    # a keyed DICOMweb request is not an entry: no cookie there
    plain = httpx.get(server.dicomweb + "/studies", headers={"apikey": KEY})
    assert "set-cookie" not in plain.headers


def test_without_key_the_entries_ask_for_credentials(server) -> None:
    for path in (IID + "?requestType=STUDY&studyUID=1.2", "/viewer/viewer"):
        response = httpx.get(server.url + path, headers=HTML)
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("text/html")
        assert "name='apikey'" in response.text
    wrong = httpx.get(
        server.url + IID, params={"requestType": "STUDY", "apikey": "nope"}, headers=HTML
    )
    assert wrong.status_code == 401
    assert "is wrong" in wrong.text
    script = httpx.get(server.url + "/viewer/viewer")  # a script's request: the JSON error
    assert script.status_code == 401
    assert "API key is required" in script.json()["error"]
    assert httpx.get(server.dicomweb + "/studies?apikey=" + KEY).status_code == 401


def test_frame_ancestors(live_server_factory, viewer_root) -> None:
    default = live_server_factory(viewer={"dir": viewer_root})
    response = httpx.get(default.url + IID, params={"requestType": "STUDY", "studyUID": "1.2"})
    assert response.headers["content-security-policy"] == "frame-ancestors 'self'"
    assert httpx.get(default.url + "/viewer/").headers["content-security-policy"] == (
        "frame-ancestors 'self'"
    )
    allowed = live_server_factory(
        viewer={"dir": viewer_root, "frame_ancestors": ["'self'", "https://ehr.example.org"]}
    )
    response = httpx.get(allowed.url + "/viewer/viewer")
    assert response.headers["content-security-policy"] == (
        "frame-ancestors 'self' https://ehr.example.org"
    )


def test_a_file_with_a_gzip_copy_is_sent_compressed_to_who_accepts_gzip(
    live_server_factory, viewer_root
) -> None:
    script = "const chunk = 1;\n" * 200
    (viewer_root / "9.9.9" / "12.bundle.ab.js").write_text(script)
    (viewer_root / "9.9.9" / "12.bundle.ab.js.gz").write_bytes(gzip.compress(script.encode()))
    server = live_server_factory(viewer={"dir": viewer_root})
    url = server.url + "/viewer/12.bundle.ab.js"
    for accept, sent in (
        ("gzip, deflate, br, zstd", "gzip"),  # Chromium's
        ("br;q=1.0, *;q=0.5", "gzip"),
        ("identity", None),
        ("gzip;q=0, *", None),
    ):
        with httpx.stream("GET", url, headers={"Accept-Encoding": accept}) as response:
            wire = b"".join(response.iter_raw())  # the bytes as sent, not decoded by httpx
        assert response.headers.get("content-encoding") == sent, accept
        assert "Accept-Encoding" in response.headers["vary"]
        assert response.headers["content-type"].startswith("text/javascript")
        assert "immutable" in response.headers["cache-control"]
        assert (gzip.decompress(wire) if sent else wire).decode() == script, accept
    plain = httpx.get(server.url + "/viewer/index.html", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in plain.headers  # no copy: sent as it is


def test_not_installed_viewer_says_how(live_server_factory, tmp_path) -> None:
    server = live_server_factory(viewer={"dir": tmp_path / "nothing-here"})
    for path in (
        "/viewer",
        "/viewer/viewer?StudyInstanceUIDs=1.2",
        IID + "?requestType=STUDY&studyUID=1.2",
    ):
        response = httpx.get(server.url + path)
        assert response.status_code == 503
        assert "openvna viewer install" in response.text
