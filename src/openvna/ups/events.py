"""UPS events (PS3.4 CC.2.4, PS3.18 §11.13): the messages, and the channel between processes.

Messages: an N-EVENT-REPORT as PS3.18 §6.9.10 sends it over the WebSocket, a DICOM JSON dataset
with the Affected SOP Class UID (UPS Push), the Affected SOP Instance UID (the workitem), the
Event Type ID and the event's attributes (Table CC.2.4-1): 1 State Report, 2 Cancel Requested,
3 Progress Report, 5 UPS Assigned.

The channel is a table of the index, ``ups_events``, written in the transaction of the change
that caused the event (so an event exists if and only if its change committed) and read by
every server process that holds WebSockets (``openvna serve`` runs two HTTP workers by default,
and a subscriber may be connected to either, or to another server on the same PostgreSQL).
Why a polled table rather than PostgreSQL's LISTEN/NOTIFY: it is one mechanism for both index
engines (SQLite has no notification between processes), a poll is a primary-key range read
(tens of microseconds) made only while the process has a WebSocket open, and it needs no
connection held for listening per process. Each row names its recipients, resolved from the
subscriptions in the same transaction, so a hub only looks up which of them it holds.

Ids must become visible in order, or a reader that has seen id 8 would skip an id 7 committed
later: SQLite has one writer at a time, and on PostgreSQL each emitting transaction takes a
transaction-scoped advisory lock before it draws its id, so ids commit in the order drawn.
The DIMSE door sends the same events as N-EVENT-REPORTs to subscribers it knows the address
of; its processes take each event once (``claim_for_dimse``). Rows older than ``KEEP_SECONDS``
are pruned by the writers: a subscriber that was not connected
does not get the events it missed (PS3.18 §6.9.10.2 does not ask for queueing).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, delete, func, insert, select, update

from openvna.dicom.json import DicomJson
from openvna.ups.model import UPS_PUSH, State, Tag, empty, value
from openvna.ups.tables import ups_events

__all__ = [
    "KEEP_SECONDS",
    "Event",
    "EventType",
    "assigned",
    "cancel_requested",
    "claim_for_dimse",
    "emit",
    "event_id_before",
    "events_after",
    "progress_report",
    "state_report",
    "unclaimed_by_dimse",
]

KEEP_SECONDS = 300.0
_EMIT_LOCK_KEY = 0x75707365766E74  # "upsevnt": the PostgreSQL advisory lock of emitting


class EventType:
    """Event Type ID (0000,1002) values of PS3.4 Table CC.2.4-1."""

    STATE_REPORT = 1
    CANCEL_REQUESTED = 2
    PROGRESS_REPORT = 3
    SCP_STATUS_CHANGE = 4
    ASSIGNED = 5


@dataclass(frozen=True)
class Event:
    """An event as read from the channel: its id, who it is for, the message (JSON bytes)."""

    id: int
    recipients: tuple[str, ...]
    message: bytes


def _message(uid: str, event_type: int, attributes: DicomJson) -> DicomJson:
    return {
        Tag.AFFECTED_SOP_CLASS_UID: {"vr": "UI", "Value": [UPS_PUSH]},
        Tag.AFFECTED_SOP_INSTANCE_UID: {"vr": "UI", "Value": [uid]},
        Tag.EVENT_TYPE_ID: {"vr": "US", "Value": [event_type]},
        **attributes,
    }


def _copy(dataset: DicomJson, tags: Iterable[str]) -> DicomJson:
    return {tag: dataset[tag] for tag in tags if tag in dataset}


def state_report(uid: str, dataset: DicomJson) -> DicomJson:
    """State Report: the state and the input readiness; for CANCELED the reason and codes of
    the last progress item (Table CC.2.4-1, Event Type 1)."""
    attributes = {
        Tag.STATE: dataset.get(Tag.STATE, empty(Tag.STATE)),
        Tag.INPUT_READINESS: dataset.get(Tag.INPUT_READINESS, empty(Tag.INPUT_READINESS)),
    }
    if value(dataset, Tag.STATE) == [State.CANCELED.value]:
        progress = value(dataset, Tag.PROGRESS_INFORMATION)
        last = progress[-1] if progress and isinstance(progress[-1], dict) else {}
        attributes |= _copy(last, (Tag.REASON_FOR_CANCELLATION, Tag.DISCONTINUATION_REASONS))
    return _message(uid, EventType.STATE_REPORT, attributes)


def cancel_requested(uid: str, request: DicomJson) -> DicomJson:
    """Cancel Requested (Event Type 2): who asked, why, and whom to contact."""
    tags = (
        Tag.REQUESTING_AE,
        Tag.REASON_FOR_CANCELLATION,
        Tag.DISCONTINUATION_REASONS,
        Tag.CONTACT_URI,
        Tag.CONTACT_NAME,
    )
    return _message(uid, EventType.CANCEL_REQUESTED, _copy(request, tags))


def progress_report(uid: str, dataset: DicomJson) -> DicomJson:
    """Progress Report (Event Type 3): the Procedure Step Progress Information Sequence."""
    return _message(uid, EventType.PROGRESS_REPORT, _copy(dataset, (Tag.PROGRESS_INFORMATION,)))


def assigned(uid: str, dataset: DicomJson) -> DicomJson:
    """UPS Assigned (Event Type 5): the scheduled stations and human performers."""
    tags = (Tag.STATION_NAMES, Tag.HUMAN_PERFORMERS)
    return _message(uid, EventType.ASSIGNED, _copy(dataset, tags))


def emit(conn: Connection, recipients: list[str], message: DicomJson) -> None:
    """Write an event for ``recipients`` in the caller's transaction (nothing when none)."""
    if not recipients:
        return
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_EMIT_LOCK_KEY})")
    now = time.time()
    conn.execute(delete(ups_events).where(ups_events.c.created < now - KEEP_SECONDS))
    conn.execute(
        insert(ups_events).values(
            created=now,
            recipients="\\".join(recipients),
            message=orjson.dumps(message, option=orjson.OPT_SORT_KEYS),
        )
    )


def event_id_before(conn: Connection, created: float) -> int:
    """The id of the newest event made before ``created`` (0 when none): where a reader that
    wants the events from that moment on starts."""
    statement = select(func.coalesce(func.max(ups_events.c.id), 0)).where(
        ups_events.c.created < created
    )
    return int(conn.execute(statement).scalar_one())


def events_after(conn: Connection, last: int, limit: int = 500) -> list[Event]:
    """The events after id ``last``, oldest first."""
    statement = (
        select(ups_events.c.id, ups_events.c.recipients, ups_events.c.message)
        .where(ups_events.c.id > last)
        .order_by(ups_events.c.id)
        .limit(limit)
    )
    return [_event(row) for row in conn.execute(statement)]


def unclaimed_by_dimse(conn: Connection, last: int) -> bool:
    """Whether an event after id ``last`` waits for a DIMSE process to take it."""
    statement = (
        select(ups_events.c.id)
        .where(ups_events.c.id > last, ups_events.c.dimse_claimed.is_(False))
        .limit(1)
    )
    return conn.execute(statement).first() is not None


def claim_for_dimse(conn: Connection, last: int, limit: int = 100) -> list[Event]:
    """The events after id ``last`` that no DIMSE process has taken yet, now taken by the
    caller (in its write transaction): each N-EVENT-REPORT goes out from one process only,
    however many DIMSE processes share the index."""
    statement = (
        select(ups_events.c.id, ups_events.c.recipients, ups_events.c.message)
        .where(ups_events.c.id > last, ups_events.c.dimse_claimed.is_(False))
        .order_by(ups_events.c.id)
        .limit(limit)
    )
    taken = []
    for row in conn.execute(statement).all():
        claimed = conn.execute(
            update(ups_events)
            .where(ups_events.c.id == row.id, ups_events.c.dimse_claimed.is_(False))
            .values(dimse_claimed=True)
        )
        if claimed.rowcount == 1:
            taken.append(_event(row))
    return taken


def _event(row: Any) -> Event:
    return Event(int(row.id), tuple(row.recipients.split("\\")), bytes(row.message))
