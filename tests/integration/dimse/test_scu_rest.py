"""The admin REST SCU (``/api/remotes/{aet}/echo|find|move|get|retrieve|store`` and
``/api/jobs``) against real peers: DCMTK's storescp receives the sends and answers C-ECHO;
Orthanc is the remote PACS for find, move, get and retrieve. Each bad input has its status."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydicom import Dataset
from pynetdicom import AE, StoragePresentationContexts, evt
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelGet

from openvna.archive import Origin
from tests.factories import make_instance
from tests.integration.dimse.conftest import AE_TITLE, DimseNode, free_port
from tests.integration.dimse.peers import dataset_bytes
from tests.integration.dimse.scu_peers import finished_job, storescp
from tests.orthanc import orthanc_process
from tests.tools import needs_dcmtk

pytestmark = pytest.mark.integration

KEY = {"apikey": "secret"}


def _study(node: DimseNode, count: int, patient_id: str = "P1") -> list[Dataset]:
    first = make_instance(patient_id=patient_id)
    instances = [first] + [
        make_instance(
            study_uid=first.StudyInstanceUID,
            series_uid=first.SeriesInstanceUID,
            patient_id=patient_id,
        )
        for _ in range(count - 1)
    ]
    for ds in instances:
        assert node.archive.store_dataset(ds, Origin.local()).ok
    return instances


def _stored(node: DimseNode, ds: Dataset) -> bytes:
    """The dataset bytes of the stored instance, as the archive holds them."""
    [instance] = node.archive.retrieve(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
    return dataset_bytes(instance.file().read())


def _post(node: DimseNode, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
    return httpx.post(
        f"{node.web.url}/api/remotes/{path}", json=body, headers=KEY, timeout=60, **kwargs
    )


@needs_dcmtk
def test_echo_answers_refuses_and_fails_with_reasons(dimse_factory, tmp_path: Path) -> None:
    with (
        storescp(tmp_path / "a") as peer,
        storescp(tmp_path / "b", "REFUSER", "--refuse") as refuser,
    ):
        down = {"aet": "DOWN", "host": "127.0.0.1", "port": free_port()}
        node: DimseNode = dimse_factory(
            auth={"api_keys": ["secret"]},
            dimse={"remotes": [peer.node(), refuser.node(), down]},
        )
        assert httpx.post(f"{node.web.url}/api/remotes/STORESCP/echo").status_code == 401
        ok = _post(node, "STORESCP/echo")
        assert ok.status_code == 200, ok.text
        assert ok.json() == {"aet": "STORESCP", "status": "0000"}
        # storescp --refuse closes at once after its A-ASSOCIATE-RJ, which pynetdicom saw as an
        # abort about 7 times in 100: asked 30 times, each must be reported as the rejection.
        for _ in range(30):
            refused = _post(node, "REFUSER/echo")
            assert refused.status_code == 502
            assert "rejected the association" in refused.json()["error"]
        unreachable = _post(node, "DOWN/echo")
        assert unreachable.status_code == 502
        assert "did not answer" in unreachable.json()["error"]
        assert _post(node, "NOBODY/echo").status_code == 404


@needs_dcmtk
def test_store_sends_a_study_and_a_series_to_storescp(dimse_factory, tmp_path: Path) -> None:
    """ "Send to remote modality": a job that storescp's files prove, byte for byte."""
    with storescp(tmp_path / "received") as peer:
        node: DimseNode = dimse_factory(
            auth={"api_keys": ["secret"]}, dimse={"remotes": [peer.node()]}
        )
        instances = _study(node, 3)
        study = instances[0].StudyInstanceUID
        accepted = _post(node, "STORESCP/store", {"resources": [{"StudyInstanceUID": study}]})
        job = finished_job(node.web.url, accepted, KEY)
        assert job["state"] == "Success", job
        assert job["type"] == "store"
        assert job["progress"] == {
            "total": 3,
            "completed": 3,
            "failed": 0,
            "warning": 0,
            "remaining": 0,
        }
        received = {path.name.split(".", 1)[1]: path for path in peer.received.iterdir()}
        assert sorted(received) == sorted(ds.SOPInstanceUID for ds in instances)
        for ds in instances:
            assert dataset_bytes(received[ds.SOPInstanceUID]) == _stored(node, ds)
        listed = httpx.get(f"{node.web.url}/api/jobs", headers=KEY).json()
        assert [item["id"] for item in listed] == [job["id"]]
        one = {"StudyInstanceUID": study, "SeriesInstanceUID": instances[0].SeriesInstanceUID}
        again = finished_job(node.web.url, _post(node, "STORESCP/store", {"resources": [one]}), KEY)
        assert again["progress"]["completed"] == 3


def test_a_send_cancelled_midway_stops_before_the_next_instance(dimse_factory) -> None:
    """POST /api/jobs/{id}/cancel while a pynetdicom Storage SCP holds the first instance: the
    job stops there, a Failure that says so, with what was sent and what remains."""
    arrived, release = threading.Event(), threading.Event()
    received: list[str] = []

    def on_store(event: Any) -> int:
        received.append(str(event.request.AffectedSOPInstanceUID))
        arrived.set()
        release.wait(60)
        return 0x0000

    peer = AE("SLOW")
    peer.supported_contexts = StoragePresentationContexts
    port = free_port()
    server = peer.start_server(
        ("127.0.0.1", port), block=False, evt_handlers=[(evt.EVT_C_STORE, on_store)]
    )
    try:
        node: DimseNode = dimse_factory(
            auth={"api_keys": ["secret"]},
            dimse={"remotes": [{"aet": "SLOW", "host": "127.0.0.1", "port": port}]},
        )
        study = {"StudyInstanceUID": _study(node, 3)[0].StudyInstanceUID}
        accepted = _post(node, "SLOW/store", {"resources": [study]})
        assert accepted.status_code == 202, accepted.text
        assert arrived.wait(60)
        cancel = httpx.post(f"{node.web.url}{accepted.headers['Location']}/cancel", headers=KEY)
        assert cancel.status_code == 202, cancel.text
        assert cancel.json()["cancel_requested"] is True
        release.set()
        job = finished_job(node.web.url, accepted, KEY)
        assert job["state"] == "Failure"
        assert job["error"] == "cancelled after 1 sub-operation(s)"
        assert job["progress"]["completed"] == 1
        assert job["progress"]["remaining"] == 2
        assert len(received) == 1
        again = httpx.post(f"{node.web.url}{accepted.headers['Location']}/cancel", headers=KEY)
        assert again.status_code == 200  # it has ended: nothing to stop
        assert (
            httpx.post(f"{node.web.url}/api/jobs/nosuchjob/cancel", headers=KEY).status_code == 404
        )
    finally:
        release.set()
        server.shutdown()


def test_a_get_cancelled_midway_sends_a_c_cancel(dimse_factory) -> None:
    """A job's C-GET from a pynetdicom Q/R SCP that sends one instance, then waits for the
    C-CANCEL before the next: the SCP ends with FE00 (PS3.4 C.4.3.3.1), the job a Failure that
    says it was cancelled, with the first instance stored here."""
    wanted = [make_instance(), make_instance()]
    cancel_asked, waiting = threading.Event(), threading.Event()
    cancelled_seen: list[bool] = []

    def on_get(event: Any) -> Any:
        yield len(wanted)
        waiting.set()
        cancel_asked.wait(60)
        yield 0xFF00, wanted[0]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if event.is_cancelled:  # read once: pynetdicom takes the C-CANCEL off its queue
                cancelled_seen.append(True)
                break
            time.sleep(0.01)
        yield 0xFE00, None

    peer = AE("QRSCP")
    peer.add_supported_context(StudyRootQueryRetrieveInformationModelGet)
    for context in StoragePresentationContexts:
        peer.add_supported_context(context.abstract_syntax, scu_role=False, scp_role=True)
    port = free_port()
    server = peer.start_server(
        ("127.0.0.1", port), block=False, evt_handlers=[(evt.EVT_C_GET, on_get)]
    )
    try:
        node: DimseNode = dimse_factory(
            auth={"api_keys": ["secret"]},
            dimse={"remotes": [{"aet": "QRSCP", "host": "127.0.0.1", "port": port}]},
        )
        keys = {"StudyInstanceUID": wanted[0].StudyInstanceUID}
        accepted = _post(node, "QRSCP/get", {"keys": keys})
        assert waiting.wait(60)
        cancel = httpx.post(f"{node.web.url}{accepted.headers['Location']}/cancel", headers=KEY)
        assert cancel.status_code == 202, cancel.text
        cancel_asked.set()
        job = finished_job(node.web.url, accepted, KEY)
        assert cancelled_seen == [True]
        assert job["state"] == "Failure"
        assert job["error"] == "cancelled after 1 sub-operation(s)"
        assert job["failed_uids"] == []
        assert node.archive.index.count_instances() == 1
    finally:
        cancel_asked.set()
        server.shutdown()


def test_store_refuses_bad_bodies_unknown_uids_and_nodes_without_the_right(
    dimse_factory,
) -> None:
    closed = {"host": "127.0.0.1", "port": free_port()}
    node: DimseNode = dimse_factory(
        auth={"api_keys": ["secret"]},
        dimse={
            "remotes": [
                {"aet": "PEER", **closed},
                {"aet": "NORETRIEVE", **closed, "retrieve": False},
            ]
        },
    )
    [ds] = _study(node, 1)
    study = {"StudyInstanceUID": ds.StudyInstanceUID}
    cases: list[tuple[str, Any, int]] = [
        ("PEER/store", {}, 400),
        ("PEER/store", {"resources": []}, 400),
        ("PEER/store", {"resources": ["1.2.3"]}, 400),
        ("PEER/store", {"resources": [{"StudyInstanceUID": "1.2.x"}]}, 400),
        ("PEER/store", {"resources": [{**study, "SOPInstanceUID": ds.SOPInstanceUID}]}, 400),
        ("PEER/store", {"resources": [{"StudyInstanceUID": "1.2.3.4"}]}, 404),
        ("NOBODY/store", {"resources": [study]}, 404),
        ("NORETRIEVE/store", {"resources": [study]}, 403),
    ]
    for path, body, status in cases:
        response = _post(node, path, body)
        assert response.status_code == status, (path, body, response.text)
        assert response.json()["error"]
    not_json = httpx.post(f"{node.web.url}/api/remotes/PEER/store", content=b"{", headers=KEY)
    assert not_json.status_code == 400
    unreachable = finished_job(node.web.url, _post(node, "PEER/store", {"resources": [study]}), KEY)
    assert unreachable["state"] == "Failure"
    assert "did not answer" in unreachable["error"]
    assert httpx.get(f"{node.web.url}/api/jobs/nosuchjob", headers=KEY).status_code == 404


def test_find_move_get_retrieve_refuse_bad_input(dimse_factory) -> None:
    closed = {"host": "127.0.0.1", "port": free_port()}
    node: DimseNode = dimse_factory(
        dimse={"remotes": [{"aet": "PACS", **closed}, {"aet": "NOSTORE", **closed, "store": False}]}
    )
    bad_bodies: list[Any] = [
        {"level": "FOO"},
        {"level": 3},
        {"level": "PATIENT"},  # the study root model has no PATIENT level (PS3.4 C.6.2)
        {"model": "worklist"},
        {"keys": ["PatientID"]},
        {"keys": {"NotAKeyword": "x"}},
        {"keys": {"PatientID": 3}},
        {"keys": {"00100020": {"vr": "LO", "Value": "not a list"}}},
        {"keys": {"99999999": "x"}},
        [],
    ]
    for operation in ("find", "move", "get", "retrieve"):
        for body in bad_bodies:
            response = _post(node, f"PACS/{operation}", body)
            assert response.status_code == 400, (operation, body, response.text)
        assert _post(node, f"NOBODY/{operation}", {}).status_code == 404
    assert _post(node, "PACS/move", {"destination": "A" * 17}).status_code == 400
    for operation in ("get", "retrieve", "move"):  # each would have NOSTORE C-STORE here
        response = _post(node, f"NOSTORE/{operation}", {"keys": {"PatientID": "X"}})
        assert response.status_code == 403, (operation, response.text)
    elsewhere = _post(node, "NOSTORE/move", {"destination": "OTHER"})
    # A C-MOVE to a third node brings nothing here: accepted, then failed (nobody listens).
    assert finished_job(node.web.url, elsewhere, KEY)["state"] == "Failure"
    assert _post(node, "PACS/find", {}).status_code == 502  # nobody listens there


def test_find_retrieve_get_and_move_from_orthanc(dimse_factory, tmp_path: Path) -> None:
    """Orthanc as the remote PACS: openvna sends it a study through the REST store, forgets
    it, then finds it there and pulls it back three ways, byte for byte each time."""
    with orthanc_process(tmp_path / "orthanc") as orthanc:
        pacs = {"aet": "ORTHANC", "host": "127.0.0.1", "port": orthanc.dicom_port}
        node: DimseNode = dimse_factory(auth={"api_keys": ["secret"]}, dimse={"remotes": [pacs]})
        _tell_orthanc_about(orthanc.url, node)
        instances = _study(node, 3, patient_id="ORTH2")
        study = instances[0].StudyInstanceUID
        before = {ds.SOPInstanceUID: _stored(node, ds) for ds in instances}
        sent = _post(node, "ORTHANC/store", {"resources": [{"StudyInstanceUID": study}]})
        assert finished_job(node.web.url, sent, KEY)["state"] == "Success"

        found = _post(
            node,
            "ORTHANC/find",
            {"keys": {"PatientID": "ORTH2", "StudyDate": None, "StudyInstanceUID": None}},
        )
        assert found.status_code == 200, found.text
        [match] = found.json()
        assert match["0020000D"]["Value"] == [study]
        assert match["00080020"]["Value"] == ["20240102"]
        as_json = {
            "00100020": {"vr": "LO", "Value": ["ORTH2"]},
            "0020000D": {"vr": "UI", "Value": [study]},
            "0020000E": {"vr": "UI"},
        }
        series = _post(node, "ORTHANC/find", {"level": "SERIES", "keys": as_json})
        assert [m["0020000E"]["Value"] for m in series.json()] == [[instances[0].SeriesInstanceUID]]

        keys = {"StudyInstanceUID": study}
        for operation, body in (
            ("retrieve", {"keys": {"PatientID": "ORTH2"}}),
            ("get", {"keys": keys}),
            ("move", {"keys": keys}),
        ):
            assert node.archive.delete(study) == 3
            job = finished_job(node.web.url, _post(node, f"ORTHANC/{operation}", body), KEY)
            assert job["state"] == "Success", (operation, job)
            assert job["progress"]["completed"] == 3, (operation, job)
            after = {ds.SOPInstanceUID: _stored(node, ds) for ds in instances}
            assert after == before, operation

        nowhere = _post(node, "ORTHANC/move", {"keys": keys, "destination": "NOWHERE"})
        failed = finished_job(node.web.url, nowhere, KEY)
        assert failed["state"] == "Failure"
        assert failed["error"]


def _tell_orthanc_about(orthanc: str, node: DimseNode) -> None:
    """Orthanc's C-MOVE destination OPENVNA: this archive's SCP (REST, no restart)."""
    response = httpx.put(
        f"{orthanc}/modalities/openvna",
        json={"AET": AE_TITLE, "Host": node.host, "Port": node.port},
        timeout=30,
    )
    assert response.status_code == 200, response.text
