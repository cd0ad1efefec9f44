"""The explorer at /ui: static files (no build step) over DICOMweb, FHIR and ``ui/api.py``."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from openvna.web.context import settings_of
from openvna.web.errors import error_response
from openvna.web.iid.pages import frame_headers
from openvna.web.ui import api

__all__ = ["UI_PREFIX", "routes"]

UI_PREFIX = "/ui"
_STATIC = Path(__file__).parent / "static"
_FILES = {path.name: path for path in _STATIC.iterdir() if path.is_file()}


async def page(request: Request) -> Response:
    headers = {"Cache-Control": "no-cache", **frame_headers(settings_of(request))}
    return FileResponse(_STATIC / "index.html", headers=headers)


async def static(request: Request) -> Response:
    path = _FILES.get(request.path_params["name"])
    if path is None:
        return error_response(404, "no such file of the explorer")
    return FileResponse(path, headers={"Cache-Control": "no-cache"})


routes: list[BaseRoute] = [
    Route(UI_PREFIX, page, methods=["GET", "HEAD"]),
    Mount(UI_PREFIX, routes=[*api.routes, Route("/{name}", static, methods=["GET", "HEAD"])]),
]
