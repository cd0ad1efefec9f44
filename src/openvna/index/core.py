"""The ``Index`` service object: transactions, the SQLite writer lock and error translation.

SQLite allows one writer at a time, so writes are serialised by ``WriterLock``: among the threads
of a process (the web thread pool calls ``add_instance`` concurrently) and among the processes
writing to the index; readers run in parallel under WAL. On PostgreSQL writers run concurrently
and rely on upserts (see ``index.write``). Database failures become IndexUnavailable (503) at
this boundary; the service never sees SQLAlchemy errors.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import Protocol, TypeVar

from sqlalchemy import ColumnElement, Connection, Engine, func, select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import StaticPool

from openvna.dicom.json import DicomJson
from openvna.dicom.query import Query
from openvna.errors import IndexUnavailable
from openvna.index import read, retrieve, write
from openvna.index.records import AddResult, InstanceLocation, InstanceRecord, Page
from openvna.index.schema import instances, series, studies

__all__ = ["PAGE", "WRITE_OPTION", "Index", "Matches"]

# Execution option that marks a write transaction (SQLite: BEGIN IMMEDIATE, see index.engine).
WRITE_OPTION = "openvna_write"

T = TypeVar("T")
# PostgreSQL SQLSTATEs worth one more try: serialization failure, deadlock detected.
_RETRY_STATES = frozenset({"40001", "40P01"})
_ATTEMPTS = 3
# Results read per statement when a search has no limit (C-FIND): each page is its own short
# read, so a long C-FIND holds no transaction open while its pending responses go out.
PAGE = 500


def lock_file(database: str) -> str | None:
    """The file beside a SQLite database that its writers lock (None: a database in memory)."""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return f"{database}.lock"


class WriterLock:
    """SQLite's one writer at a time, taken before ``BEGIN IMMEDIATE``: a lock of this
    process's threads and, for a database in a file, an exclusive ``flock`` on ``path``, which
    every process writing to it takes (``openvna serve``'s HTTP workers and DIMSE processes,
    ``openvna import``). Without it, a process finding another's write under way slept in
    SQLite's busy handler, 1 ms first then longer, however soon the write ended: with two
    C-STORE associations in two processes, a tenth of the index writes took over 1.8-2.1 ms
    (1.4-1.65 ms with it; the median 0.7 ms either way). A ``flock`` waiter wakes when the lock
    is released. Reentrant in a thread; the file is opened per process (a descriptor inherited
    through ``fork`` would share its lock)."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._threads = threading.RLock()
        self._depth = 0
        self._fd = -1
        self._pid = 0

    def __enter__(self) -> WriterLock:
        self._threads.acquire()
        try:
            if self._depth == 0 and self.path is not None:
                fcntl.flock(self._descriptor(), fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise
        self._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        try:
            if self._depth == 0 and self.path is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def _descriptor(self) -> int:
        if self._pid != os.getpid():
            assert self.path is not None
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            self._pid = os.getpid()
            weakref.finalize(self, os.close, self._fd)
        return self._fd


class Index:
    """The SQL index of one archive (docs/internals.md, ``openvna.index``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._write_lock: contextlib.AbstractContextManager[object] = (
            WriterLock(lock_file(engine.url.database or ""))
            if engine.dialect.name == "sqlite"
            else contextlib.nullcontext()
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

    def find(self, query: Query) -> Matches:
        """The matches of a QIDO-RS / C-FIND / FHIR search, read as the caller iterates."""
        return Matches(self._read, query)

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

    def run_read(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` on a read connection, errors translated: for the index's modules beside
        the DICOM tables (``index.resources``, the FHIR write-back)."""
        return self._read(work)

    def run_write(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in a write transaction (retried on a serialization failure)."""
        return self._write(work)

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


class _Reader(Protocol):
    """``Index._read``: runs a function on a read connection."""

    def __call__(self, work: Callable[[Connection], T]) -> T: ...


class Matches:
    """The results of a search, as a stream: each page is read when the caller gets to it, so
    a caller that stops early (C-FIND's C-CANCEL, PS3.4 C.4.1.3.2) reads no more.

    A search with a limit reads its whole page in one statement, as QIDO-RS asks for one page;
    one without reads ``PAGE`` results a statement. Pages are offsets in a stable order, so an
    instance stored while a long search runs can shift the pages after it by one.
    """

    def __init__(self, reader: _Reader, query: Query) -> None:
        self._read = reader
        self.query = query
        self._plan = read.plan(query)

    @property
    def unsupported(self) -> list[str]:
        """Keywords of match keys the index cannot match at this level: ignored, and their
        attributes returned (PS3.18 §8.3.4.1: the origin server warns)."""
        return self._plan.unsupported

    def __iter__(self) -> Iterator[DicomJson]:
        query, plan = self.query, self._plan
        offset, left = query.offset, query.limit
        while left is None or left > 0:
            size = PAGE if left is None else left
            found = self._read(
                partial(read.page, query=query, plan=plan, offset=offset, limit=size)
            )
            yield from found
            if len(found) < size:
                return
            offset += size
            left = None if left is None else left - size

    def page(self) -> Page:
        """The query's page of results, and how many matches lie beyond it (counted only when
        the page is full: PS3.18 §8.3.4.2 lets QIDO-RS warn that there are more)."""
        datasets = list(self)
        limit = self.query.limit
        remaining = 0
        if limit is not None and len(datasets) == limit:
            remaining = max(0, self.count() - self.query.offset - len(datasets))
        return Page(datasets, remaining, self.unsupported)

    def count(self) -> int:
        """How many entities match, paging aside (QIDO-RS's Warning about further results)."""
        return self._read(partial(read.count, query=self.query, plan=self._plan))


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
