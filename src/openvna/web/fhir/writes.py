"""The FHIR write interactions (R4 http.html#create, #update, #vread, #history): bodies read with
a size limit, ``If-Match`` for version-aware updates, ETag/Location/Last-Modified on answers."""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from openvna.errors import BadRequest, PayloadTooLarge
from openvna.fhir import Bases, FhirService
from openvna.fhir.bodies import parse_body
from openvna.fhir.writeback import Written
from openvna.web.fhir.responses import resource_response

__all__ = ["MAX_BODY", "create", "update", "version_headers"]

MAX_BODY = 1024 * 1024
_ETAG = re.compile(r'^(?:W/)?"?(\d{1,9})"?$')


async def _body(request: Request, resource_type: str) -> dict[str, Any]:
    """The request's resource; nothing is stored until it has been read whole and checked."""
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_BODY:
            raise PayloadTooLarge(f"a FHIR resource body is limited to {MAX_BODY} bytes")
    media = request.headers.get("content-type", "")
    return await run_in_threadpool(parse_body, resource_type, bytes(data), media)


def _if_match(request: Request) -> int | None:
    given = request.headers.get("if-match")
    if given is None:
        return None
    match = _ETAG.match(given.strip())
    if match is None:
        raise BadRequest(f'If-Match: {given!r} is not a version ETag such as W/"1"')
    return int(match.group(1))


def version_headers(resource: dict[str, Any]) -> dict[str, str]:
    """ETag and Last-Modified of a versioned resource (R4 http.html#versioning)."""
    meta = resource.get("meta", {})
    headers = {}
    if "versionId" in meta:
        headers["ETag"] = f'W/"{meta["versionId"]}"'
    if "lastUpdated" in meta:
        moment = dt.datetime.fromisoformat(meta["lastUpdated"].replace("Z", "+00:00"))
        headers["Last-Modified"] = email.utils.format_datetime(moment, usegmt=True)
    return headers


async def _answer(
    request: Request, service: FhirService, bases: Bases, kind: str, written: Written
) -> Response:
    """The resource as a read now gives it (a Patient merged over its DICOM one), with its
    version's ETag and Location (201) or Content-Location (200)."""
    resource = written.resource
    if kind == "Patient":
        resource = await run_in_threadpool(service.read, kind, resource["id"], bases)
    headers = version_headers(resource)
    base = bases.fhir
    location = f"{base}/{kind}/{resource['id']}/_history/{written.version}"
    headers["Location" if written.created else "Content-Location"] = location
    return await resource_response(request, resource, 201 if written.created else 200, headers)


async def create(request: Request, service: FhirService, bases: Bases, kind: str) -> Response:
    """``POST [type]``."""
    resource = await _body(request, kind)
    written = await run_in_threadpool(service.writes.create, kind, resource)
    return await _answer(request, service, bases, kind, written)


async def update(
    request: Request, service: FhirService, bases: Bases, kind: str, resource_id: str
) -> Response:
    """``PUT [type]/[id]``, version-aware with ``If-Match``."""
    expect = _if_match(request)
    resource = await _body(request, kind)
    written = await run_in_threadpool(service.writes.update, kind, resource_id, resource, expect)
    return await _answer(request, service, bases, kind, written)
