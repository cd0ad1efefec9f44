"""The query of a WADO-URI request (PS3.18 §9.4.1, STANDARDS.md §7 WU-01..13), checked whole
before anything is read: every rule that makes a request invalid is a 400 naming the parameter,
an unsupported content type a 406."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from starlette.datastructures import QueryParams

from openvna.dicom.media import parse_accept
from openvna.dicom.uid import require_uid
from openvna.errors import BadRequest, NotAcceptable
from openvna.render import RENDERED_TYPES, Region, Viewport, Window, parse_annotation
from openvna.render.geometry import MAX_SIZE
from openvna.web.rendering import parse_float, parse_positive, parse_quality

__all__ = ["DICOM", "DICOM_XML", "UriRequest", "parse_request"]

DICOM: Final = "application/dicom"
DICOM_XML: Final = "application/dicom+xml"
_SUPPORTED: Final = (*RENDERED_TYPES, DICOM, DICOM_XML)
_DICOM_TYPES: Final = (DICOM, DICOM_XML)


@dataclass(frozen=True, slots=True)
class UriRequest:
    study: str
    series: str
    sop: str
    content_type: str
    anonymize: bool = False
    annotation: frozenset[str] = frozenset()
    viewport: Viewport | None = None
    region: Region | None = None
    window: Window | None = None
    frame: int | None = None
    quality: int | None = None
    presentation: tuple[str, str] | None = None  # (series, SOP Instance UID) of the GSPS
    transfer_syntax: str | None = None

    @property
    def rendered(self) -> bool:
        return self.content_type not in _DICOM_TYPES


def parse_request(query: QueryParams, accept: str | None) -> UriRequest:
    """Check and read a WADO-URI query (parameter names are case-sensitive, §9.4.1)."""
    request_type = query.get("requestType")
    if request_type != "WADO":
        raise BadRequest(
            f"requestType must be WADO (PS3.18 §9.4.1.1.1), not {request_type!r}"
            if request_type is not None
            else "requestType=WADO is required (PS3.18 §9.4.1.1.1)",
            attribute="requestType",
        )
    uids = []
    for name in ("studyUID", "seriesUID", "objectUID"):
        value = query.get(name)
        if not value:
            raise BadRequest(f"{name} is required (PS3.18 §9.4.1.1)", attribute=name)
        uids.append(require_uid(value.strip(), name))
    content_type = _content_type(query.get("contentType"), accept)
    rendered = content_type not in _DICOM_TYPES
    anonymize = _anonymize(query.get("anonymize"), content_type)
    window = _window(query, rendered)
    presentation = _presentation(query, window)
    frame = query.get("frameNumber")
    quality = parse_quality(query.get("imageQuality"), "imageQuality")
    syntax = query.get("transferSyntax")
    if syntax is not None:
        syntax = require_uid(syntax.strip(), "transferSyntax")
    return UriRequest(
        study=uids[0],
        series=uids[1],
        sop=uids[2],
        content_type=content_type,
        anonymize=anonymize,
        annotation=parse_annotation(query.get("annotation")) if rendered else frozenset(),
        viewport=_viewport(query.get("rows"), query.get("columns")),
        region=_region(query.get("region")),
        window=window,
        frame=None if frame is None else parse_positive(frame, "frameNumber", 1 << 31),
        quality=quality,
        presentation=presentation,
        transfer_syntax=syntax,
    )


def _content_type(text: str | None, accept: str | None) -> str:
    """The first supported of the listed types by q (§9.4.1.2.1); absent: image/jpeg, unless
    the Accept header names application/dicom only (WU-03, WU-15: a missing Accept is */*)."""
    if text is None:
        ranges = [r for r in parse_accept(accept) if r.q > 0]
        if ranges and all(r.media_type == DICOM for r in ranges):
            return DICOM
        return "image/jpeg"
    ranges = sorted(parse_accept(text), key=lambda r: -r.q)
    if any("transfer-syntax" in r.params or "charset" in r.params for r in ranges):
        raise BadRequest(
            "contentType may not carry transfer-syntax or charset parameters (§9.4.1.2.1)",
            attribute="contentType",
        )
    kinds = {r.media_type in _DICOM_TYPES for r in ranges if r.media_type != "*/*"}
    if len(kinds) > 1:
        raise BadRequest(
            "contentType mixes application/dicom with rendered types (§9.4.1.2.1)",
            attribute="contentType",
        )
    for media_range in ranges:
        if media_range.q <= 0:
            continue
        if media_range.media_type in ("*/*", "image/*"):
            return "image/jpeg"
        if media_range.media_type in _SUPPORTED:
            return media_range.media_type
    raise NotAcceptable(
        f"contentType {text!r} is not one this server makes ({', '.join(_SUPPORTED)})",
        attribute="contentType",
    )


def _anonymize(text: str | None, content_type: str) -> bool:
    if text is None:
        return False
    if text != "yes":
        raise BadRequest(f"anonymize must be 'yes', not {text!r}", attribute="anonymize")
    if content_type != DICOM:
        raise BadRequest("anonymize applies to application/dicom only", attribute="anonymize")
    return True


def _window(query: QueryParams, rendered: bool) -> Window | None:
    center, width = query.get("windowCenter"), query.get("windowWidth")
    if center is None and width is None:
        return None
    if center is None or width is None:
        raise BadRequest(
            "windowCenter and windowWidth go together (§9.4.1.2.9)", attribute="windowWidth"
        )
    if not rendered:
        raise BadRequest(
            "windowCenter/windowWidth do not apply to application/dicom",
            attribute="windowCenter",
        )
    return Window(parse_float(center, "windowCenter"), parse_float(width, "windowWidth"))


def _presentation(query: QueryParams, window: Window | None) -> tuple[str, str] | None:
    sop, series = query.get("presentationUID"), query.get("presentationSeriesUID")
    if sop is None and series is None:
        return None
    if sop is None or series is None:
        raise BadRequest(
            "presentationUID and presentationSeriesUID go together (§9.4.1.2.12)",
            attribute="presentationUID",
        )
    if window is not None:
        raise BadRequest(
            "windowCenter/windowWidth may not be used with a presentation state",
            attribute="windowCenter",
        )
    return (
        require_uid(series.strip(), "presentationSeriesUID"),
        require_uid(sop.strip(), "presentationUID"),
    )


def _viewport(rows: str | None, columns: str | None) -> Viewport | None:
    if rows is None and columns is None:
        return None
    height = parse_positive(rows, "rows") if rows is not None else MAX_SIZE
    width = parse_positive(columns, "columns") if columns is not None else MAX_SIZE
    return Viewport(width, height)


def _region(text: str | None) -> Region | None:
    if text is None:
        return None
    pieces = text.split(",")
    if len(pieces) != 4:
        raise BadRequest(f"region {text!r} is not xmin,ymin,xmax,ymax", attribute="region")
    xmin, ymin, xmax, ymax = (parse_float(p.strip(), "region") for p in pieces)
    return Region.fractions(xmin, ymin, xmax, ymax)
