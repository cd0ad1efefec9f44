"""Jobs: long transfers with a remote node (send, move, get, retrieve) run in the background,
their progress kept in the index (like Orthanc's ``/jobs``), so that any process of one
``serve`` (HTTP workers share nothing else) answers how a job started by another one stands.

A job runs on a thread of the process that accepted it, at most ``RUNNING_PER_PROCESS`` at once
(the others wait as Pending). Its row is written when it starts, as it goes (at most every
``_WRITE_EVERY`` seconds: a send of thousands of instances does not commit once per instance)
and when it ends, with the sub-operation counts (PS3.4 C.4.2.1.5), the failed SOP Instance UIDs
and, for a failure, why. ``cancel`` (from any process) marks the row; the job reads the mark at
each progress report and stops (``archive.scu.Cancelled``: a C-CANCEL for a C-MOVE or C-GET).
A job whose process has stopped (a crash, a restart) is found out when it is read on the same
host (its ``owner`` is ``host:pid``) and ends as a Failure that says so; on another host of a
scale-out it shows Running until it is read where it ran.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

import orjson
from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    Float,
    Integer,
    LargeBinary,
    String,
    Table,
    false,
    insert,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError

from openvna.archive.scu import CANCEL, Cancelled, Progress, Transfer
from openvna.archive.service import Archive
from openvna.errors import ArchiveError, IndexUnavailable, NotFound
from openvna.index.core import WRITE_OPTION
from openvna.index.schema import ensure_tables, metadata

__all__ = ["RUNNING_PER_PROCESS", "Job", "JobState", "Jobs", "Work", "jobs_table"]

log = logging.getLogger("openvna.archive")

RUNNING_PER_PROCESS = 2
_HOST = socket.gethostname()
_WRITE_EVERY = 0.5  # seconds between progress writes of one job
_LISTED = 100

jobs_table = Table(
    "jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("remote", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("created", Float, nullable=False),
    Column("updated", Float, nullable=False),
    Column("total", Integer, nullable=False, server_default="0"),
    Column("completed", Integer, nullable=False, server_default="0"),
    Column("failed", Integer, nullable=False, server_default="0"),
    Column("warning", Integer, nullable=False, server_default="0"),
    # JSON: {"request": what was asked, "failed_uids": [...], "error": why it failed}
    Column("detail", LargeBinary, nullable=False),
    # Set by ``cancel`` (in any process), read by the job's own at each progress report.
    Column("cancel", Boolean, nullable=False, server_default=false()),
    # host:pid of the process running it.
    Column("owner", String(300), nullable=False, server_default=""),
)


class JobState(Enum):
    """Orthanc's job states, those that apply (no pause, no retry)."""

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCESS = "Success"
    FAILURE = "Failure"


_UNFINISHED = (JobState.PENDING.value, JobState.RUNNING.value)


@dataclass(frozen=True)
class Job:
    id: str
    kind: str
    remote: str
    state: JobState
    created: float
    updated: float
    total: int
    completed: int
    failed: int
    warning: int
    detail: dict[str, Any]
    cancel: bool

    @property
    def remaining(self) -> int:
        return max(self.total - self.completed - self.failed - self.warning, 0)


# The work of a job: given a progress callback, the transfer it came to.
Work = Callable[[Progress], Transfer]
T = TypeVar("T")


class Jobs:
    """The jobs of one archive's index, and the runner of this process's jobs."""

    def __init__(self, archive: Archive) -> None:
        self._engine: Engine = archive.index.engine
        # An index made before jobs existed lacks the table.
        ensure_tables(self._engine, [jobs_table])
        self._slots = threading.BoundedSemaphore(RUNNING_PER_PROCESS)
        # SQLite: one writer at a time in this process (as the index and the workitems do).
        self._write_lock: contextlib.AbstractContextManager[object] = (
            threading.Lock() if self._engine.dialect.name == "sqlite" else contextlib.nullcontext()
        )

    def submit(self, kind: str, remote: str, request: dict[str, Any], work: Work) -> Job:
        """Record a Pending job and start it on a thread of its own."""
        now = time.time()
        job_id = uuid.uuid4().hex
        row = {
            "id": job_id,
            "kind": kind,
            "remote": remote,
            "state": JobState.PENDING.value,
            "created": now,
            "updated": now,
            "detail": orjson.dumps({"request": request}),
            "owner": f"{_HOST}:{os.getpid()}",
        }
        self._write(lambda conn: conn.execute(insert(jobs_table).values(**row)))
        thread = threading.Thread(
            target=self._run, args=(job_id, request, work), name=f"job-{job_id}", daemon=True
        )
        thread.start()
        return self.get(job_id)

    def get(self, job_id: str) -> Job:
        """One job; NotFound when no job has that id."""
        query = select(jobs_table).where(jobs_table.c.id == job_id)
        row = self._read(lambda conn: conn.execute(query).mappings().first())
        if row is None:
            raise NotFound(f"no job {job_id}")
        return self._alive(_job(row), row["owner"])

    def recent(self) -> list[Job]:
        """The latest jobs, newest first."""
        query = select(jobs_table).order_by(jobs_table.c.created.desc()).limit(_LISTED)
        rows = self._read(lambda conn: conn.execute(query).mappings().all())
        return [self._alive(_job(row), row["owner"]) for row in rows]

    def _alive(self, job: Job, owner: str) -> Job:
        """``job``, or, when it is unfinished and its process on this host is gone, the job
        ended as a Failure (once: the row is updated)."""
        host, _, pid = owner.rpartition(":")
        if (
            job.state.value not in _UNFINISHED
            or host != _HOST
            or _is_running(int(pid) if pid.isdigit() else 0)
        ):
            return job
        detail = {**job.detail, "error": f"stopped: its process ({owner}) has ended"}
        self._end(job.id, JobState.FAILURE, detail)
        return self.get(job.id)

    def cancel(self, job_id: str) -> Job:
        """Ask a Pending or Running job to stop (a no-op for one that has ended): it stops at
        its next progress report, a Failure saying it was cancelled. NotFound when unknown."""
        statement = (
            update(jobs_table)
            .where(jobs_table.c.id == job_id, jobs_table.c.state.in_(_UNFINISHED))
            .values(cancel=True)
        )
        self._write(lambda conn: conn.execute(statement))
        return self.get(job_id)

    def _cancelled(self, job_id: str) -> bool:
        query = select(jobs_table.c.cancel).where(jobs_table.c.id == job_id)
        return bool(self._read(lambda conn: conn.execute(query).scalar()))

    def _run(self, job_id: str, request: dict[str, Any], work: Work) -> None:
        with self._slots:
            detail: dict[str, Any] = {"request": request}
            if self._cancelled(job_id):
                detail["error"] = "cancelled before it started"
                self._end(job_id, JobState.FAILURE, detail)
                return
            self._update(job_id, state=JobState.RUNNING.value)
            last = 0.0
            announced = 0  # the total the work last reported (a cancelled job keeps it)

            def progress(transfer: Transfer, total: int) -> None:
                nonlocal last, announced
                announced = max(announced, total)
                if time.monotonic() - last >= _WRITE_EVERY:
                    last = time.monotonic()
                    self._update(job_id, **_counts(transfer, total))
                if self._cancelled(job_id):
                    raise Cancelled

            try:
                result = work(progress)
            except ArchiveError as exc:
                detail["error"] = exc.message
                self._end(job_id, JobState.FAILURE, detail)
                return
            except Exception:
                log.exception("job %s failed", job_id)
                detail["error"] = "internal error; the server log has the details"
                self._end(job_id, JobState.FAILURE, detail)
                return
            detail["failed_uids"] = result.failed_uids
            if result.status == CANCEL:
                detail["error"] = f"cancelled after {result.done} sub-operation(s)"
            elif not result.ok:
                detail["error"] = f"final status {result.status:04X}, {result.failed} failed"
            state = JobState.SUCCESS if result.ok else JobState.FAILURE
            self._end(job_id, state, detail, _counts(result, announced))

    def _end(
        self,
        job_id: str,
        state: JobState,
        detail: dict[str, Any],
        counts: dict[str, int] | None = None,
    ) -> None:
        self._update(job_id, state=state.value, detail=orjson.dumps(detail), **(counts or {}))

    def _update(self, job_id: str, **values: Any) -> None:
        statement = (
            update(jobs_table)
            .where(jobs_table.c.id == job_id)
            .values(updated=time.time(), **values)
        )
        try:
            self._write(lambda conn: conn.execute(statement))
        except IndexUnavailable as exc:  # the job goes on; its next write may pass
            log.warning("job %s: progress not recorded: %s", job_id, exc.message)

    def _read(self, work: Callable[[Connection], T]) -> T:
        try:
            with self._engine.connect() as conn:
                return work(conn)
        except DBAPIError as exc:
            raise IndexUnavailable(f"the index cannot be read: {exc.orig}") from exc

    def _write(self, work: Callable[[Connection], Any]) -> None:
        try:
            with (
                self._write_lock,
                self._engine.connect().execution_options(**{WRITE_OPTION: True}) as conn,
                conn.begin(),
            ):
                work(conn)
        except DBAPIError as exc:
            raise IndexUnavailable(f"the index cannot be written: {exc.orig}") from exc


def _is_running(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def _counts(transfer: Transfer, total: int) -> dict[str, int]:
    return {
        "total": max(total, transfer.done),
        "completed": transfer.completed,
        "failed": transfer.failed,
        "warning": transfer.warning,
    }


def _job(row: Any) -> Job:
    return Job(
        id=row["id"],
        kind=row["kind"],
        remote=row["remote"],
        state=JobState(row["state"]),
        created=row["created"],
        updated=row["updated"],
        total=row["total"],
        completed=row["completed"],
        failed=row["failed"],
        warning=row["warning"],
        detail=orjson.loads(row["detail"]),
        cancel=bool(row["cancel"]),
    )
