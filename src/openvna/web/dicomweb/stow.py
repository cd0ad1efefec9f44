"""STOW-RS, the Store transaction (PS3.18 §10.5): POST /studies and POST /studies/{study}.

Everything that can be refused without the body is refused first: the target study UID (400),
the Content-Type (415: multipart/related whose ``type`` is application/dicom, application/dicom+json
or application/dicom+xml) and the Accept header (406). The body is then spooled part by part
(``web/multipart.py``) and each instance goes to the archive, which validates it and stores it
whole or not at all:

- an application/dicom part is a Part 10 file (all of them: ``Archive.store_files``);
- a metadata part (a JSON array of datasets, or one XML dataset) is assembled with the bulk data
  parts it references (``archive/assemble.py``) and stored with ``Archive.store_dataset``;
- a part that is neither, nor referenced as bulk data, is a failure (C000, cannot understand).

The answer is a Store Instances Response Module (PS3.18 Annex I) in DICOM JSON or XML, with
status 200 (all stored), 202 (stored, with failures or warnings) or 409 (nothing stored).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from openvna.archive import Archive, Origin, StoreOutcome
from openvna.archive.assemble import assemble_instance, parse_metadata
from openvna.archive.outcome import (
    CANNOT_UNDERSTAND,
    COERCION_OF_DATA_ELEMENTS,
    OUT_OF_RESOURCES,
    PROCESSING_FAILURE,
    InstanceUIDs,
)
from openvna.dicom.media import Offer, negotiate, parse_accept
from openvna.dicom.xml import json_to_xml
from openvna.errors import ArchiveError, BadRequest, OutOfResources, UnsupportedMediaType
from openvna.web.dicomweb.paths import path_uids
from openvna.web.multipart import Part, parse_content_type, read_parts
from openvna.web.urls import dicomweb_base

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
_MAX_WARNINGS = 20
# Part 10 instances of a request stored together (one round of blob moves, one transaction).
_BATCH = 64


async def store_instances(request: Request) -> Response:
    """Store the instances of a multipart/related body; see the module docstring."""
    study, _, _ = path_uids(request)
    root_type, boundary = _require_content_type(request.headers.get("content-type", ""))
    answer = negotiate(parse_accept(request.headers.get("accept")), _OFFERS).media_type
    archive: Archive = request.app.state.archive
    limit = request.app.state.settings.dicomweb.max_part_bytes
    origin = Origin.http(request.client.host if request.client else "")
    spool = archive.blobs.spool_dir()
    async with read_parts(request, boundary, spool, limit) as parts:
        outcomes = await run_in_threadpool(_store_parts, archive, parts, root_type, study, origin)
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
    archive: Archive, parts: list[Part], root_type: str, study: str | None, origin: Origin
) -> list[StoreOutcome]:
    """Store every instance of the body; runs in a worker thread. The Part 10 instances go to
    the archive in batches (``_store_batches``); the answers keep the order of the parts."""
    typed = [(number, part.content_type or root_type, part) for number, part in enumerate(parts, 1)]
    bulk = _BulkParts([t for t in typed if t[1] != PART10 and t[1] not in METADATA])
    outcomes: list[StoreOutcome | None] = []
    files: list[Path] = []
    try:
        for number, media, part in typed:
            if media == PART10:
                files.append(_part10_file(part, archive.blobs.spool_dir()))
                outcomes.append(None)
            elif media in METADATA:
                outcomes += _store_metadata(archive, number, media, part, bulk, study, origin)
    except BaseException:
        for path in files:
            path.unlink(missing_ok=True)
        raise
    stored = iter(_store_batches(archive, files, origin, study))
    answers = [next(stored) if outcome is None else outcome for outcome in outcomes]
    for number, (media, _) in sorted(bulk.unused.items()):
        message = (
            f"part {number} ({media}) is neither a DICOM instance nor bulk data referenced "
            "by a metadata part"
        )
        answers.append(StoreOutcome.failed(CANNOT_UNDERSTAND, message))
    return answers


def _store_batches(
    archive: Archive, files: list[Path], origin: Origin, study: str | None
) -> list[StoreOutcome]:
    """Store the Part 10 files ``_BATCH`` at a time, so that what a request holds in memory
    (each instance's header and DICOM JSON until its transaction commits) is bounded however
    many instances it carries. When a batch fails after others were stored, the stored ones
    stay, and that batch and the rest are answered as failures; a failure of the first batch
    is the request's error, as nothing was stored."""
    outcomes: list[StoreOutcome] = []
    for start in range(0, len(files), _BATCH):
        try:
            outcomes += archive.store_files(files[start : start + _BATCH], origin, study)
        except BaseException as exc:
            for path in files[start + _BATCH :]:
                path.unlink(missing_ok=True)
            if not outcomes or not isinstance(exc, ArchiveError):
                raise
            failed = StoreOutcome.failed(PROCESSING_FAILURE, f"not stored: {exc.message}")
            return outcomes + [failed] * (len(files) - start)
    return outcomes


def _part10_file(part: Part, spool: Path) -> Path:
    """The part as a file the archive can take. PS3.10 §7.1 requires the 128-byte preamble and
    ``DICM``, but some clients (dicomweb-client with pydicom 3's default ``dcmwrite``) send the
    File Meta group without them; such a part gets them prepended rather than refused."""
    head = part.head
    if head[128:132] == b"DICM" or not _starts_with_file_meta(head):
        return part.take_file(spool)
    with part.open() as reader:
        reader.seek(len(head))
        fd, name = tempfile.mkstemp(dir=spool, prefix="stow-", suffix=".dcm")
        try:
            with os.fdopen(fd, "wb") as target:
                target.write(bytes(128) + b"DICM" + head)
                shutil.copyfileobj(reader, target, 1 << 20)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
    part.discard()
    return Path(name)


def _starts_with_file_meta(head: bytes) -> bool:
    """Group 0002 in explicit VR little endian: tag group 2, then a two-letter VR."""
    return head[:2] == b"\x02\x00" and head[4:6].isalpha() and head[4:6].isupper()


def _guarded(store: Callable[[], StoreOutcome]) -> StoreOutcome:
    """Run one store; running out of space is this instance's failure (A700), not the
    request's."""
    try:
        return store()
    except OutOfResources as exc:
        return StoreOutcome.failed(OUT_OF_RESOURCES, exc.message)


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
    archive: Archive, item: dict[str, Any], bulk: _BulkParts, study: str | None, origin: Origin
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
    try:
        outcome = _guarded(lambda: archive.store_dataset(assembled.dataset, origin, study))
    except (ValueError, TypeError, OverflowError, struct.error) as exc:
        # pydicom could not encode a value the client gave (e.g. a US out of range).
        return StoreOutcome.failed(CANNOT_UNDERSTAND, f"cannot encode the dataset: {exc}", **uids)
    if outcome.ok and assembled.coerced and outcome.warning_reason is None:
        message = "the server supplied or replaced " + ", ".join(assembled.coerced)
        outcome = dataclasses.replace(
            outcome, warning_reason=COERCION_OF_DATA_ELEMENTS, message=message
        )
    return outcome


def _first_value(item: dict[str, Any], tag: str) -> str:
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
    failed = [o for o in outcomes if not o.ok and o.sop_instance_uid]
    other = [o for o in outcomes if not o.ok and not o.sop_instance_uid]
    studies = {o.study_uid for o in stored} | ({study} if study else set())
    only = studies.pop() if len(studies) == 1 else None
    body: dict[str, Any] = {"00081190": _url(f"{base}/studies/{only}" if only else None)}
    if failed:
        body["00081198"] = _sequence(_failed_item(o) for o in failed)
    if stored:
        body["00081199"] = _sequence(_stored_item(o, base) for o in stored)
    if other:
        body["0008119A"] = _sequence({"00081197": _us(o.failure_reason)} for o in other)
    if not stored:
        status = 409
    elif failed or other or any(o.warning_reason for o in stored):
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
    return item


def _stored_item(outcome: StoreOutcome, base: str) -> dict[str, Any]:
    item = _reference(outcome)
    url = (
        f"{base}/studies/{outcome.study_uid}/series/{outcome.series_uid}"
        f"/instances/{outcome.sop_instance_uid}"
    )
    item["00081190"] = _url(url)
    if outcome.warning_reason is not None:
        item["00081196"] = _us(outcome.warning_reason)
    return dict(sorted(item.items()))


def _reference(outcome: StoreOutcome) -> dict[str, Any]:
    """The SOP Instance Reference Macro (PS3.3 Table 10-11)."""
    return {
        "00081150": {"vr": "UI", "Value": [outcome.sop_class_uid]}
        if outcome.sop_class_uid
        else {"vr": "UI"},
        "00081155": {"vr": "UI", "Value": [outcome.sop_instance_uid]},
    }


def _warnings(outcomes: list[StoreOutcome]) -> dict[str, str]:
    """PS3.18 §10.5.3.2 recommends a Warning header with the DICOM status code and a reason."""
    texts = []
    for outcome in outcomes[:_MAX_WARNINGS]:
        code = outcome.failure_reason or outcome.warning_reason
        prefix = f"{code:04X} " if code is not None else ""
        reason = (prefix + outcome.message).encode("ascii", "replace").decode()
        texts.append('299 openvna "' + reason.replace('"', "'")[:300] + '"')
    return {"Warning": ", ".join(texts)} if texts else {}
