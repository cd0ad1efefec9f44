"""Serve the installed OHIF viewer at /viewer, on the archive's own origin.

OHIF is a single page app with client-side routes (``/viewer/viewer?StudyInstanceUIDs=...``,
``/viewer/`` for the study list): a path that is not one of its files answers its index.html.
``app-config.js`` is not the shipped one but is made here, for this archive's DICOMweb root:
QIDO-RS with fuzzy matching done by the server (``staticWado: false``, so OHIF does not re-filter
the results case-sensitively), images and thumbnails through WADO-RS frames. A file with a gzip
copy from the install is sent as that copy to a browser that accepts gzip.

Prefetching is kept under the browser's six HTTP/1.1 connections to one host (the server speaks
HTTP/1.1): more prefetch requests than that only wait in the browser's socket pool, where
cornerstone's request pool can no longer put an image the user scrolls to before them, and on a
small client their decoding competes with the first image (issue 11, bench/viewer.py). OHIF's
onboarding tour is off: a viewer opened from another system (IID) on a study is not the place
for a modal tour, and its overlay dims the first image.
"""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from openvna.settings import Settings
from openvna.web.context import settings_of
from openvna.web.iid.ohif import VIEWER_PREFIX, default_dir, installed
from openvna.web.iid.pages import frame_headers, not_installed_page
from openvna.web.urls import dicomweb_base

__all__ = ["accepts_gzip", "app_config", "routes", "viewer_files"]

# Hashed bundles never change under their name; the rest is revalidated.
_IMMUTABLE = "public, max-age=31536000, immutable"


def viewer_files(settings: Settings) -> Path | None:
    """The installed viewer's directory, or None while it is not installed."""
    return installed(settings.viewer.dir or default_dir())


def app_config(dicomweb: str) -> str:
    """OHIF's ``window.config`` for a DICOMweb root (OHIF 3 configuration, data source
    ``@ohif/extension-default.dataSourcesModule.dicomweb``)."""
    config: dict[str, Any] = {
        "routerBasename": VIEWER_PREFIX,
        "extensions": [],
        "modes": [],
        "showStudyList": True,
        "maxNumberOfWebWorkers": 3,
        "showWarningMessageForCrossOrigin": False,
        "showCPUFallbackMessage": True,
        "showLoadingIndicator": True,
        "strictZSpacingForVolumeViewport": True,
        "investigationalUseDialog": {"option": "never"},
        "maxNumRequests": {"interaction": 100, "thumbnail": 25, "prefetch": 3},
        "customizationService": [{"ohif.tours": {"$set": []}}],
        "defaultDataSourceName": "openvna",
        "dataSources": [
            {
                "namespace": "@ohif/extension-default.dataSourcesModule.dicomweb",
                "sourceName": "openvna",
                "configuration": {
                    "friendlyName": "openvna",
                    "name": "openvna",
                    "qidoRoot": dicomweb,
                    "wadoRoot": dicomweb,
                    "wadoUriRoot": dicomweb,
                    "qidoSupportsIncludeField": True,
                    "supportsFuzzyMatching": True,
                    "supportsWildcard": True,
                    "staticWado": False,
                    "imageRendering": "wadors",
                    "thumbnailRendering": "wadors",
                    "enableStudyLazyLoad": True,
                    "singlepart": "bulkdata,video",
                    "bulkDataURI": {"enabled": True, "relativeResolution": "studies"},
                    "omitQuotationForMultipartRequest": True,
                },
            }
        ],
    }
    return f"window.config = {json.dumps(config, indent=2)};\n"


async def config_script(request: Request) -> Response:
    return Response(
        app_config(dicomweb_base(request)),
        media_type="application/javascript",
        headers={"Cache-Control": "no-cache"},
    )


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding field value takes gzip (RFC 9110 §12.5.3: named, or else
    ``*``, with a weight other than 0)."""
    weights: dict[str, float] = {}
    for item in accept_encoding.split(","):
        coding, *params = (part.strip().lower() for part in item.split(";"))
        weight = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    weight = float(param[2:])
                except ValueError:
                    weight = 0.0
        weights[coding] = weight
    return weights.get("gzip", weights.get("x-gzip", weights.get("*", 0.0))) > 0


async def viewer_file(request: Request) -> Response:
    """A file of the viewer, or its index.html for the app's own routes."""
    settings = settings_of(request)
    root = viewer_files(settings)
    if root is None:
        return not_installed_page(request)
    name = request.path_params.get("path", "")
    path = (root / name).resolve()
    if name and path.is_relative_to(root.resolve()) and path.is_file():
        immutable = ".bundle." in path.name or path.suffix == ".wasm"
        headers = {"Cache-Control": _IMMUTABLE if immutable else "no-cache"}
        compressed = path.with_name(path.name + ".gz")  # made by the install
        if compressed.is_file():
            headers["Vary"] = "Accept-Encoding"
            if accepts_gzip(request.headers.get("accept-encoding", "")):
                headers["Content-Encoding"] = "gzip"
                media_type = mimetypes.guess_type(path.name)[0] or "text/plain"
                return FileResponse(compressed, media_type=media_type, headers=headers)
        return FileResponse(path, headers=headers)
    return FileResponse(
        root / "index.html",
        headers={"Cache-Control": "no-cache", **frame_headers(settings)},
    )


routes: list[BaseRoute] = [
    Route(VIEWER_PREFIX + "/app-config.js", config_script, methods=["GET", "HEAD"]),
    Route(VIEWER_PREFIX, viewer_file, methods=["GET", "HEAD"]),
    Route(VIEWER_PREFIX + "/{path:path}", viewer_file, methods=["GET", "HEAD"]),
]
