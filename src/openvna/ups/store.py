"""SQL of the workitem service: rows of ``workitems`` and ``ups_subscriptions`` on a connection.

Each function runs inside a transaction the service opened (``Workitems._write``/``_read``), so a
state change, the subscriptions it touches and the events it emits commit together or not at all.
A workitem read for a change is locked (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's write
transactions begin IMMEDIATE, one writer at a time), so two performers claiming one workitem
cannot both win.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, and_, delete, func, insert, select, true, update

from openvna.dicom.json import DicomJson
from openvna.dicom.matching import MatchTerm, Range
from openvna.index.sqlmatch import condition
from openvna.ups.model import FILTERED_GLOBAL, GLOBAL, Tag, first_value
from openvna.ups.tables import ups_subscriptions, workitems

__all__ = [
    "Stored",
    "Subscription",
    "add_subscription",
    "count",
    "global_subscriptions",
    "insert_workitem",
    "read_workitem",
    "remove_subscriptions",
    "search",
    "sql_condition",
    "subscribers",
    "subscriptions_of",
    "suspend_global",
    "write_workitem",
]


@dataclass(frozen=True)
class Stored:
    """A workitem as kept: its dataset (without the Transaction UID) and the lock."""

    uid: str
    dataset: DicomJson
    transaction_uid: str


@dataclass(frozen=True)
class Subscription:
    ae_title: str
    workitem_uid: str
    deletion_lock: bool
    suspended: bool
    filter: list[tuple[str, str]] | None


_OFFSET = re.compile(r"[+-]\d{4}$")
# Attributes matched in SQL, on their column, with sqlmatch's kind; other keys are matched on
# the stored JSON (ups.matching).
_COLUMNS: dict[int, tuple[str, str]] = {
    0x00741000: ("state", "text"),
    0x00741200: ("priority", "text"),
    0x00741204: ("label", "text"),
    0x00741202: ("worklist_label", "text"),
    0x00404041: ("input_readiness", "text"),
    0x00100020: ("patient_id", "text"),
    0x00100010: ("patient_name_upper", "pn"),
    0x00080018: ("uid", "text"),
}


def sql_condition(term: MatchTerm, fuzzy: bool) -> ColumnElement[bool] | None:
    """The term as a condition on a column of ``workitems``, or None when it is matched on the
    stored JSON."""
    if term.sequence is None and term.tag == _START and isinstance(term, Range):
        return _start_range(term)
    mapped = _COLUMNS.get(term.tag) if term.sequence is None else None
    if mapped is None:
        return None
    name, kind = mapped
    return condition(workitems.c[name], kind, term, fuzzy)


_START = 0x00404005  # Scheduled Procedure Step Start DateTime, the ``start_datetime`` column


def _start_range(term: Range) -> ColumnElement[bool]:
    """A DT range on ``start_datetime`` as ``ups.matching`` reads one: a bound given to the day
    (or the hour...) takes in the whole of it, so the end compares the leading digits; offsets
    are not compared."""
    column = workitems.c.start_datetime
    parts: list[ColumnElement[bool]] = [column != ""]
    low = term.low and _OFFSET.sub("", term.low)
    high = term.high and _OFFSET.sub("", term.high)
    if low:
        parts.append(column >= low)
    if high:
        parts.append(func.substr(column, 1, len(high)) <= high)
    return and_(*parts)


def _columns(uid: str, dataset: DicomJson, transaction_uid: str) -> dict[str, Any]:
    name = first_value(dataset, Tag.PATIENT_NAME)
    return {
        "uid": uid,
        "state": first_value(dataset, Tag.STATE) or "",
        "priority": first_value(dataset, Tag.PRIORITY) or "",
        "label": first_value(dataset, Tag.LABEL) or "",
        "worklist_label": first_value(dataset, Tag.WORKLIST_LABEL) or "",
        "input_readiness": first_value(dataset, Tag.INPUT_READINESS) or "",
        "patient_id": first_value(dataset, Tag.PATIENT_ID) or "",
        "patient_name_upper": str((name or {}).get("Alphabetic", "")).upper(),
        "start_datetime": first_value(dataset, Tag.START_DATETIME) or "",
        "transaction_uid": transaction_uid,
        "json": orjson.dumps(dataset, option=orjson.OPT_SORT_KEYS),
    }


def insert_workitem(conn: Connection, uid: str, dataset: DicomJson) -> bool:
    """Add a workitem; False (and nothing written) when its UID exists."""
    if conn.execute(select(workitems.c.pk).where(workitems.c.uid == uid)).first():
        return False
    conn.execute(insert(workitems).values(_columns(uid, dataset, "")))
    return True


def read_workitem(conn: Connection, uid: str, *, lock: bool = False) -> Stored | None:
    statement = select(workitems.c.json, workitems.c.transaction_uid).where(workitems.c.uid == uid)
    if lock and conn.dialect.name == "postgresql":
        statement = statement.with_for_update()
    row = conn.execute(statement).first()
    if row is None:
        return None
    return Stored(uid, orjson.loads(row.json), row.transaction_uid)


def write_workitem(conn: Connection, uid: str, dataset: DicomJson, transaction_uid: str) -> None:
    conn.execute(
        update(workitems)
        .where(workitems.c.uid == uid)
        .values(_columns(uid, dataset, transaction_uid))
    )


def search(
    conn: Connection, conditions: list[ColumnElement[bool]], offset: int, limit: int | None
) -> list[DicomJson]:
    """Workitems meeting ``conditions``, in creation order (stable pages, PS3.18 §8.3.4.4)."""
    statement = select(workitems.c.json).where(and_(true(), *conditions)).order_by(workitems.c.pk)
    if offset:
        statement = statement.offset(offset)
    if limit is not None:
        statement = statement.limit(limit)
    return [orjson.loads(row.json) for row in conn.execute(statement)]


def count(conn: Connection, conditions: list[ColumnElement[bool]]) -> int:
    statement = select(func.count()).select_from(workitems).where(and_(true(), *conditions))
    return int(conn.execute(statement).scalar_one())


def all_workitems(conn: Connection) -> Iterable[tuple[str, DicomJson]]:
    for row in conn.execute(select(workitems.c.uid, workitems.c.json).order_by(workitems.c.pk)):
        yield row.uid, orjson.loads(row.json)


def add_subscription(conn: Connection, subscription: Subscription) -> None:
    """Add or replace a subscription (a second subscribe changes its deletion lock/filter)."""
    key = and_(
        ups_subscriptions.c.ae_title == subscription.ae_title,
        ups_subscriptions.c.workitem_uid == subscription.workitem_uid,
    )
    conn.execute(delete(ups_subscriptions).where(key))
    conn.execute(
        insert(ups_subscriptions).values(
            ae_title=subscription.ae_title,
            workitem_uid=subscription.workitem_uid,
            deletion_lock=subscription.deletion_lock,
            suspended=subscription.suspended,
            filter=None if subscription.filter is None else orjson.dumps(subscription.filter),
        )
    )


def remove_subscriptions(conn: Connection, ae_title: str, workitem_uid: str | None) -> int:
    """Remove one subscription, or every one of the AE title (``None``); how many went."""
    where = ups_subscriptions.c.ae_title == ae_title
    if workitem_uid is not None:
        where = and_(where, ups_subscriptions.c.workitem_uid == workitem_uid)
    return int(conn.execute(delete(ups_subscriptions).where(where)).rowcount)


def suspend_global(conn: Connection, ae_title: str, workitem_uid: str) -> bool:
    result = conn.execute(
        update(ups_subscriptions)
        .where(
            ups_subscriptions.c.ae_title == ae_title,
            ups_subscriptions.c.workitem_uid == workitem_uid,
        )
        .values(suspended=True)
    )
    return bool(result.rowcount)


def subscribers(conn: Connection, workitem_uid: str) -> list[str]:
    """AE titles subscribed to one workitem, in a stable order."""
    statement = (
        select(ups_subscriptions.c.ae_title)
        .where(ups_subscriptions.c.workitem_uid == workitem_uid)
        .order_by(ups_subscriptions.c.ae_title)
    )
    return [row.ae_title for row in conn.execute(statement)]


def global_subscriptions(conn: Connection) -> list[Subscription]:
    """The global and filtered global subscriptions that are not suspended."""
    statement = select(ups_subscriptions).where(
        ups_subscriptions.c.workitem_uid.in_([GLOBAL, FILTERED_GLOBAL]),
        ups_subscriptions.c.suspended.is_(False),
    )
    return [_subscription(row) for row in conn.execute(statement)]


def subscriptions_of(conn: Connection, ae_title: str) -> list[Subscription]:
    statement = select(ups_subscriptions).where(ups_subscriptions.c.ae_title == ae_title)
    return [_subscription(row) for row in conn.execute(statement)]


def _subscription(row: Any) -> Subscription:
    raw = orjson.loads(row.filter) if row.filter is not None else None
    return Subscription(
        row.ae_title,
        row.workitem_uid,
        bool(row.deletion_lock),
        bool(row.suspended),
        None if raw is None else [(str(name), str(text)) for name, text in raw],
    )
