"""Storage Commitment Push Model SCP (PS3.4 Annex J): N-ACTION in, N-EVENT-REPORT out.

The N-ACTION (Action Type 1, "Request Storage Commitment", J.3.2) lists SOP instances by class
and instance UID under a Transaction UID. It is answered at once (success: the request is taken),
then the instances are looked up in the index (one find per ``_LOOKUP`` UIDs): those held with
the same SOP class are committed, the others fail with 0112 "No such object instance" or 0119
"Class / Instance conflict" (J.3.3.1.2). The report (N-EVENT-REPORT, Event Type 1 all committed
or 2 some failed, J.3.3) goes back on the same association while the requester keeps it open,
otherwise on a new association to the requester's configured address (``dimse.remotes``), this
archive taking the SCP role of the SOP class by role selection (J.3.3, PS3.7 §D.3.3.4).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from pydicom import Dataset
from pydicom.sequence import Sequence
from pynetdicom import AE, build_role

from openvna.archive import Archive
from openvna.archive.remotes import RemoteRegistry
from openvna.dicom.matching import AnyOf
from openvna.dicom.query import Level, Query
from openvna.dimse.contexts import STORAGE_COMMITMENT_PUSH
from openvna.dimse.store import REFUSED_NOT_AUTHORIZED, status_of
from openvna.errors import ArchiveError

if TYPE_CHECKING:
    from pynetdicom.association import Association
    from pynetdicom.events import Event

__all__ = ["INSTANCE_UID", "commitment_requested", "committed"]

log = logging.getLogger("openvna.dimse")

# The well-known SOP Instance of the Storage Commitment Push Model (PS3.4 J.3.2, J.3.3).
INSTANCE_UID = "1.2.840.10008.1.20.1.1"
_REQUEST = 1  # Action Type ID: Request Storage Commitment
NO_SUCH_INSTANCE = 0x0112
CLASS_INSTANCE_CONFLICT = 0x0119
PROCESSING_FAILURE = 0x0110
NO_SUCH_ACTION_TYPE = 0x0123
INVALID_ARGUMENT = 0x0115
_LOOKUP = 500
_REPLY_PAUSE = 0.05  # lets the N-ACTION response go out before the report follows it


def commitment_requested(
    event: Event, archive: Archive, remotes: RemoteRegistry, ae_title: str
) -> tuple[Dataset, Dataset | None]:
    """The EVT_N_ACTION handler: answer the request, then report from a thread."""
    calling = str(event.assoc.requestor.ae_title).strip()
    if not remotes.may(calling, "retrieve"):
        return status_of(REFUSED_NOT_AUTHORIZED, f"{calling} may not ask for commitment"), None
    if event.action_type != _REQUEST:
        return status_of(NO_SUCH_ACTION_TYPE, f"action type {event.action_type}"), None
    try:
        request = event.action_information
        transaction = str(request.TransactionUID)
        references = [
            (str(i.ReferencedSOPClassUID), str(i.ReferencedSOPInstanceUID))
            for i in request.ReferencedSOPSequence
        ]
    except Exception as exc:  # pydicom raises what it raises on a broken dataset
        return status_of(INVALID_ARGUMENT, f"not a commitment request: {exc}"), None
    assoc = event.assoc
    threading.Thread(
        target=_report,
        args=(archive, remotes, ae_title, assoc, calling, transaction, references),
        name="openvna-commitment",
        daemon=True,
    ).start()
    return status_of(0x0000), None


def committed(
    archive: Archive, references: list[tuple[str, str]]
) -> tuple[list[tuple[str, str]], list[tuple[str, str, int]]]:
    """The references held (same class) and the failed ones with their reason."""
    held: dict[str, str] = {}
    for start in range(0, len(references), _LOOKUP):
        uids = tuple(sop for _, sop in references[start : start + _LOOKUP])
        held.update(_held(archive, uids))
    ok: list[tuple[str, str]] = []
    failed: list[tuple[str, str, int]] = []
    for sop_class, sop in references:
        if sop not in held:
            failed.append((sop_class, sop, NO_SUCH_INSTANCE))
        elif held[sop] != sop_class:
            failed.append((sop_class, sop, CLASS_INSTANCE_CONFLICT))
        else:
            ok.append((sop_class, sop))
    return ok, failed


def _held(archive: Archive, uids: tuple[str, ...]) -> Iterable[tuple[str, str]]:
    term = AnyOf(0x00080018, "SOPInstanceUID", "UI", uids)
    query = Query(level=Level.INSTANCE, terms=(term,), return_keys=(0x00080016,), limit=None)
    for match in archive.find(query):
        sop = (match.get("00080018", {}).get("Value") or [""])[0]
        sop_class = (match.get("00080016", {}).get("Value") or [""])[0]
        yield sop, sop_class


def _report(
    archive: Archive,
    remotes: RemoteRegistry,
    ae_title: str,
    assoc: Association,
    calling: str,
    transaction: str,
    references: list[tuple[str, str]],
) -> None:
    try:
        ok, failed = committed(archive, references)
    except ArchiveError as exc:
        log.warning("storage commitment %s: %s", transaction, exc.message)
        ok, failed = [], [(c, s, PROCESSING_FAILURE) for c, s in references]
    report = _event_information(transaction, ok, failed, ae_title)
    event_type = 2 if failed else 1
    time.sleep(_REPLY_PAUSE)
    if assoc.is_established and _sent(assoc, report, event_type):
        return
    node = remotes.get(calling)
    if node is None:
        log.warning("storage commitment %s: %s left and has no address", transaction, calling)
        return
    ae = AE(ae_title)
    ae.add_requested_context(STORAGE_COMMITMENT_PUSH)
    role = build_role(STORAGE_COMMITMENT_PUSH, scp_role=True)
    other = ae.associate(node.host, node.port, ae_title=node.aet, ext_neg=[role])
    if not other.is_established:
        log.warning("storage commitment %s: cannot reach %s", transaction, node.aet)
        return
    try:
        _sent(other, report, event_type)
    finally:
        other.release()


def _sent(assoc: Association, report: Dataset, event_type: int) -> bool:
    try:
        status, _ = assoc.send_n_event_report(
            report, event_type, STORAGE_COMMITMENT_PUSH, INSTANCE_UID
        )
    except (RuntimeError, ValueError) as exc:
        log.info("storage commitment report not sent on this association: %s", exc)
        return False
    return "Status" in status


def _event_information(
    transaction: str,
    ok: list[tuple[str, str]],
    failed: list[tuple[str, str, int]],
    ae_title: str,
) -> Dataset:
    """Table J.3-2 (success) / J.3-3 (failures) Event Information."""
    ds = Dataset()
    ds.TransactionUID = transaction
    ds.RetrieveAETitle = ae_title
    if ok:
        ds.ReferencedSOPSequence = Sequence([_item(c, s) for c, s in ok])
    if failed:
        items = []
        for sop_class, sop, reason in failed:
            item = _item(sop_class, sop)
            item.FailureReason = reason
            items.append(item)
        ds.FailedSOPSequence = Sequence(items)
    return ds


def _item(sop_class: str, sop: str) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = sop_class
    item.ReferencedSOPInstanceUID = sop
    return item
