"""Re-storing a SOP Instance UID follows dicomweb.duplicates (README, 'Re-storing an instance')."""

from __future__ import annotations

from io import BytesIO

import httpx
import pytest
from pydicom import dcmread

from tests.factories import make_instance

pytestmark = pytest.mark.integration

BOUNDARY = "policy"


def _stow(server, ds) -> httpx.Response:
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    body = (
        f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode()
        + buffer.getvalue()
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    content_type = f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'
    return httpx.post(
        server.dicomweb + "/studies", content=body, headers={"Content-Type": content_type}
    )


def _stored_description(server, ds) -> str:
    uids = (ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
    [instance] = server.archive.retrieve(*uids)
    with instance.file().open() as handle:
        return str(dcmread(handle).SeriesDescription)


def _blob_count(server) -> int:
    return sum(1 for p in (server.data_dir / "blobs").rglob("*") if p.is_file())


@pytest.mark.parametrize(
    ("policy", "status", "winner"),
    [("replace", 200, "second"), ("keep", 200, "first"), ("reject", 409, "first")],
)
def test_restoring_follows_the_policy(live_server_factory, policy, status, winner) -> None:
    server = live_server_factory(dicomweb={"duplicates": policy})
    ds = make_instance(SeriesDescription="first")
    assert _stow(server, ds).status_code == 200
    ds.SeriesDescription = "second"
    again = _stow(server, ds)
    assert again.status_code == status, again.text
    assert _stored_description(server, ds) == winner
    assert _blob_count(server) == 1, "no orphan blob, no lost blob"
    assert server.archive.index.count_instances() == 1
    body = again.json()
    if policy == "reject":
        [failed] = body["00081198"]["Value"]
        assert failed["00081197"]["Value"] == [0x0111]
    else:
        [referenced] = body["00081199"]["Value"]
        assert referenced["00081155"]["Value"] == [ds.SOPInstanceUID]
    if policy == "keep":
        assert "already stored" in again.headers["warning"]
