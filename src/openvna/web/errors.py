"""Map ArchiveError (and anything unexpected) to an HTTP answer, in exactly one place."""

from __future__ import annotations

import logging

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from openvna.errors import ArchiveError
from openvna.web.headers import warning_header

__all__ = ["error_response", "handle_archive_error", "handle_http_exception", "handle_unexpected"]

log = logging.getLogger("openvna.web")


def error_response(status: int, message: str, attribute: str | None = None) -> Response:
    """The one error body shape: JSON with the message, plus a Warning header (PS3.18 §8.6.3)."""
    body: dict[str, object] = {"status": status, "error": message}
    if attribute:
        body["attribute"] = attribute
    headers = warning_header([message])
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="openvna", apikey'
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


async def handle_archive_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ArchiveError)
    if exc.http_status >= 500:
        log.warning("%s %s: %s", request.method, request.url.path, exc.message)
    return error_response(exc.http_status, exc.message, exc.attribute)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, f"{exc.detail}: {request.method} {request.url.path}")


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    """Log the traceback; never leak internal text to the client."""
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal error; the server log has the details")
