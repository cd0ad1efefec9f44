"""archive.jobs: a job's row from Pending to its end, with its counts, failed UIDs and error, as
any process reading the index sees it."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy import insert

from openvna.archive import Archive
from openvna.archive.jobs import RUNNING_PER_PROCESS, Job, Jobs, JobState, jobs_table
from openvna.archive.scu import CANCEL, Cancelled, Transfer
from openvna.errors import BadGateway, NotFound

Progress = Callable[[Transfer, int], None]


def _ended(jobs: Jobs, job: Job) -> Job:
    deadline = time.monotonic() + 30
    while True:
        current = jobs.get(job.id)
        if current.state in (JobState.SUCCESS, JobState.FAILURE):
            return current
        assert time.monotonic() < deadline, current
        time.sleep(0.01)


def test_a_job_runs_reports_progress_and_succeeds(archive: Archive) -> None:
    jobs = Jobs(archive)
    release = threading.Event()
    running = threading.Event()

    def work(progress: Progress) -> Transfer:
        progress(Transfer(completed=1), 3)
        running.set()
        release.wait(30)
        return Transfer(completed=3)

    job = jobs.submit("store", "PACS", {"resources": [{"StudyInstanceUID": "1.2"}]}, work)
    assert job.state in (JobState.PENDING, JobState.RUNNING)
    assert running.wait(30)
    middle = jobs.get(job.id)
    assert middle.state is JobState.RUNNING
    assert (middle.total, middle.completed, middle.remaining) == (3, 1, 2)
    release.set()
    done = _ended(jobs, job)
    assert done.state is JobState.SUCCESS
    assert (done.total, done.completed, done.failed, done.remaining) == (3, 3, 0, 0)
    assert done.detail == {
        "request": {"resources": [{"StudyInstanceUID": "1.2"}]},
        "failed_uids": [],
    }
    assert [j.id for j in Jobs(archive).recent()] == [job.id]  # another Jobs sees it


@pytest.mark.parametrize(
    ("outcome", "error"),
    [
        (Transfer(completed=1, failed=1, failed_uids=["1.2.3"], status=0xB000), "1 failed"),
        (BadGateway("PACS did not answer"), "PACS did not answer"),
        (RuntimeError("a bug"), "internal error; the server log has the details"),
    ],
)
def test_a_job_that_fails_says_why(
    archive: Archive, outcome: Transfer | Exception, error: str
) -> None:
    jobs = Jobs(archive)

    def work(progress: Progress) -> Transfer:
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    done = _ended(jobs, jobs.submit("move", "PACS", {}, work))
    assert done.state is JobState.FAILURE
    assert error in done.detail["error"]
    if isinstance(outcome, Transfer):
        assert done.detail["failed_uids"] == ["1.2.3"]
        assert (done.completed, done.failed) == (1, 1)


def test_an_unknown_job(archive: Archive) -> None:
    with pytest.raises(NotFound):
        Jobs(archive).get("nosuchjob")


def test_a_cancelled_job_stops_at_its_next_report(archive: Archive) -> None:
    jobs = Jobs(archive)
    running, asked = threading.Event(), threading.Event()

    def work(progress: Progress) -> Transfer:
        result = Transfer(completed=1)
        running.set()
        asked.wait(30)  # the first instance is out when the cancel comes
        try:
            progress(result, 3)
        except Cancelled:
            result.status = CANCEL
            return result
        raise AssertionError("the job went on after it was cancelled")

    job = jobs.submit("store", "PACS", {}, work)
    assert running.wait(30)
    assert jobs.cancel(job.id).cancel
    asked.set()
    done = _ended(jobs, job)
    assert done.state is JobState.FAILURE
    assert done.detail["error"] == "cancelled after 1 sub-operation(s)"
    assert (done.completed, done.total) == (1, 3)


def test_a_job_cancelled_while_pending_never_starts(archive: Archive) -> None:
    jobs = Jobs(archive)
    gate = threading.Semaphore(0)
    holding = threading.Semaphore(0)
    started: list[str] = []

    def blocking(progress: Progress) -> Transfer:
        holding.release()
        gate.acquire(timeout=30)
        return Transfer()

    def work(progress: Progress) -> Transfer:
        started.append("yes")
        return Transfer()

    busy = [jobs.submit("send", "PACS", {}, blocking) for _ in range(RUNNING_PER_PROCESS)]
    for _ in busy:  # every slot of this process is taken
        assert holding.acquire(timeout=30)
    waiting = jobs.submit("send", "PACS", {}, work)
    assert jobs.cancel(waiting.id).state is JobState.PENDING
    for _ in busy:
        gate.release()
    for job in busy:
        assert _ended(jobs, job).state is JobState.SUCCESS
    done = _ended(jobs, waiting)
    assert done.detail["error"] == "cancelled before it started"
    assert started == []


def test_a_job_whose_process_has_ended_is_a_failure(archive: Archive) -> None:
    jobs = Jobs(archive)
    dead = subprocess.Popen(["true"])  # a pid that no longer runs
    dead.wait()
    row = {
        "id": "orphan",
        "kind": "store",
        "remote": "PACS",
        "state": JobState.RUNNING.value,
        "created": 1.0,
        "updated": 1.0,
        "detail": b'{"request": {}}',
        "owner": f"{socket.gethostname()}:{dead.pid}",
    }
    with archive.index.engine.begin() as conn:
        conn.execute(insert(jobs_table).values(**row))
    [listed] = jobs.recent()
    assert listed.state is JobState.FAILURE
    assert listed.detail["error"] == f"stopped: its process ({row['owner']}) has ended"
    assert jobs.get("orphan").state is JobState.FAILURE
