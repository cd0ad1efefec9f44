"""The workitem service (PS3.4 Annex CC): create, retrieve, update, search, change state, request
cancellation, subscribe; one transaction each, with the events it causes.

Doors (UPS-RS in ``web/dicomweb/ups``, later UPS over DIMSE) parse their protocol into these
calls and map ``ArchiveError``s (``ups.errors``: 400, 404, 409 with the DIMSE code) back. The
state machine is PS3.4 Table CC.1.1-2 (STANDARDS.md §4.3):

- SCHEDULED → IN PROGRESS with a new Transaction UID, which the service keeps and which every
  later change of the claimed workitem must present (C301 otherwise);
- IN PROGRESS → COMPLETED or CANCELED once the Final State requirements hold (C304 otherwise);
- SCHEDULED → COMPLETED/CANCELED is C310, IN PROGRESS → IN PROGRESS C302, a final state to
  another C300; a final state to itself is a warning only (B306, B304).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import ColumnElement, Connection
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from openvna.archive import Archive
from openvna.dicom.json import DicomJson
from openvna.dicom.matching import MatchTerm
from openvna.dicom.query import Query, parse_qido
from openvna.dicom.tags import tag_hex
from openvna.dicom.uid import generate_uid, is_valid_uid
from openvna.errors import BadRequest, IndexUnavailable
from openvna.index.core import WRITE_OPTION
from openvna.ups import events, store
from openvna.ups.errors import Conflict, UnknownWorkitem
from openvna.ups.matching import matches
from openvna.ups.model import (
    CREATE_TYPE2,
    FILTERED_GLOBAL,
    GLOBAL,
    UPS_PUSH,
    State,
    Tag,
    creation_problems,
    empty,
    enumeration_problems,
    final_state_problems,
    first_value,
    now_datetime,
    value,
)
from openvna.ups.tables import ensure_tables, workitems_state_is
from openvna.ups.worklist import worklist_item

__all__ = ["Outcome", "SearchPage", "Workitems", "require_ae_title"]

T = TypeVar("T")

# What SearchForUPS returns besides the match keys and includefields: the attributes of Table
# CC.2.5-3 whose Return Key type is 1 or 2 that a worklist client shows.
SEARCH_RETURN_KEYS = (
    Tag.SOP_CLASS_UID,
    Tag.SOP_INSTANCE_UID,
    Tag.PATIENT_NAME,
    Tag.PATIENT_ID,
    "00100030",
    "00100040",
    Tag.STUDY_INSTANCE_UID,
    Tag.COMMENTS,
    Tag.START_DATETIME,
    Tag.MODIFICATION_DATETIME,
    Tag.EXPECTED_COMPLETION,
    Tag.SCHEDULED_WORKITEM_CODES,
    Tag.INPUT_INFORMATION,
    Tag.STATION_NAMES,
    Tag.HUMAN_PERFORMERS,
    Tag.INPUT_READINESS,
    Tag.STATE,
    Tag.PRIORITY,
    Tag.WORKLIST_LABEL,
    Tag.LABEL,
    Tag.REFERENCED_REQUEST,
)
_UPDATE_FORBIDDEN = {
    Tag.STATE: "Procedure Step State (0074,1000) changes through ChangeUPSState only",
    Tag.SOP_CLASS_UID: "SOP Class UID (0008,0016) cannot change",
    Tag.SOP_INSTANCE_UID: "SOP Instance UID (0008,0018) cannot change",
}
_ASSIGNMENT = (Tag.STATION_NAMES, Tag.HUMAN_PERFORMERS)


@dataclass(frozen=True)
class Outcome:
    """What a successful change tells the door: the workitem's UID and the warnings
    (PS3.18: Warning headers; DIMSE: the B-statuses)."""

    uid: str
    warnings: list[str] = field(default_factory=list)
    status: int = 0x0000  # the DIMSE status of a warning (PS3.4 CC.2: B300, B304, B306)


@dataclass(frozen=True)
class SearchPage:
    datasets: list[DicomJson]
    remaining: int


def require_ae_title(ae_title: str) -> str:
    """An AE title as PS3.5 Table 6.2-1 allows: 1-16 characters of the default repertoire, no
    backslash or control character, not only spaces."""
    text = ae_title.strip()
    if (
        not text
        or len(ae_title) > 16
        or not ae_title.isascii()
        or "\\" in ae_title
        or any(ord(ch) < 32 for ch in ae_title)
    ):
        raise BadRequest(f"{ae_title!r} is not a valid AE title", attribute="AETitle")
    return text


def _require_workitem_uid(uid: str) -> str:
    if not is_valid_uid(uid):
        raise BadRequest(f"{uid!r} is not a valid UID", attribute="SOPInstanceUID")
    return uid


class Workitems:
    """The UPS store of one archive (tables in its index, ``ups.tables``)."""

    def __init__(self, archive: Archive) -> None:
        self._engine = archive.index.engine
        ensure_tables(self._engine)
        self._sqlite_lock = threading.Lock() if self._engine.dialect.name == "sqlite" else None

    # -- transactions -------------------------------------------------------------------------

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except OperationalError as exc:
            raise IndexUnavailable(f"index unavailable: {str(exc.orig).strip()}") from exc
        except DBAPIError as exc:
            raise IndexUnavailable(f"index busy: {str(exc.orig).strip()}") from exc

    def _read(self, work: Callable[[Connection], T]) -> T:
        with self._translated(), self._engine.connect() as conn:
            return work(conn)

    def _write(self, work: Callable[[Connection], T]) -> T:
        lock: AbstractContextManager[object] = self._sqlite_lock or nullcontext()
        with (
            self._translated(),
            lock,
            self._engine.connect().execution_options(**{WRITE_OPTION: True}) as conn,
            conn.begin(),
        ):
            return work(conn)

    def _locked(self, conn: Connection, uid: str) -> store.Stored:
        found = store.read_workitem(conn, _require_workitem_uid(uid), lock=True)
        if found is None:
            raise UnknownWorkitem(uid)
        return found

    # -- transactions of PS3.18 chapter 11 ----------------------------------------------------

    def create(self, dataset: DicomJson, uid: str | None = None) -> Outcome:
        """CreateUPS (PS3.4 CC.2.5.1.3 N-CREATE): check, complete and store a new workitem;
        subscribe the global subscribers whose filter it matches and tell them."""
        uid, item, warnings = _new_workitem(dataset, uid)
        status = 0xB300 if warnings else 0x0000

        def run(conn: Connection) -> None:
            if not store.insert_workitem(conn, uid, item):
                raise Conflict(f"The workitem {uid} already exists", code=0x0111)
            for subscription in store.global_subscriptions(conn):
                if subscription.filter is None or matches(item, _filter_terms(subscription.filter)):
                    store.add_subscription(
                        conn,
                        store.Subscription(
                            subscription.ae_title, uid, subscription.deletion_lock, False, None
                        ),
                    )
            recipients = store.subscribers(conn, uid)
            events.emit(conn, recipients, events.state_report(uid, item))
            if any(value(item, tag) for tag in _ASSIGNMENT):
                events.emit(conn, recipients, events.assigned(uid, item))

        try:
            self._write(run)
        except IndexUnavailable as exc:
            if isinstance(exc.__cause__, IntegrityError):  # a create of the same UID won
                raise Conflict(f"The workitem {uid} already exists", code=0x0111) from exc
            raise
        return Outcome(uid, warnings, status)

    def retrieve(self, uid: str) -> DicomJson:
        """RetrieveUPS (PS3.4 CC.2.7 N-GET): the workitem, never its Transaction UID."""
        found = self._read(lambda conn: store.read_workitem(conn, _require_workitem_uid(uid)))
        if found is None:
            raise UnknownWorkitem(uid)
        return found.dataset

    def update(self, uid: str, changes: DicomJson, transaction_uid: str | None) -> Outcome:
        """UpdateUPS (PS3.4 CC.2.6 N-SET): replace the given attributes (sequences whole).

        A SCHEDULED workitem takes no Transaction UID; an IN PROGRESS one only its own; a
        COMPLETED or CANCELED one no change at all (400, as PS3.18 §11.6.3 says)."""
        changes = dict(changes)
        transaction_uid = transaction_uid or first_value(changes, Tag.TRANSACTION_UID)
        changes.pop(Tag.TRANSACTION_UID, None)
        problems = [text for tag, text in _UPDATE_FORBIDDEN.items() if tag in changes]
        problems += _update_value_problems(changes)
        if problems:
            raise BadRequest("The workitem cannot be updated: " + "; ".join(problems))

        def run(conn: Connection) -> Outcome:
            found = self._locked(conn, uid)
            state = State(first_value(found.dataset, Tag.STATE))
            if state.final:
                raise BadRequest(
                    f"The workitem {uid} is {state.value} and can no longer be updated"
                )
            if state is State.SCHEDULED and transaction_uid:
                raise Conflict(
                    "The Transaction UID is incorrect: a SCHEDULED workitem is updated without one",
                    code=0xC301,
                )
            if state is State.IN_PROGRESS and transaction_uid != found.transaction_uid:
                raise Conflict(
                    "The Transaction UID is missing."
                    if not transaction_uid
                    else "The Transaction UID is incorrect.",
                    code=0xC301,
                )
            item = found.dataset | changes
            item[Tag.MODIFICATION_DATETIME] = {"vr": "DT", "Value": [now_datetime()]}
            store.write_workitem(conn, uid, item, found.transaction_uid)
            recipients = store.subscribers(conn, uid)
            if Tag.INPUT_READINESS in changes and value(changes, Tag.INPUT_READINESS) != value(
                found.dataset, Tag.INPUT_READINESS
            ):
                events.emit(conn, recipients, events.state_report(uid, item))
            if Tag.PROGRESS_INFORMATION in changes:
                events.emit(conn, recipients, events.progress_report(uid, item))
            if any(tag in changes for tag in _ASSIGNMENT):
                events.emit(conn, recipients, events.assigned(uid, item))
            return Outcome(uid)

        return self._write(run)

    def change_state(self, uid: str, target: str, transaction_uid: str | None) -> Outcome:
        """ChangeUPSState (PS3.4 CC.2.1 N-ACTION Type 1) by the rules of the module docstring."""
        wanted = _target_state(target)
        if not transaction_uid:
            raise BadRequest(
                "The Transaction UID (0008,1195) is missing", attribute="TransactionUID"
            )
        if not is_valid_uid(transaction_uid):
            raise BadRequest(
                f"The Transaction UID {transaction_uid!r} is not a valid UID",
                attribute="TransactionUID",
            )

        def run(conn: Connection) -> Outcome:
            found = self._locked(conn, uid)
            state = State(first_value(found.dataset, Tag.STATE))
            warning = _transition_refusal(state, wanted, transaction_uid, found.transaction_uid)
            if warning:
                return Outcome(uid, [warning], 0xB306 if wanted is State.COMPLETED else 0xB304)
            item = dict(found.dataset)
            lock = found.transaction_uid
            if wanted is State.IN_PROGRESS:
                lock = transaction_uid
            else:
                if wanted is State.CANCELED:
                    _record_cancellation(item, {})
                problems = final_state_problems(item, wanted)
                if problems:
                    raise Conflict(
                        f"The workitem cannot become {wanted.value}: " + "; ".join(problems),
                        code=0xC304,
                    )
            self._set_state(conn, uid, item, wanted, lock)
            return Outcome(uid)

        return self._write(run)

    def request_cancellation(self, uid: str, request: DicomJson) -> Outcome:
        """RequestUPSCancellation (PS3.4 CC.2.2 N-ACTION Type 2). A SCHEDULED workitem is
        canceled here and now (through IN PROGRESS, both states reported); an IN PROGRESS one
        stays with its performer, whom the Cancel Requested event tells."""
        _check_cancel_request(request)

        def run(conn: Connection) -> Outcome:
            found = self._locked(conn, uid)
            state = State(first_value(found.dataset, Tag.STATE))
            if state is State.COMPLETED:
                raise Conflict(
                    f"The workitem {uid} is COMPLETED and cannot be canceled", code=0xC311
                )
            if state is State.CANCELED:
                return Outcome(
                    uid, ["The UPS is already in the requested state of CANCELED."], 0xB304
                )
            if state is State.IN_PROGRESS:
                recipients = store.subscribers(conn, uid)
                events.emit(conn, recipients, events.cancel_requested(uid, request))
                return Outcome(uid)
            item = dict(found.dataset)
            lock = generate_uid()
            self._set_state(conn, uid, item, State.IN_PROGRESS, lock)
            _record_cancellation(item, request)
            self._set_state(conn, uid, item, State.CANCELED, lock)
            return Outcome(uid)

        return self._write(run)

    def _set_state(
        self, conn: Connection, uid: str, item: DicomJson, state: State, lock: str
    ) -> None:
        item[Tag.STATE] = {"vr": "CS", "Value": [state.value]}
        item[Tag.MODIFICATION_DATETIME] = {"vr": "DT", "Value": [now_datetime()]}
        store.write_workitem(conn, uid, item, lock)
        events.emit(conn, store.subscribers(conn, uid), events.state_report(uid, item))

    def search(self, query: Query) -> SearchPage:
        """SearchForUPS (PS3.4 CC.2.8 C-FIND): keys on ``workitems`` columns matched in SQL,
        the others on each candidate's JSON; results carry SEARCH_RETURN_KEYS, the match keys
        and the includefields (everything with ``includefield=all``)."""
        conditions: list[ColumnElement[bool]] = []
        rest = []
        for term in query.terms:
            sql = store.sql_condition(term, query.fuzzymatching)
            if sql is None:
                rest.append(term)
            else:
                conditions.append(sql)

        def run(conn: Connection) -> SearchPage:
            if not rest:
                found = store.search(conn, conditions, query.offset, query.limit)
                remaining = 0
                if query.limit is not None and len(found) == query.limit:
                    total = store.count(conn, conditions)
                    remaining = max(0, total - query.offset - len(found))
                return SearchPage(found, remaining)
            every = [d for d in store.search(conn, conditions, 0, None) if matches(d, rest)]
            end = None if query.limit is None else query.offset + query.limit
            page = every[query.offset : end]
            return SearchPage(page, max(0, len(every) - query.offset - len(page)))

        page = self._read(run)
        return SearchPage([_shaped(d, query) for d in page.datasets], page.remaining)

    def worklist(self, terms: tuple[MatchTerm, ...]) -> list[DicomJson]:
        """The Modality Worklist items (``ups.worklist``) of the SCHEDULED workitems that
        match ``terms`` (PS3.4 K.4.1.3: the keys of a worklist C-FIND identifier)."""
        scheduled = [workitems_state_is(State.SCHEDULED)]
        found = self._read(lambda conn: store.search(conn, scheduled, 0, None))
        items = (worklist_item(first_value(d, Tag.SOP_INSTANCE_UID), d) for d in found)
        return [item for item in items if matches(item, terms)]

    # -- subscriptions (PS3.4 CC.2.3) ---------------------------------------------------------

    def subscribe(
        self,
        uid: str,
        ae_title: str,
        deletion_lock: bool,
        filter_params: list[tuple[str, str]] | None = None,
    ) -> Outcome:
        """Subscribe ``ae_title`` to one workitem, to all (``GLOBAL``) or to those matching a
        filter (``FILTERED_GLOBAL``); each workitem subscribed sends a State Report now."""
        ae_title = require_ae_title(ae_title)
        if uid == FILTERED_GLOBAL and not filter_params:
            raise BadRequest("A filtered global subscription needs at least one filter key")
        if uid != FILTERED_GLOBAL and filter_params:
            raise BadRequest(
                f"Only the filtered global subscription {FILTERED_GLOBAL} takes a filter"
            )
        terms = _filter_terms(filter_params) if filter_params else None

        def run(conn: Connection) -> Outcome:
            if uid in (GLOBAL, FILTERED_GLOBAL):
                store.add_subscription(
                    conn, store.Subscription(ae_title, uid, deletion_lock, False, filter_params)
                )
                targets = [
                    (key, item)
                    for key, item in store.all_workitems(conn)
                    if not State(first_value(item, Tag.STATE)).final
                    and (terms is None or matches(item, terms))
                ]
            else:
                found = self._locked(conn, uid)
                targets = [(uid, found.dataset)]
            for key, item in targets:
                store.add_subscription(
                    conn, store.Subscription(ae_title, key, deletion_lock, False, None)
                )
                events.emit(conn, [ae_title], events.state_report(key, item))
            return Outcome(uid)

        return self._write(run)

    def unsubscribe(self, uid: str, ae_title: str) -> Outcome:
        """DeleteSubscription: from one workitem, or from the global subscription and with it
        from every workitem (PS3.4 CC.2.3.2)."""
        ae_title = require_ae_title(ae_title)

        def run(conn: Connection) -> Outcome:
            if uid in (GLOBAL, FILTERED_GLOBAL):
                if not store.remove_subscriptions(conn, ae_title, None):
                    raise UnknownSubscription(ae_title, uid)
            else:
                self._locked(conn, uid)
                store.remove_subscriptions(conn, ae_title, uid)
            return Outcome(uid)

        return self._write(run)

    def suspend(self, uid: str, ae_title: str) -> Outcome:
        """SuspendGlobalSubscription: no new workitems for ``ae_title``; those it is
        subscribed to stay so (PS3.4 CC.2.3.2)."""
        ae_title = require_ae_title(ae_title)
        if uid not in (GLOBAL, FILTERED_GLOBAL):
            raise BadRequest(f"Only a global subscription can be suspended, not {uid}")

        def run(conn: Connection) -> Outcome:
            if not store.suspend_global(conn, ae_title, uid):
                raise UnknownSubscription(ae_title, uid)
            return Outcome(uid)

        return self._write(run)

    def has_subscriptions(self, ae_title: str) -> bool:
        """Whether ``ae_title`` subscribes to anything (a WebSocket for none is refused)."""
        return bool(self._read(lambda conn: store.subscriptions_of(conn, ae_title)))

    # -- the event channel (ups.events) -------------------------------------------------------

    def event_id_before(self, created: float) -> int:
        """Where a reader of the events made since ``created`` (a Unix time) starts."""
        return self._read(lambda conn: events.event_id_before(conn, created))

    def claim_dimse_events(self, last: int) -> list[events.Event]:
        """The events after id ``last`` for this DIMSE process to report (none another took).

        Looked for in a read first: each DIMSE process asks many times a second, and a write
        transaction each time took SQLite's one write lock from the stores of the other
        processes, which then waited in its busy handler."""
        if not self._read(lambda conn: events.unclaimed_by_dimse(conn, last)):
            return []
        return self._write(lambda conn: events.claim_for_dimse(conn, last))

    def events_after(self, last: int) -> list[events.Event]:
        """The events after id ``last``, oldest first (at most 500: read again for more)."""
        return self._read(lambda conn: events.events_after(conn, last))


class UnknownSubscription(UnknownWorkitem):
    def __init__(self, ae_title: str, uid: str) -> None:
        super().__init__(uid)
        self.message = f"{ae_title} has no subscription to {uid}"
        self.args = (self.message,)


def _new_workitem(dataset: DicomJson, uid: str | None) -> tuple[str, DicomJson, list[str]]:
    """The UID and the dataset of a workitem to create, as the SCP completes it (Table
    CC.2.5-3): missing Type 2 attributes added empty (with the "created with modifications"
    warning), an empty Worklist Label filled, SOP Class and Instance UID and the modification
    time set, the SCP-owned sequences empty. The SOP Instance UID comes from the request, else
    the dataset (as Microsoft's server expects it), else is generated."""
    given = first_value(dataset, Tag.SOP_INSTANCE_UID)
    if uid is not None and given is not None and given != uid:
        raise BadRequest(
            f"SOP Instance UID {given} in the dataset is not the workitem {uid} of the request",
            attribute="SOPInstanceUID",
        )
    uid = _require_workitem_uid(uid or given or generate_uid())
    problems = creation_problems(dataset)
    if problems:
        raise BadRequest("The workitem cannot be created: " + "; ".join(problems))
    item = dict(dataset)
    added = [tag for tag in CREATE_TYPE2 if tag not in item]
    for tag in added:
        item[tag] = empty(tag)
    if not value(item, Tag.WORKLIST_LABEL):
        item[Tag.WORKLIST_LABEL] = {"vr": "LO", "Value": ["OPENVNA"]}
    item |= {
        Tag.SOP_CLASS_UID: {"vr": "UI", "Value": [UPS_PUSH]},
        Tag.SOP_INSTANCE_UID: {"vr": "UI", "Value": [uid]},
        Tag.MODIFICATION_DATETIME: {"vr": "DT", "Value": [now_datetime()]},
        Tag.PROGRESS_INFORMATION: empty(Tag.PROGRESS_INFORMATION),
        Tag.PERFORMED_PROCEDURE: empty(Tag.PERFORMED_PROCEDURE),
    }
    item.pop(Tag.TRANSACTION_UID, None)  # kept in its column, never in the dataset
    warnings = ["The Workitem was created with modifications."] if added else []
    return uid, item, warnings


def _target_state(target: str) -> State:
    """The requested Procedure Step State; ``CANCELLED`` as PS3.18 2019 §11.7.1.4 spells it."""
    text = target.strip().upper()
    text = "CANCELED" if text == "CANCELLED" else text
    if text not in (State.IN_PROGRESS, State.COMPLETED, State.CANCELED):
        raise BadRequest(
            f"Procedure Step State {target!r} cannot be requested: IN PROGRESS, COMPLETED or "
            "CANCELED",
            attribute="ProcedureStepState",
        )
    return State(text)


def _transition_refusal(state: State, wanted: State, given: str, lock: str) -> str | None:
    """Raise the Conflict of PS3.4 Table CC.1.1-2 for an illegal transition; return the
    warning of a final state asked again; None when the transition goes ahead."""
    if state.final:
        if state is wanted:
            return f"The UPS is already in the requested state of {wanted.value}."
        raise Conflict(
            f"The change of state is inconsistent with the state: the workitem is {state.value}",
            code=0xC300,
        )
    if state is State.IN_PROGRESS and wanted is State.IN_PROGRESS:
        raise Conflict("The workitem is already IN PROGRESS", code=0xC302)
    if state is State.SCHEDULED and wanted.final:
        raise Conflict(
            f"The workitem is SCHEDULED: it becomes IN PROGRESS before {wanted.value}",
            code=0xC310,
        )
    if state is State.IN_PROGRESS and given != lock:
        raise Conflict("The Transaction UID is incorrect.", code=0xC301)
    return None


def _record_cancellation(item: DicomJson, request: DicomJson) -> None:
    """The progress item that says when and why the workitem was canceled (the X attributes
    of Table CC.2.5-3), unless the performer already recorded the moment."""
    progress = [p for p in value(item, Tag.PROGRESS_INFORMATION) if isinstance(p, dict)]
    if any(value(p, Tag.CANCELLATION_DATETIME) for p in progress):
        return
    entry: DicomJson = {Tag.CANCELLATION_DATETIME: {"vr": "DT", "Value": [now_datetime()]}}
    for tag in (
        Tag.REASON_FOR_CANCELLATION,
        Tag.DISCONTINUATION_REASONS,
        Tag.CONTACT_URI,
        Tag.CONTACT_NAME,
    ):
        if tag in request:
            entry[tag] = request[tag]
    item[Tag.PROGRESS_INFORMATION] = {"vr": "SQ", "Value": [*progress, entry]}


def _check_cancel_request(request: DicomJson) -> None:
    allowed = {
        Tag.REASON_FOR_CANCELLATION,
        Tag.DISCONTINUATION_REASONS,
        Tag.CONTACT_URI,
        Tag.CONTACT_NAME,
        Tag.REQUESTING_AE,
        Tag.SOP_INSTANCE_UID,
        Tag.SOP_CLASS_UID,
    }
    extra = sorted(set(request) - allowed)
    if extra:
        raise BadRequest(
            "A cancellation request carries only Reason For Cancellation, Discontinuation "
            "Reason Code Sequence, Contact Display Name and Contact URI; not " + ", ".join(extra)
        )


def _update_value_problems(changes: DicomJson) -> list[str]:
    problems = []
    for tag in (Tag.PRIORITY, Tag.LABEL, Tag.START_DATETIME, Tag.INPUT_READINESS):
        if tag in changes and not value(changes, tag):
            problems.append(f"{tag} is Type 1 and cannot be emptied")
    return problems + enumeration_problems(changes)


def _filter_terms(params: list[tuple[str, str]]) -> tuple[MatchTerm, ...]:
    """The match terms of a filtered global subscription's ``attribute=value`` pairs, parsed as
    QIDO-RS parameters are."""
    return parse_search(params).terms


def parse_search(
    params: list[tuple[str, str]], default_limit: int = 100, max_limit: int = 1000
) -> Query:
    """A SearchForUPS query string as the shared ``Query`` (the QIDO-RS grammar of PS3.18
    §8.3.4.1: keywords or tags, ``Sequence.Attribute``, includefield, limit, offset,
    fuzzymatching); the level is irrelevant to the workitem store and its return keys unused."""
    return parse_qido("STUDY", params, default_limit=default_limit, max_limit=max_limit)


def _shaped(dataset: DicomJson, query: Query) -> DicomJson:
    if query.include_all:
        return dataset
    wanted = set(SEARCH_RETURN_KEYS)
    wanted |= {tag_hex(t.sequence if t.sequence is not None else t.tag) for t in query.terms}
    wanted |= {tag_hex(t) for t in query.includefields}
    shaped = {tag: dataset[tag] for tag in wanted if tag in dataset}
    for tag in wanted - set(shaped):
        shaped[tag] = empty(tag)
    return shaped
