"""UPS over DIMSE (PS3.4 Annex CC): the Push, Pull, Watch and Query SOP classes as thin handlers
over the same workitem service as UPS-RS.

- N-CREATE (Push): CreateUPS; the SCP answers the Affected SOP Instance UID it chose;
- N-GET (Push, Pull, Watch): RetrieveUPS, the attributes asked (all when none), never the
  Transaction UID;
- N-SET (Pull): UpdateUPS, the Transaction UID inside the modification list (CC.2.6.1.2.1);
- N-ACTION: 1 Change UPS State, 2 Request UPS Cancel, 3 Subscribe, 4 Unsubscribe, 5 Suspend
  Global Subscription (Table CC.2.2-1 ... CC.2.3-1);
- C-FIND (Pull, Watch, Query): SearchForUPS with the identifier's keys as match terms.

Refusals answer the service's DIMSE status (``ups.ups_status``: C300-C311 of Annex CC, 0x0106 for
bad values) with the message as Error Comment; warnings B300, B304, B306.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pydicom import Dataset

from openvna.dicom.json import DicomJson, dataset_to_json, json_to_dataset
from openvna.dicom.query import Level, Query
from openvna.dicom.tags import tag_hex
from openvna.dimse.find import CANCEL, PENDING, UNABLE_TO_PROCESS, FindResponse
from openvna.dimse.store import status_of
from openvna.dimse.worklist import identifier_terms, shaped
from openvna.errors import ArchiveError
from openvna.ups import Outcome, Workitems, ups_status

if TYPE_CHECKING:
    from pynetdicom.events import Event

__all__ = ["UPS_FIND_CLASSES", "UPS_SOP_CLASSES", "UpsHandlers", "is_ups_find"]

log = logging.getLogger("openvna.dimse")

UPS_PUSH = "1.2.840.10008.5.1.4.34.6.1"
UPS_WATCH = "1.2.840.10008.5.1.4.34.6.2"
UPS_PULL = "1.2.840.10008.5.1.4.34.6.3"
UPS_EVENT = "1.2.840.10008.5.1.4.34.6.4"
UPS_QUERY = "1.2.840.10008.5.1.4.34.6.5"
UPS_SOP_CLASSES = (UPS_PUSH, UPS_WATCH, UPS_PULL, UPS_EVENT, UPS_QUERY)
UPS_FIND_CLASSES = frozenset({UPS_WATCH, UPS_PULL, UPS_QUERY})

_CHANGE_STATE, _REQUEST_CANCEL, _SUBSCRIBE, _UNSUBSCRIBE, _SUSPEND = 1, 2, 3, 4, 5
_NO_SUCH_ACTION = 0x0123
_REQUESTING_AE = "00741236"
_RECEIVING_AE = "00741234"
_DELETION_LOCK = "00741230"

Reply = tuple[int | Dataset, Dataset | None]


def is_ups_find(event: Event) -> bool:
    return str(event.request.AffectedSOPClassUID) in UPS_FIND_CLASSES


def _request(event: Event) -> Any:
    """The request primitive (pynetdicom types it as the union of every DIMSE primitive)."""
    return event.request


def _calling(event: Event) -> str:
    return str(event.assoc.requestor.ae_title).strip()


def _text(dataset: DicomJson, tag: str) -> str | None:
    values = dataset.get(tag, {}).get("Value") or []
    return str(values[0]) if values else None


class UpsHandlers:
    """The handlers of one SCP, over its workitem service."""

    def __init__(self, workitems: Workitems) -> None:
        self.workitems = workitems

    def _answer(self, work: Any) -> Reply:
        try:
            outcome, reply = work()
        except ArchiveError as exc:
            return status_of(ups_status(exc), exc.message), None
        assert isinstance(outcome, Outcome)
        return outcome.status, reply

    def n_create(self, event: Event) -> Reply:
        """N-CREATE (CC.2.5); the reply names the UID when the request did not."""
        uid = _request(event).AffectedSOPInstanceUID

        def work() -> tuple[Outcome, Dataset]:
            outcome = self.workitems.create(
                dataset_to_json(event.attribute_list), str(uid) if uid else None
            )
            reply = Dataset()
            if not uid:
                # pynetdicom moves the UID into the response for a success only (PS3.7
                # 10.1.5.1.4): the SCU must learn it, so B300 gives way to success here.
                reply.AffectedSOPInstanceUID = outcome.uid
                outcome = Outcome(outcome.uid, outcome.warnings)
            return outcome, reply

        return self._answer(work)

    def n_get(self, event: Event) -> Reply:
        """N-GET (CC.2.7): the attributes asked, or all of them."""
        uid = str(_request(event).RequestedSOPInstanceUID)
        wanted = {tag_hex(int(tag)) for tag in event.attribute_identifiers}

        def work() -> tuple[Outcome, Dataset]:
            found = self.workitems.retrieve(uid)
            kept = {tag: v for tag, v in found.items() if not wanted or tag in wanted}
            return Outcome(uid), json_to_dataset(kept)

        return self._answer(work)

    def n_set(self, event: Event) -> Reply:
        """N-SET (CC.2.6); the Transaction UID comes in the modification list."""
        uid = str(_request(event).RequestedSOPInstanceUID)
        changes = dataset_to_json(event.modification_list)
        return self._answer(lambda: (self.workitems.update(uid, changes, None), None))

    def n_action(self, event: Event) -> Reply:
        """N-ACTION (CC.2.1-CC.2.3) by Action Type ID."""
        uid = str(_request(event).RequestedSOPInstanceUID)
        action = event.action_type
        info = dataset_to_json(event.action_information) if action != _UNSUBSCRIBE else {}
        workitems = self.workitems
        if action == _CHANGE_STATE:
            state, transaction = _text(info, "00741000") or "", _text(info, "00081195")
            return self._answer(lambda: (workitems.change_state(uid, state, transaction), None))
        if action == _REQUEST_CANCEL:
            info.setdefault(_REQUESTING_AE, {"vr": "AE", "Value": [_calling(event)]})
            return self._answer(lambda: (workitems.request_cancellation(uid, info), None))
        receiving = _text(info, _RECEIVING_AE) or _calling(event)
        if action == _SUBSCRIBE:
            lock = (_text(info, _DELETION_LOCK) or "").upper() == "TRUE"
            filters = _filters(event.action_information)
            return self._answer(
                lambda: (workitems.subscribe(uid, receiving, lock, filters or None), None)
            )
        if action == _UNSUBSCRIBE:
            return self._answer(lambda: (workitems.unsubscribe(uid, _calling(event)), None))
        if action == _SUSPEND:
            return self._answer(lambda: (workitems.suspend(uid, receiving), None))
        return status_of(_NO_SUCH_ACTION, f"no N-ACTION of type {action} for UPS"), None

    def c_find(self, event: Event) -> Iterator[FindResponse]:
        """C-FIND (CC.2.8): pending responses with the keys asked, then success."""
        try:
            asked = dataset_to_json(event.identifier)
            terms = identifier_terms(event.identifier)
            query = Query(level=Level.STUDY, terms=terms, include_all=True, limit=None)
            found = self.workitems.search(query).datasets
        except ArchiveError as exc:
            yield status_of(ups_status(exc), exc.message), None
            return
        except Exception as exc:  # an identifier pydicom cannot decode
            log.warning("UPS C-FIND failed: %s", exc)
            yield status_of(UNABLE_TO_PROCESS, f"cannot answer the identifier: {exc}"), None
            return
        for item in found:
            if event.is_cancelled:
                yield CANCEL, None
                return
            yield PENDING, json_to_dataset(shaped(item, asked))
        yield 0x0000, None


def _filters(information: Dataset) -> list[tuple[str, str]]:
    """The matching keys of a filtered global subscription (CC.2.3.1): the action
    information's attributes other than Receiving AE and Deletion Lock, as keyword=value."""
    filters = []
    for element in information:
        if tag_hex(int(element.tag)) in (_RECEIVING_AE, _DELETION_LOCK) or element.VR == "SQ":
            continue
        filters.append((element.keyword, "" if element.value is None else str(element.value)))
    return filters
