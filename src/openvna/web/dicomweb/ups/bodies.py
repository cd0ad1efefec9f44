"""Request bodies of UPS-RS: one workitem dataset, in DICOM JSON or DICOM XML (PS3.18 §11.4.1.3,
§8.7.3.5: ``application/dicom+json``, also as plain ``application/json``; ``application/dicom+xml``
alone or as the single part of ``multipart/related; type="application/dicom+xml"``)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from openvna.dicom.json import DicomJson, json_to_dataset
from openvna.dicom.xml import xml_to_json
from openvna.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from openvna.web.context import archive_of
from openvna.web.multipart import parse_content_type, read_parts

__all__ = ["MAX_BODY", "read_dataset"]

MAX_BODY = 4 * 1024 * 1024  # a workitem is a few kilobytes; a larger body is a mistake
_JSON = frozenset({"application/dicom+json", "application/json"})
_XML = "application/dicom+xml"


async def read_dataset(request: Request, *, optional: bool = False) -> DicomJson:
    """The dataset of the body; ``{}`` for an empty body when ``optional`` (a cancellation
    request may carry none, PS3.18 §11.8.1.3). Malformed bodies are 400 naming the fault,
    other media types 415."""
    header = request.headers.get("content-type", "")
    media, params = parse_content_type(header) if header else ("", {})
    if media == "multipart/related":
        return await _multipart(request, params)
    body = await _body(request)
    if not body.strip():
        if optional:
            return {}
        raise BadRequest("the request has no body: a workitem dataset is required")
    if media in _JSON or (not media and body.lstrip()[:1] in (b"{", b"[")):
        return _checked(_json(body))
    if media == _XML:
        return _checked(xml_to_json(body))
    raise UnsupportedMediaType(
        f"UPS-RS takes application/dicom+json or application/dicom+xml, not {header[:120]!r}",
        attribute="Content-Type",
    )


async def _body(request: Request) -> bytes:
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise PayloadTooLarge(f"a workitem body is at most {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _multipart(request: Request, params: dict[str, str]) -> DicomJson:
    if params.get("type", "").lower() != _XML or not params.get("boundary"):
        raise UnsupportedMediaType(
            'UPS-RS takes multipart/related only with type="application/dicom+xml" and a boundary',
            attribute="Content-Type",
        )
    spool = archive_of(request).spool_dir()
    async with read_parts(request, params["boundary"], spool, MAX_BODY) as parts:
        if len(parts) != 1:
            raise BadRequest(f"a workitem body holds one dataset, not {len(parts)} parts")
        return _checked(xml_to_json(parts[0].read_bytes()))


def _json(body: bytes) -> Any:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"Malformed JSON: {exc}") from exc
    if isinstance(data, list):
        if len(data) != 1:
            raise BadRequest(f"a workitem body holds one dataset, not {len(data)}")
        data = data[0]
    return data


def _checked(data: Any) -> DicomJson:
    """The dataset, once the JSON model has been checked the way the store path checks it
    (``json_to_dataset`` names the first malformed attribute)."""
    if not isinstance(data, dict):
        raise BadRequest("a workitem must be a DICOM JSON object")
    json_to_dataset(data)
    return data
