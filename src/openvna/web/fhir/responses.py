"""FHIR answers: a resource in the negotiated format, and OperationOutcome for every error."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from openvna.errors import ArchiveError
from openvna.fhir import operation_outcome, to_xml
from openvna.web.fhir.formats import Format, negotiate, pretty

__all__ = ["Handler", "fhir_errors", "outcome_response", "resource_response"]

log = logging.getLogger("openvna.web")
Handler = Callable[[Request], Awaitable[Response]]


async def resource_response(
    request: Request,
    resource: dict[str, Any],
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """``resource`` as FHIR JSON (orjson, no model) or FHIR XML (written off the event loop)."""
    chosen = negotiate(request)
    indent = pretty(request)
    if chosen is Format.XML:
        body = await run_in_threadpool(lambda: to_xml(resource, pretty=indent))
    else:
        body = orjson.dumps(resource, option=orjson.OPT_INDENT_2 if indent else 0)
    return Response(body, status, headers, media_type=f"{chosen.value}; charset=utf-8")


def outcome_response(request: Request, status: int, message: str) -> Response:
    """An OperationOutcome in the format the client asked for (JSON when that is the trouble)."""
    try:
        chosen = negotiate(request)
    except ArchiveError:
        chosen = Format.JSON
    outcome = operation_outcome(status, message)
    body = to_xml(outcome) if chosen is Format.XML else orjson.dumps(outcome)
    headers = {"WWW-Authenticate": 'Bearer realm="openvna", apikey'} if status == 401 else None
    return Response(body, status, headers, media_type=f"{chosen.value}; charset=utf-8")


def fhir_errors(handler: Handler) -> Handler:
    """Turn every error of a FHIR handler into an OperationOutcome (R4 http.html#2.21.0.4);
    unexpected ones are logged and never leak their text."""

    async def guarded(request: Request) -> Response:
        try:
            return await handler(request)
        except ArchiveError as exc:
            if exc.http_status >= 500:
                log.warning("%s %s: %s", request.method, request.url.path, exc.message)
            return outcome_response(request, exc.http_status, exc.message)
        except Exception:
            log.exception("unhandled error on %s %s", request.method, request.url.path)
            return outcome_response(request, 500, "internal error; the server log has the details")

    return guarded
