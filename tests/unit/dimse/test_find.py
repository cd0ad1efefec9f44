"""The C-FIND handler's stream of responses: written directly while the association lasts."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

from pydicom import Dataset
from pydicom.uid import ImplicitVRLittleEndian

from openvna.dicom.query import Query
from openvna.dimse.encoding import install
from openvna.dimse.find import find_matches
from tests.unit.dimse.sending import Transport, sending_dimse

STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"


class _Archive:
    """Five study matches; the association ends while the third is read."""

    def __init__(self, assoc: Any) -> None:
        self.assoc = assoc

    def find(self, query: Query) -> Iterator[dict[str, Any]]:
        for i in range(5):
            if i == 2:
                self.assoc.is_established = False  # the peer aborted meanwhile
            yield {"0020000D": {"vr": "UI", "Value": [f"1.2.3.{i}"]}}


def _event(transport: Transport) -> Any:
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.StudyInstanceUID = ""
    assoc = SimpleNamespace(
        dimse=sending_dimse(transport),
        is_established=True,
        acceptor=SimpleNamespace(sop_class_extended={}),
    )
    context = SimpleNamespace(
        transfer_syntax=ImplicitVRLittleEndian, context_id=1, abstract_syntax=STUDY_ROOT_FIND
    )
    request = SimpleNamespace(AffectedSOPClassUID=STUDY_ROOT_FIND, MessageID=3)
    return SimpleNamespace(
        identifier=identifier, context=context, request=request, assoc=assoc, is_cancelled=False
    )


def test_pending_responses_stop_when_the_association_ends() -> None:
    install()
    transport = Transport()
    event = _event(transport)
    answers = list(find_matches(event, _Archive(event.assoc), "OPENVNA"))
    assert answers == []  # neither more matches nor a final status on an aborted association
    assert len(transport.sent) == 2  # the two matches read before it ended, written directly
    assert all(b"1.2.3." in data for data, _ in transport.sent)
