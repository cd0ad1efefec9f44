"""The workitem tables, on the index's shared ``metadata`` (SQLite and PostgreSQL alike).

- ``workitems``: one row a UPS; the attributes SearchForUPS matches most (state, priority,
  labels, patient, scheduled start) copied into columns of the same kind as the study table's
  (byte-ordered text, PN upper-cased), the whole workitem as DICOM JSON bytes, and the
  Transaction UID (0008,1195) that locks a claimed workitem (PS3.4 CC.1.1), kept in a column so
  it never leaks into what RetrieveUPS returns.
- ``ups_subscriptions``: one row per (AE title, workitem) subscription, and one per AE title
  for a global (``GLOBAL``) or filtered global (``FILTERED_GLOBAL``) subscription, with its
  deletion lock, its suspension and its filter (PS3.4 CC.2.3).
- ``ups_events``: the cross-process event channel (``openvna.ups.events``): each event a row
  with its message and the AE titles it goes to, read by every server process's WebSocket hub.

The module is imported with ``openvna.ups``, which the web app imports, so the tables are in
``metadata`` before ``create_index`` runs ``create_all``; ``ensure_tables`` covers a process
that opened the index first.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    Engine,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
)
from sqlalchemy.types import TypeEngine

from openvna.index import schema
from openvna.index.schema import metadata

__all__ = [
    "ensure_tables",
    "ups_events",
    "ups_subscriptions",
    "workitems",
    "workitems_state_is",
]

_BYTES: TypeEngine[str] = String().with_variant(String(collation="C"), "postgresql")


def _text(name: str) -> Column[str]:
    return Column(name, _BYTES, nullable=False, server_default="")


workitems = Table(
    "workitems",
    metadata,
    Column("pk", Integer, primary_key=True),
    Column("uid", String(64), nullable=False, unique=True),
    _text("state"),
    _text("priority"),
    _text("label"),
    _text("worklist_label"),
    _text("input_readiness"),
    _text("patient_id"),
    _text("patient_name_upper"),
    _text("start_datetime"),
    _text("transaction_uid"),
    Column("json", LargeBinary, nullable=False),
    Index("ix_workitems_state_start", "state", "start_datetime"),
    Index("ix_workitems_patient_id", "patient_id"),
)

ups_subscriptions = Table(
    "ups_subscriptions",
    metadata,
    Column("ae_title", String(16), primary_key=True),
    Column("workitem_uid", String(64), primary_key=True),
    Column("deletion_lock", Boolean, nullable=False, server_default="0"),
    Column("suspended", Boolean, nullable=False, server_default="0"),
    Column("filter", LargeBinary, nullable=True),
    Index("ix_ups_subscriptions_workitem", "workitem_uid"),
)

ups_events = Table(
    "ups_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created", Float, nullable=False),
    # AE titles the event goes to, separated by backslashes (PS3.5: an AE title holds none).
    Column("recipients", String, nullable=False),
    Column("message", LargeBinary, nullable=False),
    # Set by the one DIMSE process that sends the event's N-EVENT-REPORTs (ups.events).
    Column("dimse_claimed", Boolean, nullable=False, server_default="0"),
    Index("ix_ups_events_created", "created"),
)


def workitems_state_is(state: str) -> ColumnElement[bool]:
    """Workitems in ``state``: the condition a worklist C-FIND starts from."""
    return workitems.c.state == state


_TABLES = (workitems, ups_subscriptions, ups_events)


def ensure_tables(engine: Engine) -> None:
    """Create the workitem tables an older index lacks."""
    schema.ensure_tables(engine, _TABLES)
