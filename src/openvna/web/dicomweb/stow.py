"""STOW-RS, the Store transaction (PS3.18 §10.5): POST /studies and POST /studies/{study}.

Everything that can be refused without the body is refused first: the target study UID (400),
the Content-Type (415: multipart/related whose ``type`` is application/dicom, application/dicom+json
or application/dicom+xml) and the Accept header (406). The body is then spooled part by part
(``web/multipart.py``) and each instance goes to the archive, which validates it and stores it
whole or not at all:

- an application/dicom part is a Part 10 file, handed to the archive as soon as its closing
  delimiter is read (``Archive.batch``: checked and flushed while the body still arrives);
- a metadata part (a JSON array of datasets, or one XML dataset) is assembled with the bulk data
  parts it references (``archive/assemble.py``) and stored with ``Archive.store_dataset``;
- a part that is neither, nor referenced as bulk data, is a failure (C000, cannot understand).

The answer is a Store Instances Response Module (PS3.18 Annex I) in DICOM JSON or XML, with
status 200 (all stored), 202 (stored, with failures or warnings) or 409 (nothing stored).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from openvna.archive import Archive, Origin, StoreBatch, StoreOutcome
from openvna.archive.assemble import assemble_instance, parse_metadata
from openvna.archive.outcome import (
    CANNOT_UNDERSTAND,
    COERCION_OF_DATA_ELEMENTS,
    InstanceUIDs,
)
from openvna.dicom.json import DicomJson
from openvna.dicom.media import Offer, negotiate, parse_accept
from openvna.dicom.xml import json_to_xml
from openvna.errors import BadRequest, UnsupportedMediaType
from openvna.web.context import archive_of, settings_of
from openvna.web.dicomweb.paths import path_uids
from openvna.web.headers import warning_header
from openvna.web.multipart import Part, parse_content_type, read_parts
from openvna.web.urls import dicomweb_base, resource_url

__all__ = ["store_instances"]

PART10 = "application/dicom"
METADATA = ("application/dicom+json", "application/dicom+xml")
# PS3.18 Table I.2-2: the bit stream of the pixel data has no supported transfer syntax.
TRANSFER_SYNTAX_NOT_SUPPORTED = 0xC122
_OFFERS = (
    Offer("application/dicom+json", multipart=False),
    Offer("application/json", multipart=False),
    Offer("application/dicom+xml", multipart=False),
)


async def store_instances(request: Request) -> Response:
    """Store the instances of a multipart/related body; see the module docstring."""
    study, _, _ = path_uids(request)
    root_type, boundary = _require_content_type(request.headers.get("content-type", ""))
    answer = negotiate(parse_accept(request.headers.get("accept")), _OFFERS).media_type
    archive = archive_of(request)
    limit = settings_of(request).dicomweb.max_part_bytes
    origin = Origin.http(request.client.host if request.client else "")
    spool = archive.spool_dir()
    batch = archive.batch(origin, study)

    def start_storing(part: Part) -> None:
        """A Part 10 part is handed over as soon as it is complete (``archive.batch``)."""
        if (part.content_type or root_type) == PART10:
            batch.add(part.take_file(spool))

    try:
        async with read_parts(request, boundary, spool, limit, start_storing) as parts:
            outcomes = await run_in_threadpool(
                _store_parts, archive, batch, parts, root_type, study, origin
            )
    except BaseException:
        await run_in_threadpool(batch.abandon)
        raise
    return _response(request, outcomes, study, answer)


def _require_content_type(header: str) -> tuple[str, str]:
    media_type, params = parse_content_type(header)
    root_type = params.get("type", "").strip().lower()
    if media_type != "multipart/related" or root_type not in (PART10, *METADATA):
        raise UnsupportedMediaType(
            f"STOW-RS takes multipart/related with type application/dicom, "
            f"application/dicom+json or application/dicom+xml, not {header[:120]!r}",
            attribute="Content-Type",
        )
    boundary = params.get("boundary", "")
    if not boundary:
        raise BadRequest(
            "the multipart/related Content-Type has no boundary parameter",
            attribute="Content-Type",
        )
    return root_type, boundary


class _BulkParts:
    """Bulk data parts found by Content-Location or, for ``cid:`` URIs, Content-ID."""

    def __init__(self, parts: list[tuple[int, str, Part]]) -> None:
        self.unused = {number: (media, part) for number, media, part in parts}
        self._all = dict(self.unused)
        self._by_uri: dict[str, int] = {}
        for number, _, part in parts:
            if part.content_location:
                self._by_uri[part.content_location] = number
            if part.content_id:
                self._by_uri["cid:" + part.content_id] = number

    def lookup(self, uri: str) -> tuple[str, Callable[[], bytes]]:
        number = self._by_uri.get(uri)
        if number is None:
            raise BadRequest(f"BulkDataURI {uri[:120]!r} names no part of the request")
        self.unused.pop(number, None)
        media, part = self._all[number]
        return media, part.read_bytes


def _store_parts(
    archive: Archive,
    batch: StoreBatch,
    parts: list[Part],
    root_type: str,
    study: str | None,
    origin: Origin,
) -> list[StoreOutcome]:
    """Store every instance of the body; runs in a worker thread. The Part 10 instances are in
    ``batch`` already, stored together by its ``finish``; the answers keep the order of the
    parts."""
    typed = [(number, part.content_type or root_type, part) for number, part in enumerate(parts, 1)]
    bulk = _BulkParts([t for t in typed if t[1] != PART10 and t[1] not in METADATA])
    outcomes: list[StoreOutcome | int] = []
    for number, media, part in typed:
        if media == PART10:
            outcomes.append(number)
        elif media in METADATA:
            outcomes += _store_metadata(archive, number, media, part, bulk, study, origin)
    stored = iter(batch.finish())
    answers = [
        _numbered(next(stored), outcome) if isinstance(outcome, int) else outcome
        for outcome in outcomes
    ]
    for number, (media, _) in sorted(bulk.unused.items()):
        message = (
            f"part {number} ({media}) is neither a DICOM instance nor bulk data referenced "
            "by a metadata part"
        )
        answers.append(StoreOutcome.failed(CANNOT_UNDERSTAND, message))
    return answers


def _numbered(outcome: StoreOutcome, number: int) -> StoreOutcome:
    """An instance's message names its part, the one name the sender knows it by when its
    UIDs could not be read (issue: the spool file's name was shown)."""
    if not outcome.message:
        return outcome
    return dataclasses.replace(outcome, message=f"part {number}: {outcome.message}")


def _store_metadata(
    archive: Archive,
    number: int,
    media: str,
    part: Part,
    bulk: _BulkParts,
    study: str | None,
    origin: Origin,
) -> list[StoreOutcome]:
    try:
        items = parse_metadata(media, part.read_bytes())
    except BadRequest as exc:
        return [StoreOutcome.failed(CANNOT_UNDERSTAND, f"part {number}: {exc.message}")]
    return [_store_assembled(archive, item, bulk, study, origin) for item in items]


def _store_assembled(
    archive: Archive, item: DicomJson, bulk: _BulkParts, study: str | None, origin: Origin
) -> StoreOutcome:
    uids: InstanceUIDs = {
        "sop_class_uid": _first_value(item, "00080016"),
        "sop_instance_uid": _first_value(item, "00080018"),
    }
    try:
        assembled = assemble_instance(item, bulk.lookup, study)
    except UnsupportedMediaType as exc:
        return StoreOutcome.failed(TRANSFER_SYNTAX_NOT_SUPPORTED, exc.message, **uids)
    except BadRequest as exc:
        return StoreOutcome.failed(CANNOT_UNDERSTAND, exc.message, **uids)
    outcome = archive.store_dataset(assembled.dataset, origin, study)
    if outcome.ok and assembled.coerced and outcome.warning_reason is None:
        message = "the server supplied or replaced " + ", ".join(assembled.coerced)
        outcome = dataclasses.replace(
            outcome, warning_reason=COERCION_OF_DATA_ELEMENTS, message=message
        )
    return outcome


def _first_value(item: DicomJson, tag: str) -> str:
    attribute = item.get(tag)
    values = attribute.get("Value") if isinstance(attribute, dict) else None
    first = values[0] if isinstance(values, list) and values else ""
    return first if isinstance(first, str) else ""


# -- the Store Instances Response Module (PS3.18 Annex I) ---------------------------------------


def _response(
    request: Request, outcomes: list[StoreOutcome], study: str | None, media: str
) -> Response:
    base = dicomweb_base(request)
    stored = [o for o in outcomes if o.ok]
    failed = [o for o in outcomes if not o.ok]
    studies = {o.study_uid for o in stored} | ({study} if study else set())
    only = studies.pop() if len(studies) == 1 else None
    body: DicomJson = {"00081190": _url(resource_url(base, only) if only else None)}
    if failed:
        body["00081198"] = _sequence(_failed_item(o) for o in failed)
    if stored:
        body["00081199"] = _sequence(_stored_item(o, base) for o in stored)
    if not stored:
        status = 409
    elif failed or any(o.warning_reason for o in stored):
        status = 202
    else:
        status = 200
    headers = _warnings([o for o in outcomes if o.message])
    if media == "application/dicom+xml":
        return Response(json_to_xml(body), status, headers, media_type=media)
    return Response(orjson.dumps(body), status, headers, media_type=media)


def _url(url: str | None) -> dict[str, Any]:
    """Retrieve URL (0008,1190), Type 2: empty when the instances span several studies."""
    return {"vr": "UR", "Value": [url]} if url else {"vr": "UR"}


def _us(value: int | None) -> dict[str, Any]:
    return {"vr": "US", "Value": [value or 0]}


def _sequence(items: Any) -> dict[str, Any]:
    return {"vr": "SQ", "Value": list(items)}


def _failed_item(outcome: StoreOutcome) -> dict[str, Any]:
    item = _reference(outcome)
    item["00081197"] = _us(outcome.failure_reason)
    return _with_reason_text(item, outcome)


def _stored_item(outcome: StoreOutcome, base: str) -> dict[str, Any]:
    item = _reference(outcome)
    url = resource_url(base, outcome.study_uid, outcome.series_uid, outcome.sop_instance_uid)
    item["00081190"] = _url(url)
    if outcome.warning_reason is not None:
        item["00081196"] = _us(outcome.warning_reason)
    return dict(sorted(_with_reason_text(item, outcome).items()))


# The Store Instances Response Module (PS3.18 Table I.1-1) has reason codes but no attribute for
# the words; they go in a private block of the item (PS3.5 §7.8: any data set may carry one,
# and a client that does not know it ignores it), as well as in the Warning header.
PRIVATE_CREATOR = "OPENVNA"
_CREATOR_TAG, _REASON_TEXT_TAG = "00090010", "00091010"


def _with_reason_text(item: dict[str, Any], outcome: StoreOutcome) -> dict[str, Any]:
    if outcome.message:
        item[_CREATOR_TAG] = {"vr": "LO", "Value": [PRIVATE_CREATOR]}
        item[_REASON_TEXT_TAG] = {"vr": "LT", "Value": [outcome.message[:10240]]}
    return item


def _reference(outcome: StoreOutcome) -> dict[str, Any]:
    """The SOP Instance Reference Macro (PS3.3 Table 10-11). Every failed instance is an item
    of the Failed SOP Sequence (PS3.18 Table 10.5.3-1), a part that could not be parsed too:
    its UIDs are then unknown, and sent empty rather than the failure left unreported."""
    return {
        "00081150": _uid(outcome.sop_class_uid),
        "00081155": _uid(outcome.sop_instance_uid),
    }


def _uid(value: str) -> dict[str, Any]:
    return {"vr": "UI", "Value": [value]} if value else {"vr": "UI"}


def _warnings(outcomes: list[StoreOutcome]) -> dict[str, str]:
    """PS3.18 §10.5.3.2 recommends a Warning header with the DICOM status code and a reason."""
    texts = []
    for outcome in outcomes:
        code = outcome.failure_reason or outcome.warning_reason
        texts.append((f"{code:04X} " if code is not None else "") + outcome.message)
    return warning_header(texts)
