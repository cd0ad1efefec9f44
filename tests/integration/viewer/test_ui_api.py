"""The explorer's endpoints over HTTP: the page and its files, the tags tree (sequences
included), the ZIP with a DICOMDIR, anonymization into a new study, and their errors."""

from __future__ import annotations

import io
import zipfile

import httpx
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset

from openvna.archive.outcome import Origin
from openvna.web.ui.api import tag_tree
from tests.factories import make_instance

pytestmark = pytest.mark.integration


@pytest.fixture
def stored(live_server):
    ds = make_instance(patient_name="SECRET^NAME", patient_id="SECRET-ID")
    code = Dataset()
    code.CodeValue = "T-D4000"
    code.CodingSchemeDesignator = "SRT"
    ds.AnatomicRegionSequence = [code]
    assert live_server.archive.store_dataset(ds, Origin.local("test")).ok
    return live_server, ds


def test_page_and_files(live_server) -> None:
    page = httpx.get(live_server.url + "/ui")
    assert page.status_code == 200
    assert "openvna explorer" in page.text
    assert page.headers["content-security-policy"] == "frame-ancestors 'self'"
    assert httpx.get(live_server.url + "/ui/").status_code == 200
    script = httpx.get(live_server.url + "/ui/app.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert httpx.get(live_server.url + "/ui/..%2Fapi.py").status_code == 404
    assert httpx.get(live_server.url + "/ui/nothing.js").status_code == 404


def test_tags_tree(stored) -> None:
    server, ds = stored
    url = (
        f"{server.url}/ui/api/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
        f"/instances/{ds.SOPInstanceUID}/tags"
    )
    rows = {row["keyword"]: row for row in httpx.get(url).json()}
    assert rows["PatientName"] == {
        "tag": "(0010,0010)",
        "keyword": "PatientName",
        "vr": "PN",
        "value": "SECRET^NAME",
    }
    region = rows["AnatomicRegionSequence"]
    assert region["vr"] == "SQ"
    assert [r["value"] for r in region["items"][0]] == ["T-D4000", "SRT"]
    assert rows["PixelData"]["value"] == "(bulk data)"


def test_tag_tree_of_multiple_values() -> None:
    rows = tag_tree({"00080008": {"vr": "CS", "Value": ["ORIGINAL", "PRIMARY"]}, "00100020": {}})
    assert rows[0]["value"] == "ORIGINAL\\PRIMARY"
    assert rows[1] == {"tag": "(0010,0020)", "keyword": "PatientID", "vr": "UN", "value": ""}


def test_zip_with_dicomdir(stored) -> None:
    server, ds = stored
    response = httpx.get(f"{server.url}/ui/api/studies/{ds.StudyInstanceUID}/archive")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert f'filename="{ds.StudyInstanceUID}.zip"' in response.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        dicomdir = dcmread(io.BytesIO(archive.read("DICOMDIR")))
        image = dicomdir.DirectoryRecordSequence[-1]
        assert image.ReferencedSOPInstanceUIDInFile == ds.SOPInstanceUID
        path = "/".join(image.ReferencedFileID)
        assert dcmread(io.BytesIO(archive.read(path))).PatientName == "SECRET^NAME"


def test_anonymize_into_a_new_study(stored) -> None:
    server, ds = stored
    response = httpx.post(f"{server.url}/ui/api/studies/{ds.StudyInstanceUID}/anonymize")
    assert response.status_code == 201
    made = response.json()
    assert made["instances"] == 1
    assert made["from"] == ds.StudyInstanceUID
    assert made["study"] != ds.StudyInstanceUID
    copy = httpx.get(f"{server.dicomweb}/studies/{made['study']}/metadata").json()[0]
    assert copy["00100010"]["Value"][0]["Alphabetic"] != "SECRET^NAME"
    assert copy["00100020"]["Value"][0] != "SECRET-ID"
    assert copy["00080018"]["Value"][0] != ds.SOPInstanceUID
    original = httpx.get(f"{server.dicomweb}/studies/{ds.StudyInstanceUID}/metadata").json()[0]
    assert original["00100010"]["Value"][0]["Alphabetic"] == "SECRET^NAME"


def test_errors(live_server) -> None:
    base = live_server.url + "/ui/api/studies"
    assert httpx.get(base + "/1.2.3.4/archive").status_code == 404
    assert httpx.post(base + "/1.2.3.4/anonymize").status_code == 404
    bad = httpx.get(base + "/not-a-uid/archive")
    assert bad.status_code == 400
    assert "not a valid UID" in bad.json()["error"]
    assert httpx.get(base + "/1.2/series/1.3/instances/1.4/tags").status_code == 404


def test_keys_protect_the_explorer(live_server_factory) -> None:
    server = live_server_factory(auth={"api_keys": ["ui-key-123"]})
    assert httpx.get(server.url + "/ui", headers={"Accept": "text/html"}).status_code == 401
    api = httpx.get(server.url + "/ui/api/studies/1.2.3/archive")
    assert api.status_code == 401
    assert "API key is required" in api.json()["error"]
    entry = httpx.get(server.url + "/ui", params={"apikey": "ui-key-123"})
    assert entry.status_code == 303
    assert entry.headers["location"] == "/ui"
    cookies = {"openvna_session": entry.cookies["openvna_session"]}
    assert (
        httpx.get(server.url + "/ui/api/studies/1.2.3/archive", cookies=cookies).status_code == 404
    )
