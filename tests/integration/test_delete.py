"""DELETE of a study, series or instance removes rows and blobs, and nothing else."""

import httpx
import pytest

from openvna.archive import Origin
from tests.factories import make_instance

pytestmark = pytest.mark.integration


def _blobs(server) -> list:
    return sorted(p for p in (server.data_dir / "blobs").rglob("*") if p.is_file())


def test_delete_instance_series_study(live_server) -> None:
    archive = live_server.archive
    a = make_instance()
    b = make_instance(study_uid=a.StudyInstanceUID, series_uid=a.SeriesInstanceUID)
    c = make_instance(study_uid=a.StudyInstanceUID, SeriesNumber=2)
    other = make_instance()
    for ds in (a, b, c, other):
        assert archive.store_dataset(ds, Origin.local()).ok
    assert len(_blobs(live_server)) == 4
    study = f"{live_server.dicomweb}/studies/{a.StudyInstanceUID}"

    gone = httpx.delete(f"{study}/series/{a.SeriesInstanceUID}/instances/{a.SOPInstanceUID}")
    assert gone.status_code == 204
    assert len(_blobs(live_server)) == 3
    [row] = httpx.get(
        live_server.dicomweb + "/studies", params={"StudyInstanceUID": a.StudyInstanceUID}
    ).json()
    assert row["00201208"]["Value"] == [2], "counts follow deletions"

    assert httpx.delete(f"{study}/series/{c.SeriesInstanceUID}").status_code == 204
    assert httpx.delete(study).status_code == 204
    assert len(_blobs(live_server)) == 1
    remaining = httpx.get(live_server.dicomweb + "/studies").json()
    assert [r["0020000D"]["Value"][0] for r in remaining] == [other.StudyInstanceUID]

    again = httpx.delete(study)
    assert again.status_code == 404
    assert a.StudyInstanceUID in again.json()["error"]


def test_delete_refuses_bad_uids(live_server) -> None:
    response = httpx.delete(live_server.dicomweb + "/studies/1.2.3..4")
    assert response.status_code == 400
    assert "StudyInstanceUID" in response.json()["error"]
