"""Every DICOMweb error has one body shape, a 4xx status, and leaves the archive as it was."""

from __future__ import annotations

import httpx
import pytest

from openvna.archive import Origin
from tests.factories import make_instance
from tests.spool import spool_left

pytestmark = pytest.mark.integration

DICOM = 'multipart/related; type="application/dicom"; boundary=b'
BAD_REQUESTS = [
    ("GET", "/studies?PatientNme=X", {}, b"", 400),
    ("GET", "/studies?limit=ten", {}, b"", 400),
    ("GET", "/studies", {"Accept": "text/csv"}, b"", 406),
    ("GET", "/studies/..%2F..%2Fetc%2Fpasswd", {}, b"", 404),
    ("GET", "/studies/1.2.3..4/metadata", {}, b"", 400),
    ("GET", "/studies/1.2.3", {}, b"", 404),
    ("GET", "/studies/1.2.3/metadata", {}, b"", 404),
    ("GET", "/studies/{study}/series/1.2.3", {}, b"", 404),
    ("GET", "/studies/{study}/series/{series}/instances/{sop}/frames/0", {}, b"", 400),
    ("GET", "/studies/{study}/series/{series}/instances/{sop}/frames/x", {}, b"", 400),
    ("GET", "/studies/{study}/series/{series}/instances/{sop}/frames/99", {}, b"", 400),
    ("GET", "/studies/{study}", {"Accept": "text/html"}, b"", 406),
    ("DELETE", "/studies/9.9.9", {}, b"", 404),
    ("POST", "/studies", {"Content-Type": "application/json"}, b"{}", 415),
    ("POST", "/studies", {"Content-Type": "multipart/related; boundary=b"}, b"--b--", 415),
    ("POST", "/studies", {"Content-Type": DICOM}, b"no multipart here", 400),
    ("POST", "/studies/1.2.x", {"Content-Type": DICOM}, b"--b--\r\n", 400),
    ("POST", "/studies", {"Content-Type": DICOM, "Accept": "image/png"}, b"--b--\r\n", 406),
]


@pytest.fixture
def stored(live_server):
    ds = make_instance()
    assert live_server.archive.store_dataset(ds, Origin.local()).ok
    return live_server, ds


def _state(server) -> tuple[int, list[str]]:
    blobs = sorted(str(p) for p in (server.data_dir / "blobs").rglob("*") if p.is_file())
    spool = [str(p) for p in spool_left(server.data_dir / "spool")]
    return server.archive.index.count_instances(), blobs + spool


@pytest.mark.parametrize(("method", "path", "headers", "body", "status"), BAD_REQUESTS)
def test_bad_requests_get_their_status_and_one_shape(stored, method, path, headers, body, status):
    server, ds = stored
    before = _state(server)
    url = server.dicomweb + path.format(
        study=ds.StudyInstanceUID, series=ds.SeriesInstanceUID, sop=ds.SOPInstanceUID
    )
    response = httpx.request(method, url, headers=headers, content=body)
    assert response.status_code == status, response.text
    error = response.json()
    assert error["status"] == status
    assert isinstance(error["error"], str)
    assert len(error["error"]) > 10
    assert response.headers["warning"].startswith("299 openvna")
    assert _state(server) == before
