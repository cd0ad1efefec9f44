"""Opening the index: SQLAlchemy engine settings per backend and the schema.

SQLite (the embedded default) runs in WAL mode with ``synchronous=NORMAL`` (durable at each
checkpoint, never corrupt; DESIGN.md "Measured limits"), a busy timeout for other processes,
foreign keys on, and ``case_sensitive_like`` so LIKE matches case-sensitively as PS3.4 C.2.2.2.4
requires. PostgreSQL needs nothing special: ``postgresql+psycopg://...``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import (
    Connection,
    Engine,
    Table,
    create_engine,
    event,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.pool import StaticPool

from openvna.errors import IndexUnavailable
from openvna.index.core import WRITE_OPTION, Index, WriterLock, lock_file
from openvna.index.extract import body_part, reasons
from openvna.index.schema import (
    SCHEMA_VERSION,
    metadata,
    schema_info,
    series,
    studies,
    study_reasons,
    utc_stamp,
)

__all__ = ["create_index"]

_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=10000",
    "PRAGMA case_sensitive_like=ON",
)


def create_index(url: str) -> Index:
    """Connect to the index at ``url`` (SQLite or PostgreSQL); create missing tables."""
    try:
        engine = _engine(url)
    except ArgumentError as exc:
        raise IndexUnavailable(f"invalid index URL: {exc}") from exc
    try:
        with _schema_lock(engine):
            _require_known_schema(engine, url)
            metadata.create_all(engine)
            _record_schema_version(engine, url)
    except DBAPIError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise IndexUnavailable(f"index at {_safe(url)} unavailable: {reason}") from exc
    return Index(engine)


# Any constant shared by every openvna: the PostgreSQL advisory lock of schema creation.
_SCHEMA_LOCK_KEY = 0x6F70656E766E61  # "openvna"


@contextmanager
def _schema_lock(engine: Engine) -> Iterator[None]:
    """Let one process at a time create or check the schema: any number of servers and
    imports may open a new index at the same moment, and the others wait for the first
    (without it SQLite's switch to WAL or a concurrent CREATE TABLE answered "database is
    locked" or a duplicate-table error to the losers). SQLite: the writers' lock (``WriterLock``,
    an exclusive ``flock`` on a file beside the database); PostgreSQL: a session advisory lock."""
    if engine.url.get_backend_name() == "sqlite":
        with WriterLock(lock_file(engine.url.database or "")):
            yield
        return
    with engine.connect() as connection:
        connection.exec_driver_sql(f"SELECT pg_advisory_lock({_SCHEMA_LOCK_KEY})")
        try:
            yield
        finally:
            connection.exec_driver_sql(f"SELECT pg_advisory_unlock({_SCHEMA_LOCK_KEY})")
            connection.commit()


def _require_known_schema(engine: Engine, url: str) -> None:
    """Tables without a version row were made by an older openvna: say so before anything
    else fails on a missing column."""
    tables = set(inspect(engine).get_table_names())
    if "instances" in tables and schema_info.name not in tables:
        engine.dispose()
        raise IndexUnavailable(
            f"the index at {_safe(url)} was created by an older openvna (no schema version); "
            f"this one needs schema version {SCHEMA_VERSION}: start with a new data directory "
            "or index URL and re-import the files"
        )


# The steps that bring an older schema up to this one in place (under the schema lock, in the
# version check's transaction), by the version they start from: version 1 lacked the instances'
# checksum (left NULL for their rows); version 2 the studies' change time (existing rows get the
# moment of the migration, "changed no later than": the index kept no earlier one), the series'
# body part and the studies' reasons (both read from the stored JSON, ``_fill_codes``); version
# 3 the SOP Class in the instances' study index.
Step = Callable[[Connection, str], None]


def _sql(statement: str) -> Step:
    def run(connection: Connection, now: str) -> None:
        connection.execute(text(statement), {"now": now})

    return run


def _add_body_part(connection: Connection, now: str) -> None:
    """The column as ``schema`` declares it (byte-ordered text on PostgreSQL)."""
    kind = series.c.body_part.type.compile(dialect=connection.dialect)
    connection.exec_driver_sql(
        f"ALTER TABLE series ADD COLUMN body_part {kind} DEFAULT '' NOT NULL"
    )
    connection.exec_driver_sql("CREATE INDEX ix_series_body_part ON series (body_part)")


def _fill_codes(connection: Connection, now: str) -> None:
    """Body parts and reasons of the rows indexed before they had columns of their own."""
    for pk, data in _stored_json(connection, series):
        part = body_part(orjson.loads(data))
        if part:
            connection.execute(update(series).where(series.c.pk == pk).values(body_part=part))
    for pk, data in _stored_json(connection, studies):
        rows = [{"study_fk": pk, "code": c, "scheme": s} for c, s in reasons(orjson.loads(data))]
        if rows:
            connection.execute(insert(study_reasons), rows)


def _stored_json(connection: Connection, table: Table) -> Iterator[tuple[int, bytes]]:
    """(pk, stored JSON) of every row, read a thousand at a time (an archive's worth of JSON
    is not held in memory at once)."""
    last = 0
    while True:
        rows = connection.execute(
            select(table.c.pk, table.c.json)
            .where(table.c.pk > last)
            .order_by(table.c.pk)
            .limit(1000)
        ).all()
        yield from ((row.pk, bytes(row.json)) for row in rows)
        if len(rows) < 1000:
            return
        last = rows[-1].pk


_MIGRATIONS_FROM: dict[int, tuple[Step, ...]] = {
    1: (_sql("ALTER TABLE instances ADD COLUMN checksum VARCHAR(32)"),),
    2: (
        _sql("ALTER TABLE studies ADD COLUMN updated VARCHAR(32) DEFAULT '' NOT NULL"),
        _sql("UPDATE studies SET updated = :now"),
        _sql("CREATE INDEX ix_studies_updated ON studies (updated)"),
        _add_body_part,
        _fill_codes,
    ),
    3: (
        _sql("DROP INDEX ix_instances_study"),
        _sql("CREATE INDEX ix_instances_study ON instances (study_fk, sop_class_uid)"),
    ),
}


def _record_schema_version(engine: Engine, url: str) -> None:
    with (
        engine.connect().execution_options(**{WRITE_OPTION: True}) as connection,
        connection.begin(),
    ):
        versions = [row.version for row in connection.execute(select(schema_info.c.version))]
        if not versions:
            connection.execute(insert(schema_info).values(version=SCHEMA_VERSION))
            return
        if len(versions) == 1 and versions[0] in _MIGRATIONS_FROM:
            now = utc_stamp()
            for version in range(versions[0], SCHEMA_VERSION):
                for step in _MIGRATIONS_FROM[version]:
                    step(connection, now)
            connection.execute(update(schema_info).values(version=SCHEMA_VERSION))
            return
    if versions != [SCHEMA_VERSION]:
        engine.dispose()
        raise IndexUnavailable(
            f"the index at {_safe(url)} has schema version {versions[0]}; this openvna needs "
            f"version {SCHEMA_VERSION}: start with a new data directory or index URL and "
            "re-import the files"
        )


def _engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        # One in-memory database shared by every thread (tests, demos): one connection.
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, pool_size=10, max_overflow=10)
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # SQLAlchemy's "begin" event below issues BEGIN itself (pysqlite's own deferred BEGIN comes
    # only before the first write, after the reads that decided it).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in _SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    """Writes take SQLite's write lock at BEGIN (waiting up to busy_timeout), so another
    process (``openvna import`` beside ``openvna serve``) can never change what a write
    transaction read before its first write; reads begin deferred and run in parallel (WAL)."""
    immediate = conn.get_execution_options().get(WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)
