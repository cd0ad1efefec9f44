"""``/api/jobs``: the transfers the admin REST SCU started (``archive.jobs``), as Orthanc's
``/jobs`` shows its own: ``GET /api/jobs`` (the latest, newest first) and ``GET /api/jobs/{id}``
(404 when unknown), each with its state (Pending, Running, Success, Failure) and progress
(sub-operations completed, failed, warning and remaining, PS3.4 C.4.2.1.5);
``POST /api/jobs/{id}/cancel`` (Orthanc's form) asks a Pending or Running job to stop: 202, the
job ending soon after as a Failure that says it was cancelled; 200 for one that had ended."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openvna.archive.jobs import Job, Jobs, JobState
from openvna.web.admin.remotes import json_response
from openvna.web.context import archive_of

__all__ = ["JOBS_PATH", "job_body", "jobs_of", "routes"]

JOBS_PATH = "/api/jobs"


def jobs_of(request: Request) -> Jobs:
    """The app's jobs (made at the first use: the table is created then if it is missing)."""
    state = request.app.state
    jobs = getattr(state, "jobs", None)
    if not isinstance(jobs, Jobs):
        jobs = state.jobs = Jobs(archive_of(request))
    return jobs


def job_body(job: Job) -> dict[str, Any]:
    detail = job.detail
    return {
        "id": job.id,
        "url": f"{JOBS_PATH}/{job.id}",
        "type": job.kind,
        "remote": job.remote,
        "state": job.state.value,
        "progress": {
            "total": job.total,
            "completed": job.completed,
            "failed": job.failed,
            "warning": job.warning,
            "remaining": job.remaining,
        },
        "cancel_requested": job.cancel,
        "failed_uids": detail.get("failed_uids", []),
        "error": detail.get("error"),
        "request": detail.get("request", {}),
        "created": _time(job.created),
        "updated": _time(job.updated),
    }


def _time(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, UTC).isoformat(timespec="seconds")


async def list_jobs(request: Request) -> Response:
    jobs = await run_in_threadpool(jobs_of(request).recent)
    return json_response([job_body(job) for job in jobs])


async def get_job(request: Request) -> Response:
    job = await run_in_threadpool(jobs_of(request).get, request.path_params["id"])
    return json_response(job_body(job))


async def cancel_job(request: Request) -> Response:
    job = await run_in_threadpool(jobs_of(request).cancel, request.path_params["id"])
    ended = job.state in (JobState.SUCCESS, JobState.FAILURE)
    return json_response(job_body(job), 200 if ended else 202)


routes = [
    Route("/jobs", list_jobs, methods=["GET"]),
    Route("/jobs/{id}", get_job, methods=["GET"]),
    Route("/jobs/{id}/cancel", cancel_job, methods=["POST"]),
]
