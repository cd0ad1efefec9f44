"""The ``Index`` service object: transactions, the SQLite writer lock and error translation.

SQLite allows one writer at a time, so writes are serialised by a lock in this process (the web
thread pool calls ``add_instance`` concurrently) and readers run in parallel under WAL. On
PostgreSQL writers run concurrently and rely on upserts (see ``index.write``). Database failures
become IndexUnavailable (503) at this boundary; the service never sees SQLAlchemy errors.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from sqlalchemy import ColumnElement, Connection, Engine, func, select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import StaticPool

from openvna.dicom.query import Query
from openvna.errors import IndexUnavailable
from openvna.index import read, retrieve, write
from openvna.index.records import AddResult, FindResult, InstanceLocation, InstanceRecord
from openvna.index.schema import instances, series, studies

__all__ = ["WRITE_OPTION", "Index"]

# Execution option that marks a write transaction (SQLite: BEGIN IMMEDIATE, see index.engine).
WRITE_OPTION = "openvna_write"

T = TypeVar("T")
# PostgreSQL SQLSTATEs worth one more try: serialization failure, deadlock detected.
_RETRY_STATES = frozenset({"40001", "40P01"})
_ATTEMPTS = 3


class Index:
    """The SQL index of one archive (docs/internals.md, ``openvna.index``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._write_lock: contextlib.AbstractContextManager[object] = (
            threading.RLock() if engine.dialect.name == "sqlite" else contextlib.nullcontext()
        )
        # An in-memory SQLite database is one connection shared by all threads: readers too
        # must take turns on it.
        self._read_lock: contextlib.AbstractContextManager[object] = (
            self._write_lock if isinstance(engine.pool, StaticPool) else contextlib.nullcontext()
        )

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()

    def add_instance(self, record: InstanceRecord, *, replace: bool) -> AddResult:
        """Index one stored instance in one transaction (see ``write.add_instance``)."""
        return self._write(lambda conn: write.add_instance(conn, record, replace))

    def add_instances(self, records: Iterable[InstanceRecord], *, replace: bool) -> list[AddResult]:
        """Index several instances in one transaction (bulk import): all or none are indexed,
        and each touched series, study and patient is recounted once."""
        batch = list(records)
        return self._write(lambda conn: write.add_instances(conn, batch, replace))

    def find(self, query: Query) -> FindResult:
        """One page of QIDO-RS / C-FIND matches (see ``read.find``)."""
        return self._read(lambda conn: read.find(conn, query))

    def locate(
        self, study: str, series: str | None = None, sop: str | None = None
    ) -> list[InstanceLocation]:
        """The stored instances of a study, series or instance, in retrieval order."""
        return self._read(lambda conn: retrieve.locate(conn, study, series, sop))

    def metadata(self, study: str, series: str | None = None, sop: str | None = None) -> bytes:
        """A JSON array of the instances' metadata (base-marked), from stored bytes."""
        return self._read(lambda conn: retrieve.metadata(conn, study, series, sop))

    def delete(self, study: str, series: str | None = None, sop: str | None = None) -> list[str]:
        """Remove a study, series or instance; return the blob keys the caller must delete."""

        def run(conn: Connection) -> list[str]:
            retrieve.diagnose(conn, study, series, sop)
            return write.delete_instances(conn, _target(study, series, sop))

        return self._write(run)

    def count_instances(self) -> int:
        """How many instances are indexed."""
        return self._read(
            lambda conn: int(conn.execute(select(func.count()).select_from(instances)).scalar_one())
        )

    def _read(self, work: Callable[[Connection], T]) -> T:
        with self._translated(), self._read_lock, self.engine.connect() as conn:
            return work(conn)

    def _write(self, work: Callable[[Connection], T]) -> T:
        attempt = 1
        while True:
            try:
                with (
                    self._translated(),
                    self._write_lock,
                    self.engine.connect().execution_options(**{WRITE_OPTION: True}) as conn,
                    conn.begin(),
                ):
                    return work(conn)
            except IndexUnavailable as exc:
                if attempt >= _ATTEMPTS or not _retryable(exc.__cause__):
                    raise
                attempt += 1

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except OperationalError as exc:
            raise IndexUnavailable(f"index unavailable: {_reason(exc)}") from exc
        except DBAPIError as exc:
            if _sqlstate(exc) in _RETRY_STATES:
                raise IndexUnavailable(f"index busy: {_reason(exc)}") from exc
            raise
        except write.InstancesRaced as exc:
            raise IndexUnavailable(f"index busy: {exc}") from exc


def _target(study: str, series_uid: str | None, sop: str | None) -> ColumnElement[bool]:
    """The instances of a study, series or instance, as a condition on ``instances``."""
    joined = instances.join(series, series.c.pk == instances.c.series_fk).join(
        studies, studies.c.pk == instances.c.study_fk
    )
    chosen = select(instances.c.pk).select_from(joined)
    return instances.c.pk.in_(chosen.where(retrieve.target(study, series_uid, sop)))


def _reason(exc: DBAPIError) -> str:
    return str(exc.orig).strip().splitlines()[0][:200] if exc.orig else type(exc).__name__


def _retryable(cause: BaseException | None) -> bool:
    """A conflict with a concurrent transaction, which the next attempt will see committed."""
    return isinstance(cause, write.InstancesRaced) or _sqlstate(cause) in _RETRY_STATES


def _sqlstate(exc: BaseException | None) -> str | None:
    return getattr(getattr(exc, "orig", None), "sqlstate", None)
