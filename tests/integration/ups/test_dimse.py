"""UPS over DIMSE (PS3.4 Annex CC) with pynetdicom as the SCU, on the same workitem store as
UPS-RS: N-CREATE, N-GET, N-SET, N-ACTION (state, cancel request, subscribe) and C-FIND, the
statuses of each refusal; on SQLite and PostgreSQL."""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from pydicom import Dataset
from pydicom.dataset import Dataset as PydicomDataset
from pynetdicom import AE, evt
from pynetdicom.association import Association

from openvna.dicom.json import json_to_dataset
from tests.integration.dimse.conftest import AE_TITLE, DimseNode, free_port
from tests.integration.ups.workitems import JSON, completion, workitem

PUSH = "1.2.840.10008.5.1.4.34.6.1"
WATCH = "1.2.840.10008.5.1.4.34.6.2"
PULL = "1.2.840.10008.5.1.4.34.6.3"
EVENT = "1.2.840.10008.5.1.4.34.6.4"
GLOBAL = "1.2.840.10008.5.1.4.34.5"
UID = "1.2.826.0.1.3680043.10.1234.50"
TX = "1.2.826.0.1.3680043.10.1234.51"


@pytest.fixture
def assoc(dimse: DimseNode) -> Iterator[Association]:
    ae = AE("PERFORMER")
    for uid in (PUSH, WATCH, PULL):
        ae.add_requested_context(uid)
    association = ae.associate(dimse.host, dimse.port, ae_title=AE_TITLE)
    assert association.is_established
    yield association
    association.release()


def _created(
    assoc: Association, uid: str | None = UID, **extra: object
) -> tuple[int, Dataset | None]:
    item = workitem(**extra)  # type: ignore[arg-type]
    item.pop("00081195")
    status, reply = assoc.send_n_create(json_to_dataset(item), PUSH, uid)
    return int(status.Status), reply


def _state(assoc: Association, uid: str, state: str, transaction: str | None) -> Dataset:
    info = PydicomDataset()
    info.ProcedureStepState = state
    if transaction:
        info.TransactionUID = transaction
    status, _ = assoc.send_n_action(info, 1, PULL, uid)
    return status


def test_the_life_of_a_workitem_over_dimse(dimse: DimseNode, assoc: Association) -> None:
    assert _created(assoc)[0] == 0x0000
    status, _ = assoc.send_n_create(json_to_dataset(workitem()), PUSH, UID)
    assert status.Status == 0x0111  # duplicate SOP instance
    status, reply = assoc.send_n_get([0x00741000, 0x00741204, 0x00081195], PUSH, UID)
    assert status.Status == 0x0000
    assert reply.ProcedureStepState == "SCHEDULED"
    assert reply.ProcedureStepLabel == "CT chest reading"
    assert "TransactionUID" not in reply

    assert _state(assoc, UID, "COMPLETED", TX).Status == 0xC310
    assert _state(assoc, UID, "IN PROGRESS", TX).Status == 0x0000
    assert _state(assoc, UID, "IN PROGRESS", TX).Status == 0xC302
    assert _state(assoc, UID, "CANCELED", "1.2.3").Status == 0xC301
    assert _state(assoc, UID, "COMPLETED", TX).Status == 0xC304  # Final State attributes missing

    changes = json_to_dataset(completion())
    changes.TransactionUID = TX
    status, _ = assoc.send_n_set(changes, PULL, UID)
    assert status.Status == 0x0000
    assert _state(assoc, UID, "COMPLETED", TX).Status == 0x0000
    assert _state(assoc, UID, "COMPLETED", TX).Status == 0xB306
    # the same workitem through UPS-RS
    seen = httpx.get(f"{dimse.web.dicomweb}/workitems/{UID}", headers=JSON).json()[0]
    assert seen["00741000"]["Value"] == ["COMPLETED"]


def test_created_without_a_uid_search_subscribe_and_cancel(
    dimse: DimseNode, assoc: Association
) -> None:
    assert _created(assoc, None, label="no uid given")[0] == 0x0000
    search = Dataset()
    search.ProcedureStepLabel = "no uid*"
    search.SOPInstanceUID = ""
    search.ProcedureStepState = ""
    found = [(s.Status, i) for s, i in assoc.send_c_find(search, WATCH)]
    assert [s for s, _ in found] == [0xFF00, 0x0000]
    uid = found[0][1].SOPInstanceUID
    assert found[0][1].ProcedureStepState == "SCHEDULED"

    subscribe = Dataset()
    subscribe.ReceivingAE = "WATCHER"
    subscribe.DeletionLock = "FALSE"
    status, _ = assoc.send_n_action(subscribe, 3, WATCH, GLOBAL)
    assert status.Status == 0x0000
    listed = httpx.post(f"{dimse.web.dicomweb}/workitems/{GLOBAL}/subscribers/WATCHER/suspend")
    assert listed.status_code == 200  # the subscription made over DIMSE is the one of UPS-RS

    reason = Dataset()
    reason.ReasonForCancellation = "cancelled by the RIS"
    status, _ = assoc.send_n_action(reason, 2, PUSH, uid)
    assert status.Status == 0x0000
    seen = httpx.get(f"{dimse.web.dicomweb}/workitems/{uid}", headers=JSON).json()[0]
    assert seen["00741000"]["Value"] == ["CANCELED"]
    status, _ = assoc.send_n_action(reason, 2, PUSH, uid)
    assert status.Status == 0xB304
    assert assoc.send_n_action(reason, 9, PUSH, uid)[0].Status == 0x0123


def test_refused_creation(assoc: Association) -> None:
    # the Error Comment (LO) holds the first 64 characters of the reason
    cases = (("00741000", "COMPLETED", "Procedure Step State"), ("00741200", "SOON", "Priori"))
    for attribute, value, named in cases:
        item = workitem(**{attribute: {"vr": "CS", "Value": [value]}})
        item.pop("00081195")
        status, _ = assoc.send_n_create(json_to_dataset(item), PUSH, UID)
        assert status.Status == 0x0106
        assert named in status.ErrorComment
    assert assoc.send_n_get([0x00741000], PUSH, UID)[0].Status == 0xC307  # nothing was made


def test_event_reports_reach_a_dicom_subscriber(dimse_factory: Callable[..., DimseNode]) -> None:
    received: queue.Queue[tuple[int, Dataset, str]] = queue.Queue()

    def on_report(event: Any) -> int:
        uid = str(event.request.AffectedSOPInstanceUID)
        received.put((int(event.event_type), event.event_information, uid))
        return 0x0000

    listener = AE("WATCHER")
    listener.add_supported_context(EVENT)
    port = free_port()
    server = listener.start_server(
        ("127.0.0.1", port), block=False, evt_handlers=[(evt.EVT_N_EVENT_REPORT, on_report)]
    )
    try:
        node = dimse_factory(
            dimse={"remotes": [{"aet": "WATCHER", "host": "127.0.0.1", "port": port}]}
        )
        scu = AE("WATCHER")
        for uid in (PUSH, WATCH, PULL):
            scu.add_requested_context(uid)
        assoc = scu.associate(node.host, node.port, ae_title=AE_TITLE)
        try:
            subscribe = Dataset()
            subscribe.ReceivingAE = "WATCHER"
            subscribe.DeletionLock = "FALSE"
            assert assoc.send_n_action(subscribe, 3, WATCH, GLOBAL)[0].Status == 0x0000
            assert _created(assoc)[0] == 0x0000
            assert _state(assoc, UID, "IN PROGRESS", TX).Status == 0x0000
        finally:
            assoc.release()
        reports = [received.get(timeout=10) for _ in range(2)]
        assert [(kind, info.ProcedureStepState, uid) for kind, info, uid in reports] == [
            (1, "SCHEDULED", UID),
            (1, "IN PROGRESS", UID),
        ]
    finally:
        server.shutdown()
