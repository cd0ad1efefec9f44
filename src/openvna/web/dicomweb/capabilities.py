"""Retrieve Capabilities (PS3.18 §8.9, Annex H): what this origin server supports.

``OPTIONS /dicomweb/`` answers WADL (application/vnd.sun.wadl+xml, the standard's form) or JSON
when asked; ``GET /dicomweb/capabilities`` gives the same for browsers and curl users.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.sax.saxutils import quoteattr

import orjson
from starlette.requests import Request
from starlette.responses import Response

from openvna.web.urls import dicomweb_base

__all__ = ["describe"]

_DICOM = 'multipart/related; type="application/dicom"'
_JSON = "application/dicom+json"
_XML = 'multipart/related; type="application/dicom+xml"'
_OCTETS = 'multipart/related; type="application/octet-stream"'
_FRAMES = (
    _OCTETS,
    *(
        f'multipart/related; type="{media}"'
        for media in ("image/jpeg", "image/jls", "image/jp2", "image/jphc", "image/dicom-rle")
    ),
    "image/png",
)
# Rendered and thumbnail resources (§10.4.1.1.3, §10.4.3.3.4), made by the pixel service.
_RENDERED = ("image/jpeg", "image/png", "image/gif")


def _pictures(level: str) -> list[_Resource]:
    return [
        _Resource("rendered", [("GET", f"RetrieveRendered{level}", _RENDERED)]),
        _Resource("thumbnail", [("GET", f"Retrieve{level}Thumbnail", _RENDERED)]),
    ]


_SEARCH = ("GET", "SearchFor", (_JSON, _XML))


@dataclass
class _Resource:
    path: str
    methods: list[tuple[str, str, tuple[str, ...]]]
    children: list[_Resource] = field(default_factory=list)


def _tree() -> _Resource:
    instance = _Resource(
        "{instance}",
        [("GET", "RetrieveInstance", (_DICOM,)), ("DELETE", "DeleteInstance", ())],
        [
            _Resource("metadata", [("GET", "RetrieveInstanceMetadata", (_JSON, _XML))]),
            _Resource(
                "frames/{framelist}",
                [("GET", "RetrieveFrames", _FRAMES)],
                _pictures("Frames"),
            ),
            _Resource("bulkdata/{path}", [("GET", "RetrieveBulkdata", (_OCTETS,))]),
            *_pictures("Instance"),
        ],
    )
    series = _Resource(
        "{series}",
        [("GET", "RetrieveSeries", (_DICOM,)), ("DELETE", "DeleteSeries", ())],
        [
            _Resource("metadata", [("GET", "RetrieveSeriesMetadata", (_JSON, _XML))]),
            _Resource("instances", [_SEARCH], [instance]),
            *_pictures("Series"),
        ],
    )
    study = _Resource(
        "{study}",
        [
            ("GET", "RetrieveStudy", (_DICOM,)),
            ("POST", "StoreInstances", (_JSON, _XML)),
            ("DELETE", "DeleteStudy", ()),
        ],
        [
            _Resource("metadata", [("GET", "RetrieveStudyMetadata", (_JSON, _XML))]),
            _Resource("series", [_SEARCH], [series]),
            _Resource("instances", [_SEARCH]),
            *_pictures("Study"),
        ],
    )
    return _Resource(
        "",
        [],
        [
            _Resource("studies", [_SEARCH, ("POST", "StoreInstances", (_JSON, _XML))], [study]),
            _Resource("series", [_SEARCH]),
            _Resource("instances", [_SEARCH]),
            _workitems(),
        ],
    )


def _workitems() -> _Resource:
    """UPS-RS (PS3.18 ch. 11; the workitems branch of Table H-1)."""
    subscriber = _Resource(
        "subscribers/{aetitle}",
        [("POST", "CreateSubscription", ()), ("DELETE", "DeleteSubscription", ())],
        [_Resource("suspend", [("POST", "SuspendGlobalSubscription", ())])],
    )
    workitem = _Resource(
        "{workitem}",
        [("GET", "RetrieveUPS", (_JSON, _XML)), ("POST", "UpdateUPS", ())],
        [
            _Resource("state", [("PUT", "ChangeUPSState", ())]),
            _Resource("cancelrequest", [("POST", "RequestUPSCancellation", ())]),
            subscriber,
        ],
    )
    return _Resource(
        "workitems",
        [("GET", "SearchForUPS", (_JSON, _XML)), ("POST", "CreateUPS", ())],
        [workitem],
    )


def _wadl(node: _Resource, depth: int = 1) -> str:
    pad = "  " * depth
    parts = []
    for method, name, media in node.methods:
        reps = "".join(f"<representation mediaType={quoteattr(m)}/>" for m in media)
        parts.append(
            f'{pad}  <method name="{method}" id="{name}"><response>{reps}</response></method>'
        )
    parts.extend(_wadl(child, depth + 1) for child in node.children)
    inner = "\n".join(parts)
    if not node.path:
        return inner
    return f"{pad}<resource path={quoteattr(node.path)}>\n{inner}\n{pad}</resource>"


def _json(node: _Resource) -> dict[str, object]:
    return {
        "path": node.path,
        "methods": [
            {"method": m, "id": n, "mediaTypes": list(media)} for m, n, media in node.methods
        ],
        "resources": [_json(child) for child in node.children],
    }


async def describe(request: Request) -> Response:
    base = dicomweb_base(request)
    accept = request.headers.get("accept", "")
    if "json" in accept:
        body = {"base": base, "resources": _json(_tree())["resources"]}
        return Response(orjson.dumps(body), media_type="application/json")
    wadl = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<application xmlns="http://wadl.dev.java.net/2009/02">\n'
        f"  <resources base={quoteattr(base)}>\n{_wadl(_tree())}\n  </resources>\n</application>\n"
    )
    return Response(wadl, media_type="application/vnd.sun.wadl+xml")
