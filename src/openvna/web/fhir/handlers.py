"""The FHIR REST interactions (R4 http.html): capabilities, read, search (GET and POST
``_search``); anything else on a known type is 405, an unknown type 404."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from openvna import __version__
from openvna.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from openvna.fhir import RESOURCE_TYPES, Bases, FhirService, capability_statement
from openvna.fhir.writeback import WRITABLE
from openvna.web.context import archive_of
from openvna.web.fhir import writes
from openvna.web.fhir.responses import fhir_errors, outcome_response, resource_response
from openvna.web.urls import DICOMWEB_PREFIX, dicomweb_base

__all__ = [
    "FHIR_PREFIX",
    "bases",
    "capabilities",
    "history",
    "not_found",
    "resource",
    "resource_type",
    "search",
]

FHIR_PREFIX = "/fhir"
_FORM = "application/x-www-form-urlencoded"
_MAX_FORM = 64 * 1024


def bases(request: Request) -> Bases:
    """The public URLs of the archive's services, from the DICOMweb base as ``web.urls`` makes
    it (the configured public URL, else the request's host and forwarded headers)."""
    root = dicomweb_base(request).removesuffix(DICOMWEB_PREFIX)
    return Bases(
        dicomweb=root + DICOMWEB_PREFIX,
        wado_uri=root + "/wadouri",
        iid=root + "/IHEInvokeImageDisplay",
        fhir=root + FHIR_PREFIX,
    )


def _service(request: Request) -> FhirService:
    return FhirService(archive_of(request))


def _strict(request: Request) -> bool:
    """``Prefer: handling=strict`` (R4 search.html#errors); lenient is the default."""
    prefer = request.headers.get("prefer", "")
    return any(p.strip().lower() == "handling=strict" for p in prefer.split(","))


def _type_of(request: Request) -> str | None:
    kind = request.path_params["type"]
    return kind if kind in RESOURCE_TYPES else None


def _unknown_type(request: Request) -> Response:
    kind = request.path_params.get("type", "")
    return outcome_response(request, 404, f"resource type {kind!r} is not supported here")


def _not_allowed(request: Request, what: str) -> Response:
    return outcome_response(request, 405, f"{request.method} is not supported on {what}")


@fhir_errors
async def capabilities(request: Request) -> Response:
    """``GET [base]/metadata``: open to all, as the capability statement must be (RS-05)."""
    if request.method not in ("GET", "HEAD"):
        return _not_allowed(request, "metadata")
    statement = capability_statement(bases(request).fhir, __version__)
    return await resource_response(request, statement)


@fhir_errors
async def resource_type(request: Request) -> Response:
    """``[base]/[type]``: search-type by GET, create by POST."""
    kind = _type_of(request)
    if kind is None:
        return _unknown_type(request)
    if request.method == "POST" and kind in WRITABLE:
        return await writes.create(request, _service(request), bases(request), kind)
    if request.method not in ("GET", "HEAD"):
        return _not_allowed(request, kind)
    params = [(k, v) for k, v in request.query_params.multi_items()]
    return await _search(request, kind, params)


@fhir_errors
async def search(request: Request) -> Response:
    """``POST [base]/[type]/_search`` with a form body (R4 http.html#search): the body's and
    the URL's parameters together."""
    kind = _type_of(request)
    if kind is None:
        return _unknown_type(request)
    if request.method != "POST":
        return _not_allowed(request, f"{kind}/_search")
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != _FORM:
        raise UnsupportedMediaType(f"_search takes {_FORM}, not {media or 'no content type'!r}")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_FORM:
            raise PayloadTooLarge(f"a _search form is limited to {_MAX_FORM} bytes")
    try:
        form = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise BadRequest("the _search form is not UTF-8") from None
    params = [*request.query_params.multi_items(), *form]
    return await _search(request, kind, params)


async def _search(request: Request, kind: str, params: list[tuple[str, str]]) -> Response:
    service, where, strict = _service(request), bases(request), _strict(request)
    bundle = await run_in_threadpool(lambda: service.search(kind, params, where, strict=strict))
    return await resource_response(request, bundle)


@fhir_errors
async def resource(request: Request) -> Response:
    """``GET [base]/[type]/[id]``: read; ``PUT``: update."""
    kind = _type_of(request)
    if kind is None:
        return _unknown_type(request)
    resource_id = request.path_params["id"]
    service, where = _service(request), bases(request)
    if request.method == "PUT" and kind in WRITABLE:
        return await writes.update(request, service, where, kind, resource_id)
    if request.method not in ("GET", "HEAD"):
        return _not_allowed(request, f"{kind}/[id]")
    params = list(request.query_params.multi_items())
    found = await run_in_threadpool(lambda: service.read(kind, resource_id, where, params))
    return await resource_response(request, found, headers=writes.version_headers(found))


@fhir_errors
async def history(request: Request) -> Response:
    """``GET [base]/[type]/[id]/_history[/vid]``: history and vread of written resources."""
    kind = _type_of(request)
    if kind is None:
        return _unknown_type(request)
    if request.method not in ("GET", "HEAD"):
        return _not_allowed(request, f"{kind}/[id]/_history")
    if kind not in WRITABLE:
        return outcome_response(request, 404, f"{kind} resources have no stored history")
    resource_id, service = request.path_params["id"], _service(request)
    vid = request.path_params.get("vid")
    if vid is None:
        where = bases(request)
        found = await run_in_threadpool(lambda: service.history(kind, resource_id, where))
        return await resource_response(request, found)
    version = await run_in_threadpool(lambda: service.vread(kind, resource_id, vid))
    return await resource_response(request, version, headers=writes.version_headers(version))


@fhir_errors
async def not_found(request: Request) -> Response:
    """Any other path under the FHIR base."""
    return outcome_response(request, 404, f"no FHIR interaction at {request.url.path}")
