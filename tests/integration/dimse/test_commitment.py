"""Storage Commitment Push Model (PS3.4 Annex J) with pynetdicom as the requester: the report on
the same association, or on a new one to the requester's configured address when it has left;
instances not held listed as failures with their reason."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from pydicom import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import CTImageStorage, MRImageStorage
from pynetdicom import AE, evt
from pynetdicom.dimse_messages import N_EVENT_REPORT_RSP
from pynetdicom.sop_class import StorageCommitmentPushModel

from openvna.archive import Origin
from openvna.dicom.uid import generate_uid
from tests.factories import make_instance
from tests.integration.dimse.conftest import AE_TITLE, DimseNode, free_port

pytestmark = pytest.mark.integration
INSTANCE = "1.2.840.10008.1.20.1.1"


def _request(references: list[tuple[str, str]]) -> Dataset:
    ds = Dataset()
    ds.TransactionUID = generate_uid()
    items = []
    for sop_class, sop in references:
        item = Dataset()
        item.ReferencedSOPClassUID = sop_class
        item.ReferencedSOPInstanceUID = sop
        items.append(item)
    ds.ReferencedSOPSequence = Sequence(items)
    return ds


def _stored(node: DimseNode, count: int) -> list[tuple[str, str]]:
    references = []
    for _ in range(count):
        ds = make_instance()
        assert node.archive.store_dataset(ds, Origin.local()).ok
        references.append((CTImageStorage, ds.SOPInstanceUID))
    return references


class Reports:
    """N-EVENT-REPORTs received, by whoever receives them."""

    def __init__(self) -> None:
        self.received: list[tuple[int, Dataset]] = []
        self.arrived = threading.Event()
        self.answered = threading.Event()

    def handler(self, event: Any) -> tuple[int, None]:
        self.received.append((event.event_type, event.event_information))
        self.arrived.set()
        return 0x0000, None

    def sent(self, event: Any) -> None:
        """The N-EVENT-REPORT-RSP has left: only now may the requester release (releasing
        while pynetdicom still has the response to send is an invalid event, Evt9 in Sta7)."""
        if isinstance(event.message, N_EVENT_REPORT_RSP):
            self.answered.set()


def test_report_on_the_same_association(dimse: DimseNode) -> None:
    held = _stored(dimse, 2)
    missing = (CTImageStorage, generate_uid())
    conflicting = (MRImageStorage, held[0][1])  # held, but as a CT image
    request = _request([*held, missing, conflicting])
    reports = Reports()
    ae = AE("COMMITSCU")
    ae.add_requested_context(StorageCommitmentPushModel)
    assoc = ae.associate(
        dimse.host,
        dimse.port,
        ae_title=AE_TITLE,
        evt_handlers=[
            (evt.EVT_N_EVENT_REPORT, reports.handler),
            (evt.EVT_DIMSE_SENT, reports.sent),
        ],
    )
    assert assoc.is_established
    status, _ = assoc.send_n_action(request, 1, StorageCommitmentPushModel, INSTANCE)
    assert status.Status == 0x0000
    assert reports.answered.wait(30)
    assoc.release()
    [(event_type, report)] = reports.received
    assert event_type == 2  # some failed
    assert report.TransactionUID == request.TransactionUID
    assert {i.ReferencedSOPInstanceUID for i in report.ReferencedSOPSequence} == {
        sop for _, sop in held
    }
    failures = [
        (i.ReferencedSOPClassUID, i.ReferencedSOPInstanceUID, i.FailureReason)
        for i in report.FailedSOPSequence
    ]
    assert failures == [(*missing, 0x0112), (*conflicting, 0x0119)]


def test_report_on_a_new_association_when_the_requester_left(dimse_factory) -> None:
    port = free_port()
    node: DimseNode = dimse_factory(
        dimse={"remotes": [{"aet": "COMMITSCU", "host": "127.0.0.1", "port": port}]}
    )
    held = _stored(node, 3)
    reports = Reports()
    receiver = AE("COMMITSCU")
    receiver.add_supported_context(StorageCommitmentPushModel, scu_role=True, scp_role=True)
    server = receiver.start_server(
        ("127.0.0.1", port),
        block=False,
        evt_handlers=[(evt.EVT_N_EVENT_REPORT, reports.handler)],
    )
    try:
        ae = AE("COMMITSCU")
        ae.add_requested_context(StorageCommitmentPushModel)
        assoc = ae.associate(node.host, node.port, ae_title=AE_TITLE)
        request = _request(held)
        status, _ = assoc.send_n_action(request, 1, StorageCommitmentPushModel, INSTANCE)
        assoc.release()  # at once: the report must find its way to port
        assert status.Status == 0x0000
        assert reports.arrived.wait(30)
    finally:
        server.shutdown()
    [(event_type, report)] = reports.received
    assert event_type == 1  # all committed
    assert len(report.ReferencedSOPSequence) == 3
    assert "FailedSOPSequence" not in report
