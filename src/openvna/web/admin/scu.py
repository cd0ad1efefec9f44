"""The admin REST SCU (issue 9, "SCU ... from the admin REST API"): openvna asks a remote node of
the registry (``/api/remotes``) for something, over the ``archive.scu.Scu`` port the CLI uses.
Its shape follows Orthanc's ``/modalities/{id}/echo|query|move|store``.

- ``POST /api/remotes/{aet}/echo``: C-ECHO; ``{"aet", "status"}``.
- ``POST /api/remotes/{aet}/find`` ``{"level", "keys", "model"?}``: C-FIND; the matches as DICOM
  JSON. ``keys`` maps keywords (or ``ggggeeee`` tags) to a value, a list of values, ``null``
  (return key) or a DICOM JSON element; ``level`` is PATIENT, STUDY (default), SERIES or IMAGE,
  ``model`` ``study`` (default) or ``patient`` root.
- ``POST /api/remotes/{aet}/move`` ``{"level", "keys", "model"?, "destination"?}``: C-MOVE to
  ``destination`` (default: this archive's AE title).
- ``POST /api/remotes/{aet}/get`` (same body but ``destination``): C-GET into this archive.
- ``POST /api/remotes/{aet}/retrieve`` (same): C-FIND there, then a C-MOVE here per match.
- ``POST /api/remotes/{aet}/store`` ``{"resources": [{"StudyInstanceUID", "SeriesInstanceUID"?,
  "SOPInstanceUID"?}, ...]}``: send stored instances to the node ("send to remote modality").

Transfers answer ``202 Accepted`` with ``Location: /api/jobs/{id}`` and the job (``web.admin.
jobs``): a study of thousands of instances outlasts any HTTP timeout, and a job lets a page show
its progress and any client come back for the result. Errors: an unknown node 404, a node
without the right the operation needs 403 (``archive.exchange.needed_right``), a bad body 400,
nothing stored under a UID 404, the remote unreachable, rejecting the association (its reason)
or failing 502 with the message.
"""

from __future__ import annotations

from typing import Any

from pydicom import Dataset
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openvna.archive import exchange
from openvna.archive.jobs import Work
from openvna.archive.scu import Model, Progress, Remote, Scu, Transfer
from openvna.errors import BadGateway, BadRequest
from openvna.web.admin.jobs import job_body, jobs_of
from openvna.web.admin.remotes import json_body, json_response, registry_of
from openvna.web.context import archive_of, settings_of

__all__ = ["routes"]

_AET_LENGTH = 16  # PS3.5 Table 6.2-1, AE


def _scu(request: Request) -> Scu:
    """The app's SCU, made at the first use (an HTTP worker that never asks a remote node
    never loads the DIMSE stack)."""
    state = request.app.state
    if getattr(state, "scu", None) is None:
        state.scu = state.make_scu()
    scu: Scu = state.scu
    return scu


def _remote(request: Request, operation: str, destination: str = "") -> Remote:
    own = settings_of(request).dimse.ae_title
    right = exchange.needed_right(operation, destination, own)
    return exchange.remote_of(registry_of(request), request.path_params["aet"], right)


def _text(body: dict[str, Any], name: str, default: str) -> str:
    value = body.get(name, default)
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{name}: a non-empty string", attribute=name)
    return value.strip()


def _query(body: dict[str, Any]) -> tuple[Dataset, Model]:
    """The identifier and the model of a find, move, get or retrieve body."""
    level, model = exchange.require_level(
        _text(body, "level", "STUDY"), _text(body, "model", "study")
    )
    keys = body.get("keys", {})
    if not isinstance(keys, dict):
        raise BadRequest("keys: a JSON object of keywords or tags", attribute="keys")
    return exchange.query_of(level, keys), model


async def echo(request: Request) -> Response:
    scu = _scu(request)
    remote = _remote(request, "echo")
    status = await run_in_threadpool(scu.echo, remote)
    if status != 0x0000:
        raise BadGateway(f"{remote} answered the C-ECHO with status {status:04X}")
    return json_response({"aet": remote.aet, "status": f"{status:04X}"})


async def find(request: Request) -> Response:
    scu = _scu(request)
    query, model = _query(await json_body(request))
    remote = _remote(request, "find")
    matches = await run_in_threadpool(lambda: list(scu.find(remote, query, model)))
    try:
        answer = [match.to_json_dict() for match in matches]
    except (ValueError, TypeError, OverflowError) as exc:  # pydicom on a malformed value
        raise BadGateway(f"{remote} answered a match that cannot be DICOM JSON: {exc}") from exc
    return json_response(answer)


async def move(request: Request) -> Response:
    scu = _scu(request)
    body = await json_body(request)
    query, model = _query(body)
    destination = _text(body, "destination", settings_of(request).dimse.ae_title)
    if len(destination) > _AET_LENGTH or "\\" in destination:
        raise BadRequest(
            "destination: an AE title (16 characters, no '\\')", attribute="destination"
        )
    remote = _remote(request, "move", destination)
    return await _submit(
        request, "move", remote, body, lambda p: scu.move(remote, query, destination, model, p)
    )


async def get(request: Request) -> Response:
    scu = _scu(request)
    body = await json_body(request)
    query, model = _query(body)
    remote = _remote(request, "get")
    return await _submit(request, "get", remote, body, lambda p: scu.get(remote, query, model, p))


async def retrieve(request: Request) -> Response:
    scu = _scu(request)
    body = await json_body(request)
    query, model = _query(body)
    remote = _remote(request, "retrieve")
    own = settings_of(request).dimse.ae_title

    def work(progress: Progress) -> Transfer:
        return exchange.retrieve(scu, remote, query, own, model, progress)[1]

    return await _submit(request, "retrieve", remote, body, work)


async def store(request: Request) -> Response:
    scu = _scu(request)
    body = await json_body(request)
    resources = body.get("resources")
    if (
        not isinstance(resources, list)
        or not resources
        or not all(isinstance(item, dict) for item in resources)
    ):
        raise BadRequest(
            "resources: a non-empty list of {StudyInstanceUID, ...}", attribute="resources"
        )
    remote = _remote(request, "store")
    paths = await run_in_threadpool(exchange.stored_paths, archive_of(request), resources)
    return await _submit(request, "store", remote, body, lambda p: scu.send(remote, paths, p))


async def _submit(
    request: Request, kind: str, remote: Remote, body: dict[str, Any], work: Work
) -> Response:
    jobs = jobs_of(request)
    job = await run_in_threadpool(jobs.submit, kind, remote.aet, body, work)
    shown = job_body(job)
    response = json_response(shown, 202)
    response.headers["Location"] = shown["url"]
    return response


routes = [
    Route("/remotes/{aet}/echo", echo, methods=["POST"]),
    Route("/remotes/{aet}/find", find, methods=["POST"]),
    Route("/remotes/{aet}/move", move, methods=["POST"]),
    Route("/remotes/{aet}/get", get, methods=["POST"]),
    Route("/remotes/{aet}/retrieve", retrieve, methods=["POST"]),
    Route("/remotes/{aet}/store", store, methods=["POST"]),
]
